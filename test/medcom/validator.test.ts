/**
 * The MedCom FHIR validator (src/medcom/): loading MedCom's packages (.tgz
 * and extracted), MedCom's official example Bundles validating clean,
 * negative cases that only a working validator catches (each checked at its
 * FHIRPath location), one test per adaptation rule in
 * src/medcom/validator-rules.ts, the `medcom validate` command, the
 * WebSocket shim, and that the validator still loads once bundled by esbuild.
 *
 * Packages: MEDCOM_PACKAGES_DIR, else ../shared/medcom next to the repository.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { medcomCommand, medcomValidate } from '../../src/cli/medcom.js';
import { loadMedcomPackages, REQUIRED_MEDCOM_PACKAGES, type MedcomPackages } from '../../src/medcom/packages.js';
import { ADAPTATION_RULES } from '../../src/medcom/validator-rules.js';
import {
  ACKNOWLEDGEMENT_MESSAGE_PROFILE,
  CARECOMMUNICATION_MESSAGE_PROFILE,
  createMedcomValidator,
  type MedcomValidator,
  type ValidationIssue,
} from '../../src/medcom/validator.js';
import { installWebSocketShim, UnavailableWebSocket, WEBSOCKET_UNAVAILABLE } from '../../src/medcom/websocket-shim.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES_DIR = process.env.MEDCOM_PACKAGES_DIR ?? resolve(ROOT, '..', 'shared', 'medcom');
/** Before anything here loads @medplum/core: does this Node have a WebSocket of its own? */
const NATIVE_WEBSOCKET: unknown = (globalThis as { WebSocket?: unknown }).WebSocket;

type Json = any;

const tmp = mkdtempSync(join(tmpdir(), 'postkasse-medcom-validator-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let pkgs: MedcomPackages;
let validator: MedcomValidator;
let loadMs = 0;
let createMs = 0;

before(async () => {
  let t = performance.now();
  pkgs = await loadMedcomPackages(PACKAGES_DIR);
  loadMs = performance.now() - t;
  t = performance.now();
  validator = createMedcomValidator(pkgs);
  createMs = performance.now() - t;
});

function bundles(packageName: string): { file: string; resource: Json }[] {
  return pkgs.examples.filter((e) => e.packageName === packageName && e.resource.resourceType === 'Bundle');
}

/** A fresh copy of one of MedCom's example Bundles. */
function example(packageName: string, idPrefix: string): Json {
  const found = bundles(packageName).find((e) => e.file.includes(`Bundle-${idPrefix}`));
  assert.ok(found, `example Bundle-${idPrefix} in ${packageName}`);
  return structuredClone(found.resource);
}

const careCommunication = (): Json => example('medcom.fhir.dk.carecommunication', '3dcb5618');
const acknowledgement = (): Json => example('medcom.fhir.dk.acknowledgement', 'a8c041b8');

function entryIndex(bundle: Json, resourceType: string): number {
  const i = bundle.entry.findIndex((e: Json) => e.resource.resourceType === resourceType);
  assert.ok(i >= 0, `an entry with a ${resourceType}`);
  return i;
}

function errors(issues: ValidationIssue[]): ValidationIssue[] {
  return issues.filter((i) => i.severity === 'error');
}

function show(issues: ValidationIssue[]): string {
  return issues.map((i) => `${i.severity} ${i.location} ${i.message} (${i.rule ?? ''})`).join('\n');
}

/** Asserts an error at exactly `location`, with `rule` and, if given, a message matching `message`. */
function assertError(issues: ValidationIssue[], location: string, rule: string | undefined, message?: RegExp): void {
  const hit = errors(issues).find((i) => i.location === location && i.rule === rule && (!message || message.test(i.message)));
  assert.ok(hit, `expected an error at ${location} (${rule ?? 'no rule'}), got:\n${show(issues)}`);
}

// ---------------------------------------------------------------------------
// Packages

test('loads the packages from the directory of .tgz files', () => {
  const names = pkgs.packages.map((p) => p.name);
  for (const required of REQUIRED_MEDCOM_PACKAGES) assert.ok(names.includes(required), required);
  const cc = pkgs.packages.find((p) => p.name === 'medcom.fhir.dk.carecommunication');
  assert.equal(cc?.version, '5.0.2');
  assert.ok(cc?.source.endsWith('.tgz'));
  const sd = pkgs.structureDefinitions.get(CARECOMMUNICATION_MESSAGE_PROFILE);
  assert.equal(sd?.type, 'Bundle');
  assert.ok(sd?.snapshot?.element?.length, 'with its snapshot');
  assert.equal(pkgs.structureDefinitions.get(`${CARECOMMUNICATION_MESSAGE_PROFILE}|5.0.2`), sd);
  assert.ok(pkgs.valueSets.has('http://medcomfhir.dk/ig/terminology/ValueSet/medcom-careCommunication-categories'));
  assert.ok(pkgs.codeSystems.has('http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes'));
  assert.ok(bundles('medcom.fhir.dk.carecommunication').length > 0);
  assert.ok(pkgs.examples.every((e) => e.file.startsWith('example/')));
});

test('loads the same packages extracted to <name>/package/ folders', async () => {
  const dir = join(tmp, 'extracted');
  for (const file of readdirSync(PACKAGES_DIR).filter((f) => f.endsWith('.tgz'))) {
    const into = join(dir, file.replace(/\.tgz$/, ''));
    mkdirSync(into, { recursive: true });
    execFileSync('tar', ['-xzf', join(PACKAGES_DIR, file), '-C', into]);
  }
  const extracted = await loadMedcomPackages(dir);
  assert.deepEqual(
    extracted.packages.map((p) => `${p.name}@${p.version}`),
    pkgs.packages.map((p) => `${p.name}@${p.version}`),
  );
  assert.ok(extracted.packages.every((p) => p.source.endsWith('package')));
  assert.deepEqual([...extracted.structureDefinitions.keys()].sort(), [...pkgs.structureDefinitions.keys()].sort());
  assert.deepEqual([...extracted.valueSets.keys()].sort(), [...pkgs.valueSets.keys()].sort());
  assert.equal(extracted.examples.length, pkgs.examples.length);
  const bundle = extracted.examples.find((e) => e.file.includes('Bundle-3dcb5618'));
  assert.deepEqual(errors(createMedcomValidator(extracted).validate(bundle?.resource)), []);
});

test('refuses a missing directory, an empty one and an incomplete one, saying where it looked and what it needs', async () => {
  const missing = join(tmp, 'no-such-dir');
  await assert.rejects(loadMedcomPackages(missing), (err: Error) => {
    assert.ok(err.message.includes(missing), err.message);
    assert.match(err.message, /MEDCOM_PACKAGES_DIR/);
    assert.match(err.message, /\.tgz/);
    return true;
  });
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  await assert.rejects(loadMedcomPackages(empty), /no packages in .*empty.*required: medcom\.fhir\.dk\.carecommunication/);
  const partial = join(tmp, 'partial');
  mkdirSync(partial);
  const terminology = readdirSync(PACKAGES_DIR).find((f) => f.startsWith('medcom.fhir.dk.terminology-'));
  assert.ok(terminology);
  copyFileSync(join(PACKAGES_DIR, terminology), join(partial, terminology));
  await assert.rejects(loadMedcomPackages(partial), (err: Error) => {
    assert.match(err.message, /missing medcom\.fhir\.dk\.carecommunication, medcom\.fhir\.dk\.messaging, medcom\.fhir\.dk\.core/);
    assert.match(err.message, /Found medcom\.fhir\.dk\.terminology 2\.0\.1/);
    return true;
  });
});

// ---------------------------------------------------------------------------
// MedCom's official examples

for (const packageName of ['medcom.fhir.dk.carecommunication', 'medcom.fhir.dk.acknowledgement']) {
  test(`every official example Bundle of ${packageName} validates without errors`, () => {
    const examples = bundles(packageName);
    assert.ok(examples.length > 0, 'the package has example Bundles');
    const profile = packageName.endsWith('acknowledgement') ? ACKNOWLEDGEMENT_MESSAGE_PROFILE : CARECOMMUNICATION_MESSAGE_PROFILE;
    assert.ok(
      examples.some((e) => e.resource.meta?.profile?.includes(profile)),
      `some declare ${profile}`,
    );
    for (const { file, resource } of examples) {
      const issues = validator.validate(resource);
      assert.deepEqual(errors(issues), [], `${file}:\n${show(issues)}`);
    }
  });
}

test('validating a message Bundle takes milliseconds once loaded', () => {
  const bundle = careCommunication();
  validator.validate(bundle);
  const runs = 20;
  const t = performance.now();
  for (let i = 0; i < runs; i++) validator.validate(bundle);
  const perBundle = (performance.now() - t) / runs;
  // Measured on the development machine: packages ~0.15 s, validator ~0.7 s, ~15 ms per CareCommunication Bundle.
  console.log(`# medcom: packages ${loadMs.toFixed(0)} ms, validator ${createMs.toFixed(0)} ms, one Bundle ${perBundle.toFixed(1)} ms`);
  assert.ok(perBundle < 250, `${perBundle} ms per Bundle`);
});

// ---------------------------------------------------------------------------
// What a working validator catches

test('a cc destination on a CareCommunication MessageHeader (slice cc is 0..0)', () => {
  const b = careCommunication();
  const header = b.entry[0].resource;
  header.destination.push({
    ...structuredClone(header.destination[0]),
    extension: [{ ...header.destination[0].extension[0], valueCoding: { ...header.destination[0].extension[0].valueCoding, code: 'cc' } }],
  });
  assertError(validator.validate(b), 'Bundle.entry[0].resource.destination[1]', 'slicing', /slice 'cc'.*not allowed/);
});

test('two Patients in the Bundle (medcom-careCommunication-2)', () => {
  const b = careCommunication();
  const patient = structuredClone(b.entry[entryIndex(b, 'Patient')]);
  patient.resource.id = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
  patient.fullUrl = patient.fullUrl.replace(/[^/]+$/, patient.resource.id);
  b.entry.push(patient);
  assertError(validator.validate(b), 'Bundle', 'medcom-careCommunication-2');
});

test('a Communication.identifier that is not a urn:uuid (medcom-uuidv4)', () => {
  const b = careCommunication();
  const i = entryIndex(b, 'Communication');
  b.entry[i].resource.identifier[0].value = 'b2eb3d0e-5de5-4de9-b2a3-0ff321ad1c3a';
  assertError(validator.validate(b), `Bundle.entry[${i}].resource.identifier[0]`, 'medcom-uuidv4');
});

test('an attachment payload without a title (payload:attachment content.title 1..1)', () => {
  const b = careCommunication();
  const i = entryIndex(b, 'Communication');
  const p = b.entry[i].resource.payload.findIndex((x: Json) => x.contentAttachment);
  assert.ok(p >= 0);
  delete b.entry[i].resource.payload[p].contentAttachment.title;
  assertError(validator.validate(b), `Bundle.entry[${i}].resource.payload[${p}].content.title`, undefined, /Missing required property/);
});

test('a category code that is not in the value set (required binding)', () => {
  const b = careCommunication();
  const i = entryIndex(b, 'Communication');
  b.entry[i].resource.category[0].coding[0].code = 'gossip';
  assertError(
    validator.validate(b),
    `Bundle.entry[${i}].resource.category[0]`,
    'terminology',
    /gossip.*medcom-careCommunication-categories/,
  );
});

test('a MessageHeader.definition that is not the CareCommunication message definition', () => {
  const b = careCommunication();
  b.entry[0].resource.definition =
    'http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComAcknowledgementMessageDefinition|2.0';
  assertError(validator.validate(b), 'Bundle.entry[0].resource.definition', 'medcom-carecommunication-definition-url');
});

test('an entry without meta.profile', () => {
  const b = careCommunication();
  const i = entryIndex(b, 'Patient');
  delete b.entry[i].resource.meta;
  assertError(validator.validate(b), `Bundle.entry[${i}].resource`, 'profile', /declares no profile/);
});

test('an entry whose resource type is not its profile’s', () => {
  const b = careCommunication();
  const i = entryIndex(b, 'Patient');
  b.entry[i].resource.resourceType = 'Practitioner';
  const issues = validator.validate(b);
  assertError(
    issues,
    `Bundle.entry[${i}].resource`,
    'profile-type',
    /is a Practitioner, but its profile .*medcom-core-patient is for Patient/,
  );
  assertError(issues, 'Bundle', 'medcom-careCommunication-2');
});

test('a Bundle or resource without a loaded MedCom profile, and input that is not a resource', () => {
  const b = careCommunication();
  delete b.meta;
  assertError(validator.validate(b), 'Bundle', 'profile', /declares no MedCom profile/);
  assertError(validator.validate(careCommunication(), { profile: 'http://example.org/StructureDefinition/x' }), 'Bundle', 'profile');
  assertError(validator.validate('{"resourceType":"Bundle"}'), '', 'resource');
  assertError(validator.validate(null), '', 'resource');
});

// ---------------------------------------------------------------------------
// One test per adaptation rule (src/medcom/validator-rules.ts)

const ruleTested = new Set<string>();
after(() => {
  const untested = ADAPTATION_RULES.map((r) => r.id).filter((id) => !ruleTested.has(id));
  assert.deepEqual(untested, [], 'every adaptation rule has a test');
});

test('rule profile-invariants: every failing MedCom invariant is reported, not only the first', () => {
  ruleTested.add('profile-invariants');
  const issues = validator.validate(acknowledgement(), { profile: CARECOMMUNICATION_MESSAGE_PROFILE });
  assertError(issues, 'Bundle', 'medcom-careCommunication-1');
  assertError(issues, 'Bundle', 'medcom-careCommunication-2');
});

test('rule bundle-resolve: invariants follow references into the Bundle (medcom-careCommunication-12)', () => {
  ruleTested.add('bundle-resolve');
  // The example with a recipient (a CareTeam): valid as published, so resolve() found the CareTeam and its organization.
  const b = example('medcom.fhir.dk.carecommunication', 'gfd00bc2');
  assert.deepEqual(errors(validator.validate(b)), []);
  const team = b.entry[entryIndex(b, 'CareTeam')].resource;
  team.managingOrganization = [{ reference: b.entry[0].resource.sender.reference }];
  assertError(validator.validate(b), 'Bundle', 'medcom-careCommunication-12');
});

test('rule conforms-to: the acknowledgement header must declare the acknowledgement header profile (medcom-acknowledgement-2)', () => {
  ruleTested.add('conforms-to');
  assert.deepEqual(errors(validator.validate(acknowledgement())), []);
  const b = acknowledgement();
  b.entry[0].resource.meta.profile = [
    'http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-messageHeader',
  ];
  assertError(validator.validate(b), 'Bundle', 'medcom-acknowledgement-2');
});

test('rule slicing: slice content and closed slicing', () => {
  ruleTested.add('slicing');
  const b = careCommunication();
  const i = entryIndex(b, 'Communication');
  // payload:string needs its date extension (slice extension:date 1..1)
  b.entry[i].resource.payload[0].extension = b.entry[i].resource.payload[0].extension.filter(
    (e: Json) => !e.url.endsWith('medcom-core-datetime-extension'),
  );
  // destination is closed slicing: a destination that is neither primary nor cc
  b.entry[0].resource.destination[0].extension[0].valueCoding.code = 'bcc';
  const issues = validator.validate(b);
  assertError(issues, `Bundle.entry[${i}].resource.payload[0].extension`, 'slicing', /slice 'date'/);
  assertError(issues, 'Bundle.entry[0].resource.destination[0]', 'slicing', /matches none of the slices primary, cc/);
  assertError(issues, 'Bundle.entry[0].resource.destination', 'slicing', /slice 'primary'.*found 0/);
});

test('rule dk-core-identifier-systems: an Organization without its SOR identifier', () => {
  ruleTested.add('dk-core-identifier-systems');
  // Valid as published: the SOR-ID and EAN-ID slices were told apart by the dk-core systems.
  assert.deepEqual(errors(validator.validate(careCommunication())), []);
  const b = careCommunication();
  const i = entryIndex(b, 'Organization');
  const org = b.entry[i].resource;
  org.identifier = org.identifier.filter((id: Json) => id.system !== 'urn:oid:1.2.208.176.1.1');
  org.identifier.push({ system: 'urn:oid:1.2.208.176.1.4', value: '123456' });
  assertError(validator.validate(b), `Bundle.entry[${i}].resource.identifier`, 'slicing', /slice 'SOR-ID'.*found 0/);
});

test('rule references: targets of the wrong type, and bundled references that do not resolve', () => {
  ruleTested.add('references');
  const b = careCommunication();
  const p = b.entry[entryIndex(b, 'Patient')].resource;
  b.entry[0].resource.focus[0].reference = `Patient/${p.id}`;
  b.entry[0].resource.sender.reference = 'Organization/4c2a1b5e-0000-4000-8000-000000000000';
  const issues = validator.validate(b);
  assertError(issues, 'Bundle.entry[0].resource.focus[0]', 'references', /points to a Patient; expected Communication/);
  assertError(issues, 'Bundle.entry[0].resource.sender', 'references', /does not resolve to an entry of the Bundle/);
});

test('rule terminology: an acknowledgement code outside the FHIR response-code value set', () => {
  ruleTested.add('terminology');
  const b = acknowledgement();
  b.entry[0].resource.response.code = 'maybe';
  assertError(validator.validate(b), 'Bundle.entry[0].resource.response.code', 'terminology', /"maybe".*response-code/);
});

test('rule type-profiles: a payload extension checked against MedCom’s extension profile', () => {
  ruleTested.add('type-profiles');
  const b = careCommunication();
  const i = entryIndex(b, 'Communication');
  const ext = b.entry[i].resource.payload[0].extension;
  const d = ext.findIndex((e: Json) => e.url.endsWith('medcom-core-datetime-extension'));
  ext[d] = { url: ext[d].url, valueString: 'yesterday' };
  assertError(
    validator.validate(b),
    `Bundle.entry[${i}].resource.payload[0].extension[${d}].value`,
    undefined,
    /Missing required property/,
  );
});

test('rule base64-size: a large attachment is accepted, bad base64 is not', () => {
  ruleTested.add('base64-size');
  const b = careCommunication();
  const i = entryIndex(b, 'Communication');
  const p = b.entry[i].resource.payload.findIndex((x: Json) => x.contentAttachment);
  b.entry[i].resource.payload[p].contentAttachment.data = Buffer.alloc(6 * 1024 * 1024, 0x25).toString('base64');
  assert.deepEqual(errors(validator.validate(b)), []);
  b.entry[i].resource.payload[p].contentAttachment.data = 'JVBERi0xLjQK!';
  assertError(validator.validate(b), `Bundle.entry[${i}].resource.payload[${p}].content.data`, undefined, /base64/);
});

test('rule empty-values: an empty SOR id, an empty array or object is an error where it is', () => {
  ruleTested.add('empty-values');
  const b = careCommunication();
  const o = entryIndex(b, 'Organization');
  const sor = (b.entry[o].resource.identifier as Json[]).findIndex((x) => x.system === 'urn:oid:1.2.208.176.1.1');
  b.entry[o].resource.identifier[sor].value = '';
  assertError(validator.validate(b), `Bundle.entry[${o}].resource.identifier[${sor}].value`, 'empty-values');
  const c = careCommunication();
  c.entry[entryIndex(c, 'Patient')].resource.name = [];
  c.entry[entryIndex(c, 'Communication')].resource.topic = {};
  const issues = validator.validate(c);
  assertError(issues, `Bundle.entry[${entryIndex(c, 'Patient')}].resource.name`, 'empty-values');
  assertError(issues, `Bundle.entry[${entryIndex(c, 'Communication')}].resource.topic`, 'empty-values');
});

// ---------------------------------------------------------------------------
// The command

function capture(): { out: { stdout: { write(s: string): void }; stderr: { write(s: string): void } }; text(): string } {
  let text = '';
  const sink = { write: (s: string) => void (text += s) };
  return { out: { stdout: sink, stderr: sink }, text: () => text };
}

test('medcom validate: a valid example (exit 0) and an invalid file (exit 1, with the FHIRPath location)', async () => {
  const valid = join(tmp, 'valid.json');
  writeFileSync(valid, JSON.stringify(careCommunication()));
  let c = capture();
  assert.equal(await medcomValidate([valid, '--packages', PACKAGES_DIR], c.out), 0, c.text());
  assert.equal(c.text().trim().split('\n').at(-1), 'valid');

  const b = careCommunication();
  b.entry[0].resource.definition =
    'http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComAcknowledgementMessageDefinition|2.0';
  const invalid = join(tmp, 'invalid.json');
  writeFileSync(invalid, JSON.stringify(b));
  c = capture();
  assert.equal(await medcomValidate(['validate', invalid], c.out, { MEDCOM_PACKAGES_DIR: PACKAGES_DIR }), 1);
  assert.match(
    c.text(),
    /^error {2}Bundle\.entry\[0\]\.resource\.definition {2}SHALL reference .* \(medcom-carecommunication-definition-url\)$/m,
  );
  assert.match(c.text(), /^1 error$/m);
});

test('medcom validate: usage errors (exit 2), unreadable input and missing packages (exit 1)', async () => {
  let c = capture();
  assert.equal(await medcomValidate([], c.out), 2);
  assert.match(c.text(), /missing FILE/);
  c = capture();
  assert.equal(await medcomValidate(['a.json', '--bogus'], c.out), 2);
  c = capture();
  assert.equal(await medcomValidate([join(tmp, 'nope.json'), '--packages', PACKAGES_DIR], c.out), 1);
  assert.match(c.text(), /cannot read/);
  const file = join(tmp, 'valid-too.json');
  writeFileSync(file, JSON.stringify(acknowledgement()));
  c = capture();
  assert.equal(await medcomValidate([file, '--packages', join(tmp, 'no-packages-here')], c.out), 1);
  assert.match(c.text(), /no-packages-here.*MEDCOM_PACKAGES_DIR/);

  assert.equal((await medcomCommand(['help'])).code, 0);
  assert.equal((await medcomCommand(['show'])).code, 2);
  const r = await medcomCommand(['validate', file, '--packages', PACKAGES_DIR]);
  assert.equal(r.code, 0, r.stdout);
});

// ---------------------------------------------------------------------------
// @medplum/core on Node 20

test('the WebSocket shim: defined only when Node has none, and it refuses to connect', () => {
  const g = globalThis as { WebSocket?: unknown };
  // createMedcomValidator (in before) loaded @medplum/core, which needs a WebSocket global.
  if (NATIVE_WEBSOCKET === undefined) {
    assert.equal(g.WebSocket, UnavailableWebSocket);
    assert.throws(() => new (g.WebSocket as new (url: string) => unknown)('wss://example.invalid/'), { message: WEBSOCKET_UNAVAILABLE });
  } else {
    assert.equal(g.WebSocket, NATIVE_WEBSOCKET, 'a real WebSocket is left alone');
  }
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
  try {
    Object.defineProperty(globalThis, 'WebSocket', { value: class Real {}, writable: true, configurable: true });
    assert.equal(installWebSocketShim(), false);
    delete g.WebSocket;
    assert.equal(installWebSocketShim(), true);
    assert.equal(UnavailableWebSocket.CLOSED, 3);
    assert.throws(() => new UnavailableWebSocket(), { message: WEBSOCKET_UNAVAILABLE });
  } finally {
    delete g.WebSocket;
    if (saved) Object.defineProperty(globalThis, 'WebSocket', saved);
  }
});

test('bundled by esbuild as `npm run build` does, the validator loads and validates on plain node', async () => {
  // Output under the repository so that the external packages resolve from node_modules.
  const dir = join(ROOT, '.tmp', `medcom-esbuild-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      [
        `import { loadMedcomPackages } from ${JSON.stringify(join(ROOT, 'src/medcom/packages.ts'))};`,
        `import { createMedcomValidator } from ${JSON.stringify(join(ROOT, 'src/medcom/validator.ts'))};`,
        `const pkgs = await loadMedcomPackages(${JSON.stringify(PACKAGES_DIR)});`,
        `const v = createMedcomValidator(pkgs);`,
        `const b = pkgs.examples.find((e) => e.file.includes('Bundle-3dcb5618')).resource;`,
        `console.log(JSON.stringify(v.validate(b).filter((i) => i.severity === 'error')));`,
      ].join('\n'),
    );
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile: join(dir, 'entry.mjs'),
      logLevel: 'warning',
    });
    const out = execFileSync(process.execPath, [join(dir, 'entry.mjs')], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(out.trim(), '[]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
