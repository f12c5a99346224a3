/**
 * POST /v1/packages end to end: real mTLS server, real database (SQLite and
 * PostgreSQL), real blob store, receipts verified with `openssl cms -verify`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { sql } from 'kysely';
import { startTestGateway, type Dialect, type TestGateway } from '../helpers/gateway.js';
import { manifest, opensslVerify, pdf, postPackage, residue, sha256, PNG } from '../helpers/packages.js';
import { receiptSchema } from '../../src/receipts/schema.js';
import { computeClock } from '../../src/deadlines/engine.js';
import { newCase } from '../storage/helpers.js';

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`intake on ${dialect}`, () => {
    let g: TestGateway;
    before(async () => {
      g = await startTestGateway({ dialect });
    });
    after(async () => {
      await g?.close();
    });

    if (dialect === 'postgres') {
      test("issue 16: the gateway's writes commit in the PostgreSQL writer thread, on its own connections", async () => {
        const c = newCase();
        const ref = sql<string>`current_setting('application_name')`;
        await g.gw.db.writer.commit([
          {
            query: g.gw.db.db
              .insertInto('cases')
              .values({ ...c, citizen_ref: ref })
              .compile(),
          },
        ]);
        const row = await g.gw.db.db.selectFrom('cases').select('citizen_ref').where('id', '=', c.id).executeTakeFirstOrThrow();
        assert.equal(row.citizen_ref, 'postkasse writer');
        await g.gw.db.db.deleteFrom('cases').where('id', '=', c.id).execute();
      });
    }

    test('§24: a complete package is receipted 201 with a signed receipt that openssl verifies', async () => {
      const doc = pdf('plan');
      const m = manifest({
        documents: [{ part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf', sha256: sha256(doc) }],
      });
      const res = await postPackage(g, 'kommune-101', m, [
        { name: 'plan', body: doc, contentType: 'application/pdf', filename: 'plan.pdf' },
      ]);
      assert.equal(res.status, 201, res.text);
      assert.match(res.headers['content-type'] ?? '', /^application\/json/);
      const body = Buffer.from(res.text, 'utf8');
      const receipt = receiptSchema.parse(JSON.parse(res.text));
      assert.equal(res.headers.location, `/v1/cases/${receipt.caseId}`);
      assert.equal(receipt.packageId, m.packageId);
      assert.deepEqual(receipt.sender, { partyId: 'kommune-101', municipalityCode: '101' });
      assert.equal(receipt.documents[0]!.sha256, sha256(doc));
      assert.equal(receipt.documents[0]!.size, doc.length);
      const v = opensslVerify(body, res.headers['receipt-signature']!, g.ca);
      assert.ok(v.ok, v.output);
      // §21 stk. 1: the clock runs from receipt with the real engine's deadline.
      assert.equal(receipt.clock.status, 'running');
      assert.equal(receipt.clock.startedAt, receipt.receivedAt);
      const expected = computeClock({
        service: 'rehab-team-advice',
        urgent: false,
        receivedAt: receipt.receivedAt,
        startedAt: receipt.receivedAt,
        agreement: null,
      }).clock;
      // kommune-101's dev agreement sets no rehab-team deadline, so §21 stk. 1's 14 days apply.
      assert.deepEqual(
        receipt.clock.deadlines.map((d) => [d.kind, d.rule, d.dueDate]),
        expected.deadlines.map((d) => [d.kind, d.rule, d.dueDate]),
      );
      assert.equal(receipt.clock.deadlines[0]!.rule, '§21 stk. 1');

      // GET /v1/receipts/{id} serves the same bytes and signature
      const c = g.creds('kommune-101');
      const again = await request(g.url).get(`/v1/receipts/${receipt.receiptId}`).ca(g.ca).cert(c.cert).key(c.key);
      assert.equal(again.status, 200);
      assert.equal(again.text, res.text);
      assert.equal(again.headers['receipt-signature'], res.headers['receipt-signature']);
      // another sender cannot read it
      const o = g.creds('kommune-147');
      const other = await request(g.url).get(`/v1/receipts/${receipt.receiptId}`).ca(g.ca).cert(o.cert).key(o.key);
      assert.equal(other.status, 404);
      assert.match(other.headers['content-type'] ?? '', /application\/problem\+json/);
    });

    test('idempotency: the same package again gets 200 and the byte-identical receipt and signature', async () => {
      const doc = pdf();
      const m = manifest();
      const files = [{ name: 'plan', body: doc, contentType: 'application/pdf' }];
      const first = await postPackage(g, 'kommune-101', m, files);
      assert.equal(first.status, 201);
      const before = await residue(g);
      const second = await postPackage(g, 'kommune-101', m, files, { manifestAsField: true });
      assert.equal(second.status, 200);
      assert.equal(second.text, first.text);
      assert.equal(second.headers['receipt-signature'], first.headers['receipt-signature']);
      assert.deepEqual(await residue(g), before, 'a repeat keeps nothing new');
    });

    test('idempotency: the same packageId with different content is 409 and keeps nothing', async () => {
      const m = manifest();
      assert.equal((await postPackage(g, 'kommune-101', m, [{ name: 'plan', body: pdf() }])).status, 201);
      const before = await residue(g);
      const res = await postPackage(g, 'kommune-101', m, [{ name: 'plan', body: pdf('different') }]);
      assert.equal(res.status, 409);
      assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/);
      assert.deepEqual(await residue(g), before);
    });

    test('idempotency: the same packageId from another sender is a different package', async () => {
      const m = manifest();
      assert.equal((await postPackage(g, 'kommune-101', m, [{ name: 'plan', body: pdf() }])).status, 201);
      const res = await postPackage(g, 'kommune-147', m, [{ name: 'plan', body: pdf() }]);
      assert.equal(res.status, 201);
    });

    test('idempotency under real concurrency: 6 simultaneous posts of one package make one case', async () => {
      const m = manifest();
      const doc = pdf();
      const before = await residue(g);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => postPackage(g, 'kommune-101', m, [{ name: 'plan', body: doc, contentType: 'application/pdf' }])),
      );
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 201], results.map((r) => r.text).join('\n'));
      for (const r of results) {
        assert.equal(r.text, results[0]!.text);
        assert.equal(r.headers['receipt-signature'], results[0]!.headers['receipt-signature']);
      }
      const afterR = await residue(g);
      assert.equal(afterR.cases, before.cases + 1);
      assert.equal(afterR.documents, before.documents + 1);
      assert.equal(afterR.blobs, before.blobs + 1, "the losers' blobs are removed");
    });

    test('§21 stk. 2: an incomplete case is receipted awaiting a complete case; the completing supplement starts the clock', async () => {
      const m = manifest({ documents: [{ part: 'cert', type: 'medical-certificate', mediaType: 'application/pdf' }] });
      const r1 = await postPackage(g, 'kommune-101', m, [{ name: 'cert', body: pdf() }]);
      assert.equal(r1.status, 201, r1.text);
      const rec1 = JSON.parse(r1.text);
      assert.equal(rec1.clock.status, 'awaiting-complete-case');
      assert.deepEqual(rec1.clock.deadlines, []);
      assert.equal(rec1.clock.startedAt, null);
      // The receipt and the case view say what the clock waits for.
      assert.deepEqual(rec1.missingDocuments, ['rehab-plan-preparatory']);
      const c0 = g.creds('kommune-101');
      const waiting = await request(g.url).get(`/v1/cases/${rec1.caseId}`).ca(g.ca).cert(c0.cert).key(c0.key);
      assert.deepEqual(waiting.body.missingDocuments, ['rehab-plan-preparatory']);

      const s = manifest({
        supplementTo: rec1.caseId,
        documents: [{ part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf' }],
      });
      const r2 = await postPackage(g, 'kommune-101', s, [{ name: 'plan', body: pdf() }]);
      assert.equal(r2.status, 201, r2.text);
      const rec2 = JSON.parse(r2.text);
      assert.equal(rec2.caseId, rec1.caseId);
      assert.equal(rec2.supplementTo, rec1.caseId);
      assert.equal(rec2.clock.status, 'running');
      assert.deepEqual(rec2.missingDocuments, []);
      assert.equal(rec2.clock.startedAt, rec2.receivedAt, 'the clock starts at the completing receipt');
      assert.ok(opensslVerify(Buffer.from(r2.text), r2.headers['receipt-signature']!, g.ca).ok);

      const c = g.creds('kommune-101');
      const view = await request(g.url).get(`/v1/cases/${rec1.caseId}`).ca(g.ca).cert(c.cert).key(c.key);
      assert.equal(view.status, 200);
      assert.equal(view.body.documents.length, 2);
      assert.deepEqual(
        // routing may already have added 'assigned' (test/routing covers it)
        view.body.history.map((h: { event: string }) => h.event).filter((e: string) => e !== 'assigned'),
        ['received', 'awaiting-complete-case', 'supplement-received', 'clock-started'],
      );
      assert.equal(view.body.clock.status, 'running');
      assert.deepEqual(view.body.missingDocuments, []);
      // another municipality does not see it
      const o = g.creds('kommune-147');
      assert.equal((await request(g.url).get(`/v1/cases/${rec1.caseId}`).ca(g.ca).cert(o.cert).key(o.key)).status, 404);
    });

    test('§22: a supplement keeps an agreed extension — the clock is recomputed from all case events', async () => {
      const m = manifest({
        service: 'ongoing-case-advice',
        caseType: 'fleksjob',
        documents: [{ part: 'a', type: 'other', mediaType: 'text/plain' }],
      });
      const r1 = await postPackage(g, 'kommune-147', m, [{ name: 'a', body: Buffer.from('notat\n') }]);
      assert.equal(r1.status, 201, r1.text);
      const rec1 = JSON.parse(r1.text);
      const due = rec1.clock.deadlines[0].dueDate as string;
      const extended = `${Number(due.slice(0, 4)) + 1}${due.slice(4)}`;
      await g.gw.db.db
        .insertInto('case_events')
        .values({
          case_id: rec1.caseId,
          at: new Date().toISOString(),
          event: 'extension-agreed',
          actor: 'coord-anna',
          data: JSON.stringify({
            kind: 'statement',
            dueDate: extended,
            reason: 'awaiting hospital records',
            agreedWith: 'Sara Sagsbehandler',
          }),
        })
        .execute();
      const s2 = manifest({
        ...m,
        packageId: undefined,
        supplementTo: rec1.caseId,
        documents: [{ part: 'b', type: 'supplement', mediaType: 'text/plain' }],
      });
      s2.packageId = `sup-${rec1.caseId}`;
      const r2 = await postPackage(g, 'kommune-147', s2, [{ name: 'b', body: Buffer.from('mere\n') }]);
      assert.equal(r2.status, 201, r2.text);
      const rec2 = JSON.parse(r2.text);
      assert.equal(rec2.clock.deadlines[0].dueDate, extended);
      assert.equal(rec2.clock.deadlines[0].originalDueDate, due);
    });

    test('§23: a clinical assessment carries the attest deadline receipt + 30', async () => {
      const m = manifest({ service: 'clinical-assessment', documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }] });
      const res = await postPackage(g, 'kommune-101', m, [{ name: 'req', body: pdf() }]);
      assert.equal(res.status, 201, res.text);
      const rec = JSON.parse(res.text);
      assert.equal(rec.clock.deadlines[0].rule, '§23');
      assert.equal(rec.clock.deadlines[0].kind, 'attest');
    });

    test("§22 with agreement: kommune-101's agreement sets the ongoing-case deadline", async () => {
      const m = manifest({
        service: 'ongoing-case-advice',
        caseType: 'fleksjob',
        documents: [{ part: 'a', type: 'other', mediaType: 'text/plain' }],
      });
      const res = await postPackage(g, 'kommune-101', m, [{ name: 'a', body: Buffer.from('notat\n') }]);
      assert.equal(res.status, 201, res.text);
      const rec = JSON.parse(res.text);
      assert.equal(rec.clock.deadlines[0].rule, '§22');
      assert.match(rec.clock.deadlines[0].source, /^agreement:/);
    });

    test('the senior-pension unit names the municipality; §29 agreement deadline applies', async () => {
      const m = manifest({
        service: 'senior-pension-advice',
        caseType: 'seniorpension',
        municipalityCode: '147',
        latestJob: { title: 'Sosu-assistent', hoursPerWeek: 37 },
        documents: [{ part: 'job', type: 'other', mediaType: 'application/json' }],
      });
      const res = await postPackage(g, 'spe', m, [{ name: 'job', body: Buffer.from('{"job":"sosu"}') }]);
      assert.equal(res.status, 201, res.text);
      const rec = JSON.parse(res.text);
      assert.deepEqual(rec.sender, { partyId: 'spe', municipalityCode: '147' });
      assert.equal(rec.clock.deadlines[0].rule, '§29');
    });
  });
}

describe('intake: bad input is refused with problem+json and leaves nothing behind', () => {
  let g: TestGateway;
  before(async () => {
    g = await startTestGateway({ dialect: 'sqlite', env: { MAX_DOCUMENT_BYTES: String(2_000_000), MAX_PACKAGE_BYTES: String(5_000_000) } });
  });
  after(async () => {
    await g?.close();
  });

  async function refused(
    name: string,
    status: number,
    send: () => Promise<{ status: number; headers: Record<string, string>; text: string }>,
    typeRe?: RegExp,
  ) {
    await test(name, async () => {
      const before = await residue(g);
      const res = await send();
      assert.equal(res.status, status, res.text);
      assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
      const p = JSON.parse(res.text);
      assert.equal(p.status, status);
      assert.ok(p.title && p.type && p.detail, 'problem has type, title, detail');
      if (typeRe) assert.match(p.type, typeRe);
      assert.deepEqual(await residue(g), before, 'no case, document, package, receipt row or blob remains');
    });
  }

  const plan = () => [{ name: 'plan', body: pdf(), contentType: 'application/pdf' }];

  void refused(
    'missing manifest (documents only)',
    400,
    () => {
      const c = g.creds('kommune-101');
      return request(g.url)
        .post('/v1/packages')
        .ca(g.ca)
        .cert(c.cert)
        .key(c.key)
        .attach('plan', pdf(), { filename: 'plan.pdf', contentType: 'application/pdf' }) as never;
    },
    /manifest-not-first|manifest-missing/,
  );
  void refused(
    'missing manifest (no parts)',
    400,
    () => {
      const c = g.creds('kommune-101');
      return request(g.url).post('/v1/packages').ca(g.ca).cert(c.cert).key(c.key).field('note', 'hello') as never;
    },
    /manifest-missing|unexpected-field/,
  );
  void refused(
    'manifest not first',
    400,
    () => postPackage(g, 'kommune-101', manifest(), plan(), { manifestLast: true }),
    /manifest-not-first/,
  );
  void refused(
    'invalid JSON manifest',
    400,
    () => postPackage(g, 'kommune-101', null, plan(), { rawManifest: '{"packageId": ' }),
    /invalid-manifest-json/,
  );
  // A manifest that does not fit its schema is 422 (it is JSON; its fields are wrong), with each field named.
  void refused('unknown service', 422, () => postPackage(g, 'kommune-101', manifest({ service: 'haircut' }), plan()), /invalid-manifest/);
  void refused(
    'CPR with 31 February',
    422,
    () => postPackage(g, 'kommune-101', manifest({ citizen: { cpr: '310280-1234', name: 'X' } }), plan()),
    /invalid-manifest/,
  );
  void refused('ydernummer not 6 digits', 422, () => postPackage(g, 'kommune-101', manifest({ gp: { ydernummer: '12345' } }), plan()));
  void refused(
    'duplicate part names in the manifest',
    422,
    () =>
      postPackage(
        g,
        'kommune-101',
        manifest({
          documents: [
            { part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf' },
            { part: 'plan', type: 'other', mediaType: 'application/pdf' },
          ],
        }),
        plan(),
      ),
    /invalid-manifest/,
  );
  void refused('the same part sent twice', 400, () => postPackage(g, 'kommune-101', manifest(), [...plan(), ...plan()]), /duplicate-part/);
  void refused(
    'a file with no manifest entry',
    400,
    () => postPackage(g, 'kommune-101', manifest(), [...plan(), { name: 'extra', body: pdf() }]),
    /unexpected-part/,
  );
  void refused(
    'a manifest entry with no file',
    400,
    () =>
      postPackage(
        g,
        'kommune-101',
        manifest({
          documents: [
            { part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf' },
            { part: 'cert', type: 'medical-certificate', mediaType: 'application/pdf' },
          ],
        }),
        plan(),
      ),
    /document-missing/,
  );
  void refused(
    'declared sha256 does not match',
    400,
    () =>
      postPackage(
        g,
        'kommune-101',
        manifest({ documents: [{ part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf', sha256: sha256('other') }] }),
        plan(),
      ),
    /sha256-mismatch/,
  );
  void refused('PDF declared but PNG sent', 415, () => postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: PNG }]));
  void refused('PDF declared but random bytes sent', 415, () =>
    postPackage(g, 'kommune-101', manifest(), [
      {
        name: 'plan',
        body: Buffer.from([0x00, 0x13, 0x99, 0xfe, 0x42, 0x42, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b]),
      },
    ]),
  );
  void refused('a media type outside the allowed set', 415, () =>
    postPackage(
      g,
      'kommune-101',
      manifest({ documents: [{ part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/zip' }] }),
      plan(),
    ),
  );
  void refused(
    'a file name with ../',
    400,
    () => postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: pdf(), filename: '../../etc/passwd' }]),
    /invalid-filename/,
  );
  void refused('a part name with ../', 400, () =>
    postPackage(
      g,
      'kommune-101',
      manifest({ documents: [{ part: '../x', type: 'rehab-plan-preparatory', mediaType: 'application/pdf' }] }),
      [{ name: '../x', body: pdf() }],
    ),
  );
  void refused(
    'a document over the size limit (413)',
    413,
    () => postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: Buffer.concat([pdf(), Buffer.alloc(2_100_000, 0x20)]) }]),
    /document-too-large/,
  );
  void refused(
    'a package over the total limit (413)',
    413,
    () =>
      postPackage(
        g,
        'kommune-101',
        manifest({
          documents: ['a', 'b', 'c'].map((p) => ({
            part: p,
            type: p === 'a' ? 'rehab-plan-preparatory' : 'other',
            mediaType: 'application/pdf',
          })),
        }),
        ['a', 'b', 'c'].map((p) => ({ name: p, body: Buffer.concat([pdf(), Buffer.alloc(1_900_000, 0x20)]) })),
      ),
    /package-too-large/,
  );
  void refused(
    '21 documents (413)',
    413,
    () => {
      const parts = Array.from({ length: 21 }, (_, i) => `d${i}`);
      return postPackage(
        g,
        'kommune-101',
        manifest({
          documents: parts.map((p, i) => ({ part: p, type: i === 0 ? 'rehab-plan-preparatory' : 'other', mediaType: 'application/pdf' })),
        }),
        parts.map((p) => ({ name: p, body: pdf() })),
      );
    },
    /too-many-documents/,
  );
  void refused(
    "another municipality's code (403)",
    403,
    () => postPackage(g, 'kommune-101', manifest({ municipalityCode: '147' }), plan()),
    /foreign-municipality/,
  );
  void refused('supplementTo of an unknown case (404)', 404, () =>
    postPackage(g, 'kommune-101', manifest({ supplementTo: '00000000-0000-4000-8000-000000000000' }), plan()),
  );
  void refused(
    '§29 stk. 4: a municipality of another region (403)',
    403,
    () => postPackage(g, 'kommune-253', manifest(), plan()),
    /wrong-region/,
  );
  void refused('senior-pension unit without municipalityCode', 422, () =>
    postPackage(g, 'spe', manifest({ service: 'senior-pension-advice', caseType: 'seniorpension', latestJob: { title: 'x' } }), plan()),
  );
  void refused(
    '§13 stk. 1: Seniorpensionsenheden requests only senior-pension services (403 naming the rule)',
    403,
    () => postPackage(g, 'spe', manifest({ service: 'clinical-assessment', municipalityCode: '101' }), plan()),
    /service-not-allowed/,
  );
  void refused(
    '§21 stk. 3: urgency is for rehab-team-advice cases only (422 naming urgent)',
    422,
    () => postPackage(g, 'kommune-101', manifest({ service: 'ongoing-case-advice', urgent: { reason: 'other' } }), plan()),
    /invalid-manifest/,
  );
  void refused(
    '§10 stk. 1: a terminal citizen gets no early-pension statement: the urgent §21 stk. 3 track instead (422)',
    422,
    () => postPackage(g, 'kommune-101', manifest({ service: 'early-pension-statement', urgent: { reason: 'terminal' } }), plan()),
    /invalid-manifest/,
  );
  test('§10 stk. 1 and §21 stk. 3: the refusals name the rule and the field', async () => {
    const terminal = await postPackage(
      g,
      'kommune-101',
      manifest({ service: 'early-pension-statement', urgent: { reason: 'terminal' } }),
      plan(),
    );
    assert.deepEqual(
      JSON.parse(terminal.text).errors.map((e: { path: string }) => e.path),
      ['urgent.reason'],
    );
    assert.match(terminal.text, /§10 stk\. 1/);
    const other = await postPackage(g, 'kommune-101', manifest({ service: 'ongoing-case-advice', urgent: { reason: 'other' } }), plan());
    assert.match(other.text, /§21 stk\. 3/);
    const spe = await postPackage(g, 'spe', manifest({ service: 'clinical-assessment', municipalityCode: '101' }), plan());
    assert.deepEqual(JSON.parse(spe.text).rules, ['§13 stk. 1']);
  });
  void refused(
    '§11 stk. 3: the 4-year risk is stated only in ongoing-case-advice about a jobafklaringsforløb (422)',
    422,
    () => postPackage(g, 'kommune-101', manifest({ riskUnfitAfter4Years: true }), plan()),
    /invalid-manifest/,
  );
  void refused('not multipart (415)', 415, () => {
    const c = g.creds('kommune-101');
    return request(g.url).post('/v1/packages').ca(g.ca).cert(c.cert).key(c.key).send({ manifest: manifest() }) as never;
  });
  void refused('staff may not send packages (403)', 403, () => postPackage(g, 'coord-anna', manifest(), plan()));

  test('supplementTo a case of another sender is 404 (no existence leak)', async () => {
    const r = await postPackage(g, 'kommune-147', manifest(), plan());
    assert.equal(r.status, 201);
    const caseId = JSON.parse(r.text).caseId;
    const before = await residue(g);
    const res = await postPackage(g, 'kommune-101', manifest({ supplementTo: caseId }), plan());
    assert.equal(res.status, 404);
    assert.deepEqual(await residue(g), before);
  });

  test('a supplement for another citizen is 422', async () => {
    const r = await postPackage(g, 'kommune-101', manifest(), plan());
    const caseId = JSON.parse(r.text).caseId;
    const before = await residue(g);
    const res = await postPackage(g, 'kommune-101', manifest({ supplementTo: caseId, citizen: { cpr: '0202802345', name: 'Y' } }), plan());
    assert.equal(res.status, 422, res.text);
    assert.deepEqual(await residue(g), before);
  });

  test('the rejection is audited, and the audit entry holds no CPR or name', async () => {
    const m = manifest({ municipalityCode: '147' });
    await postPackage(g, 'kommune-101', m, plan());
    const rows = await g.gw.db.db.selectFrom('audit_log').selectAll().where('action', '=', 'package-rejected').execute();
    assert.ok(rows.some((r) => r.details.includes(m.packageId)));
    for (const r of rows) assert.doesNotMatch(r.details, /0101801234|Testa/);
  });

  test('documents are encrypted at rest: no plaintext marker in any blob file', async () => {
    const marker = 'PLAINTEXT-MARKER-' + Date.now();
    const res = await postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: pdf(marker) }]);
    assert.equal(res.status, 201);
    const { execFileSync } = await import('node:child_process');
    let found: string;
    try {
      found = execFileSync('grep', ['-rl', marker, `${g.dataDir}`], { encoding: 'utf8' });
    } catch {
      found = '';
    }
    assert.equal(found, '', 'the marker must not appear anywhere under DATA_DIR (blobs, database, WAL)');
  });

  test('logs never carry CPR numbers, names or document bytes', async () => {
    const marker = 'DOCBYTES-' + Date.now();
    await postPackage(g, 'kommune-101', manifest({ citizen: { cpr: '1502851234', name: 'Hemmelig Person' } }), [
      { name: 'plan', body: pdf(marker) },
    ]);
    await postPackage(g, 'kommune-101', manifest({ citizen: { cpr: '150285-1234', name: 'Hemmelig Person' }, service: 'nope' }), [
      { name: 'plan', body: pdf(marker) },
    ]);
    const all = g.logs.join('\n');
    assert.ok(g.logs.length > 0, 'logs were captured');
    assert.doesNotMatch(all, /1502851234|150285-1234/);
    assert.doesNotMatch(all, /Hemmelig/);
    assert.doesNotMatch(all, new RegExp(marker));
    assert.match(all, /package receipted/);
  });

  test('openapi.json is served and describes the receipt', async () => {
    const c = g.creds('kommune-101');
    const res = await request(g.url).get('/openapi.json').ca(g.ca).cert(c.cert).key(c.key);
    assert.equal(res.status, 200);
    assert.equal(res.body.openapi, '3.1.0');
    assert.ok(res.body.components.schemas.Receipt);
    assert.ok(res.body.paths['/v1/packages'].post);
  });

  test('pki files exist for the dev parties', () => {
    assert.ok(readFileSync(g.gw.tls.devPki!.caCert, 'utf8').includes('BEGIN CERTIFICATE'));
  });
});
