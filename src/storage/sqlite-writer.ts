/**
 * Worker-thread entry of the SQLite writer (src/storage/writer.ts): its own
 * connection to the gateway's database file, `synchronous = FULL`, and one
 * message = one `BEGIN IMMEDIATE … COMMIT` transaction. COMMIT returns only
 * after SQLite has fsync'd the WAL, and only then is the reply posted, so a
 * reply of `ok` means durable. Any failure rolls the whole transaction back
 * and is posted with SQLite's error code (e.g. SQLITE_CONSTRAINT_UNIQUE).
 *
 * Blocking here is the point: the fsync of the commit, and SQLite's busy
 * wait while the gateway's own connection holds the write lock, stop this
 * thread only, never the gateway's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { chainedAuditRow, LAST_AUDIT_SQL } from '../audit/chain.js';
import { cachingStatements } from './statements.js';
import type { WriterReply, WriterRequest, WriterThreadData } from './writer.js';

const port = parentPort;
if (!port) throw new Error('sqlite-writer runs as a worker thread');
const { file, auditKey: keyBytes } = workerData as WriterThreadData;
// Structured cloning hands the key over as a Uint8Array.
const auditKey = keyBytes ? Buffer.from(keyBytes) : null;

const sqlite = new BetterSqlite3(file, { fileMustExist: true });
sqlite.pragma('busy_timeout = 5000');
sqlite.pragma('synchronous = FULL');
sqlite.pragma('foreign_keys = ON');
if (String(sqlite.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
  throw new Error(`SQLite writer: ${file} is not in WAL mode`);
}
const statements = cachingStatements(sqlite);
const begin = sqlite.prepare('begin immediate');
const commit = sqlite.prepare('commit');
const rollback = sqlite.prepare('rollback');
const lastAudit = sqlite.prepare(LAST_AUDIT_SQL);
const insertAudit = sqlite.prepare(
  'insert into "audit_log" ("at", "actor", "action", "case_id", "details", "prev_hash", "hash", "mac") values (?, ?, ?, ?, ?, ?, ?, ?)',
);

/** Structured cloning turns a Buffer into a plain Uint8Array; better-sqlite3 binds blobs from Buffers. */
const bindable = (v: unknown): unknown =>
  v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;

function run(req: WriterRequest): void {
  begin.run();
  try {
    for (const op of req.ops) {
      if ('audit' in op) {
        if (!auditKey)
          throw new Error(
            'the SQLite writer thread was started without the audit key (AUDIT_KEY_FILE): it cannot append to the audit chain',
          );
        const last = lastAudit.get() as { hash: string } | undefined;
        const r = chainedAuditRow(last?.hash, op.audit, auditKey);
        insertAudit.run(r.at, r.actor, r.action, r.case_id, r.details, r.prev_hash, r.hash, r.mac);
        continue;
      }
      const stmt = statements.prepare(op.sql);
      const params = op.params.map(bindable);
      if (stmt.reader) {
        stmt.all(params);
        continue;
      }
      const { changes } = stmt.run(params);
      if (op.expectAffected !== undefined && changes !== op.expectAffected) {
        throw Object.assign(new Error(`expected ${op.expectAffected} affected row(s), got ${changes}: ${op.sql.slice(0, 80)}`), {
          code: 'POSTKASSE_AFFECTED_ROWS',
        });
      }
    }
    commit.run();
  } catch (err) {
    // SQLite has already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR, …).
    if (sqlite.inTransaction) rollback.run();
    throw err;
  }
}

port.on('message', (msg: WriterRequest | { close: true }) => {
  if ('close' in msg) {
    statements.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    run(msg);
    reply = { id: msg.id, ok: true };
  } catch (err) {
    const e = err as { message?: unknown; code?: unknown };
    reply = { id: msg.id, ok: false, message: String(e?.message ?? err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true });
