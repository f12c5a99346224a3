import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ensureDevPki, type DevPki, type DevPkiParty } from '../../src/pki/devpki.js';
import { stayFor } from '../helpers/wait.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postkasse-devpki-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const EKU = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2', emailProtection: '1.3.6.1.5.5.7.3.4' };
const YEAR = 365 * 24 * 3600 * 1000;

const parties: DevPkiParty[] = [
  {
    id: 'kommune-101',
    kind: 'municipality',
    name: 'Københavns Kommune',
    certificates: [{ subjectSerialNumber: 'UI:DK-O:G:11111111-2222-4333-8444-555555555555' }],
  },
  {
    id: 'coord-anna',
    kind: 'staff',
    name: 'Anna Holm',
    certificates: [{ sha256: 'AB'.repeat(32) }, { subjectSerialNumber: 'UI:DK-E:G:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' }],
  },
  { id: 'fp-only', kind: 'gp-system', name: 'Fingerprint only', certificates: [{ sha256: 'CD'.repeat(32) }] },
];

function x509(file: string): X509Certificate {
  return new X509Certificate(fs.readFileSync(file));
}

function leaves(p: DevPki): string[] {
  return [p.serverCert, p.receiptCert, p.gatewayClientCert, p.tsaCert, ...Object.values(p.clients).map((c) => c.cert)];
}

function fingerprints(p: DevPki): Record<string, string> {
  return Object.fromEntries([p.caCert, ...leaves(p)].map((f) => [f, x509(f).fingerprint256]));
}

function capture() {
  const lines: string[] = [];
  return { lines, log: { info: (_o: object, msg?: string) => void lines.push(msg ?? '') } };
}

function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

describe('ensureDevPki', () => {
  const dir = path.join(tmp, 'pki');
  let pki: DevPki;
  let firstLog: string[];

  before(async () => {
    const c = capture();
    pki = await ensureDevPki(dir, parties, c.log);
    firstLog = c.lines;
  });

  test('creates CA, server, receipt, gateway-client and per-party client files as absolute paths', () => {
    for (const f of [
      pki.caCert,
      pki.caKey,
      pki.serverCert,
      pki.serverKey,
      pki.receiptCert,
      pki.receiptKey,
      pki.gatewayClientCert,
      pki.gatewayClientKey,
      pki.tsaCert, // issue 15: the development TSA
      pki.tsaKey,
    ]) {
      assert.ok(path.isAbsolute(f), f);
      assert.ok(fs.existsSync(f), f);
    }
    assert.deepEqual(
      Object.keys(pki.clients).sort(),
      ['coord-anna', 'kommune-101'],
      'a client cert only for parties with a subjectSerialNumber',
    );
    assert.equal(firstLog.filter((l) => l.startsWith('dev PKI: created')).length, 7);
  });

  test('keys are 0600, the directory 0700, keys are RSA 2048 and match their certificates', () => {
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'clients')).mode & 0o777, 0o700);
    const pairs = [
      [pki.caCert, pki.caKey],
      [pki.serverCert, pki.serverKey],
      [pki.receiptCert, pki.receiptKey],
      [pki.gatewayClientCert, pki.gatewayClientKey],
      ...Object.values(pki.clients).map((c) => [c.cert, c.key]),
    ] as const;
    for (const [cert, key] of pairs) {
      assert.equal(fs.statSync(key).mode & 0o777, 0o600, key);
      const k = createPrivateKey(fs.readFileSync(key));
      assert.equal(k.asymmetricKeyType, 'rsa');
      assert.equal(k.asymmetricKeyDetails?.modulusLength, 2048);
      assert.ok(x509(cert).checkPrivateKey(k), `${key} belongs to ${cert}`);
    }
  });

  test('CA: self-signed CA certificate, CN "Postkasse Dev CA", keyCertSign, 10 years', () => {
    const ca = x509(pki.caCert);
    assert.ok(ca.ca);
    assert.match(ca.subject, /^CN=Postkasse Dev CA$/m);
    assert.ok(ca.verify(ca.publicKey));
    const years = (Date.parse(ca.validTo) - Date.parse(ca.validFrom)) / YEAR;
    assert.ok(years > 9.9 && years < 10.1, `CA validity ${years} years`);
    const text = openssl(['x509', '-in', pki.caCert, '-noout', '-text']).out;
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  });

  test('leaves are issued by the CA, valid 2 years, with random positive distinct serial numbers', () => {
    const ca = x509(pki.caCert);
    const serials = new Set<string>();
    for (const f of leaves(pki)) {
      const c = x509(f);
      assert.ok(!c.ca, `${f} is not a CA`);
      assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey), `${f} issued by the dev CA`);
      const years = (Date.parse(c.validTo) - Date.parse(c.validFrom)) / YEAR;
      assert.ok(years > 1.9 && years < 2.1, `${f} validity ${years} years`);
      assert.match(c.serialNumber, /^[0-7][0-9A-F]{31}$/, 'positive, 16 bytes');
      serials.add(c.serialNumber);
    }
    serials.add(ca.serialNumber);
    assert.equal(serials.size, leaves(pki).length + 1);
  });

  test('server certificate: localhost, 127.0.0.1 and ::1, serverAuth only', () => {
    const c = x509(pki.serverCert);
    assert.equal(c.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.deepEqual(c.keyUsage, [EKU.serverAuth]);
    assert.equal(c.checkHost('localhost'), 'localhost');
    assert.equal(c.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(c.checkIP('::1'), '::1');
    assert.ok(openssl(['verify', '-purpose', 'sslserver', '-CAfile', pki.caCert, pki.serverCert]).ok);
  });

  test('receipt certificate: digitalSignature + nonRepudiation, S/MIME signing EKU, not usable for TLS', () => {
    const c = x509(pki.receiptCert);
    assert.match(c.subject, /^CN=Postkasse receipt signing \(dev\)$/m);
    assert.deepEqual(c.keyUsage, [EKU.emailProtection]);
    assert.match(
      openssl(['x509', '-in', pki.receiptCert, '-noout', '-text']).out,
      /Key Usage: critical\s+Digital Signature, Non Repudiation\n/,
    );
    assert.ok(openssl(['verify', '-purpose', 'smimesign', '-CAfile', pki.caCert, pki.receiptCert]).ok);
    assert.equal(openssl(['verify', '-purpose', 'sslserver', '-CAfile', pki.caCert, pki.receiptCert]).ok, false);
    assert.equal(openssl(['verify', '-purpose', 'sslclient', '-CAfile', pki.caCert, pki.receiptCert]).ok, false);
  });

  test('gateway client certificate: clientAuth', () => {
    assert.deepEqual(x509(pki.gatewayClientCert).keyUsage, [EKU.clientAuth]);
    assert.ok(openssl(['verify', '-purpose', 'sslclient', '-CAfile', pki.caCert, pki.gatewayClientCert]).ok);
    assert.equal(openssl(['verify', '-purpose', 'sslserver', '-CAfile', pki.caCert, pki.gatewayClientCert]).ok, false);
  });

  test('party client certificate: CN = party name (UTF-8), subject serialNumber attribute (2.5.4.5), clientAuth', () => {
    const c = x509(pki.clients['kommune-101']!.cert);
    assert.match(c.subject, /^CN=Københavns Kommune$/m);
    assert.match(c.subject, /^serialNumber=UI:DK-O:G:11111111-2222-4333-8444-555555555555$/m);
    assert.deepEqual(c.keyUsage, [EKU.clientAuth]);
    const staff = x509(pki.clients['coord-anna']!.cert);
    assert.match(staff.subject, /^serialNumber=UI:DK-E:G:aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee$/m);
    // The attribute really is OID 2.5.4.5 as OpenSSL reads it.
    const subj = openssl(['x509', '-in', pki.clients['kommune-101']!.cert, '-noout', '-subject', '-nameopt', 'oid,sep_multiline']).out;
    assert.match(subj, /2\.5\.4\.5=UI:DK-O:G:11111111-2222-4333-8444-555555555555/);
    assert.ok(openssl(['verify', '-purpose', 'sslclient', '-CAfile', pki.caCert, pki.clients['kommune-101']!.cert]).ok);
  });

  test('idempotent: a second run reuses every file (same CA fingerprint) and creates nothing', async () => {
    const before = fingerprints(pki);
    const c = capture();
    const again = await ensureDevPki(dir, parties, c.log);
    assert.deepEqual(again, pki);
    assert.deepEqual(fingerprints(again), before);
    assert.deepEqual(c.lines, []);
  });

  test('issue 16: DEV_PKI_SERVER_NAMES adds names to the server certificate; a change re-issues only it, the same names nothing', async () => {
    const other = path.join(tmp, 'pki-names');
    fs.cpSync(dir, other, { recursive: true });
    const fp = (p: DevPki) => x509(p.serverCert).fingerprint256;
    const caBefore = x509(path.join(other, 'ca.pem')).fingerprint256;
    const named = await ensureDevPki(other, parties, undefined, { serverNames: ['postkasse.trial.example', '10.20.30.40'] });
    const c = x509(named.serverCert);
    assert.equal(c.checkHost('postkasse.trial.example'), 'postkasse.trial.example');
    assert.equal(c.checkIP('10.20.30.40'), '10.20.30.40');
    assert.equal(c.checkHost('localhost'), 'localhost', 'loopback stays');
    assert.ok(openssl(['verify', '-purpose', 'sslserver', '-CAfile', named.caCert, named.serverCert]).ok);
    assert.equal(x509(named.caCert).fingerprint256, caBefore, 'the CA (which partners trust) stays');
    assert.equal(x509(named.receiptCert).fingerprint256, x509(pki.receiptCert).fingerprint256, 'the other certificates stay');
    const namedFp = fp(named);
    const again = await ensureDevPki(other, parties, undefined, { serverNames: ['postkasse.trial.example', '10.20.30.40'] });
    assert.equal(fp(again), namedFp, 'the same names: the same certificate');
    const back = await ensureDevPki(other, parties);
    assert.notEqual(fp(back), namedFp);
    assert.equal(x509(back.serverCert).checkHost('postkasse.trial.example'), undefined, 'without the names: loopback only');
  });

  test('a new party gets a client certificate from the existing CA; nothing else changes', async () => {
    const before = fingerprints(pki);
    const c = capture();
    const more = [
      ...parties,
      {
        id: 'spec-bo',
        kind: 'staff',
        name: 'Bo Lind',
        certificates: [{ subjectSerialNumber: 'UI:DK-E:G:bbbbbbbb-0000-4000-8000-000000000000' }],
      },
    ];
    const p2 = await ensureDevPki(dir, more, c.log);
    assert.deepEqual(c.lines, ['dev PKI: created client spec-bo certificate']);
    assert.deepEqual(Object.fromEntries(Object.entries(fingerprints(p2)).filter(([f]) => f in before)), before);
    const bo = x509(p2.clients['spec-bo']!.cert);
    assert.ok(bo.checkIssued(x509(p2.caCert)) && bo.verify(x509(p2.caCert).publicKey));
  });

  test('a changed subjectSerialNumber or a damaged leaf is re-issued; the CA stays', async () => {
    const caFp = x509(pki.caCert).fingerprint256;
    fs.writeFileSync(pki.serverCert, 'garbage');
    const changed = parties.map((p) =>
      p.id === 'kommune-101' ? { ...p, certificates: [{ subjectSerialNumber: 'UI:DK-O:G:99999999-2222-4333-8444-555555555555' }] } : p,
    );
    const c = capture();
    const p2 = await ensureDevPki(dir, changed, c.log);
    assert.deepEqual(c.lines.sort(), ['dev PKI: created client kommune-101 certificate', 'dev PKI: created server certificate']);
    assert.equal(x509(p2.caCert).fingerprint256, caFp);
    assert.match(x509(p2.clients['kommune-101']!.cert).subject, /serialNumber=UI:DK-O:G:99999999/);
    assert.equal(x509(p2.serverCert).subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });

  test('a key that does not belong to its certificate is replaced', async () => {
    await ensureDevPki(dir, parties); // settle after the previous test's changes
    fs.copyFileSync(pki.serverKey, pki.gatewayClientKey);
    const c = capture();
    const p2 = await ensureDevPki(dir, parties, c.log);
    assert.deepEqual(c.lines, ['dev PKI: created gateway client certificate']);
    assert.ok(x509(p2.gatewayClientCert).checkPrivateKey(createPrivateKey(fs.readFileSync(p2.gatewayClientKey))));
  });

  test('losing the CA key creates a new CA and re-issues every leaf under it', async () => {
    const oldCa = x509(pki.caCert).fingerprint256;
    fs.rmSync(pki.caKey);
    const c = capture();
    const p2 = await ensureDevPki(dir, parties, c.log);
    const ca = x509(p2.caCert);
    assert.notEqual(ca.fingerprint256, oldCa);
    assert.equal(c.lines.length, 7);
    for (const f of leaves(p2)) assert.ok(x509(f).verify(ca.publicKey), `${f} re-issued by the new CA`);
  });

  test('refuses a party id that is not a safe file name', async () => {
    await assert.rejects(
      ensureDevPki(path.join(tmp, 'pki-bad'), [
        { id: '../evil', kind: 'staff', name: 'x', certificates: [{ subjectSerialNumber: 'UI:DK-E:G:x' }] },
      ]),
      /cannot be used as a file name/,
    );
  });

  test('two processes creating the same PKI at once end with one CA that issued every leaf', async () => {
    const raceDir = path.join(tmp, 'race');
    const mod = fileURLToPath(new URL('../../src/pki/devpki.ts', import.meta.url));
    const script =
      `import { ensureDevPki } from ${JSON.stringify(mod)}; import { X509Certificate } from 'node:crypto'; import fs from 'node:fs';` +
      `const p = await ensureDevPki(${JSON.stringify(raceDir)}, ${JSON.stringify(parties)});` +
      `process.stdout.write(new X509Certificate(fs.readFileSync(p.caCert)).fingerprint256);`;
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
      });
    const [a, b] = await Promise.all([run(), run()]);
    // Inspect the files as the two processes left them (no repairing run).
    const ca = x509(path.join(raceDir, 'ca.pem'));
    assert.equal(a, ca.fingerprint256);
    assert.equal(b, ca.fingerprint256);
    const files = ['server.pem', 'receipt.pem', 'gateway-client.pem', 'clients/kommune-101.pem', 'clients/coord-anna.pem'];
    for (const f of files) assert.ok(x509(path.join(raceDir, f)).verify(ca.publicKey), `${f} issued by the final CA`);
    assert.equal(fs.existsSync(path.join(raceDir, '.lock')), false, 'the lock is released');
  });

  test('a run waits while another holds the lock, and proceeds once it is released', async () => {
    const lockDir = path.join(tmp, 'locked');
    fs.mkdirSync(path.join(lockDir, '.lock'), { recursive: true });
    let done = false;
    const run = ensureDevPki(lockDir, []).then((p) => {
      done = true;
      return p;
    });
    await stayFor('a run going ahead while another holds the lock', 400, {
      happened: () => done || fs.existsSync(path.join(lockDir, 'ca.pem')),
    });
    assert.equal(done, false, 'still waiting for the lock');
    assert.equal(fs.existsSync(path.join(lockDir, 'ca.pem')), false);
    fs.rmdirSync(path.join(lockDir, '.lock'));
    const p = await run;
    assert.ok(x509(p.serverCert).verify(x509(p.caCert).publicKey));
  });

  test('a stale lock (left by a crashed process) is taken over', async () => {
    const lockDir = path.join(tmp, 'stale');
    const lock = path.join(lockDir, '.lock');
    fs.mkdirSync(lock, { recursive: true });
    const old = new Date(Date.now() - 10 * 60 * 1000);
    fs.utimesSync(lock, old, old);
    const p = await ensureDevPki(lockDir, []);
    assert.ok(fs.existsSync(p.caCert));
    assert.equal(fs.existsSync(lock), false);
  });
});
