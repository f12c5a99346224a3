/**
 * The deadline feature's SQL: a case's clock fields, its events, and the
 * cached clock column. Every function takes the query runner, so the service
 * decides the transaction.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Db } from '../storage/db.js';
import type { CaseRow, Database } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import { clockContext, fieldsOf, openCaseFields, openEventRow, sealEventRow } from '../storage/fields.js';

type Q = Kysely<Database> | Transaction<Database>;

export type CaseClockFields = Pick<
  CaseRow,
  'id' | 'service' | 'urgent' | 'state' | 'received_at' | 'clock_started_at' | 'agreement_id' | 'clock'
>;

export interface EventRow {
  id: number;
  at: string;
  event: string;
  actor: string;
  data: string;
}

export interface NewEventRow {
  case_id: string;
  at: string;
  event: CaseEvent;
  actor: string;
  data: string;
}

export function createDeadlineStore(database: Pick<Db, 'db' | 'dialect'>) {
  const { dialect } = database;
  // an extension's reason and with whom it was agreed are sealed, in the events and in the cached clock (src/storage/fields.ts)
  const fields = fieldsOf(database.db);
  return {
    db: database.db,
    /** The case's clock fields; `forUpdate` locks the row on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises). */
    async caseFields(q: Q, caseId: string, forUpdate: boolean): Promise<CaseClockFields | undefined> {
      const row = await q
        .selectFrom('cases')
        .select(['id', 'service', 'urgent', 'state', 'received_at', 'clock_started_at', 'agreement_id', 'clock'])
        .where('id', '=', caseId)
        .$if(forUpdate && dialect === 'postgres', (qb) => qb.forUpdate())
        .executeTakeFirst();
      return openCaseFields(fields, row);
    },
    async events(q: Q, caseId: string): Promise<EventRow[]> {
      const rows = await q
        .selectFrom('case_events')
        .select(['id', 'at', 'event', 'actor', 'data'])
        .where('case_id', '=', caseId)
        .orderBy('id')
        .execute();
      return rows.map((r) => openEventRow(fields, caseId, { ...r, id: Number(r.id) }));
    },
    async insertEvents(q: Q, rows: NewEventRow[]): Promise<void> {
      if (rows.length > 0)
        await q
          .insertInto('case_events')
          .values(rows.map((r) => sealEventRow(fields, r)))
          .execute();
    },
    async setClock(q: Q, caseId: string, clockJson: string, at?: string): Promise<void> {
      await q
        .updateTable('cases')
        .set(
          at
            ? { clock: fields.sealJson(clockContext(caseId), clockJson), updated_at: at }
            : { clock: fields.sealJson(clockContext(caseId), clockJson) },
        )
        .where('id', '=', caseId)
        .execute();
    },
    /** Open cases whose clock has started, by id after `afterId` (for the reminders' reconciler). */
    async startedOpenCases(afterId: string, limit: number): Promise<Pick<CaseRow, 'id' | 'clock' | 'state'>[]> {
      const rows = await database.db
        .selectFrom('cases')
        .select(['id', 'clock', 'state'])
        .where('clock_started_at', 'is not', null)
        .where('state', '<>', 'closed')
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map((r) => openCaseFields(fields, r));
    },
  };
}
