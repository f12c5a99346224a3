/**
 * PostgreSQL introspection of the gateway's own schema only.
 *
 * Kysely's Migrator asks "does kysely_migration exist?" through the dialect's introspector, and Kysely's
 * PostgresIntrospector answers by listing every table of every schema in the database, resolving each one
 * again by name (pg_get_serial_sequence). When another deployment or test file drops a table or a schema at
 * that moment, the whole listing fails (`3F000 schema … does not exist`, `42P01 relation … does not exist`)
 * and the gateway does not start: seen in CI, reproduced by test/storage/migrate-race.test.ts. The gateway
 * only ever works in its own schema (search_path), so that is all this introspector looks at.
 */
import { PostgresDialect, sql, type DatabaseIntrospector, type DatabaseMetadataOptions, type Kysely, type TableMetadata } from 'kysely';

interface ColumnRow {
  table: string;
  schema: string;
  is_view: boolean;
  column: string;
  type: string;
  type_schema: string;
  not_null: boolean;
  has_default: boolean;
  auto_incrementing: boolean;
  comment: string | null;
}

export function createOwnSchemaIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
  async function getTables(options: DatabaseMetadataOptions = { withInternalKyselyTables: false }): Promise<TableMetadata[]> {
    const internal = options.withInternalKyselyTables ? sql`` : sql`and c.relname not in ('kysely_migration', 'kysely_migration_lock')`;
    const { rows } = await sql<ColumnRow>`
      select c.relname as "table", ns.nspname as "schema", c.relkind = 'v' as is_view,
             a.attname as "column", typ.typname as "type", tns.nspname as type_schema,
             a.attnotnull as not_null, a.atthasdef as has_default,
             (a.attidentity <> '' or pg_get_serial_sequence(format('%I.%I', ns.nspname, c.relname), a.attname) is not null)
               as auto_incrementing,
             col_description(a.attrelid, a.attnum) as "comment"
        from pg_catalog.pg_attribute a
        join pg_catalog.pg_class c on c.oid = a.attrelid
        join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
        join pg_catalog.pg_type typ on typ.oid = a.atttypid
        join pg_catalog.pg_namespace tns on tns.oid = typ.typnamespace
       where ns.nspname = current_schema() and c.relkind in ('r', 'v', 'p')
         and a.attnum > 0 and not a.attisdropped ${internal}
       order by c.relname, a.attnum`.execute(db);
    const tables = new Map<string, TableMetadata>();
    for (const r of rows) {
      let t = tables.get(r.table);
      if (!t) tables.set(r.table, (t = { name: r.table, schema: r.schema, isView: r.is_view, columns: [] }));
      t.columns.push({
        name: r.column,
        dataType: r.type,
        dataTypeSchema: r.type_schema,
        isNullable: !r.not_null,
        hasDefaultValue: r.has_default,
        isAutoIncrementing: r.auto_incrementing,
        ...(r.comment !== null ? { comment: r.comment } : {}),
      });
    }
    return [...tables.values()];
  }
  return {
    async getSchemas() {
      const { rows } = await sql<{ name: string | null }>`select current_schema() as name`.execute(db);
      return rows.flatMap((r) => (r.name ? [{ name: r.name }] : []));
    },
    getTables,
    async getMetadata(options) {
      return { tables: await getTables(options) };
    },
  };
}

/** Kysely's PostgresDialect, introspecting the connection's own schema only (see above). */
export class OwnSchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return createOwnSchemaIntrospector(db);
  }
}
