/** `/` Arbejdsliste: the signed-in person's open cases, urgent first, then the earliest due (§21 stk. 3), filters and paging. */
import { localDate } from '../../deadlines/calendar.js';
import type { WorklistPage } from '../../worklist/service.js';
import { html, table, timeDate, type Html } from '../html.js';
import { serviceDa, STATUS_DA } from '../labels.js';

/** "3f2a91c0-…" → "3F2A91C0": how a case is named on the pages */
export function shortRef(caseId: string): string {
  return caseId.slice(0, 8).toUpperCase();
}

export function statusBadge(status: keyof typeof STATUS_DA): Html {
  const s = STATUS_DA[status];
  return html`<span class="status status-${status}"><span aria-hidden="true" class="icon">${s.icon}</span> ${s.text}</span>`;
}

export interface WorklistFilters {
  service?: string;
  municipality?: string;
  status?: string;
}

function select(name: string, label: string, options: [string, string][], current: string | undefined): Html {
  return html`<div class="field inline-field">
    <label for="filter-${name}">${label}</label>
    <select id="filter-${name}" name="${name}">
      <option value="">Alle</option>
      ${options.map(([v, t]) => html`<option value="${v}" ${v === current ? html` selected` : ''}>${t}</option>`)}
    </select>
  </div>`;
}

function pageLink(filters: WorklistFilters, page: number): string {
  const q = new URLSearchParams();
  if (filters.service) q.set('tjeneste', filters.service);
  if (filters.municipality) q.set('kommune', filters.municipality);
  if (filters.status) q.set('status', filters.status);
  if (page > 1) q.set('side', String(page));
  const s = q.toString();
  return s ? `/?${s}` : '/';
}

/** `flash`: the confirmation of an action that ended on the worklist (a declared conflict takes the case away, §12 stk. 2). */
export function worklistPage(p: WorklistPage, filters: WorklistFilters, municipalityName: (code: string) => string, flash?: string): Html {
  const filterForm = html`<form method="get" action="/" class="filters" aria-label="Filtrér arbejdslisten">
    ${select(
      'tjeneste',
      'Ydelse',
      p.facets.services.map((s) => [s, serviceDa(s, p.serviceNames[s])]),
      filters.service,
    )}
    ${select(
      'kommune',
      'Kommune',
      p.facets.municipalities.map((m) => [m, municipalityName(m)]),
      filters.municipality,
    )}
    ${select(
      'status',
      'Status',
      p.facets.statuses.map((s) => [s, STATUS_DA[s].text]),
      filters.status,
    )}
    <button type="submit">Filtrér</button> <a href="/">Nulstil</a>
  </form>`;

  const rows = p.items.map(
    (i) =>
      html`<tr>
        <th scope="row">
          <a href="/sager/${i.caseId}">Sag ${shortRef(i.caseId)}</a>${i.urgent ? html` <span class="urgent">Hastesag</span>` : ''}
        </th>
        <td>${municipalityName(i.municipalityCode)}</td>
        <td>${serviceDa(i.service, p.serviceNames[i.service])}</td>
        <td>${timeDate(localDate(i.receivedAt))}</td>
        <td>${timeDate(i.dueDate)}</td>
        <td>${statusBadge(i.status)}</td>
      </tr>`,
  );
  const filtered = Boolean(filters.service || filters.municipality || filters.status);
  const list =
    p.total === 0
      ? html`<p>Ingen åbne sager${filtered ? ' med de valgte filtre' : ''}.</p>`
      : table(
          ['Sag', 'Kommune', 'Ydelse', 'Modtaget', 'Frist', 'Status'],
          rows,
          'Åbne sager, hastesager først og derefter tidligste frist',
        );
  const paging =
    p.pages > 1
      ? html`<nav class="paging" aria-label="Sider">
          ${p.page > 1 ? html`<a href="${pageLink(filters, p.page - 1)}" rel="prev">Forrige side</a>` : ''}
          <span>Side ${p.page} af ${p.pages}</span
          >${p.page < p.pages ? html`<a href="${pageLink(filters, p.page + 1)}" rel="next">Næste side</a>` : ''}
        </nav>`
      : '';
  return html`<h1>Arbejdsliste</h1>
    ${flash ? html`<p class="notice success" role="status">${flash}</p>` : ''} ${filterForm}
    <p class="count" role="status">${p.total} ${p.total === 1 ? 'sag' : 'sager'}</p>
    ${list}${paging}`;
}
