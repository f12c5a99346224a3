/**
 * §16 stk. 3–4 on the staff pages, in Chromium: an agreement names a supplementary service (advice in kontanthjælp
 * cases) with the response kinds it returns. The worklist, the case page and the team lead's overview name it as the
 * agreement does; the case page offers exactly its kinds, and the coordinator answers it there; a kind the agreement
 * does not list is refused (404, nothing kept).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { pdf } from '../helpers/packages.js';
import { caseRow, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { launchBrowser, login, seriousViolations } from '../helpers/browser.js';

const NAME = 'Rådgivning i kontanthjælpssager';

describe('§16 stk. 3–4: a supplementary service on the staff pages', { concurrency: 1 }, () => {
  let dir: string;
  let g: TestGateway;
  let base: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** the staff members' names by party id (the development IdP's buttons name them) */
  const names = new Map<string, string>();
  let assigned: { caseId: string; coordinator: string };
  let unassigned: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-web-supplementary-'));
    // The routing fixtures' parties, each staff member with a login at the development IdP.
    const partiesFile = writeRoutingParties(dir);
    const f = JSON.parse(readFileSync(partiesFile, 'utf8')) as { parties: Record<string, unknown>[] };
    for (const p of f.parties) {
      if (p.kind !== 'staff') continue;
      p.oidcSubject = `dev-${String(p.id)}`;
      names.set(String(p.id), String(p.name));
    }
    writeFileSync(partiesFile, JSON.stringify(f));
    const service = { id: 'kontanthjaelp-advice', name: NAME, responseKinds: ['statement'], deadlineDays: 10, priceDkk: 2500 };
    const agreementsFile = join(dir, 'agreements.json');
    writeFileSync(
      agreementsFile,
      JSON.stringify({
        agreements: [
          { id: 'kbh-plus', municipalityCode: '101', validFrom: '2026-01-01', validTo: null, services: [service] },
          // Frederiksberg's coordinators are all excluded: its case waits on the team lead's overview
          {
            id: 'frb-plus',
            municipalityCode: '147',
            validFrom: '2026-01-01',
            validTo: null,
            excludedStaff: ['coord-x', 'dual-dan'],
            services: [service],
          },
        ],
      }),
    );
    g = await startTestGateway({
      dialect: 'sqlite',
      devIdp: true,
      dataDir: dir,
      env: { PARTIES_FILE: partiesFile, AGREEMENTS_FILE: agreementsFile },
    });
    base = g.gw.staffBaseUrl;
    browser = await launchBrowser();
    const kontanthjaelp = {
      service: 'kontanthjaelp-advice',
      caseType: 'kontanthjaelp',
      documents: [{ part: 'q', type: 'other', mediaType: 'application/pdf' }],
    };
    const a = (await send(g, 'kommune-101', kontanthjaelp)).caseId;
    assigned = { caseId: a, coordinator: (await settled(g, a)).assigned_to! };
    assert.match(assigned.coordinator, /^coord-/);
    unassigned = (await send(g, 'kommune-147', kontanthjaelp)).caseId;
    assert.equal((await settled(g, unassigned)).state, 'unassigned');
  });
  afterEach(async () => {
    for (const c of contexts) for (const page of c.pages()) await page.close().catch(() => {});
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const signedIn = new Map<string, BrowserContext>();
  const as_ = async (partyId: string, path = '/'): Promise<Page> => {
    const context = signedIn.get(partyId);
    if (context) {
      const page = await context.newPage();
      await page.goto(base + path);
      return page;
    }
    const s = await login(browser, base, names.get(partyId)!, path);
    contexts.push(s.context);
    signedIn.set(partyId, s.context);
    return s.page;
  };
  const noSeriousViolations = async (page: Page, what: string) =>
    assert.deepEqual(await seriousViolations(page), [], `${what}: axe found serious or critical WCAG 2.1 AA violations`);

  test('the worklist names the service as the agreement does, in the list and in its filter', async () => {
    const page = await as_(assigned.coordinator);
    const row = page.locator('tr', { has: page.locator(`a[href="/sager/${assigned.caseId}"]`) });
    assert.match(await row.innerText(), new RegExp(NAME));
    assert.doesNotMatch(await row.innerText(), /kontanthjaelp-advice/);
    assert.equal(await page.locator('#filter-tjeneste option[value="kontanthjaelp-advice"]').innerText(), NAME);
  });

  test('the case page names it and offers exactly the kinds the agreement lists; the coordinator sends a statement with a PDF', async () => {
    const page = await as_(assigned.coordinator, `/sager/${assigned.caseId}`);
    assert.match((await page.locator('h1').textContent()) ?? '', new RegExp(`: ${NAME}`));
    assert.deepEqual(await page.locator('.respond a.button').allInnerTexts(), ['Send udtalelse']);
    await noSeriousViolations(page, 'case page of a supplementary service');

    await page.getByRole('link', { name: 'Send udtalelse' }).click();
    assert.match((await page.locator('h1').textContent()) ?? '', /^Udtalelse/);
    assert.match(await page.locator('main').innerText(), new RegExp(NAME));
    await page.locator('#svar-assessment').fill('Borgeren kan deltage i aktivering 20 timer om ugen.');
    await page.locator('#svar-document').setInputFiles({ name: 'udtalelse.pdf', mimeType: 'application/pdf', buffer: pdf('udtalelse') });
    await page.getByRole('button', { name: 'Send udtalelse' }).click();
    await page.getByRole('heading', { name: 'Udtalelse er sendt' }).waitFor();
    assert.match(await page.locator('main table').innerText(), /Københavns Kommune/);
    const responses = await g.gw.db.db.selectFrom('responses').select('kind').where('case_id', '=', assigned.caseId).execute();
    assert.deepEqual(
      responses.map((r) => r.kind),
      ['statement'],
    );
    // the statement is final: the case is answered, its agreed deadline stopped (§16 stk. 3)
    const row = await caseRow(g, assigned.caseId);
    assert.equal(row.state, 'closed');
    assert.equal((JSON.parse(row.clock) as { status: string }).status, 'stopped');
  });

  test('a kind the agreement does not list for the service is refused: no form, and a posted one is 404 with nothing kept', async () => {
    // a second case of the service, still open
    const { caseId } = await send(g, 'kommune-101', {
      service: 'kontanthjaelp-advice',
      caseType: 'kontanthjaelp',
      documents: [{ part: 'q', type: 'other', mediaType: 'application/pdf' }],
    });
    const coordinator = (await settled(g, caseId)).assigned_to!;
    const page = await as_(coordinator, `/sager/${caseId}`);
    assert.equal((await page.request.get(`${base}/sager/${caseId}/svar/ny?type=statement`)).status(), 200);
    for (const kind of ['recommendation', 'specialist-attest', 'pre-meeting-advice', 'nonsense']) {
      assert.equal((await page.request.get(`${base}/sager/${caseId}/svar/ny?type=${kind}`)).status(), 404, kind);
    }
    const posted = await page.request.post(`${base}/sager/${caseId}/svar?type=recommendation`, {
      multipart: {
        reasons: 'Begrundelse',
        proposals: 'Forslag',
        document: { name: 'anbefaling.pdf', mimeType: 'application/pdf', buffer: pdf('anbefaling') },
      },
    });
    assert.equal(posted.status(), 404);
    assert.deepEqual(await g.gw.db.db.selectFrom('responses').select('id').where('case_id', '=', caseId).execute(), []);
  });

  test("the team lead's overview names it too", async () => {
    const page = await as_('lead-1', '/overblik');
    const row = page.locator('tr', { has: page.locator(`a[href="/sager/${unassigned}"]`) }).first();
    assert.match(await row.innerText(), new RegExp(NAME));
    assert.doesNotMatch(await page.locator('main').innerText(), /kontanthjaelp-advice/);
  });
});
