import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cprBirthDate, isDateString } from '../../src/shared/identifiers.js';

// RULES.md "Identifiers": the date must be real, the century comes from the
// 7th digit and the year; modulus 11 is not required.
const cases: Array<[string, string | null]> = [
  ['0101801234', '1980-01-01'], // 7th digit 1 → 1900s
  ['010180-1234', '1980-01-01'],
  ['2902004000', '2000-02-29'], // 7th digit 4, year ≤ 36 → 2000s; 2000 is a leap year
  ['2902004000'.replace('29', '30'), null], // 30 Feb
  ['310280-1234', null], // 31 Feb
  ['290201-1234', null], // 29 Feb 1901 is not a leap day
  ['010137-4000', '1937-01-01'], // 7th digit 4, year > 36 → 1900s
  ['010157-5000', '2057-01-01'], // 7th digit 5, year ≤ 57 → 2000s
  ['010158-5000', '1858-01-01'], // 7th digit 5, year > 57 → 1800s
  ['010136-9000', '2036-01-01'],
  ['010137-9000', '1937-01-01'],
  ['0113801234', null], // month 13
  ['0001801234', null], // day 0
  ['0101801235', '1980-01-01'], // fails modulus 11, still valid
  ['01018012345', null],
  ['abcdefghij', null],
];
for (const [cpr, expected] of cases) {
  test(`CPR ${cpr} → ${expected ?? 'invalid'}`, () => assert.equal(cprBirthDate(cpr), expected));
}

test('isDateString', () => {
  assert.equal(isDateString('2027-01-12'), true);
  assert.equal(isDateString('2027-02-29'), false);
  assert.equal(isDateString('2028-02-29'), true);
  assert.equal(isDateString('2027-1-12'), false);
});
