/**
 * Issue 15, trusted time: the RFC 3161 request/response/token code against
 * tokens made by `openssl ts -reply` (an independent TSA), the client's
 * failover and refusals, and the CAdES-T unsigned attribute on a receipt.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createSign, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import forge from 'node-forge';
import { after, before, describe, test } from 'node:test';
import { createTimestamper, verifyTimestampToken, TimestampError } from '../../src/timestamps/client.js';
import { encodeRequest, parseRequest, parseResponse, parseTstInfo } from '../../src/timestamps/rfc3161.js';
import { createDevTsaSigner, startDevTsa } from '../../src/timestamps/dev-tsa.js';
import { ensureDevPki } from '../../src/pki/devpki.js';
import { loadPartiesFile } from '../../src/parties/parties.js';
import { ConfigError, loadConfig } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { stampRetryDelay } from '../../queues/timestamps.js';
import { createTimestampService } from '../../src/timestamps/service.js';
import { createTimestampStore, pendingRow } from '../../src/timestamps/store.js';
import { DIALECTS, newCase, openTestDb } from '../storage/helpers.js';
import { createSigner, signatureTimestampOf, signatureValue, verifyDetached, withSignatureTimestamp } from '../../src/receipts/cms.js';
import { startOpensslTsa, type OpensslTsa } from '../helpers/tsa.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest();
/** The development PKI the test gateways copy (made once per checkout, test/helpers/gateway.ts): no RSA key generation here. */
const devPki = () => ensureDevPki(join(process.cwd(), '.tmp', 'test-pki-template'), loadPartiesFile('config/parties.dev.json'));

describe('issue 15 RFC 3161 timestamps', () => {
  let tsa: OpensslTsa;
  let dir: string;
  before(async () => {
    tsa = await startOpensslTsa();
    dir = mkdtempSync(join(tmpdir(), 'postkasse-ts-unit-'));
  });
  after(async () => {
    await tsa.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('issue 15: the TimeStampReq is what openssl ts -query makes of the same digest (version 1, SHA-256, nonce, certReq)', () => {
    const digest = randomBytes(32);
    const nonce = Buffer.from('0102030405060708', 'hex');
    const req = encodeRequest(digest, nonce);
    writeFileSync(join(dir, 'req.tsq'), req);
    const text = execFileSync('openssl', ['ts', '-query', '-in', join(dir, 'req.tsq'), '-text'], { encoding: 'utf8' });
    assert.match(text, /Version: 1/);
    assert.match(text, /Hash Algorithm: sha256/);
    assert.match(text, /Nonce: 0x0102030405060708/);
    assert.match(text, /Certificate required: yes/);
    const parsed = parseRequest(req);
    assert.deepEqual(parsed.hashedMessage, digest);
    assert.deepEqual(parsed.nonce, nonce);
    assert.equal(parsed.certReq, true);
  });

  test('issue 15: a token from openssl ts -reply verifies; its genTime, serial and the nonce are read', async () => {
    const digest = sha(Buffer.from('signature value'));
    const stamper = createTimestamper({ urls: [tsa.url], trustedCaPems: [tsa.caPem] });
    const r = await stamper.stamp(digest);
    assert.equal(r.tsaUrl, tsa.url);
    assert.ok(Math.abs(r.genTime.getTime() - Date.now()) < 10_000);
    assert.match(r.serialNumber, /^[0-9a-f]+$/);
    const v = verifyTimestampToken(r.token, digest, [tsa.caPem]);
    assert.deepEqual(v, { ok: true, genTime: r.genTime, serialNumber: r.serialNumber });
    assert.equal(parseResponse(r.response).status, 0);
    // and openssl agrees about the response we keep
    writeFileSync(join(dir, 'resp.tsr'), r.response);
    execFileSync('openssl', ['ts', '-verify', '-digest', digest.toString('hex'), '-in', join(dir, 'resp.tsr'), '-CAfile', tsa.caFile], {
      stdio: 'pipe',
    });
  });

  test('issue 15: a token is refused for other data, another CA and a changed TSTInfo', async () => {
    const digest = sha(Buffer.from('x'));
    const r = await createTimestamper({ urls: [tsa.url], trustedCaPems: [tsa.caPem] }).stamp(digest);
    const other = verifyTimestampToken(r.token, sha(Buffer.from('y')), [tsa.caPem]);
    assert.deepEqual(other, { ok: false, reason: 'the token covers other data (message imprint differs)' });
    const dev = readFileSync((await devPki()).caCert, 'utf8');
    const wrongCa = verifyTimestampToken(r.token, digest, [dev]);
    assert.equal(wrongCa.ok, false);
    assert.match((wrongCa as { reason: string }).reason, /does not chain to a trusted CA/);
    // flip one byte of the genTime inside the TSTInfo: the messageDigest no longer matches
    const tampered = Buffer.from(r.token);
    const at = tampered.indexOf(Buffer.from(r.genTime.toISOString().slice(0, 4)));
    tampered[at + 3] = tampered[at + 3]! ^ 1;
    const t = verifyTimestampToken(tampered, digest, [tsa.caPem]);
    assert.equal(t.ok, false);
  });

  test('issue 15: the client tries the TSAs in order: a dead one and one answering garbage are skipped, all failing names each', async () => {
    const junk = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end('nope'));
    await new Promise<void>((r) => junk.listen(0, '127.0.0.1', () => r()));
    const junkUrl = `http://127.0.0.1:${(junk.address() as AddressInfo).port}/`;
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      const digest = sha(Buffer.from('failover'));
      const r = await createTimestamper({ urls: [deadUrl, junkUrl, tsa.url], trustedCaPems: [tsa.caPem], timeoutMs: 2000 }).stamp(digest);
      assert.equal(r.tsaUrl, tsa.url);
      // a TSA whose CA we do not trust does not count either
      await assert.rejects(
        createTimestamper({ urls: [deadUrl, junkUrl, tsa.url], trustedCaPems: [readFileSync(tsa.tsaCertFile, 'utf8')] }).stamp(digest),
        (e: unknown) =>
          e instanceof TimestampError &&
          e.failures.length === 3 &&
          /ECONNREFUSED/.test(e.failures[0]!.reason) &&
          /malformed TimeStampResp/.test(e.failures[1]!.reason) &&
          /trusted CA/.test(e.failures[2]!.reason),
      );
    } finally {
      junk.close();
    }
  });

  test('issue 15 CAdES-T: the token as unsigned attribute leaves the signed bytes valid, openssl cms -verify still passes', async () => {
    const pkiDir = mkdtempSync(join(tmpdir(), 'postkasse-ts-cms-'));
    try {
      const run = (args: string[]) => execFileSync('openssl', args, { cwd: pkiDir, stdio: 'pipe' });
      run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-subj', '/CN=Receipts', '-days', '2']);
      const certPem = readFileSync(join(pkiDir, 'c.pem'), 'utf8');
      const signer = createSigner({ certPem, keyPem: readFileSync(join(pkiDir, 'k.pem'), 'utf8') });
      const content = Buffer.from('{"receipt":1}');
      const cms = await signer.signAsync(content);
      assert.equal(signatureTimestampOf(cms), null);
      const sigValue = signatureValue(cms);
      const r = await createTimestamper({ urls: [tsa.url], trustedCaPems: [tsa.caPem] }).stamp(sha(sigValue));
      const stamped = withSignatureTimestamp(cms, r.token);
      assert.deepEqual(signatureTimestampOf(stamped), r.token);
      assert.deepEqual(signatureValue(stamped), sigValue);
      assert.equal(verifyDetached(content, stamped, [certPem]).ok, true);
      // replacing keeps one attribute
      assert.deepEqual(signatureTimestampOf(withSignatureTimestamp(stamped, r.token)), r.token);
      assert.equal(withSignatureTimestamp(stamped, r.token).length, stamped.length);
      writeFileSync(join(pkiDir, 'sig.der'), stamped);
      writeFileSync(join(pkiDir, 'content'), content);
      run([
        'cms',
        '-verify',
        '-binary',
        '-inform',
        'DER',
        '-in',
        'sig.der',
        '-content',
        'content',
        '-CAfile',
        'c.pem',
        '-purpose',
        'any',
        '-out',
        '/dev/null',
      ]);
      const printed = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(pkiDir, 'sig.der')], {
        encoding: 'utf8',
      });
      assert.match(printed, /unsignedAttrs:\s+object: id-smime-aa-timeStampToken \(1\.2\.840\.113549\.1\.9\.16\.2\.14\)/);
      assert.equal(parseTstInfo(tstInfoOf(r.token)).hashedMessage.equals(sha(sigValue)), true);
    } finally {
      rmSync(pkiDir, { recursive: true, force: true });
    }
  });
  test('issue 15 development TSA: the dev PKI has a TSA certificate with the critical timeStamping EKU; its answers pass openssl ts -verify', async () => {
    const pki = await devPki();
    const text = execFileSync('openssl', ['x509', '-in', pki.tsaCert, '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /X509v3 Extended Key Usage: critical\s+Time Stamping\s*\n/);
    assert.match(text, /Issuer: CN ?= ?Postkasse Dev CA/);
    const caPem = readFileSync(pki.caCert, 'utf8');
    const devTsa = await startDevTsa({
      certPem: readFileSync(pki.tsaCert, 'utf8'),
      keyPem: readFileSync(pki.tsaKey, 'utf8'),
      log: createLogger({ level: 'silent' }),
    });
    try {
      const digest = sha(Buffer.from('dev'));
      const r = await createTimestamper({ urls: [devTsa.url], trustedCaPems: [caPem] }).stamp(digest);
      writeFileSync(join(dir, 'dev.tsr'), r.response);
      const out = execFileSync(
        'openssl',
        ['ts', '-verify', '-digest', digest.toString('hex'), '-in', join(dir, 'dev.tsr'), '-CAfile', pki.caCert],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      assert.match(out, /Verification: OK/);
      // not a POST of a TimeStampReq: refused; a request with an unknown hash: a refusal with failInfo badAlg
      assert.equal((await fetch(devTsa.url)).status, 405);
      const bad = Buffer.from(encodeRequest(digest, Buffer.from([1])));
      bad[bad.indexOf(Buffer.from('608648016503040201', 'hex')) + 8] = 0x09; // sha256 → an unknown arc
      const refused = parseResponse(
        await createDevTsaSigner(readFileSync(pki.tsaCert, 'utf8'), readFileSync(pki.tsaKey, 'utf8')).respond(bad),
      );
      assert.equal(refused.status, 2);
      assert.equal(refused.token, null);
      assert.match(refused.detail, /unsupported message imprint/);
    } finally {
      await devTsa.close();
    }
  });

  test('issue 15: a token whose TSA certificate lacks the critical timeStamping EKU is refused (RFC 3161 §2.3)', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'postkasse-ts-weak-'));
    try {
      const run = (args: string[]) => execFileSync('openssl', args, { cwd: d2, stdio: 'pipe' });
      const digest = sha(Buffer.from('weak'));
      for (const [name, ext] of [
        ['noncritical', 'extendedKeyUsage=timeStamping'],
        ['other', 'extendedKeyUsage=critical,timeStamping,emailProtection'],
      ] as const) {
        writeFileSync(join(d2, `${name}.cnf`), `[e]\nbasicConstraints=CA:FALSE\n${ext}\n`);
        run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
        run(
          ['x509', '-req', '-in', `${name}.csr`, '-CA', tsa.caFile, '-CAkey', join(tsa.dir, 'ca.key'), '-set_serial', '7'].concat([
            '-extfile',
            `${name}.cnf`,
            '-extensions',
            'e',
            '-out',
            `${name}.pem`,
          ]),
        );
        const signer = createDevTsaSigner(readFileSync(join(d2, `${name}.pem`), 'utf8'), readFileSync(join(d2, `${name}.key`), 'utf8'));
        const token = parseResponse(await signer.respond(encodeRequest(digest, Buffer.from([9])))).token!;
        const v = verifyTimestampToken(token, digest, [tsa.caPem]);
        assert.equal(v.ok, false, name);
        assert.match((v as { reason: string }).reason, /extended key usage/);
      }
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });

  test('issue 15: a token without the ESS signingCertificate(V2) signed attribute is refused (RFC 3161 §2.4.2, RFC 5816)', async () => {
    const pki = await devPki();
    const keyPem = readFileSync(pki.tsaKey, 'utf8');
    const caPem = readFileSync(pki.caCert, 'utf8');
    const digest = sha(Buffer.from('no ess'));
    const signer = createDevTsaSigner(readFileSync(pki.tsaCert, 'utf8'), keyPem);
    const token = parseResponse(await signer.respond(encodeRequest(digest, Buffer.from([5])))).token!;
    assert.equal(verifyTimestampToken(token, digest, [caPem]).ok, true, 'the development TSA puts signingCertificateV2 in');
    // re-signed by the TSA's own key with the attributes as they are: still valid, so only the removal below is refused
    assert.equal(verifyTimestampToken(resignWithout(token, keyPem, null), digest, [caPem]).ok, true);
    const stripped = resignWithout(token, keyPem, OID_SIGNING_CERTIFICATE_V2);
    assert.deepEqual(verifyTimestampToken(stripped, digest, [caPem]), {
      ok: false,
      reason:
        'the token carries no signingCertificate or signingCertificateV2 signed attribute naming the TSA certificate (RFC 3161 §2.4.2, RFC 5816)',
    });
    // and openssl's TSA (the independent one) puts it in too
    const r = await createTimestamper({ urls: [tsa.url], trustedCaPems: [tsa.caPem] }).stamp(digest);
    writeFileSync(join(dir, 'ess.der'), r.token);
    const printed = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(dir, 'ess.der')], {
      encoding: 'utf8',
    });
    assert.match(printed, /object: id-smime-aa-signingCertificateV2 \(1\.2\.840\.113549\.1\.9\.16\.2\.47\)/);
  });

  test('issue 15 config: production without TSA_URLS refuses to start naming TSA_URLS; TSA_URLS needs TSA_CA_FILE; the gap defaults to 240 minutes', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.problems;
      }
    };
    assert.ok(problems({ NODE_ENV: 'production' }).some((p) => /^TSA_URLS must be set in production/.test(p)));
    assert.ok(problems({ TSA_URLS: 'https://tsa.example' }).some((p) => /^TSA_CA_FILE must be set with TSA_URLS/.test(p)));
    assert.ok(problems({ TSA_URLS: 'ftp://x, https://ok', TSA_CA_FILE: '/x' }).some((p) => /TSA_URLS must be comma-separated/.test(p)));
    assert.ok(problems({ TSA_MAX_GAP_MINUTES: '0' }).some((p) => /TSA_MAX_GAP_MINUTES must be greater than 0/.test(p)));
    const c = loadConfig({ TSA_URLS: ' https://a.example/tsa , http://b.example ', TSA_CA_FILE: '/etc/tsa.pem' });
    assert.deepEqual(c.TSA_URLS, ['https://a.example/tsa', 'http://b.example']);
    assert.equal(loadConfig({}).TSA_MAX_GAP_MINUTES, 240);
    assert.equal(loadConfig({}).TSA_URLS, undefined);
  });

  test('issue 15: a receipt timestamp is retried with backoff from 2 s, capped', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10, 60].map((n) => stampRetryDelay(n, 300_000)),
      [2000, 4000, 8000, 16000, 300_000, 300_000],
    );
    assert.equal(stampRetryDelay(5, 1000), 1000);
  });
  for (const d of DIALECTS) {
    test(`issue 15 (${d.name}): a waiting receipt is stamped once; the gap grows while it waits and intake is refused at the limit`, async () => {
      const db = await openTestDb(d, 'ts');
      try {
        const certPem = readFileSync(tsa.tsaCertFile, 'utf8'); // any RSA certificate signs a CMS here
        const signer = createSigner({ certPem, keyPem: readFileSync(join(tsa.dir, 'tsa.key'), 'utf8') });
        const c = newCase();
        const at = new Date(Date.now() - 60_000).toISOString();
        const receiptId = randomUUID();
        const packageRowId = randomUUID();
        const signature = await signer.signAsync(Buffer.from('{}'));
        await db.db.transaction().execute(async (trx) => {
          await trx.insertInto('cases').values(c).execute();
          await trx
            .insertInto('packages')
            .values({
              id: packageRowId,
              sender_party_id: 'sender-1',
              package_id: 'p1',
              case_id: c.id,
              content_sha256: 'x',
              manifest_sha256: 'y',
              is_supplement: 0,
              received_at: at,
            })
            .execute();
          await trx
            .insertInto('receipts')
            .values({
              id: receiptId,
              package_row_id: packageRowId,
              case_id: c.id,
              sender_party_id: 'sender-1',
              body: Buffer.from('{}'),
              signature,
              created_at: at,
            })
            .execute();
          await trx.insertInto('receipt_timestamps').values(pendingRow(receiptId, at)).execute();
        });
        let clock = Date.now();
        const log = createLogger({ level: 'silent' });
        const svc = createTimestampService({
          db,
          timestamper: createTimestamper({ urls: [tsa.url], trustedCaPems: [tsa.caPem] }),
          maxGapMs: 150_000,
          log,
          now: () => new Date(clock),
        });
        await svc.refresh();
        const h = svc.health();
        assert.equal(h.waiting, 1);
        assert.equal(h.status, 'waiting');
        assert.ok(Math.abs(h.gapSeconds - 60) < 2, String(h.gapSeconds));
        assert.equal(svc.refuseIntake(), null);
        assert.deepEqual(await svc.waiting(10), [receiptId]);
        assert.equal(await svc.timestampOf(receiptId), undefined);
        clock += 30_000; // 90 s: lagging (half the limit or more)
        assert.equal(svc.health().status, 'lagging');
        clock += 70_000; // 160 s: over the limit
        assert.equal(svc.health().status, 'failing-closed');
        const p = svc.refuseIntake();
        assert.equal(p?.status, 503);
        assert.equal(p?.type, 'https://postkasse.dk/problems/timestamps-unavailable');

        clock = Date.now();
        assert.equal(await svc.stampReceipt(receiptId), 'stamped');
        assert.equal(await svc.stampReceipt(receiptId), 'already-stamped');
        assert.equal(await svc.stampReceipt(randomUUID()), 'no-such-receipt');
        const ts = (await svc.timestampOf(receiptId))!;
        const digest = sha(signatureValue(signature));
        assert.equal(verifyTimestampToken(ts.token, digest, [tsa.caPem]).ok, true);
        assert.deepEqual(parseResponse(ts.response).token, ts.token);
        // another instance that stamped the same receipt a moment later saves nothing over the first
        const store = createTimestampStore(db);
        assert.equal(await store.saveStamp({ ...ts, serialNumber: '99', stampedAt: new Date().toISOString() }), false);
        assert.equal((await svc.timestampOf(receiptId))!.serialNumber, ts.serialNumber);
        await svc.refresh();
        assert.equal(svc.health().status, 'ok');
        assert.equal(svc.health().waiting, 0);
        assert.equal(svc.refuseIntake(), null);
        assert.deepEqual(await svc.waiting(10), []);
      } finally {
        await db.dispose();
      }
    });
  }
});

const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';

/**
 * The token with the signed attribute `oid` taken out (null: none) and the SignerInfo signed again
 * with the TSA's key, as a TSA that leaves the attribute out would have signed it.
 */
function resignWithout(token: Buffer, keyPem: string, oid: string | null): Buffer {
  const { Class, Type } = forge.asn1;
  const root = forge.asn1.fromDer(forge.util.createBuffer(token.toString('binary')));
  const signedData = (root.value as forge.asn1.Asn1[])[1]!.value as forge.asn1.Asn1[];
  const signerInfo = ((signedData[0]!.value as forge.asn1.Asn1[]).at(-1)!.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[];
  const attrs = signerInfo[3]!;
  const oidOf = (a: forge.asn1.Asn1) => forge.asn1.derToOid(forge.util.createBuffer((a.value as forge.asn1.Asn1[])[0]!.value as string));
  attrs.value = (attrs.value as forge.asn1.Asn1[]).filter((a) => oidOf(a) !== oid);
  // the signature covers the attributes DER-encoded as a SET (RFC 5652 §5.4), not as the [0] they are stored in
  const asSet = forge.asn1.create(Class.UNIVERSAL, Type.SET, true, attrs.value);
  const signed = Buffer.from(forge.asn1.toDer(asSet).getBytes(), 'binary');
  const signature = createSign('sha256').update(signed).sign(keyPem);
  signerInfo[5]!.value = signature.toString('binary');
  return Buffer.from(forge.asn1.toDer(root).getBytes(), 'binary');
}

/** The TSTInfo inside a token, via openssl (independent of our parser). */
function tstInfoOf(token: Buffer): Buffer {
  const d = mkdtempSync(join(tmpdir(), 'postkasse-tst-'));
  try {
    writeFileSync(join(d, 't.der'), token);
    execFileSync('openssl', ['cms', '-verify', '-noverify', '-inform', 'DER', '-in', join(d, 't.der'), '-out', join(d, 'tst.der')], {
      stdio: 'pipe',
    });
    return readFileSync(join(d, 'tst.der'));
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
