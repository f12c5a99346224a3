/**
 * Transport and identity (API.md "Transport and identity"), durability
 * failures, disconnects, graceful shutdown and the OpenAPI contract, against a
 * real mTLS gateway.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { issueCert, manifest, pdf, postPackage, residue, selfSignedCa, uploadTempFiles } from '../helpers/packages.js';
import { stayFor, waitFor } from '../helpers/wait.js';
import { createMultipart } from '../../src/cli/multipart.js';

describe('transport, identity and durability', () => {
  let g: TestGateway;
  before(async () => {
    g = await startTestGateway({ dialect: 'sqlite', env: { HEALTH_PORT: '0' } });
  });
  after(async () => {
    await g?.close();
  });

  test('no client certificate → 401 problem+json, nothing kept', async () => {
    const before = await residue(g);
    const res = await request(g.url)
      .post('/v1/packages')
      .ca(g.ca)
      .attach('manifest', Buffer.from(JSON.stringify(manifest())), 'm.json');
    assert.equal(res.status, 401);
    assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/);
    assert.deepEqual(await residue(g), before);
  });

  test('a certificate from another CA → 401, nothing kept', async () => {
    const evil = selfSignedCa();
    const c = issueCert(evil.cert, evil.key, 'UI:DK-O:G:00000000-0000-4000-8000-000000000101');
    const before = await residue(g);
    const res = await request(g.url)
      .post('/v1/packages')
      .ca(g.ca)
      .cert(c.cert)
      .key(c.key)
      .attach('manifest', Buffer.from(JSON.stringify(manifest())), { filename: 'm.json', contentType: 'application/json' })
      .attach('plan', pdf(), { filename: 'plan.pdf', contentType: 'application/pdf' });
    assert.equal(res.status, 401);
    assert.match(JSON.parse(res.text).detail, /not trusted/);
    assert.deepEqual(await residue(g), before);
  });

  test('a verified certificate of no party → 403, nothing kept', async () => {
    const pki = g.gw.tls.devPki!;
    const c = issueCert(
      readFileSync(pki.caCert, 'utf8'),
      readFileSync(pki.caKey, 'utf8'),
      'UI:DK-O:G:99999999-9999-4999-8999-999999999999',
    );
    const before = await residue(g);
    const res = await request(g.url)
      .post('/v1/packages')
      .ca(g.ca)
      .cert(c.cert)
      .key(c.key)
      .attach('manifest', Buffer.from(JSON.stringify(manifest())), { filename: 'm.json', contentType: 'application/json' })
      .attach('plan', pdf(), { filename: 'plan.pdf', contentType: 'application/pdf' });
    assert.equal(res.status, 403);
    assert.match(JSON.parse(res.text).type, /unknown-party/);
    assert.deepEqual(await residue(g), before);
    // health needs a verified certificate but no party role
    const h = await request(g.url).get('/healthz').ca(g.ca).cert(c.cert).key(c.key);
    assert.equal(h.status, 200);
    const ready = await request(g.url).get('/readyz').ca(g.ca).cert(c.cert).key(c.key);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks.map((x: { name: string }) => x.name).sort(), ['blob-store', 'database', 'redis', 'timestamps']);
  });

  test('/healthz and /readyz on the plain HEALTH_PORT need no certificate; /v1 is not served there', async () => {
    const base = `http://127.0.0.1:${g.gw.healthPort}`;
    assert.equal((await request(base).get('/healthz')).status, 200);
    const r = await request(base).get('/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ready');
    assert.equal((await request(base).post('/v1/packages')).status, 404);
  });

  test('responses match the served OpenAPI schemas (receipt, problem, case)', async () => {
    const c = g.creds('kommune-101');
    const doc = (await request(g.url).get('/openapi.json').ca(g.ca).cert(c.cert).key(c.key)).body;
    const schema = (name: string) => z.fromJSONSchema(doc.components.schemas[name]);
    const res = await postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: pdf() }]);
    assert.equal(res.status, 201);
    const receipt = JSON.parse(res.text);
    schema('Receipt').parse(receipt);
    // a strict schema: an unknown field would be refused
    assert.throws(() => schema('Receipt').parse({ ...receipt, extra: 1 }));
    const bad = await postPackage(g, 'kommune-101', manifest({ service: 'x' }), [{ name: 'plan', body: pdf() }]);
    schema('Problem').parse(JSON.parse(bad.text));
    const view = await request(g.url).get(`/v1/cases/${receipt.caseId}`).ca(g.ca).cert(c.cert).key(c.key);
    schema('Case').parse(view.body);
    // the manifest schema in the document is the one that validates requests
    schema('Manifest').parse(manifest());
    assert.throws(() => schema('Manifest').parse(manifest({ service: 'x' })));
  });

  test('a client that disconnects mid-upload leaves no file and no row', async () => {
    const before = await residue(g);
    const c = g.creds('kommune-101');
    const m = manifest();
    const mp = createMultipart([
      { name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: Buffer.from(JSON.stringify(m)) },
      { name: 'plan', filename: 'plan.pdf', contentType: 'application/pdf', body: Buffer.concat([pdf(), Buffer.alloc(3_000_000, 0x20)]) },
    ]);
    await new Promise<void>((resolve, reject) => {
      const req = https.request(`${g.url}/v1/packages`, {
        method: 'POST',
        ca: g.ca,
        cert: c.cert,
        key: c.key,
        headers: { 'content-type': mp.contentType, 'content-length': mp.length },
      });
      req.on('error', () => resolve());
      req.on('response', () => resolve());
      let sent = 0;
      const s = mp.stream();
      s.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        req.write(chunk);
        if (sent > 1_000_000) {
          s.destroy();
          // disconnect once the server is storing the document: mid-upload
          waitFor('the server to be storing the upload', () => uploadTempFiles(g).length > 0).then(() => req.destroy(), reject);
        }
      });
    });
    // the server notices and cleans up
    await waitFor('the server to remove what the cut-off upload stored', async () => {
      const r = await residue(g);
      return r.blobs === before.blobs ? r : undefined;
    });
    assert.deepEqual(await residue(g), before);
    assert.deepEqual(readdirSync(join(g.dataDir, 'blobs', 'tmp')), [], 'no temp file remains');
  });

  test('a failing commit answers 503 problem+json: nothing receipted, blobs removed', async () => {
    const db = g.gw.db.db;
    const before = await residue(g);
    await db.schema.alterTable('receipts').renameTo('receipts_away').execute();
    try {
      const res = await postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: pdf() }]);
      assert.equal(res.status, 503, res.text);
      assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/);
      assert.ok(res.headers['retry-after']);
    } finally {
      await db.schema.alterTable('receipts_away').renameTo('receipts').execute();
    }
    assert.deepEqual(await residue(g), before, 'the transaction rolled back and the blobs are gone');
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM-style close lets an in-flight upload finish, then refuses new connections', async () => {
    const g = await startTestGateway({ dialect: 'sqlite' });
    const c = g.creds('kommune-101');
    const mp = createMultipart([
      { name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: Buffer.from(JSON.stringify(manifest())) },
      { name: 'plan', filename: 'plan.pdf', contentType: 'application/pdf', body: Buffer.concat([pdf(), Buffer.alloc(2_000_000, 0x20)]) },
    ]);
    const chunks: Buffer[] = [];
    for await (const ch of mp.stream()) chunks.push(ch as Buffer);
    const body = Buffer.concat(chunks);
    let closed = false;
    const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = https.request(`${g.url}/v1/packages`, {
        method: 'POST',
        ca: g.ca,
        cert: c.cert,
        key: c.key,
        headers: { 'content-type': mp.contentType, 'content-length': body.length },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.write(body.subarray(0, 500_000));
      // close() once the upload is in flight (the server is storing it), and finish the body only after close()
      // has started and has had a moment in which it must not resolve or cut the upload off
      waitFor('the server to be storing the upload', () => uploadTempFiles(g).length > 0)
        .then(() => {
          void g.gw.close().then(() => {
            closed = true;
          });
          return waitFor('close() to start', () => g.logs.some((l) => l.includes('shutting down: no new connections')));
        })
        .then(() => stayFor('close() resolving while an upload is in flight', 300, { happened: () => closed }))
        .then(() => req.end(body.subarray(500_000)), reject);
    });
    const r = await response;
    assert.equal(r.status, 201, r.text);
    // new connections are refused once the server is closing
    await assert.rejects(request(g.url).get('/healthz').ca(g.ca).cert(c.cert).key(c.key));
    await waitFor('close() to resolve after the in-flight request', () => closed, { timeoutMs: 5_000 });
    await g.close();
  });
});
