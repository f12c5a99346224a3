/**
 * Issue 15, hardening: "The CPR scrubber misses `cpr0707801230` and `sag_0909801232`." Any ten digits
 * (6 + 4, optional hyphen) that are not part of a longer digit run are scrubbed from logs and audit details,
 * whatever letters stand around them; identifiers and digests that hold ten digits by chance are not mangled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containsCprLike, createLogger, scrubCpr, scrubDeep } from '../../src/shared/logger.js';
import { manifestSchema } from '../../src/intake/schema.js';
import { logCapture } from '../helpers/logs.js';

// [input, expected]
const SCRUBBED: [string, string][] = [
  ['cpr0707801230', 'cpr[CPR]'], // the attack's first string
  ['sag_0909801232', 'sag_[CPR]'], // and its second
  ['0101801234', '[CPR]'],
  ['010180-1234', '[CPR]'], // hyphenated
  ['sag-070780-1230-a', 'sag-[CPR]-a'],
  ['0707801230 at the start', '[CPR] at the start'],
  ['at the end 0707801230', 'at the end [CPR]'],
  ['x0707801230y', 'x[CPR]y'],
  ['CPR:0707801230,0909801232.', 'CPR:[CPR],[CPR].'],
  ['"0707801230"', '"[CPR]"'],
  ['9999999999', '[CPR]'], // no date check: any ten digits (knowingly: a 10-digit P-number or byte count too)
  ['3f0c1e52-6a7d-0707801230', '3f0c1e52-6a7d-[CPR]'], // UUID-like but not a UUID
  ['abc0707801230def', 'abc[CPR]def'], // hex letters around it are no protection below 32 hex characters
];

const KEPT: string[] = [
  '070780123012', // twelve digits: part of a longer digit run
  '01018012345', // eleven digits
  '5790000575848', // EAN/GLN (13 digits)
  '575841000016004', // SOR id (15 digits)
  '1234561000016007', // SOR id (16 digits)
  '1764630196123', // epoch milliseconds
  '123456-12345', // 6 + 5
  '12345-1234567',
  '2026-12-01T23:03:16.123Z', // ISO timestamps
  '2026-12-01',
  '748fbb1e-f31b-4ad5-baab-cd0108199987', // a UUID whose last group holds ten digits (failed CI once)
  'ab010819-9987-4ad5-baab-123456789abc', // a UUID whose first two groups read as DDMMYY-SSSS
  '748FBB1E-F31B-4AD5-BAAB-CD0108199987', // upper case
  'receipt 748fbb1e-f31b-4ad5-baab-cd0108199987.', // inside text
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4950707801230a1', // a SHA-256 digest holding ten digits
  'sha256:a0707801230b0707801230c0707801230d0707801230e0707801230f', // a digest after a label (≥ 32 hex)
  'ydernummer 057584, municipality 101, port 8443, phone 38000000',
  '[CPR]',
];

test('issue 15 CPR scrubber: ten digits not part of a longer digit run are scrubbed, whatever stands around them', () => {
  for (const [input, expected] of SCRUBBED) {
    assert.equal(scrubCpr(input), expected, input);
    assert.equal(containsCprLike(input), true, input);
  }
});

test('issue 15 CPR scrubber: longer digit runs, UUIDs, digests, EAN/SOR numbers and ISO timestamps stay untouched', () => {
  for (const input of KEPT) {
    assert.equal(scrubCpr(input), input, input);
    assert.equal(containsCprLike(input), false, input);
  }
});

test('issue 15 CPR scrubber: scrubDeep reaches nested strings and errors, and copies only what changes', () => {
  const untouched = { a: { b: ['x', 1, null] } };
  assert.equal(scrubDeep(untouched), untouched);
  const v = { packageId: 'sag_0909801232', nested: { list: ['cpr0707801230', 7], keep: '5790000575848' }, err: new Error('at 0707801230') };
  assert.deepEqual(JSON.parse(JSON.stringify(scrubDeep(v))), {
    packageId: 'sag_[CPR]',
    nested: { list: ['cpr[CPR]', 7], keep: '5790000575848' },
    err: { type: 'Error', message: 'at [CPR]', stack: JSON.parse(JSON.stringify(scrubDeep(v))).err.stack },
  });
  assert.equal(v.packageId, 'sag_0909801232', 'the logged object itself is not changed');
});

test('issue 15 CPR scrubber: a log line carrying them at any depth comes out scrubbed', () => {
  const cap = logCapture();
  const log = createLogger({ destination: cap.stream, level: 'info' });
  log.info(
    { packageId: 'cpr0707801230', details: { ref: 'sag_0909801232', ids: ['748fbb1e-f31b-4ad5-baab-cd0108199987'] } },
    'got sag_0909801232',
  );
  log.warn('free text cpr0707801230 and 070780-1230');
  log.error({ err: new Error('bad packageId cpr0707801230') }, 'failed');
  const all = cap.lines.join('\n');
  assert.equal(cap.lines.length, 3);
  assert.doesNotMatch(all, /0707801230|0909801232|070780-1230/);
  assert.match(all, /748fbb1e-f31b-4ad5-baab-cd0108199987/, 'a UUID is kept whole');
  assert.equal((all.match(/\[CPR\]/g) ?? []).length, 7); // the error's message also stands in its stack
});

test('issue 15: a packageId or part name that holds a CPR number is refused by the manifest schema, naming the field', () => {
  const base = {
    service: 'rehab-team-advice',
    caseType: 'ressourceforloeb',
    citizen: { cpr: '0101801234', name: 'X' },
    documents: [{ part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf' }],
  };
  for (const packageId of ['cpr0707801230', 'sag_0909801232', 'sag-070780-1230', '0707801230']) {
    const r = manifestSchema.safeParse({ ...base, packageId });
    assert.equal(r.success, false, packageId);
    const issue = r.error!.issues.find((i) => i.path.join('.') === 'packageId');
    assert.match(issue?.message ?? '', /must never hold a CPR number/, packageId);
  }
  const part = manifestSchema.safeParse({ ...base, packageId: 'p1', documents: [{ ...base.documents[0], part: 'bilag_0707801230' }] });
  assert.equal(part.success, false);
  assert.equal(part.error!.issues[0]!.path.join('.'), 'documents.0.part');
  for (const packageId of ['748fbb1e-f31b-4ad5-baab-cd0108199987', 'sag-2026-000123', 'KK:2026:5790000575848', 'example-supplement-1']) {
    assert.equal(manifestSchema.safeParse({ ...base, packageId }).success, true, packageId);
  }
});
