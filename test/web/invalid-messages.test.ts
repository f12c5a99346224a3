/**
 * An invalid GP message on the team lead's overview (§15 stk. 2: the copy of a specialist attest is a MedCom
 * CareCommunication, never sent when it fails MedCom's validation): the page says in Danish why it failed — by where
 * the failing part comes from (the practice in the GP directory, the clinical function's configuration, the staff
 * member, the citizen, the message itself) — and what the team lead does about it, with the validator's findings
 * folded away.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { postAttest, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { launchBrowser, login, seriousViolations } from '../helpers/browser.js';
import { buildCareCommunication, careCommunicationSource } from '../../src/medcom/carecommunication.js';

test('careCommunicationSource: each entry of the Bundle as buildCareCommunication writes it points at where its data comes from', () => {
  const receiver = { name: 'Lægehuset', sor: '575841000016004', ean: '5790000575848' };
  const sender = { name: 'Klinisk funktion', sor: '1234561000016007', ean: '5790000000005', phone: '70203040' };
  const b = buildCareCommunication({
    messageId: '7d5c2a4e-9a55-4f1e-8d41-0c0f3f1d2b10',
    bundleId: '0f4d9c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6',
    sentAt: '2027-01-12T10:15:00.000Z',
    topic: 'Emne',
    text: 'Tekst',
    sender,
    receiver,
    patient: { cpr: '0101801234', name: 'Testa Borgersen' },
    author: { name: 'Eva Dahl', role: 'specialist' },
    attachment: { title: 'Speciallægeattest', size: 10 },
    fhirBaseUrl: 'https://postkasse.invalid/fhir',
  }).bundleForValidation as { entry: { resource: { resourceType: string; identifier?: { value: string }[] } }[] };
  const at = (i: number, rest = '') => careCommunicationSource(`Bundle.entry[${i}].resource${rest}`);
  b.entry.forEach((e, i) => {
    const r = e.resource;
    const ean = r.identifier?.find((x) => /^\d{13}$/.test(x.value))?.value;
    const expected =
      r.resourceType === 'Patient'
        ? 'patient'
        : r.resourceType === 'Practitioner' || r.resourceType === 'PractitionerRole'
          ? 'author'
          : r.resourceType === 'Organization'
            ? ean === receiver.ean
              ? 'receiver'
              : 'sender'
            : 'message';
    assert.equal(at(i, '.identifier[0].value'), expected, `entry ${i} (${r.resourceType})`);
  });
  const header = b.entry.findIndex((e) => e.resource.resourceType === 'MessageHeader');
  assert.equal(at(header, '.destination[0].endpoint'), 'receiver');
  assert.equal(at(header, '.source.endpoint'), 'sender');
  const communication = b.entry.findIndex((e) => e.resource.resourceType === 'Communication');
  assert.equal(at(communication, '.payload[0].extension[3].valueContactPoint.value'), 'sender');
  assert.equal(at(communication, '.payload[1].content.title'), 'message');
  assert.equal(careCommunicationSource('Bundle'), 'message');
  assert.equal(careCommunicationSource(''), 'message');
});

describe('an invalid GP message on the overview', () => {
  let dir: string;
  let g: TestGateway;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let caseId: string;
  let partiesFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-web-invalid-'));
    // The development fallback (no GP directory) with a gp-system that has no SOR id: its clinic cannot be addressed.
    partiesFile = writeRoutingParties(dir);
    const f = JSON.parse(readFileSync(partiesFile, 'utf8')) as { parties: Record<string, unknown>[] };
    for (const p of f.parties) {
      if (p.kind === 'gp-system') delete p.sor;
      if (p.id === 'lead-1') p.oidcSubject = 'dev-lead-1';
    }
    writeFileSync(partiesFile, JSON.stringify(f));
    g = await startTestGateway({ dialect: 'sqlite', devIdp: true, dataDir: dir, env: { PARTIES_FILE: partiesFile } });
    browser = await launchBrowser();
    caseId = (
      await send(g, 'kommune-101', {
        service: 'clinical-assessment',
        documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
      })
    ).caseId;
    const answer = await postAttest(g, (await settled(g, caseId)).assigned_to!, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    assert.equal(toGp.state, 'invalid');
  });
  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close();
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('§15 stk. 2: the lead sees why it failed in Danish (the practice in the GP directory) and what to do; the findings fold away', async () => {
    const s = await login(browser, g.gw.staffBaseUrl, 'Lene', '/overblik');
    context = s.context;
    const page = s.page;
    const section = page.locator('section', { has: page.locator('#beskeder') });
    const text = await section.innerText();
    // what the page says of every invalid message: never sent, the cause lies outside the response, and what is left to do
    assert.match(text, /ikke består MedComs validering, bliver ikke sendt/);
    assert.match(text, /Ret årsagen \(og genindlæs filen\), og tryk\s+så «Prøv igen»/);
    const row = section.locator('tr', { has: page.locator(`a[href="/sager/${caseId}"]`) });
    const cause = await row.innerText();
    assert.match(cause, /Lægepraksissens oplysninger \(navn, SOR-id eller EAN-nummer\) opfylder ikke MedComs krav\./);
    assert.match(cause, /Ret praksisregistret \(GP_DIRECTORY_FILE\) for ydernr\. 057584, og genindlæs det \(SIGHUP\)\./);
    assert.doesNotMatch(cause, /failed validation against the MedCom profiles/, 'no English state text');
    // only the practice is at fault here: no other cause is named
    assert.doesNotMatch(cause, /kliniske funktions|Afsenderens|Borgerens|bygget forkert/);
    // the validator's own findings, with their FHIRPath locations, are one click away
    const details = row.locator('details');
    assert.equal(await details.getAttribute('open'), null);
    await details.locator('summary').click();
    assert.match(await details.innerText(), /Bundle\.entry\[\d+\]\.resource\.identifier/);
    assert.deepEqual(await seriousViolations(page), [], 'axe: no serious or critical WCAG 2.1 AA violation');

    // "Prøv igen" while the cause stands: rebuilt, still invalid, not sent, and the page says so
    await row.getByRole('button', { name: 'Prøv igen' }).click();
    await page.waitForURL(/\/overblik\?ok=ugyldig$/);
    assert.match(await page.locator('main').innerText(), /fejler stadig MedComs validering og er ikke sendt/);
    // the practice's SOR id restored in the parties file (the development fallback's directory), reloaded: it goes
    const f = JSON.parse(readFileSync(partiesFile, 'utf8')) as { parties: Record<string, unknown>[] };
    for (const p of f.parties) if (p.kind === 'gp-system') p.sor = '575841000016004';
    writeFileSync(partiesFile, JSON.stringify(f));
    assert.equal(g.gw.reload().parties, 'ok');
    await page
      .locator('section', { has: page.locator('#beskeder') })
      .locator('tr', { has: page.locator(`a[href="/sager/${caseId}"]`) })
      .getByRole('button', { name: 'Prøv igen' })
      .click();
    await page.waitForURL(/\/overblik\?ok=sendt$/);
    assert.match(await page.locator('main').innerText(), /Beskeden er sendt til lægepraksissen/);
    const m = await g.gw.db.db
      .selectFrom('messages')
      .select('state')
      .where('case_id', '=', caseId)
      .where('copy', '=', 1)
      .executeTakeFirstOrThrow();
    assert.notEqual(m.state, 'invalid');
  });
});
