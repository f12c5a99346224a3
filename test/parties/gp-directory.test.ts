/**
 * The GP directory (issue 12): it, not a party's own claim, decides where a
 * GP's copy goes (§15 stk. 2); errors name the practice and field; a bad file
 * on reload leaves the old directory in force; without a directory the
 * gp-system parties stand in (development only).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGpDirectory, parseGpDirectory } from '../../src/parties/gp-directory.js';
import { createPartyRegistry } from '../../src/parties/parties.js';

const dir = mkdtempSync(join(tmpdir(), 'pk-gpdir-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const partiesFile = join(dir, 'parties.json');
writeFileSync(
  partiesFile,
  JSON.stringify({
    parties: [
      {
        id: 'gp-1',
        kind: 'gp-system',
        name: 'Lægehuset',
        ydernumre: ['111111'],
        sor: '111111000016001',
        ean: '5790000111114',
        certificates: [],
      },
      { id: 'kommune-101', kind: 'municipality', municipalityCode: '101', name: 'KK', certificates: [] },
    ],
  }),
);
const parties = createPartyRegistry(partiesFile);
const logs: string[] = [];
const log = {
  info: (_o: object, m?: string) => logs.push(`info ${m}`),
  warn: (_o: object, m?: string) => logs.push(`warn ${m}`),
  error: (_o: object, m?: string) => logs.push(`error ${m}`),
};

const practice = (over: Record<string, unknown> = {}) => ({
  ydernummer: '222222',
  name: 'Lægerne',
  sor: '222221000016001',
  ean: '5790000222223',
  transport: { kind: 'vans' },
  ...over,
});

test('a valid directory: party and vans transports', () => {
  const list = parseGpDirectory(
    { practices: [practice(), practice({ ydernummer: '111111', transport: { kind: 'party', partyId: 'gp-1' } })] },
    parties,
  );
  assert.deepEqual(
    list.map((p) => [p.ydernummer, p.transport.kind]),
    [
      ['222222', 'vans'],
      ['111111', 'party'],
    ],
  );
});

const bad: [string, unknown, RegExp][] = [
  ['not JSON', '{', /not valid JSON/],
  ['no practices array', { practice: [] }, /"practices" array/],
  ['a 5-digit ydernummer', { practices: [practice({ ydernummer: '12345' })] }, /practices\[0\]\.ydernummer: must be a 6-digit ydernummer/],
  ['an EAN of 12 digits', { practices: [practice({ ean: '579000022222' })] }, /practices\[0\]\.ean: must be a 13-digit EAN/],
  [
    // §15 stk. 2: refused at load, not first when the VANSEnvelope of each copy is built (and retried for 72 h)
    'an EAN with a wrong GS1 check digit',
    { practices: [practice(), practice({ ydernummer: '444444', ean: '5790000222224' })] },
    /practices\[1\] \(444444\)\.ean: 5790000222224 is not a valid EAN \(GLN\) location number: its GS1 check digit is wrong/,
  ],
  ['a name of more than 200 characters', { practices: [practice({ name: 'L'.repeat(201) })] }, /practices\[0\]\.name: must be at most 200/],
  ['no SOR id', { practices: [practice({ sor: undefined })] }, /practices\[0\]\.sor: is required/],
  ['an unknown transport', { practices: [practice({ transport: { kind: 'fax' } })] }, /practices\[0\]\.transport/],
  ['a ydernummer twice', { practices: [practice(), practice()] }, /practices\[1\] \(222222\): ydernummer listed twice/],
  [
    'a party transport to a party that does not exist',
    { practices: [practice({ transport: { kind: 'party', partyId: 'gp-x' } })] },
    /transport\.partyId: no party "gp-x"/,
  ],
  [
    'a party transport to a municipality',
    { practices: [practice({ transport: { kind: 'party', partyId: 'kommune-101' } })] },
    /kommune-101 is a municipality, not a gp-system/,
  ],
];
for (const [name, json, re] of bad) {
  test(`refused: ${name}, naming the practice and field`, () => {
    assert.throws(() => parseGpDirectory(typeof json === 'string' ? json : JSON.stringify(json), parties), re);
  });
}

test('the directory decides, and a bad file on reload leaves the old one in force', () => {
  const file = join(dir, 'gp.json');
  writeFileSync(file, JSON.stringify({ practices: [practice()] }));
  const d = createGpDirectory(file, parties, log);
  assert.equal(d.practice('222222')?.transport.kind, 'vans');
  assert.equal(d.practice('111111'), undefined, "a gp-system party's own ydernumre do not count when a directory is configured");
  writeFileSync(file, '{ broken');
  const r = d.reload();
  assert.equal(r.ok, false);
  assert.equal(d.practice('222222')?.name, 'Lægerne', 'the old directory stays');
  assert.ok(logs.some((l) => l.startsWith('error GP directory refused')));
  writeFileSync(file, JSON.stringify({ practices: [practice({ name: 'Nye Lægerne' })] }));
  assert.deepEqual(d.reload(), { ok: true });
  assert.equal(d.practice('222222')?.name, 'Nye Lægerne');
});

test('without a directory (development): the gp-system parties stand in, with their sor and ean', () => {
  const d = createGpDirectory(undefined, parties, log);
  assert.deepEqual(d.practice('111111'), {
    ydernummer: '111111',
    name: 'Lægehuset',
    sor: '111111000016001',
    ean: '5790000111114',
    transport: { kind: 'party', partyId: 'gp-1' },
  });
  assert.equal(d.practice('999999'), undefined);
  assert.ok(logs.some((l) => l.includes('development fallback')));
});

test('§15 stk. 2: a directory file with a mistyped EAN is refused at start-up and on reload, naming the file and the practice', () => {
  const file = join(dir, 'gp-typo.json');
  const typo = JSON.stringify({ practices: [practice({ ean: '5790000222232' })] });
  writeFileSync(file, typo);
  assert.throws(
    () => createGpDirectory(file, parties, log),
    /gp-typo\.json: GP directory is invalid:\n {2}practices\[0\] \(222222\)\.ean: 5790000222232/,
  );
  writeFileSync(file, JSON.stringify({ practices: [practice()] }));
  const d = createGpDirectory(file, parties, log);
  writeFileSync(file, typo);
  const r = d.reload();
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /practices\[0\] \(222222\)\.ean: 5790000222232 .*check digit/);
  assert.equal(d.practice('222222')?.ean, '5790000222223', 'the previous directory stays');
});

test('the development directory holds valid EANs (GS1 check digits)', () => {
  const devParties = createPartyRegistry('config/parties.dev.json');
  const list = parseGpDirectory(readFileSync('config/gp-directory.dev.json', 'utf8'), devParties);
  assert.ok(list.length > 0);
});

test('a missing file is refused at start-up, naming it', () => {
  assert.throws(() => createGpDirectory(join(dir, 'nope.json'), parties, log), /cannot read GP directory .*nope\.json/);
});
