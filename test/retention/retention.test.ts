/**
 * Issue 15, retention (GDPR art. 5(1)(e)): the daily purge deletes the
 * documents and personal fields of cases closed longer than
 * RETENTION_DAYS_AFTER_CLOSE (here 1 day; a case is made "closed two days ago"
 * by moving its closed_at back), keeps what evidence needs, and a team lead's
 * legal hold keeps a case from it. A purged case shows as purged (410 for what
 * was deleted, never a 500), and its receipt and evidence export still verify.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_URL, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { opensslVerify, pdf } from '../helpers/packages.js';
import { as, ATTEST, caseRow, events, holdConsultation, respond, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { waitFor } from '../helpers/wait.js';
import request from 'supertest';
import { runCli } from '../cli/helpers.js';
import { loadMasterKey } from '../../src/storage/crypto.js';
import { createSessions, SESSION_COOKIE } from '../../src/web/sessions.js';
import { dailyPattern, PURGE_TIME_ZONE, SCHEDULER_ID } from '../../queues/retention.js';

const cpr = () => `0404${String(50 + Math.floor(Math.random() * 49)).padStart(2, '0')}${String(1000 + Math.floor(Math.random() * 8999))}`;
const DAY = 86_400_000;

/** Every file name under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

// Every behaviour on the embedded database; the purge and the legal hold (their SQL) on PostgreSQL too.
for (const dialect of ['sqlite', 'postgres'] as const) {
  const onBoth = {};
  const sqliteOnly = { skip: dialect === 'postgres' ? 'its SQL is the same on both; run on the embedded database' : false };
  describe(`issue 15: retention (${dialect})`, () => {
    let dir: string;
    let g: TestGateway;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'pk-retention-'));
      g = await startTestGateway({
        dialect,
        env: { PARTIES_FILE: writeRoutingParties(dir), RETENTION_DAYS_AFTER_CLOSE: '1' },
      });
    });
    after(async () => {
      await g?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A clinical assessment answered with an attest (the GP has no system: its copy is final at once): a closed case. */
    async function closedCase(opts: { ack?: boolean } = {}) {
      const citizen = { cpr: cpr(), name: 'Rikke Retention' };
      const sent = await send(g, 'kommune-147', {
        citizen,
        service: 'clinical-assessment',
        gp: { ydernummer: '099999' },
        documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
      });
      const who = (await settled(g, sent.caseId)).assigned_to!;
      await holdConsultation(g, who, sent.caseId);
      const res = await respond(g, who, sent.caseId, { kind: 'specialist-attest', content: ATTEST }, pdf('attest'));
      assert.equal(res.status, 201, res.text);
      const toMunicipality = (res.body.messages as { messageId: string; copy: boolean }[]).find((m) => !m.copy)!.messageId;
      if (opts.ack !== false) assert.equal((await as(g, 'kommune-147').post(`/v1/mailbox/${toMunicipality}/ack`)).status, 200);
      assert.equal((await caseRow(g, sent.caseId)).state, 'closed');
      return { ...sent, citizen, who, messageId: toMunicipality };
    }

    /** The case was closed `days` ago (the purge counts from closed_at). */
    async function closedDaysAgo(caseId: string, days: number) {
      await g.gw.db.db
        .updateTable('cases')
        .set({ closed_at: new Date(Date.now() - days * DAY).toISOString() })
        .where('id', '=', caseId)
        .execute();
    }

    const blobKeysOf = async (caseId: string) => [
      ...(await g.gw.db.db.selectFrom('documents').select('blob_key').where('case_id', '=', caseId).execute()),
      ...(await g.gw.db.db.selectFrom('responses').select('blob_key').where('case_id', '=', caseId).execute()),
    ];

    test('the daily run is scheduled once, at a quarter past the configured hour, Copenhagen time', sqliteOnly, async () => {
      const scheduler = await g.gw.retentionQueue!.queue.getJobScheduler(SCHEDULER_ID);
      assert.equal(scheduler?.pattern, dailyPattern(2));
      assert.equal(scheduler?.tz, PURGE_TIME_ZONE);
      await g.gw.retentionQueue!.schedule(); // a restart, or another instance: still one scheduler
      assert.equal((await g.gw.retentionQueue!.queue.getJobSchedulers()).length, 1);
    });

    test(
      'a case closed longer than RETENTION_DAYS_AFTER_CLOSE loses its documents and personal data; its evidence stays and verifies',
      onBoth,
      async () => {
        const c = await closedCase();
        const recent = await closedCase();
        await closedDaysAgo(c.caseId, 2);
        const keys = (await blobKeysOf(c.caseId)).map((r) => r.blob_key);
        assert.equal(keys.length, 2, 'the request and the attest are stored');
        for (const k of keys) assert.ok(filesUnder(join(g.dataDir, 'blobs')).includes(k), 'each blob is on disk before');
        const before = await as(g, 'kommune-147').get(`/v1/cases/${c.caseId}`);
        assert.equal(before.body.retention.purgedAt, null);
        assert.ok(Date.parse(before.body.retention.purgeAfter) < Date.now(), 'due already');

        const run = await g.gw.retentionQueue!.runNow();
        assert.deepEqual(run.purged, [c.caseId], 'the daily job purges the due case, not the one closed today');
        assert.equal((await caseRow(g, recent.caseId)).purged_at, null);

        // gone: the blobs, the sealed manifest, the responses' content, the envelopes, titles, the citizen link
        const files = filesUnder(join(g.dataDir, 'blobs'));
        for (const k of keys) assert.ok(!files.includes(k), 'the blob is deleted from disk');
        const row = await caseRow(g, c.caseId);
        assert.ok(row.purged_at);
        assert.equal(row.manifest_enc.length, 0);
        assert.equal(row.citizen_ref, `purged:${c.caseId}`);
        assert.equal(row.gp_ydernummer, null);
        const db = g.gw.db.db;
        for (const r of await db
          .selectFrom('responses')
          .select(['content_enc', 'blob_key', 'sha256'])
          .where('case_id', '=', c.caseId)
          .execute()) {
          assert.equal(r.content_enc.length, 0);
          assert.equal(r.blob_key, '');
          assert.match(r.sha256, /^[0-9a-f]{64}$/, 'the digest stays');
        }
        const messages = await db
          .selectFrom('messages')
          .select(['id', 'envelope_enc', 'signature'])
          .where('case_id', '=', c.caseId)
          .execute();
        assert.equal(messages.length, 2, "the municipality's attest and the GP's copy");
        for (const m of messages) assert.equal(m.envelope_enc.length, 0);
        assert.ok(messages.find((m) => m.id === c.messageId)!.signature.length > 0, "the municipality's message keeps its signature");
        const docs = await db.selectFrom('documents').select(['title', 'sha256', 'size']).where('case_id', '=', c.caseId).execute();
        assert.deepEqual(
          docs.map((d) => [d.title, d.sha256.length, d.size > 0]),
          [[null, 64, true]],
        );
        // the other case is untouched
        assert.ok((await caseRow(g, recent.caseId)).manifest_enc.length > 0);

        // audited, with no personal data; the case's history says so
        const audit = await db
          .selectFrom('audit_log')
          .selectAll()
          .where('case_id', '=', c.caseId)
          .where('action', '=', 'case-purged')
          .execute();
        assert.equal(audit.length, 1);
        assert.equal(audit[0]!.actor, 'retention');
        assert.deepEqual(JSON.parse(audit[0]!.details).documents, 1);
        assert.ok(!audit[0]!.details.includes(c.citizen.cpr) && !audit[0]!.details.includes('Rikke'));
        assert.equal((await events(g, c.caseId, 'purged')).length, 1);

        // a purged case shows as purged; what was deleted answers 410, never a 500
        const view = await as(g, 'kommune-147').get(`/v1/cases/${c.caseId}`);
        assert.equal(view.status, 200);
        assert.equal(view.body.retention.purgedAt, row.purged_at);
        assert.equal(view.body.documents[0].sha256, docs[0]!.sha256);
        const doc = await as(g, 'lead-1').get(`/v1/cases/${c.caseId}/documents/req`);
        assert.equal(doc.status, 410);
        assert.equal(doc.body.type, 'https://postkasse.dk/problems/case-purged');
        const message = await as(g, 'kommune-147').get(`/v1/mailbox/${c.messageId}`);
        assert.equal(message.status, 410, message.text);
        // the staff pages' case and document answer a Danish page, 410
        const sessions = createSessions({
          db: g.gw.db,
          masterKey: loadMasterKey({ dataDir: g.dataDir, createIfMissing: false }),
          idleMs: 60_000,
          maxMs: 600_000,
        });
        const { token } = await sessions.create('lead-1');
        for (const page of [`/sager/${c.caseId}`, `/sager/${c.caseId}/dokumenter/req`]) {
          const res = await request(g.gw.staffBaseUrl.replace('localhost', '127.0.0.1'))
            .get(page)
            .ca(g.ca)
            .set('cookie', `${SESSION_COOKIE}=${token}`);
          assert.equal(res.status, 410, `${page}: ${res.text.slice(0, 200)}`);
          assert.match(res.text, /<h1>Sagen er slettet<\/h1>/);
        }
        const municipalHold = await as(g, 'kommune-147').post(`/v1/cases/${c.caseId}/legal-hold`, { reason: 'klage' });
        assert.equal(municipalHold.status, 403, 'a municipality places no hold');

        // the receipt still verifies with openssl, as the sender holds it and as the gateway serves it
        const receipt = await as(g, 'kommune-147').get(`/v1/receipts/${c.receiptId}`).buffer(true);
        assert.equal(receipt.status, 200);
        const verifiedReceipt = opensslVerify(Buffer.from(receipt.text), receipt.headers['receipt-signature']!, g.ca);
        assert.ok(verifiedReceipt.ok, verifiedReceipt.output);
        const rdir = mkdtempSync(join(tmpdir(), 'pk-retention-evidence-'));
        try {
          writeFileSync(join(rdir, 'ca.pem'), g.ca);
          // and the evidence export of the purged case verifies
          const zip = join(rdir, 'evidence.zip');
          // the CLI reads the gateway's database: its DATA_DIR, and on PostgreSQL its schema
          const cliEnv = {
            DATA_DIR: g.dataDir,
            ...(g.schema ? { DATABASE_URL: `${PG_URL}?options=${encodeURIComponent(`-c search_path=${g.schema}`)}` } : {}),
          };
          const exported = await runCli(['evidence', 'export', '--case', c.caseId, '--out', zip], cliEnv);
          assert.equal(exported.code, 0, exported.stderr);
          const verified = await runCli(['evidence', 'verify', zip, '--ca', join(rdir, 'ca.pem')], cliEnv);
          assert.equal(verified.code, 0, verified.stdout + verified.stderr);
          assert.match(verified.stdout, /evidence OK/);
        } finally {
          rmSync(rdir, { recursive: true, force: true });
        }

        // a second run changes nothing
        const again = await g.gw.retention.purgeDue();
        assert.deepEqual(again.purged, []);
      },
    );

    test('a supplement to a purged case is refused (409 case-purged), and nothing of it is kept', sqliteOnly, async () => {
      const c = await closedCase();
      await closedDaysAgo(c.caseId, 3);
      assert.deepEqual((await g.gw.retention.purgeDue()).purged, [c.caseId]);
      const packagesBefore = await g.gw.db.db.selectFrom('packages').select('id').execute();
      const res = await send(g, 'kommune-147', {
        citizen: c.citizen,
        service: 'clinical-assessment',
        supplementTo: c.caseId,
        documents: [{ part: 'more', type: 'other', mediaType: 'application/pdf' }],
      }).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
      assert.match(res, /^intake answered 409: .*case-purged/);
      assert.equal((await g.gw.db.db.selectFrom('packages').select('id').execute()).length, packagesBefore.length);
    });

    test('a message still waiting for its recipient keeps the case until it is acknowledged', onBoth, async () => {
      const c = await closedCase({ ack: false });
      await closedDaysAgo(c.caseId, 2);
      const waiting = await g.gw.retention.purgeDue();
      assert.deepEqual(waiting.waitingForMessages, [c.caseId]);
      assert.equal((await caseRow(g, c.caseId)).purged_at, null);
      const read = await as(g, 'kommune-147').get(`/v1/mailbox/${c.messageId}`);
      assert.equal(read.status, 200, 'the municipality still reads its attest');
      assert.equal((await as(g, 'kommune-147').post(`/v1/mailbox/${c.messageId}/ack`)).status, 200);
      assert.deepEqual((await g.gw.retention.purgeDue()).purged, [c.caseId]);
    });

    test(
      'a team lead places a legal hold with a reason (audited; sealed); a held case is not purged until the hold is lifted',
      onBoth,
      async () => {
        const c = await closedCase();
        await closedDaysAgo(c.caseId, 5);
        const path = `/v1/cases/${c.caseId}/legal-hold`;
        assert.equal((await as(g, c.who).post(path, { reason: 'Klagesag' })).status, 403, 'not for a coordinator');
        const blank = await as(g, 'lead-1').post(path, { reason: ' ' });
        assert.equal(blank.status, 422);
        assert.equal(blank.body.errors[0].path, 'reason');
        assert.equal((await caseRow(g, c.caseId)).hold_at, null, 'nothing of a refused hold is kept');

        const placed = await as(g, 'lead-1').post(path, { reason: 'Klagesag hos Styrelsen for Patientklager' });
        assert.equal(placed.status, 200, placed.text);
        assert.equal(placed.body.legalHold.reason, 'Klagesag hos Styrelsen for Patientklager');
        assert.equal(placed.body.legalHold.placedBy, 'lead-1');
        assert.equal(placed.body.purgeAfter, null);
        assert.equal((await as(g, 'lead-1').post(path, { reason: 'igen' })).status, 409, 'on hold already');
        const row = await caseRow(g, c.caseId);
        assert.match(row.hold_reason!, /^sealed1:/, 'the reason is sealed like every free text');
        const audit = await g.gw.db.db
          .selectFrom('audit_log')
          .select(['actor', 'details'])
          .where('case_id', '=', c.caseId)
          .where('action', '=', 'legal-hold-placed')
          .execute();
        assert.deepEqual(
          audit.map((a) => a.actor),
          ['lead-1'],
        );
        assert.ok(!audit[0]!.details.includes('Klagesag'), 'the audit log holds no free text');
        // the sender sees that there is a hold, not why or by whom
        const senderView = await as(g, 'kommune-147').get(`/v1/cases/${c.caseId}`);
        assert.deepEqual(Object.keys(senderView.body.retention.legalHold), ['placedAt']);
        assert.ok(!JSON.stringify(senderView.body.history).includes('Klagesag'));

        assert.deepEqual((await g.gw.retention.purgeDue()).purged, [], 'held: not purged');
        assert.equal((await caseRow(g, c.caseId)).purged_at, null);

        const lift = `${path}/lift`;
        assert.equal((await as(g, 'lead-1').post(lift, {})).status, 422, 'lifting needs a reason too');
        const lifted = await as(g, 'lead-1').post(lift, { reason: 'Klagesagen er afsluttet' });
        assert.equal(lifted.status, 200, lifted.text);
        assert.equal(lifted.body.legalHold, null);
        assert.equal((await as(g, 'lead-1').post(lift, { reason: 'igen' })).status, 409, 'not on hold');
        assert.deepEqual((await g.gw.retention.purgeDue()).purged, [c.caseId]);
        assert.equal((await as(g, 'lead-1').post(path, { reason: 'for sent' })).status, 410, 'nothing left to hold');
        const actions = await g.gw.db.db.selectFrom('audit_log').select('action').where('case_id', '=', c.caseId).orderBy('seq').execute();
        const tail = actions.map((a) => a.action).filter((a) => /legal-hold|purged/.test(a));
        assert.deepEqual(tail, ['legal-hold-placed', 'legal-hold-lifted', 'case-purged']);
        // the hold's reason, sealed in the case's events, went with the purge
        for (const e of await events(g, c.caseId)) assert.ok(!e.data.includes('$sealed'), `${e.event}: no sealed value is left`);
      },
    );

    test(
      'on the staff pages a team lead sees when the case is deleted, and places and lifts the hold with the form',
      sqliteOnly,
      async () => {
        const c = await closedCase();
        const masterKey = loadMasterKey({ dataDir: g.dataDir, createIfMissing: false });
        const sessions = createSessions({ db: g.gw.db, masterKey, idleMs: 60_000, maxMs: 600_000 });
        const lead = await sessions.create('lead-1');
        const staffUrl = g.gw.staffBaseUrl.replace('localhost', '127.0.0.1');
        const page = () => request(staffUrl).get(`/sager/${c.caseId}`).ca(g.ca).set('cookie', `${SESSION_COOKIE}=${lead.token}`);
        const post = (path: string, reason: string) =>
          request(staffUrl)
            .post(`/sager/${c.caseId}/${path}`)
            .ca(g.ca)
            .set('cookie', `${SESSION_COOKIE}=${lead.token}`)
            .type('form')
            .send({ _csrf: lead.session.csrfToken, reason });

        const before = await page();
        assert.equal(before.status, 200);
        assert.match(before.text, /<h2 id="opbevaring">Opbevaring<\/h2>/);
        assert.match(before.text, /Slettes/);
        assert.match(before.text, /action="\/sager\/[^"]+\/bevaring"/);
        const blank = await post('bevaring', '');
        assert.equal(blank.status, 422, 'the reason is required');
        assert.equal((await caseRow(g, c.caseId)).hold_at, null);
        const placed = await post('bevaring', 'Retssag anlagt af borgeren');
        assert.equal(placed.status, 303, placed.text.slice(0, 300));
        assert.equal((await caseRow(g, c.caseId)).hold_by, 'lead-1');
        const held = await page();
        assert.match(held.text, /Retssag anlagt af borgeren/);
        assert.doesNotMatch(held.text, /Slettes/, 'a held case has no deletion date');
        assert.match(held.text, /action="\/sager\/[^"]+\/bevaring\/ophaev"/);
        assert.match(held.text, /Sagen bevaret \(retligt hold\)/, 'the history names it in Danish');
        assert.equal((await post('bevaring/ophaev', 'Retssagen er afgjort')).status, 303);
        assert.equal((await caseRow(g, c.caseId)).hold_at, null);
        // a coordinator sees the dates but no hold form
        const coordinator = await sessions.create(c.who);
        const theirs = await request(staffUrl).get(`/sager/${c.caseId}`).ca(g.ca).set('cookie', `${SESSION_COOKIE}=${coordinator.token}`);
        assert.equal(theirs.status, 200);
        assert.doesNotMatch(theirs.text, /\/bevaring"/);
      },
    );

    test('open cases are never purged, however old', sqliteOnly, async () => {
      const sent = await send(g, 'kommune-147', {
        citizen: { cpr: cpr(), name: 'Otto Open' },
        service: 'clinical-assessment',
        documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
      });
      await settled(g, sent.caseId);
      await closedDaysAgo(sent.caseId, 400); // a closed_at on an open case (cannot happen) does not make it due either
      assert.ok(!(await g.gw.retention.purgeDue()).purged.includes(sent.caseId));
      await waitFor('the case to stay unpurged', async () => (await caseRow(g, sent.caseId)).purged_at === null);
    });
  });
}
