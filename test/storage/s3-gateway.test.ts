/**
 * Issue 16, "a coordinator served by instance B cannot read a package that
 * instance A received": two gateway instances with separate DATA_DIRs share
 * PostgreSQL (one schema), Redis (one queue prefix), the storage master key
 * and an S3-compatible store (s3rver on loopback, BLOB_STORE=s3). A package
 * received by A is read through B; a response sent through B is delivered,
 * and its message read from the mailbox through A; the objects in the bucket
 * are ciphertext, and the orphan sweep removes only what no row references.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { as, ATTEST, holdConsultation, respond, settled, writeRoutingParties } from '../helpers/staff.js';
import { S3_REGION, startTestS3, useS3Credentials, type TestS3 } from '../helpers/s3.js';
import { envelopeSchema, mailboxListSchema } from '../../src/delivery/schema.js';
import { sweepOrphanBlobs } from '../../src/storage/sweep.js';
import { loadMasterKey } from '../../src/storage/crypto.js';
import { createS3BlobStore, type S3BlobStore } from '../../src/storage/s3-blobs.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** the response body as bytes */
const binary = (req: request.Test) =>
  req.buffer(true).parse((r, cb) => {
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => chunks.push(c));
    r.on('end', () => cb(null, Buffer.concat(chunks)));
  });

describe('issue 16: two instances share documents through an S3-compatible store', () => {
  let dir: string;
  let s3: TestS3;
  let a: TestGateway;
  let b: TestGateway;
  /** the store as the instances see it (same bucket, prefix and master key) */
  let shared: S3BlobStore;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const queuePrefix = `t-${randomBytes(6).toString('hex')}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-s3gw-'));
    s3 = await startTestS3();
    useS3Credentials(); // the SDK's default chain, as in production
    const env = { PARTIES_FILE: writeRoutingParties(dir), QUEUE_PREFIX: queuePrefix, ...s3.env() };
    a = await startTestGateway({ dialect: 'postgres', schema, dataDir: join(dir, 'a'), env });
    // B: its own DATA_DIR, A's keys (the storage master key wraps every document's key; the audit chain's key)
    b = await startTestGateway({
      dialect: 'postgres',
      schema,
      dataDir: join(dir, 'b'),
      env: { ...env, STORAGE_KEY_FILE: join(dir, 'a', 'storage.key'), AUDIT_KEY_FILE: join(dir, 'a', 'audit.key') },
    });
    shared = createS3BlobStore({
      bucket: s3.bucket,
      prefix: 'postkasse/',
      endpoint: s3.endpoint,
      region: S3_REGION,
      forcePathStyle: true,
      masterKey: loadMasterKey({ dataDir: join(dir, 'a'), createIfMissing: false }),
    });
  });
  after(async () => {
    shared?.close();
    await b?.gw.close();
    await a?.close();
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a package received by A is read through B; a response sent through B is read from the mailbox through A', async () => {
    // A receives the package
    const doc = pdf(`s3-shared ${randomBytes(4).toString('hex')}`);
    const m = manifest({
      citizen: { cpr: '0404901234', name: 'Delt Lager' },
      service: 'clinical-assessment',
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
    });
    const res = await postPackage(a, 'kommune-101', m, [{ name: 'req', body: doc, contentType: 'application/pdf', filename: 'req.pdf' }]);
    assert.equal(res.status, 201, res.text);
    const { caseId } = JSON.parse(res.text) as { caseId: string };

    // nothing of it on either instance's disk; the bucket holds only ciphertext
    for (const g of [a, b])
      assert.ok(!existsSync(join(g.dataDir, 'blobs')) || readdirSync(join(g.dataDir, 'blobs')).every((d) => d === 'tmp'));
    const row = await a.gw.db.db.selectFrom('documents').select(['blob_key']).where('case_id', '=', caseId).executeTakeFirstOrThrow();
    assert.equal(await shared.exists(row.blob_key), true, 'the object is in the bucket');

    // a team lead reads the document through B: the same bytes
    const read = await binary(as(b, 'lead-1').get(`/v1/cases/${caseId}/documents/req`));
    assert.equal(read.status, 200, String(read.text));
    assert.equal(sha(read.body as Buffer), sha(doc));
    assert.deepEqual(read.body as Buffer, doc);

    // the assignee answers through B; its message is read from the mailbox through A
    const who = (await settled(a, caseId)).assigned_to!;
    await holdConsultation(b, who, caseId);
    const attest = pdf('attest via B');
    const sent = await respond(b, who, caseId, { kind: 'specialist-attest', content: ATTEST }, attest);
    assert.equal(sent.status, 201, sent.text);
    const { messages } = sent.body as { messages: { messageId: string; to: string | null; copy: boolean }[] };
    const mine = messages.find((x) => x.to === 'kommune-101' && !x.copy)!;
    assert.ok(mine, JSON.stringify(messages));
    const list = mailboxListSchema.parse((await as(a, 'kommune-101').get('/v1/mailbox')).body);
    assert.ok(
      list.items.some((x) => x.messageId === mine.messageId),
      'the message is in the mailbox through A',
    );
    const c = a.creds('kommune-101');
    const got = await binary(request(a.url).get(`/v1/mailbox/${mine.messageId}`).ca(a.ca).cert(c.cert).key(c.key));
    assert.equal(got.status, 200);
    assert.equal(Number(got.headers['content-length']), (got.body as Buffer).length);
    const env = envelopeSchema.parse(JSON.parse((got.body as Buffer).toString('utf8')));
    assert.deepEqual(Buffer.from(env.document!.data, 'base64'), attest, 'the document B stored travels intact through A');
    assert.equal(env.document!.sha256, sha(attest));
  });

  test('the orphan sweep removes an unreferenced object from the shared store, never a referenced one', async () => {
    const orphan = await shared.put(Readable.from([randomBytes(3000)]));
    const referenced: string[] = [];
    for await (const k of shared.listKeys()) if (k !== orphan.key) referenced.push(k);
    assert.ok(referenced.length >= 2, 'the package and the response are in the bucket');
    assert.equal(await sweepOrphanBlobs(b.gw.db, shared, 60 * 60_000), 0, 'nothing older than a live request');
    assert.equal(await sweepOrphanBlobs(b.gw.db, shared, 0), 1);
    assert.equal(await shared.exists(orphan.key), false);
    for (const k of referenced) assert.equal(await shared.exists(k), true, `referenced object ${k} stays`);
  });
});
