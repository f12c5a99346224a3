/**
 * mTLS identity end to end: a real node https server with the dev server
 * certificate asks for client certificates; peerIdentity reads what the
 * client presented and the registry maps it to a party — never by CN.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { DevPki } from '../../src/pki/devpki.js';
import { peerIdentity, type PeerIdentity } from '../../src/parties/identity.js';
import { createPartyRegistry, type PartyRegistry } from '../../src/parties/parties.js';
import { devPkiFor } from '../helpers/gateway.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postkasse-identity-'));
const DEV_PARTIES = fileURLToPath(new URL('../../config/parties.dev.json', import.meta.url));

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stderr}`);
}

const read = (f: string) => fs.readFileSync(f, 'utf8');

/** A client certificate made with the openssl binary, signed by the given CA. */
function opensslClientCert(name: string, subj: string, ca: { cert: string; key: string }): { cert: string; key: string } {
  const key = path.join(tmp, `${name}.key`);
  const csr = path.join(tmp, `${name}.csr`);
  const cert = path.join(tmp, `${name}.pem`);
  const ext = path.join(tmp, `${name}.ext`);
  fs.writeFileSync(ext, 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  openssl(['req', '-new', '-utf8', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', subj, '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '30', '-extfile', ext, '-out', cert]);
  return { cert, key };
}

describe('peerIdentity over a real mTLS connection', () => {
  let pki: DevPki;
  let registry: PartyRegistry;
  let server: https.Server;
  let port: number;
  let foreign: { cert: string; key: string };
  let cnOnly: { cert: string; key: string };
  const kommune101Serial = 'UI:DK-O:G:98dd9c79-30f3-46ab-b3a6-f5d712da5269';

  before(async () => {
    registry = createPartyRegistry(DEV_PARTIES);
    pki = await devPkiFor(tmp, DEV_PARTIES);

    // A different CA issues a certificate claiming kommune-101's serialNumber.
    const fca = { cert: path.join(tmp, 'foreign-ca.pem'), key: path.join(tmp, 'foreign-ca.key') };
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      fca.key,
      '-out',
      fca.cert,
      '-days',
      '30',
      '-subj',
      '/CN=Foreign CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    foreign = opensslClientCert('foreign', `/CN=Københavns Kommune/serialNumber=${kommune101Serial}`, fca);
    // The dev CA issues a certificate with the right CN but no serialNumber.
    cnOnly = opensslClientCert('cn-only', '/CN=Københavns Kommune', { cert: pki.caCert, key: pki.caKey });

    server = https.createServer(
      { cert: read(pki.serverCert), key: read(pki.serverKey), ca: read(pki.caCert), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(peerIdentity(req.socket as TLSSocket)));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function call(client?: { cert: string; key: string }): Promise<PeerIdentity> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          servername: 'localhost',
          ca: read(pki.caCert),
          agent: false,
          ...(client ? { cert: read(client.cert), key: read(client.key) } : {}),
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(JSON.parse(body) as PeerIdentity));
        },
      );
      req.on('error', reject);
    });
  }

  test("a party's dev client certificate: authorized, subject serialNumber, fingerprint → that party", async () => {
    const files = pki.clients['kommune-101']!;
    const id = await call(files);
    assert.equal(id.authorized, true);
    assert.equal(id.authorizationError, undefined);
    assert.equal(id.subjectSerialNumber, kommune101Serial);
    assert.equal(id.fingerprint256, new X509Certificate(read(files.cert)).fingerprint256);
    assert.equal(
      registry.byCertificate({ subjectSerialNumber: id.subjectSerialNumber, fingerprint256: id.fingerprint256! })?.id,
      'kommune-101',
    );
  });

  test('a staff (employee) certificate maps to the staff party', async () => {
    const id = await call(pki.clients['coord-anna']!);
    assert.equal(id.authorized, true);
    assert.match(id.subjectSerialNumber ?? '', /^UI:DK-E:G:/);
    assert.equal(
      registry.byCertificate({ subjectSerialNumber: id.subjectSerialNumber, fingerprint256: id.fingerprint256! })?.id,
      'coord-anna',
    );
  });

  test('a certificate from a different CA is not authorized, even with a registered serialNumber', async () => {
    const id = await call(foreign);
    assert.equal(id.authorized, false);
    assert.match(id.authorizationError ?? '', /^[A-Z_]+$/, 'an OpenSSL verify code');
    assert.equal(id.subjectSerialNumber, kommune101Serial, 'the claim is visible but untrusted');
  });

  test('no client certificate: not authorized, no fingerprint', async () => {
    const id = await call();
    assert.equal(id.authorized, false);
    assert.equal(id.fingerprint256, undefined);
    assert.equal(id.subjectSerialNumber, undefined);
    assert.match(id.authorizationError ?? '', /^[A-Z_]+$/);
  });

  test('CN is never an identity: a trusted certificate with a party name as CN but no serialNumber maps to nobody', async () => {
    const id = await call(cnOnly);
    assert.equal(id.authorized, true);
    assert.equal(id.subjectSerialNumber, undefined);
    assert.equal(registry.byCertificate({ subjectSerialNumber: id.subjectSerialNumber, fingerprint256: id.fingerprint256! }), undefined);
  });

  test('a certificate pinned by SHA-256 fingerprint (file: lower case, no colons) maps to its party', async () => {
    const fp = new X509Certificate(read(cnOnly.cert)).fingerprint256.replace(/:/g, '').toLowerCase();
    const file = path.join(tmp, 'pinned.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ parties: [{ id: 'pinned', kind: 'senior-pension-unit', name: 'Pinned', certificates: [{ sha256: fp }] }] }),
    );
    const pinned = createPartyRegistry(file);
    const id = await call(cnOnly);
    assert.equal(pinned.byCertificate({ subjectSerialNumber: id.subjectSerialNumber, fingerprint256: id.fingerprint256! })?.id, 'pinned');
  });
});
