/**
 * OIDC_STAFF_CLAIM and OIDC_SCOPES: a region whose provider names its staff by
 * a claim other than `sub`, released only under a scope of its own. The
 * "region's" provider is the development IdP run on its own, with the
 * development staff: Anna Holm's `sub` is dev-anna-holm, her `email` (scope
 * `email`) coord-anna@dev.postkasse.invalid. The gateway's parties file knows
 * her by that email only, so a login matched by `sub` finds nobody.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { launchBrowser, newContext, screenshot } from '../helpers/browser.js';
import { devIdpEmail, type DevIdp } from '../../src/web/dev-idp.js';
import { freePort, startTestIdp, TEST_IDP_CLIENT } from '../helpers/idp.js';

const ANNA_EMAIL = devIdpEmail('coord-anna');

describe('login by OIDC_STAFF_CLAIM=email, a claim that comes only with the scope asked for in OIDC_SCOPES', { concurrency: 1 }, () => {
  let browser: Browser;
  let partiesFile: string;
  /** closed in after(), gateways before their providers */
  const started: Array<{ idp: DevIdp; g?: TestGateway }> = [];

  /** A provider of its own (its one redirect URI is the gateway's) and a gateway matching staff by `email`. */
  async function region(env: Record<string, string>): Promise<{ idp: DevIdp; g: TestGateway }> {
    const staffPort = await freePort();
    const idp = await startTestIdp(staffPort);
    const r: { idp: DevIdp; g?: TestGateway } = { idp };
    started.push(r);
    const g = await startTestGateway({
      dialect: 'sqlite',
      env: {
        STAFF_PORT: String(staffPort),
        PARTIES_FILE: partiesFile,
        OIDC_ISSUER: idp.issuer,
        OIDC_CLIENT_ID: TEST_IDP_CLIENT.id,
        OIDC_CLIENT_SECRET: TEST_IDP_CLIENT.secret,
        OIDC_STAFF_CLAIM: 'email',
        ...env,
      },
    });
    r.g = g;
    return { idp, g };
  }

  /** Through the gateway's login page and the provider's "Log ind som Anna Holm"; the scope the gateway asked for. */
  async function loginAsAnna(r: { idp: DevIdp; g: TestGateway }) {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${r.g.gw.staffBaseUrl}/login`);
    const authorization = page.waitForRequest((req) => req.url().startsWith(`${r.idp.issuer}/auth?`));
    await page.getByRole('link', { name: 'Log ind med regionens login' }).click();
    const scope = new URL((await authorization).url()).searchParams.get('scope');
    await page.getByRole('button', { name: 'Log ind som Anna Holm' }).click();
    return { context, page, scope };
  }

  before(async () => {
    // The development parties, but Anna Holm is known by her email at the provider, not by her `sub`.
    const dir = mkdtempSync(join(tmpdir(), 'postkasse-login-claim-'));
    partiesFile = join(dir, 'parties.json');
    const file = JSON.parse(readFileSync('config/parties.dev.json', 'utf8')) as { parties: Array<Record<string, unknown>> };
    const anna = file.parties.find((p) => p.id === 'coord-anna')!;
    assert.equal(anna.oidcSubject, 'dev-anna-holm');
    anna.oidcSubject = ANNA_EMAIL;
    writeFileSync(partiesFile, JSON.stringify(file));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    for (const { idp, g } of started) {
      await g?.close();
      await idp.close();
    }
  });

  test('with OIDC_SCOPES="openid profile email" the login asks for the email scope and lands on the worklist as the person that email names', async () => {
    const r = await region({ OIDC_SCOPES: 'openid profile email' });
    const { context, page, scope } = await loginAsAnna(r);
    try {
      assert.equal(scope, 'openid profile email');
      await page.waitForURL((u) => u.origin === new URL(r.g.gw.staffBaseUrl).origin && !u.pathname.startsWith('/auth/'));
      assert.equal(new URL(page.url()).pathname, '/');
      assert.equal(await page.locator('h1').textContent(), 'Arbejdsliste');
      assert.match(await page.locator('header .who').innerText(), /Anna Holm/);
      const sessions = await r.g.gw.db.db.selectFrom('web_sessions').select('staff_id').execute();
      assert.deepEqual(
        sessions.map((s) => s.staff_id),
        ['coord-anna'],
      );
      assert.ok(!r.g.logs.some((l) => l.includes('staff login refused')));
    } finally {
      await context.close();
    }
  });

  test('with OIDC_SCOPES at its default (openid profile) the provider sends no email: "no access", logged, and no session', async () => {
    const r = await region({});
    const { context, page, scope } = await loginAsAnna(r);
    try {
      assert.equal(scope, 'openid profile');
      await page.getByRole('heading', { name: 'Ingen adgang' }).waitFor();
      assert.match(await page.locator('main').innerText(), /ikke oprettet som medarbejder/);
      await screenshot(page, 'ingen-adgang-claim-mangler');
      const refused = r.g.logs.filter((l) => l.includes('staff login refused: the identity maps to no staff member'));
      assert.equal(refused.length, 1);
      assert.equal((JSON.parse(refused[0]!) as { subject: unknown }).subject, null, 'the claim was missing: no subject');
      assert.equal((await r.g.gw.db.db.selectFrom('web_sessions').select('staff_id').execute()).length, 0);
      assert.equal((await context.cookies()).filter((c) => c.name === '__Host-postkasse-session').length, 0);
    } finally {
      await context.close();
    }
  });
});
