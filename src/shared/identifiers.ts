/** Danish identifiers (RULES.md "Identifiers"). */

/**
 * Validates a CPR number (DDMMYY-SSSS or DDMMYYSSSS): the date must be real,
 * with the century taken from the 7th digit and the year. Modulus 11 is NOT
 * required: numbers without it have been issued since 2007.
 * Returns the birth date (YYYY-MM-DD) or null.
 */
export function cprBirthDate(cpr: string): string | null {
  const m = /^(\d{2})(\d{2})(\d{2})-?(\d)(\d{3})$/.exec(cpr);
  if (!m) return null;
  const [, dd, mm, yy, d7] = m as unknown as [string, string, string, string, string];
  const y = Number(yy);
  const c = Number(d7);
  let century: number;
  if (c <= 3) century = 1900;
  else if (c === 4 || c === 9) century = y <= 36 ? 2000 : 1900;
  else century = y <= 57 ? 2000 : 1800;
  const year = century + y;
  const month = Number(mm);
  const day = Number(dd);
  if (month < 1 || month > 12 || day < 1) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return null;
  return `${String(year).padStart(4, '0')}-${mm}-${dd}`;
}

export function normaliseCpr(cpr: string): string {
  return cpr.replace('-', '');
}

/** A real calendar date written YYYY-MM-DD. */
export function isRealDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

export const YDERNUMMER_RE = /^\d{6}$/;
