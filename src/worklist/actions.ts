/**
 * What staff do on a case (API.md "Staff: work queues"), one implementation
 * for the JSON API (routes.ts) and the staff pages: who may act is checked
 * here, the change itself is the deadline or routing service's.
 *
 * - Recording on a case (meeting, consultation, extension, conflict) is for
 *   its assignee; anyone else gets the answer a missing case gets (404).
 * - Assigning by hand is for team leads; every exclusion applies.
 */
import type { StaffParty } from '../parties/parties.js';
import type { CaseClock, DeadlineService, ExtensionInput } from '../deadlines/service.js';
import type { RoutingService } from '../routing/service.js';
import type { WorklistService } from './service.js';

export interface CaseActionsDeps {
  worklist: Pick<WorklistService, 'visibleCase'>;
  deadlines: Pick<DeadlineService, 'bookMeeting' | 'bookConsultation' | 'agreeExtension'>;
  routing: Pick<RoutingService, 'declareConflict' | 'assignManually'>;
}

/** A deadline action's answer: the recomputed clock and what the change warns about. */
export interface ClockActionResult {
  caseId: string;
  clock: CaseClock;
  warnings: string[];
}

export function createCaseActions(deps: CaseActionsDeps) {
  const assigned = (staff: StaffParty, caseId: string) => deps.worklist.visibleCase(staff, caseId, ['assignee']);

  /** §21 stk. 1: the coordinator is booked for the rehabilitation-team meeting on `date` (stops the clock). */
  async function bookMeeting(staff: StaffParty, caseId: string, date: string): Promise<ClockActionResult> {
    const c = await assigned(staff, caseId);
    const r = await deps.deadlines.bookMeeting(c.id, date, staff.id);
    return { caseId: c.id, clock: r.clock, warnings: r.warnings };
  }

  /** §23: the consultation with the citizen is booked for `date`. */
  async function bookConsultation(staff: StaffParty, caseId: string, date: string): Promise<ClockActionResult> {
    const c = await assigned(staff, caseId);
    const r = await deps.deadlines.bookConsultation(c.id, date, staff.id);
    return { caseId: c.id, clock: r.clock, warnings: r.warnings };
  }

  /** §22, §23: another deadline agreed with the requester in this case. */
  async function agreeExtension(staff: StaffParty, caseId: string, body: ExtensionInput): Promise<ClockActionResult> {
    const c = await assigned(staff, caseId);
    const r = await deps.deadlines.agreeExtension(c.id, body, staff.id);
    return { caseId: c.id, clock: r.clock, warnings: r.warnings };
  }

  /** §12 stk. 2: the assignee cannot work the case; it goes back to routing without them. */
  async function declareConflict(
    staff: StaffParty,
    caseId: string,
    reason: string,
  ): Promise<{ caseId: string; state: 'received'; routingRound: number }> {
    const c = await assigned(staff, caseId);
    const r = await deps.routing.declareConflict(c.id, staff, reason);
    return { caseId: c.id, state: 'received', routingRound: r.round };
  }

  /** A team lead assigns the case by hand (every exclusion applies; nobody sets one aside). */
  async function assign(lead: StaffParty, caseId: string, body: { staffId: string }): Promise<{ caseId: string; assignedTo: string }> {
    const c = await deps.worklist.visibleCase(lead, caseId, ['team-lead']);
    const r = await deps.routing.assignManually(c.id, lead, body);
    return { caseId: c.id, assignedTo: r.staffId };
  }

  return { bookMeeting, bookConsultation, agreeExtension, declareConflict, assign };
}

export type CaseActions = ReturnType<typeof createCaseActions>;
