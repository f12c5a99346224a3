import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addDays,
  daysBetween,
  easterSunday,
  endOfLocalDay,
  isClosedDay,
  isoWeekday,
  localDate,
  rollForward,
  startOfLocalDay,
} from '../../src/deadlines/calendar.js';
import { computeClock, validateExtension } from '../../src/deadlines/engine.js';
import { SERVICES, type Agreement, type ClockEvent, type ClockInput, type Service } from '../../src/deadlines/types.js';

const MIN = Date.parse('2020-01-01T00:00:00Z');
const MAX = Date.parse('2035-12-31T23:59:59.999Z');

/** Instants spread over 2020–2035, biased toward local midnights and DST switch hours. */
const instantArb = fc
  .oneof(
    fc.integer({ min: MIN, max: MAX }),
    fc
      .tuple(fc.integer({ min: 0, max: 5843 }), fc.constantFrom(-3_600_001, -3_600_000, -1, 0, 1, 3_599_999, 3_600_000))
      .map(([day, delta]) => Date.parse(startOfLocalDay(addDays('2020-01-01', day))) + delta),
  )
  .map((ms) => new Date(ms).toISOString());

const dateArb = fc.integer({ min: 0, max: 5843 }).map((d) => addDays('2020-01-01', d));
const daysArb = fc.integer({ min: 1, max: 365 });
const serviceArb = fc.constantFrom<Service>(...SERVICES);

function agreement(service: Service, n: number, roll: boolean): Agreement {
  return {
    id: 'prop',
    municipalityCode: '101',
    validFrom: '2019-01-01',
    validTo: null,
    deadlines: { [service]: n },
    rollForward: roll,
    excludedStaff: [],
  };
}

const RUNS = { numRuns: 400 };

describe('properties: counting days (RULES.md) and §21–§23, §29, S§4', () => {
  test('counting days: due date ≥ day 0 + N for every service', () => {
    fc.assert(
      fc.property(serviceArb, instantArb, daysArb, fc.boolean(), (service, start, n, roll) => {
        const { clock } = computeClock({
          service,
          urgent: false,
          receivedAt: start,
          startedAt: start,
          agreement: agreement(service, n, roll),
        });
        assert.equal(clock.status, 'running');
        const floor = addDays(localDate(start), n);
        for (const d of clock.deadlines) assert.ok(d.dueDate >= floor, `${d.dueDate} < ${floor}`);
      }),
      RUNS,
    );
  });

  test('counting days: with roll-forward the due date is the first open day on or after day 0 + N', () => {
    fc.assert(
      fc.property(
        serviceArb.filter((s) => s !== 'clinical-assessment'),
        instantArb,
        daysArb,
        (service, start, n) => {
          const { clock } = computeClock({
            service,
            urgent: false,
            receivedAt: start,
            startedAt: start,
            agreement: agreement(service, n, true),
          });
          const d = clock.deadlines[0]!;
          const nominal = addDays(localDate(start), n);
          assert.equal(isClosedDay(d.dueDate), false);
          const gap = daysBetween(nominal, d.dueDate);
          assert.ok(gap >= 0 && gap <= 5, `rolled ${gap} days`);
          for (let i = 0; i < gap; i++) assert.equal(isClosedDay(addDays(nominal, i)), true);
        },
      ),
      RUNS,
    );
  });

  test('counting days: without roll-forward the due date is exactly day 0 + N', () => {
    fc.assert(
      fc.property(
        serviceArb.filter((s) => s !== 'clinical-assessment'),
        instantArb,
        daysArb,
        (service, start, n) => {
          const { clock } = computeClock({
            service,
            urgent: false,
            receivedAt: start,
            startedAt: start,
            agreement: agreement(service, n, false),
          });
          assert.equal(clock.deadlines[0]!.dueDate, addDays(localDate(start), n));
        },
      ),
      RUNS,
    );
  });

  test('counting days: dueAt is the last millisecond of the local due day', () => {
    fc.assert(
      fc.property(serviceArb, instantArb, daysArb, fc.boolean(), (service, start, n, roll) => {
        const { clock } = computeClock({
          service,
          urgent: true,
          receivedAt: start,
          startedAt: start,
          agreement: agreement(service, n, roll),
        });
        for (const d of clock.deadlines) {
          const ms = Date.parse(d.dueAt);
          assert.equal(d.dueAt, new Date(ms).toISOString());
          assert.equal(localDate(d.dueAt), d.dueDate);
          assert.equal(localDate(new Date(ms + 1)), addDays(d.dueDate, 1));
        }
      }),
      RUNS,
    );
  });

  test('counting days: endOfLocalDay / startOfLocalDay bracket a 23, 24 or 25 hour local day', () => {
    fc.assert(
      fc.property(dateArb, (date) => {
        const end = Date.parse(endOfLocalDay(date));
        const start = Date.parse(startOfLocalDay(date));
        assert.ok([23, 24, 25].includes((end + 1 - start) / 3_600_000));
        assert.equal(localDate(new Date(start)), date);
        assert.equal(localDate(new Date(start - 1)), addDays(date, -1));
      }),
      RUNS,
    );
  });

  test('counting days: rollForward never returns a closed day and is idempotent', () => {
    fc.assert(
      fc.property(dateArb, (date) => {
        const r = rollForward(date);
        assert.equal(isClosedDay(r), false);
        assert.equal(rollForward(r), r);
        assert.ok(r >= date);
      }),
      RUNS,
    );
  });

  test('counting days: Easter is a Sunday between 22 March and 25 April', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1900, max: 2200 }), (year) => {
        const e = easterSunday(year);
        assert.equal(isoWeekday(e), 7);
        assert.ok(e.slice(5) >= '03-22' && e.slice(5) <= '04-25', e);
      }),
      RUNS,
    );
  });

  test('§23 the attest is never due after start + 30 (rolled), nor after consultation + 14 when that is earlier', () => {
    fc.assert(
      fc.property(instantArb, fc.integer({ min: -5, max: 60 }), (start, offset) => {
        const day0 = localDate(start);
        const consultation = addDays(day0, offset);
        const events: ClockEvent[] = [{ event: 'consultation-booked', at: start, date: consultation }];
        const { clock, warnings } = computeClock({
          service: 'clinical-assessment',
          urgent: false,
          receivedAt: start,
          startedAt: start,
          agreement: null,
          events,
        });
        const thirty = rollForward(addDays(day0, 30));
        const fourteen = rollForward(addDays(consultation, 14));
        assert.equal(clock.deadlines[0]!.dueDate, fourteen < thirty ? fourteen : thirty);
        assert.equal(
          warnings.some((w) => w.startsWith('§23') && !w.includes('before the clock started')),
          fourteen >= thirty,
        );
      }),
      RUNS,
    );
  });

  test('§22 an extension to a later date is applied; one to an earlier date is refused by validateExtension', () => {
    fc.assert(
      fc.property(instantArb, fc.integer({ min: -30, max: 60 }), (start, shift) => {
        const base: ClockInput = { service: 'ongoing-case-advice', urgent: false, receivedAt: start, startedAt: start, agreement: null };
        const { clock } = computeClock(base);
        const current = clock.deadlines[0]!.dueDate;
        const proposed = addDays(current, shift);
        const error = validateExtension(clock, 'statement', proposed);
        assert.equal(error === null, shift >= 0);
        if (error === null) {
          const ev: ClockEvent = {
            event: 'extension-agreed',
            at: start,
            kind: 'statement',
            dueDate: proposed,
            reason: 'r',
            agreedWith: 'k',
          };
          const extended = computeClock({ ...base, events: [ev] }).clock.deadlines[0]!;
          assert.equal(extended.dueDate, proposed);
          assert.equal(extended.dueAt, endOfLocalDay(proposed));
          assert.equal(extended.originalDueDate, current);
        }
      }),
      RUNS,
    );
  });

  test('§21–§23 recomputation is deterministic (same input → same output)', () => {
    const eventArb: fc.Arbitrary<ClockEvent> = fc.oneof(
      fc.record({ event: fc.constant('consultation-booked' as const), at: instantArb, date: dateArb }),
      fc.record({
        event: fc.constant('extension-agreed' as const),
        at: instantArb,
        kind: fc.constantFrom('statement', 'attest', 'coordinator-available', 'urgent-target', 'advice'),
        dueDate: dateArb,
        reason: fc.string(),
        agreedWith: fc.string(),
      }),
      fc.record({ event: fc.constant('clock-stopped' as const), at: instantArb }),
    );
    fc.assert(
      fc.property(
        serviceArb,
        fc.boolean(),
        instantArb,
        fc.option(instantArb, { nil: null }),
        daysArb,
        fc.boolean(),
        fc.array(eventArb, { maxLength: 6 }),
        (service, urgent, received, started, n, roll, events) => {
          const inp: ClockInput = {
            service,
            urgent,
            receivedAt: received,
            startedAt: started,
            agreement: agreement(service, n, roll),
            events,
          };
          const a = computeClock(inp);
          const b = computeClock(structuredClone(inp));
          assert.equal(JSON.stringify(a), JSON.stringify(b));
          if (a.clock.status === 'stopped') {
            assert.ok(a.clock.outcome === 'met' || a.clock.outcome === 'missed');
            assert.equal(a.clock.outcome === 'met', a.clock.daysLate === 0);
          }
        },
      ),
      RUNS,
    );
  });
});
