/**
 * A write transaction handed over whole: a list of compiled statements and
 * audit entries, run in order in one transaction, durable when `commit()`
 * resolves and not written at all when it rejects.
 *
 * Intake commits through it (issue 6): on SQLite the transaction runs in a
 * worker thread with its own connection (src/storage/sqlite-writer.ts), so
 * the fsync of every receipt's commit — ~2 ms while uploads keep the disk
 * busy — no longer stops the gateway's event loop. On PostgreSQL the commit
 * is already asynchronous; the same list runs in an ordinary transaction.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import { appendAudit, prepareAudit, type AuditEntry, type PreparedAuditEntry, type SqlDialect } from '../audit/audit.js';
import type { AuditKey } from '../audit/key.js';
import { PACKAGE_ROOT } from '../shared/paths.js';
import type { Database } from './schema.js';

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

/**
 * The writer thread ended while a commit was in flight: the transaction may
 * or may not have committed. Keep what it refers to (the blob sweep removes
 * what no row references) and let the sender retry: idempotency answers.
 */
export class WriteOutcomeUnknown extends Error {
  readonly code = 'POSTKASSE_WRITE_OUTCOME_UNKNOWN';
}

type QueryOp = Extract<WriteOp, { query: CompiledQuery }>;

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

/** An ordinary Kysely transaction (PostgreSQL, and SQLite where no thread is wanted); audit entries are linked with `auditKey`. */
export function createInlineWriter(db: Kysely<Database>, dialect: SqlDialect, auditKey: AuditKey | undefined): Writer {
  const target = { dialect, auditKey };
  const runOne = async (trx: Transaction<Database>, op: QueryOp) => {
    const r = await trx.executeQuery(op.query);
    const changed = Number(r.numAffectedRows ?? 0);
    if (op.expectAffected !== undefined && changed !== op.expectAffected) throw affectedRowsError(op, changed);
  };
  const runMerged = async (trx: Transaction<Database>, batch: QueryOp[]) => {
    const r = await trx.executeQuery<Record<string, string | number>>(mergeStatements(batch.map((op) => op.query)));
    const counts = r.rows[0]!;
    batch.forEach((op, i) => {
      const changed = Number(counts[`n${i}`]);
      if (op.expectAffected !== undefined && changed !== op.expectAffected) throw affectedRowsError(op, changed);
    });
  };
  return {
    async commit(ops) {
      await db.transaction().execute(async (trx) => {
        let batch: QueryOp[] = [];
        const flush = async () => {
          if (batch.length === 1) await runOne(trx, batch[0]!);
          else if (batch.length > 1) await runMerged(trx, batch);
          batch = [];
        };
        for (const op of ops) {
          if ('audit' in op) {
            await flush();
            await appendAudit(trx, target, op.audit);
          } else if (dialect === 'postgres' && mergeable(op.query)) {
            batch.push(op);
          } else {
            await flush();
            await runOne(trx, op);
          }
        }
        await flush();
      });
    },
    async start() {},
    async close() {},
  };
}

// ------------------------------------------------------------ the thread

/** What the gateway posts to the writer thread. */
export interface WriterRequest {
  id: number;
  ops: Array<{ sql: string; params: readonly unknown[]; expectAffected?: number } | { audit: PreparedAuditEntry }>;
}

/** What the writer thread posts back. */
export type WriterReply = { id: number; ok: true } | { id: number; ok: false; message: string; code?: string };

/** What the writer thread starts with: the database file, and the audit key it links audit entries with. */
export interface WriterThreadData {
  file: string;
  auditKey: Buffer | null;
}

function spawnWriterThread(file: string, auditKey: AuditKey | undefined): Worker {
  const workerData: WriterThreadData = { file, auditKey: auditKey?.key ?? null };
  if (import.meta.url.endsWith('.ts')) {
    // From the TypeScript sources (tests, `npm run cli`): load the entry through tsx.
    const entry = new URL('./sqlite-writer.ts', import.meta.url).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    return new Worker(`import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`, {
      eval: true,
      workerData,
    });
  }
  // From the bundle (`npm start`, the Dockerfile): built next to it by `npm run build`.
  return new Worker(join(PACKAGE_ROOT, 'dist', 'storage', 'sqlite-writer.js'), { workerData });
}

/**
 * The SQLite writer thread, started on the first commit (a CLI that only
 * reads never starts it). It keeps the process alive only while a commit is
 * in flight. If it dies, commits in flight fail with `WriteOutcomeUnknown`
 * and the next commit starts a new thread.
 */
export function createSqliteThreadWriter(
  file: string,
  log?: Logger,
  opts: {
    /** tests: stand in for the thread (e.g. one that dies); `real` starts the real one */ spawn?: (real: () => Worker) => Worker;
    /** the audit key the thread links audit entries with (issue 15); without it an audit entry fails its commit */
    auditKey?: AuditKey;
  } = {},
): Writer {
  type Pending = { resolve: () => void; reject: (e: Error) => void };
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let thread: Promise<Worker> | undefined;
  let closed: Promise<void> | undefined;

  function start(): Promise<Worker> {
    const real = () => spawnWriterThread(file, opts.auditKey);
    const w = opts.spawn ? opts.spawn(real) : real();
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
        else p.reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
      });
      w.on('error', (err) => {
        log?.error({ err }, 'SQLite writer thread failed');
        if (!ready) reject(err);
      });
      w.on('exit', (code) => {
        if (thread === started) thread = undefined;
        if (!ready) reject(new Error(`SQLite writer thread exited (code ${code}) before it was ready`));
        if (pending.size && !closed) log?.error({ code, inFlight: pending.size }, 'SQLite writer thread ended with commits in flight');
        for (const p of pending.values()) {
          p.reject(new WriteOutcomeUnknown(`the SQLite writer thread ended (code ${code}) while the commit was in flight`));
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
      closed ??= (async () => {
        const w = await thread?.catch(() => undefined);
        if (!w) return;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.ref();
        // Messages are handled in order: the commits posted before this one finish first.
        w.postMessage({ close: true });
        await exited;
      })();
      return closed;
    },
  };
}
