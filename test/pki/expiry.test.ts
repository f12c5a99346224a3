/**
 * Issue 6: certificates that expire within 30 days raise a metric and a log
 * warning — the gateway's own, and a party's as it connects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import request from 'supertest';
import { Registry } from 'prom-client';
import { createCertExpiryMonitor } from '../../src/pki/expiry.js';
import { ensureDevPki } from '../../src/pki/devpki.js';
import { createLogger } from '../../src/shared/logger.js';
import { logCapture } from '../helpers/logs.js';
import { issueCert } from '../helpers/packages.js';
import { devPkiFor, startTestGateway, type TestGateway } from '../helpers/gateway.js';

describe('certificate expiry', () => {
  let dir: string;
  let pki: Awaited<ReturnType<typeof ensureDevPki>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-expiry-'));
    pki = await devPkiFor(join(dir, 'data'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('own certificate: a gauge of days left; one warning a day once fewer than 30 remain', async () => {
    const pem = readFileSync(pki.serverCert, 'utf8');
    const validTo = Date.parse(new X509Certificate(pem).validTo);
    let now = validTo - 100 * 86_400_000;
    const cap = logCapture();
    const registry = new Registry();
    const m = createCertExpiryMonitor({ registry, log: createLogger({ level: 'info', destination: cap.stream }), now: () => now });
    assert.equal(Math.floor(m.checkOwn('server', pem)), 100);
    assert.equal(cap.lines.filter((l) => l.includes('expires within')).length, 0);
    now = validTo - 10 * 86_400_000;
    m.checkOwn('server', pem);
    m.checkOwn('server', pem);
    assert.equal(cap.lines.filter((l) => l.includes('expires within 30 days')).length, 1, 'one warning a day');
    const text = await registry.metrics();
    assert.match(text, /postkasse_certificate_expiry_days\{use="server"\} 10/);
    assert.match(text, /postkasse_certificates_expiring_soon 1/);
    now += 86_400_001;
    m.checkOwn('server', pem);
    assert.equal(cap.lines.filter((l) => l.includes('expires within 30 days')).length, 2, 'and again the next day');
  });

  describe('a party connecting with a certificate that expires tomorrow', () => {
    let g: TestGateway;
    before(async () => {
      const serial = 'UI:DK-O:G:00000000-0000-4000-8000-00000000e001';
      const short = issueCert(readFileSync(pki.caCert, 'utf8'), readFileSync(pki.caKey, 'utf8'), serial);
      mkdirSync(join(dir, 'short'), { recursive: true });
      writeFileSync(join(dir, 'short', 'cert.pem'), short.cert);
      writeFileSync(join(dir, 'short', 'key.pem'), short.key);
      const parties = JSON.parse(readFileSync('config/parties.dev.json', 'utf8')) as { parties: unknown[] };
      parties.parties.push({
        id: 'kommune-short',
        kind: 'municipality',
        municipalityCode: '157',
        name: 'Gentofte Kommune',
        certificates: [{ subjectSerialNumber: serial }],
      });
      writeFileSync(join(dir, 'parties.json'), JSON.stringify(parties));
      g = await startTestGateway({
        dialect: 'sqlite',
        dataDir: join(dir, 'data'),
        env: { PARTIES_FILE: join(dir, 'parties.json'), HEALTH_PORT: '0' },
      });
    });
    after(async () => {
      await g?.close();
    });

    test('raises the party gauge and a warning naming the party', async () => {
      const res = await request(g.url)
        .get('/v1/mailbox')
        .ca(g.ca)
        .cert(readFileSync(join(dir, 'short', 'cert.pem')))
        .key(readFileSync(join(dir, 'short', 'key.pem')));
      assert.equal(res.status, 200);
      const text = await (await fetch(`http://127.0.0.1:${g.gw.healthPort}/metrics`)).text();
      // issue 15: the unauthenticated /metrics names no party; the fewest days left of any party, and the log names it
      assert.match(text, /postkasse_party_certificate_expiry_min_days 0/);
      assert.doesNotMatch(text, /kommune-short/);
      assert.match(text, /postkasse_certificates_expiring_soon [1-9]/);
      assert.match(text, /postkasse_certificate_expiry_days\{use="server"\} \d{3,}/, 'the dev server certificate is far from expiry');
      assert.ok(g.logs.some((l) => l.includes('kommune-short') && l.includes('expires within 30 days')));
    });
  });
});
