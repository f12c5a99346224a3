import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { computeClock, validateExtension } from '../../src/deadlines/engine.js';
import type { Agreement, ClockEvent, ClockInput, Service } from '../../src/deadlines/types.js';

const kbh: Agreement = {
  id: 'kbh-2026',
  municipalityCode: '101',
  validFrom: '2026-01-01',
  validTo: '2027-12-31',
  deadlines: { 'ongoing-case-advice': 10, 'resource-course-conversation': 21, urgent: 3 },
  rollForward: true,
  excludedStaff: ['coord-x'],
};
const frb: Agreement = {
  id: 'frb-2026',
  municipalityCode: '147',
  validFrom: '2026-01-01',
  validTo: '2026-12-31',
  deadlines: { 'resource-course-conversation': 14 },
  rollForward: false,
  excludedStaff: [],
};
const spe: Agreement = {
  id: 'spe-region',
  partyId: 'spe',
  validFrom: '2026-01-01',
  validTo: null,
  deadlines: { 'senior-pension-advice': 10, 'senior-pension-assessment': 30 },
  rollForward: true,
  excludedStaff: [],
};

function input(service: Service | string, startedAt: string | null, extra: Partial<ClockInput> = {}): ClockInput {
  return { service, urgent: false, receivedAt: startedAt ?? '2026-03-02T08:00:00Z', startedAt, agreement: null, ...extra };
}

interface Row {
  name: string;
  input: ClockInput;
  kind: string;
  rule: string;
  dueDate: string;
  dueAt: string;
  source: string;
}

const rows: Row[] = [
  {
    name: '§22 ongoing-case-advice: 14 days by default',
    input: input('ongoing-case-advice', '2026-03-02T08:00:00Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-03-16',
    dueAt: '2026-03-16T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 ongoing-case-advice: agreement kbh-2026 sets 10 days (§20)',
    input: input('ongoing-case-advice', '2026-03-02T08:00:00Z', { agreement: kbh }),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-03-12',
    dueAt: '2026-03-12T22:59:59.999Z',
    source: 'agreement:kbh-2026',
  },
  {
    name: '§22 early-pension-statement (§10 case is a "sag om førtidspension"): 14 days',
    input: input('early-pension-statement', '2026-03-02T08:00:00Z', { agreement: kbh }),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-03-16',
    dueAt: '2026-03-16T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§21 stk. 1 rehab-team-advice: day 14 is Good Friday, rolls past Easter into summer time',
    input: input('rehab-team-advice', '2026-03-20T10:00:00Z'),
    kind: 'coordinator-available',
    rule: '§21 stk. 1',
    dueDate: '2026-04-07',
    dueAt: '2026-04-07T21:59:59.999Z',
    source: 'default',
  },
  {
    name: '§21 stk. 1 receipt at 2026-12-31T23:30Z is local 2027-01-01 (day 0)',
    input: input('rehab-team-advice', '2026-12-31T23:30:00Z'),
    kind: 'coordinator-available',
    rule: '§21 stk. 1',
    dueDate: '2027-01-15',
    dueAt: '2027-01-15T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 receipt at 22:59:59Z on 31 Dec is still local 31 Dec',
    input: input('ongoing-case-advice', '2026-12-31T22:59:59Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2027-01-14',
    dueAt: '2027-01-14T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 due on 24 Dec rolls forward to 28 Dec',
    input: input('ongoing-case-advice', '2026-12-10T09:00:00Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-12-28',
    dueAt: '2026-12-28T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 due on 31 Dec rolls forward to 4 Jan',
    input: input('ongoing-case-advice', '2026-12-17T09:00:00Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2027-01-04',
    dueAt: '2027-01-04T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 due on 5 June (Constitution Day) rolls forward to Monday 8 June',
    input: input('ongoing-case-advice', '2026-05-22T09:00:00Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-06-08',
    dueAt: '2026-06-08T21:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 agreement frb-2026 without roll-forward: due stays on 24 Dec',
    input: input('ongoing-case-advice', '2026-12-10T09:00:00Z', { agreement: frb }),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-12-24',
    dueAt: '2026-12-24T22:59:59.999Z',
    source: 'default',
  },
  {
    name: 'S§4 resource-course-conversation: agreement frb-2026 (14 days, no roll-forward)',
    input: input('resource-course-conversation', '2026-12-10T09:00:00Z', { agreement: frb }),
    kind: 'statement',
    rule: 'S§4',
    dueDate: '2026-12-24',
    dueAt: '2026-12-24T22:59:59.999Z',
    source: 'agreement:frb-2026',
  },
  {
    name: 'S§4 resource-course-conversation: agreement kbh-2026 (21 days)',
    input: input('resource-course-conversation', '2026-03-02T08:00:00Z', { agreement: kbh }),
    kind: 'statement',
    rule: 'S§4',
    dueDate: '2026-03-23',
    dueAt: '2026-03-23T22:59:59.999Z',
    source: 'agreement:kbh-2026',
  },
  {
    name: '§22 October DST: day 14 is Sunday 25 Oct, rolls to Monday (winter time)',
    input: input('ongoing-case-advice', '2026-10-11T09:00:00Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-10-26',
    dueAt: '2026-10-26T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 October DST without roll-forward: ends on the 25-hour day 25 Oct',
    input: input('ongoing-case-advice', '2026-10-11T09:00:00Z', { agreement: frb }),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-10-25',
    dueAt: '2026-10-25T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 March DST without roll-forward: ends on the 23-hour day 29 Mar',
    input: input('ongoing-case-advice', '2026-03-15T09:00:00Z', { agreement: frb }),
    kind: 'statement',
    rule: '§22',
    dueDate: '2026-03-29',
    dueAt: '2026-03-29T21:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 Store bededag 2023 (5 May) rolls forward',
    input: input('ongoing-case-advice', '2023-04-21T08:00:00Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2023-05-08',
    dueAt: '2023-05-08T21:59:59.999Z',
    source: 'default',
  },
  {
    name: '§22 former Store bededag 2024 (26 Apr) is an open day',
    input: input('ongoing-case-advice', '2024-04-12T08:00:00Z'),
    kind: 'statement',
    rule: '§22',
    dueDate: '2024-04-26',
    dueAt: '2024-04-26T21:59:59.999Z',
    source: 'default',
  },
  {
    name: '§23 clinical-assessment before a consultation is booked: start + 30 (API.md receipt example)',
    input: input('clinical-assessment', '2026-12-18T09:41:07.123Z'),
    kind: 'attest',
    rule: '§23',
    dueDate: '2027-01-18',
    dueAt: '2027-01-18T22:59:59.999Z',
    source: 'default',
  },
  {
    name: '§29 senior-pension-advice: agreement spe-region, 10 days',
    input: input('senior-pension-advice', '2026-03-02T08:00:00Z', { agreement: spe }),
    kind: 'advice',
    rule: '§29',
    dueDate: '2026-03-12',
    dueAt: '2026-03-12T22:59:59.999Z',
    source: 'agreement:spe-region',
  },
  {
    name: '§29 senior-pension-assessment: agreement spe-region, 30 days',
    input: input('senior-pension-assessment', '2026-03-02T08:00:00Z', { agreement: spe }),
    kind: 'attest',
    rule: '§29',
    dueDate: '2026-04-01',
    dueAt: '2026-04-01T21:59:59.999Z',
    source: 'agreement:spe-region',
  },
  {
    name: '§21 stk. 2 clock counts from the complete case (startedAt), not the first receipt',
    input: {
      service: 'rehab-team-advice',
      urgent: false,
      receivedAt: '2026-03-01T08:00:00Z',
      startedAt: '2026-03-05T08:00:00Z',
      agreement: null,
    },
    kind: 'coordinator-available',
    rule: '§21 stk. 1',
    dueDate: '2026-03-19',
    dueAt: '2026-03-19T22:59:59.999Z',
    source: 'default',
  },
];

describe('engine: deadlines per service (§21, §22, §23, §29, S§4)', () => {
  for (const r of rows) {
    test(r.name, () => {
      const { clock } = computeClock(r.input);
      assert.equal(clock.status, 'running');
      assert.equal(clock.startedAt, new Date(r.input.startedAt!).toISOString());
      assert.deepEqual(clock.deadlines, [{ kind: r.kind, rule: r.rule, dueDate: r.dueDate, dueAt: r.dueAt, source: r.source }]);
    });
  }

  test('§21 stk. 2 awaiting-complete-case: no clock, no deadlines', () => {
    const { clock } = computeClock(input('rehab-team-advice', null, { receivedAt: '2026-03-02T08:00:00Z' }));
    assert.deepEqual(clock, { status: 'awaiting-complete-case', startedAt: null, deadlines: [] });
  });

  const noDeadline: [string, Service, Agreement | null][] = [
    ['S§4 resource-course-conversation without an agreement', 'resource-course-conversation', null],
    ['S§4 resource-course-conversation with an agreement that sets none', 'resource-course-conversation', spe],
    ['§29 senior-pension-advice without an agreement', 'senior-pension-advice', null],
    ['§29 senior-pension-assessment with a municipality agreement that sets none', 'senior-pension-assessment', kbh],
  ];
  for (const [name, service, agreement] of noDeadline) {
    test(`${name}: no-deadline-agreed`, () => {
      const { clock, warnings } = computeClock(input(service, '2026-03-02T08:00:00Z', { agreement }));
      assert.deepEqual(clock, { status: 'no-deadline-agreed', startedAt: '2026-03-02T08:00:00.000Z', deadlines: [] });
      assert.ok(warnings.some((w) => w.includes('no statutory deadline')));
    });
  }

  test('§20 agreement applied outside its validity gives a warning naming it', () => {
    const { warnings } = computeClock(
      input('ongoing-case-advice', '2025-12-31T22:00:00Z', { receivedAt: '2025-12-31T22:00:00Z', agreement: kbh }),
    );
    assert.ok(
      warnings.some((w) => w.includes('kbh-2026') && w.includes('2025-12-31')),
      warnings.join('\n'),
    );
  });

  test('§20 agreement inside its validity gives no warning', () => {
    const { warnings } = computeClock(input('ongoing-case-advice', '2025-12-31T23:00:00Z', { agreement: kbh }));
    assert.deepEqual(warnings, []);
  });

  test('engine refuses a service that is no name and a zone-less startedAt; a name no agreement defines has no deadline', () => {
    assert.throws(() => computeClock(input(42 as unknown as Service, '2026-03-02T08:00:00Z')), TypeError);
    assert.equal(computeClock(input('nope', '2026-03-02T08:00:00Z')).clock.status, 'no-deadline-agreed');
    assert.throws(() => computeClock(input('ongoing-case-advice', '2026-03-02T08:00:00')), RangeError);
  });
});

describe('engine: §21 stk. 3 urgent rehab-team cases', () => {
  test('§21 stk. 3 urgent with an agreed target adds urgent-target (3 days) beside the 14-day deadline', () => {
    const { clock } = computeClock(input('rehab-team-advice', '2026-03-02T08:00:00Z', { urgent: true, agreement: kbh }));
    assert.deepEqual(clock.deadlines, [
      { kind: 'coordinator-available', rule: '§21 stk. 1', dueDate: '2026-03-16', dueAt: '2026-03-16T22:59:59.999Z', source: 'default' },
      { kind: 'urgent-target', rule: '§21 stk. 3', dueDate: '2026-03-05', dueAt: '2026-03-05T22:59:59.999Z', source: 'agreement:kbh-2026' },
    ]);
  });

  test('§21 stk. 3 urgent without an agreed target: only the §21 stk. 1 deadline', () => {
    const { clock } = computeClock(input('rehab-team-advice', '2026-03-02T08:00:00Z', { urgent: true, agreement: frb }));
    assert.deepEqual(
      clock.deadlines.map((d) => d.kind),
      ['coordinator-available'],
    );
  });

  test('§21 stk. 3 not urgent: the agreed urgent target is not used', () => {
    const { clock } = computeClock(input('rehab-team-advice', '2026-03-02T08:00:00Z', { urgent: false, agreement: kbh }));
    assert.deepEqual(
      clock.deadlines.map((d) => d.kind),
      ['coordinator-available'],
    );
  });

  test('§21 stk. 3 applies to rehab-team cases only', () => {
    const { clock } = computeClock(input('ongoing-case-advice', '2026-03-02T08:00:00Z', { urgent: true, agreement: kbh }));
    assert.deepEqual(
      clock.deadlines.map((d) => d.kind),
      ['statement'],
    );
  });

  test('§21 stk. 3 urgent target is never later than the 14-day deadline (capped, with a warning)', () => {
    const slow: Agreement = { ...kbh, id: 'slow', deadlines: { urgent: 20 } };
    const { clock, warnings } = computeClock(input('rehab-team-advice', '2026-03-02T08:00:00Z', { urgent: true, agreement: slow }));
    assert.equal(clock.deadlines[1]!.kind, 'urgent-target');
    assert.equal(clock.deadlines[1]!.dueDate, '2026-03-16');
    assert.equal(clock.deadlines[1]!.dueAt, clock.deadlines[0]!.dueAt);
    assert.ok(warnings.some((w) => w.includes('§21 stk. 3') && w.includes('capped')));
  });

  test('§21 stk. 1 agreement may set the rehab-team deadline itself', () => {
    const a: Agreement = { ...kbh, id: 'a7', deadlines: { 'rehab-team-advice': 7 } };
    const { clock } = computeClock(input('rehab-team-advice', '2026-03-02T08:00:00Z', { agreement: a }));
    assert.equal(clock.deadlines[0]!.dueDate, '2026-03-09');
    assert.equal(clock.deadlines[0]!.source, 'agreement:a7');
  });
});

describe('engine: §16 stk. 3–4 supplementary services', () => {
  const start = '2026-03-02T08:00:00Z';
  const withService = (deadlineDays?: number): Agreement => ({
    ...kbh,
    id: 'kbh-plus',
    services: [
      {
        id: 'kontanthjaelp-advice',
        name: 'Rådgivning i kontanthjælpssager',
        responseKinds: ['statement'],
        ...(deadlineDays ? { deadlineDays } : {}),
      },
    ],
  });
  test('the agreement sets the deadline, named §16 stk. 3', () => {
    const { clock } = computeClock(input('kontanthjaelp-advice', start, { agreement: withService(10) }));
    assert.deepEqual(
      clock.deadlines.map((d) => [d.kind, d.rule, d.dueDate, d.source]),
      [['service', '§16 stk. 3', '2026-03-12', 'agreement:kbh-plus']],
    );
  });
  test('never a statutory default: without agreed days, or without the agreement, no-deadline-agreed', () => {
    assert.equal(computeClock(input('kontanthjaelp-advice', start, { agreement: withService() })).clock.status, 'no-deadline-agreed');
    const orphan = computeClock(input('kontanthjaelp-advice', start));
    assert.equal(orphan.clock.status, 'no-deadline-agreed');
    assert.ok(orphan.warnings.some((w) => w.includes('§16 stk. 3')));
  });
});

describe('engine: §14 stk. 2 overall assessment after further assessment', () => {
  const start = '2026-03-02T08:00:00Z';
  const attested: ClockEvent[] = [
    { event: 'clock-stopped', at: '2026-03-20T10:00:00Z' },
    { event: 'further-assessment-requested', at: '2026-03-20T10:00:00Z' },
  ];
  test('with an agreed deadline the clock runs on for the overall assessment, and the attest keeps its outcome', () => {
    const a: Agreement = { ...kbh, id: 'oa', deadlines: { 'overall-assessment': 30 } };
    const { clock } = computeClock(input('clinical-assessment', start, { agreement: a, events: attested }));
    assert.equal(clock.status, 'running');
    assert.deepEqual(
      clock.deadlines.map((d) => [d.kind, d.rule, d.dueDate, d.source]),
      [['overall-assessment', '§14 stk. 2', '2026-04-20', 'agreement:oa']], // 19 Apr is a Sunday
    );
    assert.deepEqual(clock.attest, { stoppedAt: '2026-03-20T10:00:00.000Z', outcome: 'met', daysLate: 0 });
    const done = computeClock(
      input('clinical-assessment', start, { agreement: a, events: [...attested, { event: 'clock-stopped', at: '2026-04-22T09:00:00Z' }] }),
    ).clock;
    assert.deepEqual([done.status, done.outcome, done.daysLate], ['stopped', 'missed', 2]);
  });

  test('without one it shows no-deadline-agreed, never silence', () => {
    const { clock, warnings } = computeClock(input('clinical-assessment', start, { events: attested }));
    assert.equal(clock.status, 'no-deadline-agreed');
    assert.deepEqual(clock.deadlines, []);
    assert.equal(clock.attest?.outcome, 'met');
    assert.ok(warnings.some((w) => w.includes('§14 stk. 2')));
  });
});

describe('engine: §23 clinical assessment', () => {
  const start = '2026-03-02T08:00:00Z'; // +30 = Wed 2026-04-01
  const booked = (date: string, at = '2026-03-03T10:00:00Z'): ClockEvent => ({ event: 'consultation-booked', at, date });
  const table: { name: string; consultation: string; dueDate: string; source: string; warning: RegExp | null }[] = [
    {
      name: 'consultation leg wins: consultation + 14',
      consultation: '2026-03-10',
      dueDate: '2026-03-24',
      source: 'default',
      warning: null,
    },
    {
      name: 'consultation + 14 lands on the 30-day date: 30-day leg, late-booking warning',
      consultation: '2026-03-18',
      dueDate: '2026-04-01',
      source: 'default',
      warning: /§23.*so late/,
    },
    {
      name: 'consultation + 14 rolls past Easter: 30-day leg wins, late-booking warning',
      consultation: '2026-03-20',
      dueDate: '2026-04-01',
      source: 'default',
      warning: /§23.*so late.*2026-04-07/,
    },
    {
      name: 'consultation after the 30-day due date: warning',
      consultation: '2026-04-02',
      dueDate: '2026-04-01',
      source: 'default',
      warning: /§23.*after the 30-day due date 2026-04-01/,
    },
  ];
  for (const r of table) {
    test(`§23 ${r.name}`, () => {
      const { clock, warnings } = computeClock(input('clinical-assessment', start, { events: [booked(r.consultation)] }));
      assert.equal(clock.status, 'running');
      assert.equal(clock.deadlines.length, 1);
      assert.equal(clock.deadlines[0]!.kind, 'attest');
      assert.equal(clock.deadlines[0]!.rule, '§23');
      assert.equal(clock.deadlines[0]!.dueDate, r.dueDate);
      assert.equal(clock.deadlines[0]!.source, r.source);
      if (r.warning) {
        assert.equal(warnings.length, 1, warnings.join('\n'));
        assert.match(warnings[0]!, r.warning);
      } else {
        assert.deepEqual(warnings, []);
      }
    });
  }

  test('§23 agreement overrides the 30 days', () => {
    const a: Agreement = { ...kbh, id: 'ca45', deadlines: { 'clinical-assessment': 45 } };
    const { clock } = computeClock(input('clinical-assessment', start, { agreement: a }));
    assert.equal(clock.deadlines[0]!.dueDate, '2026-04-16');
    assert.equal(clock.deadlines[0]!.source, 'agreement:ca45');
  });

  test('§23 consultation leg with the agreement: still 14 days after the consultation', () => {
    const a: Agreement = { ...kbh, id: 'ca45', deadlines: { 'clinical-assessment': 45 } };
    const { clock, warnings } = computeClock(input('clinical-assessment', start, { agreement: a, events: [booked('2026-03-20')] }));
    assert.equal(clock.deadlines[0]!.dueDate, '2026-04-07');
    assert.equal(clock.deadlines[0]!.source, 'default');
    assert.deepEqual(warnings, []);
  });

  test('§23 rebooked consultation: the latest booking (by time recorded) counts, whatever the array order', () => {
    const events = [booked('2026-03-10', '2026-03-05T10:00:00Z'), booked('2026-03-12', '2026-03-04T10:00:00Z')];
    const { clock } = computeClock(input('clinical-assessment', start, { events }));
    assert.equal(clock.deadlines[0]!.dueDate, '2026-03-24');
  });

  test('§23 consultation booking with an invalid date is ignored with a warning', () => {
    const { clock, warnings } = computeClock(input('clinical-assessment', start, { events: [booked('2026-02-30')] }));
    assert.equal(clock.deadlines[0]!.dueDate, '2026-04-01');
    assert.ok(warnings.some((w) => w.includes('consultation-booked') && w.includes('ignored')));
  });
});

describe('engine: extensions (§22, §23 2. pkt.)', () => {
  const start = '2026-03-02T08:00:00Z'; // §22 default due 2026-03-16
  const ext = (dueDate: string, at: string, reason = 'citizen hospitalised'): ClockEvent => ({
    event: 'extension-agreed',
    at,
    kind: 'statement',
    dueDate,
    reason,
    agreedWith: 'Mette (Københavns Kommune)',
    actor: 'coord-anna',
  });

  test('§22 extension replaces the due date exactly as agreed (no roll-forward on a Saturday) and keeps the original', () => {
    const { clock } = computeClock(input('ongoing-case-advice', start, { events: [ext('2026-03-28', '2026-03-10T09:00:00Z')] }));
    assert.deepEqual(clock.deadlines, [
      {
        kind: 'statement',
        rule: '§22',
        dueDate: '2026-03-28',
        dueAt: '2026-03-28T22:59:59.999Z',
        source: 'default',
        originalDueDate: '2026-03-16',
        extension: { reason: 'citizen hospitalised', agreedWith: 'Mette (Københavns Kommune)' },
      },
    ]);
  });

  test('§22 the latest extension wins; originalDueDate stays the computed date', () => {
    const events = [ext('2026-04-10', '2026-03-20T09:00:00Z', 'second'), ext('2026-03-28', '2026-03-10T09:00:00Z', 'first')];
    const { clock } = computeClock(input('ongoing-case-advice', start, { events }));
    const d = clock.deadlines[0]!;
    assert.equal(d.dueDate, '2026-04-10');
    assert.equal(d.dueAt, '2026-04-10T21:59:59.999Z');
    assert.equal(d.originalDueDate, '2026-03-16');
    assert.equal(d.extension?.reason, 'second');
  });

  test('§22 extension of a kind the clock does not have is ignored with a warning', () => {
    const e: ClockEvent = {
      ...(ext('2026-03-28', '2026-03-10T09:00:00Z') as Extract<ClockEvent, { event: 'extension-agreed' }>),
      kind: 'attest',
    };
    const { clock, warnings } = computeClock(input('ongoing-case-advice', start, { events: [e] }));
    assert.equal(clock.deadlines[0]!.dueDate, '2026-03-16');
    assert.equal(clock.deadlines[0]!.extension, undefined);
    assert.ok(warnings.some((w) => w.includes('"attest"')));
  });

  test('§23 extension of the attest deadline', () => {
    const e: ClockEvent = {
      event: 'extension-agreed',
      at: '2026-03-20T09:00:00Z',
      kind: 'attest',
      dueDate: '2026-04-20',
      reason: 'r',
      agreedWith: 'k',
    };
    const { clock } = computeClock(input('clinical-assessment', start, { events: [e] }));
    assert.equal(clock.deadlines[0]!.dueDate, '2026-04-20');
    assert.equal(clock.deadlines[0]!.originalDueDate, '2026-04-01');
  });

  const running = computeClock(input('ongoing-case-advice', start)).clock; // due 2026-03-16
  const validations: { name: string; clock: typeof running; kind: string; dueDate: string; error: RegExp | null }[] = [
    { name: 'later date accepted', clock: running, kind: 'statement', dueDate: '2026-03-30', error: null },
    { name: 'same date accepted', clock: running, kind: 'statement', dueDate: '2026-03-16', error: null },
    {
      name: 'earlier date refused',
      clock: running,
      kind: 'statement',
      dueDate: '2026-03-15',
      error: /earlier than the current due date 2026-03-16/,
    },
    { name: 'unknown kind refused', clock: running, kind: 'attest', dueDate: '2026-03-30', error: /no deadline of kind "attest"/ },
    { name: 'invalid date refused', clock: running, kind: 'statement', dueDate: '2026-02-30', error: /YYYY-MM-DD/ },
    {
      name: 'awaiting-complete-case refused',
      clock: computeClock(input('ongoing-case-advice', null)).clock,
      kind: 'statement',
      dueDate: '2026-03-30',
      error: /not started/,
    },
    {
      name: 'no-deadline-agreed refused',
      clock: computeClock(input('resource-course-conversation', start)).clock,
      kind: 'statement',
      dueDate: '2026-03-30',
      error: /no deadline/,
    },
    {
      name: 'stopped clock refused',
      clock: computeClock(input('ongoing-case-advice', start, { events: [{ event: 'clock-stopped', at: '2026-03-10T09:00:00Z' }] })).clock,
      kind: 'statement',
      dueDate: '2026-03-30',
      error: /stopped/,
    },
  ];
  for (const v of validations) {
    test(`§22 validateExtension: ${v.name}`, () => {
      const result = validateExtension(v.clock, v.kind, v.dueDate);
      if (v.error) assert.match(result ?? '', v.error);
      else assert.equal(result, null);
    });
  }

  test('§22 validateExtension measures against an already extended date', () => {
    const { clock } = computeClock(input('ongoing-case-advice', start, { events: [ext('2026-03-28', '2026-03-10T09:00:00Z')] }));
    assert.match(validateExtension(clock, 'statement', '2026-03-20') ?? '', /earlier/);
  });
});

describe('engine: stopping the clock (§21–§23 met or missed)', () => {
  const start = '2026-03-02T08:00:00Z'; // §22 due 2026-03-16T22:59:59.999Z
  const stopRows: { name: string; at: string; outcome: 'met' | 'missed'; daysLate: number }[] = [
    { name: 'well before the deadline', at: '2026-03-10T09:00:00Z', outcome: 'met', daysLate: 0 },
    { name: 'at the last millisecond', at: '2026-03-16T22:59:59.999Z', outcome: 'met', daysLate: 0 },
    { name: 'one millisecond late (next local day)', at: '2026-03-16T23:00:00.000Z', outcome: 'missed', daysLate: 1 },
    { name: 'four days late', at: '2026-03-20T10:00:00Z', outcome: 'missed', daysLate: 4 },
  ];
  for (const r of stopRows) {
    test(`§22 clock stopped ${r.name}: ${r.outcome}`, () => {
      const { clock } = computeClock(input('ongoing-case-advice', start, { events: [{ event: 'clock-stopped', at: r.at }] }));
      assert.equal(clock.status, 'stopped');
      assert.equal(clock.stoppedAt, new Date(r.at).toISOString());
      assert.equal(clock.outcome, r.outcome);
      assert.equal(clock.daysLate, r.daysLate);
      assert.equal(clock.deadlines.length, 1);
    });
  }

  test('§22 stop is measured against the extended due date', () => {
    const events: ClockEvent[] = [
      { event: 'extension-agreed', at: '2026-03-10T09:00:00Z', kind: 'statement', dueDate: '2026-03-25', reason: 'r', agreedWith: 'k' },
      { event: 'clock-stopped', at: '2026-03-20T10:00:00Z' },
    ];
    const { clock } = computeClock(input('ongoing-case-advice', start, { events }));
    assert.equal(clock.outcome, 'met');
    assert.equal(clock.daysLate, 0);
  });

  test('§22 an extension recorded after the stop does not change the outcome', () => {
    const events: ClockEvent[] = [
      { event: 'clock-stopped', at: '2026-03-20T10:00:00Z' },
      { event: 'extension-agreed', at: '2026-03-21T09:00:00Z', kind: 'statement', dueDate: '2026-03-25', reason: 'r', agreedWith: 'k' },
    ];
    const { clock, warnings } = computeClock(input('ongoing-case-advice', start, { events }));
    assert.equal(clock.outcome, 'missed');
    assert.equal(clock.daysLate, 4);
    assert.equal(clock.deadlines[0]!.extension, undefined);
    assert.ok(warnings.some((w) => w.includes('after the clock stopped')));
  });

  test('§21 stk. 3 stop measured against the urgent target when named', () => {
    const events: ClockEvent[] = [{ event: 'clock-stopped', at: '2026-03-07T10:00:00Z', kind: 'urgent-target' }];
    const { clock } = computeClock(input('rehab-team-advice', start, { urgent: true, agreement: kbh, events }));
    assert.equal(clock.outcome, 'missed');
    assert.equal(clock.daysLate, 2);
  });

  test('§21 stk. 3 stop measured against the main deadline warns when the urgent target was missed', () => {
    const events: ClockEvent[] = [{ event: 'clock-stopped', at: '2026-03-07T10:00:00Z' }];
    const { clock, warnings } = computeClock(input('rehab-team-advice', start, { urgent: true, agreement: kbh, events }));
    assert.equal(clock.outcome, 'met');
    assert.ok(warnings.some((w) => w.includes('§21 stk. 3') && w.includes('missed')));
  });

  test('§23 stop measured across the October DST switch', () => {
    // start 2026-09-25 (+30 = Sun 2026-10-25 → Mon 2026-10-26, winter time)
    const events: ClockEvent[] = [{ event: 'clock-stopped', at: '2026-10-26T22:30:00Z' }];
    const { clock } = computeClock(input('clinical-assessment', '2026-09-25T08:00:00Z', { events }));
    assert.equal(clock.deadlines[0]!.dueAt, '2026-10-26T22:59:59.999Z');
    assert.equal(clock.outcome, 'met');
  });

  test('S§4 a stop without any deadline leaves no-deadline-agreed', () => {
    const { clock } = computeClock(
      input('resource-course-conversation', start, { events: [{ event: 'clock-stopped', at: '2026-03-20T10:00:00Z' }] }),
    );
    assert.equal(clock.status, 'no-deadline-agreed');
    assert.equal(clock.outcome, undefined);
  });

  test('§22 the first stop counts', () => {
    const events: ClockEvent[] = [
      { event: 'clock-stopped', at: '2026-03-20T10:00:00Z' },
      { event: 'clock-stopped', at: '2026-03-10T10:00:00Z' },
    ];
    const { clock } = computeClock(input('ongoing-case-advice', start, { events }));
    assert.equal(clock.stoppedAt, '2026-03-10T10:00:00.000Z');
    assert.equal(clock.outcome, 'met');
  });
});

describe('engine: determinism', () => {
  test('§21–§23 same input gives byte-identical output and the input is not mutated', () => {
    const events: ClockEvent[] = [
      { event: 'consultation-booked', at: '2026-03-03T10:00:00Z', date: '2026-03-10' },
      { event: 'extension-agreed', at: '2026-03-04T10:00:00Z', kind: 'attest', dueDate: '2026-04-20', reason: 'r', agreedWith: 'k' },
    ];
    const inp = input('clinical-assessment', '2026-03-02T08:00:00Z', { agreement: kbh, events });
    const snapshot = structuredClone(inp);
    const a = JSON.stringify(computeClock(inp));
    const b = JSON.stringify(computeClock(structuredClone(inp)));
    assert.equal(a, b);
    assert.deepEqual(inp, snapshot);
  });
});
