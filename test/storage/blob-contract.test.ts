/**
 * Issue 16: one contract for every blob store. The same behaviours run
 * against the file store (DATA_DIR/blobs; inline, and with its writes in the
 * blob writer thread as the gateway runs it) and the S3 store (s3rver on
 * loopback): round trips, a streamed 20 MB put with flat memory, missing
 * keys, tampered and moved objects, delete/exists/listKeys/modifiedAt, failed
 * and aborted puts leaving nothing behind (no object, no open multipart
 * upload), the filter aborting a put, and the sweeps. Every put is read back
 * and its SHA-256 compared (some emulators silently corrupt bodies).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  createFileBlobStore,
  isBlobIntegrityError,
  type BlobIntegrityFailure,
  type BlobStore,
  type ChunkFilter,
} from '../../src/storage/blobs.js';
import { createS3BlobStore, type S3BlobStore } from '../../src/storage/s3-blobs.js';
import { createThreadedFileBlobStore } from '../../src/storage/blob-thread.js';
import { sweepOrphanBlobs } from '../../src/storage/sweep.js';
import { startTestS3, S3_CREDENTIALS, S3_REGION, type TestS3 } from '../helpers/s3.js';
import { drain, openTestDb, tempDir } from './helpers.js';

const HEADER_BYTES = 77;
const MiB = 1024 * 1024;

interface Harness {
  store: BlobStore;
  failures: BlobIntegrityFailure[];
  /** the stored bytes (ciphertext) of a blob */
  raw(key: string): Promise<Buffer>;
  /** replaces (or creates) the stored bytes under a key, bypassing the store */
  writeRaw(key: string, bytes: Buffer): Promise<void>;
  /** leftovers of unfinished puts: temp files (file store) or open multipart uploads (S3) */
  leftovers(): string[];
  /** makes a leftover as a crash would, `ageMs` old */
  leaveLeftover(ageMs: number): Promise<void>;
  close(): Promise<void>;
}

async function fileHarness(opts: { thread?: boolean } = {}): Promise<Harness> {
  const tmp = tempDir('blob-contract');
  const dir = join(tmp.dir, 'blobs');
  const failures: BlobIntegrityFailure[] = [];
  const storeOpts = { dir, masterKey: randomBytes(32), onIntegrityFailure: (f: BlobIntegrityFailure) => failures.push(f) };
  const threaded = opts.thread ? createThreadedFileBlobStore(storeOpts) : undefined;
  const store = threaded ?? createFileBlobStore(storeOpts);
  const path = (key: string) => join(dir, key.slice(0, 2), key);
  return {
    store,
    failures,
    raw: async (key) => readFileSync(path(key)),
    async writeRaw(key, bytes) {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(dir, key.slice(0, 2)), { recursive: true });
      writeFileSync(path(key), bytes);
    },
    leftovers: () => readdirSync(join(dir, 'tmp')),
    async leaveLeftover(ageMs) {
      const p = join(dir, 'tmp', `${randomUUID()}.tmp`);
      writeFileSync(p, randomBytes(100));
      const t = (Date.now() - ageMs) / 1000;
      utimesSync(p, t, t);
    },
    async close() {
      await threaded?.close();
      tmp.remove();
    },
  };
}

async function s3Harness(): Promise<Harness> {
  const s3: TestS3 = await startTestS3();
  const prefix = 'contract/';
  const failures: BlobIntegrityFailure[] = [];
  const store: S3BlobStore = createS3BlobStore({
    bucket: s3.bucket,
    prefix,
    masterKey: randomBytes(32),
    endpoint: s3.endpoint,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    onIntegrityFailure: (f) => failures.push(f),
  });
  const raw: S3Client = s3.client();
  return {
    store,
    failures,
    async raw(key) {
      const r = await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${key}` }));
      return Buffer.from(await r.Body!.transformToByteArray());
    },
    async writeRaw(key, bytes) {
      await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}${key}`, Body: bytes }));
    },
    leftovers: () => s3.openUploads(),
    async leaveLeftover(ageMs) {
      await raw.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: `${prefix}${randomUUID()}` }));
      // s3rver's upload directory: its `key` file's mtime is the upload's Initiated time
      const uploads = join(s3.dir, s3.bucket, '._S3rver_uploads');
      const t = (Date.now() - ageMs) / 1000;
      for (const id of readdirSync(uploads)) utimesSync(join(uploads, id, 'key'), t, t);
    },
    async close() {
      store.close();
      await s3.close();
    },
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A source of `total` bytes in 64 KiB chunks of a cheap pattern, hashing as it goes; `fail` makes it error after that many bytes. */
function patterned(total: number, opts: { failAfter?: number; delayMs?: number } = {}) {
  const hash = createHash('sha256');
  const chunk = randomBytes(64 * 1024);
  async function* gen() {
    let sent = 0;
    let i = 0;
    while (sent < total) {
      if (opts.failAfter !== undefined && sent >= opts.failAfter) throw new Error('source broke midway');
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      const c = Buffer.from(chunk.subarray(0, Math.min(chunk.length, total - sent)));
      c.writeUInt32BE(i++, 0);
      hash.update(c);
      sent += c.length;
      yield c;
    }
  }
  return { stream: Readable.from(gen(), { objectMode: false }), sha256: () => hash.digest('hex') };
}

const STORES: Array<[string, () => Promise<Harness>]> = [
  ['file', fileHarness],
  // the gateway's file store: put() runs in the blob writer thread (src/storage/blob-thread.ts)
  ['file, writer thread', () => fileHarness({ thread: true })],
  ['s3', s3Harness],
];

for (const [name, make] of STORES) {
  describe(`blob store contract: ${name}`, () => {
    let h: Harness;
    let store: BlobStore;
    before(async () => {
      h = await make();
      store = h.store;
    });
    after(() => h?.close());

    /** put, then read back: the SHA-256 must round-trip */
    async function putChecked(source: Readable, expectSha?: string) {
      const r = await store.put(source);
      const back = createHash('sha256');
      let n = 0;
      for await (const c of await store.get(r.key)) {
        back.update(c as Buffer);
        n += (c as Buffer).length;
      }
      assert.equal(back.digest('hex'), r.sha256, 'the bytes read back hash as the put reported');
      assert.equal(n, r.size);
      if (expectSha) assert.equal(r.sha256, expectSha);
      return r;
    }
    const keys = async () => {
      const out: string[] = [];
      for await (const k of store.listKeys()) out.push(k);
      return out.sort();
    };

    it('round-trips blobs (empty, small, several chunks) with their SHA-256 and size; only ciphertext is stored', async () => {
      const empty = await putChecked(Readable.from([]), sha(Buffer.alloc(0)));
      assert.equal(empty.size, 0);
      const marker = Buffer.from(`CPR 010203-1234 ${randomUUID()}`);
      const data = Buffer.concat([marker, randomBytes(1_300_000)]);
      const r = await putChecked(Readable.from([data.subarray(0, 7), data.subarray(7, 700_000), data.subarray(700_000)]), sha(data));
      assert.equal(r.size, data.length);
      assert.deepEqual((await drain(await store.get(r.key))).bytes, data);
      const stored = await h.raw(r.key);
      assert.equal(stored.length, HEADER_BYTES + data.length + 16);
      assert.equal(stored.subarray(0, 4).toString('ascii'), 'PKBS');
      assert.equal(stored.indexOf(marker), -1, 'no plaintext in the store');
    });

    it('streams a 20 MB put with memory staying bounded', async () => {
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
      try {
        const src = patterned(20 * 1000 * 1000);
        const r = await store.put(src.stream);
        assert.equal(r.size, 20 * 1000 * 1000);
        assert.equal(r.sha256, src.sha256());
        const back = createHash('sha256');
        for await (const c of await store.get(r.key)) back.update(c as Buffer);
        assert.equal(back.digest('hex'), r.sha256);
      } finally {
        clearInterval(sampler);
      }
      const growth = (peak - before) / MiB;
      assert.ok(growth < 64, `RSS grew ${growth.toFixed(1)} MiB during a 20 MB put and read`);
    });

    it('get of a missing key rejects with ENOENT', async () => {
      await assert.rejects(store.get(randomUUID()), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    });

    it('a flipped ciphertext byte: the read errors with BlobIntegrityError before its last byte, and the alarm is raised', async () => {
      const data = randomBytes(900_000);
      const r = await putChecked(Readable.from([data]));
      const stored = await h.raw(r.key);
      stored[HEADER_BYTES + 450_000]! ^= 0x01;
      await h.writeRaw(r.key, stored);
      const seen = h.failures.length;
      const { bytes, error } = await drain(await store.get(r.key));
      assert.ok(isBlobIntegrityError(error), `integrity error, got ${String(error)}`);
      assert.ok(bytes.length < data.length, `released ${bytes.length} of ${data.length} bytes`);
      assert.equal(h.failures.length, seen + 1);
      assert.equal(h.failures.at(-1)!.key, r.key);
    });

    it('a modified header or a cut-off object is refused (BlobIntegrityError), with the alarm', async () => {
      const r = await putChecked(Readable.from([randomBytes(10_000)]));
      const stored = await h.raw(r.key);
      const header = Buffer.from(stored);
      header[10]! ^= 0x80; // inside the wrapped data key
      await h.writeRaw(r.key, header);
      const seen = h.failures.length;
      await assert.rejects(store.get(r.key), (e) => isBlobIntegrityError(e));
      await h.writeRaw(r.key, stored.subarray(0, stored.length - 20)); // the tag cut off
      const { error } = await drain(await store.get(r.key));
      assert.ok(isBlobIntegrityError(error));
      await h.writeRaw(r.key, stored.subarray(0, 50));
      await assert.rejects(store.get(r.key), (e) => isBlobIntegrityError(e));
      assert.equal(h.failures.length, seen + 3);
    });

    it('a blob copied to another key fails authentication', async () => {
      const r = await putChecked(Readable.from([randomBytes(5000)]));
      const other = randomUUID();
      await h.writeRaw(other, await h.raw(r.key));
      await assert.rejects(store.get(other), (e) => isBlobIntegrityError(e));
    });

    it('delete is idempotent; exists, listKeys and modifiedAt follow the blob', async () => {
      const t0 = Date.now();
      const r = await putChecked(Readable.from([randomBytes(1000)]));
      assert.equal(await store.exists(r.key), true);
      assert.ok((await keys()).includes(r.key));
      const m = await store.modifiedAt(r.key);
      assert.ok(m !== null && m >= t0 - 2000 && m <= Date.now() + 1000, `modifiedAt ${m}`);
      await store.delete(r.key);
      await store.delete(r.key);
      assert.equal(await store.exists(r.key), false);
      assert.equal(await store.modifiedAt(r.key), null);
      assert.ok(!(await keys()).includes(r.key));
      await store.delete(randomUUID());
      assert.equal(await store.exists(randomUUID()), false);
      await assert.rejects(store.get('../etc/passwd'), TypeError);
    });

    it('a source that errors midway (past a multipart part) leaves no object and no unfinished upload', async () => {
      const before = await keys();
      const src = patterned(16 * MiB, { failAfter: 12 * MiB });
      await assert.rejects(store.put(src.stream), /source broke midway/);
      assert.deepEqual(await keys(), before);
      assert.deepEqual(h.leftovers(), []);
    });

    it('an aborted signal rejects the put and leaves no object and no unfinished upload', async () => {
      const before = await keys();
      const ac = new AbortController();
      const src = patterned(40 * MiB, { delayMs: 1 });
      const p = store.put(src.stream, { signal: ac.signal });
      setTimeout(() => ac.abort(), 300);
      await assert.rejects(p, (e: Error) => e.name === 'AbortError');
      assert.deepEqual(await keys(), before);
      assert.deepEqual(h.leftovers(), []);
      const pre = new AbortController();
      pre.abort();
      await assert.rejects(store.put(Readable.from([Buffer.from('x')]), { signal: pre.signal }), (e: Error) => e.name === 'AbortError');
      assert.deepEqual(await keys(), before);
    });

    it('the filter can abort a put (nothing stored), and what it passes is what is stored', async () => {
      const before = await keys();
      let seen = 0;
      const limit: ChunkFilter = {
        write(c) {
          seen += c.length;
          if (seen > 7 * MiB) throw Object.assign(new Error('too large'), { code: 'ETOOLARGE' });
          return c;
        },
        end: () => null,
      };
      await assert.rejects(store.put(patterned(9 * MiB).stream, { filter: limit }), /too large/);
      assert.deepEqual(await keys(), before);
      assert.deepEqual(h.leftovers(), []);
      // a filter that holds the first bytes back and releases them at the end
      let held: Buffer | null = null;
      const swap: ChunkFilter = {
        write(c) {
          if (!held) {
            held = Buffer.from(c);
            return null;
          }
          return c;
        },
        end: () => held,
      };
      const r = await store.put(Readable.from([Buffer.from('AB'), Buffer.from('CD')]), { filter: swap });
      assert.equal((await drain(await store.get(r.key))).bytes.toString(), 'CDAB');
    });

    it('sweepTemp removes leftovers of interrupted puts older than the age, and only those', async () => {
      await h.leaveLeftover(10 * 60_000);
      assert.equal(h.leftovers().length, 1);
      assert.equal(await store.sweepTemp(60 * 60_000), 0, 'younger than the age: stays');
      assert.equal(await store.sweepTemp(60_000), 1);
      assert.deepEqual(h.leftovers(), []);
    });

    it('the orphan sweep removes an unreferenced blob older than the age, not a younger one', async () => {
      const db = await openTestDb({ name: 'sqlite' }, 'contract');
      try {
        const r = await putChecked(Readable.from([randomBytes(2000)]));
        assert.equal(await sweepOrphanBlobs(db, store, 60 * 60_000), 0);
        assert.equal(await store.exists(r.key), true);
        const removed = await sweepOrphanBlobs(db, store, 0);
        assert.ok(removed >= 1);
        assert.equal(await store.exists(r.key), false);
      } finally {
        await db.dispose();
      }
    });

    it('check() passes', async () => {
      await store.check();
    });
  });
}
