/**
 * Waiting-time statistics over GENERATED event histories: each case's stored
 * events are written the way the services write them (received, clock-started,
 * consultation-booked, extension-agreed, meeting-booked, clock-stopped, …), and
 * the report recomputes every clock with the deadline engine.
 *
 * Expected figures are worked out by hand in the comments (calendar of
 * September–November 2027: no public holidays; 6 September is a Monday). The
 * last test checks a seeded random history of §22 cases against an oracle that
 * knows only the rule (due on day 14, or the agreed extension date).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, daysBetween, startOfLocalDay } from '../../src/deadlines/calendar.js';
import type { Agreement } from '../../src/deadlines/types.js';
import type { StoredEvent } from '../../src/deadlines/events.js';
import {
  ageBucket,
  monthsOf,
  nearestRank,
  waitingTimes,
  waitingTimesCsv,
  type StatsCase,
  type WaitingTimesOptions,
} from '../../src/statistics/waiting-times.js';
import { waitingTimesQuerySchema, type WaitingTimeRow } from '../../src/statistics/schema.js';

// --- a generated event history ------------------------------------------------

/** The UTC instant of local time `hhmm` (Europe/Copenhagen) on `date`. */
function local(date: string, hhmm = '10:00'): string {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return new Date(Date.parse(startOfLocalDay(date)) + (h * 60 + m) * 60_000).toISOString();
}

interface Spec {
  id?: string;
  municipality?: string;
  service?: string;
  urgent?: boolean;
  agreementId?: string | null;
  /** local date of the first receipt */
  received: string;
  time?: string;
  /** local date the case became complete (§21 stk. 2); default the receipt; null = never */
  completed?: string | null;
  consultation?: { on: string; date: string };
  extension?: { on: string; dueDate: string };
  meeting?: { on: string; date: string };
  /** the statement / attest is delivered: the clock stops at 12:00 local that day */
  delivered?: string;
  deliveredTime?: string;
  /** §14 stk. 2: the attest asked for further assessment (the overall assessment is delivered on this date) */
  overallAssessment?: string;
  /** a final response on a case without a clock to stop */
  finalResponse?: string;
}

let seq = 0;
/** The case row and its stored events, in stored (chronological) order, as the services write them. */
function history(s: Spec): StatsCase {
  const id = s.id ?? `case-${++seq}`;
  const service = s.service ?? 'ongoing-case-advice';
  const receivedAt = local(s.received, s.time);
  const completedAt = s.completed === null ? null : s.completed === undefined ? receivedAt : local(s.completed);
  const ev: StoredEvent[] = [];
  const add = (at: string, event: string, data: Record<string, unknown> = {}, actor = 'coord-anna') =>
    ev.push({ at, event, actor, data: JSON.stringify(data) });
  add(receivedAt, 'received', { packageId: 'p1' }, 'kommune-101');
  if (completedAt === receivedAt) add(receivedAt, 'clock-started', {}, 'kommune-101');
  else {
    add(receivedAt, 'awaiting-complete-case', {}, 'kommune-101');
    if (completedAt) {
      add(completedAt, 'supplement-received', {}, 'kommune-101');
      add(completedAt, 'clock-started', {}, 'kommune-101');
    }
  }
  if (s.consultation) add(local(s.consultation.on, '09:00'), 'consultation-booked', { date: s.consultation.date });
  if (s.extension)
    add(local(s.extension.on, '09:30'), 'extension-agreed', {
      kind: 'statement',
      dueDate: s.extension.dueDate,
      reason: 'the citizen is in hospital',
      agreedWith: 'the case worker',
    });
  if (s.meeting) add(local(s.meeting.on, '11:00'), 'meeting-booked', { date: s.meeting.date });
  if (s.delivered) {
    const at = local(s.delivered, s.deliveredTime ?? '12:00');
    add(at, 'response-submitted', { kind: s.service === 'clinical-assessment' ? 'specialist-attest' : 'statement' });
    add(at, 'clock-stopped', { at, kind: s.service === 'clinical-assessment' ? 'attest' : 'statement' });
    if (s.overallAssessment) add(at, 'further-assessment-requested', { rule: '§14 stk. 2' });
  }
  if (s.overallAssessment) {
    const at = local(s.overallAssessment, '12:00');
    add(at, 'response-submitted', { kind: 'specialist-attest' });
    add(at, 'clock-stopped', { at, kind: 'overall-assessment' });
  }
  if (s.finalResponse) add(local(s.finalResponse, '12:00'), 'response-submitted', { kind: 'statement' });
  return {
    id,
    municipalityCode: s.municipality ?? '101',
    service,
    urgent: s.urgent ?? false,
    receivedAt,
    clockStartedAt: completedAt,
    agreementId: s.agreementId ?? null,
    events: ev,
  };
}

const AGREEMENTS: Agreement[] = [
  {
    id: 'k101',
    municipalityCode: '101',
    validFrom: '2027-01-01',
    validTo: null,
    deadlines: { 'resource-course-conversation': 21, urgent: 3 },
    rollForward: true,
    excludedStaff: [],
  },
];

function report(specs: Spec[], o: Partial<WaitingTimesOptions> = {}) {
  return waitingTimes(specs.map(history), {
    from: '2027-09-01',
    to: '2027-11-30',
    today: '2028-01-15',
    generatedAt: '2028-01-15T10:00:00.000Z',
    agreementOf: (id) => AGREEMENTS.find((a) => a.id === id) ?? null,
    ...o,
  });
}

const noOpen = { '0-7': 0, '8-14': 0, '15-30': 0, '31-60': 0, '61+': 0 };

// --- the § rules ----------------------------------------------------------------

describe('waiting times: met and missed by the § rule of the main deadline', () => {
  test('§22: a statement delivered on day 14 is met', () => {
    // received Monday 6 Sep; day 14 = Monday 20 Sep (open day)
    const t = report([{ received: '2027-09-06', delivered: '2027-09-20' }]).total;
    assert.deepEqual(t.byRule, { '§22': { delivered: 1, met: 1, missed: 0 } });
    assert.equal(t.medianDays, 14);
  });

  test('§22: a statement delivered on day 15 is missed', () => {
    const t = report([{ received: '2027-09-06', delivered: '2027-09-21' }]).total;
    assert.deepEqual(t.byRule, { '§22': { delivered: 1, met: 0, missed: 1 } });
    assert.equal(t.medianDays, 15);
  });

  test('§22: a statement delivered at 23:59 local on day 14 is still met (the day ends at 23:59:59.999 Copenhagen time)', () => {
    const t = report([{ received: '2027-09-06', delivered: '2027-09-20', deliveredTime: '23:59' }]).total;
    assert.deepEqual(t.byRule['§22'], { delivered: 1, met: 1, missed: 0 });
  });

  test('§22: a day 14 on a Saturday moves to Monday, so delivery on day 16 is met', () => {
    // received Saturday 11 Sep; day 14 = Saturday 25 Sep → Monday 27 Sep
    const t = report([{ received: '2027-09-11', delivered: '2027-09-27' }]).total;
    assert.deepEqual(t.byRule['§22'], { delivered: 1, met: 1, missed: 0 });
  });

  test('§22: another deadline agreed (extension to day 18) makes delivery on day 18 met, and the extension is counted', () => {
    // received 6 Sep; due 20 Sep; extension agreed on 15 Sep to Friday 24 Sep; delivered 24 Sep (day 18)
    const t = report([{ received: '2027-09-06', extension: { on: '2027-09-15', dueDate: '2027-09-24' }, delivered: '2027-09-24' }]).total;
    assert.deepEqual(t.byRule['§22'], { delivered: 1, met: 1, missed: 0 });
    assert.equal(t.extensions, 1);
    assert.equal(t.medianDays, 18);
  });

  test('§23: the attest is due 14 days after the consultation when that is earlier than 30 days after receipt', () => {
    // received 6 Sep; consultation on Friday 10 Sep → due Friday 24 Sep (receipt + 30 = 6 Oct is later)
    const met = report([
      {
        service: 'clinical-assessment',
        received: '2027-09-06',
        consultation: { on: '2027-09-07', date: '2027-09-10' },
        delivered: '2027-09-24',
      },
    ]).total;
    assert.deepEqual(met.byRule, { '§23': { delivered: 1, met: 1, missed: 0 } });
    // delivered on Monday 27 Sep: within 30 days of receipt, but missed
    const missed = report([
      {
        service: 'clinical-assessment',
        received: '2027-09-06',
        consultation: { on: '2027-09-07', date: '2027-09-10' },
        delivered: '2027-09-27',
      },
    ]).total;
    assert.deepEqual(missed.byRule, { '§23': { delivered: 1, met: 0, missed: 1 } });
  });

  test('§23: without a consultation the attest is due 30 days after receipt (day 30 met, day 31 missed)', () => {
    // received 6 Sep; day 30 = Wednesday 6 Oct
    const t = report([
      { service: 'clinical-assessment', received: '2027-09-06', delivered: '2027-10-06' },
      { service: 'clinical-assessment', received: '2027-09-06', delivered: '2027-10-07' },
    ]).total;
    assert.deepEqual(t.byRule, { '§23': { delivered: 2, met: 1, missed: 1 } });
    assert.equal(t.medianDays, 30);
    assert.equal(t.p90Days, 31);
  });

  test('§21 stk. 1: the meeting’s date decides (a meeting on day 16 is missed), and the citizen waits until the meeting, not until its booking', () => {
    // received 6 Sep; due 20 Sep; booked on 9 Sep for a meeting on Wednesday 22 Sep
    const spec = { service: 'rehab-team-advice', received: '2027-09-06', meeting: { on: '2027-09-09', date: '2027-09-22' } };
    const t = report([spec]).total;
    assert.deepEqual(t.byRule, { '§21 stk. 1': { delivered: 1, met: 0, missed: 1 } });
    assert.equal(t.medianDays, 16, 'receipt 6 Sep → meeting 22 Sep (the booking on 9 Sep is not the end of the wait)');
    assert.equal(t.open.total, 0);
    // on 15 Sep the meeting is booked but not held: the case is still open, 9 days old, and nothing is delivered yet
    const before = report([spec], { from: '2027-09-01', to: '2027-09-30', today: '2027-09-15' }).total;
    assert.equal(before.delivered, 0);
    assert.deepEqual([before.open.asOf, before.open.total, before.open.byAge['8-14']], ['2027-09-15', 1, 1]);
  });

  test('§21 stk. 3: an urgent case counts under its main deadline, §21 stk. 1', () => {
    // agreed urgent target 3 days (9 Sep) is missed by a meeting on 10 Sep, but §21 stk. 1 (20 Sep) is met
    const t = report([
      {
        service: 'rehab-team-advice',
        urgent: true,
        agreementId: 'k101',
        received: '2027-09-06',
        meeting: { on: '2027-09-07', date: '2027-09-10' },
      },
    ]).total;
    assert.deepEqual(t.byRule, { '§21 stk. 1': { delivered: 1, met: 1, missed: 0 } });
  });

  test('§21 stk. 2: the clock waits for the complete case, the waiting time runs from the receipt', () => {
    // received 6 Sep without its documents, complete Friday 10 Sep → due Friday 24 Sep; delivered 23 Sep
    const specs: Spec[] = [{ received: '2027-09-06', completed: '2027-09-10', delivered: '2027-09-23' }];
    const t = report(specs).total;
    assert.deepEqual(t.byRule, { '§22': { delivered: 1, met: 1, missed: 0 } });
    assert.equal(t.medianDays, 17); // 6 Sep → 23 Sep
    // before it was complete it is open, aged from its receipt
    const early = report(specs, { from: '2027-09-01', to: '2027-09-08' }).total;
    assert.deepEqual(early.open, { asOf: '2027-09-08', total: 1, byAge: { ...noOpen, '0-7': 1 } });
    assert.equal(early.delivered, 0);
  });

  test('§14 stk. 2: an attest that asks for further assessment is the §23 delivery; the overall assessment does not count again', () => {
    // consultation 13 Sep → due 27 Sep; attest 20 Sep (day 14); overall assessment 20 Oct
    const t = report([
      {
        service: 'clinical-assessment',
        received: '2027-09-06',
        consultation: { on: '2027-09-07', date: '2027-09-13' },
        delivered: '2027-09-20',
        overallAssessment: '2027-10-20',
      },
    ]).total;
    assert.equal(t.delivered, 1);
    assert.deepEqual(t.byRule, { '§23': { delivered: 1, met: 1, missed: 0 } });
    assert.equal(t.medianDays, 14);
    assert.equal(t.open.total, 0);
  });

  test('S§4: a conversation statement without an agreed deadline counts under no-deadline-agreed; with one, under S§4', () => {
    const t = report([
      { service: 'resource-course-conversation', received: '2027-09-06', finalResponse: '2027-09-30' },
      // agreement k101: 21 days → due Monday 27 Sep; delivered 27 Sep
      { service: 'resource-course-conversation', agreementId: 'k101', received: '2027-09-06', delivered: '2027-09-27' },
    ]).total;
    assert.deepEqual(t.byRule, {
      'no-deadline-agreed': { delivered: 1, met: 0, missed: 0 },
      'S§4': { delivered: 1, met: 1, missed: 0 },
    });
    assert.equal(t.delivered, 2);
    assert.equal(t.medianDays, 21); // [21, 24]: nearest rank 50 % of 2 = the 1st
    assert.equal(t.p90Days, 24);
  });
});

// --- dates, periods and snapshots ----------------------------------------------

describe('waiting times: local dates, periods and the open cases', () => {
  test('receipt dates are Europe/Copenhagen dates: 23:30 on 30 September is September, 00:30 on 1 October is October', () => {
    // 00:30 local on 1 Oct is 22:30 UTC on 30 Sep
    const r = report(
      [
        { received: '2027-09-30', time: '23:30' },
        { received: '2027-10-01', time: '00:30' },
      ],
      {
        from: '2027-09-01',
        to: '2027-10-31',
        groupBy: 'month',
      },
    );
    assert.deepEqual(
      r.rows.map((x) => [x.key, x.received]),
      [
        ['2027-09', 1],
        ['2027-10', 1],
      ],
    );
  });

  test('open cases at the end of `to` by age: 7|8, 14|15, 30|31 and 60|61 days fall in neighbouring buckets', () => {
    const to = '2027-11-30';
    const ago = (n: number) => addDays(to, -n);
    const r = report(
      [
        ...[7, 8, 14, 15, 30, 31, 60, 61].map((n) => ({ received: ago(n) })),
        { received: ago(1), delivered: '2027-12-02' }, // delivered after `to`: open at its end (age 1)
        { received: ago(10), delivered: to }, // delivered on `to`: not open
        { received: '2027-12-01' }, // received after `to`: not counted
      ],
      { from: '2027-11-01', to },
    ).total;
    assert.deepEqual(r.open, { asOf: to, total: 9, byAge: { '0-7': 2, '8-14': 2, '15-30': 2, '31-60': 2, '61+': 1 } });
    assert.equal(r.received, 6); // 23, 22, 16, 15 Nov, and the two received 29 and 20 Nov (31 Oct and earlier are outside)
    assert.equal(r.delivered, 1);
  });

  test('groupBy=month: a month’s open cases are a snapshot at its end; the month not yet over is counted today', () => {
    // today 15 Oct: A received 6 Sep, delivered 4 Oct (day 28: missed); B received 10 Oct, open
    const r = report(
      [
        { id: 'A', received: '2027-09-06', delivered: '2027-10-04' },
        { id: 'B', received: '2027-10-10' },
      ],
      { from: '2027-09-01', to: '2027-10-31', groupBy: 'month', today: '2027-10-15' },
    );
    const [sep, oct] = r.rows as [WaitingTimeRow, WaitingTimeRow];
    assert.deepEqual([sep.key, sep.from, sep.to, sep.received, sep.delivered], ['2027-09', '2027-09-01', '2027-09-30', 1, 0]);
    assert.deepEqual(sep.open, { asOf: '2027-09-30', total: 1, byAge: { ...noOpen, '15-30': 1 } }); // A, 24 days
    assert.deepEqual([oct.key, oct.received, oct.delivered], ['2027-10', 1, 1]);
    assert.deepEqual(oct.byRule, { '§22': { delivered: 1, met: 0, missed: 1 } });
    assert.deepEqual(oct.open, { asOf: '2027-10-15', total: 1, byAge: { ...noOpen, '0-7': 1 } }); // B, 5 days
    assert.deepEqual(r.total.open, oct.open);
    assert.equal(r.total.received, 2);
  });

  test('groupBy=month: months are cut to the period', () => {
    assert.deepEqual(monthsOf('2027-11-15', '2028-01-10'), [
      { key: '2027-11', from: '2027-11-15', to: '2027-11-30' },
      { key: '2027-12', from: '2027-12-01', to: '2027-12-31' },
      { key: '2028-01', from: '2028-01-01', to: '2028-01-10' },
    ]);
    assert.deepEqual(
      monthsOf('2028-02-01', '2028-02-29').map((m) => m.to),
      ['2028-02-29'],
    );
  });

  test('groupBy=municipality: the municipality’s name when known, else null; a group without any figure is left out', () => {
    const r = report(
      [
        { municipality: '147', received: '2027-09-06', delivered: '2027-09-20' },
        { municipality: '101', received: '2027-09-07' },
        { municipality: '999', received: '2027-01-04', delivered: '2027-01-18' }, // delivered before the period
      ],
      { groupBy: 'municipality', municipalityName: (c) => (c === '101' ? 'Københavns Kommune' : undefined) },
    );
    assert.deepEqual(
      r.rows.map((x) => [x.key, x.label, x.received, x.delivered, x.open.total]),
      [
        ['101', 'Københavns Kommune', 1, 0, 1],
        ['147', null, 1, 1, 0],
      ],
    );
  });

  test('groupBy=service: one row per service', () => {
    const r = report(
      [
        { service: 'clinical-assessment', received: '2027-09-06' },
        { service: 'ongoing-case-advice', received: '2027-09-06', delivered: '2027-09-20' },
      ],
      { groupBy: 'service' },
    );
    assert.deepEqual(
      r.rows.map((x) => x.key),
      ['clinical-assessment', 'ongoing-case-advice'],
    );
    assert.equal(r.total.received, 2);
  });

  test('median and p90 are nearest-rank percentiles', () => {
    assert.equal(nearestRank([], 50), null);
    assert.equal(nearestRank([7], 90), 7);
    assert.equal(nearestRank([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 50), 5);
    assert.equal(nearestRank([10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 90), 9);
    assert.equal(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90), 10); // ceil(9.9) = 10th
    assert.deepEqual([0, 7, 8, 14, 15, 30, 31, 60, 61].map(ageBucket), [
      '0-7',
      '0-7',
      '8-14',
      '8-14',
      '15-30',
      '15-30',
      '31-60',
      '31-60',
      '61+',
    ]);
  });
});

// --- CSV and the query ------------------------------------------------------------

describe('waiting times: CSV and the query', () => {
  test('CSV: a header, one line per row and the total, columns flattened (met:§22, missed:§22, open:0-7)', () => {
    const r = report(
      [
        { municipality: '101', received: '2027-09-06', delivered: '2027-09-21' },
        { municipality: '147', received: '2027-09-06' },
      ],
      { groupBy: 'municipality', municipalityName: (c) => (c === '101' ? 'København, "K"' : '=cmd()') },
    );
    const csv = waitingTimesCsv(r);
    const lines = csv.split('\r\n');
    assert.equal(lines.pop(), '');
    assert.equal(
      lines[0],
      'key,label,from,to,received,delivered,delivered:§22,met:§22,missed:§22,medianDays,p90Days,open:asOf,open:total,' +
        'open:0-7,open:8-14,open:15-30,open:31-60,open:61+,extensions',
    );
    assert.equal(lines[1], '101,"København, ""K""",2027-09-01,2027-11-30,1,1,1,0,1,15,15,2027-11-30,0,0,0,0,0,0,0');
    assert.equal(lines[2], `147,"'=cmd()",2027-09-01,2027-11-30,1,0,0,0,0,,,2027-11-30,1,0,0,0,0,1,0`);
    assert.equal(lines[3], 'total,,2027-09-01,2027-11-30,2,1,1,0,1,15,15,2027-11-30,1,0,0,0,0,1,0');
    assert.equal(lines.length, 4);
  });

  const parse = (q: Record<string, string>) => waitingTimesQuerySchema.safeParse(q);
  const pathsOf = (q: Record<string, string>) => {
    const r = parse(q);
    return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  };

  test('query: dates must be real dates; to not before from; at most 3 years', () => {
    assert.ok(parse({ from: '2027-01-01', to: '2027-01-01' }).success);
    assert.deepEqual(pathsOf({ from: '2027-02-30', to: '2027-03-01' }), ['from']);
    assert.deepEqual(pathsOf({ to: '2027-03-01' }), ['from']);
    assert.deepEqual(pathsOf({ from: '2027-03-02', to: '2027-03-01' }), ['to']);
    assert.ok(parse({ from: '2024-01-01', to: '2026-12-31' }).success);
    assert.deepEqual(pathsOf({ from: '2024-01-01', to: '2027-01-01' }), ['to']);
    assert.ok(parse({ from: '2024-02-29', to: '2027-02-28' }).success);
    assert.deepEqual(pathsOf({ from: '2024-02-29', to: '2027-03-01' }), ['to']);
    assert.deepEqual(pathsOf({ from: '2027-01-01', to: '2027-01-31', groupBy: 'week' }), ['groupBy']);
    assert.deepEqual(pathsOf({ from: '2027-01-01', to: '2027-01-31', extra: 'x' }), ['']);
  });
});

// --- a seeded random history against an oracle -----------------------------------

/** mulberry32: a small seeded PRNG, so the generated history is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('§22: a generated history of 120 cases gives what the rule alone predicts, per month and per municipality', () => {
  const rnd = prng(20270906);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const hhmm = (from: number, to: number) =>
    `${String(from + Math.floor(rnd() * (to - from + 1))).padStart(2, '0')}:${pick(['00', '15', '45'])}`;
  // Receipts on weekdays 6 Sep – 29 Oct 2027: day 14 is the same weekday, and no holiday falls before mid-December.
  const weekdays: string[] = [];
  for (let d = '2027-09-06'; d <= '2027-10-29'; d = addDays(d, 1))
    if (![0, 6].includes(new Date(`${d}T12:00:00Z`).getUTCDay())) weekdays.push(d);
  interface Truth {
    spec: Spec;
    due: string;
    delivered: string | null;
  }
  const truths: Truth[] = [];
  for (let i = 0; i < 120; i++) {
    const received = pick(weekdays);
    const deliveredDay = rnd() < 0.8 ? 3 + Math.floor(rnd() * 28) : null; // day 3–30, or never
    const extended = (deliveredDay === null || deliveredDay > 10) && rnd() < 0.3;
    const extensionDue = addDays(received, 15 + Math.floor(rnd() * 10)); // an agreed date, used as it is (a weekend too)
    const delivered = deliveredDay === null ? null : addDays(received, deliveredDay);
    truths.push({
      spec: {
        municipality: pick(['101', '147', '151']),
        received,
        time: hhmm(0, 23),
        ...(extended ? { extension: { on: addDays(received, 10), dueDate: extensionDue } } : {}),
        ...(delivered ? { delivered, deliveredTime: hhmm(8, 23) } : {}),
      },
      due: extended ? extensionDue : addDays(received, 14),
      delivered,
    });
  }
  const from = '2027-09-01';
  const to = '2027-11-30';
  const today = '2027-12-15';

  // The oracle: the rule, nothing of the code under test.
  const expect = (ts: Truth[], pFrom: string, pTo: string) => {
    const asOf = pTo < today ? pTo : today;
    const inP = (d: string | null) => d !== null && pFrom <= d && d <= pTo;
    const done = ts.filter((t) => inP(t.delivered));
    const days = done.map((t) => daysBetween(t.spec.received, t.delivered!)).sort((a, b) => a - b);
    const open = ts.filter((t) => t.spec.received <= asOf && (t.delivered === null || t.delivered > asOf));
    const ages = open.map((t) => daysBetween(t.spec.received, asOf));
    const met = done.filter((t) => t.delivered! <= t.due).length;
    return {
      received: ts.filter((t) => inP(t.spec.received)).length,
      delivered: done.length,
      byRule: done.length ? { '§22': { delivered: done.length, met, missed: done.length - met } } : {},
      medianDays: days.length ? days[Math.ceil(days.length * 0.5) - 1]! : null,
      p90Days: days.length ? days[Math.ceil(days.length * 0.9) - 1]! : null,
      open: {
        asOf,
        total: open.length,
        byAge: {
          '0-7': ages.filter((a) => a <= 7).length,
          '8-14': ages.filter((a) => a >= 8 && a <= 14).length,
          '15-30': ages.filter((a) => a >= 15 && a <= 30).length,
          '31-60': ages.filter((a) => a >= 31 && a <= 60).length,
          '61+': ages.filter((a) => a >= 61).length,
        },
      },
      extensions: ts.filter((t) => t.spec.extension && inP(t.spec.extension.on)).length,
    };
  };
  const strip = ({ key: _k, label: _l, from: _f, to: _t, ...rest }: WaitingTimeRow) => rest;

  const byMonth = report(
    truths.map((t) => t.spec),
    { from, to, today, groupBy: 'month' },
  );
  assert.deepEqual(strip(byMonth.total), expect(truths, from, to));
  assert.deepEqual(
    byMonth.rows.map((r) => [r.key, strip(r)]),
    [
      ['2027-09', expect(truths, '2027-09-01', '2027-09-30')],
      ['2027-10', expect(truths, '2027-10-01', '2027-10-31')],
      ['2027-11', expect(truths, '2027-11-01', '2027-11-30')],
    ],
  );
  const byMunicipality = report(
    truths.map((t) => t.spec),
    { from, to, today, groupBy: 'municipality' },
  );
  for (const r of byMunicipality.rows) {
    assert.deepEqual(
      strip(r),
      expect(
        truths.filter((t) => t.spec.municipality === r.key),
        from,
        to,
      ),
      `municipality ${r.key}`,
    );
  }
  // the history is not degenerate: some met, some missed, some extended, some open
  const t = byMonth.total;
  assert.ok(t.byRule['§22']!.met > 10 && t.byRule['§22']!.missed > 10 && t.extensions > 5 && t.open.total > 5, JSON.stringify(t));
});
