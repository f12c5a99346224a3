/**
 * A cache of prepared better-sqlite3 statements, shared by the gateway's own
 * connection (through Kysely) and the SQLite writer thread.
 */
import type BetterSqlite3 from 'better-sqlite3';

export const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely's SqliteDriver prepares every query afresh, and SQLite's parse and
 * plan cost as much as running a small insert. This keeps the most recently
 * used prepared statements by SQL text (Kysely compiles one query shape to one
 * text, with the values as parameters). A statement still being iterated by a
 * stream is busy and cannot be reused: then a fresh one is prepared. Schema
 * changes are safe: SQLite re-prepares a cached statement whose schema moved.
 */
export function cachingStatements(sqlite: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE) {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(text: string): BetterSqlite3.Statement {
      const hit = cache.get(text);
      if (hit && !hit.busy) {
        // re-insert: Map order is recency order
        cache.delete(text);
        cache.set(text, hit);
        return hit;
      }
      const stmt = sqlite.prepare(text);
      if (!hit) {
        cache.set(text, stmt);
        if (cache.size > size) cache.delete(cache.keys().next().value!);
      }
      return stmt;
    },
    close(): void {
      cache.clear();
      sqlite.close();
    },
  };
}
