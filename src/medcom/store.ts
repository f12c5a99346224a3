/**
 * The MedCom feature's SQL: the MedCom messages' state changes (each
 * conditional on the state it leaves, so several gateway instances apply
 * each hand-over, resend and acknowledgement once), the acknowledgements
 * received, and the VANS receipts (recorded as case events of the message's
 * case, found again by the envelope id they answer).
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, MedcomAcksTable, MessageState, MessagesTable } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import type { Db } from '../storage/db.js';

type Q = Kysely<Database> | Transaction<Database>;
export type MedcomMessageRow = Selectable<MessagesTable>;
export type AckRow = Selectable<MedcomAcksTable>;

/** The case events that record a VANS receipt (src/medcom/service.ts `receiveVansReceipt`). */
export const VANS_RECEIPT_EVENTS = ['medcom-vans-receipt', 'medcom-vans-negative-receipt'] as const satisfies readonly CaseEvent[];

/** The `data` of a case's events of these names, parsed (the MedCom events hold no personal keys, so nothing is sealed). */
async function eventData(q: Q, caseId: string, events: readonly CaseEvent[]): Promise<Record<string, unknown>[]> {
  const rows = await q.selectFrom('case_events').select(['data']).where('case_id', '=', caseId).where('event', 'in', events).execute();
  return rows.flatMap((r) => {
    try {
      return [JSON.parse(r.data) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

export function createMedcomStore(db: Kysely<Database>, dialect: Db['dialect'] = 'sqlite') {
  return {
    db,
    message: (id: string): Promise<MedcomMessageRow | undefined> =>
      db.selectFrom('messages').selectAll().where('id', '=', id).where('format', '=', 'medcom').executeTakeFirst(),
    /** The MedCom message whose current transmission has this envelope id. */
    messageByEnvelope: (envelopeId: string): Promise<MedcomMessageRow | undefined> =>
      db.selectFrom('messages').selectAll().where('envelope_id', '=', envelopeId).where('format', '=', 'medcom').executeTakeFirst(),
    /** The envelope id of every transmission of the message, as its `medcom-sent` and `medcom-resend` events recorded them. */
    async envelopesOf(m: Pick<MedcomMessageRow, 'id' | 'case_id'>): Promise<string[]> {
      const data = await eventData(db, m.case_id, ['medcom-sent', 'medcom-resend']);
      return data.filter((d) => d.messageId === m.id && typeof d.envelopeId === 'string').map((d) => d.envelopeId as string);
    },
    /** Locks the message's row until the transaction ends on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises). */
    lockMessage: (q: Q, id: string) =>
      q
        .selectFrom('messages')
        .select(['id'])
        .where('id', '=', id)
        .$if(dialect === 'postgres', (qb) => qb.forUpdate())
        .executeTakeFirst(),
    /** True when a VANS receipt for this envelope of the message is recorded already. */
    async hasVansReceipt(q: Q, m: Pick<MedcomMessageRow, 'id' | 'case_id'>, envelopeId: string): Promise<boolean> {
      const data = await eventData(q, m.case_id, VANS_RECEIPT_EVENTS);
      return data.some((d) => d.messageId === m.id && d.envelopeId === envelopeId);
    },
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
