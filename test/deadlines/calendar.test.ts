import { isDateString } from '../../src/shared/identifiers.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  localDateTime,
  addDays,
  closedReason,
  daysBetween,
  easterSunday,
  endOfLocalDay,
  isClosedDay,
  isInstantString,
  localDate,
  publicHolidays,
  rollForward,
  startOfLocalDay,
  workingDaysBefore,
} from '../../src/deadlines/calendar.js';

// Hand-written from the Danish calendar (not derived from the code under test).
const EASTER: Record<number, string> = {
  2023: '2023-04-09',
  2024: '2024-03-31',
  2025: '2025-04-20',
  2026: '2026-04-05',
  2027: '2027-03-28',
};

const HOLIDAYS: Record<number, Record<string, string>> = {
  2023: {
    '2023-01-01': 'Nytårsdag',
    '2023-04-06': 'Skærtorsdag',
    '2023-04-07': 'Langfredag',
    '2023-04-09': 'Påskedag',
    '2023-04-10': '2. påskedag',
    '2023-05-05': 'Store bededag',
    '2023-05-18': 'Kristi himmelfartsdag',
    '2023-05-28': 'Pinsedag',
    '2023-05-29': '2. pinsedag',
    '2023-12-25': 'Juledag',
    '2023-12-26': '2. juledag',
  },
  2024: {
    '2024-01-01': 'Nytårsdag',
    '2024-03-28': 'Skærtorsdag',
    '2024-03-29': 'Langfredag',
    '2024-03-31': 'Påskedag',
    '2024-04-01': '2. påskedag',
    '2024-05-09': 'Kristi himmelfartsdag',
    '2024-05-19': 'Pinsedag',
    '2024-05-20': '2. pinsedag',
    '2024-12-25': 'Juledag',
    '2024-12-26': '2. juledag',
  },
  2025: {
    '2025-01-01': 'Nytårsdag',
    '2025-04-17': 'Skærtorsdag',
    '2025-04-18': 'Langfredag',
    '2025-04-20': 'Påskedag',
    '2025-04-21': '2. påskedag',
    '2025-05-29': 'Kristi himmelfartsdag',
    '2025-06-08': 'Pinsedag',
    '2025-06-09': '2. pinsedag',
    '2025-12-25': 'Juledag',
    '2025-12-26': '2. juledag',
  },
  2026: {
    '2026-01-01': 'Nytårsdag',
    '2026-04-02': 'Skærtorsdag',
    '2026-04-03': 'Langfredag',
    '2026-04-05': 'Påskedag',
    '2026-04-06': '2. påskedag',
    '2026-05-14': 'Kristi himmelfartsdag',
    '2026-05-24': 'Pinsedag',
    '2026-05-25': '2. pinsedag',
    '2026-12-25': 'Juledag',
    '2026-12-26': '2. juledag',
  },
  2027: {
    '2027-01-01': 'Nytårsdag',
    '2027-03-25': 'Skærtorsdag',
    '2027-03-26': 'Langfredag',
    '2027-03-28': 'Påskedag',
    '2027-03-29': '2. påskedag',
    '2027-05-06': 'Kristi himmelfartsdag',
    '2027-05-16': 'Pinsedag',
    '2027-05-17': '2. pinsedag',
    '2027-12-25': 'Juledag',
    '2027-12-26': '2. juledag',
  },
};

describe('calendar: Easter and public holidays (counting days, RULES.md)', () => {
  for (const [year, easter] of Object.entries(EASTER)) {
    test(`counting days: Easter Sunday ${year} is ${easter}`, () => {
      assert.equal(easterSunday(Number(year)), easter);
    });
  }

  for (const [year, table] of Object.entries(HOLIDAYS)) {
    test(`counting days: public holidays ${year} are exactly the hand-written table`, () => {
      assert.deepEqual(Object.fromEntries(publicHolidays(Number(year))), table);
    });
    for (const [date, name] of Object.entries(table)) {
      test(`counting days: ${date} (${name}) is a closed day`, () => {
        assert.equal(isClosedDay(date), true);
        assert.equal(closedReason(date), name);
      });
    }
  }

  test('counting days: every holiday kind occurs each year (Store bededag only until 2023)', () => {
    const kinds = [
      'Nytårsdag',
      'Skærtorsdag',
      'Langfredag',
      'Påskedag',
      '2. påskedag',
      'Kristi himmelfartsdag',
      'Pinsedag',
      '2. pinsedag',
      'Juledag',
      '2. juledag',
    ];
    for (const year of [2023, 2024, 2025, 2026, 2027]) {
      const names = [...publicHolidays(year).values()];
      for (const k of kinds) assert.ok(names.includes(k), `${k} missing in ${year}`);
      assert.equal(names.includes('Store bededag'), year <= 2023, `Store bededag in ${year}`);
    }
  });

  const storeBededag: [string, boolean][] = [
    ['2022-05-13', true],
    ['2023-05-05', true],
    ['2024-04-26', false],
    ['2025-05-16', false],
    ['2026-05-01', false],
  ];
  for (const [date, closed] of storeBededag) {
    test(`counting days: Store bededag (Easter+26) ${date} ${closed ? 'is' : 'is not'} closed (abolished from 2024)`, () => {
      assert.equal(isClosedDay(date), closed);
    });
  }

  const otherClosed: [string, string][] = [
    ['2026-06-05', 'Grundlovsdag'],
    ['2025-06-05', 'Grundlovsdag'],
    ['2024-12-24', 'Juleaftensdag'],
    ['2025-12-24', 'Juleaftensdag'],
    ['2026-12-31', 'Nytårsaftensdag'],
    ['2025-12-31', 'Nytårsaftensdag'],
  ];
  for (const [date, name] of otherClosed) {
    test(`counting days: ${date} (${name}) is closed but not a public holiday`, () => {
      assert.equal(isClosedDay(date), true);
      assert.equal(closedReason(date), name);
      assert.equal(publicHolidays(Number(date.slice(0, 4))).has(date), false);
    });
  }

  const weekdays: [string, string | null][] = [
    ['2026-03-07', 'lørdag'],
    ['2026-03-08', 'søndag'],
    ['2026-03-09', null],
    ['2026-03-13', null],
    ['2026-06-04', null],
    ['2026-12-23', null],
    ['2026-12-30', null],
    ['2027-01-04', null],
  ];
  for (const [date, reason] of weekdays) {
    test(`counting days: ${date} is ${reason ?? 'a working day'}`, () => {
      assert.equal(closedReason(date), reason);
      assert.equal(isClosedDay(date), reason !== null);
    });
  }
});

describe('calendar: date arithmetic (counting days)', () => {
  const adds: [string, number, string][] = [
    ['2024-02-28', 1, '2024-02-29'],
    ['2023-02-28', 1, '2023-03-01'],
    ['2026-12-31', 1, '2027-01-01'],
    ['2027-01-01', -1, '2026-12-31'],
    ['2026-03-29', 1, '2026-03-30'],
    ['2026-10-25', 1, '2026-10-26'],
    ['2026-12-18', 30, '2027-01-17'],
    ['2026-03-02', 0, '2026-03-02'],
  ];
  for (const [d, n, want] of adds) {
    test(`counting days: addDays(${d}, ${n}) = ${want}`, () => {
      assert.equal(addDays(d, n), want);
      assert.equal(daysBetween(d, want), n);
    });
  }

  const rolls: [string, string, string][] = [
    ['2026-12-24', '2026-12-28', '24 Dec (Thu) → past Christmas and the weekend'],
    ['2026-12-31', '2027-01-04', '31 Dec (Thu) → past New Year and the weekend'],
    ['2026-06-05', '2026-06-08', '5 June (Fri) → Monday'],
    ['2025-06-05', '2025-06-06', '5 June (Thu) → Friday'],
    ['2024-03-28', '2024-04-02', 'Maundy Thursday → Tuesday after Easter'],
    ['2023-05-05', '2023-05-08', 'Store bededag 2023 → Monday'],
    ['2024-04-26', '2024-04-26', 'former Store bededag 2024 stays'],
    ['2026-05-14', '2026-05-15', 'Ascension Day → Friday'],
    ['2026-05-23', '2026-05-26', 'Saturday before Whitsun → Tuesday'],
    ['2026-03-10', '2026-03-10', 'an open Tuesday stays'],
  ];
  for (const [d, want, why] of rolls) {
    test(`counting days roll-forward: ${d} → ${want} (${why})`, () => {
      assert.equal(rollForward(d), want);
    });
  }

  const before: [string, number, string][] = [
    ['2026-04-07', 1, '2026-04-01'],
    ['2026-04-07', 0, '2026-04-07'],
    ['2026-12-28', 2, '2026-12-22'],
    ['2026-03-16', 5, '2026-03-09'],
  ];
  for (const [d, n, want] of before) {
    test(`counting days: workingDaysBefore(${d}, ${n}) = ${want}`, () => {
      assert.equal(workingDaysBefore(d, n), want);
    });
  }

  test('counting days: invalid dates are refused', () => {
    assert.equal(isDateString('2023-02-29'), false);
    assert.equal(isDateString('2024-02-29'), true);
    assert.equal(isDateString('2026-13-01'), false);
    assert.equal(isDateString('2026-1-01'), false);
    assert.throws(() => addDays('2026-02-30', 1), RangeError);
    assert.throws(() => rollForward('x'), RangeError);
  });
});

describe('calendar: Europe/Copenhagen local time and DST (counting days)', () => {
  const locals: [string, string][] = [
    ['2026-12-31T23:30:00Z', '2027-01-01'],
    ['2026-12-31T22:59:59.999Z', '2026-12-31'],
    ['2026-12-31T23:00:00.000Z', '2027-01-01'],
    ['2026-06-30T21:59:59.999Z', '2026-06-30'],
    ['2026-06-30T22:00:00.000Z', '2026-07-01'],
    ['2026-03-28T23:00:00Z', '2026-03-29'],
    ['2026-03-29T21:59:59Z', '2026-03-29'],
    ['2026-03-29T22:00:00Z', '2026-03-30'],
    ['2026-10-24T22:00:00Z', '2026-10-25'],
    ['2026-10-25T22:59:59Z', '2026-10-25'],
    ['2026-10-25T23:00:00Z', '2026-10-26'],
    ['2026-01-01T00:30:00+01:00', '2026-01-01'],
    ['2026-07-01T01:30:00+02:00', '2026-07-01'],
  ];
  for (const [instant, want] of locals) {
    test(`counting days day 0: ${instant} is local date ${want}`, () => {
      assert.equal(localDate(instant), want);
    });
  }

  const ends: [string, string, string][] = [
    ['2026-03-28', '2026-03-28T22:59:59.999Z', 'winter time'],
    ['2026-03-29', '2026-03-29T21:59:59.999Z', 'spring switch day (23 h)'],
    ['2026-03-30', '2026-03-30T21:59:59.999Z', 'summer time'],
    ['2026-10-24', '2026-10-24T21:59:59.999Z', 'summer time'],
    ['2026-10-25', '2026-10-25T22:59:59.999Z', 'autumn switch day (25 h)'],
    ['2026-10-26', '2026-10-26T22:59:59.999Z', 'winter time'],
    ['2024-03-31', '2024-03-31T21:59:59.999Z', 'spring switch 2024'],
    ['2024-10-27', '2024-10-27T22:59:59.999Z', 'autumn switch 2024'],
    ['2027-01-18', '2027-01-18T22:59:59.999Z', 'API.md example'],
  ];
  for (const [date, want, why] of ends) {
    test(`counting days: deadline on ${date} ends ${want} (${why})`, () => {
      assert.equal(endOfLocalDay(date), want);
      assert.equal(localDate(want), date);
      assert.equal(localDate(new Date(Date.parse(want) + 1)), addDays(date, 1));
    });
  }

  const lengths: [string, number][] = [
    ['2026-03-29', 23],
    ['2026-10-25', 25],
    ['2026-06-15', 24],
  ];
  for (const [date, hours] of lengths) {
    test(`counting days: local day ${date} lasts ${hours} hours`, () => {
      const ms = Date.parse(endOfLocalDay(date)) + 1 - Date.parse(startOfLocalDay(date));
      assert.equal(ms, hours * 3_600_000);
    });
  }

  test('counting days: instants without a zone are refused (they would depend on the host TZ)', () => {
    assert.equal(isInstantString('2026-03-01T10:00:00'), false);
    assert.equal(isInstantString('2026-03-01T10:00:00Z'), true);
    assert.equal(isInstantString('2026-03-01T10:00:00.123+01:00'), true);
    assert.throws(() => localDate('2026-03-01T10:00:00'), RangeError);
    assert.throws(() => localDate('yesterday'), RangeError);
  });
});

describe('calendar: the wall clock by cached hourly offset', () => {
  const viaIntl = new Intl.DateTimeFormat('sv-SE', {
    timeZone: 'Europe/Copenhagen',
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const expected = (ms: number) => viaIntl.format(new Date(ms)).replace(' ', 'T');
  test('equals Intl for every minute around the 2026 daylight-saving switches and for random instants 1900–2199', () => {
    const around = [Date.UTC(2026, 2, 29, 0, 0), Date.UTC(2026, 9, 25, 0, 0)];
    for (const start of around) {
      for (let m = 0; m < 180; m++) {
        const ms = start + m * 60_000 + 59_999;
        assert.equal(localDateTime(ms), expected(ms), new Date(ms).toISOString());
      }
    }
    let seed = 7;
    for (let i = 0; i < 3000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const ms = Date.UTC(1900, 0, 1) + Math.floor((seed / 2 ** 31) * (Date.UTC(2200, 0, 1) - Date.UTC(1900, 0, 1)));
      assert.equal(localDateTime(ms), expected(ms), new Date(ms).toISOString());
    }
  });
});
