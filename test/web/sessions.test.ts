/**
 * Staff sessions in the database (both dialects): the cookie's token is never
 * stored, only its SHA-256; 30 minutes idle or 10 hours after login ends a
 * session (and deletes it); logout hands back the ID token for the IdP.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { DIALECTS, openTestDb } from '../storage/helpers.js';
import { createSessions } from '../../src/web/sessions.js';

const masterKey = randomBytes(32);
const MIN = 60_000;

for (const d of DIALECTS) {
  describe(`staff sessions (${d.name})`, async () => {
    const db = await openTestDb(d, 'websess');
    after(() => db.dispose());
    let t = Date.parse('2026-12-01T08:00:00.000Z');
    const sessions = createSessions({ db, masterKey, idleMs: 30 * MIN, maxMs: 10 * 60 * MIN, now: () => new Date(t) });
    const rows = () => db.db.selectFrom('web_sessions').selectAll().execute();

    test('the database holds the SHA-256 of the token, never the token; the ID token is sealed', async () => {
      const { token } = await sessions.create('coord-anna', 'header.payload.signature');
      const all = await rows();
      const row = all.find((r) => r.staff_id === 'coord-anna')!;
      assert.equal(row.token_hash, createHash('sha256').update(token).digest('hex'));
      assert.ok(!JSON.stringify(all).includes(token));
      assert.ok(!Buffer.from(row.id_token_enc!).toString('latin1').includes('payload'));
      const s = await sessions.lookup(token);
      assert.equal(s?.staffId, 'coord-anna');
      assert.equal(s?.csrfToken, row.csrf_token);
      assert.deepEqual(await sessions.destroy(s!.tokenHash), { idToken: 'header.payload.signature' });
      assert.equal(await sessions.lookup(token), null);
    });

    test('30 minutes without a request end the session, and it is deleted', async () => {
      const { token } = await sessions.create('coord-carl');
      t += 29 * MIN;
      assert.ok(await sessions.lookup(token), 'still alive after 29 minutes');
      t += 30 * MIN + 1; // 30 minutes after the last request
      assert.equal(await sessions.lookup(token), null);
      assert.equal((await rows()).filter((r) => r.staff_id === 'coord-carl').length, 0);
    });

    test('10 hours after login the session ends even while in use', async () => {
      const { token } = await sessions.create('spec-eva');
      for (let h = 0; h < 10 * 60; h += 20) {
        t += 20 * MIN;
        if (h + 20 < 10 * 60) assert.ok(await sessions.lookup(token), `alive after ${h + 20} minutes of use`);
      }
      t += 1;
      assert.equal(await sessions.lookup(token), null);
    });

    test('a token of the wrong shape or unknown is no session; the sweep removes expired rows', async () => {
      assert.equal(await sessions.lookup(undefined), null);
      assert.equal(await sessions.lookup('x'), null);
      assert.equal(await sessions.lookup(randomBytes(32).toString('base64url')), null);
      await sessions.create('lead-1');
      t += 31 * MIN;
      const expired = (await rows()).length;
      assert.ok(expired >= 1);
      assert.equal(await sessions.sweep(), expired);
      assert.equal((await rows()).length, 0);
    });
  });
}
