/**
 * Opening the relational store: embedded SQLite (better-sqlite3) or PostgreSQL,
 * the same Kysely<Database> API on both, migrations run on open.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type QueryResult,
  type DialectAdapter,
  type Driver,
  type TransactionSettings,
} from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './schema.js';
import { cachingStatements } from './statements.js';
import { createPostgresThreadWriter, createPostgresWriter, createSqliteThreadWriter, type Writer } from './writer.js';
import { createMigrationProvider, type SqlDialect } from './migrations.js';
import { OwnSchemaPostgresDialect } from './introspector.js';
import { createPgPool } from './pg-pool.js';
import { startKeyedChain } from '../audit/audit.js';
import type { AuditKey } from '../audit/key.js';
import { createFieldSealer, registerFieldSealer, type FieldSealer } from './fields.js';
import { SEALED_FIELDS_MIGRATION } from './sealed-fields-migration.js';

export type { SqlDialect };

export interface Db {
  db: Kysely<Database>;
  dialect: SqlDialect;
  /** Whole write transactions handed over at once; on SQLite they run in a writer thread (src/storage/writer.ts). */
  writer: Writer;
  /** The audit chain's HMAC key (AUDIT_KEY_FILE): `appendAudit(trx, db, …)` links entries with it. Unset: read only for the audit log. */
  auditKey: AuditKey | undefined;
  /** Round trip to the database; rejects when it is unreachable. */
  ping(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres://… ; unset = embedded SQLite in `${dataDir}/postkasse.db` */
  url?: string;
  dataDir: string;
  /** PostgreSQL schema to use (created if missing). Ignored for SQLite. */
  schema?: string;
  log?: Logger;
  /** PostgreSQL pool size (default 10). */
  poolMax?: number;
  /**
   * PostgreSQL: run the writer's transactions in a worker thread on a connection of its own, grouped
   * (createPostgresThreadWriter; the gateway, issue 16). Unset: on the event loop, on the handle's pool (the CLI,
   * tools). SQLite always writes in its writer thread.
   */
  pgWriterThread?: boolean;
  /** SQLite: how long a statement waits (asynchronously) for another connection's write lock (default 5 s). */
  busyTimeoutMs?: number;
  /**
   * The storage master key: personal fields are sealed with it (src/storage/fields.ts) and migration
   * 0012_sealed_fields seals the clear values of an older database. Without it the handle reads clear
   * values only, and refuses to write personal fields.
   */
  masterKey?: Buffer;
  /**
   * The audit chain's key (issue 15). Given, the chain is keyed from here on (src/audit/audit.ts startKeyedChain; a key other
   * than the chain's refuses to open); omitted, the handle reads the audit log but cannot append to it.
   */
  auditKey?: AuditKey;
}

export const SQLITE_BUSY_TIMEOUT_MS = 5000;

const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Db> {
  const url = opts.url?.trim();
  const opened = url ? await openPostgres(url, opts) : openSqlite(opts);
  const fields = opts.masterKey ? createFieldSealer(opts.masterKey) : undefined;
  if (fields) registerFieldSealer(opened.db, fields);
  try {
    const applied = await migrate(opened.db, opened.dialect, opts.log, { fields, auditKey: opts.auditKey });
    // The clear values 0012 sealed are still in the WAL's page images: write them back and empty it.
    if (opened.dialect === 'sqlite' && applied.includes(SEALED_FIELDS_MIGRATION))
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(opened.db);
    if (opts.auditKey) await startKeyedChain(opened.db, opened.dialect, opts.auditKey);
  } catch (err) {
    await opened.close().catch(() => {});
    throw err;
  }
  return opened;
}

// ---------------------------------------------------------------- SQLite

/**
 * better-sqlite3 driver with two changes to Kysely's SqliteDriver:
 *
 * - transactions start with `BEGIN IMMEDIATE`, so the write lock is taken up
 *   front. Within this process Kysely already serialises all work on the one
 *   connection (a mutex held from BEGIN to COMMIT); IMMEDIATE additionally
 *   makes a read-then-write transaction safe against *other processes* (the
 *   CLI, a second instance) — a deferred BEGIN would fail with SQLITE_BUSY on
 *   lock upgrade, or let two transactions read the same "last" row.
 * - rollback is only issued when a transaction is still open: SQLite
 *   auto-rolls back on some errors (SQLITE_FULL, SQLITE_IOERR, …) and a second
 *   ROLLBACK would then throw and mask the original error.
 *
 * Consequence for callers: inside `db.transaction().execute(trx => …)` use
 * `trx`, never `db` — a query on `db` waits for the connection the
 * transaction holds, i.e. forever.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #sqlite: BetterSqlite3.Database;
  readonly #busyTimeoutMs: number;
  #connection: BusyRetryConnection | undefined;
  constructor(sqlite: BetterSqlite3.Database, busyTimeoutMs: number) {
    super({ database: cachingStatements(sqlite) });
    this.#sqlite = sqlite;
    this.#busyTimeoutMs = busyTimeoutMs;
  }
  override async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await super.acquireConnection();
    return (this.#connection ??= new BusyRetryConnection(inner, this.#sqlite, this.#busyTimeoutMs));
  }
  override async beginTransaction(connection: DatabaseConnection, settings?: TransactionSettings): Promise<void> {
    const stmt = settings?.accessMode === 'read only' ? 'begin deferred' : 'begin immediate';
    await connection.executeQuery(CompiledQuery.raw(stmt));
  }
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#sqlite.inTransaction) return;
    await super.rollbackTransaction(connection);
  }
}

const isBusy = (err: unknown): boolean => /^SQLITE_BUSY/.test(String((err as { code?: unknown })?.code ?? ''));

/**
 * Waits for a write lock held by another connection — the writer thread
 * committing a receipt, the CLI, a second instance — without blocking the
 * event loop: the connection's busy_timeout is 0, and a statement that finds
 * the database locked outside a transaction (a BEGIN IMMEDIATE or a single
 * autocommit statement; SQLite has rolled it back, so it may simply run
 * again) is retried after 1, 2, 4 … 25 ms until `timeoutMs` have passed.
 * Inside a transaction the write lock is already held, so a busy error there
 * is passed on.
 */
class BusyRetryConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    readonly sqlite: BetterSqlite3.Database,
    readonly timeoutMs: number,
  ) {}
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const started = Date.now();
    for (let delay = 1; ; delay = Math.min(delay * 2, 25)) {
      try {
        return await this.inner.executeQuery<R>(query);
      } catch (err) {
        if (!isBusy(err) || this.sqlite.inTransaction || Date.now() - started >= this.timeoutMs) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/**
 * SQLite supports transactional DDL; saying so makes the Migrator run inside one BEGIN IMMEDIATE
 * transaction (safe against a second process migrating at the same time).
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class PostkasseSqliteDialect extends SqliteDialect {
  readonly #sqlite: BetterSqlite3.Database;
  readonly #busyTimeoutMs: number;
  constructor(sqlite: BetterSqlite3.Database, busyTimeoutMs: number) {
    super({ database: sqlite });
    this.#sqlite = sqlite;
    this.#busyTimeoutMs = busyTimeoutMs;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#sqlite, this.#busyTimeoutMs);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

function openSqlite(opts: OpenDatabaseOptions): Db {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const file = join(opts.dataDir, 'postkasse.db');
  restrictDatabaseFiles(file);
  const sqlite = new BetterSqlite3(file);
  try {
    // Deleted and overwritten content is zeroed, so a value sealed in place (0012) or purged leaves no clear copy in the file.
    sqlite.pragma('secure_delete = ON');
    // busy_timeout first, so that the journal_mode switch waits for other processes too.
    sqlite.pragma('busy_timeout = 5000');
    const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`SQLite ${file}: could not enable WAL (journal_mode=${String(mode)})`);
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    // From here on a locked database is waited for asynchronously (see
    // BusyRetryConnection): SQLite's own busy handler would sleep the event loop.
    sqlite.pragma('busy_timeout = 0');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  opts.log?.info({ file }, 'opened embedded SQLite database');
  const db = new Kysely<Database>({ dialect: new PostkasseSqliteDialect(sqlite, opts.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS) });
  const writer = createSqliteThreadWriter(file, opts.log, opts.auditKey ? { auditKey: opts.auditKey } : {});
  let closed: Promise<void> | undefined;
  return {
    db,
    dialect: 'sqlite',
    writer,
    auditKey: opts.auditKey,
    async ping() {
      await sql`select 1`.execute(db);
    },
    close() {
      closed ??= writer.close().finally(() => db.destroy());
      return closed;
    },
  };
}

/**
 * The database file and its -wal and -shm are the owner's alone (0600). The
 * file is created 0600 before SQLite opens it, so the -wal and -shm SQLite
 * creates later take the same mode; an existing file of a looser mode is
 * tightened.
 */
function restrictDatabaseFiles(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(f)) chmodSync(f, 0o600);
  }
}

/**
 * Start-up (issue 15): DATA_DIR is the gateway's alone. The directory itself,
 * also an existing one, becomes 0700; the blob store's directories 0700; the
 * embedded database's files and the key files in it 0600. A mode that cannot
 * be set (DATA_DIR owned by another user) stops the start with the reason.
 */
export function restrictDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const chmod = (path: string, mode: number) => {
    try {
      chmodSync(path, mode);
    } catch (err) {
      throw new Error(
        `cannot set mode ${mode.toString(8)} on ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}): ` +
          'DATA_DIR must belong to the user the gateway runs as',
        { cause: err },
      );
    }
  };
  chmod(dataDir, 0o700);
  for (const e of readdirSync(dataDir, { withFileTypes: true })) {
    const path = join(dataDir, e.name);
    if (e.isFile() && (/^postkasse\.db(-wal|-shm)?$/.test(e.name) || e.name.endsWith('.key'))) chmod(path, 0o600);
  }
  const blobs = join(dataDir, 'blobs');
  if (existsSync(blobs)) {
    chmod(blobs, 0o700);
    for (const e of readdirSync(blobs, { withFileTypes: true })) if (e.isDirectory()) chmod(join(blobs, e.name), 0o700);
  }
}

// ---------------------------------------------------------------- PostgreSQL

async function openPostgres(url: string, opts: OpenDatabaseOptions): Promise<Db> {
  if (!/^postgres(ql)?:\/\//i.test(url))
    throw new Error('database url must start with postgres:// or postgresql:// (unset it to use the embedded database)');
  const schema = opts.schema;
  if (schema !== undefined && !IDENT_RE.test(schema)) {
    throw new Error(
      `PostgreSQL schema name ${JSON.stringify(schema)} is not a plain lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)`,
    );
  }
  const pool = createPgPool(
    { url, ...(schema ? { schema } : {}), max: opts.poolMax ?? 10, applicationName: 'postkasse' },
    {
      idleError: (err) => opts.log?.error({ err }, 'PostgreSQL idle client error'),
      connectionLost: (err) => opts.log?.warn({ err }, 'PostgreSQL connection lost'),
    },
  );

  const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }) });
  const writer = opts.pgWriterThread
    ? createPostgresThreadWriter(
        { url, ...(schema ? { schema } : {}), max: 1, applicationName: 'postkasse writer' },
        opts.log,
        opts.auditKey ? { auditKey: opts.auditKey } : {},
      )
    : createPostgresWriter(pool, db, opts.auditKey);
  let closed: Promise<void> | undefined;
  const handle: Db = {
    db,
    dialect: 'postgres',
    writer,
    auditKey: opts.auditKey,
    async ping() {
      await sql`select 1`.execute(db);
    },
    close() {
      closed ??= writer.close().finally(() => db.destroy());
      return closed;
    },
  };
  try {
    if (schema) {
      await createSchemaIfMissing(db, schema);
      const { rows } = await sql<{ s: string | null }>`select current_schema() as s`.execute(db);
      if (rows[0]?.s !== schema) {
        throw new Error(
          `PostgreSQL search_path did not take effect (current_schema() is ${String(rows[0]?.s)}, expected ${schema}); does the url carry its own "options"?`,
        );
      }
    }
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
  opts.log?.info({ schema: schema ?? '(default)' }, 'connected to PostgreSQL');
  return handle;
}

async function createSchemaIfMissing(db: Kysely<Database>, schema: string): Promise<void> {
  try {
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
  } catch (err) {
    // Two processes creating it at once: `if not exists` can still raise a unique violation on pg_namespace.
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') throw err;
  }
}

// ---------------------------------------------------------------- migrations

/** Runs the pending migrations; returns the names of those applied now. */
async function migrate(
  db: Kysely<Database>,
  dialect: SqlDialect,
  log: Logger | undefined,
  keys: { fields: FieldSealer | undefined; auditKey: AuditKey | undefined },
): Promise<string[]> {
  // PostgreSQL: name the schema of Kysely's own tables, so that they are created and found there
  // (the introspector, src/storage/introspector.ts, looks at nothing else).
  let migrationTableSchema: string | undefined;
  if (dialect === 'postgres') {
    const { rows } = await sql<{ s: string | null }>`select current_schema() as s`.execute(db);
    migrationTableSchema = rows[0]?.s ?? undefined;
  }
  const migrator = new Migrator({
    db,
    provider: createMigrationProvider(dialect, keys),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  for (const r of results ?? []) {
    if (r.status === 'Success') log?.info({ migration: r.migrationName }, 'applied database migration');
    else if (r.status === 'Error') log?.error({ migration: r.migrationName }, 'database migration failed');
  }
  if (error) {
    throw error instanceof Error ? error : new Error(`database migration failed: ${String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

// ---------------------------------------------------------------- errors

/** True for a UNIQUE / PRIMARY KEY violation on either dialect (also when wrapped in `cause`). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505') return true;
  }
  return false;
}
