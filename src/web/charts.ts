/**
 * Plots for the staff pages as server-rendered inline SVG, pure functions of
 * their data: no script, no `style` attribute (the CSP forbids inline styles;
 * the colours are classes in static/app.css), a text label on every bar and
 * every category, and `role="img"` named by its `<title>` and described by
 * its `<desc>`. The numbers are also in a data table beside each plot: the
 * plot is for the eye, the table for reading and for screen readers.
 *
 * The one chart is a horizontal bar chart with one bar per series in each
 * category (received vs delivered per month, median vs p90 days, open cases
 * by age): horizontal, because municipality and service names are long.
 */
import { html, type Html } from './html.js';
import { numberDa } from './labels.js';

export interface ChartSeries {
  /** the legend's text */
  name: string;
  /** one value per category; null = no value (drawn as "–", no bar) */
  values: readonly (number | null)[];
}

export interface BarChartInput {
  /** unique on the page: the ids of the `<title>` and `<desc>` derive from it */
  id: string;
  title: string;
  /** what the plot shows, for a screen reader (say where the numbers are) */
  desc: string;
  categories: readonly string[];
  series: readonly ChartSeries[];
  /** a value as its label reads (default: Danish number) */
  format?: (v: number) => string;
  /** the text drawn when there is no category */
  empty?: string;
}

/** The layout, in SVG user units (the SVG scales to its box; the text scales with it). */
export const CHART = {
  width: 640,
  labelWidth: 170,
  valueRoom: 56,
  barHeight: 16,
  barGap: 3,
  bandGap: 12,
  top: 10,
  legendHeight: 24,
  axisHeight: 26,
  maxLabelChars: 24,
} as const;

/** The axis: a step of 1, 2 or 5 × 10ⁿ giving at most `ticks` intervals, and the smallest multiple of it ≥ max (at least one step). */
export function niceScale(max: number, ticks = 4): { max: number; step: number } {
  if (!Number.isFinite(max) || max <= 0) return { max: 1, step: 1 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  // whole numbers for counts and days: no step below 1
  const s = Math.max(step, max >= 1 ? 1 : step);
  return { max: Math.max(s, Math.ceil(max / s - 1e-9) * s), step: s };
}

const r1 = (n: number) => Math.round(n * 10) / 10;

function truncate(label: string): string {
  return label.length > CHART.maxLabelChars ? `${label.slice(0, CHART.maxLabelChars - 1)}…` : label;
}

function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '-');
}

/** A horizontal grouped bar chart as an `<svg>` (see the module's comment). */
export function barChart(c: BarChartInput): Html {
  const id = safeId(c.id);
  const fmt = c.format ?? numberDa;
  const n = Math.max(1, c.series.length);
  const legend = c.series.length > 1;
  const band = n * CHART.barHeight + (n - 1) * CHART.barGap + CHART.bandGap;
  const plotTop = CHART.top + (legend ? CHART.legendHeight : 0);
  const x0 = CHART.labelWidth;
  const plotWidth = CHART.width - x0 - CHART.valueRoom;
  const empty = c.categories.length === 0;
  const plotHeight = empty ? 40 : c.categories.length * band;
  const height = plotTop + plotHeight + CHART.axisHeight;
  const values = c.series.flatMap((s) => s.values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
  const scale = niceScale(Math.max(0, ...values));
  const xOf = (v: number) => r1(x0 + (Math.max(0, v) / scale.max) * plotWidth);

  const ticks: number[] = [];
  for (let t = 0; t <= scale.max + 1e-9; t += scale.step) ticks.push(r1(t));
  const axisY = plotTop + plotHeight;

  const legendItems = legend
    ? c.series.map((s, i) => {
        const lx = x0 + i * 170;
        return html`<rect class="chart-s${i % 4}" x="${lx}" y="${CHART.top}" width="12" height="12" /><text
            class="chart-legend"
            x="${lx + 18}"
            y="${CHART.top + 10}"
          >
            ${s.name}
          </text>`;
      })
    : [];

  const grid = ticks.map(
    (t) =>
      html`<line class="chart-grid" x1="${xOf(t)}" y1="${plotTop}" x2="${xOf(t)}" y2="${axisY}" /><text
          class="chart-tick"
          x="${xOf(t)}"
          y="${axisY + 16}"
          text-anchor="middle"
        >
          ${fmt(t)}
        </text>`,
  );

  const bars = c.categories.map((cat, ci) => {
    const y = plotTop + ci * band + CHART.bandGap / 2;
    const label = html`<text
      class="chart-label"
      x="${x0 - 8}"
      y="${r1(y + (band - CHART.bandGap) / 2)}"
      text-anchor="end"
      dominant-baseline="middle"
    >
      ${truncate(cat)}
    </text>`;
    const rects = c.series.map((s, si) => {
      const v = s.values[ci];
      const by = y + si * (CHART.barHeight + CHART.barGap);
      const mid = r1(by + CHART.barHeight / 2);
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        return html`<text class="chart-value" x="${x0 + 4}" y="${mid}" dominant-baseline="middle">–</text>`;
      }
      const w = r1(xOf(v) - x0);
      return html`<rect class="chart-s${si % 4}" x="${x0}" y="${by}" width="${w}" height="${CHART.barHeight}" /><text
          class="chart-value"
          x="${r1(x0 + w + 4)}"
          y="${mid}"
          dominant-baseline="middle"
        >
          ${fmt(v)}
        </text>`;
    });
    return [label, ...rects];
  });

  const body = empty
    ? html`<text class="chart-label" x="${CHART.width / 2}" y="${plotTop + 24}" text-anchor="middle">${c.empty ?? 'Ingen data'}</text>`
    : html`${grid}${bars}<line class="chart-axis" x1="${x0}" y1="${plotTop}" x2="${x0}" y2="${axisY}" />`;

  return html`<svg
    xmlns="http://www.w3.org/2000/svg"
    class="chart"
    viewBox="0 0 ${CHART.width} ${height}"
    width="${CHART.width}"
    height="${height}"
    role="img"
    aria-labelledby="${id}-title"
    aria-describedby="${id}-desc"
  >
    <title id="${id}-title">${c.title}</title>
    <desc id="${id}-desc">${c.desc}</desc>
    ${legendItems}${body}
  </svg>`;
}
