/**
 * The responses feature's SQL: the case a response is returned on, earlier
 * attests, and the rows of one dispatch (response, messages, events), written
 * in the service's transaction.
 */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Db } from '../storage/db.js';
import type { CaseRow, Database, MessagesTable, MessageState, ResponsesTable } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import { fieldsOf, openCaseFields, sealEventRow } from '../storage/fields.js';

type Q = Kysely<Database> | Transaction<Database>;

export function createResponseStore(database: Pick<Db, 'db' | 'dialect'>) {
  const { db, dialect } = database;
  const fields = fieldsOf(db);
  return {
    caseById: async (caseId: string): Promise<CaseRow | undefined> =>
      openCaseFields(fields, await db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirst()),
    /** Who the case is assigned to and its state, locked on PostgreSQL until the transaction ends. */
    lockCase: (q: Q, caseId: string) =>
      q
        .selectFrom('cases')
        .select(['assigned_to', 'state'])
        .where('id', '=', caseId)
        .$if(dialect === 'postgres', (qb) => qb.forUpdate())
        .executeTakeFirst(),
    /** True when the citizen (by citizen_ref) has a specialist attest in any case. */
    async citizenHasAttest(citizenRef: string): Promise<boolean> {
      const r = await db
        .selectFrom('responses')
        .innerJoin('cases', 'cases.id', 'responses.case_id')
        .select('responses.id')
        .where('cases.citizen_ref', '=', citizenRef)
        .where('responses.kind', '=', 'specialist-attest')
        .executeTakeFirst();
      return r !== undefined;
    },
    async insertResponse(q: Q, row: ResponsesTable): Promise<void> {
      await q.insertInto('responses').values(row).execute();
    },
    message: (id: string) => db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst(),
    response: (id: string) =>
      db
        .selectFrom('responses')
        .select(['id', 'kind', 'author', 'blob_key', 'size', 'sha256', 'media_type'])
        .where('id', '=', id)
        .executeTakeFirst(),
    /** A message without a recipient gets one (only while it is still without one); false when someone else was first. */
    /** Rebuilds a GP message in `from` (it must still be in that state: one resolve wins); false when it changed meanwhile. */
    async resolveMessage(q: Q, id: string, fields: Partial<Insertable<MessagesTable>>, from: MessageState): Promise<boolean> {
      const r = await q.updateTable('messages').set(fields).where('id', '=', id).where('state', '=', from).executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async insertMessages(q: Q, rows: Insertable<MessagesTable>[]): Promise<void> {
      if (rows.length > 0) await q.insertInto('messages').values(rows).execute();
    },
    async insertEvents(q: Q, rows: { case_id: string; at: string; event: CaseEvent; actor: string; data: string }[]): Promise<void> {
      if (rows.length > 0)
        await q
          .insertInto('case_events')
          .values(rows.map((r) => sealEventRow(fields, r)))
          .execute();
    },
    /** True when the case holds an event of this name (e.g. a recorded conversation with the citizen). */
    async hasEvent(caseId: string, event: string): Promise<boolean> {
      const r = await db.selectFrom('case_events').select('id').where('case_id', '=', caseId).where('event', '=', event).executeTakeFirst();
      return r !== undefined;
    },
    /** The dates of the consents of this kind recorded on the case. */
    async consentDates(caseId: string, kind: string): Promise<string[]> {
      const rows = await db.selectFrom('consents').select('given_on').where('case_id', '=', caseId).where('kind', '=', kind).execute();
      return rows.map((r) => r.given_on);
    },
    async closeCase(q: Q, caseId: string, at: string): Promise<void> {
      await q.updateTable('cases').set({ state: 'closed', closed_at: at, updated_at: at }).where('id', '=', caseId).execute();
    },
  };
}
