/**
 * The delivery feature's SQL: messages, their state changes (conditional, so
 * two instances never deliver or dead-letter one message twice) and the
 * case events that record them.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Selectable } from 'kysely';
import type { Database, MessageState, MessagesTable } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';

type Q = Kysely<Database> | Transaction<Database>;
export type MessageRow = Selectable<MessagesTable>;

export function createDeliveryStore(db: Kysely<Database>) {
  return {
    db,
    messageById: (id: string): Promise<MessageRow | undefined> =>
      db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst(),
    async documentBlobKey(responseId: string): Promise<string> {
      const r = await db.selectFrom('responses').select(['blob_key']).where('id', '=', responseId).executeTakeFirstOrThrow();
      return r.blob_key;
    },
    /** The party's unacknowledged messages, oldest first. */
    unacknowledged: (partyId: string) =>
      db
        .selectFrom('messages')
        .select(['id', 'case_id', 'kind', 'copy', 'sent_at', 'format'])
        .where('recipient_party_id', '=', partyId)
        .where('acknowledged_at', 'is', null)
        // an invalid MedCom message was never sent
        .where('state', '!=', 'invalid')
        .orderBy('sent_at')
        .orderBy('id')
        .execute(),
    inState: (state: MessageState) =>
      db
        .selectFrom('messages')
        .select([
          'id',
          'case_id',
          'kind',
          'copy',
          'sent_at',
          'recipient_party_id',
          'recipient_ydernummer',
          'push_attempts',
          'last_error',
          'format',
          'transport',
          'sends',
        ])
        .where('state', '=', state)
        .orderBy('sent_at')
        .execute(),
    /** Changes the message only while it is in `from`; false when it was not (someone else was first). */
    async transition(q: Q, id: string, from: MessageState, fields: Partial<Omit<MessageRow, 'id'>>): Promise<boolean> {
      const r = await q.updateTable('messages').set(fields).where('id', '=', id).where('state', '=', from).executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    /**
     * A MedCom message fetched from the mailbox: it leaves the list, but its
     * state waits for the MedCom Acknowledgement. False when confirmed already.
     */
    async confirmFetched(q: Q, id: string, at: string): Promise<boolean> {
      const r = await q
        .updateTable('messages')
        .set((eb) => ({ acknowledged_at: at, delivered_at: eb.fn.coalesce('delivered_at', eb.val(at)), updated_at: at }))
        .where('id', '=', id)
        .where('acknowledged_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    /** The first acknowledgement wins; false when it was acknowledged already. */
    async acknowledge(q: Q, id: string, at: string, deliveredAt: string): Promise<boolean> {
      const r = await q
        .updateTable('messages')
        .set({ state: 'acknowledged', acknowledged_at: at, delivered_at: deliveredAt, updated_at: at })
        .where('id', '=', id)
        .where('acknowledged_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },
    async addEvent(q: Q, caseId: string, at: string, event: CaseEvent, actor: string, data: Record<string, unknown>): Promise<void> {
      await q
        .insertInto('case_events')
        .values({ case_id: caseId, at, event, actor, data: JSON.stringify(data) })
        .execute();
    },
    queued: () => db.selectFrom('messages').select(['id', 'recipient_party_id', 'format']).where('state', '=', 'queued').execute(),
  };
}
