import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPartyRegistry, normaliseFingerprint, parsePartiesFile, type Party } from '../../src/parties/parties.js';
import { isKnownMunicipality, loadMunicipalities } from '../../src/parties/municipalities.js';

const { regionOf, regionName } = loadMunicipalities();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postkasse-parties-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const DEV_FILE = fileURLToPath(new URL('../../config/parties.dev.json', import.meta.url));
const devJson = () => JSON.parse(fs.readFileSync(DEV_FILE, 'utf8')) as { parties: Array<Record<string, unknown>> };

const FP = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const FP_COLONS_UPPER = FP.toUpperCase().match(/../g)!.join(':');

function write(name: string, data: unknown): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, typeof data === 'string' ? data : JSON.stringify(data));
  return f;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail('expected an error');
}

describe('the development parties file', () => {
  const parties = parsePartiesFile(fs.readFileSync(DEV_FILE, 'utf8'));
  const byId = new Map(parties.map((p) => [p.id, p]));

  test('parses, with every demo party the brief names', () => {
    assert.deepEqual(
      parties.map((p) => `${p.id}:${p.kind}`),
      [
        'kommune-101:municipality',
        'kommune-147:municipality',
        'kommune-253:municipality',
        'spe:senior-pension-unit',
        'coord-anna:staff',
        'coord-carl:staff',
        'coord-x:staff',
        'spec-bo:staff',
        'spec-eva:staff',
        'lead-1:staff',
        'fin-1:staff',
        'gp-057584:gp-system',
        'vans-dev:vans-provider',
      ],
    );
  });

  test('organisations carry UI:DK-O:G:<uuid>, staff UI:DK-E:G:<uuid>, all distinct', () => {
    const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
    const seen = new Set<string>();
    for (const p of parties) {
      assert.equal(p.certificates.length, 1, p.id);
      const s = p.certificates[0]!.subjectSerialNumber!;
      assert.match(s, new RegExp(`^UI:DK-${p.kind === 'staff' ? 'E' : 'O'}:G:${uuid}$`), p.id);
      seen.add(s);
      assert.equal(p.push, undefined, `${p.id} has no push URL`);
    }
    assert.equal(seen.size, parties.length);
  });

  test('staff details: roles, municipalities, ydernumre, capacity (default 3), specialty', () => {
    const anna = byId.get('coord-anna') as Extract<Party, { kind: 'staff' }>;
    assert.deepEqual(
      [anna.roles, anna.municipalities, anna.ydernumre, anna.capacityPerDay],
      [['coordinator'], ['101', '147'], ['012345'], 3],
    );
    const carl = byId.get('coord-carl') as Extract<Party, { kind: 'staff' }>;
    assert.deepEqual([carl.roles, carl.municipalities, carl.ydernumre, carl.capacityPerDay], [['coordinator'], ['101', '147'], [], 3]);
    const x = byId.get('coord-x') as Extract<Party, { kind: 'staff' }>;
    assert.deepEqual([x.roles, x.municipalities, x.capacityPerDay], [['coordinator'], ['101'], 3]);
    const bo = byId.get('spec-bo') as Extract<Party, { kind: 'staff' }>;
    assert.deepEqual([bo.roles, bo.specialty], [['specialist'], 'psychiatry']);
    const eva = byId.get('spec-eva') as Extract<Party, { kind: 'staff' }>;
    assert.deepEqual([eva.roles, eva.specialty], [['specialist'], 'orthopaedics']);
    assert.deepEqual((byId.get('lead-1') as Extract<Party, { kind: 'staff' }>).roles, ['team-lead']);
  });

  test('municipalities: 101 and 147 in Region Hovedstaden, 253 (Greve) in Region Sjælland', () => {
    const code = (id: string) => (byId.get(id) as Extract<Party, { kind: 'municipality' }>).municipalityCode;
    assert.deepEqual(['kommune-101', 'kommune-147', 'kommune-253'].map(code), ['101', '147', '253']);
    assert.deepEqual(['101', '147', '253'].map(regionOf), ['1084', '1084', '1085']);
    assert.deepEqual((byId.get('gp-057584') as Extract<Party, { kind: 'gp-system' }>).ydernumre, ['057584']);
  });
});

describe('parsePartiesFile rejects each class of error, naming the party and field', () => {
  type Mutation = (f: { parties: Array<Record<string, unknown>> }) => void;
  const cases: Array<[string, Mutation, RegExp]> = [
    [
      'unknown kind',
      (f) => (f.parties[0]!.kind = 'kommune'),
      /parties\[0\] \("kommune-101"\) kind: must be one of municipality, senior-pension-unit, staff, gp-system/,
    ],
    ['missing kind', (f) => delete f.parties[0]!.kind, /parties\[0\] \("kommune-101"\) kind: must be one of/],
    [
      'municipality without municipalityCode',
      (f) => delete f.parties[1]!.municipalityCode,
      /parties\[1\] \("kommune-147"\) municipalityCode: is required/,
    ],
    [
      'municipalityCode not 3 digits',
      (f) => (f.parties[1]!.municipalityCode = '1470'),
      /parties\[1\] \("kommune-147"\) municipalityCode: must be a 3-digit municipality code$/,
    ],
    [
      'unknown municipalityCode',
      (f) => (f.parties[1]!.municipalityCode = '999'),
      /parties\[1\] \("kommune-147"\) municipalityCode: is not a known municipality code/,
    ],
    ['missing name', (f) => delete f.parties[3]!.name, /parties\[3\] \("spe"\) name: is required/],
    ['empty name', (f) => (f.parties[3]!.name = '  '), /parties\[3\] \("spe"\) name: must not be empty/],
    ['bad id', (f) => (f.parties[3]!.id = 'spe/../x'), /parties\[3\] \("spe\/..\/x"\) id: must be 1–64 characters/],
    ['unknown field', (f) => (f.parties[3]!.ydernumre = ['057584']), /parties\[3\] \("spe"\): unknown field "ydernumre"/],
    [
      'unknown staff role',
      (f) => (f.parties[4]!.roles = ['coordinator', 'boss']),
      /parties\[4\] \("coord-anna"\) roles\[1\]: must be one of coordinator, specialist, team-lead/,
    ],
    ['no staff role', (f) => (f.parties[4]!.roles = []), /parties\[4\] \("coord-anna"\) roles: must name at least one role/],
    [
      'repeated staff role',
      (f) => (f.parties[4]!.roles = ['coordinator', 'coordinator']),
      /parties\[4\] \("coord-anna"\) roles: must not repeat a role/,
    ],
    [
      'staff municipality code',
      (f) => (f.parties[4]!.municipalities = ['101', '14']),
      /parties\[4\] \("coord-anna"\) municipalities\[1\]: must be a 3-digit municipality code/,
    ],
    [
      'staff ydernummer not 6 digits',
      (f) => (f.parties[4]!.ydernumre = ['12345']),
      /parties\[4\] \("coord-anna"\) ydernumre\[0\]: must be a 6-digit ydernummer/,
    ],
    [
      'capacityPerDay zero',
      (f) => (f.parties[4]!.capacityPerDay = 0),
      /parties\[4\] \("coord-anna"\) capacityPerDay: must be a positive number/,
    ],
    [
      'capacityPerDay as text',
      (f) => (f.parties[4]!.capacityPerDay = '3'),
      /parties\[4\] \("coord-anna"\) capacityPerDay: must be a number/,
    ],
    ['gp-system without ydernumre', (f) => delete f.parties[11]!.ydernumre, /parties\[11\] \("gp-057584"\) ydernumre: is required/],
    [
      'gp-system with empty ydernumre',
      (f) => (f.parties[11]!.ydernumre = []),
      /parties\[11\] \("gp-057584"\) ydernumre: must list at least one ydernummer/,
    ],
    [
      'certificate entry with neither',
      (f) => (f.parties[0]!.certificates = [{}]),
      /parties\[0\] \("kommune-101"\) certificates\[0\]: give exactly one of subjectSerialNumber or sha256/,
    ],
    [
      'certificate entry with both',
      (f) => (f.parties[0]!.certificates = [{ subjectSerialNumber: 'UI:DK-O:G:x', sha256: FP }]),
      /parties\[0\] \("kommune-101"\) certificates\[0\]: give exactly one/,
    ],
    [
      'certificate entry with an unknown field',
      (f) => (f.parties[0]!.certificates = [{ cn: 'Københavns Kommune' }]),
      /parties\[0\] \("kommune-101"\) certificates\[0\]: unknown field "cn"/,
    ],
    [
      'sha256 not 64 hex digits',
      (f) => (f.parties[0]!.certificates = [{ sha256: FP.slice(2) }]),
      /parties\[0\] \("kommune-101"\) certificates\[0\]\.sha256: must be a SHA-256 fingerprint/,
    ],
    [
      'sha256 not hex',
      (f) => (f.parties[0]!.certificates = [{ sha256: 'g' + FP.slice(1) }]),
      /certificates\[0\]\.sha256: must be a SHA-256 fingerprint/,
    ],
    [
      'empty subjectSerialNumber',
      (f) => (f.parties[0]!.certificates = [{ subjectSerialNumber: '' }]),
      /certificates\[0\]\.subjectSerialNumber: must not be empty/,
    ],
    [
      'push url not https',
      (f) => (f.parties[0]!.push = { url: 'http://kommune.example/inbox' }),
      /parties\[0\] \("kommune-101"\) push\.url: must be an https:\/\/ URL/,
    ],
    [
      'push url with credentials',
      (f) => (f.parties[0]!.push = { url: 'https://u:p@kommune.example/inbox' }),
      /push\.url: must be an https:\/\/ URL without credentials/,
    ],
    ['push without url', (f) => (f.parties[0]!.push = {}), /parties\[0\] \("kommune-101"\) push\.url: is required/],
    [
      'duplicate party id',
      (f) => (f.parties[5]!.id = 'coord-anna'),
      /parties\[5\] \("coord-anna"\) id: duplicate party id \(also parties\[4\]\)/,
    ],
    [
      'subjectSerialNumber in two parties',
      (f) => (f.parties[1]!.certificates = f.parties[0]!.certificates),
      /parties\[1\] \("kommune-147"\) certificates\[0\]\.subjectSerialNumber: already belongs to party "kommune-101"/,
    ],
    [
      'the same fingerprint in two parties, written differently',
      (f) => {
        f.parties[0]!.certificates = [{ sha256: FP }];
        f.parties[1]!.certificates = [{ sha256: FP_COLONS_UPPER }];
      },
      /parties\[1\] \("kommune-147"\) certificates\[0\]\.sha256: already belongs to party "kommune-101"/,
    ],
    [
      'the same certificate twice in one party',
      (f) => (f.parties[0]!.certificates = [{ sha256: FP }, { sha256: FP_COLONS_UPPER }]),
      /parties\[0\] \("kommune-101"\) certificates\[1\]\.sha256: listed twice/,
    ],
    [
      'a ydernummer served by two gp-systems',
      (f) => f.parties.push({ id: 'gp-2', kind: 'gp-system', name: 'Other', ydernumre: ['111111', '057584'], certificates: [] }),
      /parties\[13\] \("gp-2"\) ydernumre\[1\]: ydernummer 057584 already belongs to gp-system "gp-057584"/,
    ],
    [
      'an entry that is not an object',
      (f) => f.parties.push(null as unknown as Record<string, unknown>),
      /parties\[13\]: must be an object/,
    ],
  ];

  for (const [name, mutate, expected] of cases) {
    test(name, () => {
      const f = devJson();
      mutate(f);
      const msg = errorOf(() => parsePartiesFile(f));
      assert.match(msg, /^parties file is invalid:/);
      assert.match(msg, new RegExp(expected.source, 'm'));
    });
  }

  test('every problem is reported, not only the first', () => {
    const f = devJson();
    f.parties[0]!.kind = 'x';
    f.parties[4]!.capacityPerDay = -1;
    const msg = errorOf(() => parsePartiesFile(f));
    assert.match(msg, /parties\[0\]/);
    assert.match(msg, /parties\[4\]/);
  });

  test('not JSON, or no parties array', () => {
    assert.match(
      errorOf(() => parsePartiesFile('{"parties": [')),
      /not valid JSON/,
    );
    assert.match(
      errorOf(() => parsePartiesFile({ party: [] })),
      /"parties" array/,
    );
    assert.match(
      errorOf(() => parsePartiesFile([])),
      /"parties" array/,
    );
  });

  test('accepted: sha256 in any case with or without colons, normalised; https push URL; staff defaults', () => {
    const [a, b] = parsePartiesFile({
      parties: [
        {
          id: 'a',
          kind: 'gp-system',
          name: 'A',
          ydernumre: ['000001'],
          certificates: [{ sha256: FP }],
          push: { url: 'https://gp.example/inbox' },
        },
        { id: 'b', kind: 'staff', roles: ['specialist', 'team-lead'], name: 'B', certificates: [{ sha256: 'Ff:'.repeat(31) + 'fF' }] },
      ],
    });
    assert.deepEqual(a!.certificates, [{ sha256: FP.toUpperCase() }]);
    assert.deepEqual(b!.certificates, [{ sha256: 'FF'.repeat(32) }]);
    assert.deepEqual(a!.push, { url: 'https://gp.example/inbox' });
    assert.ok(b && b.kind === 'staff');
    assert.deepEqual([b.municipalities, b.ydernumre, b.capacityPerDay], [[], [], 3]);
  });
});

describe('party registry', () => {
  const serialA = 'UI:DK-O:G:aaaaaaaa-0000-4000-8000-000000000001';
  const fileData = (nameOfA = 'A') => ({
    parties: [
      { id: 'a', kind: 'municipality', municipalityCode: '101', name: nameOfA, certificates: [{ subjectSerialNumber: serialA }] },
      { id: 'b', kind: 'senior-pension-unit', name: 'B', certificates: [{ sha256: FP_COLONS_UPPER.toLowerCase() }] },
      { id: 'gp', kind: 'gp-system', name: 'GP', ydernumre: ['057584', '123456'], certificates: [] },
      { id: 'staff', kind: 'staff', roles: ['coordinator'], name: 'S', ydernumre: ['999999'], certificates: [] },
    ],
  });

  test('all, get, gpSystemFor', () => {
    const r = createPartyRegistry(write('reg1.json', fileData()));
    assert.deepEqual(
      r.all().map((p) => p.id),
      ['a', 'b', 'gp', 'staff'],
    );
    assert.equal(r.get('b')?.name, 'B');
    assert.equal(r.get('nobody'), undefined);
    assert.equal(r.gpSystemFor('123456')?.id, 'gp');
    assert.equal(r.gpSystemFor('999999'), undefined, "a staff member's own ydernummer is not a gp-system");
    assert.equal(r.gpSystemFor('000000'), undefined);
  });

  test('byCertificate: fingerprint matches with or without colons and in any case', () => {
    const r = createPartyRegistry(write('reg2.json', fileData()));
    for (const fp of [FP_COLONS_UPPER, FP_COLONS_UPPER.toLowerCase(), FP, FP.toUpperCase()]) {
      assert.equal(r.byCertificate({ fingerprint256: fp })?.id, 'b', fp);
    }
    assert.equal(r.byCertificate({ fingerprint256: FP_COLONS_UPPER.replace(/^A1/, 'A2') }), undefined);
    assert.equal(r.byCertificate({ fingerprint256: '' }), undefined);
  });

  test('byCertificate: subject serialNumber matches exactly; CN-like or partial values do not', () => {
    const r = createPartyRegistry(write('reg3.json', fileData()));
    assert.equal(r.byCertificate({ subjectSerialNumber: serialA, fingerprint256: 'AA:BB' })?.id, 'a');
    assert.equal(r.byCertificate({ subjectSerialNumber: serialA.slice(0, -1), fingerprint256: 'AA:BB' }), undefined);
    assert.equal(r.byCertificate({ subjectSerialNumber: 'A', fingerprint256: 'AA:BB' }), undefined);
    assert.equal(r.byCertificate({ fingerprint256: 'AA:BB' }), undefined);
  });

  test('byCertificate: a certificate matching two different parties maps to none', () => {
    const warnings: string[] = [];
    const r = createPartyRegistry(write('reg4.json', fileData()), { info() {}, warn: (_o, m) => void warnings.push(m ?? '') });
    assert.equal(r.byCertificate({ subjectSerialNumber: serialA, fingerprint256: FP_COLONS_UPPER }), undefined);
    assert.equal(warnings.length, 1);
  });

  test('reload: a bad file is refused and the old set stays; a good one replaces it', () => {
    const f = write('reg5.json', fileData());
    const errors: string[] = [];
    const r = createPartyRegistry(f, { info() {}, error: (o) => void errors.push(JSON.stringify(o)) });
    assert.equal(r.get('a')?.name, 'A');

    fs.writeFileSync(f, JSON.stringify({ parties: [{ id: 'a', kind: 'municipality', name: 'A2', certificates: [] }] }));
    const bad = r.reload();
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.error : '', /parties\[0\] \("a"\) municipalityCode: is required/);
    assert.equal(errors.length, 1);
    assert.deepEqual(
      r.all().map((p) => p.id),
      ['a', 'b', 'gp', 'staff'],
    );
    assert.equal(r.byCertificate({ subjectSerialNumber: serialA, fingerprint256: 'x' })?.name, 'A');

    fs.writeFileSync(f, '{ not json');
    assert.equal(r.reload().ok, false);
    fs.rmSync(f);
    const missing = r.reload();
    assert.match(!missing.ok ? missing.error : '', /cannot read parties file/);
    assert.equal(r.get('a')?.name, 'A');

    fs.writeFileSync(f, JSON.stringify(fileData('A renamed')));
    assert.deepEqual(r.reload(), { ok: true });
    assert.equal(r.get('a')?.name, 'A renamed');
    assert.equal(r.byCertificate({ subjectSerialNumber: serialA, fingerprint256: 'x' })?.name, 'A renamed');
  });

  test('creating a registry from a bad file throws with the file name', () => {
    const f = write('reg6.json', { parties: [{ id: 'x', kind: 'staff', name: 'X', roles: [], certificates: [] }] });
    assert.throws(
      () => createPartyRegistry(f),
      (e: Error) => e.message.includes(f) && /roles: must name at least one role/.test(e.message),
    );
  });

  test('normaliseFingerprint', () => {
    assert.equal(normaliseFingerprint('ab:cD:01'), 'ABCD01');
  });
});

describe('municipality table', () => {
  test('regionOf, isKnownMunicipality, regionName (by region or municipality code)', () => {
    assert.equal(regionOf('101'), '1084');
    assert.equal(regionOf('253'), '1085');
    assert.equal(regionOf('851'), '1081');
    assert.equal(regionOf('999'), undefined);
    assert.equal(regionOf('__proto__'), undefined);
    assert.equal(isKnownMunicipality('147'), true);
    assert.equal(isKnownMunicipality('1084'), false);
    assert.equal(regionName('1084'), 'Region Hovedstaden');
    assert.equal(regionName('253'), 'Region Sjælland');
    assert.equal(regionName('9999'), undefined);
    assert.equal(regionName('constructor'), undefined);
  });

  test('all 98 municipalities map to one of the five regions', () => {
    const t = loadMunicipalities();
    assert.equal(t.codes().length, 98);
    for (const c of t.codes()) assert.match(t.regionOf(c)!, /^108[1-5]$/);
  });

  test('a broken table is refused with a message', () => {
    const f = write('muni.json', { regions: { '1084': 'H' }, municipalities: { '101': '1089' } });
    assert.throws(() => loadMunicipalities(f), /municipality 101 names unknown region 1089/);
    const g = write('muni2.json', { regions: {}, municipalities: { '1011': '1084' } });
    assert.throws(() => loadMunicipalities(g), /muni2\.json: municipalities\.1011: /);
  });
});
