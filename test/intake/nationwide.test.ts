/**
 * §29 stk. 3: when Seniorpensionsenheden's agreement says so, this region gives
 * the §26 senior-pension advice for citizens of every region; the §27 attest
 * stays with the region the municipality lies in (§29 stk. 4).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { parseAgreements } from '../../src/deadlines/agreements.js';
import { settled } from '../helpers/staff.js';

const senior = (service: string) =>
  manifest({
    service,
    caseType: 'seniorpension',
    municipalityCode: '253', // Greve: region Sjælland (1085), not this gateway's 1084
    latestJob: { title: 'Murer' },
    documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
  });
const docs = () => [{ name: 'req', body: pdf('req') }];

describe('§29 stk. 3: nationwide senior-pension advice by agreement', () => {
  let dir: string;
  const gateways: TestGateway[] = [];
  const start = async (nationwideAdvice: boolean) => {
    const file = join(dir, `agreements-${nationwideAdvice}.json`);
    writeFileSync(
      file,
      JSON.stringify({ agreements: [{ id: 'spe-all', partyId: 'spe', validFrom: '2026-01-01', validTo: null, nationwideAdvice }] }),
    );
    const g = await startTestGateway({ dialect: 'sqlite', env: { AGREEMENTS_FILE: file } });
    gateways.push(g);
    return g;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pk-nationwide-'));
  });
  after(async () => {
    for (const g of gateways) await g.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with nationwideAdvice the §26 advice is accepted for another region; the §27 assessment is not', async () => {
    const g = await start(true);
    const advice = await postPackage(g, 'spe', senior('senior-pension-advice'), docs());
    assert.equal(advice.status, 201, advice.text);
    // … and routed to one of this region's coordinators, though none serves Greve (their municipalities are 101 and 147)
    const routed = await settled(g, (advice.body as { caseId: string }).caseId);
    assert.equal(routed.state, 'assigned', `a nationwide §26 advice case must find a coordinator, not wait unassigned: ${routed.state}`);
    assert.ok(routed.assigned_to?.startsWith('coord-'), String(routed.assigned_to));
    const assessment = await postPackage(g, 'spe', senior('senior-pension-assessment'), docs());
    assert.equal(assessment.status, 403);
    assert.match(assessment.text, /wrong-region/);
  });

  test('without it the advice for another region is refused (§29 stk. 4)', async () => {
    const g = await start(false);
    const advice = await postPackage(g, 'spe', senior('senior-pension-advice'), docs());
    assert.equal(advice.status, 403);
    assert.match(advice.text, /§29 stk\. 4/);
  });

  test("nationwideAdvice belongs in Seniorpensionsenheden's agreement only", () => {
    assert.throws(
      () =>
        parseAgreements({
          agreements: [{ id: 'kbh', municipalityCode: '101', validFrom: '2026-01-01', validTo: null, nationwideAdvice: true }],
        }),
      /nationwideAdvice: only Seniorpensionsenheden's agreement/,
    );
  });
});
