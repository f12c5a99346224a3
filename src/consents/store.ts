/** The consents feature's SQL. */
import type { Kysely, Transaction } from 'kysely';
import type { ConsentsTable, Database } from '../storage/schema.js';

export function createConsentStore(db: Kysely<Database>) {
  return {
    async insert(q: Kysely<Database> | Transaction<Database>, row: ConsentsTable): Promise<void> {
      await q.insertInto('consents').values(row).execute();
    },
    list: (caseId: string): Promise<ConsentsTable[]> =>
      db.selectFrom('consents').selectAll().where('case_id', '=', caseId).orderBy('recorded_at').orderBy('id').execute(),
    /** the case's document parts (a written consent must name one) */
    async documentParts(caseId: string): Promise<string[]> {
      const rows = await db.selectFrom('documents').select('part').where('case_id', '=', caseId).execute();
      return rows.map((r) => r.part);
    },
  };
}
