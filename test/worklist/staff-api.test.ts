/**
 * Staff API (issue 4): the authorisation matrix (every endpoint × every kind
 * of party), document reads with the access log, the deadline actions staff
 * record on a case, worklist order, and bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { as, caseRow, events, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { byUrgency } from '../../src/worklist/service.js';
import { localDate } from '../../src/deadlines/calendar.js';
import { caseViewSchema, clockActionSchema, leadListSchema, worklistSchema, type WorklistItem } from '../../src/worklist/schema.js';

const cpr = () => `0202${String(50 + Math.floor(Math.random() * 49)).padStart(2, '0')}${String(1000 + Math.floor(Math.random() * 8999))}`;
// gp 012345 excludes coord-anna (§12 stk. 2) and kbh-2026 excludes coord-x (§25 stk. 3): 101's coordinator cases go to coord-bo.
const toBo = (over: Record<string, unknown> = {}) => ({ citizen: { cpr: cpr(), name: 'Z' }, gp: { ydernummer: '012345' }, ...over });

describe('staff API', () => {
  let dir: string;
  let g: TestGateway;
  let caseId: string;
  let receiptId: string;
  let doc: Buffer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-staff-'));
    // every read its own access-log entry here (issue 15 counts repeats within READ_AUDIT_WINDOW_SECONDS: test/audit/reads.test.ts)
    g = await startTestGateway({ dialect: 'postgres', env: { PARTIES_FILE: writeRoutingParties(dir), READ_AUDIT_WINDOW_SECONDS: '0' } });
    doc = pdf('the-plan');
    const m = manifest(toBo());
    const res = await postPackage(g, 'kommune-101', m, [{ name: 'plan', body: doc, contentType: 'application/pdf', filename: 'plan.pdf' }]);
    assert.equal(res.status, 201, res.text);
    ({ caseId, receiptId } = JSON.parse(res.text) as { caseId: string; receiptId: string });
    assert.equal((await settled(g, caseId)).assigned_to, 'coord-bo');
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('authorisation matrix: every endpoint × every kind of party', () => {
    // sender, another municipality, the senior-pension unit, the assignee, another staff member, a team lead, a GP system
    const parties = ['kommune-101', 'kommune-147', 'spe', 'coord-bo', 'coord-anna', 'lead-1', 'gp-057584'] as const;
    type P = (typeof parties)[number];
    type Row = { name: string; call: (p: P) => request.Test; expect: Record<P, number> };
    // POSTs carry an invalid body: whoever is authorised gets 422 (validation runs after authorisation), so the matrix changes nothing.
    const rows = (): Row[] => [
      {
        name: 'GET /v1/worklist',
        call: (p) => as(g, p).get('/v1/worklist'),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 200, 'coord-anna': 200, 'lead-1': 200, 'gp-057584': 403 },
      },
      {
        name: 'GET /v1/cases?state=unassigned',
        call: (p) => as(g, p).get('/v1/cases?state=unassigned'),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 403, 'coord-anna': 403, 'lead-1': 200, 'gp-057584': 403 },
      },
      {
        name: 'GET /v1/cases?state=extended',
        call: (p) => as(g, p).get('/v1/cases?state=extended'),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 403, 'coord-anna': 403, 'lead-1': 200, 'gp-057584': 403 },
      },
      {
        name: 'GET /v1/cases/{id}',
        call: (p) => as(g, p).get(`/v1/cases/${caseId}`),
        expect: { 'kommune-101': 200, 'kommune-147': 404, spe: 404, 'coord-bo': 200, 'coord-anna': 404, 'lead-1': 200, 'gp-057584': 404 },
      },
      {
        name: 'GET /v1/cases/{id}/documents/{part}',
        call: (p) => as(g, p).get(`/v1/cases/${caseId}/documents/plan`),
        // The sender sees the case, so it is told why it may not read (403), never "no case".
        expect: { 'kommune-101': 403, 'kommune-147': 404, spe: 404, 'coord-bo': 200, 'coord-anna': 404, 'lead-1': 200, 'gp-057584': 404 },
      },
      {
        name: 'POST /v1/cases/{id}/meeting',
        call: (p) => as(g, p).post(`/v1/cases/${caseId}/meeting`, { date: 'no' }),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 422, 'coord-anna': 422, 'lead-1': 422, 'gp-057584': 403 },
      },
      {
        name: 'POST /v1/cases/{id}/consultation',
        call: (p) => as(g, p).post(`/v1/cases/${caseId}/consultation`, { date: 'no' }),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 422, 'coord-anna': 422, 'lead-1': 422, 'gp-057584': 403 },
      },
      {
        name: 'POST /v1/cases/{id}/extension',
        call: (p) => as(g, p).post(`/v1/cases/${caseId}/extension`, {}),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 422, 'coord-anna': 422, 'lead-1': 422, 'gp-057584': 403 },
      },
      {
        name: 'POST /v1/cases/{id}/conflict',
        call: (p) => as(g, p).post(`/v1/cases/${caseId}/conflict`, {}),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 422, 'coord-anna': 422, 'lead-1': 422, 'gp-057584': 403 },
      },
      {
        name: 'POST /v1/cases/{id}/assign',
        call: (p) => as(g, p).post(`/v1/cases/${caseId}/assign`, {}),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 403, 'coord-anna': 403, 'lead-1': 422, 'gp-057584': 403 },
      },
      {
        name: 'GET /v1/receipts/{id}',
        call: (p) => as(g, p).get(`/v1/receipts/${receiptId}`),
        expect: { 'kommune-101': 200, 'kommune-147': 404, spe: 404, 'coord-bo': 403, 'coord-anna': 403, 'lead-1': 403, 'gp-057584': 403 },
      },
      {
        name: 'POST /v1/cases/{id}/responses',
        call: (p) => as(g, p).post(`/v1/cases/${caseId}/responses`),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 400, 'coord-anna': 404, 'lead-1': 404, 'gp-057584': 403 },
      },
      {
        name: 'GET /v1/messages?state=no-recipient-system',
        call: (p) => as(g, p).get('/v1/messages?state=no-recipient-system'),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 403, 'coord-anna': 403, 'lead-1': 200, 'gp-057584': 403 },
      },
      {
        name: 'GET /v1/mailbox (own messages only; test/responses covers reading)',
        call: (p) => as(g, p).get('/v1/mailbox'),
        expect: { 'kommune-101': 200, 'kommune-147': 200, spe: 200, 'coord-bo': 200, 'coord-anna': 200, 'lead-1': 200, 'gp-057584': 200 },
      },
      {
        name: 'GET /admin/queues',
        call: (p) => as(g, p).get('/admin/queues'),
        expect: { 'kommune-101': 403, 'kommune-147': 403, spe: 403, 'coord-bo': 403, 'coord-anna': 403, 'lead-1': 200, 'gp-057584': 403 },
      },
    ];
    test('a valid staff action by someone the case is not assigned to: 404, as for a missing case', async () => {
      for (const p of ['coord-anna', 'lead-1']) {
        const res = await as(g, p).post(`/v1/cases/${caseId}/conflict`, { reason: 'not mine' });
        assert.equal(res.status, 404, `${p}: ${res.text}`);
      }
      assert.equal((await caseRow(g, caseId)).assigned_to, 'coord-bo');
    });
    for (const row of rows()) {
      test(row.name, async () => {
        for (const p of parties) {
          const res = await row.call(p);
          assert.equal(res.status, row.expect[p], `${row.name} as ${p}: ${res.status} ${(res.text ?? '').slice(0, 200)}`);
          if (res.status >= 400) assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/, `${row.name} as ${p}`);
        }
        // and nothing changed
        const c = await caseRow(g, caseId);
        assert.equal(c.assigned_to, 'coord-bo');
        assert.equal(c.state, 'assigned');
      });
    }
    test('no certificate: 401 on every staff endpoint', async () => {
      for (const path of ['/v1/worklist', `/v1/cases/${caseId}`, `/v1/cases/${caseId}/documents/plan`, '/admin/queues']) {
        const res = await request(g.url).get(path).ca(g.ca);
        assert.equal(res.status, 401, path);
      }
    });
  });

  test('a document read streams the decrypted bytes and is written to the access log (who, when, which document)', async () => {
    const before = await g.gw.db.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'document-read')
      .where('case_id', '=', caseId)
      .execute();
    const res = await as(g, 'coord-bo')
      .get(`/v1/cases/${caseId}/documents/plan`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body as Buffer, doc);
    assert.equal(res.headers['content-type'], 'application/pdf');
    assert.equal(res.headers['content-disposition'], 'attachment; filename="plan.pdf"', 'the download has its extension');
    assert.equal(res.headers['repr-digest'], `sha-256=:${createHash('sha256').update(doc).digest('base64')}:`);
    assert.equal(res.headers['cache-control'], 'no-store');
    const after = await g.gw.db.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', '=', 'document-read')
      .where('case_id', '=', caseId)
      .execute();
    assert.equal(after.length, before.length + 1);
    const entry = after[after.length - 1]!;
    assert.equal(entry.actor, 'coord-bo');
    assert.ok(Math.abs(Date.parse(entry.at) - Date.now()) < 60_000);
    const details = JSON.parse(entry.details) as { part: string; documentId: string; sha256: string };
    assert.equal(details.part, 'plan');
    assert.equal(details.sha256, createHash('sha256').update(doc).digest('hex'));
    assert.ok(details.documentId);
    assert.ok(!entry.details.includes('Z"'), 'no citizen name in the access log');
  });

  test('a document that does not exist: 404, and no access-log entry', async () => {
    const count = async () =>
      (await g.gw.db.db.selectFrom('audit_log').select('seq').where('action', '=', 'document-read').execute()).length;
    const n = await count();
    const res = await as(g, 'coord-bo').get(`/v1/cases/${caseId}/documents/nope`);
    assert.equal(res.status, 404);
    assert.equal(await count(), n);
  });

  test('unknown case id → 404 for everyone, also team leads', async () => {
    for (const p of ['coord-bo', 'lead-1', 'kommune-101']) {
      const res = await as(g, p).get('/v1/cases/00000000-0000-4000-8000-000000000000');
      assert.equal(res.status, 404, p);
    }
  });

  test('§21 stk. 1: booking the rehabilitation-team meeting stops the clock (met) and stays in history; bad dates are 422', async () => {
    const { caseId: id } = await send(g, 'kommune-101', toBo());
    await settled(g, id);
    const received = localDate((await caseRow(g, id)).received_at);
    const notReal = await as(g, 'coord-bo').post(`/v1/cases/${id}/meeting`, { date: '2026-02-30' });
    assert.equal(notReal.status, 422);
    assert.equal(notReal.body.errors[0].path, 'date');
    const early = await as(g, 'coord-bo').post(`/v1/cases/${id}/meeting`, { date: '2020-01-01' });
    assert.equal(early.status, 422);
    assert.match(early.body.errors.map((e: { message: string }) => e.message).join(' '), /before the case was received/);
    const ok = await as(g, 'coord-bo').post(`/v1/cases/${id}/meeting`, { date: received });
    assert.equal(ok.status, 200, ok.text);
    clockActionSchema.parse(ok.body); // the OpenAPI shape
    assert.equal(ok.body.clock.status, 'stopped');
    assert.equal(ok.body.clock.outcome, 'met');
    const history = (await events(g, id)).map((e) => e.event);
    assert.ok(history.includes('meeting-booked'));
    assert.equal(ok.body.clock.meetingDate, received);
  });

  test('§23: a consultation recomputes the specialist deadline; before receipt → 422', async () => {
    const { caseId: id } = await send(g, 'kommune-147', {
      citizen: { cpr: cpr(), name: 'Y' },
      service: 'clinical-assessment',
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
    });
    const who = (await settled(g, id)).assigned_to!;
    const received = localDate((await caseRow(g, id)).received_at);
    const early = await as(g, who).post(`/v1/cases/${id}/consultation`, { date: '2001-01-01' });
    assert.equal(early.status, 422);
    const ok = await as(g, who).post(`/v1/cases/${id}/consultation`, { date: received });
    assert.equal(ok.status, 200, ok.text);
    const main = ok.body.clock.deadlines[0];
    assert.equal(main.rule, '§23');
    const view = await as(g, who).get(`/v1/cases/${id}`);
    caseViewSchema.parse(view.body); // the OpenAPI shape, as a staff member sees it
    assert.ok(view.body.history.some((h: { event: string }) => h.event === 'consultation-booked'));
  });

  test('§22: an agreed extension needs a reason and a later date (422 otherwise), moves the deadline, and the requester can list it', async () => {
    const { caseId: id } = await send(
      g,
      'kommune-101',
      toBo({ service: 'ongoing-case-advice', documents: [{ part: 'x', type: 'other', mediaType: 'application/pdf' }] }),
    );
    await settled(g, id);
    const view = await as(g, 'coord-bo').get(`/v1/cases/${id}`);
    const due = view.body.clock.deadlines[0].dueDate as string;
    const later = new Date(Date.parse(`${due}T12:00:00Z`) + 7 * 86400_000).toISOString().slice(0, 10);
    const earlier = new Date(Date.parse(`${due}T12:00:00Z`) - 86400_000).toISOString().slice(0, 10);
    const noReason = await as(g, 'coord-bo').post(`/v1/cases/${id}/extension`, { dueDate: later, agreedWith: 'Sara, KK' });
    assert.equal(noReason.status, 422);
    assert.ok(noReason.body.errors.some((e: { path: string }) => e.path === 'reason'));
    const back = await as(g, 'coord-bo').post(`/v1/cases/${id}/extension`, {
      dueDate: earlier,
      reason: 'waiting for records',
      agreedWith: 'Sara, KK',
    });
    assert.equal(back.status, 422);
    const ok = await as(g, 'coord-bo').post(`/v1/cases/${id}/extension`, {
      dueDate: later,
      reason: 'waiting for records',
      agreedWith: 'Sara, KK',
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.clock.deadlines[0].dueDate, later);
    // The requester sees what was agreed and with whom; another municipality sees nothing.
    const list = await as(g, 'kommune-101').get(`/v1/cases/${id}/extensions`);
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.items.length, 1);
    assert.deepEqual(
      [list.body.items[0].rule, list.body.items[0].previousDueDate, list.body.items[0].dueDate, list.body.items[0].agreedWith],
      ['§22', due, later, 'Sara, KK'],
    );
    assert.equal((await as(g, 'kommune-147').get(`/v1/cases/${id}/extensions`)).status, 404);
  });

  test('§22/§23: GET /v1/cases?state=extended lists the open cases whose deadline was moved by an agreed extension', async () => {
    const { caseId: id } = await send(
      g,
      'kommune-101',
      toBo({ service: 'ongoing-case-advice', documents: [{ part: 'x', type: 'other', mediaType: 'application/pdf' }] }),
    );
    await settled(g, id);
    const listed = async () => {
      const res = await as(g, 'lead-1').get('/v1/cases?state=extended');
      assert.equal(res.status, 200, res.text);
      return leadListSchema.parse(res.body).items; // the OpenAPI shape
    };
    assert.ok(!(await listed()).some((i) => i.caseId === id), 'not before an extension is agreed');
    const due = (await as(g, 'coord-bo').get(`/v1/cases/${id}`)).body.clock.deadlines[0].dueDate as string;
    const later = new Date(Date.parse(`${due}T12:00:00Z`) + 10 * 86400_000).toISOString().slice(0, 10);
    const ok = await as(g, 'coord-bo').post(`/v1/cases/${id}/extension`, {
      dueDate: later,
      reason: 'waiting for records',
      agreedWith: 'Sara, KK',
    });
    assert.equal(ok.status, 200, ok.text);
    const items = await listed();
    const item = items.find((i) => i.caseId === id);
    assert.ok(item, 'listed once the extension is agreed');
    assert.deepEqual([item.extended, item.dueDate, item.assignedTo], [true, later, 'coord-bo']);
    assert.ok(items.every((i) => i.extended === true));
    assert.ok(!items.some((i) => i.caseId === caseId), 'a case without an extension is not listed');
    const unknown = await as(g, 'lead-1').get('/v1/cases?state=stretched');
    assert.equal(unknown.status, 422);
  });

  test('malformed JSON → 400 problem; a JSON array → 422 naming the root', async () => {
    const c = g.creds('coord-bo');
    const bad = await request(g.url)
      .post(`/v1/cases/${caseId}/meeting`)
      .ca(g.ca)
      .cert(c.cert)
      .key(c.key)
      .set('content-type', 'application/json')
      .send('{"date":');
    assert.equal(bad.status, 400);
    assert.match(bad.headers['content-type'] ?? '', /problem\+json/);
    const arr = await as(g, 'coord-bo').post(`/v1/cases/${caseId}/meeting`, ['2026-01-01']);
    assert.equal(arr.status, 422);
    assert.deepEqual(arr.body.errors, [{ path: '(root)', message: 'must be an object, not array' }]);
  });

  test('§21 stk. 3: the worklist shows urgent cases first, then the earliest due', async () => {
    const n1 = await send(g, 'kommune-101', toBo());
    const u = await send(g, 'kommune-101', toBo({ urgent: { reason: 'terminal' } }));
    await settled(g, n1.caseId);
    await settled(g, u.caseId);
    const list = await as(g, 'coord-bo').get('/v1/worklist');
    assert.equal(list.status, 200);
    const items = worklistSchema.parse(list.body).items as WorklistItem[]; // the OpenAPI shape
    assert.equal(items[0]!.caseId, u.caseId);
    assert.equal(items[0]!.urgent, true);
    for (let i = 1; i < items.length; i++) assert.ok(byUrgency(items[i - 1]!, items[i]!) <= 0, 'sorted');
  });

  test('byUrgency: urgent, then earliest dueAt, cases without a deadline last, then oldest', () => {
    const it = (caseId: string, urgent: boolean, dueAt: string | null, receivedAt = '2026-01-01T00:00:00Z'): WorklistItem => ({
      caseId,
      urgent,
      dueAt,
      dueDate: dueAt?.slice(0, 10) ?? null,
      receivedAt,
      service: 's',
      caseType: 't',
      municipalityCode: '101',
      state: 'assigned',
    });
    const sorted = [
      it('d', false, null),
      it('c', false, '2026-02-01T22:59:59.999Z'),
      it('b', true, '2026-03-01T22:59:59.999Z'),
      it('a', false, '2026-01-15T22:59:59.999Z'),
    ].sort(byUrgency);
    assert.deepEqual(
      sorted.map((x) => x.caseId),
      ['b', 'a', 'c', 'd'],
    );
  });

  test('team lead lists: overdue and at-risk are computed from the running clocks', async () => {
    const overdue = await as(g, 'lead-1').get('/v1/cases?state=overdue');
    assert.equal(overdue.status, 200);
    leadListSchema.parse(overdue.body); // the OpenAPI shape
    const atRisk = await as(g, 'lead-1').get('/v1/cases?state=at-risk');
    assert.equal(atRisk.status, 200);
    // fresh 14-day clocks are neither overdue nor at risk (3 working days before due)
    assert.ok(!atRisk.body.items.some((i: { caseId: string }) => i.caseId === caseId));
    assert.ok(!overdue.body.items.some((i: { caseId: string }) => i.caseId === caseId));
  });
});
