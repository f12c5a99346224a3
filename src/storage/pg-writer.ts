/**
 * Worker-thread entry of the PostgreSQL writer (src/storage/writer.ts, createPostgresThreadWriter): a connection of
 * its own to the gateway's schema, and each message's ops committed as the gateway's own PostgreSQL writer commits
 * them (createPostgresTransactions: begin with the audit chain's lock, the statements merged, commit). The reply is
 * posted once PostgreSQL has answered the commit, so `ok` means durable (synchronous_commit). A failure is posted
 * with PostgreSQL's error code (e.g. 23505) and message, never with its detail, which can quote the values of a row.
 *
 * One transaction runs at a time; the requests that arrive while it runs go together in the next one (groupCommits:
 * the audit chain's lock and the WAL flush once per group, each request still all-or-nothing on its own).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CompiledQuery, Kysely } from 'kysely';
import { auditKeyFrom } from '../audit/key.js';
import { OwnSchemaPostgresDialect } from './introspector.js';
import { createPgPool } from './pg-pool.js';
import type { Database } from './schema.js';
import {
  createPostgresTransactions,
  groupCommits,
  type PgWriterThreadData,
  type PreparedWriteOp,
  type WriterReply,
  type WriterRequest,
} from './writer.js';

const port = parentPort;
if (!port) throw new Error('pg-writer runs as a worker thread');
const data = workerData as PgWriterThreadData;

// The commit that used a lost connection fails and is answered with its error; the gateway logs that.
const pool = createPgPool(data.pool, { idleError: () => {}, connectionLost: () => {} });
// Kysely only compiles here (the audit entries' inserts); the pool runs every statement, and is ended on close.
const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }) });
// One transaction at a time, the commits that arrive meanwhile grouped into the next (groupCommits). Structured
// cloning hands the key over as a Uint8Array.
const writer = groupCommits(createPostgresTransactions(pool, db, data.auditKey ? auditKeyFrom(Buffer.from(data.auditKey)) : undefined));

const toOp = (op: WriterRequest['ops'][number]): PreparedWriteOp =>
  'audit' in op
    ? { prepared: op.audit }
    : {
        // structured cloning hands Buffers over as Uint8Arrays, which node-postgres binds as bytea all the same
        query: CompiledQuery.raw(op.sql, [...op.params]),
        ...(op.expectAffected !== undefined ? { expectAffected: op.expectAffected } : {}),
      };

const inFlight = new Set<Promise<void>>();

port.on('message', (msg: WriterRequest | { close: true }) => {
  if ('close' in msg) {
    // what was posted before the close finishes first
    void Promise.allSettled(inFlight)
      .then(() => pool.end())
      .finally(() => port.close());
    return;
  }
  const done: Promise<void> = writer
    .commit(msg.ops.map(toOp))
    .then(
      (): WriterReply => ({ id: msg.id, ok: true }),
      (err: unknown): WriterReply => {
        const e = err as { message?: unknown; code?: unknown };
        return { id: msg.id, ok: false, message: String(e?.message ?? err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
      },
    )
    .then((reply) => {
      inFlight.delete(done);
      port.postMessage(reply);
    });
  inFlight.add(done);
});
port.postMessage({ ready: true });
