import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { appendAudit, auditHash, GENESIS_HASH, verifyAuditChain as verifyWithChecks } from '../../src/audit/audit.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { DIALECTS, openTestDb } from '../storage/helpers.js';

const at = () => new Date().toISOString();

/** The verdict without its report of what was checked (test/audit/keyed-chain.test.ts covers that). */
async function verifyAuditChain(...args: Parameters<typeof verifyWithChecks>) {
  const v = await verifyWithChecks(...args);
  if (v.ok) return { ok: true as const, count: v.count, head: v.head };
  return { ok: false as const, brokenAt: v.brokenAt, reason: v.reason };
}

for (const d of DIALECTS) {
  describe(`audit log (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'audit');
    });
    after(async () => {
      await t?.dispose();
    });

    /** Runs `fn` with the append-only triggers disabled (the tests play the attacker). */
    async function asAttacker(fn: () => Promise<unknown>): Promise<void> {
      if (d.name === 'postgres') {
        await sql`alter table audit_log disable trigger user`.execute(t.db);
        try {
          await fn();
        } finally {
          await sql`alter table audit_log enable trigger user`.execute(t.db);
        }
      } else {
        const { rows } = await sql<{
          sql: string;
        }>`select sql from sqlite_master where type = 'trigger' and tbl_name = 'audit_log'`.execute(t.db);
        assert.equal(rows.length, 2);
        await sql`drop trigger audit_log_no_update`.execute(t.db);
        await sql`drop trigger audit_log_no_delete`.execute(t.db);
        try {
          await fn();
        } finally {
          for (const r of rows) await sql.raw(r.sql).execute(t.db);
        }
      }
    }

    it('an empty log verifies', async () => {
      assert.deepEqual(await verifyAuditChain(t.db), { ok: true, count: 0, head: null });
    });

    it('appends a chain starting from the genesis hash, with the documented hash and mac formulas (issue 15)', async () => {
      const e1 = {
        at: '2026-12-18T09:41:07.123Z',
        actor: 'sender:1234',
        action: 'package.received',
        caseId: 'case-1',
        details: { packageId: 'p1', b: 2, a: [1, 'x'] },
      };
      const r1 = await t.db.transaction().execute((trx) => appendAudit(trx, t, e1));
      assert.equal(typeof r1.seq, 'number');
      const hashed =
        `${GENESIS_HASH}\n` +
        '{"action":"package.received","actor":"sender:1234","at":"2026-12-18T09:41:07.123Z",' +
        '"caseId":"case-1","details":{"a":[1,"x"],"b":2,"packageId":"p1"}}';
      assert.equal(r1.hash, createHash('sha256').update(hashed).digest('hex'));
      const mac1 = await t.db.selectFrom('audit_log').select('mac').where('seq', '=', r1.seq).executeTakeFirstOrThrow();
      assert.equal(mac1.mac, createHmac('sha256', t.auditKey!.key).update(hashed).digest('hex'));

      // plain Kysely (no transaction given): appendAudit opens its own; no caseId/details
      const r2 = await appendAudit(t.db, t, { at: at(), actor: 'system', action: 'startup' });
      assert.ok(r2.seq > r1.seq);
      const rows = await t.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
      assert.equal(rows.length, 2);
      assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
      assert.equal(rows[0]!.details, canonicalJson(e1.details));
      assert.equal(rows[1]!.prev_hash, r1.hash);
      assert.equal(rows[1]!.case_id, null);
      assert.equal(rows[1]!.details, '{}');
      assert.deepEqual(await verifyAuditChain(t.db), { ok: true, count: 2, head: { seq: r2.seq, hash: r2.hash } });
    });

    it('an entry rolls back with its transaction and the chain stays intact', async () => {
      const before = await verifyAuditChain(t.db);
      assert.ok(before.ok);
      await assert.rejects(
        t.db.transaction().execute(async (trx) => {
          await appendAudit(trx, t, { at: at(), actor: 'x', action: 'doomed' });
          throw new Error('abort');
        }),
        /abort/,
      );
      await appendAudit(t.db, t, { at: at(), actor: 'x', action: 'after-rollback' });
      const v = await verifyAuditChain(t.db);
      assert.ok(v.ok);
      assert.equal(v.count, before.count + 1);
    });

    it('20 concurrent transactions keep one unbroken chain', async () => {
      const before = await verifyAuditChain(t.db);
      assert.ok(before.ok);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          t.db.transaction().execute(async (trx) => {
            const c = await trx
              .selectFrom('audit_log')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow();
            await new Promise((r) => setImmediate(r)); // interleave with the others
            return appendAudit(trx, t, {
              at: at(),
              actor: `worker-${i}`,
              action: 'concurrent',
              caseId: null,
              details: { i, seen: Number(c.n) },
            });
          }),
        ),
      );
      assert.equal(new Set(results.map((r) => r.seq)).size, 20);
      assert.equal(new Set(results.map((r) => r.hash)).size, 20);
      const rows = await t.db.selectFrom('audit_log').select(['prev_hash']).execute();
      assert.equal(new Set(rows.map((r) => r.prev_hash)).size, rows.length, 'two entries link to the same predecessor');
      const v = await verifyAuditChain(t.db, { pageSize: 7 }); // several pages
      assert.deepEqual(v.ok && v.count, before.count + 20);
    });

    it('the table is append-only at the database level', async () => {
      await assert.rejects(t.db.updateTable('audit_log').set({ details: '{"x":1}' }).execute(), /append-only/);
      await assert.rejects(t.db.deleteFrom('audit_log').execute(), /append-only/);
      if (d.name === 'postgres') await assert.rejects(sql`truncate audit_log`.execute(t.db), /append-only/);
      const v = await verifyAuditChain(t.db);
      assert.ok(v.ok);
    });

    it('scrubs CPR-like strings from details and validates the entry', async () => {
      const r = await appendAudit(t.db, t, {
        at: at(),
        actor: 'x',
        action: 'oops',
        details: { note: 'citizen 010101-1234 called', nested: [{ cpr: '0101011234' }], size: 1234567890 },
      });
      const row = await t.db.selectFrom('audit_log').select('details').where('seq', '=', r.seq).executeTakeFirstOrThrow();
      assert.equal(row.details.includes('1234'), true); // the number survives
      assert.equal(/0101011234|010101-1234/.test(row.details), false, row.details);
      await assert.rejects(appendAudit(t.db, t, { at: '2026-12-18 09:41', actor: 'x', action: 'y' }), /ISO-8601/);
      await assert.rejects(appendAudit(t.db, t, { at: at(), actor: '', action: 'y' }), /actor/);
      assert.ok((await verifyAuditChain(t.db)).ok);
    });

    it('detects modified details at the right seq', async () => {
      const mk = (i: number) =>
        appendAudit(t.db, t, { at: at(), actor: 'clinician:42', action: 'document.viewed', caseId: randomUUID(), details: { i } });
      const a = await mk(1);
      const b = await mk(2);
      const c = await mk(3);
      assert.ok((await verifyAuditChain(t.db)).ok);
      await asAttacker(() => t.db.updateTable('audit_log').set({ details: '{"i":99}' }).where('seq', '=', b.seq).execute());
      const v = await verifyAuditChain(t.db, { pageSize: 3 });
      assert.equal(v.ok, false);
      assert.ok(!v.ok);
      assert.equal(v.brokenAt, b.seq);
      assert.match(v.reason, /modified/);
      // an attacker who also recomputes b's hash for the forged details moves the break to c, whose prev_hash no longer matches
      const row = await t.db.selectFrom('audit_log').selectAll().where('seq', '=', b.seq).executeTakeFirstOrThrow();
      const forged = auditHash(row.prev_hash, {
        at: row.at,
        actor: row.actor,
        action: row.action,
        caseId: row.case_id,
        details: { i: 99 },
      });
      await asAttacker(() => t.db.updateTable('audit_log').set({ hash: forged }).where('seq', '=', b.seq).execute());
      const v2 = await verifyAuditChain(t.db);
      assert.ok(!v2.ok);
      assert.equal(v2.brokenAt, c.seq);
      assert.match(v2.reason, /prev_hash/);
      assert.ok(a.seq < b.seq);
    });
  });

  describe(`audit log removal and truncation (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'audit2');
    });
    after(async () => {
      await t?.dispose();
    });

    it('detects a removed entry at the following seq, and a truncated tail against a recorded head', async () => {
      const rs = [];
      for (let i = 0; i < 6; i++) rs.push(await appendAudit(t.db, t, { at: at(), actor: 'a', action: 'x', details: { i } }));
      const head = rs[5]!;
      assert.deepEqual(await verifyAuditChain(t.db, { expectHead: head }), { ok: true, count: 6, head });
      if (d.name === 'postgres') await sql`alter table audit_log disable trigger user`.execute(t.db);
      else await sql`drop trigger audit_log_no_delete`.execute(t.db);
      await t.db.deleteFrom('audit_log').where('seq', '=', rs[2]!.seq).execute();
      const v = await verifyAuditChain(t.db);
      assert.ok(!v.ok);
      assert.equal(v.brokenAt, rs[3]!.seq);
      assert.match(v.reason, /prev_hash/);

      await t.db.deleteFrom('audit_log').where('seq', '>=', rs[2]!.seq).execute();
      assert.deepEqual(await verifyAuditChain(t.db), { ok: true, count: 2, head: rs[1] });
      const v3 = await verifyAuditChain(t.db, { expectHead: head });
      assert.ok(!v3.ok);
      assert.equal(v3.brokenAt, head.seq);

      // the first entry must start from the genesis hash
      await t.db.deleteFrom('audit_log').where('seq', '=', rs[0]!.seq).execute();
      const v4 = await verifyAuditChain(t.db);
      assert.ok(!v4.ok);
      assert.equal(v4.brokenAt, rs[1]!.seq);
      assert.match(v4.reason, /genesis/);
    });
  });
}
