/** Issue 15: where personal data could be found in clear, for the sealed-fields tests. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../src/storage/db.js';

/** The embedded database's files as bytes (latin1, so any ASCII text in them is found as it is). */
export function sqliteBytes(dir: string): string {
  return ['postkasse.db', 'postkasse.db-wal']
    .map((f) => join(dir, f))
    .filter((f) => existsSync(f))
    .map((f) => readFileSync(f).toString('latin1'))
    .join('\n');
}

/** Every row of every table of the schema, as PostgreSQL's text of the row. */
export async function pgRowsAsText(db: Db, schema: string): Promise<string> {
  const tables = await sql<{ t: string }>`select table_name as t from information_schema.tables where table_schema = ${schema}`.execute(
    db.db,
  );
  const out: string[] = [];
  for (const { t } of tables.rows) {
    const rows = await sql<{ r: string }>`select (x.*)::text as r from ${sql.table(`${schema}.${t}`)} x`.execute(db.db);
    out.push(...rows.rows.map((r) => r.r));
  }
  return out.join('\n');
}
