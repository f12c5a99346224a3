/**
 * Issue 15, the evidence export, against one real gateway (embedded SQLite, mTLS) whose TSA is an
 * independent one (`openssl ts -reply` behind test/helpers/tsa.ts, its own CA): a case's receipt is
 * stamped, its audit entries are partly anchored, and `evidence export` writes the zip. Proves:
 * `evidence verify` says OK against the given trust anchors, and never against the CA certificates
 * inside the file: a forged file that brings its own CA and TSA is not called verified without trust
 * anchors of the verifier's own, and fails against the real ones; the README's openssl/jq/sha256sum
 * recipe, run as written with real openssl and the real anchors, verifies the receipt, its timestamp,
 * every audit link and the anchored head; each kind of tampering (an audit entry, a rewrite of the
 * chain up to its head, a receipt byte, a token byte, an index digest) is named by verify; an
 * unknown case is a clear error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';
import { createSigner, signatureValue, withSignatureTimestamp } from '../../src/receipts/cms.js';
import { createTimestamper } from '../../src/timestamps/client.js';
import request from 'supertest';
import { evidenceCommand } from '../../src/cli/evidence.js';
import { verifyEvidence } from '../../src/evidence/service.js';
import { auditHash } from '../../src/audit/audit.js';
import { headStatement } from '../../src/audit/head.js';
import { canonicalJson } from '../../src/shared/canonical-json.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { startOpensslTsa, type OpensslTsa } from '../helpers/tsa.js';
import { waitFor } from '../helpers/wait.js';
import { keepForScan } from '../helpers/logs.js';

const PARTY = 'kommune-101';
/** the verdict line: the first failed check, after the count when several failed */
const BROKEN = 'evidence BROKEN: (?:\\d+ checks failed; first: )?';
const sha256hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

type Files = Record<string, Uint8Array>;
interface Line {
  seq: number;
  prev_hash: string;
  hash: string;
  body: string;
}

describe('issue 15: evidence export of a case', () => {
  let g: TestGateway;
  let tsa: OpensslTsa;
  let dir: string;
  let caFile: string;
  let caseId = '';
  let receiptId = '';
  let docMarker = '';
  let cpr = '';
  let zipFile = '';
  let anchoredSeq = 0;
  let readSeq = 0;

  before(async () => {
    tsa = await startOpensslTsa();
    dir = mkdtempSync(join(tmpdir(), 'postkasse-evidence-'));
    g = await startTestGateway({ dialect: 'sqlite', env: { TSA_URLS: tsa.url, TSA_CA_FILE: tsa.caFile, TSA_RETRY_MAX_SECONDS: '1' } });
    caFile = join(g.dataDir, 'pki', 'ca.pem');
  });
  after(async () => {
    if (g) keepForScan(g.logs);
    await g?.close();
    await tsa?.close();
    rmSync(dir, { recursive: true, force: true });
    if (g) rmSync(g.dataDir, { recursive: true, force: true });
  });

  const send = async (marker: string, m = manifest()) => {
    const r = await postPackage(g, PARTY, m, [{ name: 'plan', body: pdf(marker), contentType: 'application/pdf', filename: 'plan.pdf' }]);
    assert.equal(r.status, 201, r.text);
    return { caseId: (JSON.parse(r.text) as { caseId: string }).caseId, receiptId: r.headers['receipt-id']! };
  };
  const cli = (args: string[]) => evidenceCommand(args, { DATA_DIR: g.dataDir, TSA_CA_FILE: tsa.caFile });
  const unzip = (zip: Uint8Array): Files => unzipSync(zip);
  const rezip = (files: Files) => Buffer.from(zipSync(files));
  const lines = (files: Files): Line[] =>
    Buffer.from(files['audit/entries.jsonl']!)
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
  const writeLines = (files: Files, ls: Line[]) => {
    files['audit/entries.jsonl'] = Buffer.from(ls.map((l) => `${JSON.stringify(l)}\n`).join(''));
  };
  /** Re-digests `paths` in evidence.json, as a forger who also rewrites the index would. */
  const reindex = (files: Files, ...paths: string[]) => {
    const ix = JSON.parse(Buffer.from(files['evidence.json']!).toString('utf8')) as {
      files: { path: string; sha256: string; size: number }[];
    };
    for (const f of ix.files)
      if (paths.includes(f.path)) Object.assign(f, { sha256: sha256hex(files[f.path]!), size: files[f.path]!.length });
    files['evidence.json'] = Buffer.from(JSON.stringify(ix, null, 2));
  };
  /** The README's commands: its lines indented by four spaces, as a script. */
  const recipe = (readme: string) =>
    readme
      .split('\n')
      .filter((l) => l.startsWith('    '))
      .map((l) => l.slice(4))
      .join('\n');
  const verify = (files: Files, name: string) => {
    const f = join(dir, `${name}.zip`);
    writeFileSync(f, rezip(files));
    return evidenceCommand(['verify', f, '--ca', caFile, '--tsa-ca', tsa.caFile]);
  };

  test('issue 15: export writes the case evidence; `evidence verify` says OK against the given trust anchors', async () => {
    const m = manifest();
    cpr = m.citizen.cpr as string;
    docMarker = `evidence-doc-${Date.now()}`;
    ({ caseId, receiptId } = await send(docMarker, m));
    await send('another case'); // its entry lies between the case's entry and the anchored head
    await waitFor('the receipt to be stamped', async () => {
      const c = g.creds(PARTY);
      const r = await request(g.url).get(`/v1/receipts/${receiptId}`).ca(g.ca).cert(c.cert).key(c.key);
      return r.headers['receipt-timestamp'] === 'present' ? true : null;
    });
    const stamped = await g.gw.auditStamper.stampNow();
    assert.ok(stamped.stamped, JSON.stringify(stamped));
    anchoredSeq = stamped.seq;
    // a read after the anchor: in the file, reported as not yet anchored
    const lead = g.creds('lead-1');
    const read = await request(g.url).get(`/v1/cases/${caseId}/documents/plan`).ca(g.ca).cert(lead.cert).key(lead.key).buffer(true);
    assert.equal(read.status, 200);

    zipFile = join(dir, 'evidence.zip');
    const exported = await cli(['export', '--case', caseId, '--out', zipFile]);
    assert.equal(exported.code, 0, exported.stdout + exported.stderr);
    assert.match(exported.stdout, /1 receipt\(s\), 1 timestamped/);
    assert.match(exported.stdout, /evidence OK\n$/);

    const files = unzip(readFileSync(zipFile));
    const names = Object.keys(files).sort();
    for (const f of [
      'README.txt',
      'evidence.json',
      'documents.json',
      'certs/receipt-ca.pem',
      'certs/tsa-ca.pem',
      'audit/entries.jsonl',
      `receipts/${receiptId}.json`,
      `receipts/${receiptId}.sig.der`,
      `receipts/${receiptId}.tsr`,
      `audit/anchors/${anchoredSeq}.head`,
      `audit/anchors/${anchoredSeq}.tst`,
    ]) {
      assert.ok(names.includes(f), `${f} in ${names.join(', ')}`);
    }
    assert.equal(Buffer.from(files['certs/tsa-ca.pem']!).toString(), tsa.caPem, "the TSA's CA, not the receipt CA");
    assert.equal(Buffer.from(files['certs/receipt-ca.pem']!).toString(), g.ca);
    // the stamped CMS, as GET /v1/receipts/{id} serves it
    const c = g.creds(PARTY);
    const served = await request(g.url).get(`/v1/receipts/${receiptId}`).ca(g.ca).cert(c.cert).key(c.key);
    assert.deepEqual(Buffer.from(files[`receipts/${receiptId}.sig.der`]!), Buffer.from(served.headers['receipt-signature']!, 'base64'));

    // chain segments: from the case's first entry through another case's entry to the anchored head, then the later read
    const ls = lines(files);
    const bodies = ls.map((l) => JSON.parse(l.body) as { caseId: string | null; action: string });
    const caseSeqs = ls.filter((_, i) => bodies[i]!.caseId === caseId).map((l) => l.seq);
    readSeq = ls.find((_, i) => bodies[i]!.action === 'document-read')!.seq;
    assert.ok(readSeq > anchoredSeq);
    assert.ok(
      ls.some((l, i) => bodies[i]!.caseId !== caseId && l.seq < anchoredSeq),
      'an entry of another case, between the case entry and its head, is in the file whole',
    );
    assert.ok(ls.some((l) => l.seq === anchoredSeq));
    const ix = JSON.parse(Buffer.from(files['evidence.json']!).toString()) as {
      caseId: string;
      gateway: { name: string };
      audit: { caseEntries: number[]; notYetAnchored: number[]; segments: unknown[] };
      files: { path: string; sha256: string }[];
    };
    assert.equal(ix.caseId, caseId);
    assert.match(ix.gateway.name, /^Postkasse, /);
    assert.deepEqual(ix.audit.caseEntries, caseSeqs);
    assert.deepEqual(ix.audit.notYetAnchored, [readSeq]);
    for (const f of ix.files) assert.equal(f.sha256, sha256hex(files[f.path]!), f.path);

    // no mac, no document bytes, no CPR or name anywhere in the file
    const all = Object.values(files)
      .map((b) => Buffer.from(b).toString('latin1'))
      .join('\n');
    assert.doesNotMatch(all, /"mac"/);
    assert.ok(!all.includes(docMarker), 'no document bytes');
    assert.ok(!all.includes(cpr) && !all.includes('Testa Borgersen'), 'no CPR number or name');
    const docs = JSON.parse(Buffer.from(files['documents.json']!).toString()) as {
      documents: { part: string; sha256: string; receiptId: string }[];
    };
    assert.deepEqual(
      docs.documents.map((d) => [d.part, d.receiptId]),
      [['plan', receiptId]],
    );

    const v = await evidenceCommand(['verify', zipFile, '--ca', caFile, '--tsa-ca', tsa.caFile]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /ok {4}trust anchors: receipts against \S+ca\.pem \(--ca\); timestamps against \S+ca\.pem \(--tsa-ca\)/);
    assert.match(v.stdout, /ok {4}file certs\/receipt-ca\.pem: the same certificate as \S+ \(--ca\) \(SHA-256 [0-9A-F:]+\)/);
    assert.match(v.stdout, /ok {4}file certs\/tsa-ca\.pem: the same certificate as \S+ \(--tsa-ca\)/);
    assert.match(v.stdout, new RegExp(`ok {4}receipt ${receiptId}: signature valid`));
    assert.match(v.stdout, new RegExp(`ok {4}receipt ${receiptId} timestamp: .*the TSA vouches`));
    assert.match(v.stdout, new RegExp(`ok {4}audit anchor seq ${anchoredSeq}: the TSA vouches`));
    assert.match(v.stdout, /ok {4}audit links: \d+ entries/);
    assert.match(v.stdout, new RegExp(`note  audit not yet anchored: seq ${readSeq}\\b`));
    assert.match(v.stdout, /ok {4}files: \d+ file\(s\)/);
    assert.match(v.stdout, /evidence OK\n$/);

    // without flags, next to the gateway's configuration: its anchors (the development CA, TSA_CA_FILE), never the file's
    const configured = await cli(['verify', zipFile]);
    assert.equal(configured.code, 0, configured.stdout + configured.stderr);
    assert.match(configured.stdout, /receipts against \S+pki\/ca\.pem \(the development PKI of the gateway configured here\)/);
    assert.match(configured.stdout, new RegExp(`timestamps against ${tsa.caFile} \\(TSA_CA_FILE\\)`));
    assert.match(configured.stdout, /evidence OK\n$/);
    // the TSA's tokens do not verify against the receipt CA: the trust anchors given are the ones used
    const wrong = await evidenceCommand(['verify', zipFile, '--ca', caFile, '--tsa-ca', caFile]);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stdout, /FAIL {2}receipt .* timestamp: /);
    assert.match(wrong.stdout, /evidence BROKEN: /);
  });

  test("issue 15: the README's recipe, run as written with openssl, jq and sha256sum, verifies every item", () => {
    const out = join(dir, 'unpacked');
    // unpacked as a third party would (fflate here: `unzip` is not on every machine the tests run on)
    for (const [name, bytes] of Object.entries(unzip(readFileSync(zipFile)))) {
      mkdirSync(dirname(join(out, name)), { recursive: true });
      writeFileSync(join(out, name), bytes);
    }
    const script = recipe(readFileSync(join(out, 'README.txt'), 'utf8'));
    assert.match(script, /openssl cms -verify/);
    assert.match(script, /openssl ts -verify -data audit\/anchors\/\d+\.head .* -token_in -CAfile "\$TSA_CA"/);
    assert.doesNotMatch(script, /-CAfile certs\//, "never the file's own certificates");
    // without the verifier's trust anchors the recipe stops at once and says which to set
    const { RECEIPT_CA: _r, TSA_CA: _t, ...envWithout } = process.env;
    const unanchored = spawnSync('bash', ['-c', script], { cwd: out, encoding: 'utf8', env: envWithout });
    assert.notEqual(unanchored.status, 0);
    assert.match(unanchored.stderr, /RECEIPT_CA: set RECEIPT_CA to the CA certificate \(PEM\) of the region, not the one in this file/);
    assert.doesNotMatch(unanchored.stdout + unanchored.stderr, /Verification/);
    const anchored = { ...envWithout, RECEIPT_CA: caFile, TSA_CA: tsa.caFile };
    const run = spawnSync('bash', ['-c', script], { cwd: out, encoding: 'utf8', env: anchored });
    const output = run.stdout + run.stderr;
    assert.equal(run.status, 0, output);
    assert.match(output, /CMS Verification successful/);
    assert.equal(output.match(/^Verification: OK$/gm)?.length, 2, `the receipt's and the head's tokens:\n${output}`);
    assert.match(output, new RegExp(`^head ${anchoredSeq}: OK$`, 'm'));
    const entries = lines(unzip(readFileSync(zipFile)));
    for (const e of entries) assert.match(output, new RegExp(`^audit seq ${e.seq}: OK$`, 'm'));
    assert.doesNotMatch(output, /FAILED|BROKEN/);
    assert.match(output, /^Status: Granted\.$/m);
    // the fingerprints of the anchors given and of the file's certificates, to compare: here equal
    const fp = (f: string) =>
      output
        .split('\n')
        .find((l) => l.startsWith(`${f}: sha256 Fingerprint=`))
        ?.slice(f.length + 2);
    assert.ok(fp(caFile) && fp(caFile) === fp('certs/receipt-ca.pem'), output);
    assert.ok(fp(tsa.caFile) && fp(tsa.caFile) === fp('certs/tsa-ca.pem'), output);
    const indexed = (JSON.parse(readFileSync(join(out, 'evidence.json'), 'utf8')) as { files: { path: string }[] }).files;
    for (const f of indexed) assert.ok(output.includes(`\n${f.path}: OK\n`), `sha256sum -c checks ${f.path}`);
    assert.doesNotMatch(output, /: FAILED/);

    // the recipe notices a changed entry (the same script over a tampered copy)
    const ls = entries.map((e) => (e.seq === readSeq ? { ...e, body: e.body.replace('"document-read"', '"case-read"') } : e));
    writeFileSync(join(out, 'audit', 'entries.jsonl'), ls.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const tampered = spawnSync('bash', ['-c', script], { cwd: out, encoding: 'utf8', env: anchored });
    assert.match(tampered.stdout, new RegExp(`^audit seq ${readSeq}: FAILED`, 'm'));
  });

  test('issue 15: a forged file that brings its own CA and TSA is not verified without trust anchors of your own, and fails with the real ones', async () => {
    // The forger: a receipt CA of its own (self-signed, signing too) and a TSA of its own (openssl, its own CA, the same names).
    const forger = await startOpensslTsa();
    const fdir = mkdtempSync(join(tmpdir(), 'postkasse-forger-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          'k.pem',
          '-out',
          'c.pem',
          '-days',
          '2',
          '-subj',
          '/CN=Postkasse Dev CA',
        ],
        { cwd: fdir, stdio: 'pipe' },
      );
      const forgerCa = join(fdir, 'c.pem');
      const signer = createSigner({ certPem: readFileSync(forgerCa, 'utf8'), keyPem: readFileSync(join(fdir, 'k.pem'), 'utf8') });
      const stamper = createTimestamper({ urls: [forger.url], trustedCaPems: [forger.caPem] });
      const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

      // The receipt says the package arrived a day earlier; signed, timestamped and anchored anew, with the forger's CAs in certs/.
      const f = unzip(readFileSync(zipFile));
      const receipt = JSON.parse(Buffer.from(f[`receipts/${receiptId}.json`]!).toString()) as { receivedAt: string };
      receipt.receivedAt = new Date(Date.parse(receipt.receivedAt) - 86_400_000).toISOString();
      const body = Buffer.from(JSON.stringify(receipt));
      const cms = await signer.signAsync(body);
      const stamp = await stamper.stamp(sha256(signatureValue(cms)));
      f[`receipts/${receiptId}.json`] = body;
      f[`receipts/${receiptId}.sig.der`] = withSignatureTimestamp(cms, stamp.token);
      f[`receipts/${receiptId}.tsr`] = stamp.response;
      f[`audit/anchors/${anchoredSeq}.tst`] = (await stamper.stamp(sha256(f[`audit/anchors/${anchoredSeq}.head`]!))).token;
      f['certs/receipt-ca.pem'] = readFileSync(forgerCa);
      f['certs/tsa-ca.pem'] = Buffer.from(forger.caPem);
      reindex(
        f,
        `receipts/${receiptId}.json`,
        `receipts/${receiptId}.sig.der`,
        `receipts/${receiptId}.tsr`,
        `audit/anchors/${anchoredSeq}.tst`,
        'certs/receipt-ca.pem',
        'certs/tsa-ca.pem',
      );
      const forgedFile = join(dir, 'forged.zip');
      writeFileSync(forgedFile, rezip(f));

      // Against the certificates it brings, the forgery is flawless: what verify once did without --ca/--tsa-ca.
      const self = await evidenceCommand(['verify', forgedFile, '--ca', forgerCa, '--tsa-ca', forger.caFile]);
      assert.equal(self.code, 0, self.stdout);
      assert.match(self.stdout, /evidence OK\n$/);

      // Without trust anchors of the verifier's own (no flags, no gateway configured here): not verified, and why.
      const bare = join(dir, 'no-gateway-here');
      mkdirSync(bare, { recursive: true });
      for (const file of [forgedFile, zipFile]) {
        const v = await evidenceCommand(['verify', file], { DATA_DIR: bare });
        assert.equal(v.code, 1, v.stdout + v.stderr);
        assert.equal(v.stdout, '', 'no check is reported as passed');
        assert.match(v.stderr, /not verified: no trust anchor of your own for the receipts and the timestamps\. Give\n/);
        assert.match(v.stderr, /--ca FILE +the CA certificate \(PEM\) of the region's receipt signer, from the region/);
        assert.match(v.stderr, /--tsa-ca FILE +the TSA's CA certificate \(PEM\), from the TSA provider/);
        assert.match(
          v.stderr,
          /\nThe certificates inside the file \(certs\/receipt-ca\.pem, certs\/tsa-ca\.pem\) cannot stand in for them: they came with the file/,
        );
      }
      // the service itself refuses empty anchors the same way (no caller can fall back to the file's certificates)
      const none = verifyEvidence(readFileSync(forgedFile), { receiptCa: { pems: [], source: '' }, tsaCa: { pems: [' '], source: '' } });
      assert.equal(none.ok, false);
      assert.match(
        none.checks.find((c) => c.status === 'fail')!.detail,
        /^not verified: no trust anchor of your own for the receipt CA and the TSA's CA\. The certificates inside the file/,
      );
      assert.ok(!none.checks.some((c) => c.item.startsWith('receipt ')), 'nothing is checked against the certificates inside');
      // one anchor given: the other is named
      const half = await evidenceCommand(['verify', forgedFile, '--ca', caFile], { DATA_DIR: bare });
      assert.equal(half.code, 1);
      assert.match(half.stderr, /no trust anchor of your own for the timestamps\. Give\n {2}--tsa-ca FILE/);
      assert.doesNotMatch(half.stderr, /--ca FILE/);

      // Against the real anchors: broken, and the file's certificates are not those anchors.
      const real = await evidenceCommand(['verify', forgedFile, '--ca', caFile, '--tsa-ca', tsa.caFile]);
      assert.equal(real.code, 1, real.stdout);
      assert.match(real.stdout, new RegExp(`FAIL {2}receipt ${receiptId}: .*does not chain to a trusted CA`));
      assert.match(real.stdout, new RegExp(`FAIL {2}receipt ${receiptId} timestamp: .*does not chain to a trusted CA`));
      assert.match(real.stdout, new RegExp(`FAIL {2}audit anchor seq ${anchoredSeq}: .*does not chain to a trusted CA`));
      assert.match(real.stdout, /note {2}file certs\/receipt-ca\.pem: NOT among the trust anchors \S+ \(--ca\)/);
      assert.match(real.stdout, /note {2}file certs\/tsa-ca\.pem: NOT among the trust anchors \S+ \(--tsa-ca\)/);
      assert.match(real.stdout, new RegExp(`${BROKEN}`));
      // and so does the README's recipe with the real anchors
      const out = join(dir, 'forged-unpacked');
      for (const [name, bytes] of Object.entries(f)) {
        mkdirSync(dirname(join(out, name)), { recursive: true });
        writeFileSync(join(out, name), bytes);
      }
      const script = recipe(readFileSync(join(out, 'README.txt'), 'utf8'));
      const run = spawnSync('bash', ['-c', script], {
        cwd: out,
        encoding: 'utf8',
        env: { ...process.env, RECEIPT_CA: caFile, TSA_CA: tsa.caFile },
      });
      assert.doesNotMatch(run.stdout + run.stderr, /CMS Verification successful|^Verification: OK$/m);
      // ... while the genuine file verifies against them (the first test) and its certificates are those anchors
      const genuine = await evidenceCommand(['verify', zipFile, '--ca', caFile, '--tsa-ca', tsa.caFile]);
      assert.equal(genuine.code, 0, genuine.stdout);
    } finally {
      await forger.close();
      rmSync(fdir, { recursive: true, force: true });
    }
  });

  test('issue 15: verify names each kind of tampering', async () => {
    const original = unzip(readFileSync(zipFile));
    const copy = (): Files => Object.fromEntries(Object.entries(original).map(([k, v]) => [k, Uint8Array.from(v)]));
    const caseLine = lines(original).find((l) => (JSON.parse(l.body) as { caseId: string }).caseId === caseId && l.seq < anchoredSeq)!;

    // an audit entry's details changed (the index re-digested, as a forger would)
    {
      const f = copy();
      writeLines(
        f,
        lines(f).map((l) => {
          if (l.seq !== caseLine.seq) return l;
          const body = JSON.parse(l.body) as { details: Record<string, unknown> };
          body.details = { ...body.details, forged: true };
          return { ...l, body: JSON.stringify(body) };
        }),
      );
      reindex(f, 'audit/entries.jsonl');
      const v = await verify(f, 'details');
      assert.equal(v.code, 1, v.stdout);
      assert.match(v.stdout, new RegExp(`${BROKEN}audit seq ${caseLine.seq}: the entry does not hash to its recorded hash`));
    }
    // the same change with every hash up to the anchored head recomputed and the head statement rewritten: the token catches it
    {
      const f = copy();
      let prev = '';
      const rewritten = lines(f).map((l) => {
        let body = l.body;
        if (l.seq === caseLine.seq) {
          const parsed = JSON.parse(body) as { details: Record<string, unknown> };
          body = canonicalJson({ ...parsed, details: { ...parsed.details, forged: true } });
        }
        const fields = JSON.parse(body) as Parameters<typeof auditHash>[1];
        const prevHash = l.seq === caseLine.seq ? l.prev_hash : prev || l.prev_hash;
        const hash = auditHash(prevHash, fields);
        prev = hash;
        return { ...l, body, prev_hash: prevHash, hash };
      });
      writeLines(f, rewritten);
      const head = rewritten.find((l) => l.seq === anchoredSeq)!;
      f[`audit/anchors/${anchoredSeq}.head`] = headStatement(anchoredSeq, head.hash);
      reindex(f, 'audit/entries.jsonl', `audit/anchors/${anchoredSeq}.head`);
      const v = await verify(f, 'rewrite');
      assert.equal(v.code, 1, v.stdout);
      assert.match(v.stdout, /ok {4}audit links/, 'the rewritten links themselves are consistent');
      assert.match(
        v.stdout,
        new RegExp(`${BROKEN}audit anchor seq ${anchoredSeq}: .*\\.tst does not verify over .*message imprint differs`),
      );
    }
    // a receipt body byte
    {
      const f = copy();
      const body = Buffer.from(f[`receipts/${receiptId}.json`]!);
      const at = body.indexOf('"service"') + 2;
      body[at] = body[at]! ^ 0x01;
      f[`receipts/${receiptId}.json`] = body;
      reindex(f, `receipts/${receiptId}.json`);
      const v = await verify(f, 'receipt');
      assert.equal(v.code, 1, v.stdout);
      assert.match(v.stdout, new RegExp(`${BROKEN}receipt ${receiptId}: .*content does not match the signature`));
    }
    // a byte of the receipt's timestamp and of the anchored head's token (the last byte: the TSA's signature value)
    for (const [path, item] of [
      [`receipts/${receiptId}.tsr`, `receipt ${receiptId} timestamp`],
      [`audit/anchors/${anchoredSeq}.tst`, `audit anchor seq ${anchoredSeq}`],
    ] as const) {
      const f = copy();
      const token = Buffer.from(f[path]!);
      token[token.length - 1] = token[token.length - 1]! ^ 0x01;
      f[path] = token;
      reindex(f, path);
      const v = await verify(f, 'token');
      assert.equal(v.code, 1, v.stdout);
      assert.match(v.stdout, new RegExp(`${BROKEN}${item}: .*signature value does not verify`), v.stdout);
    }
    // an index digest
    {
      const f = copy();
      const ix = JSON.parse(Buffer.from(f['evidence.json']!).toString()) as { files: { path: string; sha256: string }[] };
      ix.files.find((x) => x.path === 'documents.json')!.sha256 = 'ab'.repeat(32);
      f['evidence.json'] = Buffer.from(JSON.stringify(ix));
      const v = await verify(f, 'index');
      assert.equal(v.code, 1, v.stdout);
      assert.match(v.stdout, new RegExp(`${BROKEN}file documents\\.json: its SHA-256 [0-9a-f]{64} differs from the index's abab`));
    }
    // an unlisted file slipped in
    {
      const f = copy();
      f['receipts/extra.json'] = Buffer.from('{}');
      const v = await verify(f, 'extra');
      assert.equal(v.code, 1, v.stdout);
      assert.match(v.stdout, new RegExp(`${BROKEN}file receipts/extra\\.json: in the zip but not in the index`));
    }
    // not a zip at all
    writeFileSync(join(dir, 'junk.zip'), 'not a zip');
    const junk = await evidenceCommand(['verify', join(dir, 'junk.zip'), '--ca', caFile, '--tsa-ca', tsa.caFile]);
    assert.equal(junk.code, 1);
    assert.match(junk.stdout, /evidence BROKEN: zip: not a readable zip file/);
  });

  test('issue 15: the export depends only on what a retention purge keeps: documents and sealed fields gone, the same evidence', async () => {
    const before = unzip(readFileSync(zipFile));
    // what a purge removes: the documents' bytes and the sealed personal fields (the retention job does this for real)
    rmSync(join(g.dataDir, 'blobs'), { recursive: true, force: true });
    const db = g.gw.db.db;
    await db
      .updateTable('cases')
      .set({ manifest_enc: new Uint8Array(0), treating_clinicians: '' })
      .where('id', '=', caseId)
      .execute();
    await db.updateTable('documents').set({ title: null, blob_key: 'purged' }).where('case_id', '=', caseId).execute();
    await db.updateTable('case_events').set({ data: '{}' }).where('case_id', '=', caseId).execute();

    const again = join(dir, 'after-purge.zip');
    const r = await cli(['export', '--case', caseId, '--out', again]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const after = unzip(readFileSync(again));
    assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
    for (const name of Object.keys(before)) {
      if (name === 'evidence.json' || name === 'README.txt') continue; // they carry the instant of export
      assert.deepEqual(Buffer.from(after[name]!), Buffer.from(before[name]!), name);
    }
    const v = await evidenceCommand(['verify', again, '--ca', caFile, '--tsa-ca', tsa.caFile]);
    assert.equal(v.code, 0, v.stdout);
  });

  test('issue 15: an unknown case id is a clear error (exit 1); a missing --case a usage error (exit 2)', async () => {
    const out = join(dir, 'none.zip');
    const r = await cli(['export', '--case', '00000000-0000-4000-8000-000000000000', '--out', out]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'evidence: no case 00000000-0000-4000-8000-000000000000\n');
    assert.throws(() => readFileSync(out), /ENOENT/, 'no file is written');
    const u = await cli(['export', '--out', out]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /--case is required/);
  });
});
