/**
 * examples/ is what partners copy: every manifest there is valid against the
 * manifest schema, and each one is receipted by a real gateway (embedded
 * SQLite, the default development parties) when its sender posts it with
 * examples/sample.pdf for every document part, exactly as examples/README.md
 * says (`send --manifest examples/X.json --file PART=examples/sample.pdf`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { opensslVerify } from '../helpers/packages.js';
import { manifestSchema } from '../../src/intake/schema.js';
import { receiptSchema } from '../../src/receipts/schema.js';
import { sendCommand } from '../../src/cli/send.js';
import { SERVICES } from '../../src/deadlines/types.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const SAMPLE_PDF = join(EXAMPLES, 'sample.pdf');

/** Each service example and the party that sends it (the senior-pension unit sends the senior-pension services). */
const SERVICE_EXAMPLES: Record<string, { file: string; sender: string }> = {
  'rehab-team-advice': { file: 'rehab-team-advice.json', sender: 'kommune-101' },
  'ongoing-case-advice': { file: 'ongoing-case-advice.json', sender: 'kommune-101' },
  'early-pension-statement': { file: 'early-pension-statement.json', sender: 'kommune-101' },
  'clinical-assessment': { file: 'clinical-assessment.json', sender: 'kommune-101' },
  'resource-course-conversation': { file: 'resource-course-conversation.json', sender: 'kommune-101' },
  'senior-pension-advice': { file: 'senior-pension-advice.json', sender: 'spe' },
  'senior-pension-assessment': { file: 'senior-pension-assessment.json', sender: 'spe' },
};
const INCOMPLETE = 'incomplete-clinical-assessment.json';
const SUPPLEMENT = 'supplement.json';
const CASE_ID_PLACEHOLDER = '"CASE_ID"';

const jsonFiles = () =>
  readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.json'))
    .sort();
const readExample = (file: string) => readFileSync(join(EXAMPLES, file), 'utf8');
const parts = (text: string) => (JSON.parse(text) as { documents: { part: string }[] }).documents.map((d) => d.part);

type Receipt = ReturnType<typeof receiptSchema.parse>;

describe('examples/', () => {
  let g: TestGateway;
  let tmp: string;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'pk-examples-'));
    g = await startTestGateway({ dialect: 'sqlite' });
  });
  after(async () => {
    await g?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /**
   * What a partner runs: `send --manifest FILE --file PART=examples/sample.pdf … --as SENDER`.
   * Returns the HTTP status line's code, the receipt's exact bytes (as written to --out) and its signature.
   */
  async function send(manifestFile: string, sender: string) {
    const out = mkdtempSync(join(tmp, 'out-'));
    const fileArgs = parts(readFileSync(manifestFile, 'utf8')).flatMap((p) => ['--file', `${p}=${SAMPLE_PDF}`]);
    const r = await sendCommand(
      ['send', '--manifest', manifestFile, ...fileArgs, '--as', sender, '--url', g.url, '--out', out, '--timeout', '30'],
      {
        DATA_DIR: g.dataDir,
      },
    );
    assert.equal(r.code, 0, `${manifestFile} as ${sender}: ${r.stdout}${r.stderr}`);
    const status = Number(/^HTTP (\d{3})/m.exec(r.stdout)?.[1]);
    const receiptFile = readdirSync(out).find((f) => f.endsWith('.json'));
    assert.ok(receiptFile, r.stdout);
    const body = readFileSync(join(out, receiptFile));
    const signature = readFileSync(join(out, receiptFile.replace(/\.json$/, '.sig.der')));
    const v = opensslVerify(body, signature.toString('base64'), g.ca);
    assert.ok(v.ok, `openssl cms -verify: ${v.output}`);
    const receipt: Receipt = receiptSchema.parse(JSON.parse(body.toString('utf8')));
    return { status, body, receipt };
  }

  test('every examples/*.json is a valid manifest (supplement.json once CASE_ID is replaced by a caseId), with a distinct packageId', () => {
    const files = jsonFiles();
    assert.deepEqual(files, [...Object.values(SERVICE_EXAMPLES).map((e) => e.file), INCOMPLETE, SUPPLEMENT].sort(), 'the example set');
    const packageIds = new Set<string>();
    for (const f of files) {
      let text = readExample(f);
      if (f === SUPPLEMENT) {
        assert.ok(text.includes(CASE_ID_PLACEHOLDER), 'supplement.json carries the CASE_ID placeholder');
        text = text.replace(CASE_ID_PLACEHOLDER, JSON.stringify(randomUUID()));
      }
      const r = manifestSchema.safeParse(JSON.parse(text));
      assert.ok(r.success, `${f}: ${r.success ? '' : JSON.stringify(r.error.issues)}`);
      const m = r.data;
      assert.ok(!packageIds.has(m.packageId), `${f}: packageId ${m.packageId} is used by another example`);
      packageIds.add(m.packageId);
      assert.match(m.citizen.name, /\(fiktiv\)$/, `${f}: the citizen is visibly fictitious`);
      for (const d of m.documents) assert.equal(d.mediaType, 'application/pdf', `${f}: ${d.part} is sent as examples/sample.pdf`);
    }
  });

  test('every service has an example, and examples/README.md names every example file', () => {
    assert.deepEqual(Object.keys(SERVICE_EXAMPLES).sort(), [...SERVICES].sort());
    for (const [service, { file }] of Object.entries(SERVICE_EXAMPLES)) {
      assert.equal((JSON.parse(readExample(file)) as { service: string }).service, service, file);
    }
    const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    for (const f of [...jsonFiles(), 'sample.pdf']) assert.ok(readme.includes(f), `examples/README.md mentions ${f}`);
  });

  test('examples/sample.pdf is a small one-page PDF', () => {
    const pdf = readFileSync(SAMPLE_PDF);
    assert.ok(pdf.length < 4096, `${pdf.length} bytes`);
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.match(pdf.subarray(-8).toString('latin1'), /%%EOF\s*$/);
    assert.match(pdf.toString('latin1'), /\/Count 1\b/);
  });

  for (const [service, { file, sender }] of Object.entries(SERVICE_EXAMPLES)) {
    test(`${file}: posted by ${sender} with sample.pdf → 201, a complete case; the same package again → 200, the same receipt`, async () => {
      const path = join(EXAMPLES, file);
      const first = await send(path, sender);
      assert.equal(first.status, 201);
      assert.equal(first.receipt.service, service);
      assert.equal(first.receipt.sender.partyId, sender);
      assert.equal(first.receipt.sender.municipalityCode, '101');
      assert.equal(first.receipt.packageId, (JSON.parse(readExample(file)) as { packageId: string }).packageId);
      assert.deepEqual(first.receipt.missingDocuments ?? [], []);
      assert.notEqual(first.receipt.clock.status, 'awaiting-complete-case');
      const again = await send(path, sender);
      assert.equal(again.status, 200, 'an idempotent resend');
      assert.ok(again.body.equals(first.body), 'the byte-identical receipt');
    });
  }

  test('incomplete-clinical-assessment.json waits for its request; supplement.json (CASE_ID replaced) completes it and starts the clock', async () => {
    const incomplete = await send(join(EXAMPLES, INCOMPLETE), 'kommune-101');
    assert.equal(incomplete.status, 201);
    assert.deepEqual(incomplete.receipt.missingDocuments, ['request']);
    assert.equal(incomplete.receipt.clock.status, 'awaiting-complete-case');

    const supplementFile = join(tmp, SUPPLEMENT);
    writeFileSync(supplementFile, readExample(SUPPLEMENT).replace(CASE_ID_PLACEHOLDER, JSON.stringify(incomplete.receipt.caseId)));
    const supplement = await send(supplementFile, 'kommune-101');
    assert.equal(supplement.status, 201);
    assert.equal(supplement.receipt.caseId, incomplete.receipt.caseId);
    assert.equal(supplement.receipt.supplementTo, incomplete.receipt.caseId);
    assert.deepEqual(supplement.receipt.missingDocuments ?? [], []);
    assert.equal(supplement.receipt.clock.status, 'running');
  });
});
