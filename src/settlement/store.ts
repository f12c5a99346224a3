/** The settlement feature's SQL: what was delivered when, and the closed months. */
import type { Kysely, Transaction } from 'kysely';
import type { Database, SettlementStatementsTable } from '../storage/schema.js';

/** The response kinds a statement prices (the attest once per case, §18). */
export const BILLABLE_KINDS = ['statement', 'pre-meeting-advice', 'specialist-attest'] as const;

export interface DeliveredRow {
  response_id: string;
  case_id: string;
  kind: string;
  created_at: string;
  service: string;
  sender_party_id: string;
  agreement_id: string | null;
}

export function createSettlementStore(db: Kysely<Database>) {
  return {
    /** responses of a billable kind sent in [from, to) (UTC instants), with their case's service, payer and agreement */
    delivered: (from: string, to: string): Promise<DeliveredRow[]> =>
      db
        .selectFrom('responses as r')
        .innerJoin('cases as c', 'c.id', 'r.case_id')
        .select(['r.id as response_id', 'r.case_id', 'r.kind', 'r.created_at', 'c.service', 'c.sender_party_id', 'c.agreement_id'])
        .where('r.created_at', '>=', from)
        .where('r.created_at', '<', to)
        .where('r.kind', 'in', BILLABLE_KINDS)
        .orderBy('r.created_at')
        .orderBy('r.id')
        .execute(),
    /** the instant of the first response of a billable kind on record (UTC), or null before any */
    async firstDelivered(): Promise<string | null> {
      const r = await db
        .selectFrom('responses')
        .select('created_at')
        .where('kind', 'in', BILLABLE_KINDS)
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst();
      return r?.created_at ?? null;
    },
    /** every attest of these cases, oldest first */
    async attests(caseIds: readonly string[]): Promise<{ id: string; case_id: string; created_at: string }[]> {
      if (caseIds.length === 0) return [];
      return db
        .selectFrom('responses')
        .select(['id', 'case_id', 'created_at'])
        .where('case_id', 'in', caseIds)
        .where('kind', '=', 'specialist-attest')
        .orderBy('created_at')
        .orderBy('id')
        .execute();
    },
    /** §14 stk. 2: the attests that asked for further assessment (the event names the attest and carries its price) */
    async furtherAssessments(caseIds: readonly string[]): Promise<{ case_id: string; data: string }[]> {
      if (caseIds.length === 0) return [];
      return db
        .selectFrom('case_events')
        .select(['case_id', 'data'])
        .where('case_id', 'in', caseIds)
        .where('event', '=', 'further-assessment-requested')
        .orderBy('at')
        .execute();
    },
    async closedMonths(): Promise<{ month: string; closed_at: string; closed_by: string }[]> {
      return db.selectFrom('settlement_months').selectAll().orderBy('month').execute();
    },
    /** the frozen statements of closed months */
    async frozen(months: readonly string[]): Promise<SettlementStatementsTable[]> {
      if (months.length === 0) return [];
      return db.selectFrom('settlement_statements').selectAll().where('month', 'in', months).orderBy('month').orderBy('payer').execute();
    },
    /** true when the month was closed meanwhile (the caller holds the transaction) */
    async isClosed(q: Kysely<Database> | Transaction<Database>, month: string): Promise<boolean> {
      return (await q.selectFrom('settlement_months').select('month').where('month', '=', month).executeTakeFirst()) !== undefined;
    },
    async insertClosed(
      trx: Transaction<Database>,
      month: { month: string; closed_at: string; closed_by: string },
      statements: readonly SettlementStatementsTable[],
    ): Promise<void> {
      await trx.insertInto('settlement_months').values(month).execute();
      if (statements.length > 0)
        await trx
          .insertInto('settlement_statements')
          .values([...statements])
          .execute();
    },
  };
}
