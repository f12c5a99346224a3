/**
 * Issue 15, hardening: "5 000 mailbox reads in 14 s gave 5 000 audit rows".
 * Audited reads are limited per party (429 problem+json with Retry-After),
 * and repeated reads of one object by one party within the window are one
 * audit entry with a count, which the access log shows. On SQLite and
 * PostgreSQL, with a fake clock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessLog, verifyAuditChain } from '../../src/audit/audit.js';
import { createReadAudit } from '../../src/audit/reads.js';
import { Problem } from '../../src/shared/problem.js';
import { DIALECTS, openTestDb } from '../storage/helpers.js';

for (const d of DIALECTS) {
  describe(`issue 15: audited reads (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'areads');
    });
    after(async () => {
      await t?.dispose();
    });

    it('issue 15: a party beyond its audited reads a minute gets 429 with Retry-After; others and later reads pass', () => {
      let clock = 1_000_000;
      const reads = createReadAudit({ db: t, limits: { ratePerMinute: 3, windowMs: 0 }, now: () => clock });
      for (let i = 0; i < 3; i++) reads.admit('gp-1');
      assert.throws(
        () => reads.admit('gp-1'),
        (e: unknown) =>
          e instanceof Problem && e.status === 429 && e.type.endsWith('read-rate-limited') && e.headers?.['Retry-After'] === '20',
      );
      reads.admit('gp-2');
      clock += 20_000; // one token back (3 a minute)
      reads.admit('gp-1');
      assert.throws(() => reads.admit('gp-1'), Problem);
    });

    it('issue 15: 5 000 reads of one document by one party make two audit entries, the second with the count', async () => {
      let clock = 2_000_000;
      const at = () => new Date(clock).toISOString();
      const reads = createReadAudit({ db: t, limits: { ratePerMinute: 0, windowMs: 60_000 }, now: () => clock });
      const caseId = 'case-reads';
      const read = (actor: string, doc: string) =>
        reads.record(`document:${doc}`, { at: at(), actor, action: 'document-read', caseId, details: { documentId: doc, part: doc } });
      await read('lead-1', 'plan');
      for (let i = 1; i < 5000; i++) {
        clock += 2; // 5 000 reads in 10 s
        await read('lead-1', 'plan');
      }
      await read('coord-a', 'plan'); // another reader: its own entry
      await read('lead-1', 'journal'); // another document: its own entry
      let log = await accessLog(t.db, { caseId });
      assert.deepEqual(
        log.map((e) => [e.actor, e.part, e.count]),
        [
          ['lead-1', 'journal', 1],
          ['coord-a', 'plan', 1],
          ['lead-1', 'plan', 1],
        ],
        'the repeats are not written one by one',
      );
      await reads.flush();
      assert.equal((await accessLog(t.db, { caseId })).length, 3, 'the window has not passed yet');
      clock += 60_000;
      await read('lead-1', 'plan'); // after the window: the count is written, then this read opens a new window
      log = await accessLog(t.db, { caseId });
      assert.deepEqual(
        log.slice(0, 2).map((e) => [e.actor, e.part, e.count]),
        [
          ['lead-1', 'plan', 1],
          ['lead-1', 'plan', 4999],
        ],
      );
      await read('lead-1', 'plan');
      await reads.stop(); // shutdown writes what is pending
      log = await accessLog(t.db, { caseId });
      assert.deepEqual([log[0]!.part, log[0]!.count], ['plan', 1]);
      assert.equal(log.length, 6);
      assert.ok((await verifyAuditChain(t.db, { key: t.auditKey! })).ok);
    });
  });
}
