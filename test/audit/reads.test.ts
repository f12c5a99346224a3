/**
 * Issue 15, hardening: "5 000 mailbox reads in 14 s gave 5 000 audit rows".
 * Audited reads are limited per party (429 problem+json with Retry-After),
 * and repeated reads of one object by one party within the window are one
 * audit entry with a count, which the access log shows. On SQLite and
 * PostgreSQL, with a fake clock. Issue 16: with Redis the allowance is one
 * per party across the instances.
 */
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import assert from 'node:assert/strict';
import { accessLog, verifyAuditChain } from '../../src/audit/audit.js';
import { createReadAudit } from '../../src/audit/reads.js';
import { Problem } from '../../src/shared/problem.js';
import { DIALECTS, openTestDb } from '../storage/helpers.js';
import { REDIS_URL } from '../helpers/gateway.js';
import { createLogger } from '../../src/shared/logger.js';

for (const d of DIALECTS) {
  describe(`issue 15: audited reads (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'areads');
    });
    after(async () => {
      await t?.dispose();
    });

    it('issue 15: a party beyond its audited reads a minute gets 429 with Retry-After; others and later reads pass', async () => {
      let clock = 1_000_000;
      const reads = createReadAudit({ db: t, limits: { ratePerMinute: 3, windowMs: 0 }, now: () => clock });
      for (let i = 0; i < 3; i++) await reads.admit('gp-1');
      await assert.rejects(
        reads.admit('gp-1'),
        (e: unknown) =>
          e instanceof Problem && e.status === 429 && e.type.endsWith('read-rate-limited') && e.headers?.['Retry-After'] === '20',
      );
      await reads.admit('gp-2');
      clock += 20_000; // one token back (3 a minute)
      await reads.admit('gp-1');
      await assert.rejects(reads.admit('gp-1'), Problem);
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

describe('issue 16: audited reads limited across instances (Redis)', () => {
  const prefix = `pk-test-reads-${randomBytes(4).toString('hex')}`;
  let redis: Redis;
  let t: Awaited<ReturnType<typeof openTestDb>>;
  before(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    t = await openTestDb(DIALECTS[0]!, 'areads-shared');
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await t?.dispose();
  });

  it('issue 16: two instances sharing Redis give a party one allowance, not one each; without Redis each counts its own', async () => {
    const limits = { ratePerMinute: 4, windowMs: 0 };
    const a = createReadAudit({ db: t, limits, shared: { redis, prefix } });
    const b = createReadAudit({ db: t, limits, shared: { redis, prefix } });
    await a.admit('lead-1');
    await b.admit('lead-1');
    await a.admit('lead-1');
    await b.admit('lead-1');
    await assert.rejects(
      a.admit('lead-1'),
      (e: unknown) => e instanceof Problem && e.status === 429 && Number(e.headers?.['Retry-After']) >= 1,
    );
    await assert.rejects(b.admit('lead-1'), Problem);
    await b.admit('coord-anna'); // another party: its own allowance
    // instances on their own (no Redis) would have let 8 through
    const c = createReadAudit({ db: t, limits });
    const d = createReadAudit({ db: t, limits });
    for (let i = 0; i < 4; i++) await c.admit('lead-1');
    for (let i = 0; i < 4; i++) await d.admit('lead-1');
    await assert.rejects(c.admit('lead-1'), Problem);
  });

  it('issue 16: Redis not answering leaves each instance its own allowance, and the outage is logged once, not at every read', async () => {
    const down = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: { write: (l: string) => void lines.push(l) } });
    try {
      const reads = createReadAudit({ db: t, limits: { ratePerMinute: 2, windowMs: 0 }, log, shared: { redis: down, prefix } });
      await reads.admit('gp-1');
      await reads.admit('gp-1');
      await assert.rejects(reads.admit('gp-1'), (e: unknown) => e instanceof Problem && e.status === 429);
      assert.equal(lines.filter((l) => l.includes('Redis did not answer')).length, 1, lines.join(''));
    } finally {
      down.disconnect();
    }
  });
});
