/**
 * Issue 15, "the unauthenticated health port fsyncs on every /readyz" and "the
 * queue dashboard is writable":
 * - /readyz checks at most once a second: a burst shares one check;
 * - the health port listens on loopback unless HEALTH_HOST says otherwise;
 * - /metrics names no party (nor an agreement, which names its municipality);
 * - bull-board is read-only apart from retrying failed jobs, may not be framed,
 *   and no app announces Express (X-Powered-By).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { Queue, Worker } from 'bullmq';
import { REDIS_URL, dropQueueKeys, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { as, send } from '../helpers/staff.js';
import { waitFor } from '../helpers/wait.js';
import { cachedFor, createHealthApp } from '../../src/app.js';
import { createQueueDashboard } from '../../src/shared/queue-dashboard.js';
import { loadConfig } from '../../src/shared/config.js';
import type { Db } from '../../src/storage/db.js';
import type { BlobStore } from '../../src/storage/blobs.js';

async function listen(app: express.Express): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('issue 15: /readyz on the unauthenticated health port', () => {
  test('issue 15: a burst of 100 parallel /readyz does one check; shutting down answers at once', async () => {
    let pings = 0;
    let draining = false;
    // the check answers only once all 100 requests have arrived: the burst is simultaneous however loaded the machine
    let arrived = 0;
    let allArrived!: () => void;
    const burst = new Promise<void>((r) => (allArrived = r));
    const db = {
      ping: async () => {
        pings++;
        await burst;
      },
    } as unknown as Db;
    const blobs = { check: async () => undefined } as unknown as BlobStore;
    const outer = express();
    outer.disable('x-powered-by');
    outer.use((_req, _res, next) => {
      if (++arrived === 100) allArrived();
      next();
    });
    outer.use(createHealthApp({ db, blobs, draining: () => draining }));
    const server = await listen(outer);
    try {
      const answers = await Promise.all(Array.from({ length: 100 }, () => fetch(`${server.url}/readyz`)));
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
      assert.equal(pings, 1, 'one database check for the whole burst');
      assert.equal(answers[0]!.headers.get('x-powered-by'), null);
      draining = true;
      const down = await fetch(`${server.url}/readyz`);
      assert.equal(down.status, 503, 'shutdown is never hidden by the cache');
    } finally {
      await server.close();
    }
  });

  test('issue 15: cachedFor answers from the last result for ttl after it settles, then checks again', async () => {
    let t = 0;
    let calls = 0;
    const f = cachedFor(
      1000,
      async () => ++calls,
      () => t,
    );
    assert.deepEqual(await Promise.all([f(), f(), f()]), [1, 1, 1]);
    t = 999;
    assert.equal(await f(), 1);
    t = 1000;
    assert.equal(await f(), 2);
    assert.equal(calls, 2);
  });

  test('issue 15: HEALTH_HOST defaults to loopback and names itself when wrong', () => {
    assert.equal(loadConfig({}).HEALTH_HOST, '127.0.0.1');
    assert.equal(loadConfig({ HEALTH_HOST: '0.0.0.0' }).HEALTH_HOST, '0.0.0.0');
    assert.throws(() => loadConfig({ HEALTH_HOST: ' ' }), /HEALTH_HOST/);
  });
});

describe('issue 15: the queue dashboard is read-only apart from retrying failed jobs', () => {
  const prefix = `t-${randomBytes(6).toString('hex')}`;
  const connection = { url: REDIS_URL, maxRetriesPerRequest: null };
  let queue: Queue;
  let server: Awaited<ReturnType<typeof listen>>;
  let failedId: string;
  let waitingId: string;

  before(async () => {
    queue = new Queue('dash', { connection, prefix });
    const failed = await queue.add('boom', { n: 1 }, { attempts: 1 });
    const worker = new Worker(
      'dash',
      async () => {
        throw new Error('fails on purpose');
      },
      { connection, prefix },
    );
    await waitFor('the job to fail', async () => ((await failed.getState()) === 'failed' ? true : undefined));
    await worker.close();
    failedId = failed.id!;
    waitingId = (await queue.add('later', { n: 2 }, { delay: 60_000 })).id!;
    const app = express();
    app.disable('x-powered-by');
    app.use('/admin/queues', createQueueDashboard([queue]));
    app.use((err: { status?: number; type?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({ type: err.type });
    });
    server = await listen(app);
  });
  after(async () => {
    await server?.close();
    await queue?.close();
    await dropQueueKeys(prefix);
  });

  const put = (path: string) => fetch(`${server.url}/admin/queues/api/queues${path}`, { method: 'PUT' });

  test('issue 15: pause, resume, clean, empty, obliterate, promote, add and update are refused; nothing changes', async () => {
    for (const [method, path] of [
      ['PUT', '/pause'],
      ['PUT', '/dash/pause'],
      ['PUT', '/dash/resume'],
      ['PUT', '/dash/clean/failed'],
      ['PUT', '/dash/empty'],
      ['PUT', '/dash/obliterate'],
      ['PUT', '/dash/promote'],
      ['PUT', '/dash/concurrency'],
      ['PUT', '/dash/retry/completed'],
      ['PUT', `/dash/${waitingId}/promote`],
      ['PUT', `/dash/${failedId}/clean`],
      ['PUT', `/dash/${waitingId}/retry`],
      ['POST', '/dash/add'],
      ['PATCH', `/dash/${waitingId}/update-data`],
    ] as const) {
      const res = await fetch(`${server.url}/admin/queues/api/queues${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
    assert.equal(await queue.isPaused(), false);
    assert.equal(await (await queue.getJob(waitingId))!.getState(), 'delayed', 'not promoted');
    assert.equal(await (await queue.getJob(failedId))!.getState(), 'failed', 'not removed');
    assert.equal((await queue.getJobs(['wait', 'delayed', 'failed'])).length, 2, 'nothing added');
  });

  test('issue 15: retrying a failed job works; the dashboard may not be framed and names no framework', async () => {
    const page = await fetch(`${server.url}/admin/queues`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-security-policy'), "frame-ancestors 'none'");
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('x-powered-by'), null);
    const queues = await fetch(`${server.url}/admin/queues/api/queues`);
    assert.equal(queues.status, 200);
    assert.equal(queues.headers.get('x-powered-by'), null);
    const retry = await put(`/dash/${failedId}/retry`);
    assert.equal(retry.status, 204, await retry.text());
    assert.equal(await (await queue.getJob(failedId))!.getState(), 'waiting');
  });
});

describe('issue 15: the health port and /metrics of a running gateway', () => {
  let g: TestGateway;

  before(async () => {
    // HOST on every interface (as in production): the health port must still stay on loopback
    g = await startTestGateway({ dialect: 'sqlite', env: { HEALTH_PORT: '0', HOST: '0.0.0.0' } });
  });
  after(async () => {
    await g?.close();
  });

  test('issue 15: the health port listens on 127.0.0.1 by default, whatever HOST is', () => {
    assert.equal(g.gw.healthHost, '127.0.0.1');
  });

  test('issue 15: /metrics names no party and no agreement after traffic from every kind of party', async () => {
    const parties = (JSON.parse(readFileSync('config/parties.dev.json', 'utf8')) as { parties: { id: string }[] }).parties.map((p) => p.id);
    const agreements = (JSON.parse(readFileSync('config/agreements.json', 'utf8')) as { agreements: { id: string }[] }).agreements.map(
      (a) => a.id,
    );
    await send(g, 'kommune-101');
    for (const p of parties) await as(g, p).get('/v1/mailbox');
    await g.gw.routing.countUnassigned();
    const text = await (await fetch(`http://127.0.0.1:${g.gw.healthPort}/metrics`)).text();
    assert.match(text, /postkasse_party_certificate_expiry_min_days \d+/, 'what operators need stays, as an aggregate');
    assert.match(text, /postkasse_certificates_expiring_soon/);
    // a label value is quoted: `{party="kommune-101"}`
    for (const id of [...parties, ...agreements]) assert.ok(!text.includes(`"${id}"`), `/metrics names ${id}`);
  });

  test('issue 15: no X-Powered-By on the API, the health port or the queue dashboard; the dashboard refuses pause', async () => {
    const api = await as(g, 'kommune-101').get('/v1/mailbox');
    assert.equal(api.headers['x-powered-by'], undefined);
    const health = await fetch(`http://127.0.0.1:${g.gw.healthPort}/healthz`);
    assert.equal(health.headers.get('x-powered-by'), null);
    const board = await as(g, 'lead-1').get('/admin/queues');
    assert.equal(board.status, 200);
    assert.equal(board.headers['x-powered-by'], undefined);
    assert.equal(board.headers['content-security-policy'], "frame-ancestors 'none'");
    const name = g.gw.routingQueue!.queue.name;
    const lead = g.creds('lead-1');
    const pause = await request(g.url).put(`/admin/queues/api/queues/${name}/pause`).ca(g.ca).cert(lead.cert).key(lead.key);
    assert.equal(pause.status, 403);
    assert.equal(pause.body.type, 'https://postkasse.dk/problems/queue-dashboard-read-only');
    assert.equal(await g.gw.routingQueue!.queue.isPaused(), false);
  });
});
