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

export const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True if `s` is a real calendar date written YYYY-MM-DD (2023-02-29 is not). */
export function isDateString(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = DATE_RE.exec(s);
  if (!m) return false;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  const t = new Date(Date.UTC(y, mo - 1, d));
  t.setUTCFullYear(y); // Date.UTC maps years 0–99 to 1900–1999
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

export const YDERNUMMER_RE = /^\d{6}$/;

const GLN_RE = /^\d{13}$/;

/**
 * True for a 13-digit GLN (EAN location number) with a correct GS1 check digit. Checked where a GLN is loaded (the GP
 * directory, CLINICAL_FUNCTION_EAN) as well as where a VANSEnvelope is built: a mistyped digit found only at sending
 * fails every copy to that practice, retried for 72 h, before a team lead hears of it.
 */
export function isGln(s: string): boolean {
  if (!GLN_RE.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(s[11 - i]) * (i % 2 === 0 ? 3 : 1);
  return (10 - (sum % 10)) % 10 === Number(s[12]);
}
