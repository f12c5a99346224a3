/**
 * Issue 15, "Personal data in clear in the database", as the attack found it:
 * a package with a distinctive document title, treating clinician and consent
 * giver, and staff actions with distinctive reasons, on a real gateway. None
 * of these strings is in the database in clear — the SQLite file's bytes
 * after a checkpoint, every PostgreSQL row as text — while every read path
 * (staff case view, the sender's view, the lists of extensions, consents and
 * coordinator changes, the web case page, and routing itself) shows them.
 *
 * And the file modes at start-up: the SQLite gateway starts on a DATA_DIR of
 * mode 0755 holding a database file and a key of mode 0644 (as an older
 * gateway left them); after the start DATA_DIR is 0700 and the files 0600.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { sql } from 'kysely';
import { startTestGateway, type Dialect, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { as, settled, writeRoutingParties } from '../helpers/staff.js';
import { localDate } from '../../src/deadlines/calendar.js';
import { SESSION_COOKIE } from '../../src/web/sessions.js';
import { pgRowsAsText, sqliteBytes } from './sealed-fields-helpers.js';

const mark = (what: string) => `${what}${randomBytes(6).toString('hex')}`;

for (const dialect of ['sqlite', 'postgres'] as Dialect[]) {
  describe(`issue 15: personal data is sealed in the database (${dialect})`, () => {
    let dir: string;
    let dataDir: string;
    let g: TestGateway;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'pk-sealed-'));
      dataDir = mkdtempSync(join(tmpdir(), 'pk-sealed-data-'));
      if (dialect === 'sqlite') {
        // as an older gateway (or a umask of 022) left them
        chmodSync(dataDir, 0o755);
        writeFileSync(join(dataDir, 'postkasse.db'), '', { mode: 0o644 });
        writeFileSync(join(dataDir, 'storage.key'), randomBytes(32).toString('base64') + '\n', { mode: 0o644 });
        chmodSync(join(dataDir, 'postkasse.db'), 0o644);
        chmodSync(join(dataDir, 'storage.key'), 0o644);
      }
      g = await startTestGateway({ dialect, dataDir, env: { PARTIES_FILE: writeRoutingParties(dir) } });
    });
    after(async () => {
      await g?.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });

    if (dialect === 'sqlite') {
      test('issue 15 file modes: an existing DATA_DIR of 0755 becomes 0700; the database (and -wal, -shm), the key 0600; blobs 0700', () => {
        const mode = (f: string) => (statSync(join(dataDir, f)).mode & 0o777).toString(8);
        assert.equal(mode('.'), '700');
        for (const f of ['postkasse.db', 'postkasse.db-wal', 'postkasse.db-shm', 'storage.key']) assert.equal(mode(f), '600', f);
        assert.equal(mode('blobs'), '700');
      });
    }

    test('title, treating clinician, consent giver and staff reasons: not in clear in the database, shown on every read path', async () => {
      const m = {
        title: mark('Titel-'),
        clinician: mark('AUT'),
        consentGiver: mark('Giver-'),
        extensionReason: mark('Forlaengelse-'),
        agreedWith: mark('Aftalt-med-'),
        municipalityReason: mark('Kommunegrund-'),
        conflictReason: mark('Konfliktgrund-'),
      };
      // The treating clinician is coord-anna (ydernummer 012345): routing must read the sealed value to pass her by (§12 stk. 2).
      const res = await postPackage(
        g,
        'kommune-101',
        manifest({
          service: 'ongoing-case-advice',
          documents: [{ part: 'x', type: 'other', mediaType: 'application/pdf', title: m.title }],
          treatingClinicians: [{ ydernummer: '012345', authorisationId: m.clinician }],
          consents: [
            { kind: 'same-specialist-as-coordinator', givenBy: m.consentGiver, date: localDate(new Date().toISOString()), how: 'oral' },
          ],
        }),
        [{ name: 'x', body: pdf('x'), contentType: 'application/pdf', filename: 'x.pdf' }],
      );
      assert.equal(res.status, 201, res.text);
      const { caseId } = JSON.parse(res.text) as { caseId: string };
      assert.equal(
        (await settled(g, caseId)).assigned_to,
        'coord-bo',
        'the treating clinician (coord-anna) and coord-x (§25 stk. 3) are passed by',
      );

      const due = (await as(g, 'coord-bo').get(`/v1/cases/${caseId}`)).body.clock.deadlines[0].dueDate as string;
      const later = new Date(Date.parse(`${due}T12:00:00Z`) + 7 * 86400_000).toISOString().slice(0, 10);
      const ext = await as(g, 'coord-bo').post(`/v1/cases/${caseId}/extension`, {
        dueDate: later,
        reason: m.extensionReason,
        agreedWith: m.agreedWith,
      });
      assert.equal(ext.status, 200, ext.text);
      const change = await as(g, 'kommune-101').post('/v1/coordinator-changes', { staffId: 'coord-x', reason: m.municipalityReason });
      assert.equal(change.status, 201, change.text);
      const conflict = await as(g, 'coord-bo').post(`/v1/cases/${caseId}/conflict`, { reason: m.conflictReason });
      assert.equal(conflict.status, 202, conflict.text);

      // The database: nothing of it in clear.
      let haystack: string;
      if (dialect === 'sqlite') {
        await sql`pragma wal_checkpoint(TRUNCATE)`.execute(g.gw.db.db);
        haystack = sqliteBytes(g.dataDir);
      } else {
        haystack = await pgRowsAsText(g.gw.db, g.schema!);
      }
      assert.ok(haystack.includes(caseId), 'the search does look at the data (the case id is there)');
      for (const [what, value] of Object.entries(m)) assert.ok(!haystack.includes(value), `${what} (${value}) is in clear in the database`);

      // Every read path shows them.
      const staffView = await as(g, 'lead-1').get(`/v1/cases/${caseId}`);
      assert.equal(staffView.status, 200, staffView.text);
      assert.equal(staffView.body.documents[0].title, m.title);
      assert.deepEqual(staffView.body.clock.deadlines[0].extension, { reason: m.extensionReason, agreedWith: m.agreedWith });
      const history = staffView.body.history as { event: string; data: Record<string, unknown> }[];
      assert.equal(history.find((h) => h.event === 'conflict-declared')!.data.reason, m.conflictReason);
      const extended = history.find((h) => h.event === 'extension-agreed')!.data;
      assert.deepEqual([extended.reason, extended.agreedWith], [m.extensionReason, m.agreedWith]);
      const senderView = await as(g, 'kommune-101').get(`/v1/cases/${caseId}`);
      assert.equal(senderView.status, 200, senderView.text);
      assert.equal(senderView.body.documents[0].title, m.title);
      const extensions = await as(g, 'kommune-101').get(`/v1/cases/${caseId}/extensions`);
      assert.equal(extensions.body.items[0].agreedWith, m.agreedWith);
      const consents = await as(g, 'lead-1').get(`/v1/cases/${caseId}/consents`);
      assert.equal(consents.body.items[0].givenBy, m.consentGiver);
      const changes = await as(g, 'kommune-101').get('/v1/coordinator-changes');
      assert.ok(
        changes.body.items.some((c: { reason: string }) => c.reason === m.municipalityReason),
        changes.text,
      );

      // The web case page of a team lead (a session row as the login would write it).
      const token = randomBytes(32).toString('base64url');
      const now = new Date().toISOString();
      await g.gw.db.db
        .insertInto('web_sessions')
        .values({
          token_hash: createHash('sha256').update(token).digest('hex'),
          staff_id: 'lead-1',
          created_at: now,
          last_seen_at: now,
          csrf_token: 'c',
          id_token_enc: null,
        })
        .execute();
      const page = await request(g.gw.staffBaseUrl)
        .get(`/sager/${caseId}`)
        .ca(g.ca)
        .trustLocalhost(true)
        .set('Cookie', `${SESSION_COOKIE}=${token}`);
      assert.equal(page.status, 200, page.text.slice(0, 500));
      assert.ok(page.text.includes(m.title), 'the document title on the case page');
      assert.ok(page.text.includes(m.consentGiver), 'who gave the consent on the case page');
    });
  });
}
