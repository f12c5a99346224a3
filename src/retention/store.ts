/**
 * The retention feature's SQL (issue 15): which closed cases are due, the
 * purge of one case (in the caller's transaction), and the legal hold. The
 * hold's reason is sealed like every free text (src/storage/fields.ts).
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database, MessageState } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import { fieldsOf, sealEventRow, withoutPersonalValues } from '../storage/fields.js';
import { PURGED_BLOB_KEY, PURGED_SEALED } from '../storage/retained.js';

type Q = Kysely<Database> | Transaction<Database>;

/** Messages that still wait for their recipient: their sealed envelope is still needed. */
const IN_FLIGHT: readonly MessageState[] = ['queued', 'sent'];

export interface PurgeCounts {
  documents: number;
  responses: number;
  messages: number;
  events: number;
  consents: number;
  /** the blobs to delete once the purge has committed */
  blobKeys: string[];
}

export function createRetentionStore(db: Kysely<Database>) {
  const fields = fieldsOf(db);
  const openHoldReason = (r: { id: string; hold_reason: string | null }): string | null =>
    r.hold_reason === null ? null : fields.openText('cases', 'hold_reason', r.id, r.hold_reason);
  return {
    /** Closed cases closed at or before `cutoff`, neither purged nor held, the longest closed first. */
    async due(cutoff: string, limit: number): Promise<{ id: string; closed_at: string }[]> {
      const rows = await db
        .selectFrom('cases')
        .select(['id', 'closed_at'])
        .where('state', '=', 'closed')
        .where('closed_at', 'is not', null)
        .where('closed_at', '<=', cutoff)
        .where('purged_at', 'is', null)
        .where('hold_at', 'is', null)
        .orderBy('closed_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ id: r.id, closed_at: r.closed_at! }));
    },

    /** How many of the case's messages still wait for their recipient. */
    async inFlightMessages(caseId: string): Promise<number> {
      const r = await db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('case_id', '=', caseId)
        .where('state', 'in', IN_FLIGHT)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },

    /** The case's retention columns, opened (the hold's reason in clear), or undefined. */
    async retentionOf(caseId: string) {
      const r = await db
        .selectFrom('cases')
        .select(['id', 'state', 'closed_at', 'hold_reason', 'hold_by', 'hold_at', 'purged_at'])
        .where('id', '=', caseId)
        .executeTakeFirst();
      return r && { ...r, hold_reason: openHoldReason(r) };
    },

    /** The hold's reason of a case row as read, in clear. */
    openHoldReason,

    /**
     * Deletes the case's documents and personal fields, keeping what evidence
     * needs: receipts, digests, sizes, types, the clock's dates, the audit log.
     * Undefined (and nothing changed) when the case is no longer due: purged
     * already, put on hold, or reopened in the meantime.
     */
    async purge(trx: Transaction<Database>, caseId: string, at: string): Promise<PurgeCounts | undefined> {
      const c = await trx
        .selectFrom('cases')
        .select(['clock'])
        .where('id', '=', caseId)
        .where('state', '=', 'closed')
        .where('purged_at', 'is', null)
        .where('hold_at', 'is', null)
        .executeTakeFirst();
      if (!c) return undefined;
      const docs = await trx.selectFrom('documents').select(['blob_key']).where('case_id', '=', caseId).execute();
      const resps = await trx.selectFrom('responses').select(['blob_key']).where('case_id', '=', caseId).execute();
      await trx.updateTable('documents').set({ title: null, blob_key: PURGED_BLOB_KEY }).where('case_id', '=', caseId).execute();
      await trx
        .updateTable('responses')
        .set({ content_enc: PURGED_SEALED, blob_key: PURGED_BLOB_KEY })
        .where('case_id', '=', caseId)
        .execute();
      const messages = await trx
        .updateTable('messages')
        .set({ envelope_enc: PURGED_SEALED })
        .where('case_id', '=', caseId)
        .executeTakeFirst();
      const events = await trx.selectFrom('case_events').select(['id', 'data']).where('case_id', '=', caseId).execute();
      let eventsChanged = 0;
      for (const e of events) {
        const data = withoutPersonalValues(e.data);
        if (data === e.data) continue;
        await trx.updateTable('case_events').set({ data }).where('id', '=', e.id).execute();
        eventsChanged++;
      }
      const consents = await trx.updateTable('consents').set({ given_by: '' }).where('case_id', '=', caseId).executeTakeFirst();
      await trx
        .updateTable('cases')
        .set({
          manifest_enc: PURGED_SEALED,
          treating_clinicians: '[]',
          consents: '{}',
          // the pseudonymous key that linked the citizen's cases goes too
          citizen_ref: `purged:${caseId}`,
          gp_ydernummer: null,
          clock: withoutPersonalValues(c.clock),
          purged_at: at,
          updated_at: at,
        })
        .where('id', '=', caseId)
        .execute();
      const blobKeys = [...docs, ...resps].map((d) => d.blob_key).filter((k) => k !== PURGED_BLOB_KEY);
      return {
        documents: docs.length,
        responses: resps.length,
        messages: Number(messages.numUpdatedRows),
        events: eventsChanged,
        consents: Number(consents.numUpdatedRows),
        blobKeys,
      };
    },

    /** Places (reason, by, at) or lifts (all null) the case's legal hold. False when the case is purged already. */
    async setHold(q: Q, caseId: string, hold: { reason: string; by: string; at: string } | null): Promise<boolean> {
      const r = await q
        .updateTable('cases')
        .set(
          hold
            ? { hold_reason: fields.sealText('cases', 'hold_reason', caseId, hold.reason), hold_by: hold.by, hold_at: hold.at }
            : { hold_reason: null, hold_by: null, hold_at: null },
        )
        .where('id', '=', caseId)
        .where('purged_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    },

    async insertEvent(q: Q, row: { case_id: string; at: string; event: CaseEvent; actor: string; data: string }): Promise<void> {
      await q.insertInto('case_events').values(sealEventRow(fields, row)).execute();
    },
  };
}
