/** The consents feature's SQL. Who gave a consent is sealed (src/storage/fields.ts). */
import type { Kysely, Transaction } from 'kysely';
import type { ConsentsTable, Database } from '../storage/schema.js';
import { fieldsOf } from '../storage/fields.js';

export function createConsentStore(db: Kysely<Database>) {
  const fields = fieldsOf(db);
  return {
    async insert(q: Kysely<Database> | Transaction<Database>, row: ConsentsTable): Promise<void> {
      await q
        .insertInto('consents')
        .values({ ...row, given_by: fields.sealText('consents', 'given_by', row.id, row.given_by) })
        .execute();
    },
    async list(caseId: string): Promise<ConsentsTable[]> {
      const rows = await db.selectFrom('consents').selectAll().where('case_id', '=', caseId).orderBy('recorded_at').orderBy('id').execute();
      return rows.map((r) => ({ ...r, given_by: fields.openText('consents', 'given_by', r.id, r.given_by) }));
    },
    /** the case's document parts (a written consent must name one) */
    async documentParts(caseId: string): Promise<string[]> {
      const rows = await db.selectFrom('documents').select('part').where('case_id', '=', caseId).execute();
      return rows.map((r) => r.part);
    },
  };
}
