/**
 * INSERT statements for the hot write paths (a receipt's transaction holds eight), compiled by Kysely once per
 * shape and then reused with new parameters.
 *
 * Kysely builds and compiles an immutable operation tree for every statement (~0.25 ms of the event loop for a
 * receipt's eight). An insert's text depends only on its table, its columns and its number of rows (its
 * "shape"); its parameters are the rows' values, row by row, column by column. So the first statement of a shape
 * is compiled by Kysely, its text is kept, and later ones of that shape only collect their values. Rows whose
 * values are not plain (a Kysely expression, an object Kysely would treat otherwise) are compiled by Kysely every
 * time. test/storage/inserts.test.ts compares the two on both dialects.
 */
import { CompiledQuery, type Insertable, type Kysely } from 'kysely';
import type { Database } from './schema.js';

type Table = keyof Database & string;

/** Shapes kept at most; a receipt's statements have a handful, documents and events add one per row count. */
const MAX_SHAPES = 512;

const plain = (v: unknown) => v === null || typeof v !== 'object' || Buffer.isBuffer(v) || v instanceof Uint8Array;

export function createInsertCompiler(db: Kysely<Database>) {
  const texts = new Map<string, string>();
  return function insert<T extends Table>(table: T, rows: readonly Insertable<Database[T]>[]): CompiledQuery {
    if (rows.length === 0) throw new Error(`insert into ${table}: no rows`);
    const columns = Object.keys(rows[0]!).filter((k) => (rows[0] as Record<string, unknown>)[k] !== undefined);
    const params: unknown[] = [];
    let cacheable = true;
    for (const row of rows as readonly Record<string, unknown>[]) {
      // every row must have exactly the first row's columns, in its order (Kysely would fill gaps with DEFAULT)
      const keys = Object.keys(row).filter((k) => row[k] !== undefined);
      if (keys.length !== columns.length || keys.some((k, i) => k !== columns[i])) cacheable = false;
      for (const c of columns) {
        const v = row[c];
        if (!plain(v)) cacheable = false;
        params.push(v);
      }
    }
    const compile = () =>
      db
        .insertInto(table)
        .values(rows as never)
        .compile();
    if (!cacheable) return compile();
    const shape = `${table}|${columns.join(',')}|${rows.length}`;
    const text = texts.get(shape);
    if (text !== undefined) return CompiledQuery.raw(text, params);
    const compiled = compile();
    if (texts.size >= MAX_SHAPES) texts.clear();
    texts.set(shape, compiled.sql);
    return compiled;
  };
}
