/**
 * Migration 0012_sealed_fields (issue 15): the personal fields that an older
 * database holds in clear are sealed in place (src/storage/fields.ts), in the
 * migration's own transaction, so they are sealed exactly once and together
 * with the migration's record. The master key comes from openDatabase; an
 * older database with clear values and no key stops here with the reason.
 * The columns keep their types: nothing but the values changes.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { SEALED_TEXT_PREFIX, clockContext, eventContext, type FieldSealer } from './fields.js';

export const SEALED_FIELDS_MIGRATION = '0012_sealed_fields';

/** Text columns sealed whole: table, column, and a clear value that is no personal data (left as it is). */
export const SEALED_TEXT_COLUMNS: readonly { table: string; column: string; skip?: string }[] = [
  { table: 'documents', column: 'title' },
  { table: 'cases', column: 'treating_clinicians' },
  // superseded by the consents table (0006); older rows hold the manifest's consent flags
  { table: 'cases', column: 'consents', skip: '{}' },
  { table: 'consents', column: 'given_by' },
  { table: 'coordinator_changes', column: 'reason' },
];

const BATCH = 500;
const personalLike = (column: string) => sql<boolean>`(${sql.ref(column)} like '%"reason":%' or ${sql.ref(column)} like '%"agreedWith":%')`;

export function m0012SealedFields(fields: FieldSealer | undefined): Migration {
  const sealer = (what: string): FieldSealer => {
    if (fields) return fields;
    throw new Error(
      `migration ${SEALED_FIELDS_MIGRATION}: ${what} holds personal data in clear, and sealing it needs the storage master key; ` +
        'start the gateway once (it opens the database with the key) before using this database without it',
    );
  };
  return {
    async up(db: Kysely<any>) {
      for (const { table, column, skip } of SEALED_TEXT_COLUMNS) {
        for (let after = ''; ;) {
          const rows = (await db
            .selectFrom(table)
            .select(['id', `${column} as v`])
            .where('id', '>', after)
            .where(column, 'is not', null)
            .where(sql`substr(${sql.ref(column)}, 1, ${SEALED_TEXT_PREFIX.length})`, '<>', SEALED_TEXT_PREFIX)
            .$if(skip !== undefined, (qb) => qb.where(column, '<>', skip!))
            .orderBy('id')
            .limit(BATCH)
            .execute()) as { id: string; v: string }[];
          for (const r of rows) {
            const sealed = sealer(`${table}.${column}`).sealText(table, column, r.id, r.v);
            await db
              .updateTable(table)
              .set({ [column]: sealed })
              .where('id', '=', r.id)
              .execute();
          }
          if (rows.length < BATCH) break;
          after = rows[rows.length - 1]!.id;
        }
      }
      // the case's cached clock: an extension's reason and with whom it was agreed
      for (let after = ''; ;) {
        const rows = (await db
          .selectFrom('cases')
          .select(['id', 'clock'])
          .where('id', '>', after)
          .where(personalLike('clock'))
          .orderBy('id')
          .limit(BATCH)
          .execute()) as { id: string; clock: string }[];
        for (const r of rows) {
          const sealed = sealer('cases.clock').sealJson(clockContext(r.id), r.clock);
          if (sealed !== r.clock) await db.updateTable('cases').set({ clock: sealed }).where('id', '=', r.id).execute();
        }
        if (rows.length < BATCH) break;
        after = rows[rows.length - 1]!.id;
      }
      // case events: a conflict's or an extension's reason, with whom an extension was agreed
      for (let after = 0; ;) {
        const rows = (await db
          .selectFrom('case_events')
          .select(['id', 'case_id', 'event', 'at', 'data'])
          .where('id', '>', after)
          .where(personalLike('data'))
          .orderBy('id')
          .limit(BATCH)
          .execute()) as { id: number | string; case_id: string; event: string; at: string; data: string }[];
        for (const r of rows) {
          const sealed = sealer('case_events.data').sealJson(eventContext(r.case_id, r.event, r.at), r.data);
          if (sealed !== r.data) await db.updateTable('case_events').set({ data: sealed }).where('id', '=', r.id).execute();
        }
        if (rows.length < BATCH) break;
        after = Number(rows[rows.length - 1]!.id);
      }
    },
    async down() {
      // Sealed values stay sealed: a clear copy is never written back.
    },
  };
}
