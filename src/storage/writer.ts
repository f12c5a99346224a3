/**
 * A write transaction handed over whole: a list of compiled statements and
 * audit entries, run in order in one transaction, durable when `commit()`
 * resolves and not written at all when it rejects.
 *
 * Intake commits through it (issue 6): on SQLite the transaction runs in a
 * worker thread with its own connection (src/storage/sqlite-writer.ts), so
 * the fsync of every receipt's commit — ~2 ms while uploads keep the disk
 * busy — no longer stops the gateway's event loop. On PostgreSQL the same list
 * runs in an ordinary transaction, in as few round trips as its statements
 * allow (createPostgresTransactions); the gateway runs it in a writer thread
 * of its own too (src/storage/pg-writer.ts, issue 16), because each round
 * trip's socket write and reply cost its event loop more than the commit's
 * wait; the CLI runs it on the event loop (createPostgresWriter).
 */
import type { Worker } from 'node:worker_threads';
import { CompiledQuery, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { AUDIT_LOCK_KEY, prepareAudit, requireAuditKey, type AuditEntry, type PreparedAuditEntry } from '../audit/audit.js';
import { chainedAuditRow, LAST_AUDIT_SQL } from '../audit/chain.js';
import { createInsertCompiler } from './inserts.js';
import type { AuditKey } from '../audit/key.js';
import { closeModuleThread, spawnModuleThread } from '../shared/threads.js';
import type { Database } from './schema.js';
import type { PgPoolSettings } from './pg-pool.js';

export type WriteOp =
  | {
      query: CompiledQuery;
      /** the statement must change exactly this many rows, or the whole transaction fails */ expectAffected?: number;
    }
  | { audit: AuditEntry };

export interface Writer {
  /** Runs `ops` in order in one write transaction; resolves once it is committed durably. Rejects with nothing written, except with a `WriteOutcomeUnknown`. */
  commit(ops: readonly WriteOp[]): Promise<void>;
  /** Gets ready for the first commit (starts the writer thread), so that commit does not wait for it. */
  start(): Promise<void>;
  /** Waits for commits in flight, then stops. Idempotent. */
  close(): Promise<void>;
}

const OUTCOME_UNKNOWN = 'POSTKASSE_WRITE_OUTCOME_UNKNOWN';

/**
 * The writer thread ended while a commit was in flight, or PostgreSQL's
 * connection was lost once the commit was sent: the transaction may or may
 * not have committed. Keep what it refers to (the blob sweep removes
 * what no row references) and let the sender retry: idempotency answers.
 */
export class WriteOutcomeUnknown extends Error {
  readonly code = OUTCOME_UNKNOWN;
}

type QueryOp = Extract<WriteOp, { query: CompiledQuery }>;

/** A commit refused because a statement with `expectAffected` changed another number of rows (nothing was written). */
export const isAffectedRowsError = (e: unknown): boolean => (e as { code?: unknown } | null)?.code === 'POSTKASSE_AFFECTED_ROWS';

const affectedRowsError = (op: QueryOp, changed: number) =>
  Object.assign(new Error(`expected ${op.expectAffected} affected row(s), got ${changed}: ${op.query.sql.slice(0, 80)}`), {
    code: 'POSTKASSE_AFFECTED_ROWS',
  });

/**
 * A plain INSERT whose text holds nothing but identifiers and $n parameters (no literal, no RETURNING, no ON
 * CONFLICT). Only inserts are merged: an UPDATE or DELETE must see the rows inserted before it, and the statements
 * of one merged statement all see the same snapshot; so does an ON CONFLICT clause.
 */
const mergeable = (q: CompiledQuery) => /^insert into /i.test(q.sql) && !/'|\b(returning|with|on conflict|select)\b/i.test(q.sql);

/**
 * PostgreSQL: consecutive plain inserts as one statement, each a data-modifying CTE (`with q0 as (insert …
 * returning 1), q1 as (…) select count(*) of each`), so a receipt's eight inserts cost one round trip instead of
 * eight. Each statement's parameters are renumbered after those before it. Foreign keys between them hold: they are
 * checked at the end of the statement.
 */
export function mergeStatements(queries: readonly CompiledQuery[]): CompiledQuery {
  const params: unknown[] = [];
  const ctes = queries.map((q, i) => {
    const offset = params.length;
    params.push(...q.parameters);
    return `q${i} as (${q.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)} returning 1)`;
  });
  const counts = queries.map((_, i) => `(select count(*) from q${i}) as n${i}`);
  return CompiledQuery.raw(`with ${ctes.join(', ')} select ${counts.join(', ')}`, params);
}

/** Parameters of one merged statement at most: well below the protocol's 65 535, whatever a group of commits holds. */
export const MAX_MERGED_PARAMETERS = 30_000;

/** What the PostgreSQL writer needs of node-postgres: a pool's connect, a client's query and release. */
export interface PgPool {
  connect(): Promise<PgClient>;
}
export interface PgClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
  release(err?: Error | boolean): void;
}
interface PgResult {
  rows: Record<string, unknown>[];
  rowCount: number | null;
}

/**
 * PostgreSQL: the transaction on one pooled connection, in as few round trips as the statements allow. A round
 * trip costs the event loop a socket write and a reply to parse (the largest part of a PostgreSQL receipt's cost
 * on the event loop, measured), so a receipt's transaction takes three instead of six:
 * 1. `begin`, the audit chain's lock, and the chain's last link, as one simple-protocol query of three statements.
 *    The last link is read by a statement of its own, after the lock is granted, so (under READ COMMITTED, a
 *    snapshot per statement) it sees what the lock's previous holder committed: the chain cannot fork;
 * 2. the statements, consecutive plain inserts merged into one (`mergeStatements`), the audit entries among them
 *    as inserts whose link and mac are computed here;
 * 3. `commit`.
 * A commit of one statement and no audit entry is sent alone, as its own transaction: one round trip.
 */
export function createPostgresWriter(pool: PgPool, db: Kysely<Database>, auditKey: AuditKey | undefined): Writer {
  const run = createPostgresTransactions(pool, db, auditKey);
  return {
    async commit(ops) {
      // checked before anything is sent: a malformed entry writes nothing
      return run(ops.map((op) => ('audit' in op ? { prepared: prepareAudit(op.audit) } : op)));
    },
    async start() {},
    async close() {},
  };
}

/** A write op with its audit entry checked and serialised (prepareAudit): what the PostgreSQL transaction runs. */
export type PreparedWriteOp = QueryOp | { prepared: PreparedAuditEntry };

/**
 * The PostgreSQL transaction of createPostgresWriter, for ops already prepared: the gateway's own writer runs it on
 * its event loop (tests, the CLI), the PostgreSQL writer thread (src/storage/pg-writer.ts) on its own pool.
 */
export function createPostgresTransactions(
  pool: PgPool,
  db: Kysely<Database>,
  auditKey: AuditKey | undefined,
): (ops: readonly PreparedWriteOp[]) => Promise<void> {
  const insert = createInsertCompiler(db);
  const send = (client: PgClient, q: CompiledQuery) => client.query(q.sql, [...q.parameters]) as Promise<PgResult>;
  return async (ops) => {
    // checked before anything is sent: no key, and an audit entry, writes nothing
    const entries = ops.flatMap((op) => ('prepared' in op ? [op.prepared] : []));
    const key = entries.length > 0 ? requireAuditKey(auditKey) : undefined;
    const only = ops.length === 1 && !key ? (ops[0] as QueryOp) : undefined;
    const client = await pool.connect();
    if (only) {
      // one statement is a transaction of its own: one round trip, no begin and commit around it
      let r: PgResult;
      try {
        r = await send(client, only.query);
      } catch (err) {
        client.release(err as Error); // the connection may be broken: not given to anyone else
        throw committing(err);
      }
      client.release();
      checkAffected(only, r.rowCount ?? 0);
      return;
    }
    let unusable: Error | undefined;
    try {
      let prev: string | undefined;
      if (key) {
        const results = (await client.query(`begin; select pg_advisory_xact_lock(${AUDIT_LOCK_KEY}); ${LAST_AUDIT_SQL}`)) as PgResult[];
        prev = results[2]?.rows[0]?.hash as string | undefined;
      } else {
        await client.query('begin');
      }
      let batch: QueryOp[] = [];
      const flush = async () => {
        if (batch.length === 1) {
          const r = await send(client, batch[0]!.query);
          checkAffected(batch[0]!, r.rowCount ?? 0);
        } else if (batch.length > 1) {
          const counts = (await send(client, mergeStatements(batch.map((op) => op.query)))).rows[0]!;
          batch.forEach((op, i) => checkAffected(op, Number(counts[`n${i}`])));
        }
        batch = [];
      };
      let next = 0;
      for (const op of ops) {
        let q: QueryOp;
        if ('prepared' in op) {
          const row = chainedAuditRow(prev, entries[next++]!, key!.key);
          prev = row.hash;
          q = { query: insert('audit_log', [row]) };
        } else q = op;
        if (mergeable(q.query)) {
          // a statement carries at most 65 535 parameters (the wire protocol counts them in 16 bits)
          if (batch.reduce((n, b) => n + b.query.parameters.length, q.query.parameters.length) > MAX_MERGED_PARAMETERS) await flush();
          batch.push(q);
        } else {
          await flush();
          batch = [q];
          await flush();
        }
      }
      await flush();
      await client.query('commit').catch((err: unknown) => {
        throw committing(err);
      });
    } catch (err) {
      await client.query('rollback').catch((e: Error) => (unusable = e));
      throw err;
    } finally {
      // a connection that could not even roll back is not given to anyone else
      client.release(unusable);
    }
  };
}

/**
 * Group commit (the PostgreSQL writer thread, issue 16): one transaction at a time, and the commits that arrive while
 * it runs go together in the next one, at most `maxGroup` of them. A receipt's transaction holds the audit chain's
 * lock until its commit is durable, so receipts queue for that lock one WAL flush after another; grouped, a group
 * takes the lock, reads the chain's last link and waits for the WAL flush once. Each commit stays all-or-nothing on
 * its own: a group that a statement's error rolled back (a duplicate packageId, a row-count check) is run again one
 * commit at a time, so only the commit at fault fails. A group whose outcome is unknown (the connection was lost,
 * perhaps after its commit was sent) is not run again: each of its commits fails with that error.
 */
export function groupCommits(
  run: (ops: readonly PreparedWriteOp[]) => Promise<void>,
  maxGroup = 32,
): { commit(ops: readonly PreparedWriteOp[]): Promise<void> } {
  interface Queued {
    ops: readonly PreparedWriteOp[];
    resolve(): void;
    reject(err: unknown): void;
  }
  const queue: Queued[] = [];
  let draining: Promise<void> | undefined;
  async function runGroup(group: Queued[]): Promise<void> {
    if (group.length > 1) {
      try {
        await run(group.flatMap((q) => q.ops));
        for (const q of group) q.resolve();
        return;
      } catch (err) {
        if (!rolledBack(err)) {
          for (const q of group) q.reject(err);
          return;
        }
      }
    }
    for (const q of group) await run(q.ops).then(q.resolve, q.reject);
  }
  async function drain(): Promise<void> {
    while (queue.length > 0) await runGroup(queue.splice(0, maxGroup));
    draining = undefined;
  }
  return {
    commit(ops) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ ops, resolve, reject });
        draining ??= drain();
      });
    },
  };
}

/**
 * Nothing of the transaction committed: a row-count check failed, or PostgreSQL refused a statement (an SQLSTATE
 * outside the classes of a lost connection or a failing server: 08, 53, 57, 58, XX), after which it rolls back.
 */
function rolledBack(err: unknown): boolean {
  if (isAffectedRowsError(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|53|57|58|XX)/.test(code);
}

/**
 * An error while PostgreSQL was committing: refused by a statement, nothing committed; any other (the connection lost
 * after the commit was sent) leaves the outcome unknown, and the caller must keep what the commit refers to.
 */
function committing(err: unknown): unknown {
  if (rolledBack(err) || err instanceof WriteOutcomeUnknown) return err;
  return new WriteOutcomeUnknown(`PostgreSQL did not answer the commit: ${String((err as Error | null)?.message ?? err)}`, { cause: err });
}

function checkAffected(op: QueryOp, changed: number): void {
  if (op.expectAffected !== undefined && changed !== op.expectAffected) throw affectedRowsError(op, changed);
}

// ------------------------------------------------------------ the thread

/** What the gateway posts to the writer thread. */
export interface WriterRequest {
  id: number;
  ops: Array<{ sql: string; params: readonly unknown[]; expectAffected?: number } | { audit: PreparedAuditEntry }>;
}

/** What the writer thread posts back. */
export type WriterReply = { id: number; ok: true } | { id: number; ok: false; message: string; code?: string };

/** What the SQLite writer thread starts with: the database file, and the audit key it links audit entries with. */
export interface WriterThreadData {
  file: string;
  auditKey: Buffer | null;
}

/** What the PostgreSQL writer thread starts with: its pool's settings, and the audit key it links audit entries with. */
export interface PgWriterThreadData {
  pool: PgPoolSettings;
  auditKey: Buffer | null;
}

interface ThreadWriterOptions {
  /** tests: stand in for the thread (e.g. one that dies); `real` starts the real one */
  spawn?: (real: () => Worker) => Worker;
  /** the audit key the thread links audit entries with (issue 15); without it an audit entry fails its commit */
  auditKey?: AuditKey;
}

/**
 * The SQLite writer thread (src/storage/sqlite-writer.ts), started on the first commit (a CLI that only reads never
 * starts it). It keeps the process alive only while a commit is in flight. If it dies, commits in flight fail with
 * `WriteOutcomeUnknown` and the next commit starts a new thread.
 */
export function createSqliteThreadWriter(file: string, log?: Logger, opts: ThreadWriterOptions = {}): Writer {
  const workerData: WriterThreadData = { file, auditKey: opts.auditKey?.key ?? null };
  return createThreadWriter('SQLite writer thread', () => spawnModuleThread('storage/sqlite-writer', workerData), log, opts.spawn);
}

/**
 * The PostgreSQL writer thread (src/storage/pg-writer.ts, issue 16): the same transactions as createPostgresWriter,
 * on the thread's own connection, one at a time, those that arrive meanwhile grouped (groupCommits). A receipt's
 * transaction is three round trips; on the event loop their socket writes, the database server's wake-ups and the
 * replies' parsing were a quarter of PostgreSQL intake's cost (measured, README). Started, kept and restarted as the
 * SQLite writer thread is.
 */
export function createPostgresThreadWriter(pool: PgPoolSettings, log?: Logger, opts: ThreadWriterOptions = {}): Writer {
  const workerData: PgWriterThreadData = { pool, auditKey: opts.auditKey?.key ?? null };
  return createThreadWriter('PostgreSQL writer thread', () => spawnModuleThread('storage/pg-writer', workerData), log, opts.spawn);
}

/**
 * A writer whose transactions run in a worker thread that answers `{ ready: true }` once started, then one
 * WriterReply per WriterRequest, and ends on `{ close: true }` after the requests posted before it.
 */
function createThreadWriter(what: string, spawnReal: () => Worker, log: Logger | undefined, spawn: ThreadWriterOptions['spawn']): Writer {
  type Pending = { resolve: () => void; reject: (e: Error) => void };
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let thread: Promise<Worker> | undefined;
  let closed: Promise<void> | undefined;

  function start(): Promise<Worker> {
    const w = spawn ? spawn(spawnReal) : spawnReal();
    let ready = false;
    const started = new Promise<Worker>((resolve, reject) => {
      w.on('message', (m: WriterReply | { ready: true }) => {
        if ('ready' in m) {
          ready = true;
          if (pending.size === 0) w.unref();
          resolve(w);
          return;
        }
        const p = pending.get(m.id);
        if (!p) return;
        pending.delete(m.id);
        if (pending.size === 0 && !closed) w.unref();
        if (m.ok) p.resolve();
        else if (m.code === OUTCOME_UNKNOWN) p.reject(new WriteOutcomeUnknown(m.message));
        else p.reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
      });
      w.on('error', (err) => {
        log?.error({ err }, `${what} failed`);
        if (!ready) reject(err);
      });
      w.on('exit', (code) => {
        if (thread === started) thread = undefined;
        if (!ready) reject(new Error(`${what} exited (code ${code}) before it was ready`));
        if (pending.size && !closed) log?.error({ code, inFlight: pending.size }, `${what} ended with commits in flight`);
        for (const p of pending.values()) {
          p.reject(new WriteOutcomeUnknown(`the ${what} ended (code ${code}) while the commit was in flight`));
        }
        pending.clear();
      });
    });
    return started;
  }

  return {
    async start() {
      if (closed) throw new Error('the database is closed');
      await (thread ??= start());
    },
    async commit(ops) {
      if (closed) throw new Error('the database is closed');
      const request: WriterRequest = {
        id: nextId++,
        ops: ops.map((op) =>
          'audit' in op
            ? { audit: prepareAudit(op.audit) }
            : {
                sql: op.query.sql,
                params: op.query.parameters,
                ...(op.expectAffected !== undefined ? { expectAffected: op.expectAffected } : {}),
              },
        ),
      };
      const w = await (thread ??= start());
      return new Promise<void>((resolve, reject) => {
        pending.set(request.id, { resolve, reject });
        w.ref();
        w.postMessage(request);
      });
    },
    close() {
      closed ??= closeModuleThread(thread);
      return closed;
    },
  };
}
