/**
 * Issue 15, hardening of the TLS listeners:
 * - "the client-certificate profile is not enforced": a certificate from the
 *   trusted CA carrying a registered serialNumber, but without the clientAuth
 *   extended key usage or with basicConstraints CA:TRUE, is refused with 403
 *   `certificate-profile`, and every refused certificate is logged at info
 *   level with its fingerprint, subject and reason;
 * - "handshakes": at most MAX_HANDSHAKES_PER_ADDRESS unfinished TLS
 *   handshakes per source address and MAX_CONNECTIONS sockets, on the mTLS
 *   listener and on the staff pages' listener; beyond them a new socket is
 *   closed before its handshake completes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { clientProfileError } from '../../src/parties/identity.js';
import { loadConfig } from '../../src/shared/config.js';

const KOMMUNE_101_SERIAL = 'UI:DK-O:G:98dd9c79-30f3-46ab-b3a6-f5d712da5269';

test('issue 15 client-certificate profile (unit): a leaf with clientAuth fits; a CA, no EKU, or serverAuth only does not', () => {
  assert.equal(clientProfileError({ ca: false, ext_key_usage: ['1.3.6.1.5.5.7.3.2'] }), undefined);
  assert.equal(clientProfileError({ ca: false, ext_key_usage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] }), undefined);
  assert.match(clientProfileError({ ca: true, ext_key_usage: ['1.3.6.1.5.5.7.3.2'] })!, /CA:TRUE/);
  assert.match(clientProfileError({ ca: false })!, /clientAuth/);
  assert.match(clientProfileError({ ca: false, ext_key_usage: ['1.3.6.1.5.5.7.3.1'] })!, /clientAuth/);
});

test('issue 15 connection bounds (config): MAX_CONNECTIONS, MAX_HANDSHAKES_PER_ADDRESS and HANDSHAKE_TIMEOUT_MS are positive whole numbers', () => {
  const c = loadConfig({});
  assert.deepEqual([c.MAX_CONNECTIONS, c.MAX_HANDSHAKES_PER_ADDRESS, c.HANDSHAKE_TIMEOUT_MS], [2048, 128, 10_000]);
  for (const name of ['MAX_CONNECTIONS', 'MAX_HANDSHAKES_PER_ADDRESS', 'HANDSHAKE_TIMEOUT_MS']) {
    assert.throws(() => loadConfig({ [name]: '0' }), new RegExp(name));
    assert.throws(() => loadConfig({ [name]: 'many' }), new RegExp(name));
  }
});

let keyPair: ReturnType<typeof generateKeyPairSync> | undefined; // one key for every test certificate

/** A certificate from the development CA for kommune-101's registered serialNumber, with the given extensions. */
function issue(ca: { cert: string; key: string }, extensions: object[]): { cert: string; key: string } {
  const { publicKey, privateKey } = (keyPair ??= generateKeyPairSync('rsa', { modulusLength: 2048 }));
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(8));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const issuer = forge.pki.certificateFromPem(ca.cert);
  cert.setSubject([
    { name: 'commonName', value: 'Kommune Imposter' },
    { type: '2.5.4.5', value: KOMMUNE_101_SERIAL },
  ]);
  cert.setIssuer(issuer.subject.attributes);
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function get(g: TestGateway, path: string, c: { cert: string; key: string }): Promise<{ status: number; type: string; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${g.url}${path}`, { ca: g.ca, cert: c.cert, key: c.key, agent: false, servername: 'localhost' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
}

/** Opens a TLS connection; 'secure' once the handshake completed, 'refused' if the socket closed before. */
function handshake(
  port: number,
  ca: string,
  c?: { cert: string; key: string },
): Promise<{ outcome: 'secure' | 'refused'; socket: tls.TLSSocket }> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...(c ?? {}) });
    let secure = false;
    socket.once('secureConnect', () => {
      secure = true;
      resolve({ outcome: 'secure', socket });
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (!secure) resolve({ outcome: 'refused', socket });
    });
  });
}

/** A TCP connection that never sends its ClientHello: a handshake that stays in progress. */
function stalled(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

describe('issue 15: certificate profile and connection bounds on a running gateway', () => {
  let g: TestGateway;
  let ca: { cert: string; key: string };
  const open: net.Socket[] = [];

  before(async () => {
    g = await startTestGateway({ dialect: 'sqlite', env: { MAX_HANDSHAKES_PER_ADDRESS: '3', MAX_CONNECTIONS: '6' } });
    const pki = g.gw.tls.devPki!;
    ca = { cert: readFileSync(pki.caCert, 'utf8'), key: readFileSync(pki.caKey, 'utf8') };
  });
  after(async () => {
    for (const s of open) s.destroy();
    await g?.close();
  });

  test('a registered serialNumber without clientAuth, or on a CA:TRUE certificate, is refused with 403 certificate-profile, logged at info', async () => {
    const cases = {
      'no extended key usage': issue(ca, [{ name: 'basicConstraints', cA: false }]),
      'serverAuth only': issue(ca, [{ name: 'extKeyUsage', serverAuth: true }]),
      'CA:TRUE': issue(ca, [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ]),
    };
    for (const [what, c] of Object.entries(cases)) {
      const res = await get(g, '/v1/mailbox', c);
      assert.match(res.type, /application\/problem\+json/);
      if (what === 'serverAuth only') {
        // OpenSSL's own purpose check already refuses an EKU without clientAuth while verifying the chain: 401.
        assert.equal(res.status, 401, `${what}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.detail, /INVALID_PURPOSE/);
      } else {
        assert.equal(res.status, 403, `${what}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.type, /certificate-profile$/);
        assert.match(res.body.detail, what === 'CA:TRUE' ? /CA:TRUE/ : /clientAuth/);
      }

      const fp = new X509Certificate(c.cert).fingerprint256;
      const line = await waitFor(`${what}: the refusal is logged`, () =>
        g.logs
          .map((l) => JSON.parse(l) as Record<string, any>)
          .find((l) => l.msg === 'client certificate refused' && l.fingerprint256 === fp),
      );
      assert.equal(line.level, 30, 'at info level');
      assert.match(line.subject, /CN=Kommune Imposter/);
      assert.match(line.subject, new RegExp(`serialNumber=${KOMMUNE_101_SERIAL}`));
      assert.match(line.reason, { 'CA:TRUE': /CA:TRUE/, 'serverAuth only': /INVALID_PURPOSE/ }[what] ?? /clientAuth/);
    }
    // the party's own certificate (a leaf with clientAuth) still works
    const ok = await get(g, '/v1/mailbox', g.creds('kommune-101'));
    assert.equal(ok.status, 200);
  });

  test('MAX_HANDSHAKES_PER_ADDRESS: unfinished handshakes beyond the bound get their socket closed before the handshake (both listeners)', async () => {
    for (const port of [g.gw.port, g.gw.staffPort]) {
      const creds = port === g.gw.port ? g.creds('kommune-101') : undefined;
      const hanging = await Promise.all([stalled(port), stalled(port), stalled(port)]);
      open.push(...hanging);
      const over = await handshake(port, g.ca, creds);
      assert.equal(over.outcome, 'refused', `port ${port}: a fourth unfinished handshake from the address is refused`);
      hanging[0]!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      const next = await handshake(port, g.ca, creds);
      assert.equal(next.outcome, 'secure', `port ${port}: below the bound again, a handshake completes`);
      next.socket.destroy();
      for (const s of hanging) s.destroy();
    }
  });

  test('MAX_CONNECTIONS: beyond it a new connection is closed before its handshake', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const held: tls.TLSSocket[] = [];
    for (let i = 0; i < 6; i++) {
      const h = await handshake(g.gw.port, g.ca, g.creds('kommune-101'));
      assert.equal(h.outcome, 'secure', `connection ${i + 1} of 6`);
      held.push(h.socket);
    }
    const over = await handshake(g.gw.port, g.ca, g.creds('kommune-101'));
    assert.equal(over.outcome, 'refused', 'the seventh connection is closed');
    for (const s of held) s.destroy();
  });
});
