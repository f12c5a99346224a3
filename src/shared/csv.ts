/** CSV for the region's finance and reporting systems (RFC 4180; a text that a spreadsheet would run as a formula is quoted with a leading '). */

export type Cell = string | number | boolean | null | undefined;

function cell(v: Cell): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n']/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A header row and the data rows, CRLF-separated. */
export function toCsv(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  return [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** True when the request asked for CSV, by `format=csv` or by preferring text/csv. */
export function wantsCsv(req: { query: unknown; accepts(types: string[]): string | false }): boolean {
  const format = (req.query as { format?: unknown } | undefined)?.format;
  if (format === 'csv') return true;
  if (format === 'json') return false;
  return req.accepts(['application/json', 'text/csv']) === 'text/csv';
}
