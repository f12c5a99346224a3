/** The staff pages' plots: inline SVG the CSP allows (no script, no style), named for screen readers, escaped, and scaled. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, CHART, niceScale } from '../../src/web/charts.js';
import { kroner, pctDa } from '../../src/web/labels.js';
import { danishMonth, timeMonth } from '../../src/web/html.js';
import { addMonths } from '../../src/web/pages/settlement.js';
import { problemDa } from '../../src/web/actions.js';
import { conflict } from '../../src/shared/problem.js';

const input = {
  id: 'modtaget',
  title: 'Modtaget og leveret',
  desc: 'Søjler pr. måned; tallene står i tabellen.',
  categories: ['januar 2026', 'februar 2026', 'marts 2026'],
  series: [
    { name: 'Modtaget', values: [10, 20, 40] },
    { name: 'Leveret', values: [5, null, 40] },
  ],
};

/** Every opened element is closed (or self-closing), in order: well-formed enough for the browser's and a reader's parser. */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, self] = m;
    if (self) continue;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes <${stack.at(-1)}>`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, []);
}

const attrs = (svg: string, el: string) =>
  [...svg.matchAll(new RegExp(`<${el}\\b([^>]*)>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])),
  );

test('a bar chart is an <svg role="img"> named by its <title> and described by its <desc>, with no script or style', () => {
  const svg = barChart(input).value;
  assert.match(svg, /^<svg\b/);
  assert.match(svg, /<\/svg>$/);
  assertBalanced(svg);
  const root = attrs(svg, 'svg')[0]!;
  assert.equal(root.role, 'img');
  assert.equal(root.xmlns, 'http://www.w3.org/2000/svg');
  assert.equal(root['aria-labelledby'], 'modtaget-title');
  assert.equal(root['aria-describedby'], 'modtaget-desc');
  assert.match(svg, /<title id="modtaget-title">Modtaget og leveret<\/title>/);
  assert.match(svg, /<desc id="modtaget-desc">Søjler pr\. måned; tallene står i tabellen\.<\/desc>/);
  assert.doesNotMatch(svg, /<script|style=|\bon[a-z]+=|javascript:/i);
  // text labels: every category, the legend, the values
  for (const t of ['januar 2026', 'februar 2026', 'marts 2026', 'Modtaget', 'Leveret', '40'])
    assert.ok(svg.includes(`>${t}<`) || svg.includes(t), t);
});

test('bars are scaled to a nice axis maximum; null is "–" without a bar; the two series get their own classes', () => {
  const svg = barChart(input).value;
  const bars = attrs(svg, 'rect').filter((r) => r.height === String(CHART.barHeight));
  // 3 + 2 bars (one value is null), no legend swatch among them (12 high)
  assert.equal(bars.length, 5);
  const plot = CHART.width - CHART.labelWidth - CHART.valueRoom;
  const widths = bars.map((b) => Number(b.width));
  // max 40 → axis 0..40 in steps of 10: 40 fills the plot, 20 half of it, 10 a quarter
  assert.deepEqual(niceScale(40), { max: 40, step: 10 });
  const expected = [plot / 4, plot / 8, plot / 2, plot, plot];
  // (coordinates are rounded to a tenth of a unit)
  expected.forEach((e, i) => assert.ok(Math.abs(widths[i]! - e) <= 0.05 + 1e-9, `bar ${i}: ${widths[i]} ≈ ${e}`));
  assert.deepEqual(
    bars.map((b) => b.class),
    ['chart-s0', 'chart-s1', 'chart-s0', 'chart-s0', 'chart-s1'],
  );
  assert.ok(bars.every((b) => Number(b.x) === CHART.labelWidth));
  assert.match(svg, />–</);
  // the axis' ticks are labelled
  for (const t of ['0', '10', '20', '30', '40']) assert.match(svg, new RegExp(`class="chart-tick"[^>]*>\\s*${t}\\s*<`));
});

test('niceScale: steps of 1, 2 or 5 × 10ⁿ, whole numbers for counts, and never zero', () => {
  assert.deepEqual(niceScale(0), { max: 1, step: 1 });
  assert.deepEqual(niceScale(-3), { max: 1, step: 1 });
  assert.deepEqual(niceScale(NaN), { max: 1, step: 1 });
  assert.deepEqual(niceScale(3), { max: 3, step: 1 });
  assert.deepEqual(niceScale(7), { max: 8, step: 2 });
  assert.deepEqual(niceScale(95), { max: 100, step: 50 });
  assert.deepEqual(niceScale(1234), { max: 1500, step: 500 });
});

test('labels, titles and ids are escaped: a name with markup stays text', () => {
  const svg = barChart({
    id: 'x" onload="alert(1)',
    title: '<script>alert(1)</script>',
    desc: 'A & B',
    categories: ['<b>Kommune</b> "Ø"'],
    series: [{ name: '<i>s</i>', values: [1] }],
  }).value;
  assert.doesNotMatch(svg, /<script|<b>|<i>|onload="/);
  assert.match(svg, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(svg, /A &amp; B/);
  assert.match(svg, /&lt;b&gt;Kommune&lt;\/b&gt; &quot;Ø&quot;/);
  assert.equal(attrs(svg, 'svg')[0]!['aria-labelledby'], 'x--onload--alert-1--title');
  assertBalanced(svg);
});

test('long labels are shortened with an ellipsis (the table beside has them in full)', () => {
  const long = 'Lægefaglig vurdering (speciallægeattest)';
  const svg = barChart({ ...input, categories: [long], series: [{ name: 'n', values: [1] }] }).value;
  assert.ok(!svg.includes(long));
  assert.match(svg, new RegExp(`${long.slice(0, CHART.maxLabelChars - 1).replace(/[()]/g, '\\$&')}…`));
});

test('no data: still a named image, with the text saying so and no bars; all zero draws empty bars at 0', () => {
  const svg = barChart({ ...input, categories: [], series: [], empty: 'Ingen sager i perioden' }).value;
  assertBalanced(svg);
  assert.equal(attrs(svg, 'svg')[0]!.role, 'img');
  assert.match(svg, /<title id="modtaget-title">/);
  assert.match(svg, /Ingen sager i perioden/);
  assert.equal(attrs(svg, 'rect').length, 0);
  const zeros = barChart({ ...input, series: [{ name: 'n', values: [0, 0, 0] }] }).value;
  assert.ok(attrs(zeros, 'rect').every((r) => r.width === '0'));
  assert.doesNotMatch(zeros, /NaN|Infinity/);
});

test('amounts, percentages and months are written the Danish way; months step across years', () => {
  assert.equal(kroner(123456), '1.234,56 kr.');
  assert.equal(kroner(0), '0,00 kr.');
  assert.equal(kroner(-5050), '-50,50 kr.');
  assert.equal(kroner(73123400), '731.234,00 kr.');
  assert.equal(pctDa(12.34), '+12,3 %');
  assert.equal(pctDa(-99.9), '-99,9 %');
  assert.equal(danishMonth('2026-11'), 'november 2026');
  assert.equal(timeMonth('2027-01').value, '<time datetime="2027-01">januar 2027</time>');
  assert.equal(addMonths('2026-01', -1), '2025-12');
  assert.equal(addMonths('2026-12', 1), '2027-01');
  assert.equal(addMonths('2026-12', -11), '2026-01');
});

test('closing a month: the 409s read in Danish', () => {
  assert.match(problemDa(conflict('2026-12 has not ended yet (today is 2026-12-01)', 'month-not-ended')), /ikke slut endnu/);
  assert.match(problemDa(conflict('2026-10 is already closed', 'month-closed')), /allerede lukket/);
  assert.equal(
    problemDa(conflict('months close in order: close 2026-09 first', 'month-order')),
    'Månederne lukkes i rækkefølge: luk september 2026 først.',
  );
});
