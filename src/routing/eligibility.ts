/**
 * Who may work a case, and who gets it (API.md "Staff: work queues", routing
 * paragraph; RULES.md "Routing rules for region staff"). Pure functions: the
 * routing queue (issue 4) loads the case, the staff from the parties file, the
 * agreement in force and the open-case counts, and calls these.
 *
 * Decisions taken here (the source texts are §12 stk. 2, §13 stk. 3, §21 stk. 3
 * and §25 stk. 3 of the executive order, seeds/001_…):
 *
 * - Role. clinical-assessment and senior-pension-assessment are the clinical
 *   function's specialist attests (§13–§14, §27); every other service is the
 *   health coordinator's (§5–§11, §26, S§3). A team lead who holds neither
 *   role cannot do the work. Role is never overridable.
 *
 * - Municipality. A coordinator must serve the case's municipality, senior-
 *   pension cases included (the coordinator function is provided to a
 *   municipality under its cooperation agreement, §16; §25 stk. 3 speaks of
 *   the coordinator the region has made available to the municipality). Specialists are a shared
 *   regional function and need no municipality. Never overridable.
 *
 * - §12 stk. 2 applies to specialists too. The text speaks of the coordinator,
 *   but a specialist who is the citizen's GP or treating clinician would be
 *   assessing their own patient: the same conflict in medical-ethics terms,
 *   and the general impartiality rule (forvaltningslovens § 3) points the same
 *   way. Excluding is also the safe error: a wrong exclusion sends the case to
 *   someone else (or to a team lead, who assigns it to another); a wrong
 *   inclusion cannot be undone once the attest is written.
 *   A ydernummer identifies a practice, not a person, so a staff member whose
 *   ydernumre include the GP's practice is excluded even if a colleague there
 *   is the actual GP. §12 stk. 2 is absolute ("kan ikke"): no override sets it
 *   aside, a team lead's included.
 *
 * - §25 stk. 3 (agreement.excludedStaff) applies to every role. The right in
 *   the text is to a new coordinator, but the agreement field is the
 *   municipality's list of "staff not to work its cases", the agreement may
 *   add to the statutory minimum (§25 stk. 1), and staff can hold both roles:
 *   a person removed as coordinator would otherwise come back to the same
 *   municipality as its specialist.
 *
 * - §13 stk. 3 applies only to assessments (specialist work): someone in
 *   `priorCoordinators` is excluded unless the citizen's consent is recorded
 *   on the case (kind same-specialist-as-coordinator: who gave it, when, how).
 *   The reverse (a former specialist becoming coordinator) is not in the text
 *   and is not restricted.
 *
 * - Declared conflicts (`conflicts`, POST …/conflict, §12 stk. 2) are final
 *   for the case and can NOT be overridden by a team lead: the staff member
 *   has said they cannot work it, and nobody else can know better.
 *
 * - §21 stk. 3 (urgent cases) changes priority, never eligibility: urgency
 *   does not make a conflicted person eligible. Urgent cases go first in the
 *   queue and the worklist; capacity never holds any case back anyway.
 *
 * - Balancing (Bilag 1: a coordinator handles on average 3 new cases per
 *   working day, hence the default capacityPerDay 3): the assignee minimises
 *   (openCases + 1) / capacityPerDay, i.e. the load *after* taking the case;
 *   ties go to the smallest staff id (code-unit order, not locale). Capacity
 *   is a weight, not a ceiling: someone is chosen whenever anyone is eligible.
 *
 * Every exclusion is reported (not just the first), in a fixed order, so a
 * team lead sees the whole picture for an unassigned case.
 */
import type { StaffParty } from '../parties/parties.js';
import { DEFAULT_CAPACITY_PER_DAY } from '../parties/parties.js';
import type { Agreement, Service } from '../deadlines/types.js';

export type ExclusionRule = '§12 stk. 2' | '§13 stk. 3' | '§25 stk. 3' | 'conflict' | 'role' | 'municipality';

export interface Exclusion {
  rule: ExclusionRule;
  reason: string;
}

export interface RoutingCase {
  caseId: string;
  service: Service;
  municipalityCode: string;
  urgent: boolean;
  gpYdernummer: string | null;
  treatingClinicians: { ydernummer?: string; authorisationId?: string }[];
  consents: { sameSpecialistAsCoordinator?: boolean };
  /** staff ids who were the coordinator in this citizen's earlier/related cases (for §13 stk. 3) */
  priorCoordinators: string[];
  /** staff ids who declared a conflict (§12 stk. 2) on this case: never again */
  conflicts: string[];
  /** coordinators the case's municipality has asked to replace (§25 stk. 3, POST /v1/coordinator-changes) */
  municipalityExcluded?: string[];
}

export interface StaffLoad {
  staffId: string;
  openCases: number;
}

export type WorkRole = 'coordinator' | 'specialist';

const SPECIALIST_SERVICES: ReadonlySet<Service> = new Set<Service>(['clinical-assessment', 'senior-pension-assessment']);

/** The role that does the work: specialist attests (§13–§14, §27) need a specialist; everything else a coordinator. */
export function requiredRole(service: Service): WorkRole {
  return SPECIALIST_SERVICES.has(service) ? 'specialist' : 'coordinator';
}

/**
 * The parties file has no authorisationId for staff (yet); read it if a later
 * schema adds it, so a treating clinician given only by authorisationId is
 * matched the moment the data exists.
 */
function staffAuthorisationId(staff: StaffParty): string | undefined {
  const v = (staff as StaffParty & { authorisationId?: unknown }).authorisationId;
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

const normAuth = (s: string): string => s.trim().toUpperCase();

const ROLE_BASIS: Record<WorkRole, string> = {
  coordinator: 'the health coordinator function of §5–§11, §26 and S§3',
  specialist: 'the specialist attest of §13–§14 and §27',
};

/**
 * Every reason `staff` may not work case `c`; empty means eligible.
 * Order: role, municipality, conflict, §12 stk. 2, §13 stk. 3, §25 stk. 3.
 */
export function exclusionsFor(c: RoutingCase, staff: StaffParty, agreement: Agreement | null): Exclusion[] {
  const out: Exclusion[] = [];
  const role = requiredRole(c.service);
  const who = `Staff member ${staff.id}`;

  if (!staff.roles.includes(role)) {
    out.push({
      rule: 'role',
      reason:
        `${who} does not have the ${role} role, which the service ${c.service} needs (${ROLE_BASIS[role]}); ` +
        'a person without the role cannot do the work.',
    });
  }

  // §29 stk. 3: where Seniorpensionsenheden's agreement has this region give the §26 advice on behalf of all five
  // regions, the coordinator serves Seniorpensionsenheden for every municipality in the country, not the municipalities
  // this region provides coordinators to (a citizen of another region's municipality would otherwise find no one).
  const nationwide = c.service === 'senior-pension-advice' && agreement?.nationwideAdvice === true;
  if (role === 'coordinator' && !nationwide && !staff.municipalities.includes(c.municipalityCode)) {
    out.push({
      rule: 'municipality',
      reason:
        `${who} does not serve municipality ${c.municipalityCode}; ` +
        "a health coordinator must be one the region provides to the case's municipality under their cooperation agreement " +
        '(§16; §25 stk. 3: the coordinator the region has made available to the municipality).',
    });
  }

  if (c.conflicts.includes(staff.id)) {
    out.push({
      rule: 'conflict',
      reason: `${who} has declared a conflict in this case under §12 stk. 2 and is never assigned it again.`,
    });
  }

  // §12 stk. 2: GP, treating clinician. Applied to both roles (see the header).
  const analogy =
    role === 'specialist'
      ? ', which names the coordinator and is applied here to the specialist, who would otherwise assess their own patient'
      : '';
  if (c.gpYdernummer !== null && c.gpYdernummer !== '' && staff.ydernumre.includes(c.gpYdernummer)) {
    out.push({
      rule: '§12 stk. 2',
      reason:
        `${who} holds ydernummer ${c.gpYdernummer}, the citizen's GP practice, ` +
        `and may not advise or assess in a case where they are or have been the citizen's GP (§12 stk. 2${analogy}).`,
    });
  }
  const auth = staffAuthorisationId(staff);
  const treatingYdernumre = new Set<string>();
  let treatingByAuth = false;
  for (const t of c.treatingClinicians) {
    if (t.ydernummer !== undefined && t.ydernummer !== '' && staff.ydernumre.includes(t.ydernummer)) treatingYdernumre.add(t.ydernummer);
    if (
      auth !== undefined &&
      t.authorisationId !== undefined &&
      t.authorisationId.trim() !== '' &&
      normAuth(t.authorisationId) === normAuth(auth)
    ) {
      treatingByAuth = true;
    }
  }
  if (treatingYdernumre.size > 0 || treatingByAuth) {
    const how = [
      ...[...treatingYdernumre].sort().map((y) => `ydernummer ${y}`),
      ...(treatingByAuth ? [`authorisation id ${auth!.trim()}`] : []),
    ].join(' and ');
    out.push({
      rule: '§12 stk. 2',
      reason:
        `${who} is among the citizen's treating clinicians (${how}) ` +
        `and may not advise or assess in a case where they treat or have treated the citizen (§12 stk. 2${analogy}).`,
    });
  }

  if (role === 'specialist' && c.priorCoordinators.includes(staff.id) && c.consents.sameSpecialistAsCoordinator !== true) {
    out.push({
      rule: '§13 stk. 3',
      reason:
        `${who} was the health coordinator in this citizen's case, ` +
        'and under §13 stk. 3 the same person may do the clinical assessment only if the citizen agrees; no such consent is recorded.',
    });
  }

  if (c.municipalityExcluded?.includes(staff.id)) {
    out.push({
      rule: '§25 stk. 3',
      reason:
        `${who} is excluded: municipality ${c.municipalityCode} has asked for another health coordinator (§25 stk. 3), ` +
        'its right, which nobody sets aside.',
    });
  } else if (agreement !== null && agreement.excludedStaff.includes(staff.id)) {
    out.push({
      rule: '§25 stk. 3',
      reason:
        role === 'coordinator'
          ? `${who} is excluded by agreement ${agreement.id}: the municipality has exercised its right to a new health coordinator (§25 stk. 3).`
          : `${who} is excluded by agreement ${agreement.id}, which lists staff who may not work the municipality's cases ` +
            '(§25 stk. 3, applied by the agreement to specialists in the clinical function too).',
    });
  }

  return out;
}

/** Splits the staff into those who may work the case and those who may not (with every reason), preserving input order. */
export function eligibleStaff(
  c: RoutingCase,
  allStaff: readonly StaffParty[],
  agreement: Agreement | null,
): { eligible: StaffParty[]; excluded: { staffId: string; rules: Exclusion[] }[] } {
  const eligible: StaffParty[] = [];
  const excluded: { staffId: string; rules: Exclusion[] }[] = [];
  for (const s of allStaff) {
    const rules = exclusionsFor(c, s, agreement);
    if (rules.length === 0) eligible.push(s);
    else excluded.push({ staffId: s.id, rules });
  }
  return { eligible, excluded };
}

function capacityOf(s: StaffParty): number {
  const cap = s.capacityPerDay;
  return typeof cap === 'number' && Number.isFinite(cap) && cap > 0 ? cap : DEFAULT_CAPACITY_PER_DAY;
}

/**
 * The eligible staff member with the least open work after taking this case,
 * weighted by capacity: minimise (openCases + 1) / capacityPerDay; ties to the
 * smallest staff id. Staff absent from `loads` have 0 open cases; several
 * entries for one id are added up; a negative or non-finite count counts as 0
 * (bad load data must not stop routing). Null only when nobody is eligible.
 * The result does not depend on the order of either list.
 */
export function chooseAssignee(eligible: readonly StaffParty[], loads: readonly StaffLoad[]): StaffParty | null {
  const open = new Map<string, number>();
  for (const l of loads) {
    const n = typeof l.openCases === 'number' && Number.isFinite(l.openCases) && l.openCases > 0 ? l.openCases : 0;
    open.set(l.staffId, (open.get(l.staffId) ?? 0) + n);
  }
  let best: StaffParty | null = null;
  let bestLoad = 0;
  let bestCap = 1;
  for (const s of eligible) {
    const load = (open.get(s.id) ?? 0) + 1;
    const cap = capacityOf(s);
    if (best === null) {
      best = s;
      bestLoad = load;
      bestCap = cap;
      continue;
    }
    // load / cap < bestLoad / bestCap without dividing (both capacities are positive).
    const lhs = load * bestCap;
    const rhs = bestLoad * cap;
    if (lhs < rhs || (lhs === rhs && s.id < best.id)) {
      best = s;
      bestLoad = load;
      bestCap = cap;
    }
  }
  return best;
}

/**
 * A team lead's manual assignment (POST /v1/cases/{id}/assign). It obeys the
 * same exclusions as routing and nobody sets one aside: §12 stk. 2 is
 * absolute, §13 stk. 3 is lifted only by the citizen's recorded consent, and
 * §25 stk. 3 is the municipality's right. An unknown staff id is refused as
 * 'role'. On refusal every rule is listed.
 */
export function checkManualAssignment(
  c: RoutingCase,
  staff: StaffParty | undefined,
  agreement: Agreement | null,
): { ok: true } | { ok: false; rules: Exclusion[] } {
  if (staff === undefined) {
    return {
      ok: false,
      rules: [
        {
          rule: 'role',
          reason:
            `No staff member with that id is in the parties file; ` +
            `the service ${c.service} needs a ${requiredRole(c.service)} (${ROLE_BASIS[requiredRole(c.service)]}).`,
        },
      ],
    };
  }
  const rules = exclusionsFor(c, staff, agreement);
  return rules.length === 0 ? { ok: true } : { ok: false, rules };
}
