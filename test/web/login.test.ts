/**
 * Login through the region's identity provider (OIDC_ISSUER): the gateway
 * starts no development IdP of its own, and OIDC_REQUIRED_ACR refuses an ID
 * token of a lower assurance level with a clear page and a log line, and no
 * session. The "region's" provider here is the development IdP run on its
 * own, which issues NSIS Substantial.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { launchBrowser, newContext, screenshot } from '../helpers/browser.js';
import type { DevIdp } from '../../src/web/dev-idp.js';
import { freePort, startTestIdp, TEST_IDP_CLIENT } from '../helpers/idp.js';
import { NSIS_LEVELS } from '../../src/web/oidc.js';

describe('login through the identity provider named by OIDC_ISSUER', { concurrency: 1 }, () => {
  let idp: DevIdp;
  let g: TestGateway;
  let browser: Browser;

  before(async () => {
    const staffPort = await freePort();
    idp = await startTestIdp(staffPort);
    g = await startTestGateway({
      dialect: 'sqlite',
      env: {
        STAFF_PORT: String(staffPort),
        OIDC_ISSUER: idp.issuer,
        OIDC_CLIENT_ID: TEST_IDP_CLIENT.id,
        OIDC_CLIENT_SECRET: TEST_IDP_CLIENT.secret,
        OIDC_REQUIRED_ACR: NSIS_LEVELS[2], // High; the provider gives Substantial
      },
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await g?.close();
    await idp?.close();
  });

  test('with OIDC_ISSUER set the gateway runs no development IdP', () => {
    assert.equal(g.gw.devIdpIssuer, undefined);
  });

  test('PKCE, state and nonce; OIDC_REQUIRED_ACR: a lower assurance level is refused with a clear page, logged, and no session begins', async () => {
    const context = await newContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${g.gw.staffBaseUrl}/login`);
      const authorization = page.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth?`));
      await page.getByRole('link', { name: 'Log ind med regionens login' }).click();
      // authorization code with PKCE (S256), state and nonce, asking for the level
      const q = new URL((await authorization).url()).searchParams;
      assert.equal(q.get('response_type'), 'code');
      assert.equal(q.get('code_challenge_method'), 'S256');
      assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.ok(q.get('state') && q.get('nonce'));
      assert.equal(q.get('acr_values'), NSIS_LEVELS[2]);
      assert.equal(q.get('redirect_uri'), `${g.gw.staffBaseUrl}/auth/callback`);
      await page.getByRole('button', { name: 'Log ind som Anna Holm' }).click();
      await page.getByRole('heading', { name: 'Ingen adgang' }).waitFor();
      assert.match(await page.locator('main').innerText(), /sikringsniveau/);
      await screenshot(page, 'ingen-adgang-sikringsniveau');
      assert.ok(g.logs.some((l) => l.includes('staff login refused: assurance level too low') && l.includes(NSIS_LEVELS[1])));
      assert.equal((await g.gw.db.db.selectFrom('web_sessions').select('staff_id').execute()).length, 0);
      assert.equal((await context.cookies()).filter((c) => c.name === '__Host-postkasse-session').length, 0);
    } finally {
      await context.close();
    }
  });
});
