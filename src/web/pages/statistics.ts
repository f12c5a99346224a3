/**
 * `/statistik`, for team leads and finance staff: the waiting times (§21–§23)
 * of a period, grouped by municipality, service or month, as plots with their
 * data tables and a CSV of the same rows as the API's; and the §17 stk. 4
 * volume monitoring of every agreement that expects a number of cases.
 */
import type { FieldError } from '../../shared/problem.js';
import { AGE_BUCKETS, NO_DEADLINE, type GroupBy } from '../../statistics/schema.js';
import type { VolumeReport, VolumeRow, WaitingTimeRow, WaitingTimesReport } from '../../statistics/schema.js';
import { barChart } from '../charts.js';
import { danishDate, danishMonth, html, table, timeDate, timeMonth, type Html } from '../html.js';
import { numberDa, pctDa, ruleDa, serviceDa } from '../labels.js';

/** The form's words for the API's groupBy (URL-safe; "måned" is shown). */
export const GROUPINGS = { maaned: 'month', kommune: 'municipality', ydelse: 'service' } as const satisfies Record<string, GroupBy>;
export type Grouping = keyof typeof GROUPINGS;
const GROUPING_TEXT: Record<Grouping, string> = { maaned: 'Måned', kommune: 'Kommune', ydelse: 'Ydelse' };

export interface StatisticsFilters {
  fra: string;
  til: string;
  gruppering: Grouping;
}

export interface StatisticsPageInput {
  filters: StatisticsFilters;
  /** the form's errors (paths `fra`, `til`); then there is no report */
  errors: FieldError[];
  report?: WaitingTimesReport;
  volumes: VolumeReport;
  name: (id: string) => string;
  /** §16 stk. 3–4: the agreement's name of a supplementary service (null: a statutory one) */
  serviceName?: ServiceName;
}

/** The name agreement `agreementId` gives its supplementary service `service`, or null (a statutory service, §16 stk. 3–4). */
export type ServiceName = (agreementId: string, service: string) => string | null;

/** The query string of the page, its CSV, and a link back. */
export function statisticsQuery(f: StatisticsFilters): string {
  return new URLSearchParams({ fra: f.fra, til: f.til, gruppering: f.gruppering }).toString();
}

function rowLabel(r: WaitingTimeRow, groupBy: GroupBy | null, name: (id: string) => string): string {
  if (r.key === 'total') return 'I alt';
  if (groupBy === 'month') return danishMonth(r.key);
  if (groupBy === 'service') return serviceDa(r.key);
  if (groupBy === 'municipality') return r.label ?? name(`municipality:${r.key}`);
  return r.key;
}

function rowHeader(r: WaitingTimeRow, groupBy: GroupBy | null, name: (id: string) => string): Html {
  return html`<th scope="row">${groupBy === 'month' && r.key !== 'total' ? timeMonth(r.key) : rowLabel(r, groupBy, name)}</th>`;
}

const days = (v: number | null) => (v === null ? '–' : `${numberDa(v)} ${v === 1 ? 'dag' : 'dage'}`);
const ageDa = (b: string) => (b.endsWith('+') ? `${b.slice(0, -1)} dage eller mere` : `${b.replace('-', '–')} dage`);

function field(id: string, label: string, control: Html, errors: FieldError[], path: string): Html {
  const e = errors.find((x) => x.path === path);
  return html`<div class="field inline-field">
    <label for="${id}">${label}</label>
    ${control}${e ? html`<p class="field-error" id="${id}-error">${e.da ?? e.message}</p>` : ''}
  </div>`;
}

function dateInput(id: string, name: string, value: string, errors: FieldError[], path: string): Html {
  const invalid = errors.some((x) => x.path === path);
  return html`<input
    type="date"
    id="${id}"
    name="${name}"
    value="${value}"
    ${invalid ? html`aria-invalid="true" aria-describedby="${id}-error"` : ''}
  />`;
}

function filterForm(p: StatisticsPageInput): Html {
  const f = p.filters;
  return html`<form method="get" action="/statistik" class="filters" aria-label="Vælg periode og gruppering" novalidate>
    ${field('stat-fra', 'Fra', dateInput('stat-fra', 'fra', f.fra, p.errors, 'from'), p.errors, 'from')}
    ${field('stat-til', 'Til', dateInput('stat-til', 'til', f.til, p.errors, 'to'), p.errors, 'to')}
    ${field(
      'stat-gruppering',
      'Gruppering',
      html`<select id="stat-gruppering" name="gruppering">
        ${(Object.keys(GROUPINGS) as Grouping[]).map(
          (g) => html`<option value="${g}" ${g === f.gruppering ? html` selected` : ''}>${GROUPING_TEXT[g]}</option>`,
        )}
      </select>`,
      p.errors,
      'groupBy',
    )}
    <button type="submit">Vis</button>
  </form>`;
}

function pair(chart: Html, data: Html): Html {
  return html`<div class="chart-pair">
    <div class="chart-box">${chart}</div>
    <div>${data}</div>
  </div>`;
}

function waitingTimes(r: WaitingTimesReport, p: StatisticsPageInput): Html {
  const g = r.groupBy;
  const rows = r.rows;
  const labels = rows.map((x) => rowLabel(x, g, p.name));
  const groupCol = g ? GROUPING_TEXT[p.filters.gruppering] : 'Periode';
  const all = [...rows, r.total];
  const emptyText = 'Ingen sager i perioden';

  const volume = pair(
    barChart({
      id: 'chart-received',
      title: `Modtaget og leveret pr. ${groupCol.toLowerCase()}`,
      desc: `Søjler for antal modtagne og leverede sager pr. ${groupCol.toLowerCase()} i perioden. Tallene står i tabellen ved siden af.`,
      categories: labels,
      series: [
        { name: 'Modtaget', values: rows.map((x) => x.received) },
        { name: 'Leveret', values: rows.map((x) => x.delivered) },
      ],
      empty: emptyText,
    }),
    table(
      [groupCol, 'Modtaget', 'Leveret', 'Forlængelser'],
      all.map(
        (x) =>
          html`<tr ${x.key === 'total' ? html`class="total"` : ''}>
            ${rowHeader(x, g, p.name)}
            <td class="num">${numberDa(x.received)}</td>
            <td class="num">${numberDa(x.delivered)}</td>
            <td class="num">${numberDa(x.extensions)}</td>
          </tr>`,
      ),
      'Modtaget og leveret',
    ),
  );

  const speed = pair(
    barChart({
      id: 'chart-days',
      title: `Dage fra modtagelse til levering pr. ${groupCol.toLowerCase()}: median og 90 %-fraktil`,
      desc: 'Søjler for median og 90 %-fraktil af dagene fra modtagelse til levering for de sager, der blev leveret. Tallene står i tabellen ved siden af.',
      categories: labels,
      series: [
        { name: 'Median', values: rows.map((x) => x.medianDays) },
        { name: '90 %-fraktil', values: rows.map((x) => x.p90Days) },
      ],
      format: (v) => numberDa(v),
      empty: emptyText,
    }),
    table(
      [groupCol, 'Median', '90 %-fraktil'],
      all.map(
        (x) =>
          html`<tr ${x.key === 'total' ? html`class="total"` : ''}>
            ${rowHeader(x, g, p.name)}
            <td class="num">${days(x.medianDays)}</td>
            <td class="num">${days(x.p90Days)}</td>
          </tr>`,
      ),
      'Dage fra modtagelse til levering (leverede sager)',
    ),
  );

  const open = r.total.open;
  const age = pair(
    barChart({
      id: 'chart-open',
      title: 'Åbne sager efter alder',
      desc: `Søjler for antal åbne sager efter dage siden modtagelsen, opgjort ved udgangen af ${danishDate(open.asOf)}. Tallene står i tabellen ved siden af.`,
      categories: AGE_BUCKETS.map(ageDa),
      series: [{ name: 'Åbne sager', values: AGE_BUCKETS.map((b) => open.byAge[b]) }],
    }),
    table(
      ['Alder', 'Åbne sager'],
      [
        ...AGE_BUCKETS.map(
          (b) =>
            html`<tr>
              <th scope="row">${ageDa(b)}</th>
              <td class="num">${numberDa(open.byAge[b])}</td>
            </tr>`,
        ),
        html`<tr class="total">
          <th scope="row">I alt</th>
          <td class="num">${numberDa(open.total)}</td>
        </tr>`,
      ],
      'Åbne sager efter dage siden modtagelsen',
    ),
  );

  const rules = Object.entries(r.total.byRule).sort(([a], [b]) => a.localeCompare(b));
  const deadlines =
    rules.length === 0
      ? html`<p>Ingen sager leveret i perioden.</p>`
      : table(
          ['Frist', 'Leveret', 'Overholdt', 'Overskredet'],
          rules.map(
            ([rule, o]) =>
              html`<tr>
                <th scope="row">${rule === NO_DEADLINE ? 'Ingen frist aftalt' : ruleDa(rule)}</th>
                <td class="num">${numberDa(o.delivered)}</td>
                <td class="num">${rule === NO_DEADLINE ? '–' : numberDa(o.met)}</td>
                <td class="num">${rule === NO_DEADLINE ? '–' : numberDa(o.missed)}</td>
              </tr>`,
          ),
          'Leverede sager efter fristens regel',
        );

  return html`<section aria-labelledby="ventetider">
    <h2 id="ventetider">Ventetider (§ 21–§ 23)</h2>
    <p>
      Perioden ${timeDate(r.from)} – ${timeDate(r.to)}, beregnet ud fra sagernes hændelser.
      <a href="/statistik.csv?${statisticsQuery(p.filters)}" download>Hent tallene som CSV</a>
    </p>
    <h3>Modtaget og leveret</h3>
    ${volume}
    <h3>Svartid</h3>
    ${speed}
    <h3>Åbne sager</h3>
    <p>Opgjort ved udgangen af ${timeDate(open.asOf)}.</p>
    ${age}
    <h3>Frister</h3>
    ${deadlines}
  </section>`;
}

function partyOf(r: VolumeRow, name: (id: string) => string): string {
  if (r.partyId) return name(r.partyId);
  if (r.municipalityCode) return name(`municipality:${r.municipalityCode}`);
  return '–';
}

/** The alert marker: symbol and text, never colour alone. `thresholdPct` unknown: "the threshold". */
function alertMarker(alert: boolean, thresholdPct: number | undefined): Html {
  const limit = thresholdPct === undefined ? 'tærsklen' : `${numberDa(thresholdPct)} %`;
  return alert
    ? html`<span class="status status-overdue"
        ><span aria-hidden="true" class="icon">⚠</span> Afviger mere end ${limit} (§ 17, stk. 4)</span
      >`
    : html`<span class="muted">Inden for ${limit}</span>`;
}

/** §17 stk. 4, one row per agreement (and its services when it sets them): for `/statistik` and the overview. */
export function volumeTable(
  items: readonly VolumeRow[],
  name: (id: string) => string,
  thresholdPct?: number,
  serviceName: ServiceName = () => null,
): Html {
  return table(
    ['Aftale', 'Kommune', 'Aftaleår', 'Forventet pr. år', 'Forventet til dato', 'Faktisk', 'Afvigelse', 'Status'],
    items.map(
      (r) =>
        html`<tr>
            <th scope="row">${r.agreementId}</th>
            <td>${partyOf(r, name)}</td>
            <td>
              ${timeDate(r.yearStart)} – ${timeDate(r.yearEnd)}
              ${r.countedFrom > r.yearStart ? html`<br /><span class="muted">talt fra ${timeDate(r.countedFrom)}</span>` : ''}
            </td>
            <td class="num">${numberDa(r.expectedYearly)}</td>
            <td class="num">${numberDa(r.expectedToDate)}</td>
            <td class="num">${numberDa(r.actual)}</td>
            <td class="num">${r.deviationPct === null ? '–' : pctDa(r.deviationPct)}</td>
            <td>${alertMarker(r.alert, thresholdPct)}</td>
          </tr>
          ${(r.services ?? []).map(
            (s) =>
              html`<tr class="sub">
                <th scope="row"><span class="muted">heraf</span> ${serviceDa(s.service, serviceName(r.agreementId, s.service))}</th>
                <td></td>
                <td></td>
                <td class="num">${numberDa(s.expectedYearly)}</td>
                <td class="num">${numberDa(s.expectedToDate)}</td>
                <td class="num">${numberDa(s.actual)}</td>
                <td class="num">${s.deviationPct === null ? '–' : pctDa(s.deviationPct)}</td>
                <td>${alertMarker(s.alert, thresholdPct)}</td>
              </tr>`,
          )}`,
    ),
    'Sager modtaget i aftaleåret mod det forventede antal (§ 16, stk. 2, nr. 1)',
  );
}

export function statisticsPage(p: StatisticsPageInput): Html {
  const v = p.volumes;
  const alerts = v.items.filter((r) => r.alert).length;
  return html`<h1>Statistik</h1>
    ${p.errors.length > 0 ? html`<p class="form-error" role="alert">Ret de markerede felter.</p>` : ''} ${filterForm(p)}
    ${p.report ? waitingTimes(p.report, p) : ''}
    <section aria-labelledby="volumen">
      <h2 id="volumen">Volumen (§ 17, stk. 4)</h2>
      <p>
        Opgjort ${timeDate(v.asOf)}. Forventningen er forholdsmæssig efter de dage, der er gået af aftaleåret; en afvigelse på mere end
        ${numberDa(v.alertThresholdPct)} % til den ene eller anden side markeres.
        ${alerts > 0 ? html`<strong>${alerts} ${alerts === 1 ? 'aftale afviger' : 'aftaler afviger'}.</strong>` : 'Ingen afvigelser.'}
      </p>
      ${
        v.items.length === 0
          ? html`<p>Ingen aftaler i kraft med et forventet antal sager.</p>`
          : volumeTable(v.items, p.name, v.alertThresholdPct, p.serviceName)
      }
    </section>`;
}
