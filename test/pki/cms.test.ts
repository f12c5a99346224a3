/**
 * Detached CMS signatures: produced with node-forge, checked with the real
 * `openssl cms -verify` (the command API.md gives partners) and with our own
 * verifier, which must agree with openssl.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureDevPki, type DevPki } from '../../src/pki/devpki.js';
import { certificateEntry, createSigner, parseTrustAnchors, verifyDetached, type DetachedSigner } from '../../src/receipts/cms.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'postkasse-cms-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const read = (f: string) => fs.readFileSync(f, 'utf8');
let n = 0;
function file(data: Buffer | string, ext: string): string {
  const f = path.join(tmp, `f${++n}.${ext}`);
  fs.writeFileSync(f, data);
  return f;
}

function openssl(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

/** Exactly the command in API.md (no -purpose). */
function opensslVerify(content: Buffer, sig: Buffer, caFile: string, extra: string[] = []) {
  const out = path.join(tmp, `out${++n}`);
  const r = openssl([
    'cms',
    '-verify',
    '-binary',
    '-inform',
    'DER',
    '-in',
    file(sig, 'der'),
    '-content',
    file(content, 'json'),
    '-CAfile',
    caFile,
    '-out',
    out,
    ...extra,
  ]);
  return { ...r, content: r.ok ? fs.readFileSync(out) : undefined };
}

const receipt = Buffer.from(
  JSON.stringify({ receiptId: 'r-1', packageId: 'p-1', sender: { partyId: 'kommune-101', municipalityCode: '101' }, note: 'æøå ÆØÅ' }),
  'utf8',
);

describe('CMS SignedData, detached', () => {
  let pki: DevPki;
  let other: DevPki;
  let signer: DetachedSigner;
  let sig: Buffer;
  const signingTime = new Date('2026-12-18T09:41:07.000Z');

  before(async () => {
    pki = await ensureDevPki(path.join(tmp, 'pki'), []);
    other = await ensureDevPki(path.join(tmp, 'other-pki'), []);
    signer = createSigner({ certPem: read(pki.receiptCert), keyPem: read(pki.receiptKey) });
    sig = signer.sign(receipt, signingTime);
  });

  test('openssl cms -verify (the API.md command, no -purpose) accepts the signature and returns the content', () => {
    const v = opensslVerify(receipt, sig, pki.caCert);
    assert.ok(v.ok, v.out);
    assert.match(v.out, /Verification successful/);
    assert.deepEqual(v.content, receipt);
  });

  test('the structure: detached, SHA-256, signed contentType/signingTime/messageDigest, signer certificate included', () => {
    const dump = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', file(sig, 'der')]);
    assert.ok(dump.ok, dump.out);
    assert.match(dump.out, /contentType: pkcs7-signedData/);
    assert.match(dump.out, /eContentType: pkcs7-data .*\n\s+eContent: <ABSENT>/);
    assert.match(dump.out, /digestAlgorithm:\s+algorithm: sha256/);
    for (const a of ['contentType', 'signingTime', 'messageDigest']) assert.match(dump.out, new RegExp(`object: ${a} `));
    assert.match(dump.out, /subject: CN=Postkasse receipt signing \(dev\)/);
    assert.match(dump.out, /UTCTIME:Dec 18 09:41:07 2026 GMT/);
  });

  test('signAsync (RSA on the thread pool) gives byte-identical output that openssl accepts', async () => {
    const a = await signer.signAsync(receipt, signingTime);
    assert.deepEqual(a, sig, 'RSASSA-PKCS1-v1_5 is deterministic: the asynchronous path must give the same DER');
    const v = opensslVerify(receipt, a, pki.caCert);
    assert.ok(v.ok, v.out);
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => signer.signAsync(Buffer.from(`receipt ${i}`), signingTime)));
    many.forEach((s, i) =>
      assert.ok(verifyDetached(Buffer.from(`receipt ${i}`), s, [read(pki.caCert)], { at: new Date() }).ok, `concurrent signature ${i}`),
    );
  });

  test('the asynchronous path fills a template built once: forge’s whole build, byte for byte, at any signing time', async () => {
    const times = [
      '1950-01-01T00:00:00.000Z', // the first UTCTime instant
      '2049-12-31T23:59:59.999Z', // the last
      '2026-02-28T23:00:00.000Z',
      '2030-10-05T07:08:09.123Z',
      '2050-01-01T00:00:00.000Z', // a GeneralizedTime from here on: two characters longer, built whole
      '1949-12-31T23:59:59.000Z',
    ].map((t) => new Date(t));
    for (let i = 0; i < 40; i++) times.push(new Date(Date.UTC(1950, 0, 1) + Math.floor(Math.random() * 100 * 365.2425 * 86_400_000)));
    for (const [i, at] of times.entries()) {
      const content = crypto.randomBytes(1 + i * 37);
      assert.deepEqual(await signer.signAsync(content, at), signer.sign(content, at), at.toISOString());
    }
    const v = opensslVerify(Buffer.from('late'), await signer.signAsync(Buffer.from('late'), times[4]), pki.caCert);
    assert.ok(v.ok, v.out);
  });

  test('signDigestAsync: a signature from the content’s SHA-256 alone is what sign() gives, and openssl accepts it', async () => {
    const content = Buffer.concat([Buffer.from('{"envelope":"'), Buffer.alloc(300_000, 0x41), Buffer.from('"}')]);
    const digest = crypto.createHash('sha256').update(content).digest();
    const d = await signer.signDigestAsync(digest, signingTime);
    assert.deepEqual(d, signer.sign(content, signingTime));
    const v = opensslVerify(content, d, pki.caCert);
    assert.ok(v.ok, v.out);
    assert.equal(verifyDetached(Buffer.from('other'), d, [read(pki.caCert)], { at: new Date() }).ok, false, 'bound to the content');
  });

  test('a certificate seen before is not parsed again: the TSA’s and the trust anchors’ come with every token verified', () => {
    const [a] = parseTrustAnchors([read(pki.caCert)]);
    const [b] = parseTrustAnchors([read(pki.caCert)]);
    assert.ok(a && a === b, 'the same X509Certificate object');
    const der = signer.certificate.raw;
    assert.equal(certificateEntry(der).x509, certificateEntry(Buffer.from(der)).x509);
    assert.ok(verifyDetached(receipt, sig, [read(pki.caCert)], { at: new Date() }).ok, 'and verification still holds');
  });

  test('verifyDetached agrees: ok, signer and signing time', () => {
    const v = verifyDetached(receipt, sig, [read(pki.caCert)], { at: new Date() });
    assert.ok(v.ok, v.ok ? '' : v.reason);
    assert.match(v.signer.subject, /CN=Postkasse receipt signing \(dev\)/);
    assert.equal(v.signer.serialNumber, signer.certificate.serialNumber);
    assert.equal(v.signingTime?.toISOString(), signingTime.toISOString());
  });

  test('tampered content: openssl and verifyDetached both refuse', () => {
    const tampered = Buffer.from(receipt.toString('utf8').replace('p-1', 'p-2'), 'utf8');
    const o = opensslVerify(tampered, sig, pki.caCert);
    assert.equal(o.ok, false);
    assert.match(o.out, /content verify error/);
    const v = verifyDetached(tampered, sig, [read(pki.caCert)]);
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /content does not match/);
  });

  test('tampered signature value: both refuse', () => {
    const bad = Buffer.from(sig);
    bad[bad.length - 1]! ^= 0x01; // the SignerInfo ends with the signature OCTET STRING
    const o = opensslVerify(receipt, bad, pki.caCert);
    assert.equal(o.ok, false, o.out);
    const v = verifyDetached(receipt, bad, [read(pki.caCert)]);
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /signature value does not verify/);
  });

  test('tampered signed attribute (signingTime): both refuse', () => {
    const needle = Buffer.from('261218094107Z', 'ascii');
    const at = sig.indexOf(needle);
    assert.ok(at > 0);
    const bad = Buffer.from(sig);
    bad.write('261218094108Z', at, 'ascii');
    assert.equal(opensslVerify(receipt, bad, pki.caCert).ok, false);
    const v = verifyDetached(receipt, bad, [read(pki.caCert)]);
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /signature value does not verify/);
  });

  test('wrong CA: both refuse', () => {
    const o = opensslVerify(receipt, sig, other.caCert);
    assert.equal(o.ok, false);
    assert.match(o.out, /unable to get local issuer certificate/);
    const v = verifyDetached(receipt, sig, [read(other.caCert)]);
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /does not chain to a trusted CA/);
    // ...but several anchors in one PEM string are all considered.
    assert.ok(verifyDetached(receipt, sig, [read(other.caCert) + read(pki.caCert)]).ok);
    assert.equal(verifyDetached(receipt, sig, []).ok, false);
  });

  test('a signer certificate that is not valid at the verification time is refused', () => {
    const v = verifyDetached(receipt, sig, [read(pki.caCert)], { at: new Date(Date.now() + 3 * 365 * 24 * 3600 * 1000) });
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /not valid at/);
  });

  test('garbage and non-detached input give ok:false, never an exception', () => {
    for (const junk of [
      Buffer.alloc(0),
      Buffer.from('not der'),
      sig.subarray(0, sig.length - 10),
      Buffer.concat([sig, Buffer.from([0])]),
    ]) {
      const v = verifyDetached(receipt, junk, [read(pki.caCert)]);
      assert.equal(v.ok, false);
      assert.match(!v.ok ? v.reason : '', /malformed CMS/);
    }
    const attached = path.join(tmp, 'attached.der');
    const r = openssl([
      'cms',
      '-sign',
      '-binary',
      '-nodetach',
      '-md',
      'sha256',
      '-in',
      file(receipt, 'json'),
      '-signer',
      pki.receiptCert,
      '-inkey',
      pki.receiptKey,
      '-outform',
      'DER',
      '-out',
      attached,
    ]);
    assert.ok(r.ok, r.out);
    const v = verifyDetached(receipt, fs.readFileSync(attached), [read(pki.caCert)]);
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.reason : '', /not detached/);
  });

  test('interop: a detached signature made by openssl verifies with verifyDetached, and fails on other content', () => {
    const out = path.join(tmp, 'openssl-sig.der');
    const r = openssl([
      'cms',
      '-sign',
      '-binary',
      '-md',
      'sha256',
      '-in',
      file(receipt, 'json'),
      '-signer',
      pki.receiptCert,
      '-inkey',
      pki.receiptKey,
      '-outform',
      'DER',
      '-out',
      out,
    ]);
    assert.ok(r.ok, r.out);
    const der = fs.readFileSync(out);
    const v = verifyDetached(receipt, der, [read(pki.caCert)]);
    assert.ok(v.ok, v.ok ? '' : v.reason);
    assert.ok(v.signingTime instanceof Date && Math.abs(v.signingTime.getTime() - Date.now()) < 5 * 60 * 1000);
    assert.equal(verifyDetached(Buffer.concat([receipt, Buffer.from(' ')]), der, [read(pki.caCert)]).ok, false);
  });

  test('why the receipt certificate carries EKU emailProtection: a serverAuth-only signer needs `-purpose any`', () => {
    // A signing certificate like the server certificate (EKU serverAuth).
    const key = path.join(tmp, 'tls-like.key');
    const csr = path.join(tmp, 'tls-like.csr');
    const crt = path.join(tmp, 'tls-like.pem');
    const ext = file('keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n', 'ext');
    assert.ok(openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', '/CN=tls-like', '-out', csr]).ok);
    assert.ok(
      openssl([
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        pki.caCert,
        '-CAkey',
        pki.caKey,
        '-CAcreateserial',
        '-days',
        '30',
        '-extfile',
        ext,
        '-out',
        crt,
      ]).ok,
    );
    const s = createSigner({ certPem: read(crt), keyPem: read(key) }).sign(receipt);
    const plain = opensslVerify(receipt, s, pki.caCert);
    assert.equal(plain.ok, false);
    assert.match(plain.out, /unsuitable certificate purpose/);
    assert.ok(opensslVerify(receipt, s, pki.caCert, ['-purpose', 'any']).ok);
    // The dev receipt certificate passes the default (smime_sign) purpose.
    assert.ok(opensslVerify(receipt, sig, pki.caCert).ok);
  });

  test('the same signer material and signing time give byte-identical signatures', () => {
    const material = { certPem: read(pki.receiptCert), keyPem: read(pki.receiptKey) };
    const a = createSigner(material).sign(receipt, signingTime);
    const b = createSigner(material).sign(receipt, signingTime);
    assert.deepEqual(a, b);
    assert.deepEqual(a, sig);
  });

  test('createSigner refuses a key that does not belong to the certificate', () => {
    assert.throws(() => createSigner({ certPem: read(pki.receiptCert), keyPem: read(pki.serverKey) }), /does not belong/);
  });

  test('larger content (1 MB) signs and verifies with openssl and verifyDetached', () => {
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const s = signer.sign(big);
    assert.ok(opensslVerify(big, s, pki.caCert).ok);
    assert.ok(verifyDetached(big, s, [read(pki.caCert)]).ok);
  });

  test('speed: one receipt signature takes about a millisecond (native RSA), verification likewise', (t) => {
    // A receipt of realistic size (~1.5 kB: five documents and two deadlines).
    const realistic = Buffer.from(
      JSON.stringify({
        receiptId: crypto.randomUUID(),
        packageId: crypto.randomUUID(),
        caseId: crypto.randomUUID(),
        sender: { partyId: 'kommune-101', municipalityCode: '101' },
        receivedAt: new Date().toISOString(),
        service: 'clinical-assessment',
        documents: Array.from({ length: 5 }, (_, i) => ({ part: `doc${i}`, type: 'journal', size: 48213 + i, sha256: 'ab'.repeat(32) })),
        manifestSha256: 'cd'.repeat(32),
        clock: {
          status: 'running',
          startedAt: new Date().toISOString(),
          deadlines: [
            { kind: 'attest', rule: '§23', dueDate: '2027-01-18', dueAt: '2027-01-18T22:59:59.999Z', source: 'default' },
            { kind: 'consultation', rule: '§23', dueDate: '2027-01-08', dueAt: '2027-01-08T22:59:59.999Z', source: 'agreement:kbh-2026' },
          ],
        },
      }),
    );
    for (let i = 0; i < 5; i++) signer.sign(realistic); // warm up
    const N = 100;
    let t0 = performance.now();
    for (let i = 0; i < N; i++) signer.sign(realistic);
    const signMs = (performance.now() - t0) / N;
    const anchors = [read(pki.caCert)];
    t0 = performance.now();
    const realisticSig = signer.sign(realistic);
    for (let i = 0; i < N; i++) verifyDetached(realistic, realisticSig, anchors);
    const verifyMs = (performance.now() - t0) / N;
    assert.ok(verifyDetached(realistic, realisticSig, anchors).ok);
    t.diagnostic(`sign ${signMs.toFixed(2)} ms, verify ${verifyMs.toFixed(2)} ms per receipt (${realistic.length} bytes)`);
    // forge's pure-JS RSA would be ~35 ms; leave ample room for a loaded machine.
    assert.ok(signMs < 20, `sign took ${signMs} ms`);
  });
});
