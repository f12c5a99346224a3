/**
 * The database writer (src/storage/writer.ts): whole write transactions of
 * compiled statements and audit entries, on SQLite in a writer thread and on
 * PostgreSQL in an ordinary transaction. Both dialects, real databases.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import type { Database } from '../../src/storage/schema.js';
import pg from 'pg';
import { appendAudit, verifyAuditChain } from '../../src/audit/audit.js';
import { isUniqueViolation } from '../../src/storage/db.js';
import {
  createPostgresThreadWriter,
  createPostgresWriter,
  createSqliteThreadWriter,
  groupCommits,
  isAffectedRowsError,
  MAX_MERGED_PARAMETERS,
  mergeStatements,
  WriteOutcomeUnknown,
  type PgPool,
  type PreparedWriteOp,
  type WriteOp,
  type Writer,
} from '../../src/storage/writer.js';
import { DIALECTS, newCase, openTestDb } from './helpers.js';
import { stayFor } from '../helpers/wait.js';

// PostgreSQL twice: the writer on the event loop (the CLI), and in its writer thread (the gateway, issue 16)
const WRITERS = [
  ...DIALECTS.map((d) => ({ d, threaded: d.name === 'sqlite' })),
  ...DIALECTS.filter((d) => d.url).map((d) => ({ d, threaded: true })),
];

for (const { d, threaded } of WRITERS) {
  describe(`database writer (${d.name}${d.url && threaded ? ', writer thread' : ''})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'writer', undefined, d.url && threaded ? { pgWriterThread: true } : {});
    });
    after(async () => {
      await t?.dispose();
    });

    const audit = (action: string, caseId: string | null = null): WriteOp => ({
      audit: { at: new Date().toISOString(), actor: 'test', action, caseId, details: { note: 'cpr 010180-1234 is scrubbed' } },
    });

    it('commits statements and audit entries in order, in one transaction; blobs come back as bytes; the chain stays valid', async () => {
      const c = newCase();
      await t.writer.commit([{ query: t.db.insertInto('cases').values(c).compile() }, audit('one', c.id), audit('two', c.id)]);
      const row = await t.db.selectFrom('cases').select(['manifest_enc']).where('id', '=', c.id).executeTakeFirstOrThrow();
      assert.deepEqual(Buffer.from(row.manifest_enc), Buffer.from([0, 1, 2, 255]));
      const entries = await t.db.selectFrom('audit_log').select(['action', 'details']).where('case_id', '=', c.id).orderBy('seq').execute();
      assert.deepEqual(
        entries.map((e) => e.action),
        ['one', 'two'],
      );
      assert.doesNotMatch(entries[0]!.details, /010180/, 'CPR-like strings are scrubbed on this path too');
      assert.equal((await verifyAuditChain(t.db)).ok, true);
    });

    it('an update that must change one row and changes none fails the whole transaction: nothing is written', async () => {
      const c = newCase();
      const auditBefore = (await t.db.selectFrom('audit_log').select('seq').execute()).length;
      await assert.rejects(
        t.writer.commit([
          { query: t.db.insertInto('cases').values(c).compile() },
          { query: t.db.updateTable('cases').set({ state: 'closed' }).where('id', '=', randomUUID()).compile(), expectAffected: 1 },
          audit('never'),
        ]),
        (err: { code?: string }) => err.code === 'POSTKASSE_AFFECTED_ROWS',
      );
      assert.equal(await t.db.selectFrom('cases').select('id').where('id', '=', c.id).executeTakeFirst(), undefined);
      assert.equal((await t.db.selectFrom('audit_log').select('seq').execute()).length, auditBefore);
    });

    it('a unique violation is reported as one (idempotent intake relies on it) and rolls everything back', async () => {
      const c = newCase();
      await t.writer.commit([{ query: t.db.insertInto('cases').values(c).compile() }]);
      const other = newCase();
      const err = await t.writer
        .commit([{ query: t.db.insertInto('cases').values(other).compile() }, { query: t.db.insertInto('cases').values(c).compile() }])
        .then(
          () => null,
          (e: unknown) => e,
        );
      assert.ok(isUniqueViolation(err), String(err));
      assert.equal(await t.db.selectFrom('cases').select('id').where('id', '=', other.id).executeTakeFirst(), undefined);
    });

    it("a receipt's statements, each referring to rows the ones before it insert, land together (the inserts one statement on PostgreSQL)", async () => {
      const c = newCase();
      const pkg = {
        id: randomUUID(),
        sender_party_id: 'sender-1',
        package_id: `p-${randomUUID()}`,
        case_id: c.id,
        content_sha256: 'a'.repeat(64),
        manifest_sha256: 'b'.repeat(64),
        is_supplement: 0,
        received_at: new Date().toISOString(),
      };
      const doc = (part: string) => ({
        id: randomUUID(),
        case_id: c.id,
        package_row_id: pkg.id,
        part,
        type: 'plan',
        title: null,
        media_type: 'application/pdf',
        size: 4,
        sha256: 'c'.repeat(64),
        blob_key: randomUUID(),
        created_at: pkg.received_at,
      });
      const ops: WriteOp[] = [
        { query: t.db.insertInto('cases').values(c).compile() },
        { query: t.db.insertInto('packages').values(pkg).compile() },
        {
          query: t.db
            .insertInto('documents')
            .values([doc('a'), doc('b')])
            .compile(),
        },
        { query: t.db.updateTable('cases').set({ state: 'assigned' }).where('id', '=', c.id).compile(), expectAffected: 1 },
        audit('received', c.id),
      ];
      if (d.url && !threaded) {
        // the three inserts as one statement, the parameters renumbered after those of the statements before them
        const inserts = ops.slice(0, 3).map((op) => ('query' in op ? op.query : assert.fail()));
        const merged = mergeStatements(inserts);
        const params = inserts.reduce((n, q) => n + q.parameters.length, 0);
        assert.equal(merged.parameters.length, params);
        assert.match(merged.sql, new RegExp(`\\$${params}\\b`));
        assert.equal(merged.sql.match(/ as \(insert /g)?.length, 3);
        // and the writer sends them so: `begin` with the audit lock and the last link, one statement for the inserts and
        // the audit entry, one for the update, `commit`: four round trips (six before: begin, inserts, lock, last link,
        // audit insert, commit)
        const sent: string[] = [];
        const pool = new pg.Pool({ connectionString: d.url, max: 1, options: `-c search_path=${t.schema}` });
        const counting: PgPool = {
          async connect() {
            const client = await pool.connect();
            return {
              query: (text: string, values?: unknown[]) => (sent.push(text), client.query(text, values)),
              release: (err?: Error | boolean) => client.release(err),
            };
          },
        };
        const c2 = newCase();
        try {
          await createPostgresWriter(counting, t.db, t.auditKey).commit([
            { query: t.db.insertInto('cases').values(c2).compile() },
            {
              query: t.db
                .insertInto('packages')
                .values({ ...pkg, id: randomUUID(), package_id: `p-${randomUUID()}`, case_id: c2.id })
                .compile(),
            },
            audit('received', c2.id),
            { query: t.db.updateTable('cases').set({ state: 'assigned' }).where('id', '=', c2.id).compile(), expectAffected: 1 },
          ]);
          // one statement and no audit entry: sent alone, a transaction of its own; its row count still checked
          const lone = createPostgresWriter(counting, t.db, t.auditKey);
          await lone.commit([
            { query: t.db.updateTable('cases').set({ state: 'closed' }).where('id', '=', c2.id).compile(), expectAffected: 1 },
          ]);
          const missing = lone.commit([
            { query: t.db.updateTable('cases').set({ state: 'closed' }).where('id', '=', randomUUID()).compile(), expectAffected: 1 },
          ]);
          await assert.rejects(missing, (e) => isAffectedRowsError(e));
        } finally {
          await pool.end();
        }
        assert.equal(sent.length, 6, sent.join('\n'));
        assert.deepEqual(
          sent.slice(4).map((q) => q.slice(0, 13)),
          ['update "cases', 'update "cases'],
          'the lone statements: no begin, no commit',
        );
        assert.match(sent[0]!, /^begin; select pg_advisory_xact_lock\(\d+\); select "seq", "hash" from "audit_log"/);
        assert.equal(
          sent[1]!.match(/ as \(insert into "(cases|packages|audit_log)"/g)?.length,
          3,
          'the inserts and the audit entry merged',
        );
        assert.match(sent[2]!, /^update "cases"/);
        assert.equal(sent[3], 'commit');
        assert.equal((await verifyAuditChain(t.db)).ok, true);
      }
      await t.writer.commit(ops);
      const docs = await t.db.selectFrom('documents').select('part').where('package_row_id', '=', pkg.id).orderBy('part').execute();
      assert.deepEqual(
        docs.map((x) => x.part),
        ['a', 'b'],
      );
      const row = await t.db.selectFrom('cases').select('state').where('id', '=', c.id).executeTakeFirstOrThrow();
      assert.equal(row.state, 'assigned', 'the update ran after the insert it changes');
      assert.equal((await verifyAuditChain(t.db)).ok, true);
    });

    if (d.url) {
      it(`runs its transactions on ${threaded ? "the writer thread's own connections ('postkasse writer')" : "the handle's pool ('postkasse')"}`, async () => {
        const c = newCase();
        await t.writer.commit([
          {
            query: t.db
              .insertInto('cases')
              .values({ ...c, citizen_ref: sql<string>`current_setting('application_name')` })
              .compile(),
          },
        ]);
        const row = await t.db.selectFrom('cases').select('citizen_ref').where('id', '=', c.id).executeTakeFirstOrThrow();
        assert.equal(row.citizen_ref, threaded ? 'postkasse writer' : 'postkasse');
      });
    }

    if (d.url) {
      it('inserts of more parameters than one statement may carry (65 535) are merged into several statements', async () => {
        const perStatement = Math.ceil(12_000 / Object.keys(newCase()).length);
        const statements = Array.from({ length: 6 }, () => Array.from({ length: perStatement }, () => newCase()));
        const ops: WriteOp[] = statements.map((cases) => ({ query: t.db.insertInto('cases').values(cases).compile() }));
        const parameters = ops.reduce((n, op) => n + ('query' in op ? op.query.parameters.length : 0), 0);
        assert.ok(parameters > 65_535 && parameters > MAX_MERGED_PARAMETERS * 2, `${parameters} parameters`);
        await t.writer.commit([...ops, audit('many')]);
        const ids = statements.flat().map((c) => c.id);
        const { n } = await t.db
          .selectFrom('cases')
          .select((e) => e.fn.countAll<number>().as('n'))
          .where('id', 'in', ids)
          .executeTakeFirstOrThrow();
        assert.equal(Number(n), ids.length);
      });
    }

    it('commits run in order under concurrency, and the audit chain has no fork, also among the other features’ entries', async () => {
      const target = { dialect: d.name, auditKey: t.auditKey };
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => t.writer.commit([audit(`concurrent-${i}`), audit(`concurrent-${i}-b`)])),
        // routing, retention, … append through Kysely (appendAudit) at the same time, under the same lock
        ...Array.from({ length: 10 }, (_, i) =>
          t.db
            .transaction()
            .execute((trx) => appendAudit(trx, target, { at: new Date().toISOString(), actor: 'test', action: `other-${i}` })),
        ),
      ]);
      const v = await verifyAuditChain(t.db);
      assert.equal(v.ok, true, JSON.stringify(v));
      const actions = await t.db.selectFrom('audit_log').select('action').where('action', 'like', 'concurrent-%').orderBy('seq').execute();
      for (let i = 0; i < 20; i++) {
        const at = actions.findIndex((a) => a.action === `concurrent-${i}`);
        assert.equal(actions[at + 1]?.action, `concurrent-${i}-b`, 'one commit’s entries are consecutive');
      }
    });
  });
}

describe('SQLite writer thread', () => {
  let t: Awaited<ReturnType<typeof openTestDb>>;
  before(async () => {
    t = await openTestDb({ name: 'sqlite' }, 'writer-thread');
  });
  after(async () => {
    await t?.dispose();
  });

  it('waits for a write lock held elsewhere in its own thread: the event loop keeps running, the commit lands when the lock is freed', async () => {
    const other = new BetterSqlite3(join(t.dataDir, 'postkasse.db'));
    other.prepare('begin immediate').run();
    const c = newCase();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const committed = t.writer.commit([{ query: t.db.insertInto('cases').values(c).compile() }]);
      const landed = () => t.db.selectFrom('cases').select('id').where('id', '=', c.id).executeTakeFirst();
      await stayFor('the commit landing while the lock is held elsewhere', 300, { happened: landed });
      assert.equal(await landed(), undefined, 'not before the lock is freed');
      assert.ok(ticks >= 10, `the event loop ran while the writer waited (${ticks} ticks of 10 ms in 300 ms)`);
      other.prepare('rollback').run();
      await committed;
      assert.ok(await t.db.selectFrom('cases').select('id').where('id', '=', c.id).executeTakeFirst());
    } finally {
      clearInterval(ticker);
      if (other.inTransaction) other.prepare('rollback').run();
      other.close();
    }
  });
});

// What both writer threads share: a lost thread, and close().
for (const d of DIALECTS) {
  describe(`the ${d.name === 'sqlite' ? 'SQLite' : 'PostgreSQL'} writer thread, lost and closed`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'writer_lost');
    });
    after(async () => {
      await t?.dispose();
    });
    const threadWriter = (spawn?: (real: () => Worker) => Worker): Writer =>
      d.url
        ? createPostgresThreadWriter(
            { url: d.url, schema: t.schema!, max: 1, applicationName: 'postkasse writer' },
            undefined,
            spawn ? { spawn } : {},
          )
        : createSqliteThreadWriter(join(t.dataDir, 'postkasse.db'), undefined, spawn ? { spawn } : {});

    it('a thread lost mid-commit fails that commit as "outcome unknown", and the next commit starts a new thread', async () => {
      let spawned = 0;
      // The first thread answers ready and dies on its first request; later ones are real.
      const dying = `const { parentPort } = require('node:worker_threads');
        parentPort.postMessage({ ready: true });
        parentPort.on('message', () => process.exit(3));`;
      const writer = threadWriter((real) => (spawned++ === 0 ? new Worker(dying, { eval: true }) : real()));
      try {
        const c = newCase();
        await assert.rejects(writer.commit([{ query: t.db.insertInto('cases').values(c).compile() }]), WriteOutcomeUnknown);
        await writer.commit([{ query: t.db.insertInto('cases').values(c).compile() }]);
        assert.equal(spawned, 2);
        assert.ok(await t.db.selectFrom('cases').select('id').where('id', '=', c.id).executeTakeFirst());
      } finally {
        await writer.close();
      }
    });

    it('an outcome the thread could not learn (PostgreSQL lost while committing) arrives as "outcome unknown"', async () => {
      const unsure = `const { parentPort } = require('node:worker_threads');
        parentPort.postMessage({ ready: true });
        parentPort.on('message', (m) => m.close ? parentPort.close()
          : parentPort.postMessage({ id: m.id, ok: false, message: 'PostgreSQL did not answer the commit', code: 'POSTKASSE_WRITE_OUTCOME_UNKNOWN' }));`;
      const writer = threadWriter(() => new Worker(unsure, { eval: true }));
      try {
        await assert.rejects(writer.commit([{ query: t.db.insertInto('cases').values(newCase()).compile() }]), WriteOutcomeUnknown);
      } finally {
        await writer.close();
      }
    });

    it('close() lets the commits already handed over finish first', async () => {
      const writer = threadWriter();
      const ids = Array.from({ length: 5 }, () => randomUUID());
      const commits = ids.map((id) => writer.commit([{ query: t.db.insertInto('cases').values(newCase(id)).compile() }]));
      await Promise.all([...commits, writer.close()]);
      const found = await t.db.selectFrom('cases').select('id').where('id', 'in', ids).execute();
      assert.equal(found.length, 5);
      await assert.rejects(writer.commit([]), /closed/);
    });
  });
}

describe('PostgreSQL: a connection lost while committing (issue 16)', () => {
  /** a pool whose connection answers every statement but fails as `failOn` is sent */
  const pool = (failOn: RegExp): PgPool => ({
    async connect() {
      return {
        query: async (text: string) => {
          if (failOn.test(text)) throw new Error('Connection terminated unexpectedly');
          return { rows: [{ n0: 1, n1: 1 }], rowCount: 1 }; // a merged insert's counts
        },
        release() {},
      };
    },
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: {} as never }) });
  const c = newCase();
  after(() => db.destroy());

  it('lost once the commit was sent: the outcome is unknown (intake keeps the documents and asks for a retry)', async () => {
    const writer = createPostgresWriter(pool(/^commit$/), db, undefined);
    await assert.rejects(
      writer.commit([{ query: db.insertInto('cases').values(c).compile() }, { query: db.insertInto('cases').values(newCase()).compile() }]),
      WriteOutcomeUnknown,
    );
  });

  it('a lone statement, its own transaction, lost in flight: the outcome is unknown', async () => {
    await assert.rejects(
      createPostgresWriter(pool(/^insert/), db, undefined).commit([{ query: db.insertInto('cases').values(c).compile() }]),
      WriteOutcomeUnknown,
    );
  });

  it('lost before the commit was sent: nothing committed, the error as it is', async () => {
    const writer = createPostgresWriter(pool(/^with /), db, undefined);
    const err = await writer
      .commit([{ query: db.insertInto('cases').values(c).compile() }, { query: db.insertInto('cases').values(newCase()).compile() }])
      .catch((e: unknown) => e);
    assert.ok(err instanceof Error && !(err instanceof WriteOutcomeUnknown), String(err));
  });
});

describe('group commit (the PostgreSQL writer thread, issue 16)', () => {
  /** a stand-in transaction runner: records each transaction's ops, and settles it when told to */
  function fakeRun() {
    const runs: Array<{ ops: readonly PreparedWriteOp[]; settle(err?: unknown): void }> = [];
    const run = (ops: readonly PreparedWriteOp[]) =>
      new Promise<void>((resolve, reject) => runs.push({ ops, settle: (err) => (err ? reject(err) : resolve()) }));
    return { runs, run };
  }
  const op = (n: number): PreparedWriteOp => ({ query: CompiledQuery.raw(`insert into t values (${n})`, []) });
  const sqlOf = (ops: readonly PreparedWriteOp[]) => ops.map((o) => ('query' in o ? o.query.sql.slice(-3) : 'audit'));
  const settled = (p: Promise<void>) =>
    p.then(
      () => 'ok',
      (e: { code?: string }) => e.code ?? 'failed',
    );
  const turn = () => new Promise((r) => setImmediate(r));

  it('the commits that arrive while a transaction runs go together in the next one, at most maxGroup of them', async () => {
    const f = fakeRun();
    const g = groupCommits(f.run, 3);
    const first = g.commit([op(1)]);
    const rest = [2, 3, 4, 5].map((n) => settled(g.commit([op(n), op(n * 10)])));
    assert.equal(f.runs.length, 1, 'the first runs at once, alone');
    f.runs[0]!.settle();
    await first;
    await turn();
    assert.deepEqual(sqlOf(f.runs[1]!.ops), ['(2)', '20)', '(3)', '30)', '(4)', '40)'], 'the next three as one transaction, in order');
    f.runs[1]!.settle();
    await turn();
    assert.deepEqual(sqlOf(f.runs[2]!.ops), ['(5)', '50)']);
    f.runs[2]!.settle();
    assert.deepEqual(await Promise.all(rest), ['ok', 'ok', 'ok', 'ok']);
    assert.equal(f.runs.length, 3);
  });

  it('a group rolled back by one commit’s statement is run again commit by commit: only that commit fails (a duplicate packageId)', async () => {
    const f = fakeRun();
    const g = groupCommits(f.run);
    const first = g.commit([op(1)]);
    const group = [2, 3, 4].map((n) => settled(g.commit([op(n)])));
    f.runs[0]!.settle();
    await first;
    await turn();
    f.runs[1]!.settle(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }));
    for (const [i, err] of [undefined, { code: '23505' }, undefined].entries()) {
      await turn();
      assert.deepEqual(sqlOf(f.runs[2 + i]!.ops), [`(${i + 2})`]);
      f.runs[2 + i]!.settle(err && Object.assign(new Error('duplicate'), err));
    }
    assert.deepEqual(await Promise.all(group), ['ok', '23505', 'ok']);
  });

  it('a group whose outcome is unknown (the connection lost) is not run again: each of its commits fails with that error', async () => {
    const f = fakeRun();
    const g = groupCommits(f.run);
    const first = g.commit([op(1)]);
    const group = [2, 3].map((n) => settled(g.commit([op(n)])));
    f.runs[0]!.settle();
    await first;
    await turn();
    f.runs[1]!.settle(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }));
    assert.deepEqual(await Promise.all(group), ['ECONNRESET', 'ECONNRESET']);
    assert.equal(f.runs.length, 2, 'nothing run twice');
  });

  it('through the real thread: concurrent commits share transactions, each lands, and one at fault fails alone', async () => {
    const t = await openTestDb(
      DIALECTS.find((d) => d.url)!,
      'writer_group',
      undefined,
      { pgWriterThread: true },
    );
    try {
      const commitAll = (cases: ReturnType<typeof newCase>[], faulty?: number) =>
        Promise.all(
          cases.map((c, i) =>
            settled(
              t.writer.commit([
                // the transaction's id, recorded in the row
                {
                  query: t.db
                    .insertInto('cases')
                    .values({ ...c, citizen_ref: sql<string>`pg_current_xact_id()::text` })
                    .compile(),
                },
                { audit: { at: new Date().toISOString(), actor: 'test', action: 'grouped', caseId: c.id } },
                // a commit at fault also inserts a case that exists
                ...(i === faulty ? [{ query: t.db.insertInto('cases').values(cases[0]!).compile() }] : []),
              ]),
            ),
          ),
        );
      const landed = (cases: ReturnType<typeof newCase>[]) =>
        t.db
          .selectFrom('cases')
          .select(['id', 'citizen_ref'])
          .where(
            'id',
            'in',
            cases.map((c) => c.id),
          )
          .execute();

      const cases = Array.from({ length: 20 }, () => newCase());
      assert.deepEqual(await commitAll(cases), Array(20).fill('ok'));
      const rows = await landed(cases);
      assert.equal(rows.length, 20);
      const transactions = new Set(rows.map((r) => r.citizen_ref)).size;
      assert.ok(transactions < 20, `20 concurrent commits in ${transactions} transactions`);

      const more = Array.from({ length: 6 }, () => newCase());
      assert.deepEqual(await commitAll(more, 4), ['ok', 'ok', 'ok', 'ok', '23505', 'ok']);
      assert.deepEqual(
        (await landed(more)).map((r) => r.id).sort(),
        more
          .filter((_, i) => i !== 4)
          .map((c) => c.id)
          .sort(),
        'all but the commit at fault landed',
      );
      assert.equal((await verifyAuditChain(t.db)).ok, true);
    } finally {
      await t.dispose();
    }
  });
});
