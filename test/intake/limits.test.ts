/**
 * Issue 6: caps on uploads in flight (per party and in total), a per-party
 * rate limit, and server timeouts that cut off a client that goes silent.
 * Each refusal is a problem+json with Retry-After, before the body is read,
 * and leaves nothing behind. Issue 16: with several instances, a sender's
 * limits hold across them (Redis).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { ClientRequest } from 'node:http';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { REDIS_URL, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createAdmission } from '../../src/intake/admission.js';
import { createLogger } from '../../src/shared/logger.js';
import type { Problem } from '../../src/shared/problem.js';
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

describe('issue 16: two instances enforce one budget per sender (Redis)', () => {
  let dir: string;
  let a: TestGateway;
  let b: TestGateway;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const queuePrefix = `t-${randomBytes(6).toString('hex')}`;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-limits2-'));
    const env = { QUEUE_PREFIX: queuePrefix, RATE_LIMIT_PER_MINUTE: '4', MAX_CONCURRENT_UPLOADS_PER_PARTY: '2', IDLE_TIMEOUT_MS: '20000' };
    a = await startTestGateway({ dialect: 'postgres', schema, dataDir: join(dir, 'data'), env });
    b = await startTestGateway({ dialect: 'postgres', schema, dataDir: join(dir, 'data'), env });
  });
  after(async () => {
    await b?.gw.close();
    await a?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the rate: 4 a minute in all, however the uploads are spread over the instances', async () => {
    for (const g of [a, b, a, b]) assert.equal((await upload(g, 'kommune-147')).status, 201);
    const refused = await upload(a, 'kommune-147');
    assert.equal(refused.status, 429, 'each instance saw only 2, but the sender has had its 4');
    assert.equal(refused.body.type, 'https://postkasse.dk/problems/rate-limited');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await upload(b, 'kommune-101')).status, 201, 'another sender has a budget of its own');
  });

  test('uploads in flight: 2 at a time per sender across the instances; a slot comes back when an upload ends', async () => {
    const first = slowUpload(a, 'kommune-101');
    const second = slowUpload(b, 'kommune-101');
    await storing(a, 2); // one DATA_DIR: both instances' temp files
    const refused = await upload(b, 'kommune-101');
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.body.type, 'https://postkasse.dk/problems/too-many-concurrent-uploads');
    first.req.destroy();
    await first.closed;
    await waitFor('the slot to come back', async () => ((await upload(b, 'kommune-101')).status === 201 ? true : undefined));
    second.req.destroy();
    await second.closed;
  });
});

test('issue 16: a lease of an upload whose instance died expires; Redis not answering leaves the instance its own limits', async () => {
  const redis = new Redis(REDIS_URL);
  const prefix = `t-${randomBytes(6).toString('hex')}`;
  const log = createLogger({ level: 'silent' });
  let t = 1_000_000;
  const shared = { redis, prefix, leaseMs: 60_000, log };
  // a dead instance: its upload never ends, so its lease is never returned
  const dead = createAdmission({ maxConcurrent: 10, maxConcurrentPerParty: 1, ratePerMinute: 0 }, { shared, now: () => t });
  const live = createAdmission({ maxConcurrent: 10, maxConcurrentPerParty: 1, ratePerMinute: 0 }, { shared, now: () => t });
  const admit = (adm: typeof dead) =>
    new Promise<unknown>((resolve) => {
      const res = new EventEmitter();
      adm.middleware({ party: { id: 'kommune-101' } } as never, res as never, (err?: unknown) => resolve(err));
    });
  try {
    assert.equal(await admit(dead), undefined);
    assert.equal(((await admit(live)) as Problem).status, 429, 'the dead instance still holds the slot');
    t += 61_000;
    assert.equal(await admit(live), undefined, 'after leaseMs the slot is free again');
  } finally {
    for (const k of await redis.keys(`${prefix}:*`)) await redis.del(k);
    redis.disconnect();
  }
  // no Redis: the instance counts by itself (1 at a time here) and answers at once
  const gone = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  const alone = createAdmission({ maxConcurrent: 10, maxConcurrentPerParty: 1, ratePerMinute: 5 }, { shared: { ...shared, redis: gone } });
  const res = new EventEmitter();
  const first = await new Promise<unknown>((resolve) => alone.middleware({ party: { id: 'x' } } as never, res as never, resolve));
  assert.equal(first, undefined);
  const second = await new Promise<unknown>((resolve) =>
    alone.middleware({ party: { id: 'x' } } as never, new EventEmitter() as never, resolve),
  );
  assert.equal((second as Problem).status, 429);
  res.emit('finish');
  gone.disconnect();
});
