import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createFileBlobStore, type BlobStore } from '../../src/storage/blobs.js';
import { tempDir } from './helpers.js';

// A collectable-garbage-free view of memory: garbage (consumed chunks) is collected
// every few MB, as it would be in a long-running server, so what RSS and
// arrayBuffers show is what the store *retains*.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const GC_EVERY = 2 * 1024 * 1024;

interface MemPeak {
  rss: number;
  arrayBuffers: number;
}
function sampleMem(peak: MemPeak): void {
  const m = process.memoryUsage();
  peak.rss = Math.max(peak.rss, m.rss);
  peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
}

const MARKER = 'PLAINTEXT-MARKER-0101011234-Jensen';
const HEADER_BYTES = 77;

/** Deterministic bytes generated on the fly (never held in memory as a whole), with their SHA-256 and the peak memory seen while producing. */
function generated(total: number, chunk = 64 * 1024, fill?: (b: Buffer, offset: number) => void) {
  let sent = 0;
  let sinceGc = 0;
  const peak: MemPeak = { rss: 0, arrayBuffers: 0 };
  const hash = createHash('sha256');
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk, total - sent);
      const b = Buffer.allocUnsafe(n);
      if (fill) fill(b, sent);
      else for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((sent + i) >>> 0, i);
      sent += n;
      hash.update(b);
      if ((sinceGc += n) >= GC_EVERY) {
        sinceGc = 0;
        gc();
        sampleMem(peak);
      }
      this.push(b);
    },
  });
  return { stream, sha256: () => hash.digest('hex'), peak };
}

async function readAll(store: BlobStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function drainHash(store: BlobStore, key: string): Promise<{ sha256: string; size: number; peak: MemPeak }> {
  const h = createHash('sha256');
  let size = 0;
  let sinceGc = 0;
  const peak: MemPeak = { rss: 0, arrayBuffers: 0 };
  for await (const c of await store.get(key)) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
    if ((sinceGc += (c as Buffer).length) >= GC_EVERY) {
      sinceGc = 0;
      gc();
      sampleMem(peak);
    }
  }
  return { sha256: h.digest('hex'), size, peak };
}

/** every file under dir (relative paths) */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile())
      out.push(join((e as unknown as { parentPath?: string; path: string }).parentPath ?? e.path, e.name).slice(dir.length + 1));
  }
  return out.sort();
}

function blobPath(dir: string, key: string): string {
  return join(dir, key.slice(0, 2), key);
}

describe('file blob store', () => {
  const tmp = tempDir('blobs');
  const masterKey = randomBytes(32);
  let store: BlobStore;
  let dir: string;
  before(() => {
    dir = join(tmp.dir, 'blobs');
    store = createFileBlobStore({ dir, masterKey });
  });
  after(() => tmp.remove());

  it('round-trips an empty blob', async () => {
    const r = await store.put(Readable.from([]));
    assert.equal(r.size, 0);
    assert.equal(r.sha256, createHash('sha256').update('').digest('hex'));
    assert.equal(statSync(blobPath(dir, r.key)).size, HEADER_BYTES + 16);
    assert.deepEqual(await readAll(store, r.key), Buffer.alloc(0));
  });

  it('round-trips a small blob; key is a uuid stored under a 2-char fan-out, file mode 0600', async () => {
    const data = Buffer.from(`hello ${MARKER}`);
    const r = await store.put(Readable.from([data]));
    assert.match(r.key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(r.size, data.length);
    assert.equal(r.sha256, createHash('sha256').update(data).digest('hex'));
    const st = statSync(blobPath(dir, r.key));
    assert.equal(st.size, HEADER_BYTES + data.length + 16);
    assert.equal(st.mode & 0o777, 0o600);
    assert.deepEqual(await readAll(store, r.key), data);
    assert.equal(await store.exists(r.key), true);
  });

  it('accepts string and Uint8Array chunks', async () => {
    const r = await store.put(Readable.from(['abc', new Uint8Array([100, 101])], { objectMode: true }));
    assert.deepEqual(await readAll(store, r.key), Buffer.from('abcde'));
  });

  it('never writes plaintext: the marker is absent from every file on disk', async () => {
    const r = await store.put(generated(3 * 1024 * 1024 + 17, 65536, (b) => b.fill(MARKER)).stream);
    for (const f of filesUnder(dir)) {
      const bytes = readFileSync(join(dir, f));
      assert.equal(bytes.includes(MARKER), false, `${f} contains plaintext`);
      assert.equal(bytes.includes(MARKER.slice(0, 8)), false, `${f} contains plaintext`);
    }
    const back = await readAll(store, r.key);
    assert.equal(back.length, 3 * 1024 * 1024 + 17);
    assert.ok(back.subarray(0, MARKER.length).equals(Buffer.from(MARKER)));
  });

  it('streams 30 MB generated on the fly with bounded memory, both ways', async () => {
    const MB = 1024 * 1024;
    const size = 30 * MB;
    // warm-up (first use of the crypto / fs code paths), small so it cannot pre-grow the heap by 30 MB
    const w = await store.put(generated(MB).stream);
    await readAll(store, w.key);
    await store.delete(w.key);

    gc();
    const base = process.memoryUsage();
    const g = generated(size);
    const r = await store.put(g.stream);
    assert.equal(r.size, size);
    assert.equal(r.sha256, g.sha256());
    const back = await drainHash(store, r.key);
    assert.equal(back.size, size);
    assert.equal(back.sha256, r.sha256);
    await store.delete(r.key);

    const rssGrowth = (Math.max(g.peak.rss, back.peak.rss) - base.rss) / MB;
    const abGrowth = (Math.max(g.peak.arrayBuffers, back.peak.arrayBuffers) - base.arrayBuffers) / MB;
    assert.ok(rssGrowth < 12, `RSS grew by ${rssGrowth.toFixed(1)} MB while streaming 30 MB`);
    assert.ok(abGrowth < 12, `live buffers grew by ${abGrowth.toFixed(1)} MB while streaming 30 MB`);
  });

  it('puts running side by side, each over several write buffers, keep their own bytes (the buffers are pooled and reused)', async () => {
    // Sizes around the 1 MiB write buffer, in odd chunks: every put fills, writes and returns buffers that the
    // others take up again while their writes may still be in flight.
    const sizes = [1024 * 1024 - 40, 1024 * 1024 + 3, 2 * 1024 * 1024 + 77, 3 * 1024 * 1024 + 17, 5 * 1024 * 1024 + 1, 12_345];
    const puts = await Promise.all(
      sizes.map(async (size, i) => {
        const g = generated(size, 40_000 + i * 1_111);
        const r = await store.put(g.stream);
        return { size, r, sha256: g.sha256() };
      }),
    );
    for (const { size, r, sha256 } of puts) {
      assert.equal(r.size, size);
      assert.equal(r.sha256, sha256);
      const back = await drainHash(store, r.key);
      assert.equal(back.sha256, sha256, `the blob of ${size} bytes reads back as written`);
      await store.delete(r.key);
    }
  });

  it('detects a modified ciphertext byte, tag byte or header byte', async () => {
    const data = randomBytes(200_000);
    for (const where of ['ciphertext', 'tag', 'wrapped-key', 'iv'] as const) {
      const r = await store.put(Readable.from([data]));
      const p = blobPath(dir, r.key);
      const bytes = readFileSync(p);
      const offset = { ciphertext: HEADER_BYTES + 100_000, tag: bytes.length - 3, 'wrapped-key': 20, iv: HEADER_BYTES - 2 }[where];
      bytes[offset]! ^= 0x40;
      writeFileSync(p, bytes);
      await assert.rejects(readAll(store, r.key), /authentication/, `tampered ${where} not detected`);
    }
  });

  it('detects a blob file moved under another key', async () => {
    const a = await store.put(Readable.from([Buffer.from('document A')]));
    const b = await store.put(Readable.from([Buffer.from('document B')]));
    // an attacker with disk access swaps the files of two documents
    writeFileSync(blobPath(dir, b.key), readFileSync(blobPath(dir, a.key)));
    await assert.rejects(readAll(store, b.key), /authentication/);
    assert.deepEqual(await readAll(store, a.key), Buffer.from('document A'));
  });

  it('a different master key cannot read', async () => {
    const r = await store.put(Readable.from([Buffer.from('secret')]));
    const other = createFileBlobStore({ dir, masterKey: randomBytes(32) });
    await assert.rejects(readAll(other, r.key), /authentication/);
  });

  it('an erroring source rejects and leaves no temp file and no blob', async () => {
    const before = filesUnder(dir);
    let n = 0;
    const src = new Readable({
      read() {
        if (++n > 20) this.destroy(new Error('source broke'));
        else this.push(randomBytes(65536));
      },
    });
    await assert.rejects(store.put(src), /source broke/);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
    assert.deepEqual(filesUnder(dir), before);
  });

  it('an erroring filter rejects and leaves nothing; a passing one decides the bytes stored', async () => {
    const before = filesUnder(dir);
    let seen = 0;
    const limit = {
      write(chunk: Buffer) {
        seen += chunk.length;
        if (seen > 100_000) throw new Error('too large');
        return chunk;
      },
      end: () => null,
    };
    await assert.rejects(store.put(generated(1_000_000).stream, { filter: limit }), /too large/);
    assert.deepEqual(filesUnder(dir), before);

    const upper = { write: (chunk: Buffer) => Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'), end: () => null };
    const r = await store.put(Readable.from([Buffer.from('abc')]), { filter: upper });
    assert.equal(r.sha256, createHash('sha256').update('ABC').digest('hex'));
    assert.deepEqual(await readAll(store, r.key), Buffer.from('ABC'));
  });

  it('abort signal mid-stream rejects and leaves no file; an already aborted signal writes nothing', async () => {
    const before = filesUnder(dir);
    const ac = new AbortController();
    let n = 0;
    const src = new Readable({
      read() {
        n++;
        if (n === 10) ac.abort();
        if (n > 10_000) this.push(null);
        // a slow source (a chunk a millisecond), so the abort lands mid-stream: part of the scenario, not a wait
        else setTimeout(() => this.push(randomBytes(16384)), 1);
      },
    });
    await assert.rejects(store.put(src, { signal: ac.signal }), (e: Error) => e.name === 'AbortError');
    assert.ok(n < 10_000, 'put should stop reading after the abort');
    assert.deepEqual(filesUnder(dir), before);

    await assert.rejects(
      store.put(Readable.from([Buffer.from('x')]), { signal: AbortSignal.abort() }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.deepEqual(filesUnder(dir), before);
  });

  it('sweepTemp removes only temp files older than the threshold', async () => {
    const tmpDir = join(dir, 'tmp');
    const old = join(tmpDir, 'old-crash-leftover.tmp');
    const fresh = join(tmpDir, 'in-flight.tmp');
    writeFileSync(old, 'x');
    writeFileSync(fresh, 'y');
    const hourAgo = (Date.now() - 3_600_000) / 1000;
    utimesSync(old, hourAgo, hourAgo);
    assert.equal(await store.sweepTemp(10 * 60_000), 1);
    assert.equal(existsSync(old), false);
    assert.equal(existsSync(fresh), true);
    assert.equal(await store.sweepTemp(0), 1);
    assert.deepEqual(readdirSync(tmpDir), []);
  });

  it('listKeys yields exactly the stored blobs; delete is idempotent; exists follows', async () => {
    const d2 = join(tmp.dir, 'list');
    const s2 = createFileBlobStore({ dir: d2, masterKey });
    const keys = [];
    for (let i = 0; i < 5; i++) keys.push((await s2.put(Readable.from([Buffer.from(`blob ${i}`)]))).key);
    writeFileSync(join(d2, 'tmp', 'leftover.tmp'), 'x');
    writeFileSync(join(d2, 'README'), 'not a blob');
    const listed: string[] = [];
    for await (const k of s2.listKeys()) listed.push(k);
    assert.deepEqual(listed.sort(), [...keys].sort());
    await s2.delete(keys[0]!);
    await s2.delete(keys[0]!);
    assert.equal(await s2.exists(keys[0]!), false);
    await assert.rejects(s2.get(keys[0]!), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    const after: string[] = [];
    for await (const k of s2.listKeys()) after.push(k);
    assert.equal(after.length, 4);
  });

  it('rejects keys that are not blob keys (no path traversal)', async () => {
    await assert.rejects(store.get('../../etc/passwd'), /invalid blob key/);
    await assert.rejects(store.delete('tmp/x'), /invalid blob key/);
    await assert.rejects(store.exists('..'), /invalid blob key/);
  });

  it('a fan-out directory removed behind its back is made again (the store remembers the ones it made)', async () => {
    const own = createFileBlobStore({ dir: join(tmp.dir, 'fanout'), masterKey });
    const first = await own.put(Readable.from([Buffer.from('first')]));
    const fanout = first.key.slice(0, 2);
    rmSync(join(tmp.dir, 'fanout', fanout), { recursive: true });
    // Put until a blob lands in the removed directory again (1 in 256 per put).
    let again: { key: string; text: string } | undefined;
    for (let i = 0; i < 5000 && !again; i++) {
      const text = `blob ${i}`;
      const r = await own.put(Readable.from([Buffer.from(text)]));
      if (r.key.startsWith(fanout)) again = { key: r.key, text };
      else await own.delete(r.key);
    }
    assert.ok(again, 'a put landed in the removed fan-out directory');
    assert.equal((await readAll(own, again.key)).toString(), again.text);
    assert.equal(await own.exists(first.key), false);
  });

  it('check() passes on a writable directory and fails on an unwritable one', async () => {
    await store.check();
    assert.deepEqual(
      readdirSync(join(dir, 'tmp')).filter((f) => f.startsWith('.probe')),
      [],
    );
    const bad = createFileBlobStore({ dir: join(tmp.dir, 'ro'), masterKey });
    // replace its tmp dir with a file: not writable as a directory
    const ro = join(tmp.dir, 'ro', 'tmp');
    rmSync(ro, { recursive: true });
    writeFileSync(ro, 'not a directory');
    await assert.rejects(bad.check());
  });
});
