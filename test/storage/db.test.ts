import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import { isUniqueViolation, openDatabase } from '../../src/storage/db.js';
import { cachingStatements } from '../../src/storage/statements.js';
import type { Database } from '../../src/storage/schema.js';
import { DIALECTS, newCase, openTestDb } from './helpers.js';
import { stayFor } from '../helpers/wait.js';

/** Every migration, in order: a new one is added here. */
const MIGRATIONS = [
  '0001_initial',
  '0002_routing',
  '0003_responses',
  '0004_case_requests',
  '0005_coordinator_changes',
  '0006_consents',
  '0007_medcom',
  '0008_web_sessions',
  '0009_settlements',
  '0010_receipt_timestamps',
  '0011_audit_anchors',
  '0012_sealed_fields',
  '0013_retention',
  '0014_cases_received_at',
  '0015_audit_chain_seal',
];

const TABLES = ['audit_log', 'case_events', 'cases', 'documents', 'packages', 'receipts'];

async function insertCaseAndPackage(db: Kysely<Database>, sender: string, packageId: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const c = newCase();
    await trx.insertInto('cases').values(c).execute();
    const id = randomUUID();
    await trx
      .insertInto('packages')
      .values({
        id,
        sender_party_id: sender,
        package_id: packageId,
        case_id: c.id,
        content_sha256: 'a'.repeat(64),
        manifest_sha256: 'b'.repeat(64),
        is_supplement: 0,
        received_at: new Date().toISOString(),
      })
      .execute();
    return id;
  });
}

async function count(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const r = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

for (const d of DIALECTS) {
  describe(`storage db (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'storage');
    });
    after(async () => {
      await t?.dispose();
    });

    it('reports its dialect and answers ping', async () => {
      assert.equal(t.dialect, d.name);
      await t.ping();
    });

    it('migrations create the tables (in the test schema on PostgreSQL)', async () => {
      // Kysely's introspection lists every schema of the database (other test files' too): look at ours.
      const tables = (await t.db.introspection.getTables()).filter((x) => d.name !== 'postgres' || x.schema === t.schema);
      const names = tables.map((x) => x.name).sort();
      for (const n of TABLES) assert.ok(names.includes(n), `table ${n} missing (have ${names.join(', ')})`);
      if (d.name === 'postgres') {
        const { rows } = await sql<{ n: number }>`
          select count(*) as n from information_schema.tables
          where table_schema = ${t.schema!}
            and table_name in ('cases','packages','documents','receipts','audit_log','case_events')`.execute(t.db);
        assert.equal(rows[0]!.n, 6);
      }
    });

    it('creates the indexes the worklist and reconcilers need', async () => {
      const wanted = [
        'cases_state_idx',
        'cases_assigned_to_idx',
        'case_events_case_id_idx',
        'packages_case_id_idx',
        'documents_blob_key_idx',
      ];
      const q =
        d.name === 'sqlite'
          ? sql<{ name: string }>`select name from sqlite_master where type = 'index'`
          : sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = ${t.schema!}`;
      const have = (await q.execute(t.db)).rows.map((r) => r.name);
      for (const w of wanted) assert.ok(have.includes(w), `index ${w} missing`);
    });

    it('re-opening the same database runs no migration twice', async () => {
      const again = await openDatabase({ url: d.url, dataDir: t.dataDir, schema: t.schema });
      try {
        const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(again.db);
        assert.deepEqual(
          rows.rows.map((r) => r.name),
          MIGRATIONS,
        );
      } finally {
        await again.close();
      }
    });

    it('binary columns round-trip as Buffer (Buffer and plain Uint8Array in)', async () => {
      const a = newCase();
      const b = { ...newCase(), manifest_enc: new Uint8Array([9, 8, 7, 0]) };
      await t.db.insertInto('cases').values([a, b]).execute();
      const ra = await t.db.selectFrom('cases').select('manifest_enc').where('id', '=', a.id).executeTakeFirstOrThrow();
      const rb = await t.db.selectFrom('cases').select('manifest_enc').where('id', '=', b.id).executeTakeFirstOrThrow();
      assert.ok(Buffer.isBuffer(ra.manifest_enc));
      assert.deepEqual([...ra.manifest_enc], [0, 1, 2, 255]);
      assert.deepEqual([...rb.manifest_enc], [9, 8, 7, 0]);
    });

    it('generated ids and counts come back as numbers', async () => {
      const c = newCase();
      await t.db.insertInto('cases').values(c).execute();
      const ev = await t.db
        .insertInto('case_events')
        .values({ case_id: c.id, at: new Date().toISOString(), event: 'received', actor: 'system', data: '{}' })
        .returning('id')
        .executeTakeFirstOrThrow();
      assert.equal(typeof ev.id, 'number');
      const r = await t.db
        .selectFrom('cases')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(typeof r.n, 'number');
      if (d.name === 'postgres') {
        // the int8 parser is set on our pool only, not globally
        assert.equal(pg.types.getTypeParser(20, 'text')('5'), '5');
      }
    });

    it('unique (sender_party_id, package_id) holds under 10 concurrent transactions', async () => {
      const before = await count(t.db, 'cases');
      const packageId = `pkg-${randomUUID()}`;
      const results = await Promise.allSettled(Array.from({ length: 10 }, () => insertCaseAndPackage(t.db, 'sender-conc', packageId)));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 1, 'exactly one transaction wins');
      assert.equal(failed.length, 9);
      for (const f of failed) assert.ok(isUniqueViolation(f.reason), `expected a unique violation, got ${String(f.reason)}`);
      // the losers' cases were rolled back with them
      assert.equal(await count(t.db, 'cases'), before + 1);
      const pkgs = await t.db.selectFrom('packages').selectAll().where('package_id', '=', packageId).execute();
      assert.equal(pkgs.length, 1);
      // the same packageId from another sender is fine
      await insertCaseAndPackage(t.db, 'sender-other', packageId);
    });

    it('documents are unique per (case_id, part, package_row_id)', async () => {
      const pkgId = await insertCaseAndPackage(t.db, 'sender-docs', `pkg-${randomUUID()}`);
      const pkg = await t.db.selectFrom('packages').selectAll().where('id', '=', pkgId).executeTakeFirstOrThrow();
      const doc = {
        case_id: pkg.case_id,
        package_row_id: pkg.id,
        part: 'henvisning',
        type: 'referral',
        title: null,
        media_type: 'application/pdf',
        size: 5_000_000_000, // > 2^32: 64-bit column
        sha256: 'c'.repeat(64),
        blob_key: randomUUID(),
        created_at: new Date().toISOString(),
      };
      await t.db
        .insertInto('documents')
        .values({ ...doc, id: randomUUID() })
        .execute();
      const row = await t.db.selectFrom('documents').select('size').where('package_row_id', '=', pkg.id).executeTakeFirstOrThrow();
      assert.equal(row.size, 5_000_000_000);
      await assert.rejects(
        t.db
          .insertInto('documents')
          .values({ ...doc, id: randomUUID() })
          .execute(),
        (e) => isUniqueViolation(e),
      );
      // primary key violations count as unique violations too
      const c = newCase();
      await t.db.insertInto('cases').values(c).execute();
      await assert.rejects(t.db.insertInto('cases').values(c).execute(), (e) => isUniqueViolation(e));
    });

    it('foreign keys to cases are enforced, and are not unique violations', async () => {
      const err = await t.db
        .insertInto('case_events')
        .values({ case_id: 'no-such-case', at: new Date().toISOString(), event: 'x', actor: 'y', data: '{}' })
        .execute()
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err, 'insert with a dangling case_id must fail');
      assert.equal(isUniqueViolation(err), false);
    });

    it('isUniqueViolation recognises the codes and nothing else', () => {
      assert.equal(isUniqueViolation(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_UNIQUE' })), true);
      assert.equal(isUniqueViolation(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })), true);
      assert.equal(isUniqueViolation(Object.assign(new Error('x'), { code: '23505' })), true);
      assert.equal(isUniqueViolation(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: '23505' }) })), true);
      assert.equal(isUniqueViolation(Object.assign(new Error('x'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' })), false);
      assert.equal(isUniqueViolation(Object.assign(new Error('x'), { code: '23503' })), false);
      assert.equal(isUniqueViolation(new Error('UNIQUE constraint failed')), false);
      assert.equal(isUniqueViolation(null), false);
      assert.equal(isUniqueViolation('23505'), false);
    });

    it('concurrent read-modify-write transactions lose no update and a failing one does not disturb the others', async () => {
      const c = newCase();
      c.clock = JSON.stringify({ n: 0 });
      await t.db.insertInto('cases').values(c).execute();
      const bump = (fail: boolean) =>
        t.db.transaction().execute(async (trx) => {
          const row = await trx
            .selectFrom('cases')
            .select('clock')
            .where('id', '=', c.id)
            .$if(d.name === 'postgres', (qb) => qb.forUpdate())
            .executeTakeFirstOrThrow();
          await new Promise((r) => setImmediate(r)); // yield to the other transactions mid-transaction
          const n = (JSON.parse(row.clock) as { n: number }).n + 1;
          await trx
            .updateTable('cases')
            .set({ clock: JSON.stringify({ n }) })
            .where('id', '=', c.id)
            .execute();
          if (fail) throw new Error('boom');
        });
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => bump(i % 5 === 4)));
      assert.equal(results.filter((r) => r.status === 'rejected').length, 4);
      const row = await t.db.selectFrom('cases').select('clock').where('id', '=', c.id).executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(row.clock), { n: 16 });
    });

    if (d.name === 'sqlite') {
      it('sets the pragmas', async () => {
        const get = async (p: string) => Object.values((await sql.raw<Record<string, unknown>>(`pragma ${p}`).execute(t.db)).rows[0]!)[0];
        assert.equal(String(await get('journal_mode')).toLowerCase(), 'wal');
        assert.equal(Number(await get('synchronous')), 2); // FULL
        assert.equal(Number(await get('foreign_keys')), 1);
        // 0: a lock held elsewhere is waited for asynchronously (next test), never by sleeping the event loop
        assert.equal(Number(await get('busy_timeout')), 0);
      });

      it('a write lock held by another connection is waited for without blocking the event loop, and given up after the busy timeout', async () => {
        const other = new BetterSqlite3(join(t.dataDir, 'postkasse.db'));
        let ticks = 0;
        const ticker = setInterval(() => ticks++, 10);
        try {
          other.prepare('begin immediate').run();
          const c = newCase();
          const write = t.db.transaction().execute((trx) => trx.insertInto('cases').values(c).execute());
          let settled: string | undefined;
          void write.then(
            () => (settled = 'committed'),
            (e: unknown) => (settled = `failed: ${String(e)}`),
          );
          await stayFor('the write settling while another connection holds the lock', 300, { happened: () => settled });
          assert.ok(ticks >= 10, `the event loop ran while the transaction waited (${ticks} ticks)`);
          other.prepare('rollback').run();
          await write;
          assert.ok(await t.db.selectFrom('cases').select('id').where('id', '=', c.id).executeTakeFirst());

          // Held longer than the busy timeout: SQLITE_BUSY, as before, just without the frozen event loop.
          const short = await openDatabase({ dataDir: t.dataDir, busyTimeoutMs: 200 });
          try {
            other.prepare('begin immediate').run();
            const startedAt = Date.now();
            await assert.rejects(
              short.db.insertInto('cases').values(newCase()).execute(),
              (e: { code?: string }) => e.code === 'SQLITE_BUSY',
            );
            assert.ok(Date.now() - startedAt >= 200, 'waited for the busy timeout');
          } finally {
            if (other.inTransaction) other.prepare('rollback').run();
            await short.close();
          }
        } finally {
          clearInterval(ticker);
          other.close();
        }
      });

      it('a query prepared once is reused, busy statements are never shared, and the cache is bounded', () => {
        const sqlite = new BetterSqlite3(':memory:');
        let prepared = 0;
        const counting = new Proxy(sqlite, {
          get(target, prop) {
            if (prop === 'prepare') return (text: string) => (prepared++, target.prepare(text));
            const v = Reflect.get(target, prop, target) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
        const cache = cachingStatements(counting, 2);
        try {
          cache.prepare('create table t (n integer)').run();
          const insert = cache.prepare('insert into t (n) values (?)');
          for (let i = 0; i < 5; i++) assert.equal(cache.prepare('insert into t (n) values (?)'), insert);
          insert.run(1);
          insert.run(2);
          assert.equal(prepared, 2, 'create and insert each prepared once');
          // A statement being iterated is busy: a second use gets its own statement.
          const select = cache.prepare('select n from t order by n');
          const seen: number[] = [];
          for (const row of select.iterate() as Iterable<{ n: number }>) {
            const inner = cache.prepare('select n from t order by n');
            assert.notEqual(inner, select);
            seen.push(row.n, ...(inner.all() as { n: number }[]).map((r) => r.n));
          }
          assert.deepEqual(seen, [1, 1, 2, 2, 1, 2]);
          // Bounded: with room for two, the least recently used text is prepared again.
          const before = prepared;
          cache.prepare('select 1');
          cache.prepare('select 2');
          cache.prepare('insert into t (n) values (?)');
          assert.equal(prepared, before + 3);
        } finally {
          cache.close();
        }
        assert.equal(sqlite.open, false, 'close() closes the database');
      });

      it('transactions take the write lock at BEGIN (BEGIN IMMEDIATE): another connection cannot write meanwhile', async () => {
        const other = new BetterSqlite3(join(t.dataDir, 'postkasse.db'), { timeout: 0 });
        try {
          let otherErr: unknown;
          await t.db.transaction().execute(async (trx) => {
            await trx.selectFrom('cases').select('id').limit(1).execute(); // a read only; a deferred BEGIN would hold no write lock yet
            try {
              other.prepare('begin immediate').run();
              other.prepare('rollback').run();
            } catch (e) {
              otherErr = e;
            }
          });
          assert.ok(otherErr, 'second connection got the write lock while our transaction was open');
          assert.equal((otherErr as { code?: string }).code, 'SQLITE_BUSY');
          // and once we committed, it can
          other.prepare('begin immediate').run();
          other.prepare('rollback').run();
        } finally {
          other.close();
        }
      });
    }

    if (d.name === 'postgres') {
      it('migrates a fresh schema while another schema of the same database is mid-migration (Kysely tables looked up in our schema only)', async () => {
        const base = `t_mig_${Date.now().toString(36)}`;
        const names = Array.from({ length: 4 }, (_, i) => `${base}_${i}`);
        try {
          // Several fresh schemas at once: each must create its own kysely_migration(_lock).
          const opened = await Promise.all(names.map((schema) => openDatabase({ url: d.url, dataDir: t.dataDir, schema })));
          for (const o of opened) {
            const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(o.db);
            assert.deepEqual(
              rows.map((r) => r.name),
              MIGRATIONS,
            );
            await o.close();
          }
        } finally {
          for (const schema of names) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(t.db);
        }
      });

      it('rejects a schema name that is not a plain identifier', async () => {
        await assert.rejects(
          openDatabase({ url: d.url, dataDir: t.dataDir, schema: 'x; drop table y' }),
          /not a plain lower-case identifier/,
        );
        await assert.rejects(openDatabase({ url: d.url, dataDir: t.dataDir, schema: 'MixedCase' }), /not a plain lower-case identifier/);
      });
    }
  });
}

it('rejects a url that is not postgres://', async () => {
  await assert.rejects(openDatabase({ url: 'mysql://x', dataDir: '/nonexistent' }), /postgres:\/\//);
});
