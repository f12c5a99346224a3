/**
 * Issue 6: caps on uploads in flight (per party and in total), a per-party
 * rate limit, and server timeouts that cut off a client that goes silent.
 * Each refusal is a problem+json with Retry-After, before the body is read,
 * and leaves nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { ClientRequest } from 'node:http';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage, residue, tempFilesGone, uploadTempFiles } from '../helpers/packages.js';
import { waitFor } from '../helpers/wait.js';
import { createMultipart } from '../../src/cli/multipart.js';

/**
 * Starts an upload that sends its headers and the first bytes, then holds
 * (a client gone silent mid-body; it never sends more). `storing` waits
 * until the server has taken n uploads in and is storing them.
 */
function slowUpload(g: TestGateway, party: string): { req: ClientRequest; closed: Promise<{ status?: number; error?: string }> } {
  const mp = createMultipart([
    { name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: Buffer.from(JSON.stringify(manifest())) },
    { name: 'plan', filename: 'plan.pdf', contentType: 'application/pdf', body: Buffer.concat([pdf('slow'), Buffer.alloc(200_000, 1)]) },
  ]);
  const c = g.creds(party);
  const u = new URL(g.url);
  const req = https.request({
    host: u.hostname,
    port: u.port,
    path: '/v1/packages',
    method: 'POST',
    ca: g.ca,
    cert: c.cert,
    key: c.key,
    agent: false,
    headers: { 'content-type': mp.contentType, 'content-length': mp.length },
  });
  const closed = new Promise<{ status?: number; error?: string }>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.on('close', () => resolve({}));
  });
  // the manifest and the first bytes of the document, then nothing
  const chunks: Buffer[] = [];
  const s = mp.stream();
  let sent = 0;
  s.on('data', (d: Buffer) => {
    if (sent < 4096) {
      const part = d.subarray(0, 4096 - sent);
      sent += part.length;
      chunks.push(part);
      req.write(part);
    }
    if (sent >= 4096) s.pause();
  });
  return { req, closed };
}

/** Waits until the gateway is storing `n` uploads (each has its temp file), i.e. they hold their admission slots. */
const storing = (g: TestGateway, n: number) =>
  waitFor(`the gateway to be storing ${n} uploads`, () => {
    const files = uploadTempFiles(g);
    return files.length >= n ? files : undefined;
  });

const upload = (g: TestGateway, party: string) =>
  postPackage(g, party, manifest(), [{ name: 'plan', body: pdf('p'), contentType: 'application/pdf', filename: 'plan.pdf' }]);

describe('admission control', () => {
  let g: TestGateway;
  before(async () => {
    g = await startTestGateway({
      dialect: 'sqlite',
      env: { MAX_CONCURRENT_UPLOADS: '3', MAX_CONCURRENT_UPLOADS_PER_PARTY: '2', RATE_LIMIT_PER_MINUTE: '0', IDLE_TIMEOUT_MS: '1500' },
    });
  });
  after(async () => {
    await g?.close();
  });

  test('per party: a third upload at once from the same sender is 429 with Retry-After; another sender still gets through', async () => {
    const a = slowUpload(g, 'kommune-101');
    const b = slowUpload(g, 'kommune-101');
    await storing(g, 2);
    const refused = await upload(g, 'kommune-101');
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.headers['content-type'] ?? '', /problem\+json/);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    assert.equal(refused.body.type, 'https://postkasse.dk/problems/too-many-concurrent-uploads');
    const other = await upload(g, 'kommune-147');
    assert.equal(other.status, 201, other.text);
    a.req.destroy();
    b.req.destroy();
    await Promise.all([a.closed, b.closed]);
    await tempFilesGone(g, 'the gateway to drop the two cut-off uploads');
    assert.equal((await upload(g, 'kommune-101')).status, 201, 'slots are released when uploads end');
  });

  test('in total: with the gateway full, the next upload is 503 busy with Retry-After', async () => {
    const held = [slowUpload(g, 'kommune-101'), slowUpload(g, 'kommune-101'), slowUpload(g, 'kommune-147')];
    await storing(g, 3);
    const refused = await upload(g, 'spe');
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.type, 'https://postkasse.dk/problems/busy');
    assert.ok(refused.headers['retry-after']);
    for (const h of held) h.req.destroy();
    await Promise.all(held.map((h) => h.closed));
  });

  test('a client that goes silent mid-body is cut off by the idle timeout, and nothing of it is kept', async () => {
    await tempFilesGone(g, 'the uploads cut off in the tests above to be removed');
    const before = await residue(g);
    const started = Date.now();
    const silent = slowUpload(g, 'kommune-147');
    const r = await silent.closed;
    const took = Date.now() - started;
    assert.ok(took < 10_000, `closed after ${took} ms`);
    assert.ok(r.status === undefined || r.status >= 400, `no receipt (${JSON.stringify(r)})`);
    await tempFilesGone(g, 'the silent upload’s temp file to be removed');
    assert.deepEqual(await residue(g), before);
    assert.equal((await upload(g, 'kommune-147')).status, 201, 'the gateway stays healthy');
  });
});

describe('per-party rate limit', () => {
  let g: TestGateway;
  before(async () => {
    g = await startTestGateway({ dialect: 'sqlite', env: { RATE_LIMIT_PER_MINUTE: '3' } });
  });
  after(async () => {
    await g?.close();
  });

  test('over the limit a sender gets 429 rate-limited with Retry-After; other senders are not affected', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await upload(g, 'kommune-101')).status, 201);
    const refused = await upload(g, 'kommune-101');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.type, 'https://postkasse.dk/problems/rate-limited');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await upload(g, 'kommune-147')).status, 201);
  });
});
