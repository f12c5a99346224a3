/**
 * Server-rendered HTML without a template engine: `html` is a tagged
 * template whose interpolations are escaped unless they are already `Html`
 * (another `html` result, or `raw()` for trusted constant markup). Arrays
 * are joined. `null`, `undefined` and `false` render as nothing, so
 * `${cond && html`…`}` works.
 */

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(p: Part): string {
  if (p === null || p === undefined || p === false) return '';
  if (p instanceof Html) return p.value;
  if (Array.isArray(p)) return (p as readonly Part[]).map(render).join('');
  return escapeHtml(String(p));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** Markup the code itself wrote (never user or case data). */
export function raw(s: string): Html {
  return new Html(s);
}

const MONTHS = ['januar', 'februar', 'marts', 'april', 'maj', 'juni', 'juli', 'august', 'september', 'oktober', 'november', 'december'];

/** `YYYY-MM-DD` → "1. december 2026" */
export function danishDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number);
  return `${d}. ${MONTHS[(m ?? 1) - 1]} ${y}`;
}

/** `YYYY-MM` → "november 2026" */
export function danishMonth(month: string): string {
  const [y, m] = month.split('-').map(Number);
  return `${MONTHS[(m ?? 1) - 1]} ${y}`;
}

/** A month (YYYY-MM) inside `<time datetime>`, written the Danish way. */
export function timeMonth(month: string): Html {
  return html`<time datetime="${month}">${danishMonth(month)}</time>`;
}

/** A local date (YYYY-MM-DD) inside `<time datetime>`, written the Danish way. */
export function timeDate(date: string | null | undefined): Html {
  if (!date) return html`<span class="muted">–</span>`;
  return html`<time datetime="${date}">${danishDate(date)}</time>`;
}

/** One formatter for every instant shown (building one per call cost ~0.65 ms on a case page). */
const COPENHAGEN = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/Copenhagen',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

/** An instant: its Copenhagen date and time, e.g. "1. december 2026 kl. 09.41". */
export function timeInstant(iso: string | null | undefined): Html {
  if (!iso) return html`<span class="muted">–</span>`;
  const parts = Object.fromEntries(COPENHAGEN.formatToParts(new Date(iso)).map((p) => [p.type, p.value])) as Record<string, string>;
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  return html`<time datetime="${iso}">${danishDate(date)} kl. ${parts.hour}.${parts.minute}</time>`;
}

/** A data table: column headers (scope="col"), an optional caption, the rows. */
export function table(cols: readonly string[], rows: Part, caption?: string): Html {
  return html`<table class="list">
    ${
      caption
        ? html`<caption>
            ${caption}
          </caption>`
        : ''
    }
    <thead>
      <tr>
        ${cols.map((c) => html`<th scope="col">${c}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}
