/**
 * The gateway's node-postgres pools: the one the gateway reads and writes with (src/storage/db.ts), and the writer
 * thread's own (src/storage/pg-writer.ts). Same connection settings for both, so both see the same schema and the
 * same types.
 */
import pg from 'pg';

const INT8_OID = 20;

export interface PgPoolSettings {
  /** postgres://… */
  url: string;
  /** the gateway's schema: the search_path of every connection (the url must not carry its own "options") */
  schema?: string;
  max: number;
  /** what pg_stat_activity shows for the pool's connections: 'postkasse', or 'postkasse writer' for the writer thread's */
  applicationName: string;
}

/** What a pool tells about a lost connection; the query that used it fails on its own. */
export interface PgPoolEvents {
  idleError(err: Error): void;
  connectionLost(err: Error): void;
}

export function createPgPool(s: PgPoolSettings, events: PgPoolEvents): pg.Pool {
  const pool = new pg.Pool({
    connectionString: s.url,
    max: s.max,
    application_name: s.applicationName,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    // search_path for every connection of this pool, set at connection start-up
    ...(s.schema ? { options: `-c search_path=${s.schema}` } : {}),
    // int8 (bigserial, count(*)) as number, for this pool only — not pg.types globally.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === INT8_OID && format !== 'binary') return parseInt8;
        return pg.types.getTypeParser(oid, format as 'text');
      }) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client's error (server restart, network) is emitted on the pool; unhandled it would crash the process.
  pool.on('error', (err) => events.idleError(err));
  // A connection that breaks while checked out (the server restarts mid-query) also emits 'error' on its client;
  // without a listener that would crash the process. The query itself fails and is answered 503; pg-pool discards
  // the broken client.
  pool.on('connect', (client) => {
    client.on('error', (err) => events.connectionLost(err));
  });
  return pool;
}

function parseInt8(value: string): number | string {
  const n = Number(value);
  // Beyond 2^53 a number would silently lose precision; hand back the exact text instead.
  return Number.isSafeInteger(n) ? n : value;
}
