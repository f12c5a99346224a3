/**
 * Issue 6: the whole suite runs with its logs captured (test/helpers/logs.ts
 * writes every line to POSTKASSE_TEST_LOG_DIR); this runs after every test
 * file (test/run.mjs) and asserts that no CPR number, citizen name or
 * document bytes appear anywhere in them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.POSTKASSE_TEST_LOG_DIR;

// DDMMYY-SSSS or DDMMYYSSSS with a real day and month, standing on its own
// inside a string value. Letters and digits on either side make it part of
// another token: a random UUID such as …-baab-cd0108199987 holds ten digits
// that look like a CPR number (a CI run was failed by exactly that), and no
// UUID can match once the number must not touch a letter or digit.
export const CPR = /(?<![0-9A-Za-z])(0[1-9]|[12][0-9]|3[01])(0[1-9]|1[0-2])[0-9]{2}-?[0-9]{4}(?![0-9A-Za-z])/;
// Names of the citizens and caseworkers the tests send (test/helpers, test/responses, test/delivery, bench).
const NAMES = ['Testa Borgersen', 'Rasmus Attest', 'Push Borger', 'Sara Sagsbehandler'];
// Document bytes: every test document starts with a file signature.
const DOCUMENT_MARKERS = ['%PDF-', '\\u0089PNG', 'JVBERi0'];

function strings(v: unknown, out: string[]): string[] {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out);
  return out;
}

test('the CPR pattern finds numbers on their own and ignores digits inside identifiers', () => {
  for (const hit of ['0101801234', '010180-1234', 'cpr 3102801234.', '"1502851234"', 'x=150285-1234,']) {
    assert.match(hit, CPR, hit);
  }
  for (const miss of [
    '748fbb1e-f31b-4ad5-baab-cd0108199987', // the UUID that once failed CI
    '01080199-1999-4ad5-baab-123456789012',
    'ab010819-9987-4ad5-baab-cd0108199987',
    '01018012345', // eleven digits
    '3213801234', // day 32
    '0113801234', // month 13
  ]) {
    assert.doesNotMatch(miss, CPR, miss);
  }
});

test(
  'no CPR number, citizen name or document bytes in any log line of the suite',
  { skip: dir ? false : 'run through test/run.mjs' },
  () => {
    const files = readdirSync(dir!).filter((f) => f.endsWith('.log'));
    assert.ok(files.length > 10, `captured logs of the suite (${files.length} files)`);
    let lines = 0;
    const bad: string[] = [];
    for (const f of files) {
      for (const line of readFileSync(join(dir!, f), 'utf8').split('\n')) {
        if (!line) continue;
        lines++;
        let values: string[];
        try {
          values = strings(JSON.parse(line), []);
        } catch {
          values = [line];
        }
        for (const v of values) {
          if (CPR.test(v)) bad.push(`${f}: CPR-like ${v.match(CPR)![0]} in ${line.slice(0, 300)}`);
        }
        for (const n of NAMES) if (line.includes(n)) bad.push(`${f}: name "${n}" in ${line.slice(0, 300)}`);
        for (const m of DOCUMENT_MARKERS) if (line.includes(m)) bad.push(`${f}: document marker ${m} in ${line.slice(0, 300)}`);
      }
    }
    assert.ok(lines > 1000, `${lines} log lines scanned`);
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} offending lines`);
  },
);
