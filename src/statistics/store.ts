/** The statistics feature's SQL: reads only (cases and their stored events). */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

export interface StatsCaseRow {
  id: string;
  sender_party_id: string;
  municipality_code: string;
  service: string;
  urgent: number;
  received_at: string;
  clock_started_at: string | null;
  agreement_id: string | null;
}

export interface StatsEventRow {
  case_id: string;
  at: string;
  event: string;
  actor: string;
  data: string;
}

/** The events the waiting times read: the engine's clock events, and the final responses of cases without a deadline. */
const EVENTS = [
  'consultation-booked',
  'meeting-booked',
  'extension-agreed',
  'clock-stopped',
  'further-assessment-requested',
  'response-submitted',
] as const;

/** Ids per IN list (SQLite allows 32 766 parameters; PostgreSQL 65 535). */
const CHUNK = 500;

export function createStatisticsStore(db: Kysely<Database>) {
  return {
    /**
     * Cases received before `receivedBefore` (UTC instant), optionally of one sender, leaving out closed
     * cases last changed before `activeSince`: they were delivered before it (closing a case, and stopping
     * its clock, set updated_at), so they count in no period from that instant on.
     */
    cases: (o: { receivedBefore: string; activeSince: string; senderPartyId: string | null }): Promise<StatsCaseRow[]> =>
      db
        .selectFrom('cases')
        .select(['id', 'sender_party_id', 'municipality_code', 'service', 'urgent', 'received_at', 'clock_started_at', 'agreement_id'])
        .where('received_at', '<', o.receivedBefore)
        .where((eb) => eb.or([eb('state', '<>', 'closed'), eb('updated_at', '>=', o.activeSince)]))
        .$if(o.senderPartyId !== null, (q) => q.where('sender_party_id', '=', o.senderPartyId!))
        .orderBy('id')
        .execute(),

    /** The statistics' events of these cases, in stored order per case. */
    async events(caseIds: readonly string[]): Promise<StatsEventRow[]> {
      const out: StatsEventRow[] = [];
      for (let i = 0; i < caseIds.length; i += CHUNK) {
        const rows = await db
          .selectFrom('case_events')
          .select(['case_id', 'at', 'event', 'actor', 'data'])
          .where('case_id', 'in', caseIds.slice(i, i + CHUNK))
          .where('event', 'in', EVENTS)
          .orderBy('case_id')
          .orderBy('id')
          .execute();
        out.push(...rows);
      }
      return out;
    },

    /** The gateway's first receipt (UTC instant), or null before any: where its records begin (§17 stk. 4). */
    async firstReceivedAt(): Promise<string | null> {
      const row = await db.selectFrom('cases').select('received_at').orderBy('received_at').limit(1).executeTakeFirst();
      return row?.received_at ?? null;
    },

    /** Cases of these agreements received at or after `since` (UTC instant), for §17 stk. 4. */
    async receivedUnder(
      agreementIds: readonly string[],
      since: string,
    ): Promise<{ agreement_id: string; service: string; received_at: string }[]> {
      if (agreementIds.length === 0) return [];
      const rows = await db
        .selectFrom('cases')
        .select(['agreement_id', 'service', 'received_at'])
        .where('agreement_id', 'in', agreementIds)
        .where('received_at', '>=', since)
        .execute();
      return rows.map((r) => ({ agreement_id: r.agreement_id!, service: r.service, received_at: r.received_at }));
    },
  };
}
