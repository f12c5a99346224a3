/**
 * The routing feature's SQL. Assignments are conditional updates (only while
 * the case is unassigned, routable and in the round the caller read), so two
 * instances or a retried job can never assign twice: the loser changes 0 rows.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Db } from '../storage/db.js';
import type { CaseRow, CoordinatorChangesTable, Database } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import { fieldsOf, openCaseFields, sealEventRow } from '../storage/fields.js';

type Q = Kysely<Database> | Transaction<Database>;

/** Case states in which routing may assign. */
export const ROUTABLE_STATES = ['received', 'unassigned'] as const;

export function createRoutingStore(database: Pick<Db, 'db' | 'dialect'>) {
  const { db, dialect } = database;
  const changed = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) === 1;
  // treating clinicians, a conflict's reason and a municipality's reason are sealed (src/storage/fields.ts)
  const fields = fieldsOf(db);
  return {
    async caseById(q: Q, caseId: string, forUpdate = false): Promise<CaseRow | undefined> {
      const row = await q
        .selectFrom('cases')
        .selectAll()
        .where('id', '=', caseId)
        .$if(forUpdate && dialect === 'postgres', (qb) => qb.forUpdate())
        .executeTakeFirst();
      return openCaseFields(fields, row);
    },
    async casesByIds(ids: string[]): Promise<CaseRow[]> {
      if (ids.length === 0) return [];
      const rows = await db.selectFrom('cases').selectAll().where('id', 'in', ids).execute();
      return rows.map((r) => openCaseFields(fields, r));
    },
    /** The citizen's other cases (by citizen_ref) with their current assignee. */
    async otherCasesOfCitizen(q: Q, citizenRef: string, exceptCaseId: string): Promise<Pick<CaseRow, 'id' | 'service' | 'assigned_to'>[]> {
      return q
        .selectFrom('cases')
        .select(['id', 'service', 'assigned_to'])
        .where('citizen_ref', '=', citizenRef)
        .where('id', '!=', exceptCaseId)
        .execute();
    },
    /** The data of every 'assigned' event of these cases (who was ever assigned them). */
    async assignedEventData(q: Q, caseIds: string[]): Promise<string[]> {
      if (caseIds.length === 0) return [];
      const rows = await q
        .selectFrom('case_events')
        .select(['data'])
        .where('case_id', 'in', caseIds)
        .where('event', '=', 'assigned')
        .execute();
      return rows.map((r) => r.data);
    },
    /** Open (assigned) cases per staff member. */
    async openLoads(staffIds: string[]): Promise<{ staffId: string; openCases: number }[]> {
      if (staffIds.length === 0) return [];
      const rows = await db
        .selectFrom('cases')
        .select(['assigned_to', (eb) => eb.fn.countAll<number>().as('n')])
        .where('state', '=', 'assigned')
        .where('assigned_to', 'in', staffIds)
        .groupBy('assigned_to')
        .execute();
      return rows.map((r) => ({ staffId: r.assigned_to!, openCases: Number(r.n) }));
    },
    async addEvent(q: Q, caseId: string, at: string, event: CaseEvent, actor: string, data: Record<string, unknown>): Promise<void> {
      await q
        .insertInto('case_events')
        .values(sealEventRow(fields, { case_id: caseId, at, event, actor, data: JSON.stringify(data) }))
        .execute();
    },
    /** Assigns only while unassigned, routable and still in `round`; false when someone else was first. */
    async assignIfWaiting(q: Q, caseId: string, round: number, staffId: string, at: string): Promise<boolean> {
      const r = await q
        .updateTable('cases')
        .set({ assigned_to: staffId, assigned_at: at, state: 'assigned', routing_note: null, updated_at: at })
        .where('id', '=', caseId)
        .where('assigned_to', 'is', null)
        .where('state', 'in', [...ROUTABLE_STATES])
        .where('routing_round', '=', round)
        .executeTakeFirst();
      return changed(r);
    },
    /** Marks a freshly received case unassigned (nobody eligible); false when it changed meanwhile. */
    async markUnassigned(q: Q, caseId: string, round: number, note: string, at: string): Promise<boolean> {
      const r = await q
        .updateTable('cases')
        .set({ state: 'unassigned', routing_note: note, updated_at: at })
        .where('id', '=', caseId)
        .where('state', '=', 'received')
        .where('assigned_to', 'is', null)
        .where('routing_round', '=', round)
        .executeTakeFirst();
      return changed(r);
    },
    /** Back to routing in the next round, with `conflicts` never to be assigned again. */
    async returnToRouting(q: Q, caseId: string, round: number, conflicts: string[], at: string): Promise<void> {
      await q
        .updateTable('cases')
        .set({
          assigned_to: null,
          assigned_at: null,
          state: 'received',
          conflicts: JSON.stringify(conflicts),
          routing_round: round,
          routing_note: null,
          updated_at: at,
        })
        .where('id', '=', caseId)
        .execute();
    },
    /** A team lead's assignment: unconditional, in a new round. */
    async assign(q: Q, caseId: string, round: number, staffId: string, at: string): Promise<void> {
      await q
        .updateTable('cases')
        .set({ assigned_to: staffId, assigned_at: at, state: 'assigned', routing_round: round, routing_note: null, updated_at: at })
        .where('id', '=', caseId)
        .execute();
    },
    /** Complete cases waiting for an assignee. */
    async waitingCases(): Promise<Pick<CaseRow, 'id' | 'routing_round' | 'urgent'>[]> {
      return db
        .selectFrom('cases')
        .select(['id', 'routing_round', 'urgent'])
        .where('complete', '=', 1)
        .where('assigned_to', 'is', null)
        .where('state', 'in', [...ROUTABLE_STATES])
        .execute();
    },
    /** §25 stk. 3: the coordinators a municipality has asked to replace. */
    async municipalityExcluded(q: Q, municipalityCode: string): Promise<string[]> {
      const rows = await q.selectFrom('coordinator_changes').select('staff_id').where('municipality_code', '=', municipalityCode).execute();
      return [...new Set(rows.map((r) => r.staff_id))].sort();
    },
    async insertCoordinatorChange(q: Q, row: CoordinatorChangesTable): Promise<void> {
      await q
        .insertInto('coordinator_changes')
        .values({ ...row, reason: fields.sealText('coordinator_changes', 'reason', row.id, row.reason) })
        .execute();
    },
    /** Requests for another coordinator, newest first; of one municipality, or all. */
    async coordinatorChanges(municipalityCode?: string): Promise<CoordinatorChangesTable[]> {
      const rows = await db
        .selectFrom('coordinator_changes')
        .selectAll()
        .$if(municipalityCode !== undefined, (qb) => qb.where('municipality_code', '=', municipalityCode!))
        .orderBy('requested_at', 'desc')
        .execute();
      return rows.map((r) => ({ ...r, reason: fields.openText('coordinator_changes', 'reason', r.id, r.reason) }));
    },
    /** The municipality's open cases assigned to `staffId`. */
    async openCasesOf(q: Q, municipalityCode: string, staffId: string): Promise<CaseRow[]> {
      const rows = await q
        .selectFrom('cases')
        .selectAll()
        .where('municipality_code', '=', municipalityCode)
        .where('assigned_to', '=', staffId)
        .where('state', '=', 'assigned')
        .execute();
      return rows.map((r) => openCaseFields(fields, r));
    },
    /** A consent of this kind is recorded on the case (the consents feature records them). */
    async hasConsent(q: Q, caseId: string, kind: string): Promise<boolean> {
      const r = await q.selectFrom('consents').select('id').where('case_id', '=', caseId).where('kind', '=', kind).executeTakeFirst();
      return r !== undefined;
    },
    async countUnassigned(): Promise<number> {
      const r = await db
        .selectFrom('cases')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', '=', 'unassigned')
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },
  };
}
