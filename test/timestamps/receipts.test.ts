/**
 * Issue 15, trusted time on receipts, against one real gateway (PostgreSQL, mTLS) whose TSA is an
 * independent one: `openssl ts -reply` behind test/helpers/tsa.ts. Proves: a receipt is stamped after
 * it commits (CAdES-T: the token as unsigned attribute), the stamped receipt still passes the documented
 * `openssl cms -verify`, `openssl ts -verify` accepts the served TimeStampResp against the signature value,
 * the embedded token is the served one; and fail closed: with the TSA down and a short TSA_MAX_GAP_MINUTES,
 * /readyz shows the gap before intake answers 503 naming the reason, and intake resumes once the TSA is back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { waitFor } from '../helpers/wait.js';
import { startOpensslTsa, type OpensslTsa } from '../helpers/tsa.js';
import { signatureTimestampOf, signatureValue } from '../../src/receipts/cms.js';
import { parseResponse } from '../../src/timestamps/rfc3161.js';

const PARTY = 'kommune-101';
const GAP_SECONDS = 4;

describe('issue 15: RFC 3161 timestamps on receipts, fail closed', () => {
  let g: TestGateway;
  let tsa: OpensslTsa;
  let dir: string;
  before(async () => {
    tsa = await startOpensslTsa();
    dir = mkdtempSync(join(tmpdir(), 'postkasse-ts-it-'));
    g = await startTestGateway({
      dialect: 'postgres',
      env: {
        HEALTH_PORT: '0',
        TSA_URLS: tsa.url,
        TSA_CA_FILE: tsa.caFile,
        TSA_MAX_GAP_MINUTES: String(GAP_SECONDS / 60),
        TSA_RETRY_MAX_SECONDS: '1',
      },
    });
  });
  after(async () => {
    await g?.close();
    await tsa?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const send = () =>
    postPackage(g, PARTY, manifest(), [{ name: 'plan', body: pdf(), contentType: 'application/pdf', filename: 'plan.pdf' }]);
  const as = (path: string) => {
    const c = g.creds(PARTY);
    return request(g.url).get(path).ca(g.ca).cert(c.cert).key(c.key).buffer(true);
  };
  const binary = (res: request.Response) => Buffer.from(res.body as Buffer);
  const getTimestamp = (id: string) =>
    as(`/v1/receipts/${id}/timestamp`).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
  const readyz = async () => {
    const res = await request(`http://127.0.0.1:${g.gw.healthPort}`).get('/readyz');
    const check = (res.body as { checks: { name: string; ok: boolean; detail: Record<string, unknown> }[] }).checks.find(
      (c) => c.name === 'timestamps',
    )!;
    return { status: res.status, check };
  };
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

  test('issue 15: a receipt is stamped after it commits; the stamped CMS (CAdES-T) passes openssl cms -verify, openssl ts -verify passes', async () => {
    const res = await send();
    assert.equal(res.status, 201, res.text);
    const receiptId = res.headers['receipt-id']!;
    const heldSignature = Buffer.from(res.headers['receipt-signature']!, 'base64');
    assert.equal(signatureTimestampOf(heldSignature), null, 'the answer to the POST is not delayed by the TSA');

    const stamped = await waitFor('the stamped receipt', async () => {
      const r = await as(`/v1/receipts/${receiptId}`);
      return r.headers['receipt-timestamp'] === 'present' ? r : null;
    });
    assert.deepEqual(Buffer.from(stamped.text), Buffer.from(res.text), 'the receipt bytes are unchanged');
    const sig = Buffer.from(stamped.headers['receipt-signature']!, 'base64');
    assert.deepEqual(signatureValue(sig), signatureValue(heldSignature), 'the signature value is unchanged');
    writeFileSync(join(dir, 'receipt.json'), stamped.text);
    writeFileSync(join(dir, 'receipt.sig.der'), sig);
    writeFileSync(join(dir, 'held.sig.der'), heldSignature);
    writeFileSync(join(dir, 'ca.pem'), g.ca);
    // exactly the command docs/municipalities.md gives, on the stamped and on the held signature
    for (const f of ['receipt.sig.der', 'held.sig.der']) {
      execFileSync(
        'openssl',
        ['cms', '-verify', '-binary', '-inform', 'DER', '-in', f, '-content', 'receipt.json', '-CAfile', 'ca.pem', '-out', '/dev/null'],
        {
          cwd: dir,
          stdio: 'pipe',
        },
      );
    }
    assert.match(openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'receipt.sig.der']), /id-smime-aa-timeStampToken/);

    const ts = await getTimestamp(receiptId);
    assert.equal(ts.status, 200);
    assert.match(ts.headers['content-type'] ?? '', /^application\/timestamp-reply/);
    const resp = binary(ts);
    writeFileSync(join(dir, 'resp.tsr'), resp);
    const digest = createHash('sha256').update(signatureValue(heldSignature)).digest('hex');
    assert.match(openssl(['ts', '-verify', '-digest', digest, '-in', 'resp.tsr', '-CAfile', tsa.caFile]), /Verification: OK/);
    // a TimeStampResp over anything else does not verify
    assert.throws(() => openssl(['ts', '-verify', '-digest', 'ab'.repeat(32), '-in', 'resp.tsr', '-CAfile', tsa.caFile]));
    // the token in the CMS is the served one (openssl extracts it from the response)
    openssl(['ts', '-reply', '-in', 'resp.tsr', '-token_out', '-out', 'token.der']);
    assert.deepEqual(signatureTimestampOf(sig), readFileSync(join(dir, 'token.der')));
    assert.deepEqual(parseResponse(resp).token, signatureTimestampOf(sig));

    // another party does not see it
    const other = g.creds('kommune-147');
    const foreign = await request(g.url).get(`/v1/receipts/${receiptId}/timestamp`).ca(g.ca).cert(other.cert).key(other.key);
    assert.equal(foreign.status, 404);
  });

  test('issue 15 fail closed: TSA down → /readyz shows the gap first, then intake 503 naming the reason; intake resumes when the TSA is back', async () => {
    await tsa.down();
    const waiting = await send();
    assert.equal(waiting.status, 201, 'a receipt is given while the gap is short');
    const receiptId = waiting.headers['receipt-id']!;

    // not stamped yet: 404 problem with a clear detail, the receipt served with its signature as first given
    const pending = await as(`/v1/receipts/${receiptId}/timestamp`);
    assert.equal(pending.status, 404);
    assert.match(pending.headers['content-type'] ?? '', /application\/problem\+json/);
    assert.equal(pending.body.type, 'https://postkasse.dk/problems/timestamp-pending');
    assert.match(pending.body.detail, /no timestamp yet/);
    assert.equal((await as(`/v1/receipts/${receiptId}`)).headers['receipt-timestamp'], 'pending');

    // /readyz shows the gap while intake still takes packages
    const early = await waitFor('the gap on /readyz', async () => {
      const r = await readyz();
      return r.check.detail.waiting === 1 ? r : null;
    });
    assert.equal(early.status, 200);
    assert.equal(early.check.ok, true);
    assert.match(String(early.check.detail.status), /^(waiting|lagging)$/);
    assert.equal(early.check.detail.maxGapSeconds, GAP_SECONDS);

    const refused = await waitFor(
      'intake to refuse',
      async () => {
        const r = await send();
        return r.status === 503 ? r : null;
      },
      { timeoutMs: 15_000, everyMs: 250 },
    );
    assert.match(refused.headers['content-type'] ?? '', /application\/problem\+json/);
    assert.equal(refused.body.type, 'https://postkasse.dk/problems/timestamps-unavailable');
    assert.match(refused.body.detail, /time-stamping authority \(TSA\) does not answer/);
    assert.match(refused.body.detail, /cannot be anchored/);
    assert.ok(refused.headers['retry-after']);

    const late = await waitFor('readyz to fail', async () => {
      const r = await readyz();
      return r.status === 503 ? r : null;
    });
    assert.equal(late.check.ok, false);
    assert.equal(late.check.detail.status, 'failing-closed');
    assert.ok(Number(late.check.detail.gapSeconds) >= GAP_SECONDS);
    const metrics = await request(`http://127.0.0.1:${g.gw.healthPort}`).get('/metrics');
    const gauge = /^postkasse_tsa_unstamped_oldest_seconds (\S+)$/m.exec(metrics.text);
    assert.ok(gauge && Number(gauge[1]) >= GAP_SECONDS, metrics.text.slice(0, 200));

    await tsa.up();
    await waitFor(
      'the waiting receipt to be stamped',
      async () => (await as(`/v1/receipts/${receiptId}`)).headers['receipt-timestamp'] === 'present',
      { timeoutMs: 15_000, everyMs: 100 },
    );
    const resumed = await waitFor('intake to resume', async () => {
      const r = await send();
      return r.status === 201 ? r : null;
    });
    assert.equal(resumed.status, 201);
    // /readyz answers from a check at most a second old (the health port does not fsync per request)
    await waitFor('readyz to be ready again', async () => ((await readyz()).check.ok ? true : null), { timeoutMs: 3_000, everyMs: 200 });
  });
});
