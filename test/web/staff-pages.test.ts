/**
 * The staff pages in real Chromium (Debian's chromium, playwright-core, one
 * worker): a municipality posts packages over mTLS; staff log in through the
 * development identity provider and work them in the browser — the worklist,
 * the case and its PDF, a response with a Danish error beside the field, a
 * consultation and an attest with the GP's copy (§15 stk. 2), the team
 * lead's assignment and retry. Every page passes axe-core's WCAG 2.1 AA
 * rules with no serious or critical violation, and is kept as a screenshot
 * in .tmp/screenshots/. Finance staff and team leads read the statistics
 * (plots beside their tables) and the settlement, and close a month.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Worker } from 'bullmq';
import { REDIS_URL, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { pdf } from '../helpers/packages.js';
import { as as api, ATTEST, caseRow, postAttest, respond, send, settled } from '../helpers/staff.js';
import { launchBrowser, login, newContext, screenshot, seriousViolations, tabTo } from '../helpers/browser.js';
import { waitFor } from '../helpers/wait.js';
import { localDate } from '../../src/deadlines/calendar.js';

const serials = new Map<string, string>();
/** A party's certificate: the same serial in every version of the parties file (the dev PKI issues its certificate at start). */
const cert = (id: string) => {
  if (!serials.has(id)) serials.set(id, `UI:DK-E:G:${randomUUID()}`);
  return [{ subjectSerialNumber: serials.get(id)! }];
};

function parties(withDora: boolean) {
  return {
    parties: [
      { id: 'kommune-101', kind: 'municipality', municipalityCode: '101', name: 'Københavns Kommune', certificates: cert('kommune-101') },
      {
        id: 'kommune-147',
        kind: 'municipality',
        municipalityCode: '147',
        name: 'Frederiksberg Kommune',
        certificates: cert('kommune-147'),
        // nobody answers here: its messages end as dead letters for the team lead
        push: { url: 'https://127.0.0.1:9/postkasse' },
      },
      {
        id: 'coord-anna',
        kind: 'staff',
        roles: ['coordinator'],
        name: 'Anna Holm',
        municipalities: ['101'],
        ydernumre: ['012345'],
        oidcSubject: 'dev-anna-holm',
        certificates: cert('coord-anna'),
      },
      {
        id: 'coord-carl',
        kind: 'staff',
        roles: ['coordinator'],
        name: 'Carl Madsen',
        municipalities: ['147'],
        oidcSubject: 'dev-carl-madsen',
        certificates: cert('coord-carl'),
      },
      ...(withDora
        ? [
            {
              id: 'coord-dora',
              kind: 'staff',
              roles: ['coordinator'],
              name: 'Dora Vang',
              municipalities: ['101'],
              oidcSubject: 'dev-dora-vang',
              certificates: cert('coord-dora'),
            },
          ]
        : []),
      {
        id: 'spec-eva',
        kind: 'staff',
        roles: ['specialist'],
        name: 'Eva Dahl',
        oidcSubject: 'dev-eva-dahl',
        certificates: cert('spec-eva'),
      },
      {
        id: 'lead-1',
        kind: 'staff',
        roles: ['team-lead'],
        name: 'Lene Friis',
        oidcSubject: 'dev-lene-friis',
        certificates: cert('lead-1'),
      },
      { id: 'fin-1', kind: 'staff', roles: ['finance'], name: 'Freja Bach', oidcSubject: 'dev-freja-bach', certificates: cert('fin-1') },
      {
        id: 'gp-057584',
        kind: 'gp-system',
        ydernumre: ['057584'],
        name: 'Lægehuset Nørrebro',
        sor: '575841000016004',
        ean: '5790000575848',
        certificates: cert('gp-057584'),
      },
    ],
  };
}

const today = () => localDate(new Date().toISOString());
/** `YYYY-MM` of today ± n months (local time) */
const monthOf = (n: number) => {
  const [y, m] = today().split('-').map(Number) as [number, number];
  const t = y * 12 + m - 1 + n;
  return `${Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;
};
const inDays = (n: number) => localDate(new Date(Date.now() + n * 86_400_000).toISOString());

describe('staff pages in Chromium', { concurrency: 1 }, () => {
  let g: TestGateway;
  let base: string;
  let browser: Browser;
  let partiesFile: string;
  const contexts: BrowserContext[] = [];
  const cspViolations: string[] = [];
  /** cases: R rehab-team-advice (Anna), A clinical-assessment (Eva), U unassigned (§12 stk. 2 excludes Anna), D Carl's (dead letter) */
  const cases: Record<'R' | 'A' | 'U' | 'D' | 'H' | 'O', string> = { R: '', A: '', U: '', D: '', H: '', O: '' };
  const samplePdf = pdf('anmodning');

  const watch = (page: Page) => {
    page.on('console', (m) => {
      // bull-board (a third-party page) is checked on its own: it works, and its Google font stays outside
      if (/Content Security Policy|Refused to/i.test(m.text()) && !page.url().includes('/admin/queues')) cspViolations.push(m.text());
    });
    return page;
  };
  /** One signed-in browser profile per person, reused across tests (a login each time would only cost time). */
  const signedIn = new Map<string, BrowserContext>();
  const as_ = async (name: string, path = '/') => {
    const context = signedIn.get(name);
    if (context) {
      const page = watch(await context.newPage());
      await page.goto(base + path);
      return page;
    }
    const s = await login(browser, base, name, path);
    contexts.push(s.context);
    signedIn.set(name, s.context);
    return watch(s.page);
  };
  /** The person's signed-in browser profile for requests that need no page (cheaper than opening one). */
  const requestsAs = async (name: string) => {
    if (!signedIn.has(name)) await (await as_(name)).close();
    return signedIn.get(name)!.request;
  };
  /** The texts of a page's navigation links, from its HTML. */
  const navOf = (page: string) =>
    [...(/<nav aria-label="Hovedmenu">([\s\S]*?)<\/nav>/.exec(page)?.[1] ?? '').matchAll(/<a [^>]*>([^<]*)<\/a>/g)].map((m) => m[1]);
  const noSeriousViolations = async (page: Page, what: string) => {
    const v = await seriousViolations(page);
    assert.deepEqual(v, [], `${what}: axe found serious or critical WCAG 2.1 AA violations:\n${JSON.stringify(v, null, 2)}`);
  };

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postkasse-web-'));
    partiesFile = join(dir, 'parties.json');
    writeFileSync(partiesFile, JSON.stringify(parties(false)));
    g = await startTestGateway({
      dialect: 'postgres',
      devIdp: true,
      dataDir: dir,
      env: {
        PARTIES_FILE: partiesFile,
        DELIVERY_RETRY_BASE_MS: '100',
        DELIVERY_RETRY_MAX_MS: '200',
        DELIVERY_GIVE_UP_AFTER_MS: '600',
      },
    });
    base = g.gw.staffBaseUrl;
    browser = await launchBrowser();
    // A municipality posts its packages over mutual TLS.
    cases.R = (
      await send(g, 'kommune-101', { service: 'rehab-team-advice', documents: [docMeta('plan', 'rehab-plan-preparatory')] })
    ).caseId;
    cases.A = (
      await send(g, 'kommune-101', {
        service: 'clinical-assessment',
        caseType: 'sygedagpenge',
        documents: [docMeta('anmodning', 'request')],
      })
    ).caseId;
    cases.U = (
      await send(g, 'kommune-101', {
        service: 'rehab-team-advice',
        gp: { ydernummer: '012345', name: 'Annas praksis' },
        documents: [docMeta('plan', 'rehab-plan-preparatory')],
      })
    ).caseId;
    cases.D = (
      await send(g, 'kommune-147', { service: 'ongoing-case-advice', caseType: 'sygedagpenge', documents: [docMeta('notat', 'other')] })
    ).caseId;
    cases.O = (
      await send(g, 'kommune-101', {
        service: 'ongoing-case-advice',
        caseType: 'sygedagpenge',
        citizen: { cpr: '0202802345', name: 'Ole Olsen' },
        documents: [docMeta('notat', 'other')],
      })
    ).caseId;
    cases.H = (
      await send(g, 'kommune-101', {
        service: 'rehab-team-advice',
        urgent: { reason: 'other', note: 'Borgeren er alvorligt syg' },
        citizen: { cpr: '0303803456', name: 'Hanne Hansen' },
        documents: [docMeta('plan', 'rehab-plan-preparatory')],
      })
    ).caseId;
    for (const id of Object.values(cases)) await settled(g, id);
  });

  // A page left open keeps working: bull-board's dashboard polls its API every few seconds, and Chromium renders it,
  // for the rest of the file. Each test's pages are closed when it ends; the signed-in profiles (cookies) stay.
  afterEach(async () => {
    for (const c of contexts) for (const page of c.pages()) await page.close().catch(() => {});
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await g?.close();
  });

  test('the login page is in Danish; GET / without a session lands there', async () => {
    const context = await newContext(browser);
    contexts.push(context);
    const page = watch(await context.newPage());
    const res = await page.goto(base + '/');
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(await page.getAttribute('html', 'lang'), 'da');
    assert.equal(await page.locator('h1').textContent(), 'Log ind');
    assert.equal(res?.headers()['cache-control'], 'no-store');
    await noSeriousViolations(page, 'login page');
    await screenshot(page, 'login');
  });

  test('a coordinator logs in through the development IdP and sees the case in her worklist', async () => {
    const page = await as_('Anna Holm');
    assert.equal(await page.locator('h1').textContent(), 'Arbejdsliste');
    // §21 stk. 3: the urgent case first, then the earliest due
    const links = await page.locator('tbody tr th a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual([...links].sort(), [`/sager/${cases.H}`, `/sager/${cases.R}`, `/sager/${cases.O}`].sort());
    assert.equal(links[0], `/sager/${cases.H}`);
    assert.match(await page.locator('tbody tr').first().innerText(), /Hastesag/);
    const due = await page.locator('tbody tr td:nth-child(5) time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')!));
    assert.deepEqual(due.slice(1), [...due.slice(1)].sort(), 'then the earliest due');
    const row = page.locator('tr', { has: page.locator(`a[href="/sager/${cases.R}"]`) });
    await assert.doesNotReject(row.waitFor());
    assert.match(await row.innerText(), /Københavns Kommune/);
    assert.match(await row.innerText(), /Rådgivning til rehabiliteringsteamet/);
    // dates Danish-style inside <time datetime="YYYY-MM-DD">
    assert.match((await row.locator('time').first().getAttribute('datetime')) ?? '', /^\d{4}-\d{2}-\d{2}$/);
    assert.match(await row.locator('time').first().innerText(), /^\d{1,2}\. [a-zæøå]+ \d{4}$/);
    // her colleague's and the unassigned case are not hers
    assert.equal(await page.locator(`a[href="/sager/${cases.U}"]`).count(), 0);
    await noSeriousViolations(page, 'worklist');
    await screenshot(page, 'arbejdsliste');
  });

  test('she opens the case: citizen, CPR, GP, caseworker and deadline with its §; the view is in the access log', async () => {
    const page = await as_('Anna Holm', `/sager/${cases.R}`);
    assert.match((await page.locator('h1').textContent()) ?? '', /^Sag /);
    const body = await page.locator('main').innerText();
    assert.match(body, /Testa Borgersen/);
    assert.match(body, /010180-1234/);
    assert.match(body, /Sara Sagsbehandler/);
    assert.match(body, /ydernr\. 057584/);
    assert.match(body, /§ 21, stk\. 1/);
    const reads = await g.gw.db.db
      .selectFrom('audit_log')
      .select(['actor', 'action'])
      .where('case_id', '=', cases.R)
      .where('action', '=', 'case-read')
      .execute();
    assert.ok(
      reads.some((r) => r.actor === 'coord-anna'),
      'the case view is audited like a document read',
    );
    await noSeriousViolations(page, 'case page');
    await screenshot(page, 'sag');
  });

  test('she reads the PDF inline; the read is in the access log', async () => {
    const page = await as_('Anna Holm', `/sager/${cases.R}`);
    const href = await page.getByRole('link', { name: 'plan' }).getAttribute('href');
    assert.equal(href, `/sager/${cases.R}/dokumenter/plan`);
    const res = await page.request.get(base + href);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['content-type'], 'application/pdf');
    assert.match(res.headers()['content-disposition'] ?? '', /^inline; filename="plan\.pdf"$/);
    assert.equal(res.headers()['cache-control'], 'no-store');
    assert.ok((await res.body()).subarray(0, 5).equals(Buffer.from('%PDF-')));
    const read = await g.gw.db.db
      .selectFrom('audit_log')
      .select(['actor'])
      .where('case_id', '=', cases.R)
      .where('action', '=', 'document-read')
      .executeTakeFirst();
    assert.equal(read?.actor, 'coord-anna');
  });

  test('§6 stk. 2: a recommendation without its reasons shows the Danish error beside the field and keeps nothing; fixed, it is sent', async () => {
    const page = await as_('Anna Holm', `/sager/${cases.R}`);
    await page.getByRole('link', { name: 'Send anbefaling' }).click();
    assert.match((await page.locator('h1').textContent()) ?? '', /^Anbefaling/);
    await noSeriousViolations(page, 'response form');
    await screenshot(page, 'svar-formular');
    await page.locator('#svar-proposals').fill('Mentorforløb i 13 uger\nDelvis raskmelding');
    await page.locator('#svar-document').setInputFiles({ name: 'anbefaling.pdf', mimeType: 'application/pdf', buffer: samplePdf });
    await page.getByRole('button', { name: 'Send anbefaling' }).click();
    const error = page.locator('#svar-reasons-error');
    await error.waitFor();
    assert.equal(await error.innerText(), 'Skal udfyldes');
    // beside the field: inside its field, and the field points at it
    assert.equal(
      await page
        .locator('.field', { has: page.locator('#svar-reasons') })
        .locator('#svar-reasons-error')
        .count(),
      1,
    );
    assert.equal(await page.locator('#svar-reasons').getAttribute('aria-invalid'), 'true');
    assert.match((await page.locator('#svar-reasons').getAttribute('aria-describedby')) ?? '', /svar-reasons-error/);
    // what was typed stays
    assert.equal(await page.locator('#svar-proposals').inputValue(), 'Mentorforløb i 13 uger\nDelvis raskmelding');
    await noSeriousViolations(page, 'response form with errors');
    await screenshot(page, 'svar-fejl');
    assert.equal((await g.gw.db.db.selectFrom('responses').select('id').where('case_id', '=', cases.R).execute()).length, 0);

    await page.locator('#svar-reasons').fill('Borgeren har brug for en afklaring af arbejdsevnen.');
    await page.locator('#svar-document').setInputFiles({ name: 'anbefaling.pdf', mimeType: 'application/pdf', buffer: samplePdf });
    // the upload's progress bar: shown, and it reaches 100 % (the script sends the form; the window stays)
    await page.evaluate(() => {
      const bar = document.querySelector('progress')!;
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() =>
        seen.push(`${bar.closest('.upload-progress')!.hasAttribute('hidden') ? 'hidden' : 'shown'}:${bar.value}`),
      ).observe(bar.closest('.upload-progress')!, { attributes: true, subtree: true });
    });
    await page.getByRole('button', { name: 'Send anbefaling' }).click();
    await page.getByRole('heading', { name: 'Anbefaling er sendt' }).waitFor();
    assert.match(await page.locator('main').innerText(), /Københavns Kommune/);
    assert.match(new URL(page.url()).pathname, new RegExp(`^/sager/${cases.R}/svar/[0-9a-f-]{36}$`));
    const seen = await page.evaluate(() => (window as unknown as { seen?: string[] }).seen ?? []);
    assert.ok(seen.includes('shown:100'), `progress seen: ${seen.join(', ')}`);
    await noSeriousViolations(page, 'confirmation');
    await screenshot(page, 'svar-sendt');
  });

  test('§13 stk. 2, §15 stk. 2: a specialist books a consultation, holds it, sends the attest and sees "Kopi til egen læge"', async () => {
    const page = await as_('Eva Dahl', `/sager/${cases.A}`);
    await page.locator('#consultation-date').fill(inDays(7));
    await page.getByRole('button', { name: 'Registrér konsultationen' }).click();
    await page.getByText('Konsultationen er registreret.').waitFor();

    // a booked consultation is not a held one: the attest is refused with the rule, in Danish
    await page.getByRole('link', { name: 'Send speciallægeattest' }).click();
    await fillAttest(page);
    await page.getByRole('button', { name: 'Send speciallægeattest' }).click();
    await page.getByText(/gives efter en afholdt konsultation \(§ 13, stk\. 2\)/).waitFor();

    // the consultation is moved to today: the last booking counts, and it is held
    await page.goto(`${base}/sager/${cases.A}`);
    await page.locator('#consultation-date').fill(today());
    await page.getByRole('button', { name: 'Registrér konsultationen' }).click();
    await page.getByText('Konsultationen er registreret.').waitFor();
    await page.getByRole('link', { name: 'Send speciallægeattest' }).click();
    await fillAttest(page);
    await page.getByRole('button', { name: 'Send speciallægeattest' }).click();
    await page.getByRole('heading', { name: 'Speciallægeattest er sendt' }).waitFor();
    const recipients = await page.locator('main table').innerText();
    assert.match(recipients, /Københavns Kommune/);
    assert.match(recipients, /Kopi til egen læge/);
    await screenshot(page, 'attest-sendt');
  });

  test('a team lead sees why a case is unassigned (§12 stk. 2), assigns it, and retries a dead-lettered message', async () => {
    // Carl's statement to Frederiksberg, whose system does not answer: a dead letter.
    const r = await respond(g, 'coord-carl', cases.D, { kind: 'statement', content: { assessment: 'Borgeren kan arbejde 15 timer.' } });
    assert.equal(r.status, 201, r.text);
    const messageId = (r.body as { messages: { messageId: string }[] }).messages[0]!.messageId;
    await waitFor(
      'the dead letter',
      async () =>
        (await g.gw.db.db.selectFrom('messages').select('state').where('id', '=', messageId).executeTakeFirstOrThrow()).state ===
        'dead-lettered',
      { timeoutMs: 20_000 },
    );

    const page = await as_('Lene Friis', '/overblik');
    assert.equal(await page.locator('h1').textContent(), 'Overblik');
    const unassigned = page.locator('#ikke-tildelt').locator('..');
    assert.match(await unassigned.innerText(), new RegExp(`Sag ${cases.U.slice(0, 8).toUpperCase()}`));
    await unassigned.getByText('Hvorfor ingen kunne tildeles').click();
    assert.match(await unassigned.innerText(), /Anna Holm: er eller har været borgerens egen læge eller behandler \(§ 12, stk\. 2\)/);
    await noSeriousViolations(page, 'overview');
    await screenshot(page, 'overblik');

    // A new coordinator for Copenhagen joins (the parties file, reloaded as on SIGHUP); the lead assigns her.
    writeFileSync(partiesFile, JSON.stringify(parties(true)));
    assert.equal(g.gw.reload().parties, 'ok');
    await page.reload();
    const form = page.locator(`form[action="/sager/${cases.U}/tildel"]`).first();
    await form.locator('select').selectOption('coord-dora');
    await form.getByRole('button', { name: 'Tildel' }).click();
    await page.getByText('Sagen er tildelt.').waitFor();
    assert.equal((await caseRow(g, cases.U)).assigned_to, 'coord-dora');

    // The dead letter is listed; "Prøv igen" queues it again.
    const row = page.locator('tr', { has: page.locator(`form[action="/overblik/beskeder/${messageId}/genforsoeg"]`) });
    await row.getByRole('button', { name: 'Prøv igen' }).click();
    await page.getByText('Beskeden er sat i kø igen.').waitFor();
    const retried = await g.gw.db.db
      .selectFrom('case_events')
      .select(['actor'])
      .where('case_id', '=', cases.D)
      .where('event', '=', 'message-retried')
      .execute();
    assert.deepEqual(
      retried.map((e) => e.actor),
      ['lead-1'],
    );
  });

  test('§12 stk. 2: a coordinator who declares a conflict lands on her worklist with the confirmation, not on a 404', async () => {
    const page = await as_('Anna Holm', `/sager/${cases.O}`);
    await page.locator('#conflict-reason').fill('Jeg har behandlet borgeren tidligere.');
    await page.getByRole('button', { name: 'Erklær inhabilitet' }).click();
    await page.getByText('Inhabiliteten er registreret, og sagen er sendt til ny fordeling.').waitFor();
    // the case is no longer hers to see: the worklist, named by a fixed message id
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(new URL(page.url()).search, '?ok=conflict');
    assert.equal(await page.locator('h1').textContent(), 'Arbejdsliste');
    assert.equal(await page.locator(`a[href="/sager/${cases.O}"]`).count(), 0);
    const declared = await g.gw.db.db
      .selectFrom('case_events')
      .select('actor')
      .where('case_id', '=', cases.O)
      .where('event', '=', 'conflict-declared')
      .execute();
    assert.deepEqual(
      declared.map((e) => e.actor),
      ['coord-anna'],
    );
    assert.notEqual((await caseRow(g, cases.O)).assigned_to, 'coord-anna');
    // the address carries an id, never a text of its own
    await page.goto(`${base}/?ok=${encodeURIComponent('<b>Falsk besked</b>')}`);
    assert.equal(await page.locator('.notice.success').count(), 0);
    await noSeriousViolations(page, 'worklist after a conflict');
  });

  test('a POST without the CSRF token is refused (403) whatever its content type, and changes nothing', async () => {
    // Carl's message to Frederiksberg, dead-lettered again after the team lead's retry
    const { id: messageId } = await g.gw.db.db.selectFrom('messages').select('id').where('case_id', '=', cases.D).executeTakeFirstOrThrow();
    const stateOf = async () =>
      (await g.gw.db.db.selectFrom('messages').select('state').where('id', '=', messageId).executeTakeFirstOrThrow()).state;
    await waitFor('the dead letter again', async () => (await stateOf()) === 'dead-lettered', { timeoutMs: 20_000 });
    const retried = async () =>
      (
        await g.gw.db.db
          .selectFrom('case_events')
          .select('id')
          .where('case_id', '=', cases.D)
          .where('event', '=', 'message-retried')
          .execute()
      ).length;
    const retriedBefore = await retried();
    const refused = async (res: { status(): number; text(): Promise<string> }, what: string) => {
      assert.equal(res.status(), 403, what);
      assert.match(await res.text(), /Formularen blev afvist/, what);
    };

    const lead = await requestsAs('Lene Friis');
    for (const action of ['genforsoeg', 'send']) {
      const url = `${base}/overblik/beskeder/${messageId}/${action}`;
      await refused(await lead.post(url, { multipart: { note: 'x' } }), `${action}, multipart`);
      await refused(await lead.post(url, { data: { note: 'x' } }), `${action}, JSON`);
    }
    assert.equal(await stateOf(), 'dead-lettered');
    assert.equal(await retried(), retriedBefore);

    // last month is open and may be closed: not by a multipart POST without the token
    const freja = await requestsAs('Freja Bach');
    await refused(await freja.post(`${base}/afregning/${monthOf(-1)}/luk`, { multipart: { note: 'x' } }), 'close a month, multipart');
    assert.deepEqual(await g.gw.db.db.selectFrom('settlement_months').select('month').execute(), []);

    // logging out is a change too; the session stays
    await refused(await lead.post(`${base}/logout`, { multipart: { note: 'x' } }), 'logout, multipart');
    assert.equal((await lead.get(`${base}/overblik`)).status(), 200);

    // the response upload checks the token from its own multipart body: without it, 403 and nothing kept
    const anna = await requestsAs('Anna Holm');
    const upload = await anna.post(`${base}/sager/${cases.H}/svar?type=recommendation`, {
      multipart: {
        reasons: 'Borgeren har brug for en afklaring af arbejdsevnen.',
        document: { name: 'anbefaling.pdf', mimeType: 'application/pdf', buffer: samplePdf },
      },
    });
    await refused(upload, 'response upload without the token');
    assert.equal((await g.gw.db.db.selectFrom('responses').select('id').where('case_id', '=', cases.H).execute()).length, 0);
  });

  test('the queue dashboard on the staff port is for team leads only', async () => {
    const lead = await as_('Lene Friis', '/overblik');
    await lead.getByRole('link', { name: 'Køerne (BullMQ)' }).click();
    await lead.waitForURL(`${base}/admin/queues`);
    // it renders under the pages' CSP (scripts from 'self' only) and lists the queues
    await lead.getByText('routing', { exact: false }).first().waitFor();
    assert.equal((await lead.request.get(`${base}/admin/queues`)).status(), 200);
    const anna = await as_('Anna Holm');
    assert.equal((await anna.request.get(`${base}/admin/queues`)).status(), 404);
    assert.equal((await anna.request.get(`${base}/overblik`)).status(), 403);
  });

  test('issue 15: the queue dashboard on the staff port retries a failed job only for a page of its own origin', async () => {
    // Failed jobs in the gateway's retention queue: its own worker paused, one of the test's fails them (attempts 1, kept when failed).
    const retention = g.gw.retentionQueue!;
    await retention.worker.pause();
    const failing = new Worker(
      retention.queue.name,
      async () => {
        throw new Error('fails on purpose');
      },
      { connection: { url: REDIS_URL, maxRetriesPerRequest: null }, prefix: g.queuePrefix },
    );
    const ids: string[] = [];
    try {
      for (let i = 0; i < 3; i++) ids.push((await retention.queue.add('purge-now', {}, { attempts: 1 })).id!);
      await waitFor('the jobs to fail', async () => {
        const states = await Promise.all(ids.map(async (id) => (await retention.queue.getJob(id))!.getState()));
        return states.every((s) => s === 'failed') ? true : undefined;
      });
    } finally {
      await failing.close();
    }
    const [first, second, third] = ids as [string, string, string];
    const stateOf = async (id: string) => (await retention.queue.getJob(id))!.getState();
    const retryUrl = (id: string) => `${base}/admin/queues/api/queues/${retention.queue.name}/${id}/retry`;
    try {
      const lead = await requestsAs('Lene Friis');
      const refused = async (headers: Record<string, string>, what: string) => {
        const res = await lead.put(retryUrl(first), { headers });
        assert.equal(res.status(), 403, what);
        assert.match(res.headers()['content-type'] ?? '', /^application\/problem\+json/, what);
        assert.equal((await res.json()).type, 'https://postkasse.dk/problems/cross-site-request', what);
      };
      await refused({ 'Sec-Fetch-Site': 'cross-site' }, 'Sec-Fetch-Site: cross-site');
      await refused({ Origin: 'https://evil.example' }, 'a foreign Origin, no Sec-Fetch-Site');
      await refused({ 'Sec-Fetch-Site': 'cross-site', Origin: base }, 'cross-site, whatever Origin says');
      await refused({ 'Sec-Fetch-Site': 'same-site' }, 'Sec-Fetch-Site: same-site');
      await refused({}, 'neither header');
      await refused({ Origin: 'null' }, 'an opaque origin');
      assert.equal(await stateOf(first), 'failed', 'the refused retries changed nothing');
      assert.ok(
        g.logs.some((l) => l.includes('"level":40') && l.includes('cross-site-request') && l.includes('/admin/queues/api/queues/')),
      );

      // from its own origin: the browser's Sec-Fetch-Site, or (without Fetch Metadata) the staff origin in Origin
      const same = await lead.put(retryUrl(first), { headers: { 'Sec-Fetch-Site': 'same-origin' } });
      assert.equal(same.status(), 204, await same.text());
      assert.equal(await stateOf(first), 'waiting');
      const byOrigin = await lead.put(retryUrl(second), { headers: { Origin: base } });
      assert.equal(byOrigin.status(), 204, await byOrigin.text());
      assert.equal(await stateOf(second), 'waiting');
      // and as bull-board's own page sends it: fetch from the dashboard in Chromium (which sets both headers itself)
      const page = await as_('Lene Friis', '/admin/queues');
      const status = await page.evaluate(async (url) => (await fetch(url, { method: 'PUT' })).status, retryUrl(third));
      assert.equal(status, 204);
      assert.equal(await stateOf(third), 'waiting');
    } finally {
      for (const id of ids) await (await retention.queue.getJob(id))?.remove();
      await retention.worker.resume();
    }
  });

  test('finance and a team lead: the settlement (close a month) and the statistics, plots beside their tables', async () => {
    // Freja (finance) has no worklist: / sends her to the settlement, and the navigation shows what she can use.
    const page = await as_('Freja Bach');
    assert.equal(new URL(page.url()).pathname, '/afregning');
    assert.equal(await page.locator('h1').textContent(), 'Afregning');
    assert.deepEqual(await page.locator('nav[aria-label="Hovedmenu"] a').allInnerTexts(), ['Statistik', 'Afregning']);
    assert.match(await page.locator('.who').innerText(), /Freja Bach \(Økonomi\)/);
    // last month, per payer, open: a form closes it
    const last = monthOf(-1);
    assert.equal(await page.locator('#afr-maaned').inputValue(), last);
    const kbh = page.locator('section', { has: page.getByRole('heading', { name: 'Københavns Kommune' }) });
    assert.match(await kbh.locator('table').innerText(), /Koordinerende funktion \(§ 17\)[\s\S]*\d kr\./);
    await page.getByRole('button', { name: /^Luk / }).click();
    await page.getByText('Måneden er lukket, og opgørelserne er gemt.').waitFor();
    assert.match(await kbh.innerText(), /Kontrolsum \(SHA-256\)/);
    const closed = await g.gw.db.db.selectFrom('settlement_months').select(['month', 'closed_by']).execute();
    assert.deepEqual(closed, [{ month: last, closed_by: 'fin-1' }]);
    // closing it again: 409, said in Danish on the page
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const again = await page.request.post(`${base}/afregning/${last}/luk`, { form: { _csrf: csrf } });
    assert.equal(again.status(), 409);
    assert.match(await again.text(), /Måneden er allerede lukket/);
    // this month: the attest Eva sent (§18, the agreement's price), not closable yet; the CSV is the API's
    await page.goto(`${base}/afregning?maaned=${monthOf(0)}`);
    assert.match(await kbh.locator('table').innerText(), /Speciallægeattest \(§ 18\)[\s\S]*13\.750,00 kr\./);
    assert.equal(await page.getByRole('button', { name: /^Luk / }).count(), 0);
    assert.match((await page.locator('time').first().getAttribute('datetime')) ?? '', /^\d{4}-\d{2}/);
    const csv = await page.request.get(`${base}/afregning.csv?maaned=${monthOf(0)}`);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type'] ?? '', /^text\/csv/);
    assert.equal(csv.headers()['cache-control'], 'no-store');
    assert.match(await csv.text(), /^month,payer,payerName,kind,caseId,service,deliveredAt,amountOre,basis,invoiceDate,dueDate,closed\r\n/);
    const apiCsv = await api(g, 'fin-1').get(`/v1/settlements?month=${monthOf(0)}&format=csv`);
    assert.equal(await csv.text(), apiCsv.text, 'the same CSV as the API');
    await noSeriousViolations(page, 'settlement');
    await screenshot(page, 'afregning');

    // the statistics: the last 12 months by month, three plots each beside its table, the volumes with § 17, stk. 4
    await page.getByRole('link', { name: 'Statistik' }).click();
    await page.waitForURL(`${base}/statistik`);
    assert.equal(await page.locator('h1').textContent(), 'Statistik');
    const charts = page.locator('.chart-pair');
    assert.equal(await charts.count(), 3);
    for (const pair of await charts.all()) {
      const svg = pair.locator('svg[role="img"]');
      assert.equal(await svg.count(), 1);
      assert.ok(((await svg.locator('title').textContent()) ?? '').length > 0);
      assert.equal(await pair.locator('table thead th').first().count(), 1);
    }
    const received = page.locator('.chart-pair').first().locator('table');
    assert.match(await received.innerText(), new RegExp(`I alt\\s+${Object.keys(cases).length}\\s`));
    assert.equal(await received.locator(`time[datetime="${monthOf(0)}"]`).count(), 1);
    assert.match(await page.locator('#volumen').locator('..').innerText(), /kbh-2026[\s\S]*Afviger mere end 15 % \(§ 17, stk\. 4\)/);
    const statsCsv = await page.request.get(
      `${base}${await page.getByRole('link', { name: 'Hent tallene som CSV' }).getAttribute('href')}`,
    );
    assert.equal(statsCsv.status(), 200);
    const q = new URL(statsCsv.url()).searchParams;
    const apiStats = await api(g, 'fin-1').get(
      `/v1/statistics/waiting-times?from=${q.get('fra')}&to=${q.get('til')}&groupBy=month&format=csv`,
    );
    assert.match(await statsCsv.text(), /^key,label,from,to,received,delivered,/);
    assert.equal(await statsCsv.text(), apiStats.text, 'the same CSV as the API');
    assert.match(
      statsCsv.headers()['content-disposition'] ?? '',
      /^attachment; filename="?waiting-times_\d{4}-\d{2}-01_\d{4}-\d{2}-\d{2}\.csv"?$/,
    );
    assert.equal(statsCsv.headers()['content-disposition'], apiStats.headers['content-disposition']);
    await noSeriousViolations(page, 'statistics');
    await screenshot(page, 'statistik');

    // Lene (team lead) reads both too, and her overview lists the agreements off their expected volume
    const lead = await requestsAs('Lene Friis');
    const leadStats = await (await lead.get(`${base}/statistik`)).text();
    assert.match(leadStats, /<h1>Statistik<\/h1>/);
    assert.equal(leadStats.match(/<svg[^>]*role="img"/g)?.length, 3);
    assert.deepEqual(navOf(leadStats), ['Arbejdsliste', 'Overblik', 'Statistik', 'Afregning']);
    const leadSettlement = await (await lead.get(`${base}/afregning`)).text();
    assert.match(leadSettlement, /<h1>Afregning<\/h1>[\s\S]*Status: <strong>Lukket<\/strong>/);
    assert.match(await (await lead.get(`${base}/overblik`)).text(), /Volumen \(§ 17, stk\. 4\)[\s\S]*kbh-2026/);
  });

  test('no settlement or statistics for a coordinator; a bad date shows the form again; closing without the CSRF token is refused', async () => {
    const anna = await requestsAs('Anna Holm');
    const worklist = await (await anna.get(`${base}/`)).text();
    assert.deepEqual(navOf(worklist), ['Arbejdsliste']);
    // with her valid token (the logout form's) a close is still refused: the role, not the form, decides
    const csrf = /name="_csrf" value="([^"]+)"/.exec(worklist)![1]!;
    assert.equal((await anna.post(`${base}/afregning/${monthOf(-2)}/luk`, { form: { _csrf: csrf } })).status(), 403);
    for (const path of ['/afregning', '/statistik', `/afregning.csv?maaned=${monthOf(-1)}`, '/statistik.csv']) {
      const res = await anna.get(base + path);
      assert.equal(res.status(), 403, path);
      assert.match(await res.text(), /Ingen adgang/);
    }
    // a date or month that is not one: the form again, with the Danish message beside the field
    const freja = await requestsAs('Freja Bach');
    const badDate = await freja.get(`${base}/statistik?fra=2026-02-30&til=2026-03-01&gruppering=kommune`);
    assert.equal(badDate.status(), 422);
    assert.match(await badDate.text(), /id="stat-fra-error">Skriv en gyldig dato/);
    const badMonth = await freja.get(`${base}/afregning?maaned=2026-13`);
    assert.equal(badMonth.status(), 422);
    assert.match(await badMonth.text(), /id="afr-maaned-error">Vælg en måned/);
    // finance without the token: 403, and the month stays open
    const noToken = await freja.post(`${base}/afregning/${monthOf(-2)}/luk`, { form: {} });
    assert.equal(noToken.status(), 403);
    assert.match(await noToken.text(), /Formularen blev afvist/);
    const months = await g.gw.db.db.selectFrom('settlement_months').select('month').execute();
    assert.ok(!months.some((m) => m.month === monthOf(-2)));
  });

  test("another coordinator's session gets 404 on the first case's URL and its document", async () => {
    const page = await as_('Carl Madsen');
    const res = await page.goto(`${base}/sager/${cases.R}`);
    assert.equal(res?.status(), 404);
    assert.equal(await page.locator('h1').textContent(), 'Siden findes ikke');
    assert.equal((await page.request.get(`${base}/sager/${cases.R}/dokumenter/plan`)).status(), 404);
    assert.doesNotMatch(await page.content(), /Testa Borgersen|0101801234/);
  });

  test('a POST without the CSRF token, or from another origin, gets 403 and changes nothing', async () => {
    const page = await as_('Anna Holm', `/sager/${cases.R}`);
    const before = await g.gw.db.db.selectFrom('case_events').select('id').where('case_id', '=', cases.R).execute();
    const noToken = await page.request.post(`${base}/sager/${cases.R}/moede`, { form: { date: today() } });
    assert.equal(noToken.status(), 403);
    assert.match(await noToken.text(), /Formularen blev afvist/);
    const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
    const otherOrigin = await page.request.post(`${base}/sager/${cases.R}/moede`, {
      form: { _csrf: csrf, date: today() },
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(otherOrigin.status(), 403);
    const after_ = await g.gw.db.db.selectFrom('case_events').select('id').where('case_id', '=', cases.R).execute();
    assert.equal(after_.length, before.length);
  });

  test('an expired session lands on the login page (idle limit)', async () => {
    const { context, page } = await login(browser, base, 'Anna Holm');
    contexts.push(context);
    // this session (Anna's newest) last seen 31 minutes ago: past SESSION_IDLE_MINUTES (30)
    const newest = await g.gw.db.db
      .selectFrom('web_sessions')
      .select('token_hash')
      .where('staff_id', '=', 'coord-anna')
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    await g.gw.db.db
      .updateTable('web_sessions')
      .set({ last_seen_at: new Date(Date.now() - 31 * 60_000).toISOString() })
      .where('token_hash', '=', newest.token_hash)
      .execute();
    await page.goto(`${base}/sager/${cases.R}`);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.getByText('Din session er udløbet. Log ind igen.').waitFor();
    // logging in again returns to the page asked for (her session at the identity provider still stands: no button to press)
    await page.getByRole('link', { name: 'Log ind med regionens login' }).click();
    await page.waitForURL(`${base}/sager/${cases.R}`);
  });

  test('the whole flow works with the keyboard alone: log in, open the case, book the meeting', async () => {
    const context = await newContext(browser);
    contexts.push(context);
    const page = watch(await context.newPage());
    await page.goto(`${base}/login`);
    await tabTo(page, 'a.button');
    await page.keyboard.press('Enter');
    await page.waitForURL((u) => u.pathname.startsWith('/interaction/'));
    await screenshot(page, 'udviklings-idp');
    await tabTo(page, 'button[value="dev-anna-holm"]');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/`);
    await tabTo(page, `a[href="/sager/${cases.R}"]`);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${base}/sager/${cases.R}`);
    // The date control takes its digits in the browser's own order (day first in Danish, month first in a US build).
    const [y, m, d] = inDays(3).split('-');
    await tabTo(page, '#meeting-date');
    await page.keyboard.type(`${d}${m}${y}`);
    if ((await page.locator('#meeting-date').inputValue()) !== inDays(3)) {
      await page.reload();
      await tabTo(page, '#meeting-date');
      await page.keyboard.type(`${m}${d}${y}`);
    }
    assert.equal(await page.locator('#meeting-date').inputValue(), inDays(3));
    await page.keyboard.press('Enter');
    await page.getByText('Mødet er registreret.').waitFor();
    const booked = await g.gw.db.db
      .selectFrom('case_events')
      .select('data')
      .where('case_id', '=', cases.R)
      .where('event', '=', 'meeting-booked')
      .execute();
    assert.ok(
      booked.some((e) => e.data.includes(inDays(3))),
      `meeting booked for ${inDays(3)}: ${JSON.stringify(booked)}`,
    );
  });

  test('an identity that maps to no staff member gets "Ingen adgang", and the attempt is logged', async () => {
    const context = await newContext(browser);
    contexts.push(context);
    const page = watch(await context.newPage());
    await page.goto(`${base}/login`);
    await page.getByRole('link', { name: 'Log ind med regionens login' }).click();
    await page.getByRole('button', { name: /ukendt medarbejder/ }).click();
    await page.getByRole('heading', { name: 'Ingen adgang' }).waitFor();
    await noSeriousViolations(page, 'no-access page');
    await screenshot(page, 'ingen-adgang');
    assert.ok(g.logs.some((l) => l.includes('staff login refused: the identity maps to no staff member') && l.includes('dev-ukendt')));
    assert.equal((await context.cookies()).filter((c) => c.name === '__Host-postkasse-session').length, 0);
  });

  test('logout ends the session here and at the identity provider', async () => {
    const { context, page } = await login(browser, base, 'Lene Friis', '/overblik');
    contexts.push(context);
    const cookie = (await page.context().cookies()).find((c) => c.name === '__Host-postkasse-session');
    assert.ok(cookie);
    assert.deepEqual([cookie.secure, cookie.httpOnly, cookie.sameSite, cookie.path], [true, true, 'Lax', '/']);
    await page.getByRole('button', { name: 'Log ud' }).click();
    // RP-initiated logout: the IdP asks, then sends the browser back
    await page.getByRole('button', { name: 'Log ud' }).click();
    await page.waitForURL(`${base}/logget-ud`);
    assert.equal(await page.locator('h1').textContent(), 'Du er logget ud');
    const res = await page.goto(`${base}/overblik`);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(res?.status(), 200);
  });

  test('headers: CSP without unsafe-inline, helmet headers, no-store; no CSP violation on any page', async () => {
    const page = await as_('Anna Holm');
    const res = await page.request.get(`${base}/`);
    const h = res.headers();
    const csp = h['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(h['cache-control'], 'no-store');
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.match(h['strict-transport-security'] ?? '', /max-age=/);
    assert.equal(h['x-frame-options'], 'SAMEORIGIN');
    assert.deepEqual(cspViolations, []);
  });

  test('the worklist page with its CSS and JS stays under 100 KB', async () => {
    const page = await as_('Anna Holm');
    const sizes = await Promise.all(['/', '/static/app.css', '/static/app.js'].map(async (p) => (await page.request.get(base + p)).body()));
    const total = sizes.reduce((n, b) => n + b.length, 0);
    assert.ok(total < 100_000, `worklist weighs ${total} bytes`);
    // and nothing comes from elsewhere
    const html = sizes[0]!.toString('utf8');
    assert.doesNotMatch(html, /(src|href)="https?:\/\//);
  });

  test('the history and the document types are in Danish: no event or document type shows as its code', async () => {
    const lead = await requestsAs('Lene Friis');
    const historyOf = (page: string) => /<ol class="history">([\s\S]*?)<\/ol>/.exec(page)?.[1] ?? '';
    const rawCode = /(?:^|[\s>])[a-z]+(?:-[a-z]+)+(?=[\s<]|$)/m;
    // Carl's dead letter and the retry; Anna's conflict (§12 stk. 2)
    const dead = historyOf(await (await lead.get(`${base}/sager/${cases.D}`)).text());
    assert.match(dead, /Besked kunne ikke leveres/);
    assert.match(dead, /Besked sendt igen af teamleder/);
    assert.doesNotMatch(dead, rawCode);
    const conflict = historyOf(await (await lead.get(`${base}/sager/${cases.O}`)).text());
    assert.match(conflict, /Inhabilitet erklæret \(§ 12, stk\. 2\)/);
    assert.doesNotMatch(conflict, rawCode);
    // a document's type beside it
    const plan = await (await lead.get(`${base}/sager/${cases.R}`)).text();
    assert.match(plan, /<span class="muted">Rehabiliteringsplanens forberedende del, \d+ kB/);
    // §21 stk. 2: a case without its preparatory part names what it lacks, on the case and the overview
    const { caseId } = await send(g, 'kommune-101', { service: 'rehab-team-advice', documents: [docMeta('notat', 'other')] });
    const waiting = await (await lead.get(`${base}/sager/${caseId}`)).text();
    assert.match(waiting, /Sagen mangler: Rehabiliteringsplanens forberedende del \(§ 21, stk\. 2\)/);
    assert.match(waiting, /<span class="muted">Andet dokument, /);
    const overview = await (await lead.get(`${base}/overblik`)).text();
    assert.match(overview, /Mangler: Rehabiliteringsplanens forberedende del/);
    assert.doesNotMatch(overview, /rehab-plan-preparatory/);
  });

  test('§15 stk. 2: a copy whose case named no GP: the lead gives the ydernummer in "Send nu"; refused beside the field if unknown', async () => {
    // Last in the file: a case of its own would change the counts the statistics test above expects.
    const { caseId } = await send(g, 'kommune-101', {
      service: 'clinical-assessment',
      caseType: 'sygedagpenge',
      gp: undefined,
      // a citizen not assessed before (§14 stk. 3–4 would ask for an overall assessment)
      citizen: { cpr: '0404804567', name: 'Ib Isaksen' },
      documents: [docMeta('anmodning', 'request')],
    });
    const specialist = (await settled(g, caseId)).assigned_to!;
    const copy = (await postAttest(g, specialist, caseId)).messages.find((m) => m.copy)!;
    assert.equal(copy.state, 'no-recipient-system');
    const id = copy.messageId;
    const row = async () => g.gw.db.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    const page = await as_('Lene Friis', '/overblik');
    const form = page.locator(`form[action="/overblik/beskeder/${id}/send"]`);
    const field = form.locator(`#send-${id}-ydernummer`);
    assert.equal(await form.getByLabel('Egen læges ydernummer').count(), 1, 'the field has its Danish label');
    assert.equal(await field.getAttribute('aria-required'), 'true');
    await noSeriousViolations(page, 'overview with the ydernummer field');

    // Sent without a number: the Danish error beside the field, nothing changed.
    await form.getByRole('button', { name: 'Send nu' }).click();
    const error = page.locator(`#send-${id}-ydernummer-error`);
    await error.waitFor();
    assert.equal(await error.innerText(), 'Angiv egen læges ydernummer: kommunen oplyste ingen egen læge');
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    // A number the GP directory does not know: refused the same way, the number kept in the field.
    await field.fill('777777');
    await form.getByRole('button', { name: 'Send nu' }).click();
    await page.getByText('Lægeregistret har ingen praksis med ydernummer 777777').waitFor();
    assert.equal(await field.inputValue(), '777777');
    await noSeriousViolations(page, 'overview with the refused ydernummer');
    assert.deepEqual([(await row()).state, (await row()).recipient_ydernummer], ['no-recipient-system', null]);

    // The GP's number: the copy is sent, and the history says who gave it.
    await field.fill('057584');
    await form.getByRole('button', { name: 'Send nu' }).click();
    await page.getByText('Beskeden er sendt til lægepraksissen.').waitFor();
    assert.equal((await row()).recipient_ydernummer, '057584');
    assert.notEqual((await row()).state, 'no-recipient-system');
    const given = await g.gw.db.db
      .selectFrom('case_events')
      .select(['actor'])
      .where('case_id', '=', caseId)
      .where('event', '=', 'gp-ydernummer-given')
      .execute();
    assert.deepEqual(
      given.map((e) => e.actor),
      ['lead-1'],
    );
    const history = await (await requestsAs('Lene Friis')).get(`${base}/sager/${caseId}`);
    assert.match(await history.text(), /Egen læges ydernummer angivet af teamleder/);
  });

  async function fillAttest(page: Page): Promise<void> {
    for (const [k, v] of Object.entries(ATTEST)) await page.locator(`#svar-${k}`).fill(v);
    await page.locator('#svar-document').setInputFiles({ name: 'attest.pdf', mimeType: 'application/pdf', buffer: pdf('attest') });
  }
});

function docMeta(part: string, type: string) {
  return { part, type, mediaType: 'application/pdf', title: part };
}
