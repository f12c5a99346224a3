/**
 * Issue 6: lost services. PostgreSQL gone: intake answers 503 problem+json
 * and receipts nothing; /readyz names the database; the gateway recovers by
 * itself. Redis gone: intake still receipts (the outbox holds the work), and
 * routing catches up when Redis returns. Each dependency sits behind a TCP
 * proxy the test takes down, so the shared servers keep running.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { PG_URL, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage, residue } from '../helpers/packages.js';
import { caseRow } from '../helpers/staff.js';
import { stayFor, waitFor } from '../helpers/wait.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';

const post = (g: TestGateway) =>
  postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: pdf('dep'), contentType: 'application/pdf', filename: 'plan.pdf' }]);
const readyz = (g: TestGateway) => request(g.url).get('/readyz').ca(g.ca).cert(g.creds('kommune-101').cert).key(g.creds('kommune-101').key);

describe('PostgreSQL goes away and comes back', () => {
  let proxy: Proxy;
  let g: TestGateway;
  before(async () => {
    proxy = await startProxy(Number(new URL(PG_URL).port || 5432));
    const url = new URL(PG_URL);
    url.port = String(proxy.port);
    g = await startTestGateway({ dialect: 'postgres', env: { DATABASE_URL: url.toString() } });
  });
  after(async () => {
    proxy.up();
    await g?.close();
    await proxy?.close();
  });

  test('503 problem+json and nothing receipted while it is gone; /readyz says database; recovery without a restart', async () => {
    assert.equal((await post(g)).status, 201);
    proxy.down();
    const down = await post(g);
    assert.equal(down.status, 503, down.text);
    assert.match(down.headers['content-type'] ?? '', /problem\+json/);
    const ready = await readyz(g);
    assert.equal(ready.status, 503);
    const db = ready.body.checks.find((c: { name: string }) => c.name === 'database');
    assert.equal(db.ok, false);
    assert.ok(
      ready.body.checks.some((c: { name: string; ok: boolean }) => c.name !== 'database' && c.ok),
      'the other dependencies are reported too',
    );
    proxy.up();
    const back = await waitFor(
      'intake to work again',
      async () => {
        const r = await post(g);
        return r.status === 201 ? r : undefined;
      },
      { timeoutMs: 20_000, everyMs: 250 },
    );
    assert.equal(back.status, 201);
    // /readyz answers from a check at most one second old (issue 15: the health port does not fsync per request).
    await waitFor('/readyz to report ready again', async () => ((await readyz(g)).status === 200 ? true : undefined), {
      timeoutMs: 3_000,
      everyMs: 200,
    });
    // The refused package left nothing: one case per receipt given.
    const r = await residue(g);
    assert.equal(r.cases, r.receipts);
    assert.equal(r.blobs, r.documents);
  });
});

describe('Redis goes away during intake and comes back', () => {
  let proxy: Proxy;
  let g: TestGateway;
  before(async () => {
    proxy = await startProxy(6379);
    g = await startTestGateway({ dialect: 'sqlite', env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, ROUTING_FAST_PATH: 'off' } });
  });
  after(async () => {
    proxy.up();
    await g?.close();
    await proxy?.close();
  });

  test('intake still receipts (the outbox keeps the routing work); routing catches up when Redis returns', async () => {
    proxy.down();
    const res = await post(g);
    assert.equal(res.status, 201, res.text);
    const { caseId } = JSON.parse(res.text) as { caseId: string };
    const ready = await readyz(g);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.find((c: { name: string }) => c.name === 'redis').ok, false);
    // The relay was kicked by the commit; with Redis away it cannot move the routing work out of the outbox.
    const outboxRows = async () => (await g.gw.db.db.selectFrom('outbox').select('id').execute()).length;
    await stayFor('routing (or an emptied outbox) while Redis is away', 500, {
      happened: async () => (await caseRow(g, caseId)).assigned_to ?? ((await outboxRows()) === 0 && 'outbox emptied'),
    });
    assert.equal((await caseRow(g, caseId)).assigned_to, null, 'not routed while Redis is away');
    assert.ok((await outboxRows()) > 0, 'the routing work waits in the outbox');
    proxy.up();
    const row = await waitFor(
      'routing to catch up',
      async () => {
        const r = await caseRow(g, caseId);
        return r.assigned_to ? r : undefined;
      },
      { timeoutMs: 30_000, everyMs: 250 },
    );
    assert.equal(row.state, 'assigned');
    // /readyz answers from a check at most one second old (issue 15)
    await waitFor('/readyz to report ready again', async () => ((await readyz(g)).status === 200 ? true : undefined), {
      timeoutMs: 3_000,
      everyMs: 200,
    });
  });
});
