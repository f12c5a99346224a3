/**
 * Real Chromium for the staff pages' tests: Debian's chromium driven by
 * playwright-core (no browser download), headless, one browser per test file.
 * Helpers log in through the development identity provider exactly as a
 * person does, scan a page with axe-core and keep a screenshot of every page.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import axe from 'axe-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Danish staff see Danish controls (a date field reads dd.mm.åååå)
      '--lang=da-DK',
    ],
  });
}

/** A fresh browser profile (the dev PKI's server certificate is not in Chromium's trust store). */
export function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, locale: 'da-DK', timezoneId: 'Europe/Copenhagen' });
}

/** Logs in as `name` ("Anna Holm") through the login page and the development IdP's button; returns on the page logged in to. */
export async function login(browser: Browser, baseUrl: string, name: string, path = '/'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(baseUrl + path);
  await page.getByRole('link', { name: 'Log ind med regionens login' }).click();
  await page.getByRole('button', { name: `Log ind som ${name}` }).click();
  await page.waitForURL((u) => u.origin === new URL(baseUrl).origin && !u.pathname.startsWith('/auth/'));
  return { context, page };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core's WCAG 2.1 A/AA rules on the page as it is; the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, not as a page script: the page's CSP stays in force.
  await page.evaluate(axe.source);
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: unknown[] }> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
  });
  return (result.violations as { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[])
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Presses Tab until `selector` has the focus (at most `max` times): proof that the keyboard alone reaches it. */
export async function tabTo(page: Page, selector: string, max = 80): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`${selector} was not reached with ${max} presses of Tab`);
}
