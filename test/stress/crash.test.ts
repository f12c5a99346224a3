/**
 * Issue 6: kill -9 of the gateway while 100+ uploads are in flight. After a
 * restart every receipt a client got is served byte-identical, its documents
 * decrypt to the sent bytes, the leftovers of the interrupted uploads are
 * swept (and the sweep is logged), and nothing half-done remains.
 * Issue 16: the same against the S3 store (s3rver in this process, the
 * gateway a child with BLOB_STORE=s3): no open multipart upload and no
 * object without a row remain.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMultipart } from '../../src/cli/multipart.js';
import { signatureTimestampOf, withSignatureTimestamp } from '../../src/receipts/cms.js';
import { openDatabase, type Db } from '../../src/storage/db.js';
import { createFileBlobStore, type BlobStore } from '../../src/storage/blobs.js';
import { createS3BlobStore } from '../../src/storage/s3-blobs.js';
import { loadMasterKey } from '../../src/storage/crypto.js';
import { dropQueueKeys, REDIS_URL, seedDevPki, UNUSED_IDP } from '../helpers/gateway.js';
import { manifest } from '../helpers/packages.js';
import { keepForScan } from '../helpers/logs.js';
import { waitFor } from '../helpers/wait.js';
import { S3_CREDENTIALS, S3_REGION, startTestS3, type TestS3 } from '../helpers/s3.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let dataDir = '';
let queuePrefix = '';
/** the blob store's environment for the child (BLOB_STORE=s3 and S3_*), empty for the file store */
let storeEnv: Record<string, string> = {};

interface Running {
  proc: ChildProcess;
  port: number;
  out: string[];
}

async function startChild(): Promise<Running> {
  await seedDevPki(dataDir);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: '0',
      STAFF_PORT: '0',
      DEV_IDP_PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL,
      START_REDIS: 'never',
      QUEUE_PREFIX: queuePrefix,
      LOG_LEVEL: 'info',
      MAX_CONCURRENT_UPLOADS_PER_PARTY: '200',
      ...UNUSED_IDP, // no staff login here: the development IdP's start would only cost time
      ...storeEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  let buf = '';
  const port = await new Promise<number>((resolve, reject) => {
    // A gateway that does not come up is killed, so that a failed start fails the test instead of hanging the file.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`gateway did not start:\n${out.join('\n')}`));
    }, 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        out.push(line);
        if (line.includes('Postkasse listening')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      }
    });
    proc.stderr!.on('data', (d: Buffer) => out.push(d.toString('utf8')));
    proc.on('exit', (code) => reject(new Error(`gateway exited (${code}):\n${out.join('\n')}`)));
  });
  return { proc, port, out };
}

const tlsFor = (party: string) => ({
  ca: readFileSync(join(dataDir, 'pki', 'ca.pem')),
  cert: readFileSync(join(dataDir, 'pki', 'clients', `${party}.pem`)),
  key: readFileSync(join(dataDir, 'pki', 'clients', `${party}.key`)),
});

interface Sent {
  packageId: string;
  doc: Buffer;
  status?: number;
  body?: Buffer;
  signature?: string;
  error?: string;
}

function upload(port: number, s: Sent): Promise<void> {
  const m = manifest({ packageId: s.packageId });
  const mp = createMultipart([
    { name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: Buffer.from(JSON.stringify(m)) },
    { name: 'plan', filename: 'plan.pdf', contentType: 'application/pdf', body: s.doc },
  ]);
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/packages',
        method: 'POST',
        ...tlsFor('kommune-101'),
        agent: false,
        headers: { 'content-type': mp.contentType, 'content-length': mp.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          s.status = res.statusCode;
          s.body = Buffer.concat(chunks);
          s.signature = res.headers['receipt-signature'] as string | undefined;
          resolve();
        });
        res.on('error', (e) => {
          s.error = e.message;
          resolve();
        });
      },
    );
    req.on('error', (e) => {
      s.error = e.message;
      resolve();
    });
    mp.stream()
      .on('error', () => {})
      .pipe(req);
  });
}

function get(port: number, path: string): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, ...tlsFor('kommune-101'), agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      })
      .on('error', reject);
  });
}

let child: Running | undefined;
let db: Db | undefined;
let s3: TestS3 | undefined;
let closeStore: (() => void) | undefined;
/** Ends one run: the child, the database, the queue keys, the data directory and the S3 server. */
async function endRun(): Promise<void> {
  if (child) keepForScan(child.out.filter((l) => l.startsWith('{')));
  child?.proc.kill('SIGKILL');
  child = undefined;
  await db?.close();
  db = undefined;
  closeStore?.();
  closeStore = undefined;
  if (queuePrefix) await dropQueueKeys(queuePrefix);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  await s3?.close();
  s3 = undefined;
}
after(endRun);

/** Uploads in flight per run; the S3 run proves the same on the other store with half as many (CI time). */
const UPLOADS = { file: 120, s3: 60 } as const;

for (const store of ['file', 's3'] as const) {
  test(
    `kill -9 with ${UPLOADS[store]} uploads in flight (${store} store): every receipt given survives byte-identical, ` +
      'its documents decrypt to the sent bytes, leftovers are swept',
    { timeout: 180_000 },
    (t) => crashRun(t, store).finally(endRun),
  );
}

async function crashRun(t: { diagnostic(m: string): void }, store: 'file' | 's3'): Promise<void> {
  dataDir = mkdtempSync(join(tmpdir(), 'pk-crash-'));
  queuePrefix = `t-${randomBytes(6).toString('hex')}`;
  storeEnv = {};
  if (store === 's3') {
    s3 = await startTestS3();
    storeEnv = {
      ...s3.env('crash/'),
      AWS_ACCESS_KEY_ID: S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_CREDENTIALS.secretAccessKey,
    };
  }
  const openStore = (): BlobStore => {
    const masterKey = loadMasterKey({ dataDir, createIfMissing: false });
    if (!s3) return createFileBlobStore({ dir: join(dataDir, 'blobs'), masterKey });
    const s = createS3BlobStore({
      bucket: s3.bucket,
      prefix: 'crash/',
      endpoint: s3.endpoint,
      region: S3_REGION,
      forcePathStyle: true,
      credentials: S3_CREDENTIALS,
      masterKey,
    });
    closeStore = () => s.close();
    return s;
  };
  const listed = async (b: BlobStore) => {
    const keys: string[] = [];
    for await (const k of b.listKeys()) keys.push(k);
    return keys;
  };
  child = await startChild();
  const sent: Sent[] = Array.from({ length: UPLOADS[store] }, (_, i) => ({
    packageId: `crash-${i}-${randomUUID()}`,
    doc: Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(256 * 1024 + Math.floor(Math.random() * 768 * 1024))]),
  }));
  const all = Promise.all(sent.map((s) => upload(child!.port, s)));
  // Kill once a quarter of the receipts are out and the rest are in flight.
  // Polled every 5 ms so that the kill comes right after that receipt, with most uploads still in flight.
  const before = sent.length / 4;
  await waitFor(
    `${before} receipts before the kill`,
    () => {
      const n = sent.filter((s) => s.status === 201).length;
      assert.ok(n >= before, `${n} receipts so far`);
      return n;
    },
    { timeoutMs: 60_000, everyMs: 5 },
  );
  child.proc.kill('SIGKILL');
  await new Promise((r) => child!.proc.once('exit', r));
  await all;
  const receipted = sent.filter((s) => s.status === 201);
  const cut = sent.filter((s) => s.status === undefined);
  assert.ok(receipted.length >= before, `${receipted.length} receipts before the kill`);
  assert.ok(cut.length > 0, 'some uploads were cut off by the kill');
  keepForScan(child.out.filter((l) => l.startsWith('{')));
  // What the kill left: temp files (file store), or open multipart uploads and objects (S3; checked after the restart)
  const leftoverTemp = s3 ? s3.openUploads().length : readdirSync(join(dataDir, 'blobs', 'tmp')).length;
  const objectsBefore = s3 ? (await listed(openStore())).length : 0;
  t.diagnostic(`receipted ${receipted.length}, cut ${cut.length}, temp files/open uploads left ${leftoverTemp}, objects ${objectsBefore}`);

  child = await startChild();
  // The restart swept what the interrupted uploads left, and said so.
  if (s3) assert.deepEqual(s3.openUploads(), [], 'no open multipart upload remains');
  else assert.equal(readdirSync(join(dataDir, 'blobs', 'tmp')).filter((f) => !f.startsWith('.')).length, 0, 'no temp files remain');
  const swept = child.out.some((l) => l.includes('swept what an interrupted upload left behind'));
  if (leftoverTemp > 0) assert.ok(swept, 'the sweep is logged');

  // Every receipt a client got: the same bytes and signature.
  for (const s of receipted) {
    const receiptId = (JSON.parse(s.body!.toString('utf8')) as { receiptId: string }).receiptId;
    const r = await get(child.port, `/v1/receipts/${receiptId}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, s.body, `receipt ${receiptId} byte-identical`);
    // The signature the client got, or once stamped exactly that CMS with its RFC 3161 token added (CAdES-T, issue 15).
    const served = Buffer.from(r.headers['receipt-signature'] as string, 'base64');
    const given = Buffer.from(s.signature!, 'base64');
    const token = signatureTimestampOf(served);
    assert.deepEqual(
      token ? served : given,
      token ? withSignatureTimestamp(given, token) : served,
      `receipt ${receiptId} signature unchanged`,
    );
  }

  // Its documents decrypt to the bytes that were sent; every stored package is whole; no blob without a row.
  db = await openDatabase({ dataDir });
  const blobs = openStore();
  const bySha = new Map(sent.map((s) => [createHash('sha256').update(s.doc).digest('hex'), s]));
  for (const s of receipted) {
    const receipt = JSON.parse(s.body!.toString('utf8')) as { caseId: string };
    const docs = await db.db.selectFrom('documents').selectAll().where('case_id', '=', receipt.caseId).execute();
    assert.equal(docs.length, 1);
    const chunks: Buffer[] = [];
    for await (const c of await blobs.get(docs[0]!.blob_key)) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), s.doc, 'decrypts to the sent bytes');
  }
  const packages = await db.db.selectFrom('packages').selectAll().execute();
  for (const p of packages) {
    assert.ok(
      await db.db.selectFrom('receipts').select('id').where('package_row_id', '=', p.id).executeTakeFirst(),
      'a stored package has its receipt',
    );
    const docs = await db.db.selectFrom('documents').selectAll().where('package_row_id', '=', p.id).execute();
    assert.equal(docs.length, 1);
    assert.ok(await blobs.exists(docs[0]!.blob_key));
    assert.ok(bySha.has(docs[0]!.sha256), 'a stored document is one that was sent');
  }
  const keys = await listed(blobs);
  const referenced = new Set((await db.db.selectFrom('documents').select('blob_key').execute()).map((r) => r.blob_key));
  assert.deepEqual(
    keys.filter((k) => !referenced.has(k)),
    [],
    'no orphan blobs (uploads that were never receipted) remain',
  );
  if (objectsBefore > keys.length) assert.ok(swept, 'the sweep of orphaned objects is logged');
  assert.ok(existsSync(join(dataDir, 'postkasse.db')));
}
