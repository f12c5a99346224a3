/**
 * The access log: the `document-read` and `case-read` entries of the audit
 * log, newest first, of one case or of all, with a bounded limit; on SQLite
 * and PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { accessLog, appendAudit } from '../../src/audit/audit.js';
import { DIALECTS, openTestDb } from '../storage/helpers.js';

for (const d of DIALECTS) {
  describe(`access log (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    const caseA = randomUUID();
    const caseB = randomUUID();
    let n = 0;
    /** One audit entry, a second after the previous one. */
    const append = (actor: string, action: string, caseId: string | null, details: Record<string, unknown> = {}) =>
      appendAudit(t.db, t, { at: new Date(Date.UTC(2027, 0, 18, 9, 0, n++)).toISOString(), actor, action, caseId, details });

    before(async () => {
      t = await openTestDb(d, 'access');
      await append('coord-a', 'document-read', caseA, {
        documentId: randomUUID(),
        part: 'plan',
        type: 'rehab-plan-preparatory',
        sha256: '0'.repeat(64),
      });
      await append('routing', 'case-assigned', caseA, { staffId: 'coord-a', round: 0 });
      await append('coord-a', 'case-read', caseA);
      await append('lead-1', 'case-read', caseB);
      await append('kommune-101', 'coordinator-change-requested', null, { staffId: 'coord-a' });
      await append('lead-1', 'document-read', caseB, {
        documentId: randomUUID(),
        part: 'journal',
        type: 'journal',
        sha256: '1'.repeat(64),
      });
    });
    after(async () => {
      await t?.dispose();
    });

    test('newest first, document reads and case-file reads only, a document read naming its part and type', async () => {
      const log = await accessLog(t.db);
      assert.deepEqual(
        log.map(({ seq: _seq, ...e }) => e),
        [
          {
            at: '2027-01-18T09:00:05.000Z',
            actor: 'lead-1',
            action: 'document-read',
            caseId: caseB,
            part: 'journal',
            type: 'journal',
            count: 1,
          },
          { at: '2027-01-18T09:00:03.000Z', actor: 'lead-1', action: 'case-read', caseId: caseB, count: 1 },
          { at: '2027-01-18T09:00:02.000Z', actor: 'coord-a', action: 'case-read', caseId: caseA, count: 1 },
          {
            at: '2027-01-18T09:00:00.000Z',
            actor: 'coord-a',
            action: 'document-read',
            caseId: caseA,
            part: 'plan',
            type: 'rehab-plan-preparatory',
            count: 1,
          },
        ],
      );
      for (let i = 1; i < log.length; i++) assert.ok(log[i - 1]!.seq > log[i]!.seq, 'seq descending');
      assert.equal(typeof log[0]!.seq, 'number');
    });

    test('of one case', async () => {
      assert.deepEqual(
        (await accessLog(t.db, { caseId: caseA })).map((e) => e.action),
        ['case-read', 'document-read'],
      );
      assert.deepEqual(await accessLog(t.db, { caseId: randomUUID() }), []);
    });

    test('limit: default 100, at most 500, at least 1', async () => {
      assert.equal((await accessLog(t.db, { limit: 2 })).length, 2);
      assert.equal((await accessLog(t.db, { limit: 0 })).length, 1);
      for (let i = 0; i < 510; i++) await append('coord-a', 'case-read', caseA);
      assert.equal((await accessLog(t.db)).length, 100);
      assert.equal((await accessLog(t.db, { limit: 10_000 })).length, 500);
      assert.equal((await accessLog(t.db, { limit: Number.NaN })).length, 100);
    });
  });
}
