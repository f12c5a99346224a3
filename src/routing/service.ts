/**
 * Routing a complete case to one eligible staff member, exactly once
 * (API.md "Staff: work queues"; RULES.md routing rules; eligibility.ts has
 * the legal reasoning).
 *
 * Exactly once: the assignment is a conditional UPDATE (only while the case
 * is unassigned and still in the routing round the caller read), so two
 * gateway instances, or a retried job, can never assign twice; the loser sees
 * zero rows and does nothing.
 *
 * The database is the truth; BullMQ only carries "look at case X in round N".
 * Every function here re-reads the case before acting.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { CaseRow, Database } from '../storage/schema.js';
import type { Party, StaffParty } from '../parties/parties.js';
import { isStaff } from '../parties/roles.js';
import type { AgreementLookup, Service } from '../deadlines/types.js';
import { localDate } from '../deadlines/service.js';
import { appendAudit } from '../audit/audit.js';
import { enqueueIn } from '../outbox/outbox.js';
import { conflict, forbidden, notFound } from '../shared/problem.js';
import { validationProblem } from '../shared/validate.js';
import { checkManualAssignment, chooseAssignee, eligibleStaff, requiredRole, type Exclusion, type RoutingCase } from './eligibility.js';
import { createRoutingStore, ROUTABLE_STATES } from './store.js';
import { routingJob } from './types.js';

export interface RoutingMetricsSink {
  /** seconds from the (completing) receipt to the first assignment */
  observeAssignment(seconds: number, urgent: boolean): void;
  /** a case found nobody eligible */
  unassigned(): void;
}

export interface RoutingServiceDeps {
  db: Db;
  parties: { all(): readonly Party[]; get(id: string): Party | undefined };
  agreements: Pick<AgreementLookup, 'byId'>;
  log: Logger;
  now?: () => Date;
  metrics?: RoutingMetricsSink;
  /** after a commit that put a case (back) into routing: relay the outbox now */
  onRoutingRequested?: () => void;
  /** after an assignment committed */
  onAssigned?: (caseId: string, staffId: string) => void;
}

export type RouteOutcome =
  | { outcome: 'assigned'; staffId: string }
  | { outcome: 'unassigned'; excluded: { staffId: string; rules: Exclusion[] }[] }
  /** the case is gone, not complete, closed, already assigned, or in a later round */
  | { outcome: 'nothing-to-do'; why: string }
  /** another instance or job assigned it between our read and our update */
  | { outcome: 'lost-race' };

type Q = Kysely<Database> | Transaction<Database>;

/** A staff member's load, for team leads. */
export interface StaffLoad {
  staffId: string;
  name: string;
  roles: StaffParty['roles'];
  /** cases assigned to them and still open */
  openCases: number;
  capacityPerDay: number;
}

const SPECIALIST_SERVICES = new Set<string>(['clinical-assessment', 'senior-pension-assessment']);

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function createRoutingService(deps: RoutingServiceDeps) {
  const { db: database, log } = deps;
  const db = database.db;
  const store = createRoutingStore(database);
  const now = deps.now ?? (() => new Date());

  const staffList = (): StaffParty[] => deps.parties.all().filter(isStaff);
  const agreementOf = (c: Pick<CaseRow, 'agreement_id'>) => deps.agreements.byId(c.agreement_id);

  /**
   * Staff who were health coordinator in any of this citizen's coordinator
   * cases (for §13 stk. 3): everyone ever assigned such a case, from the
   * case events, so a reassignment does not erase who was coordinator.
   */
  async function priorCoordinators(q: Q, c: CaseRow): Promise<string[]> {
    const related = await store.otherCasesOfCitizen(q, c.citizen_ref, c.id);
    const coordinatorCases = related.filter((r) => !SPECIALIST_SERVICES.has(r.service));
    const ids = new Set<string>();
    for (const r of coordinatorCases) if (r.assigned_to) ids.add(r.assigned_to);
    for (const data of await store.assignedEventData(
      q,
      coordinatorCases.map((r) => r.id),
    )) {
      const staffId = parseJson<{ staffId?: unknown }>(data, {}).staffId;
      if (typeof staffId === 'string') ids.add(staffId);
    }
    return [...ids].sort();
  }

  async function routingCaseOf(q: Q, c: CaseRow): Promise<RoutingCase> {
    return {
      caseId: c.id,
      service: c.service as Service,
      municipalityCode: c.municipality_code,
      urgent: c.urgent === 1,
      gpYdernummer: c.gp_ydernummer,
      treatingClinicians: parseJson(c.treating_clinicians, []),
      consents: { sameSpecialistAsCoordinator: await store.hasConsent(q, c.id, 'same-specialist-as-coordinator') },
      priorCoordinators: requiredRole(c.service as Service) === 'specialist' ? await priorCoordinators(q, c) : [],
      conflicts: parseJson<string[]>(c.conflicts, []),
      municipalityExcluded: await store.municipalityExcluded(q, c.municipality_code),
    };
  }

  type Plan =
    | { kind: 'done'; outcome: RouteOutcome }
    | { kind: 'assign'; c: CaseRow; staffId: string }
    | { kind: 'unassigned'; c: CaseRow; excluded: { staffId: string; rules: Exclusion[] }[] };

  /** The routing job's work: assign case `caseId` if it is still waiting in `round`. */
  async function route(caseId: string, round?: number): Promise<RouteOutcome> {
    return (await routeMany([{ caseId, round }]))[0]!;
  }

  /**
   * Routes several cases with one read of the cases, one read of the open
   * loads and ONE transaction (one fsync) for all their assignments — the
   * routing queue's worker hands over every job that arrived while the
   * previous batch was committing (group commit). Each assignment is still a
   * conditional update of its own, so exactly-once holds per case; the loads
   * used for balancing include the assignments made earlier in the batch.
   */
  async function routeMany(requests: readonly { caseId: string; round?: number }[]): Promise<RouteOutcome[]> {
    if (requests.length === 0) return [];
    const ids = [...new Set(requests.map((r) => r.caseId))];
    const rows = new Map((await store.casesByIds(ids)).map((c) => [c.id, c]));
    const staff = staffList();
    const load = new Map((await store.openLoads(staff.map((s) => s.id))).map((l) => [l.staffId, l.openCases]));
    const planned = new Set<string>();

    const plans: Plan[] = [];
    for (const { caseId, round } of requests) {
      const c = rows.get(caseId);
      const done = (why: string): Plan => ({ kind: 'done', outcome: { outcome: 'nothing-to-do', why } });
      if (!c) plans.push(done('no such case'));
      else if (c.complete !== 1) plans.push(done('case not complete'));
      else if (c.assigned_to !== null) plans.push(done('already assigned'));
      else if (!(ROUTABLE_STATES as readonly string[]).includes(c.state)) plans.push(done(`state ${c.state}`));
      else if (round !== undefined && round !== c.routing_round) plans.push(done(`round ${round} superseded by ${c.routing_round}`));
      else if (planned.has(c.id)) plans.push(done('routed earlier in this batch'));
      else {
        planned.add(c.id);
        const { eligible, excluded } = eligibleStaff(await routingCaseOf(db, c), staff, agreementOf(c));
        if (eligible.length === 0) {
          plans.push({ kind: 'unassigned', c, excluded });
        } else {
          const chosen = chooseAssignee(
            eligible,
            [...load].map(([staffId, openCases]) => ({ staffId, openCases })),
          )!;
          load.set(chosen.id, (load.get(chosen.id) ?? 0) + 1);
          plans.push({ kind: 'assign', c, staffId: chosen.id });
        }
      }
    }
    if (plans.every((p) => p.kind === 'done')) return plans.map((p) => (p as { outcome: RouteOutcome }).outcome);

    const at = now().toISOString();
    const results = await database.db.transaction().execute(async (trx) => {
      const out: (RouteOutcome | { outcome: 'unassigned-unchanged'; excluded: { staffId: string; rules: Exclusion[] }[] })[] = [];
      for (const p of plans) {
        if (p.kind === 'done') {
          out.push(p.outcome);
        } else if (p.kind === 'assign') {
          const { c, staffId } = p;
          if (!(await store.assignIfWaiting(trx, c.id, c.routing_round, staffId, at))) {
            out.push({ outcome: 'lost-race' });
            continue;
          }
          await store.addEvent(trx, c.id, at, 'assigned', 'routing', { staffId, round: c.routing_round, by: 'routing' });
          await appendAudit(trx, database, {
            at,
            actor: 'routing',
            action: 'case-assigned',
            caseId: c.id,
            details: { staffId, round: c.routing_round },
          });
          out.push({ outcome: 'assigned', staffId });
        } else {
          // Only the transition to 'unassigned' is an event (the reconciler looks again every interval).
          const { c, excluded } = p;
          if (!(await store.markUnassigned(trx, c.id, c.routing_round, JSON.stringify({ at, excluded }), at))) {
            out.push({ outcome: 'unassigned-unchanged', excluded });
            continue;
          }
          const rules = [...new Set(excluded.flatMap((x) => x.rules.map((e) => e.rule)))].sort();
          await store.addEvent(trx, c.id, at, 'unassigned', 'routing', { round: c.routing_round, rules, staffConsidered: excluded.length });
          await appendAudit(trx, database, {
            at,
            actor: 'routing',
            action: 'case-unassigned',
            caseId: c.id,
            details: { round: c.routing_round, rules },
          });
          out.push({ outcome: 'unassigned', excluded });
        }
      }
      return out;
    });

    // After the commit: logs, metrics, hooks.
    return results.map((r, i) => {
      const p = plans[i]!;
      if (r.outcome === 'unassigned-unchanged') return { outcome: 'unassigned', excluded: r.excluded };
      if (r.outcome === 'assigned' && p.kind === 'assign') {
        const { c } = p;
        if (c.routing_round === 0) {
          const from = Date.parse(c.clock_started_at ?? c.received_at);
          deps.metrics?.observeAssignment(Math.max(0, (Date.parse(at) - from) / 1000), c.urgent === 1);
        }
        log.info({ caseId: c.id, staffId: r.staffId, round: c.routing_round, urgent: c.urgent === 1 }, 'case assigned');
        deps.onAssigned?.(c.id, r.staffId);
      } else if (r.outcome === 'unassigned' && p.kind === 'unassigned') {
        deps.metrics?.unassigned();
        log.warn(
          { caseId: p.c.id, service: p.c.service, municipalityCode: p.c.municipality_code, staffConsidered: r.excluded.length },
          'routing: nobody is eligible for this case; it is unassigned and shown to team leads',
        );
      }
      return r;
    });
  }

  /**
   * §12 stk. 2: the assigned staff member cannot work the case (GP, treating
   * clinician, or another conflict). The case goes back to routing, with this
   * person excluded from it for good.
   */
  async function declareConflict(caseId: string, staff: StaffParty, reason: string): Promise<{ round: number }> {
    const at = now().toISOString();
    const round = await db.transaction().execute(async (trx) => {
      const c = await store.caseById(trx, caseId, true);
      if (!c || c.assigned_to !== staff.id) throw notFound(`no case ${caseId} assigned to ${staff.id}`);
      if (c.state !== 'assigned')
        throw conflict(`case ${caseId} is ${c.state}; a conflict can only be declared on an open, assigned case`, 'case-state');
      const conflicts = [...new Set([...parseJson<string[]>(c.conflicts, []), staff.id])].sort();
      const next = c.routing_round + 1;
      await store.returnToRouting(trx, c.id, next, conflicts, at);
      await store.addEvent(trx, c.id, at, 'conflict-declared', staff.id, { staffId: staff.id, rule: '§12 stk. 2', reason, round: next });
      await appendAudit(trx, database, {
        at,
        actor: staff.id,
        action: 'conflict-declared',
        caseId: c.id,
        details: { rule: '§12 stk. 2', round: next },
      });
      await enqueueIn(trx, routingJob(c.id, next, c.urgent === 1), at);
      return next;
    });
    log.info({ caseId, staffId: staff.id, round }, 'conflict declared (§12 stk. 2): case back to routing');
    deps.onRoutingRequested?.();
    return { round };
  }

  /**
   * A team lead assigns (or reassigns) a case by hand. Every exclusion
   * applies and nobody sets one aside (§12 stk. 2 absolute; §13 stk. 3 only
   * with the citizen's recorded consent; §25 stk. 3 the municipality's right).
   */
  async function assignManually(caseId: string, lead: StaffParty, input: { staffId: string }): Promise<{ staffId: string }> {
    const { staffId } = input;
    const target = deps.parties.get(staffId);
    if (!isStaff(target)) {
      throw validationProblem(
        [{ path: 'staffId', message: `${staffId} is not a staff member in the parties file`, da: 'Ukendt medarbejder' }],
        {
          what: 'the request body',
        },
      );
    }
    const at = now().toISOString();
    await db.transaction().execute(async (trx) => {
      const c = await store.caseById(trx, caseId, true);
      if (!c) throw notFound(`no case ${caseId}`);
      if (c.complete !== 1)
        throw conflict(`case ${caseId} is awaiting its complete documents (§21 stk. 2) and cannot be assigned yet`, 'case-state');
      if (c.state === 'closed') throw conflict(`case ${caseId} is closed`, 'case-state');
      const check = checkManualAssignment(await routingCaseOf(trx, c), target, agreementOf(c));
      if (!check.ok) {
        throw conflict(
          `${staffId} may not work case ${caseId}: ${check.rules.map((r) => `${r.rule}: ${r.reason}`).join(' ')}`,
          'not-eligible',
          { rules: check.rules.map((r) => r.rule), reasons: check.rules },
        );
      }
      const next = c.routing_round + 1;
      await store.assign(trx, c.id, next, staffId, at);
      await store.addEvent(trx, c.id, at, 'assigned', lead.id, { staffId, round: next, by: lead.id, previous: c.assigned_to });
      await appendAudit(trx, database, {
        at,
        actor: lead.id,
        action: 'case-assigned-manually',
        caseId: c.id,
        details: { staffId, previous: c.assigned_to, round: next },
      });
    });
    log.info({ caseId, staffId, leadId: lead.id }, 'case assigned by a team lead');
    deps.onAssigned?.(caseId, staffId);
    return { staffId };
  }

  /**
   * §25 stk. 3: a municipality that judges the cooperation with a health
   * coordinator to have significant problems has the right to another one.
   * From now on the coordinator is excluded from the municipality's new cases,
   * and its open cases they hold are routed again unless their meeting has
   * been held. Nobody overrides the request.
   */
  async function requestCoordinatorChange(
    municipality: Party,
    input: { staffId: string; reason: string },
  ): Promise<{ id: string; municipalityCode: string; staffId: string; requestedAt: string; rerouted: string[] }> {
    const code = municipality.kind === 'municipality' ? municipality.municipalityCode : undefined;
    if (!code) throw forbidden('only a municipality asks for another coordinator (§25 stk. 3)', 'wrong-party-kind');
    const target = deps.parties.get(input.staffId);
    if (!isStaff(target) || !target.roles.includes('coordinator')) {
      throw validationProblem([{ path: 'staffId', message: `${input.staffId} is not a health coordinator in the parties file` }], {
        what: 'the request body',
      });
    }
    const at = now().toISOString();
    const today = localDate(at);
    const id = randomUUID();
    const rerouted = await db.transaction().execute(async (trx) => {
      await store.insertCoordinatorChange(trx, {
        id,
        municipality_code: code,
        requested_by: municipality.id,
        staff_id: input.staffId,
        reason: input.reason,
        requested_at: at,
      });
      const moved: string[] = [];
      for (const c of await store.openCasesOf(trx, code, input.staffId)) {
        const meetingDate = parseJson<{ meetingDate?: string }>(c.clock, {}).meetingDate;
        if (meetingDate !== undefined && meetingDate <= today) continue; // the meeting has been held: the case stays
        const next = c.routing_round + 1;
        await store.returnToRouting(trx, c.id, next, parseJson<string[]>(c.conflicts, []), at);
        await store.addEvent(trx, c.id, at, 'coordinator-change', municipality.id, {
          staffId: input.staffId,
          rule: '§25 stk. 3',
          round: next,
        });
        await enqueueIn(trx, routingJob(c.id, next, c.urgent === 1), at);
        moved.push(c.id);
      }
      await appendAudit(trx, database, {
        at,
        actor: municipality.id,
        action: 'coordinator-change-requested',
        caseId: null,
        details: { id, staffId: input.staffId, rule: '§25 stk. 3', rerouted: moved },
      });
      return moved;
    });
    log.info({ municipalityCode: code, staffId: input.staffId, rerouted: rerouted.length }, 'coordinator change requested (§25 stk. 3)');
    if (rerouted.length > 0) deps.onRoutingRequested?.();
    return { id, municipalityCode: code, staffId: input.staffId, requestedAt: at, rerouted };
  }

  /** §25 stk. 3 requests: a municipality sees its own, team leads every one. */
  async function coordinatorChanges(party: Party) {
    const own = party.kind === 'municipality' ? party.municipalityCode : undefined;
    const rows = await store.coordinatorChanges(own);
    return rows.map((r) => ({
      id: r.id,
      municipalityCode: r.municipality_code,
      requestedBy: r.requested_by,
      staffId: r.staff_id,
      reason: r.reason,
      requestedAt: r.requested_at,
    }));
  }

  /** Complete cases waiting for an assignee, with the job id their routing needs (for the reconciler). */
  async function waitingCases(): Promise<{ caseId: string; round: number; urgent: boolean }[]> {
    const rows = await store.waitingCases();
    return rows.map((r) => ({ caseId: r.id, round: Number(r.routing_round), urgent: r.urgent === 1 }));
  }

  /**
   * Every staff member of the parties file (in its order) with their open
   * (assigned) cases and the capacity per day routing balances against: one
   * grouped read of the cases.
   */
  async function staffLoad(): Promise<StaffLoad[]> {
    const staff = staffList();
    const open = new Map((await store.openLoads(staff.map((s) => s.id))).map((l) => [l.staffId, l.openCases]));
    return staff.map((s) => ({
      staffId: s.id,
      name: s.name,
      roles: [...s.roles],
      openCases: open.get(s.id) ?? 0,
      capacityPerDay: s.capacityPerDay,
    }));
  }

  return {
    staffLoad,
    route,
    routeMany,
    declareConflict,
    assignManually,
    waitingCases,
    countUnassigned: () => store.countUnassigned(),
    requestCoordinatorChange,
    coordinatorChanges,
    routingCaseOf: (c: CaseRow) => routingCaseOf(db, c),
  };
}

export type RoutingService = ReturnType<typeof createRoutingService>;
