import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkManualAssignment,
  chooseAssignee,
  eligibleStaff,
  exclusionsFor,
  requiredRole,
  type ExclusionRule,
  type RoutingCase,
  type StaffLoad,
} from '../../src/routing/eligibility.js';
import type { StaffParty } from '../../src/parties/parties.js';
import { SERVICES, type Agreement, type Service } from '../../src/deadlines/types.js';

// ---------------------------------------------------------------------------
// Fixtures

const GP = '111111';
const OTHER_GP = '222222';

function staff(id: string, over: Partial<StaffParty> & { authorisationId?: string } = {}): StaffParty {
  return {
    id,
    name: `Staff ${id}`,
    kind: 'staff',
    certificates: [],
    roles: ['coordinator'],
    municipalities: ['101'],
    ydernumre: [],
    capacityPerDay: 3,
    ...over,
  } as StaffParty;
}

function routingCase(over: Partial<RoutingCase> = {}): RoutingCase {
  return {
    caseId: 'case-1',
    service: 'rehab-team-advice',
    municipalityCode: '101',
    urgent: false,
    gpYdernummer: GP,
    treatingClinicians: [],
    consents: {},
    priorCoordinators: [],
    conflicts: [],
    ...over,
  };
}

function agreement(excludedStaff: string[] = []): Agreement {
  return {
    id: 'agr-101',
    municipalityCode: '101',
    validFrom: '2024-01-01',
    validTo: null,
    deadlines: {},
    rollForward: true,
    excludedStaff,
  };
}

const coordinator = (id = 'coord-a', over: Partial<StaffParty> & { authorisationId?: string } = {}) => staff(id, over);
const specialist = (id = 'spec-a', over: Partial<StaffParty> & { authorisationId?: string } = {}) =>
  staff(id, { roles: ['specialist'], municipalities: [], ...over });

const rulesOf = (xs: { rule: ExclusionRule }[]) => xs.map((x) => x.rule);

/** A reason is a human sentence that names the § it rests on. */
function assertReason(rule: ExclusionRule, reason: string): void {
  assert.match(reason, /^[A-Z].*\.$/s, `not a sentence: ${reason}`);
  assert.match(reason, /§/, `names no §: ${reason}`);
  if (rule.startsWith('§')) assert.ok(reason.includes(rule), `reason for ${rule} does not name it: ${reason}`);
  if (rule === 'conflict') assert.ok(reason.includes('§12 stk. 2'), `conflict reason does not name §12 stk. 2: ${reason}`);
}

// ---------------------------------------------------------------------------

describe('requiredRole: specialist for §13/§27 assessments, coordinator otherwise', () => {
  const expected: Record<Service, 'coordinator' | 'specialist'> = {
    'rehab-team-advice': 'coordinator',
    'ongoing-case-advice': 'coordinator',
    'early-pension-statement': 'coordinator',
    'clinical-assessment': 'specialist',
    'resource-course-conversation': 'coordinator',
    'senior-pension-advice': 'coordinator',
    'senior-pension-assessment': 'specialist',
  };
  for (const service of SERVICES) {
    test(`role (§13, §27, §5–§11, §26, S§3): ${service} → ${expected[service]}`, () => {
      assert.equal(requiredRole(service), expected[service]);
    });
  }
});

describe('exclusionsFor: one row per rule', () => {
  const rows: {
    name: string;
    c: RoutingCase;
    s: StaffParty;
    a?: Agreement | null;
    rules: ExclusionRule[];
  }[] = [
    // role
    {
      name: 'role: a coordinator serving the municipality is eligible for rehab-team advice',
      c: routingCase(),
      s: coordinator(),
      rules: [],
    },
    {
      name: "§29 stk. 3: with nationwide advice in Seniorpensionsenheden's agreement, §26 advice for another region's municipality is ours",
      c: routingCase({ service: 'senior-pension-advice', municipalityCode: '253' }),
      s: coordinator(),
      a: { ...agreement(), municipalityCode: undefined, partyId: 'spe', nationwideAdvice: true } as Agreement,
      rules: [],
    },
    {
      name: "§29 stk. 4: without it, a coordinator serves only the municipalities of the region's agreements",
      c: routingCase({ service: 'senior-pension-advice', municipalityCode: '253' }),
      s: coordinator(),
      a: { ...agreement(), municipalityCode: undefined, partyId: 'spe' } as Agreement,
      rules: ['municipality'],
    },
    {
      name: 'role: a specialist-only staff member cannot take a coordinator service',
      c: routingCase(),
      s: specialist('s', { municipalities: ['101'] }),
      rules: ['role'],
    },
    {
      name: 'role: a team lead without a working role cannot take a coordinator case',
      c: routingCase(),
      s: staff('tl', { roles: ['team-lead'] }),
      rules: ['role'],
    },
    {
      name: 'role: a team lead without a working role cannot take an assessment',
      c: routingCase({ service: 'clinical-assessment' }),
      s: staff('tl', { roles: ['team-lead'], municipalities: [] }),
      rules: ['role'],
    },
    {
      name: 'role: a coordinator-only staff member cannot write a §13 clinical assessment',
      c: routingCase({ service: 'clinical-assessment' }),
      s: coordinator(),
      rules: ['role'],
    },
    {
      name: 'role: a coordinator-only staff member cannot write a §27 senior-pension assessment',
      c: routingCase({ service: 'senior-pension-assessment' }),
      s: coordinator(),
      rules: ['role'],
    },
    {
      name: 'role: coordinator + specialist may take a §13 clinical assessment',
      c: routingCase({ service: 'clinical-assessment' }),
      s: staff('dual', { roles: ['coordinator', 'specialist'] }),
      rules: [],
    },
    {
      name: 'role: coordinator + team lead may take a coordinator case',
      c: routingCase({ service: 'ongoing-case-advice' }),
      s: staff('tlc', { roles: ['team-lead', 'coordinator'] }),
      rules: [],
    },
    // municipality
    {
      name: 'municipality (§16): a coordinator not serving the case municipality is excluded',
      c: routingCase({ municipalityCode: '147' }),
      s: coordinator(),
      rules: ['municipality'],
    },
    {
      name: 'municipality (§16): a senior-pension-advice coordinator must serve the municipality (§26)',
      c: routingCase({ service: 'senior-pension-advice', municipalityCode: '147' }),
      s: coordinator(),
      rules: ['municipality'],
    },
    {
      name: 'municipality (§16): a coordinator serving several municipalities incl. the case one is eligible',
      c: routingCase({ municipalityCode: '147' }),
      s: coordinator('c', { municipalities: ['101', '147'] }),
      rules: [],
    },
    {
      name: 'municipality (§16): a §13 specialist needs no municipality',
      c: routingCase({ service: 'clinical-assessment', municipalityCode: '147' }),
      s: specialist(),
      rules: [],
    },
    {
      name: 'municipality (§16): a §27 senior-pension specialist needs no municipality',
      c: routingCase({ service: 'senior-pension-assessment', municipalityCode: '147' }),
      s: specialist(),
      rules: [],
    },
    {
      name: 'role + municipality: a specialist with no municipalities on a coordinator case fails both',
      c: routingCase(),
      s: specialist(),
      rules: ['role', 'municipality'],
    },
    // declared conflict
    {
      name: 'conflict (§12 stk. 2 declared): a coordinator who declared a conflict is never assigned again',
      c: routingCase({ conflicts: ['coord-a'] }),
      s: coordinator(),
      rules: ['conflict'],
    },
    {
      name: 'conflict (§12 stk. 2 declared): a specialist who declared a conflict is never assigned again',
      c: routingCase({ service: 'clinical-assessment', conflicts: ['spec-a'] }),
      s: specialist(),
      rules: ['conflict'],
    },
    {
      name: 'conflict (§12 stk. 2 declared): someone else’s conflict does not exclude',
      c: routingCase({ conflicts: ['coord-b'] }),
      s: coordinator(),
      rules: [],
    },
    // §12 stk. 2
    {
      name: '§12 stk. 2: a coordinator whose ydernumre include the citizen’s GP is excluded',
      c: routingCase(),
      s: coordinator('c', { ydernumre: [OTHER_GP, GP] }),
      rules: ['§12 stk. 2'],
    },
    {
      name: '§12 stk. 2: a coordinator with other ydernumre is eligible',
      c: routingCase(),
      s: coordinator('c', { ydernumre: [OTHER_GP] }),
      rules: [],
    },
    {
      name: '§12 stk. 2: no GP on the case → no GP conflict',
      c: routingCase({ gpYdernummer: null }),
      s: coordinator('c', { ydernumre: [GP] }),
      rules: [],
    },
    {
      name: '§12 stk. 2: a coordinator among treatingClinicians by ydernummer is excluded',
      c: routingCase({ gpYdernummer: null, treatingClinicians: [{ authorisationId: 'X1' }, { ydernummer: OTHER_GP }] }),
      s: coordinator('c', { ydernumre: [OTHER_GP] }),
      rules: ['§12 stk. 2'],
    },
    {
      name: '§12 stk. 2: a coordinator among treatingClinicians by authorisationId is excluded',
      c: routingCase({ treatingClinicians: [{ authorisationId: 'ABC12' }] }),
      s: coordinator('c', { authorisationId: 'ABC12' }),
      rules: ['§12 stk. 2'],
    },
    {
      name: '§12 stk. 2: authorisationId matches regardless of case and surrounding spaces',
      c: routingCase({ treatingClinicians: [{ authorisationId: ' abc12 ' }] }),
      s: coordinator('c', { authorisationId: 'ABC12' }),
      rules: ['§12 stk. 2'],
    },
    {
      name: '§12 stk. 2: a different authorisationId does not exclude',
      c: routingCase({ treatingClinicians: [{ authorisationId: 'ABC13' }] }),
      s: coordinator('c', { authorisationId: 'ABC12' }),
      rules: [],
    },
    {
      name: '§12 stk. 2: blank GP, ydernummer or authorisationId match nobody, even blank staff data',
      c: routingCase({ gpYdernummer: '', treatingClinicians: [{ ydernummer: '' }, { authorisationId: ' ' }] }),
      s: coordinator('c', { ydernumre: [''], authorisationId: ' ' }),
      rules: [],
    },
    {
      name: '§12 stk. 2: GP and treating clinician are two separate findings',
      c: routingCase({ treatingClinicians: [{ ydernummer: OTHER_GP }] }),
      s: coordinator('c', { ydernumre: [GP, OTHER_GP] }),
      rules: ['§12 stk. 2', '§12 stk. 2'],
    },
    {
      name: '§12 stk. 2 (applied to specialists): a specialist who is the citizen’s GP is excluded',
      c: routingCase({ service: 'clinical-assessment' }),
      s: specialist('s', { ydernumre: [GP] }),
      rules: ['§12 stk. 2'],
    },
    {
      name: '§12 stk. 2 (applied to specialists): a specialist who treats the citizen is excluded',
      c: routingCase({ service: 'senior-pension-assessment', treatingClinicians: [{ ydernummer: OTHER_GP }] }),
      s: specialist('s', { ydernumre: [OTHER_GP] }),
      rules: ['§12 stk. 2'],
    },
    // §13 stk. 3
    {
      name: '§13 stk. 3: the case’s former coordinator may not assess without consent',
      c: routingCase({ service: 'clinical-assessment', priorCoordinators: ['dual'] }),
      s: staff('dual', { roles: ['coordinator', 'specialist'] }),
      rules: ['§13 stk. 3'],
    },
    {
      name: '§13 stk. 3: consent false is no consent',
      c: routingCase({ service: 'clinical-assessment', priorCoordinators: ['spec-a'], consents: { sameSpecialistAsCoordinator: false } }),
      s: specialist(),
      rules: ['§13 stk. 3'],
    },
    {
      name: '§13 stk. 3: with the citizen’s consent the former coordinator may assess',
      c: routingCase({ service: 'clinical-assessment', priorCoordinators: ['spec-a'], consents: { sameSpecialistAsCoordinator: true } }),
      s: specialist(),
      rules: [],
    },
    {
      name: '§13 stk. 3: applies to §27 senior-pension assessments too',
      c: routingCase({ service: 'senior-pension-assessment', priorCoordinators: ['spec-a'] }),
      s: specialist(),
      rules: ['§13 stk. 3'],
    },
    {
      name: '§13 stk. 3: does not restrict coordinator services (continuity is allowed)',
      c: routingCase({ priorCoordinators: ['coord-a'] }),
      s: coordinator(),
      rules: [],
    },
    {
      name: '§13 stk. 3: a specialist who was not the coordinator is eligible',
      c: routingCase({ service: 'clinical-assessment', priorCoordinators: ['spec-b'] }),
      s: specialist(),
      rules: [],
    },
    // §25 stk. 3
    {
      name: '§25 stk. 3: a coordinator on the agreement’s excludedStaff is excluded',
      c: routingCase(),
      s: coordinator(),
      a: agreement(['coord-a']),
      rules: ['§25 stk. 3'],
    },
    {
      name: '§25 stk. 3 (applied to specialists): a specialist on excludedStaff is excluded',
      c: routingCase({ service: 'clinical-assessment' }),
      s: specialist(),
      a: agreement(['spec-a']),
      rules: ['§25 stk. 3'],
    },
    {
      name: '§25 stk. 3: an agreement that excludes someone else does not exclude',
      c: routingCase(),
      s: coordinator(),
      a: agreement(['coord-b']),
      rules: [],
    },
    { name: '§25 stk. 3: no agreement in force → no agreement exclusions', c: routingCase(), s: coordinator(), a: null, rules: [] },
    // §21 stk. 3
    {
      name: '§21 stk. 3: urgency does not make a §12 stk. 2 conflicted coordinator eligible',
      c: routingCase({ urgent: true }),
      s: coordinator('c', { ydernumre: [GP] }),
      rules: ['§12 stk. 2'],
    },
    {
      name: '§21 stk. 3: an urgent case is open to an eligible coordinator',
      c: routingCase({ urgent: true }),
      s: coordinator(),
      rules: [],
    },
    // everything at once: every finding, in the documented order
    {
      name: 'all rules (role, municipality, conflict, §12 stk. 2, §13 stk. 3, §25 stk. 3) are reported together, in order',
      c: routingCase({
        service: 'clinical-assessment',
        conflicts: ['x'],
        priorCoordinators: ['x'],
        treatingClinicians: [{ ydernummer: OTHER_GP }],
      }),
      s: staff('x', { roles: ['team-lead'], ydernumre: [GP, OTHER_GP] }),
      a: agreement(['x']),
      rules: ['role', 'conflict', '§12 stk. 2', '§12 stk. 2', '§13 stk. 3', '§25 stk. 3'],
    },
    {
      name: 'all coordinator rules (role, municipality, conflict, §12 stk. 2, §25 stk. 3) are reported together, in order',
      c: routingCase({ municipalityCode: '147', conflicts: ['x'] }),
      s: staff('x', { roles: ['specialist'], ydernumre: [GP] }),
      a: agreement(['x']),
      rules: ['role', 'municipality', 'conflict', '§12 stk. 2', '§25 stk. 3'],
    },
  ];

  for (const r of rows) {
    test(r.name, () => {
      const got = exclusionsFor(r.c, r.s, r.a === undefined ? agreement() : r.a);
      assert.deepEqual(rulesOf(got), r.rules);
      for (const e of got) assertReason(e.rule, e.reason);
    });
  }

  test('§12 stk. 2 reasons say which ydernummer matched and that specialists are covered by analogy', () => {
    const [gp] = exclusionsFor(routingCase({ service: 'clinical-assessment' }), specialist('s', { ydernumre: [GP] }), null);
    assert.ok(gp);
    assert.ok(gp.reason.includes(GP), gp.reason);
    assert.match(gp.reason, /specialist/);
    const [treating] = exclusionsFor(
      routingCase({ gpYdernummer: null, treatingClinicians: [{ ydernummer: OTHER_GP }] }),
      coordinator('c', { ydernumre: [OTHER_GP] }),
      null,
    );
    assert.ok(treating);
    assert.match(treating.reason, /treating/);
    assert.ok(treating.reason.includes(OTHER_GP), treating.reason);
  });

  test('§25 stk. 3 reason names the agreement', () => {
    const [e] = exclusionsFor(routingCase(), coordinator(), agreement(['coord-a']));
    assert.ok(e);
    assert.ok(e.reason.includes('agr-101'), e.reason);
  });
});

// ---------------------------------------------------------------------------
// Arbitraries

const MUNIS = ['101', '147', '151'] as const;
const YDER = ['000001', '000002', '000003', '000004'] as const;
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] as const;

const staffArb: fc.Arbitrary<StaffParty> = fc
  .record({
    id: fc.constantFrom(...IDS),
    roles: fc.subarray<StaffParty['roles'][number]>(['coordinator', 'specialist', 'team-lead'], { minLength: 1 }),
    municipalities: fc.subarray([...MUNIS]),
    ydernumre: fc.subarray([...YDER]),
    capacityPerDay: fc.constantFrom(1, 2, 3, 4.5, 6, 10),
    authorisationId: fc.option(fc.constantFrom('A1', 'B2'), { nil: undefined }),
  })
  .map(({ authorisationId, ...s }) => staff(s.id, authorisationId === undefined ? s : { ...s, authorisationId }));

const staffListArb = fc.uniqueArray(staffArb, { selector: (s) => s.id, maxLength: IDS.length });

const caseArb: fc.Arbitrary<RoutingCase> = fc.record({
  caseId: fc.constant('case-p'),
  service: fc.constantFrom<Service>(...SERVICES),
  municipalityCode: fc.constantFrom(...MUNIS),
  urgent: fc.boolean(),
  gpYdernummer: fc.option(fc.constantFrom(...YDER), { nil: null }),
  treatingClinicians: fc.array(
    fc.oneof(fc.record({ ydernummer: fc.constantFrom(...YDER) }), fc.record({ authorisationId: fc.constantFrom('A1', 'B2', 'C3') })),
    { maxLength: 3 },
  ),
  consents: fc.record({ sameSpecialistAsCoordinator: fc.boolean() }, { requiredKeys: [] }),
  priorCoordinators: fc.subarray([...IDS]),
  conflicts: fc.subarray([...IDS]),
});

const agreementArb: fc.Arbitrary<Agreement | null> = fc.option(
  fc.subarray([...IDS]).map((ex) => agreement(ex)),
  { nil: null },
);

/** Eligible staff (unique ids) with loads; some staff have no load entry. */
const poolArb = staffListArb.chain((pool) =>
  fc.tuple(
    fc.constant(pool),
    fc.array(fc.record({ staffId: fc.constantFrom(...IDS), openCases: fc.integer({ min: 0, max: 40 }) }), { maxLength: 12 }),
  ),
);

function openOf(loads: readonly StaffLoad[], id: string): number {
  return loads.filter((l) => l.staffId === id).reduce((n, l) => n + l.openCases, 0);
}

const RUNS = { numRuns: 500 };

describe('eligibleStaff', () => {
  test('role/§12 stk. 2/§13 stk. 3/§25 stk. 3: splits staff exactly by exclusionsFor, keeping order', () => {
    fc.assert(
      fc.property(caseArb, staffListArb, agreementArb, (c, pool, a) => {
        const { eligible, excluded } = eligibleStaff(c, pool, a);
        assert.deepEqual(
          eligible.map((s) => s.id),
          pool.filter((s) => exclusionsFor(c, s, a).length === 0).map((s) => s.id),
        );
        assert.deepEqual(
          excluded,
          pool.filter((s) => exclusionsFor(c, s, a).length > 0).map((s) => ({ staffId: s.id, rules: exclusionsFor(c, s, a) })),
        );
        assert.equal(eligible.length + excluded.length, pool.length);
      }),
      RUNS,
    );
  });

  test('role: every eligible person holds the required role, and a coordinator serves the municipality (§16)', () => {
    fc.assert(
      fc.property(caseArb, staffListArb, agreementArb, (c, pool, a) => {
        const role = requiredRole(c.service);
        for (const s of eligibleStaff(c, pool, a).eligible) {
          assert.ok(s.roles.includes(role));
          if (role === 'coordinator') assert.ok(s.municipalities.includes(c.municipalityCode));
          assert.ok(!c.conflicts.includes(s.id));
          if (a) assert.ok(!a.excludedStaff.includes(s.id), '§25 stk. 3');
          if (c.gpYdernummer) assert.ok(!s.ydernumre.includes(c.gpYdernummer), '§12 stk. 2');
          if (role === 'specialist' && c.consents.sameSpecialistAsCoordinator !== true)
            assert.ok(!c.priorCoordinators.includes(s.id), '§13 stk. 3');
        }
      }),
      RUNS,
    );
  });

  test('every exclusion reason is a sentence naming its § (§12 stk. 2, §13 stk. 3, §25 stk. 3, §16, §13/§27)', () => {
    fc.assert(
      fc.property(caseArb, staffListArb, agreementArb, (c, pool, a) => {
        for (const x of eligibleStaff(c, pool, a).excluded) for (const e of x.rules) assertReason(e.rule, e.reason);
      }),
      RUNS,
    );
  });

  test('§21 stk. 3: urgency never changes who is eligible', () => {
    fc.assert(
      fc.property(caseArb, staffListArb, agreementArb, (c, pool, a) => {
        assert.deepEqual(eligibleStaff({ ...c, urgent: true }, pool, a), eligibleStaff({ ...c, urgent: false }, pool, a));
      }),
      RUNS,
    );
  });

  test('unassigned (API.md): nobody eligible gives an empty eligible list, and every staff member explained', () => {
    const c = routingCase({ municipalityCode: '147' });
    const { eligible, excluded } = eligibleStaff(c, [coordinator('a'), specialist('b')], null);
    assert.deepEqual(eligible, []);
    assert.deepEqual(
      excluded.map((x) => [x.staffId, rulesOf(x.rules)]),
      [
        ['a', ['municipality']],
        ['b', ['role', 'municipality']],
      ],
    );
    assert.equal(chooseAssignee(eligible, []), null);
  });
});

describe('chooseAssignee (Bilag 1: weighted by capacityPerDay)', () => {
  const rows: { name: string; eligible: StaffParty[]; loads: StaffLoad[]; expect: string | null }[] = [
    {
      name: 'Bilag 1: nobody eligible → null (the case is unassigned)',
      eligible: [],
      loads: [{ staffId: 'a', openCases: 0 }],
      expect: null,
    },
    { name: 'Bilag 1: a single eligible person gets the case', eligible: [coordinator('a')], loads: [], expect: 'a' },
    {
      name: 'Bilag 1: equal capacity → fewest open cases',
      eligible: [coordinator('a'), coordinator('b'), coordinator('c')],
      loads: [
        { staffId: 'a', openCases: 4 },
        { staffId: 'b', openCases: 2 },
        { staffId: 'c', openCases: 3 },
      ],
      expect: 'b',
    },
    {
      name: 'Bilag 1: staff without a load entry count as 0 open cases',
      eligible: [coordinator('a'), coordinator('b')],
      loads: [{ staffId: 'a', openCases: 1 }],
      expect: 'b',
    },
    {
      name: 'Bilag 1: capacity 6 with 5 open beats capacity 3 with 3 open (6/6 < 4/3)',
      eligible: [coordinator('small', { capacityPerDay: 3 }), coordinator('big', { capacityPerDay: 6 })],
      loads: [
        { staffId: 'small', openCases: 3 },
        { staffId: 'big', openCases: 5 },
      ],
      expect: 'big',
    },
    {
      name: 'Bilag 1: weighting counts the new case: capacity 1 with 0 open loses to capacity 3 with 1 open (1/1 > 2/3)',
      eligible: [coordinator('one', { capacityPerDay: 1 }), coordinator('three', { capacityPerDay: 3 })],
      loads: [{ staffId: 'three', openCases: 1 }],
      expect: 'three',
    },
    {
      name: 'Bilag 1: a tie goes to the smallest staff id',
      eligible: [coordinator('b'), coordinator('a'), coordinator('c')],
      loads: [],
      expect: 'a',
    },
    {
      name: 'Bilag 1: a weighted tie (6/6 = 3/3) goes to the smallest staff id',
      eligible: [coordinator('z', { capacityPerDay: 6 }), coordinator('y', { capacityPerDay: 3 })],
      loads: [
        { staffId: 'z', openCases: 5 },
        { staffId: 'y', openCases: 2 },
      ],
      expect: 'y',
    },
    {
      name: 'Bilag 1: capacity never leaves a case unassigned: everyone far over capacity, least loaded still gets it',
      eligible: [coordinator('a'), coordinator('b')],
      loads: [
        { staffId: 'a', openCases: 90 },
        { staffId: 'b', openCases: 60 },
      ],
      expect: 'b',
    },
    {
      name: 'Bilag 1: loads of staff who are not eligible are ignored',
      eligible: [coordinator('a'), coordinator('b')],
      loads: [
        { staffId: 'x', openCases: 0 },
        { staffId: 'a', openCases: 2 },
        { staffId: 'b', openCases: 1 },
      ],
      expect: 'b',
    },
    {
      name: 'Bilag 1: several load entries for one person are added up',
      eligible: [coordinator('a'), coordinator('b')],
      loads: [
        { staffId: 'a', openCases: 1 },
        { staffId: 'a', openCases: 2 },
        { staffId: 'b', openCases: 2 },
      ],
      expect: 'b',
    },
    {
      name: 'Bilag 1: a negative load counts as 0 (no jumping the queue)',
      eligible: [coordinator('a'), coordinator('b')],
      loads: [{ staffId: 'b', openCases: -5 }],
      expect: 'a',
    },
    {
      name: 'Bilag 1: a NaN load counts as 0 and does not break the comparison',
      eligible: [coordinator('b'), coordinator('a')],
      loads: [{ staffId: 'a', openCases: Number.NaN }],
      expect: 'a',
    },
    {
      name: 'Bilag 1: an invalid capacity falls back to the default 3',
      eligible: [coordinator('a', { capacityPerDay: 0 }), coordinator('b', { capacityPerDay: 3 })],
      loads: [
        { staffId: 'a', openCases: 1 },
        { staffId: 'b', openCases: 2 },
      ],
      expect: 'a',
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      assert.equal(chooseAssignee(r.eligible, r.loads)?.id ?? null, r.expect);
    });
  }

  test('property (Bilag 1): the chosen assignee is always one of the eligible', () => {
    fc.assert(
      fc.property(poolArb, ([pool, loads]) => {
        const chosen = chooseAssignee(pool, loads);
        if (chosen !== null) assert.ok(pool.includes(chosen));
      }),
      RUNS,
    );
  });

  test('property (Bilag 1): null only when nobody is eligible (capacity never leaves a case unassigned)', () => {
    fc.assert(
      fc.property(poolArb, ([pool, loads]) => {
        assert.equal(chooseAssignee(pool, loads) === null, pool.length === 0);
      }),
      RUNS,
    );
  });

  test('property (Bilag 1): with equal capacity the choice has the minimum openCases, smallest id on a tie', () => {
    fc.assert(
      fc.property(poolArb, fc.constantFrom(1, 3, 4.5), ([pool, loads], cap) => {
        const same = pool.map((s) => ({ ...s, capacityPerDay: cap }));
        const chosen = chooseAssignee(same, loads);
        if (same.length === 0) return;
        assert.ok(chosen);
        const min = Math.min(...same.map((s) => openOf(loads, s.id)));
        assert.equal(openOf(loads, chosen.id), min);
        const tied = same
          .filter((s) => openOf(loads, s.id) === min)
          .map((s) => s.id)
          .sort();
        assert.equal(chosen.id, tied[0]);
      }),
      RUNS,
    );
  });

  test('property (Bilag 1): the choice minimises (openCases + 1) / capacityPerDay', () => {
    fc.assert(
      fc.property(poolArb, ([pool, loads]) => {
        const chosen = chooseAssignee(pool, loads);
        if (!chosen) return;
        const score = (s: StaffParty) => (openOf(loads, s.id) + 1) / s.capacityPerDay;
        for (const s of pool) assert.ok(score(chosen) <= score(s) + 1e-12, `${chosen.id} ${score(chosen)} > ${s.id} ${score(s)}`);
      }),
      RUNS,
    );
  });

  test('property (Bilag 1): weighting: capacity 6 with 5 open is chosen over capacity 3 with 3 open, whatever the ids', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom(...IDS), { minLength: 2, maxLength: 2 }), fc.boolean(), ([bigId, smallId], flip) => {
        const big = coordinator(bigId!, { capacityPerDay: 6 });
        const small = coordinator(smallId!, { capacityPerDay: 3 });
        const loads = [
          { staffId: bigId!, openCases: 5 },
          { staffId: smallId!, openCases: 3 },
        ];
        assert.equal(chooseAssignee(flip ? [small, big] : [big, small], loads)?.id, bigId);
      }),
    );
  });

  test('property (Bilag 1): determinism: same answer every time, whatever the order of staff and loads', () => {
    fc.assert(
      fc.property(
        poolArb.chain(([pool, loads]) =>
          fc.tuple(
            fc.constant(pool),
            fc.constant(loads),
            fc.shuffledSubarray(pool, { minLength: pool.length }),
            fc.shuffledSubarray(loads, { minLength: loads.length }),
          ),
        ),
        ([pool, loads, pool2, loads2]) => {
          const first = chooseAssignee(pool, loads);
          assert.equal(chooseAssignee(pool, loads), first);
          assert.equal(chooseAssignee(pool2, loads2)?.id, first?.id);
        },
      ),
      RUNS,
    );
  });
});

describe('checkManualAssignment (team lead, API.md POST /v1/cases/{id}/assign)', () => {
  const gpConflict = coordinator('c', { ydernumre: [GP] });
  const rows: {
    name: string;
    c: RoutingCase;
    s: StaffParty | undefined;
    a?: Agreement | null;
    ok: boolean;
    rules: ExclusionRule[];
  }[] = [
    {
      name: 'role/§12 stk. 2: an eligible person is accepted',
      c: routingCase(),
      s: coordinator(),
      ok: true,
      rules: [],
    },
    { name: '§12 stk. 2: a GP match is refused', c: routingCase(), s: gpConflict, ok: false, rules: ['§12 stk. 2'] },
    {
      name: '§12 stk. 2 is absolute ("kan ikke"): a GP match is refused',
      c: routingCase(),
      s: gpConflict,
      ok: false,
      rules: ['§12 stk. 2'],
    },
    {
      name: '§13 stk. 3: refused',
      c: routingCase({ service: 'clinical-assessment', priorCoordinators: ['spec-a'] }),
      s: specialist(),
      ok: false,
      rules: ['§13 stk. 3'],
    },
    {
      name: "§25 stk. 3 is the municipality's right: excluded staff are refused",
      c: routingCase(),
      s: coordinator(),
      a: agreement(['coord-a']),
      ok: false,
      rules: ['§25 stk. 3'],
    },
    {
      name: "§25 stk. 3: a municipality's request for another coordinator excludes them",
      c: routingCase({ municipalityExcluded: ['coord-a'] }),
      s: coordinator(),
      ok: false,
      rules: ['§25 stk. 3'],
    },
    {
      name: '§25 stk. 3: refused',
      c: routingCase(),
      s: coordinator(),
      a: agreement(['coord-a']),
      ok: false,
      rules: ['§25 stk. 3'],
    },
    {
      name: 'role (§13): a person without the specialist role cannot be assigned an assessment',
      c: routingCase({ service: 'clinical-assessment' }),
      s: coordinator(),
      ok: false,
      rules: ['role'],
    },
    {
      name: 'role: a team lead without a working role cannot assign the case to themselves',
      c: routingCase(),
      s: staff('tl', { roles: ['team-lead'] }),
      ok: false,
      rules: ['role'],
    },
    {
      name: 'municipality (§16): a coordinator not serving the municipality cannot be assigned',
      c: routingCase({ municipalityCode: '147' }),
      s: coordinator(),
      ok: false,
      rules: ['municipality'],
    },
    {
      name: 'conflict (§12 stk. 2 declared): a declared conflict binds',
      c: routingCase({ conflicts: ['coord-a'] }),
      s: coordinator(),
      ok: false,
      rules: ['conflict'],
    },
    {
      name: '§12 stk. 2 + municipality: a refusal lists every rule',
      c: routingCase({ municipalityCode: '147' }),
      s: gpConflict,
      ok: false,
      rules: ['municipality', '§12 stk. 2'],
    },
    { name: 'role: an unknown staff id is refused', c: routingCase(), s: undefined, ok: false, rules: ['role'] },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = checkManualAssignment(r.c, r.s, r.a === undefined ? null : r.a);
      assert.equal(got.ok, r.ok);
      const rules = got.ok ? [] : got.rules;
      assert.deepEqual(rulesOf(rules), r.rules);
      for (const e of rules) assertReason(e.rule, e.reason);
    });
  }

  test('property (§12 stk. 2, §13 stk. 3, §25 stk. 3): manual assignment accepts exactly the eligible — nobody sets a rule aside', () => {
    fc.assert(
      fc.property(caseArb, staffArb, agreementArb, (c, s, a) => {
        const got = checkManualAssignment(c, s, a);
        const ex = exclusionsFor(c, s, a);
        assert.equal(got.ok, ex.length === 0);
        assert.deepEqual(got.ok ? [] : got.rules, ex);
      }),
      RUNS,
    );
  });
});
