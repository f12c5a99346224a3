/**
 * Settlement and agreements over the partner API (§16–19, §25, §28): a
 * statement delivered through the gateway is a line of this month's
 * statement, JSON and CSV, who may read what, closing, and the agreement's
 * notice date.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { as, send, settled } from '../helpers/staff.js';
import { respond } from '../helpers/staff.js';
import { localDate } from '../../src/deadlines/calendar.js';
import { terminationDate } from '../../src/settlement/money.js';
import { statementSchema } from '../../src/settlement/schema.js';
import { settlementCommand } from '../../src/cli/settlement.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { addDays } from '../../src/deadlines/calendar.js';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('settlement API (§17–19)', () => {
  let g: TestGateway;
  let caseId: string;
  let dir: string;
  let indexFile: string;
  const month = localDate(new Date()).slice(0, 7);
  const lastMonth = addDays(`${month}-01`, -1).slice(0, 7);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-settle-'));
    indexFile = join(dir, 'price-index.json');
    copyFileSync('config/price-index.dev.json', indexFile);
    // the development parties and agreements: kbh-2026 prices ongoing-case-advice at 2 100 DKK
    g = await startTestGateway({ dialect: 'sqlite', env: { PRICE_INDEX_FILE: indexFile } });
    ({ caseId } = await send(g, 'kommune-101', { service: 'ongoing-case-advice', citizen: { cpr: '0101801234', name: 'Z' } }));
    const row = await settled(g, caseId);
    assert.ok(row.assigned_to, 'routed to a coordinator');
    const res = await respond(g, row.assigned_to, caseId, { kind: 'statement', content: { assessment: 'Udtalelse i sagen.' } });
    assert.equal(res.status, 201, res.text);
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a delivered statement is a line of the payer’s statement for this month, at the agreed price (§16 stk. 2 nr. 4)', async () => {
    const res = await as(g, 'fin-1').get(`/v1/settlements?month=${month}&payer=kommune-101`);
    assert.equal(res.status, 200, res.text);
    const st = statementSchema.parse(res.body);
    const line = st.lines.find((l) => l.caseId === caseId);
    assert.deepEqual(
      { kind: line?.kind, service: line?.service, amountOre: line?.amountOre },
      { kind: 'statement', service: 'ongoing-case-advice', amountOre: 210_000 },
    );
    assert.ok(st.lines.some((l) => l.kind === 'coordinator-function' && l.agreementId === 'kbh-2026'));
    assert.equal(st.closed, false);
  });

  test('CSV for the finance system, by Accept or format=csv', async () => {
    const a = await as(g, 'lead-1').get(`/v1/settlements?month=${month}`).set('Accept', 'text/csv');
    assert.equal(a.status, 200);
    assert.match(a.headers['content-type']!, /^text\/csv; charset=utf-8/);
    assert.match(a.headers['content-disposition']!, /attachment; filename="?afregning-\d{4}-\d{2}\.csv"?/);
    assert.ok(a.text.split('\r\n').some((r) => r.includes(caseId) && r.includes(',210000,')));
    const b = await as(g, 'fin-1').get(`/v1/settlements?month=${month}&format=csv`);
    assert.equal(b.text, a.text);
  });

  test('a municipality reads its own statement only; other staff are refused', async () => {
    const own = await as(g, 'kommune-101').get(`/v1/settlements?month=${month}`);
    assert.equal(own.status, 200);
    assert.equal(own.body.payer, 'kommune-101');
    assert.equal((await as(g, 'kommune-147').get(`/v1/settlements?month=${month}&payer=kommune-101`)).status, 403);
    assert.equal((await as(g, 'coord-anna').get(`/v1/settlements?month=${month}`)).status, 403);
    const bad = await as(g, 'fin-1').get('/v1/settlements?month=2027-13');
    assert.equal(bad.status, 422);
    assert.match(bad.headers['content-type']!, /application\/problem\+json/);
  });

  test('the current month cannot be closed yet; a team lead’s close is refused for staff without the role', async () => {
    const res = await as(g, 'fin-1').post(`/v1/settlements/${month}/close`);
    assert.equal(res.status, 409);
    assert.equal(res.body.type, 'https://postkasse.dk/problems/month-not-ended');
    assert.equal((await as(g, 'coord-anna').post(`/v1/settlements/${month}/close`)).status, 403);
    assert.equal((await as(g, 'fin-1').post('/v1/settlements/2027-1/close')).status, 422);
  });

  test('GET /v1/agreements/{id}: the §16 contents and the earliest end for a notice given today (§25 stk. 2)', async () => {
    const res = await as(g, 'kommune-101').get('/v1/agreements/kbh-2026');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.expectedYearlyCases, 1000);
    assert.equal(res.body.termination.noticeMonths, 9);
    const byNotice = terminationDate(localDate(new Date()), 9);
    assert.equal(res.body.termination.earliestEndDate, byNotice < '2027-12-31' ? byNotice : '2027-12-31');
    // 1000 × 731 234 DKK / 606 = 120 665 677 øre a year (§17 stk. 2, Bilag 1)
    assert.equal(res.body.coordinatorFunctionAnnual.ore, 120_665_677);
    assert.equal((await as(g, 'kommune-147').get('/v1/agreements/kbh-2026')).status, 404);
    const all = await as(g, 'fin-1').get('/v1/agreements');
    assert.deepEqual(all.body.items.map((a: { id: string }) => a.id).sort(), ['frb-2026', 'kbh-2026', 'spe-region']);
  });

  test('CLI: npm run cli -- settlement --month M [--payer P] [--csv] prints the statements, in DKK or as CSV', async () => {
    const env = { DATA_DIR: g.dataDir, POSTKASSE_URL: g.url };
    const text = await settlementCommand(['--month', month, '--payer', 'kommune-101', '--as', 'fin-1'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`statement\\s+2\\.100,00 DKK\\s+ongoing-case-advice ${caseId}`));
    const csv = await settlementCommand(['--month', month, '--csv', '--as', 'fin-1'], env);
    assert.equal(csv.code, 0, csv.stderr);
    assert.ok(csv.stdout.startsWith('month,payer,payerName,kind,'));
    const refused = await settlementCommand(['--month', month, '--as', 'coord-anna'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /403/);
    assert.equal((await settlementCommand(['--month', '2027-13'], env)).code, 2);
  });

  test('§18 stk. 2: the price cap per payer for a year; the index is re-read on SIGHUP, a bad file is refused', async () => {
    const year = month.slice(0, 4);
    const cap = async () => (await as(g, 'fin-1').get(`/v1/settlements/price-cap?year=${year}&payer=kommune-101`)).body.rows[0].capOre;
    assert.equal((await as(g, 'fin-1').get('/v1/settlements/price-cap?year=20x7')).status, 422);
    writeFileSync(indexFile, JSON.stringify({ baseYear: 2011, factors: { '2011': 100, [year]: 150 } }));
    assert.equal(g.gw.reload().priceIndex, 'ok');
    assert.equal(await cap(), 2_100_000, '14 000 DKK × 150 / 100');
    writeFileSync(indexFile, JSON.stringify({ baseYear: 2011, factors: { [year]: 150 } }));
    assert.match(g.gw.reload().priceIndex, /no value for the base year 2011/);
    assert.equal(await cap(), 2_100_000, 'the previous index stays in force');
  });

  test('§19: closing last month freezes its statements; each hash can be checked and is in the audit chain', async () => {
    const res = await as(g, 'fin-1').post(`/v1/settlements/${lastMonth}/close`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.closed, true);
    const kbh = (res.body.statements as { payer: string; sha256: string }[]).find((s) => s.payer === 'kommune-101')!;
    const again = await as(g, 'kommune-101').get(`/v1/settlements?month=${lastMonth}`);
    assert.deepEqual(again.body, kbh);
    const { sha256, ...statement } = again.body as { sha256: string };
    assert.equal(createHash('sha256').update(canonicalJson(statement)).digest('hex'), sha256);
    const audit = await g.gw.db.db.selectFrom('audit_log').select('details').where('action', '=', 'settlement-closed').execute();
    assert.ok(audit.some((a) => a.details.includes(sha256)));
    const twice = await as(g, 'lead-1').post(`/v1/settlements/${lastMonth}/close`);
    assert.equal(twice.status, 409);
  });
});
