/**
 * `/afregning`, for finance staff and team leads: a month's settlement
 * statements per payer (§17–19, §28, S§4) with every line, its amount and its
 * basis, the invoice and due dates, whether the month is closed; a CSV of the
 * same lines as the API's; and the form that closes the month.
 */
import type { Statement, StatementLine } from '../../settlement/service.js';
import type { FieldError } from '../../shared/problem.js';
import { danishMonth, html, table, timeDate, timeInstant, timeMonth, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { kroner, lineKindDa, serviceDa } from '../labels.js';
import { shortRef } from './worklist.js';

export interface SettlementPageInput {
  month: string;
  /** the month picker's error (then there are no statements) */
  errors: FieldError[];
  statements: Statement[];
  closed: boolean;
  /** the month's last day is past: it may be closed */
  ended: boolean;
  /** the first day it may be closed */
  closableFrom?: string;
  csrfToken: string;
  flash?: string;
  /** a refusal of the close, in Danish */
  message?: string;
}

/** `YYYY-MM` ± n months */
export function addMonths(month: string, n: number): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const t = y * 12 + (m - 1) + n;
  return `${String(Math.floor(t / 12)).padStart(4, '0')}-${String((t % 12) + 1).padStart(2, '0')}`;
}

function amount(ore: number | null): Html {
  return ore === null ? html`<span class="unpriced">Ingen aftalt pris</span>` : html`${kroner(ore)}`;
}

function basis(l: StatementLine): Html {
  const a = l.adjusts;
  return html`${l.basis}${
    a
      ? html`<br /><span class="muted"
            >Regulerer ${timeMonth(a.month)}: faktureret ${kroner(a.billedOre)}, skyldes nu
            ${a.dueOre === null ? 'ingen aftalt pris' : kroner(a.dueOre)}</span
          >`
      : ''
  }`;
}

function statementSection(s: Statement, i: number): Html {
  const id = `betaler-${i + 1}`;
  const rows = s.lines.map(
    (l) =>
      html`<tr>
        <td>${lineKindDa(l.kind)}</td>
        <td>${l.caseId ? `Sag ${shortRef(l.caseId)}` : '–'}</td>
        <td>${l.service ? serviceDa(l.service) : '–'}</td>
        <td>${l.deliveredAt ? timeInstant(l.deliveredAt) : '–'}</td>
        <td class="num">${amount(l.amountOre)}</td>
        <td class="basis">${basis(l)}</td>
      </tr>`,
  );
  const total = html`<tr class="total">
    <th scope="row" colspan="4">I alt</th>
    <td class="num">${kroner(s.totalOre)}</td>
    <td>
      ${
        s.unpricedLines > 0 ? `${s.unpricedLines} ${s.unpricedLines === 1 ? 'linje' : 'linjer'} uden aftalt pris er ikke med i beløbet` : ''
      }
    </td>
  </tr>`;
  return html`<section aria-labelledby="${id}">
    <h2 id="${id}">${s.payerName ?? s.payer}</h2>
    <dl class="facts">
      <div>
        <dt>Status</dt>
        <dd>${s.closed ? html`Lukket${s.closedAt ? html` ${timeInstant(s.closedAt)}` : ''}` : 'Åben'}</dd>
      </div>
      <div>
        <dt>I alt</dt>
        <dd>${kroner(s.totalOre)}</dd>
      </div>
      ${
        s.unpricedLines > 0
          ? html`<div>
              <dt>Uden aftalt pris</dt>
              <dd>
                <span class="status status-at-risk"
                  ><span aria-hidden="true" class="icon">⚠</span> ${s.unpricedLines} ${s.unpricedLines === 1 ? 'linje' : 'linjer'}:
                  opgørelsen er ikke komplet, før de er prissat</span
                >
              </dd>
            </div>`
          : ''
      }
      <div>
        <dt>Fakturadato</dt>
        <dd>${timeDate(s.invoiceDate)}</dd>
      </div>
      <div>
        <dt>Forfaldsdato</dt>
        <dd>${timeDate(s.dueDate)}</dd>
      </div>
      ${
        s.sha256
          ? html`<div>
              <dt>Kontrolsum (SHA-256)</dt>
              <dd><code class="hash">${s.sha256}</code></dd>
            </div>`
          : ''
      }
    </dl>
    ${
      s.lines.length === 0
        ? html`<p>Ingen linjer i måneden.</p>`
        : table(['Art', 'Sag', 'Ydelse', 'Leveret', 'Beløb', 'Grundlag'], [rows, total], `Linjer for ${danishMonth(s.month)}`)
    }
  </section>`;
}

function monthPicker(p: SettlementPageInput): Html {
  const e = p.errors.find((x) => x.path === 'month');
  return html`<form method="get" action="/afregning" class="filters" aria-label="Vælg måned" novalidate>
    <div class="field inline-field">
      <label for="afr-maaned">Måned</label>
      <input
        type="month"
        id="afr-maaned"
        name="maaned"
        value="${p.month}"
        ${e ? html`aria-invalid="true" aria-describedby="afr-maaned-error"` : ''}
      />
      ${e ? html`<p class="field-error" id="afr-maaned-error">${e.da ?? e.message}</p>` : ''}
    </div>
    <button type="submit">Vis</button>
    ${
      e
        ? ''
        : html`<a href="/afregning?maaned=${addMonths(p.month, -1)}" rel="prev">Forrige måned</a>
            <a href="/afregning?maaned=${addMonths(p.month, 1)}" rel="next">Næste måned</a>`
    }
  </form>`;
}

function closeForm(p: SettlementPageInput): Html {
  if (p.closed) {
    return html`<p>
      Måneden er lukket: opgørelserne er gemt, som de var, og deres kontrolsummer står i revisionssporet. Senere ændringer kommer som
      reguleringer i den næste åbne måned.
    </p>`;
  }
  if (!p.ended) {
    return html`<p>
      Måneden er åben. Den kan lukkes efter sin sidste dag${p.closableFrom ? html`, fra ${timeDate(p.closableFrom)}` : ''}.
    </p>`;
  }
  return html`<form method="post" action="/afregning/${p.month}/luk" class="inline-form">
    ${csrfField(p.csrfToken)}
    <p class="help">Når måneden lukkes, gemmes opgørelserne, som de er nu, og ændres ikke siden. Månederne lukkes i rækkefølge.</p>
    <button type="submit">Luk ${danishMonth(p.month)}</button>
  </form>`;
}

export function settlementPage(p: SettlementPageInput): Html {
  const invalid = p.errors.length > 0;
  const sum = p.statements.reduce((n, s) => n + s.totalOre, 0);
  return html`<h1>Afregning</h1>
    ${p.flash ? html`<p class="notice success" role="status">${p.flash}</p>` : ''}
    ${p.message ? html`<p class="form-error" role="alert">${p.message}</p>` : ''} ${monthPicker(p)}
    ${
      invalid
        ? ''
        : html`<p>
              Opgørelserne for ${timeMonth(p.month)} pr. betaler (§ 17–19, § 28). Status: <strong>${p.closed ? 'Lukket' : 'Åben'}</strong>.
              <a href="/afregning.csv?maaned=${p.month}" download>Hent linjerne som CSV</a>
            </p>
            ${closeForm(p)}
            ${
              p.statements.length === 0
                ? html`<p>Ingen opgørelser for måneden.</p>`
                : html`${table(
                    ['Betaler', 'Linjer', 'I alt', 'Faktura', 'Forfald'],
                    [
                      p.statements.map(
                        (s, i) =>
                          html`<tr>
                            <th scope="row"><a href="#betaler-${i + 1}">${s.payerName ?? s.payer}</a></th>
                            <td class="num">${s.lines.length}</td>
                            <td class="num">${kroner(s.totalOre)}</td>
                            <td>${timeDate(s.invoiceDate)}</td>
                            <td>${timeDate(s.dueDate)}</td>
                          </tr>`,
                      ),
                      html`<tr class="total">
                        <th scope="row">I alt</th>
                        <td class="num">${p.statements.reduce((n, s) => n + s.lines.length, 0)}</td>
                        <td class="num">${kroner(sum)}</td>
                        <td></td>
                        <td></td>
                      </tr>`,
                    ],
                    `Opgørelser for ${danishMonth(p.month)}`,
                  )}
                  ${p.statements.map(statementSection)}`
            }`
    }`;
}
