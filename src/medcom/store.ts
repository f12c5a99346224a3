/**
 * The MedCom feature's SQL: the MedCom messages' state changes (each
 * conditional on the state it leaves, so several gateway instances apply
 * each hand-over, resend and acknowledgement once) and the acknowledgements
 * received.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, MedcomAcksTable, MessageState, MessagesTable } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';

type Q = Kysely<Database> | Transaction<Database>;
export type MedcomMessageRow = Selectable<MessagesTable>;
export type AckRow = Selectable<MedcomAcksTable>;

export function createMedcomStore(db: Kysely<Database>) {
  return {
    db,
    message: (id: string): Promise<MedcomMessageRow | undefined> =>
      db.selectFrom('messages').selectAll().where('id', '=', id).where('format', '=', 'medcom').executeTakeFirst(),
    /** Changes the message only while its state is one of `from` (and, when given, its send count is `sends`). */
    async transition(
      q: Q,
      id: string,
      from: readonly MessageState[],
      fields: Partial<Omit<MedcomMessageRow, 'id'>>,
      sends?: number,
    ): Promise<boolean> {
      let u = q.updateTable('messages').set(fields).where('id', '=', id).where('format', '=', 'medcom').where('state', 'in', from);
      if (sends !== undefined) u = u.where('sends', '=', sends);
      const r = await u.executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    /** MedCom messages handed over and waiting for their acknowledgement. */
    awaitingAck: () =>
      db
        .selectFrom('messages')
        .select(['id', 'sends', 'ack_due_at'])
        .where('format', '=', 'medcom')
        .where('state', 'in', ['sent', 'transient-error'])
        .execute(),
    ackById: (id: string): Promise<AckRow | undefined> => db.selectFrom('medcom_acks').selectAll().where('id', '=', id).executeTakeFirst(),
    acksOf: (messageId: string) =>
      db.selectFrom('medcom_acks').selectAll().where('message_id', '=', messageId).orderBy('received_at').execute(),
    acksWithOutcome: (outcome: string) =>
      db.selectFrom('medcom_acks').selectAll().where('outcome', '=', outcome).orderBy('received_at').execute(),
    async insertAck(q: Q, row: AckRow): Promise<void> {
      await q.insertInto('medcom_acks').values(row).execute();
    },
    async addEvent(q: Q, caseId: string, at: string, event: CaseEvent, actor: string, data: Record<string, unknown>): Promise<void> {
      await q
        .insertInto('case_events')
        .values({ case_id: caseId, at, event, actor, data: JSON.stringify(data) })
        .execute();
    },
  };
}
