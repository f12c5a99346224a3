/**
 * Encrypted blob store (documents at rest).
 *
 * File format (version 1), everything after the header is streamed:
 *
 *   magic "PKBS" (4) | version 0x01 (1)
 *   | wrapped data key: iv (12) | AES-256-GCM(kek, dataKey) (32) | tag (16)
 *   | data iv (12)
 *   | ciphertext (= plaintext length)
 *   | data tag (16)
 *
 * - Every blob has a fresh random 256-bit data key; it is wrapped under a key
 *   derived from the master key (HKDF, purpose "blob-kek-v1").
 * - The data cipher authenticates the whole header and the blob key (AAD), and
 *   the key wrap authenticates the blob key too: a file moved/copied to another
 *   key, or with a modified header, fails authentication.
 * - No plaintext byte is ever written to disk; the temp file only ever holds
 *   ciphertext. Memory is bounded (streaming, ≤ ~1 MiB write coalescing).
 *
 * Readers: GCM can only be verified at the end. `get()` streams plaintext as
 * it decrypts but always holds the last decrypted chunk back until
 * `decipher.final()` has verified the tag (memory: one chunk, ≤ 256 KiB). A
 * modified or corrupt blob therefore ends in a stream error (a
 * BlobIntegrityError) *before* its last bytes are released: a consumer that
 * forwards the stream (an HTTP response with Content-Length, a push, a file
 * written atomically) can never complete it. Every integrity failure is also
 * reported to `onIntegrityFailure` (the gateway logs an alarm and counts it).
 *
 * Issue 16: the format, its encryption and the read stream are `createBlobCodec` and `sealingSink`, shared by
 * this file store and the S3 store (src/storage/s3-blobs.ts), which stores the same bytes as objects.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID, type DecipherGCM } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, open, opendir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, Writable, finished, pipeline as pipelineCb, type Readable as ReadableT } from 'node:stream';
import { deriveKey, gcmOpen, gcmSeal } from './crypto.js';

export interface BlobPutResult {
  key: string;
  size: number;
  /** hex SHA-256 of the PLAINTEXT (as stored, i.e. after the filter) */
  sha256: string;
}

/**
 * A synchronous in-line check/transform of the plaintext, run inside put()'s
 * own loop (no extra stream stage per chunk). `write` returns the bytes to
 * store for this chunk (or null to hold them back for now), `end` whatever
 * is still held; either throws to abort the put.
 */
export interface ChunkFilter {
  write(chunk: Buffer): Buffer | null;
  end(): Buffer | null;
}

export interface BlobPutOptions {
  signal?: AbortSignal;
  /** applied to every chunk in put()'s loop, before hashing and encryption (e.g. media-type sniffing and size limits) */
  filter?: ChunkFilter;
  /**
   * the file store hands each ciphertext chunk here once it is copied out (the blob writer thread gives their memory
   * to the gateway's event loop, whose collector frees it sooner than the thread's would)
   */
  spent?: (ciphertext: Buffer) => void;
}

export interface BlobStore {
  /**
   * Streams plaintext from `source` through SHA-256 and AES-256-GCM under a fresh random per-blob data key
   * (wrapped by the master key) into a temp file; fsyncs it, renames into place, fsyncs the directory;
   * resolves only when durable. On any error (source error, abort signal, write error) removes the temp file
   * and rejects. `filter`, if given, checks every chunk first (e.g. media-type sniffing and size limits).
   */
  put(source: NodeJS.ReadableStream | ReadableT, opts?: BlobPutOptions): Promise<BlobPutResult>;
  /**
   * Decrypting read stream; the GCM tag is verified at the end and the last chunk is held back until it is, so a
   * tampered blob errors (BlobIntegrityError) before its final bytes are released. Rejects with code ENOENT if there is
   * no such blob, and with a BlobIntegrityError if its header does not authenticate.
   */
  get(key: string): Promise<ReadableT>;
  /** idempotent */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** keys of all stored blobs — for start-up sweeps / reconcilers */
  listKeys(): AsyncIterable<string>;
  /** Last modification time (ms since the epoch) of a stored blob, or null if there is none. */
  modifiedAt(key: string): Promise<number | null>;
  /** removes leftover temp files older than `olderThanMs`; returns how many */
  sweepTemp(olderThanMs: number): Promise<number>;
  /** readiness: directory writable (writes, fsyncs and removes a probe file) */
  check(): Promise<void>;
}

const MAGIC = Buffer.from('PKBS', 'ascii');
const VERSION = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_KEY_BYTES = IV_BYTES + 32 + TAG_BYTES;
const PREFIX_BYTES = MAGIC.length + 1;
const HEADER_BYTES = PREFIX_BYTES + WRAPPED_KEY_BYTES + IV_BYTES; // 77
const WRITE_COALESCE_BYTES = 1 << 20;
const SYNC_EVERY_BYTES = 32 << 20;

const KEY_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FANOUT_RE = /^[0-9a-f]{2}$/;

export function isBlobKey(key: unknown): key is string {
  return typeof key === 'string' && KEY_RE.test(key);
}

/** A stored blob failed authentication (modified, truncated, or under another key): its plaintext must not be used. */
export class BlobIntegrityError extends Error {
  readonly code = 'EBLOBINTEGRITY';
  constructor(
    readonly blobKey: string,
    readonly reason: string,
  ) {
    super(`blob ${blobKey} failed its integrity check: ${reason}`);
    this.name = 'BlobIntegrityError';
  }
}

/** True for a BlobIntegrityError, also after it went through a pipeline or a wrapping stream. */
export function isBlobIntegrityError(err: unknown): err is BlobIntegrityError {
  return err instanceof BlobIntegrityError || (err as { code?: unknown } | null)?.code === 'EBLOBINTEGRITY';
}

/** What the store reports when a blob fails its integrity check (never any plaintext). */
export interface BlobIntegrityFailure {
  key: string;
  reason: string;
}

/** One blob being written: the PKBS header, then the ciphertext of what the filter let through, then the tag. */
export interface BlobSealer {
  readonly key: string;
  readonly header: Buffer;
  /** filters, hashes and encrypts one plaintext chunk; returns its ciphertext (null: nothing yet); throws to abort */
  write(chunk: Buffer): Buffer | null;
  /** the filter's held bytes, encrypted (null: none); throws to abort */
  end(): Buffer | null;
  /** the cipher's last bytes and the GCM tag: the end of the blob */
  finish(): Buffer;
  result(): BlobPutResult;
}

/**
 * The PKBS v1 format under one master key, written once for every store (the file store, S3): sealing a
 * new blob, authenticating a stored header, and the decrypting read stream that holds its last chunk back.
 */
export interface BlobCodec {
  seal(filter?: ChunkFilter): BlobSealer;
  /** throws a BlobIntegrityError (and raises the alarm) when `size` cannot hold a header and a tag */
  checkSize(key: string, size: number): void;
  /** authenticates `header` (HEADER_BYTES) of blob `key`; returns the data decipher with its AAD set, tag not yet set */
  open(key: string, header: Buffer): DecipherGCM;
  /**
   * The plaintext stream of the ciphertext written to it. Without `tagFromTail` the caller has set the tag;
   * with it, the stream's last TAG_BYTES are the tag (a store that reads the blob front to back in one request).
   */
  plaintext(key: string, decipher: DecipherGCM, opts?: { tagFromTail?: boolean }): Transform;
}

/** the PKBS v1 header's length: a store reads it before the ciphertext */
export const BLOB_HEADER_BYTES = HEADER_BYTES;

/** The blob format under `masterKey`; `onIntegrityFailure` hears of every blob that fails authentication. */
export function createBlobCodec(masterKey: Buffer, onIntegrityFailure?: (f: BlobIntegrityFailure) => void): BlobCodec {
  const kek = deriveKey(masterKey, 'blob-kek-v1');
  const prefix = Buffer.concat([MAGIC, Buffer.from([VERSION])]);
  const wrapAad = (key: string) => Buffer.concat([prefix, Buffer.from(key, 'ascii')]);
  const dataAad = (header: Buffer, key: string) => Buffer.concat([header, Buffer.from(key, 'ascii')]);
  const integrityFailure = (key: string, reason: string): BlobIntegrityError => {
    try {
      onIntegrityFailure?.({ key, reason });
    } catch {
      // the alarm must never change what the reader sees
    }
    return new BlobIntegrityError(key, reason);
  };

  function seal(filter?: ChunkFilter): BlobSealer {
    const key = randomUUID();
    const dataKey = randomBytes(32);
    const iv = randomBytes(IV_BYTES);
    const header = Buffer.concat([prefix, gcmSeal(kek, dataKey, wrapAad(key)), iv]);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
    dataKey.fill(0);
    cipher.setAAD(dataAad(header, key));
    const hash = createHash('sha256');
    let size = 0;
    const take = (b: Buffer | null): Buffer | null => {
      if (!b || b.length === 0) return null;
      size += b.length;
      hash.update(b);
      return cipher.update(b);
    };
    return {
      key,
      header,
      write: (chunk) => take(filter ? filter.write(chunk) : chunk),
      end: () => (filter ? take(filter.end()) : null),
      finish: () => Buffer.concat([cipher.final(), cipher.getAuthTag()]),
      result: () => ({ key, size, sha256: hash.digest('hex') }),
    };
  }

  function checkSize(key: string, size: number): void {
    if (size < HEADER_BYTES + TAG_BYTES) throw integrityFailure(key, `${size} bytes is shorter than header and tag`);
  }

  function openHeader(key: string, header: Buffer): DecipherGCM {
    if (header.length !== HEADER_BYTES) throw integrityFailure(key, 'header cut short');
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw integrityFailure(key, 'bad magic');
    if (header[MAGIC.length] !== VERSION) throw integrityFailure(key, `unsupported format version ${header[MAGIC.length]}`);
    let dataKey: Buffer;
    try {
      dataKey = gcmOpen(kek, header.subarray(PREFIX_BYTES, PREFIX_BYTES + WRAPPED_KEY_BYTES), wrapAad(key));
    } catch {
      throw integrityFailure(key, 'data key failed authentication (wrong master key, or header modified)');
    }
    const iv = header.subarray(PREFIX_BYTES + WRAPPED_KEY_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', dataKey, iv);
    dataKey.fill(0);
    decipher.setAAD(dataAad(header, key));
    return decipher;
  }

  return {
    seal,
    checkSize,
    open: openHeader,
    plaintext: (key, decipher, opts) =>
      holdBackUntilVerified(decipher, () => integrityFailure(key, 'authentication tag mismatch: modified or corrupt'), opts),
  };
}

/**
 * The sink of a put: runs every chunk through `sealer` in its own loop and hands the ciphertext to `out`,
 * whose promise (if any) is backpressure. A filter error fails the sink, and pump() then destroys the source
 * with that error.
 */
export function sealingSink(sealer: BlobSealer, out: (ciphertext: Buffer) => void | Promise<void>): Writable {
  const emit = (ct: Buffer | null): void | Promise<void> => (ct && ct.length > 0 ? out(ct) : undefined);
  const settle = (r: void | Promise<void>, cb: (err?: Error | null) => void) => {
    if (r) void r.then(() => cb(), cb);
    else cb();
  };
  return new Writable({
    highWaterMark: WRITE_COALESCE_BYTES,
    write(chunk: unknown, _enc, cb) {
      let r: void | Promise<void>;
      try {
        r = emit(sealer.write(toBuffer(chunk)));
      } catch (e) {
        return cb(e as Error);
      }
      settle(r, cb);
    },
    final(cb) {
      let r: void | Promise<void>;
      try {
        r = emit(sealer.end());
      } catch (e) {
        return cb(e as Error);
      }
      settle(r, cb);
    },
  });
}

const noop = () => {};

/**
 * `source.pipe(sink)`, settled as stream.pipeline settles: resolves when `sink` has finished; any error (either
 * stream's, a premature close, `signal`) destroys both streams, the source with that error, and rejects with it, so
 * the source (busboy's part stream) sees the sink's own error. Without pipeline's per-call AbortController, whose abort at
 * every finish builds a DOMException with its stack (~2% of intake's event loop, measured).
 */
export function pump(source: NodeJS.ReadableStream | ReadableT, sink: Writable, signal?: AbortSignal): Promise<void> {
  const src = source as ReadableT;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error | null) => {
      if (settled) return;
      settled = true;
      stopSource();
      stopSink();
      signal?.removeEventListener('abort', onAbort);
      if (!err) return resolve();
      // the error is the caller's now (the rejection); the source's own listeners (busboy's, multer's) still hear it
      src.on('error', noop).destroy(err);
      sink.on('error', noop).destroy();
      reject(err);
    };
    const onAbort = () => settle(signal!.reason instanceof Error ? signal!.reason : new Error('the upload was aborted'));
    const stopSource = finished(src, { writable: false }, (err) => {
      if (err) settle(err);
    });
    const stopSink = finished(sink, { readable: false }, (err) => settle(err ?? null));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    src.pipe(sink);
  });
}

export function createFileBlobStore(opts: {
  dir: string;
  masterKey: Buffer;
  /** called once per failed read: the gateway raises an alarm (log at error level, metric) */
  onIntegrityFailure?: (f: BlobIntegrityFailure) => void;
}): BlobStore {
  const dir = opts.dir;
  const codec = createBlobCodec(opts.masterKey, opts.onIntegrityFailure);
  const tmpDir = join(dir, 'tmp');
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });

  function pathFor(key: string): string {
    if (!isBlobKey(key)) throw new TypeError(`invalid blob key ${JSON.stringify(String(key).slice(0, 80))}`);
    return join(dir, key.slice(0, 2), key);
  }

  // Fan-out directories known to exist and to be durable in `dir` (at most
  // 256): saves a mkdir round trip on the thread pool for every put.
  const knownFanouts = new Set<string>();
  async function ensureFanout(fanout: string): Promise<void> {
    if (knownFanouts.has(fanout)) return;
    const created = await mkdir(fanout, { recursive: true, mode: 0o700 });
    if (created) await fsyncDir(dir);
    knownFanouts.add(fanout);
  }

  async function put(source: NodeJS.ReadableStream | ReadableT, popts: BlobPutOptions = {}): Promise<BlobPutResult> {
    const { signal, filter } = popts;
    signal?.throwIfAborted();
    const sealer = codec.seal(filter);
    const key = sealer.key;
    const tmp = join(tmpDir, `${key}.tmp`);

    let fh: FileHandle | undefined;
    let out: CoalescingWriter | undefined;
    try {
      fh = await open(tmp, 'wx', 0o600);
      const w = (out = new CoalescingWriter(fh));
      await w.write(sealer.header); // a few bytes: only queued, never a write of its own
      // Filter, hash and encrypt each chunk synchronously as it arrives; the
      // callback waits only when the writer has a full batch queued behind a
      // write still in flight (backpressure). A filter error fails the sink,
      // and pump() then destroys the source with *that* error, which is
      // what the caller (and multer, through busboy) must see.
      const spent = popts.spent;
      const write = spent
        ? (ct: Buffer) => {
            const r = w.write(ct);
            if (!r) return spent(ct);
            return r.then(() => spent(ct));
          }
        : (ct: Buffer) => w.write(ct);
      await pump(source, sealingSink(sealer, write), signal);
      signal?.throwIfAborted();
      await w.write(sealer.finish());
      await w.flush();
      await fh.sync();
      await fh.close();
      fh = undefined;

      const fanout = join(dir, key.slice(0, 2));
      await ensureFanout(fanout);
      signal?.throwIfAborted();
      try {
        await rename(tmp, join(fanout, key));
      } catch (e) {
        // The fan-out directory was removed behind our back: make it again, once.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !knownFanouts.delete(fanout)) throw e;
        await ensureFanout(fanout);
        await rename(tmp, join(fanout, key));
      }
      await fsyncDir(fanout);
      return sealer.result();
    } catch (err) {
      // Let an in-flight write settle before closing, then remove the temp file.
      await out?.settle();
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
  }

  async function get(key: string): Promise<ReadableT> {
    const path = pathFor(key);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw Object.assign(new Error(`blob ${key} not found`), { code: 'ENOENT' });
      throw err;
    }
    let handedOver = false;
    try {
      const { size } = await fh.stat();
      codec.checkSize(key, size);
      const header = await readExactly(fh, HEADER_BYTES, 0);
      const decipher = codec.open(key, header);
      decipher.setAuthTag(await readExactly(fh, TAG_BYTES, size - TAG_BYTES));
      const plain = codec.plaintext(key, decipher);
      const ctEnd = size - TAG_BYTES; // exclusive
      let body: ReadableT;
      if (ctEnd > HEADER_BYTES) {
        body = fh.createReadStream({ start: HEADER_BYTES, end: ctEnd - 1, autoClose: true, highWaterMark: 256 * 1024 });
      } else {
        await fh.close();
        body = Readable.from([]);
      }
      handedOver = true;
      // Errors (read errors, authentication failure) surface on `plain`; destroying `plain` closes the file.
      pipelineCb(body, plain, () => {});
      return plain;
    } finally {
      if (!handedOver) await fh.close().catch(() => {});
    }
  }

  async function del(key: string): Promise<void> {
    const path = pathFor(key);
    await rm(path, { force: true });
    await fsyncDir(join(dir, key.slice(0, 2))).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async function exists(key: string): Promise<boolean> {
    try {
      return (await stat(pathFor(key))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async function modifiedAt(key: string): Promise<number | null> {
    try {
      return (await stat(pathFor(key))).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async function* listKeys(): AsyncIterable<string> {
    for await (const d of await opendir(dir)) {
      if (!d.isDirectory() || !FANOUT_RE.test(d.name)) continue;
      let sub;
      try {
        sub = await opendir(join(dir, d.name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      for await (const f of sub) {
        if (f.isFile() && isBlobKey(f.name) && f.name.startsWith(d.name)) yield f.name;
      }
    }
  }

  async function sweepTemp(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for await (const d of await opendir(tmpDir)) {
      if (!d.isFile()) continue;
      const p = join(tmpDir, d.name);
      try {
        if ((await stat(p)).mtimeMs <= cutoff) {
          await rm(p);
          removed++;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // finished or removed meanwhile
      }
    }
    return removed;
  }

  async function check(): Promise<void> {
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const probe = join(tmpDir, `.probe-${randomUUID()}`);
    const fh = await open(probe, 'wx', 0o600);
    try {
      await fh.write(Buffer.from('probe'));
      await fh.sync();
    } finally {
      await fh.close();
      await rm(probe, { force: true });
    }
  }

  return { put, get, delete: del, exists, listKeys, modifiedAt, sweepTemp, check };
}

/**
 * The plaintext of `decipher` as a stream that always holds the most recent
 * decrypted chunk back: it is released only when the next chunk arrives, and
 * the last one only once `decipher.final()` has verified the GCM tag. On a
 * tag mismatch the stream errors with `onFail()` and the held chunk is
 * dropped, so the plaintext's final bytes never leave before verification.
 */
export function holdBackUntilVerified(decipher: DecipherGCM, onFail: () => Error, opts: { tagFromTail?: boolean } = {}): Transform {
  let held: Buffer | null = null;
  // With tagFromTail, the last TAG_BYTES seen so far are kept aside: at the end they are the tag.
  let tail: Buffer | null = opts.tagFromTail ? Buffer.alloc(0) : null;
  const update = (chunk: Buffer): Buffer => {
    if (!tail) return decipher.update(chunk);
    const all = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
    const cut = all.length - TAG_BYTES;
    if (cut <= 0) {
      tail = Buffer.from(all);
      return Buffer.alloc(0);
    }
    tail = Buffer.from(all.subarray(cut));
    return decipher.update(all.subarray(0, cut));
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      let out: Buffer;
      try {
        out = update(chunk);
      } catch (e) {
        return cb(e as Error);
      }
      if (out.length === 0) return cb();
      const release = held;
      held = out;
      cb(null, release ?? undefined);
    },
    flush(cb) {
      let last: Buffer;
      try {
        if (tail) {
          if (tail.length !== TAG_BYTES) throw new Error('no tag');
          decipher.setAuthTag(tail);
        }
        last = decipher.final();
      } catch {
        held = null;
        return cb(onFail());
      }
      const release = held;
      held = null;
      if (release) this.push(release);
      cb(null, last.length > 0 ? last : undefined);
    },
    destroy(err, cb) {
      held = null;
      tail = null;
      cb(err);
    },
  });
}

/**
 * Write buffers shared by all puts: a put copies its ciphertext into one and writes it when full, while the
 * next fills. Reusing them keeps a long upload from leaving a trail of spent 1 MiB buffers (and of the encrypted
 * chunks those would hold until written) for the garbage collector: what is held while the disk is busy is these
 * few buffers, not garbage that ages into the old generation. They only ever hold ciphertext.
 */
const writeBuffers: Buffer[] = [];
/** kept for the next puts: a long upload needs two; more would stay resident after a burst of small ones */
const WRITE_BUFFERS_KEPT = 4;
const takeWriteBuffer = (): Buffer => writeBuffers.pop() ?? Buffer.allocUnsafeSlow(WRITE_COALESCE_BYTES);
const returnWriteBuffer = (b: Buffer): void => {
  if (writeBuffers.length < WRITE_BUFFERS_KEPT) writeBuffers.push(b);
};

/**
 * Coalesces small writes into ≤ ~1 MiB positional writes (copied into the
 * pooled write buffers), with one write in flight while the next batch is being encrypted (so crypto and I/O overlap;
 * memory stays ≤ ~2 MiB). `write()` is synchronous until a full batch has to
 * wait for the write still in flight: only then does it return a promise
 * (backpressure), so the common chunk costs no promise at all. Every
 * SYNC_EVERY bytes it starts a background fdatasync so dirty pages go to disk
 * during the upload rather than all in the final fsync. Handles short writes;
 * the first error is rethrown.
 */
class CoalescingWriter {
  #fh: FileHandle;
  /** the buffer being filled, and how much of it is */
  #buf: Buffer | undefined;
  #len = 0;
  #pos = 0;
  #inflight: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  #unsynced = 0;
  #error: unknown;
  constructor(fh: FileHandle) {
    this.#fh = fh;
  }
  /** Copies `b` into the buffer; returns a promise only when the caller must wait before writing more. */
  write(b: Buffer): void | Promise<void> {
    if (this.#error) throw this.#error;
    let off = 0;
    while (off < b.length) {
      const buf = (this.#buf ??= takeWriteBuffer());
      const n = b.copy(buf, this.#len, off);
      this.#len += n;
      off += n;
      if (this.#len < buf.length) continue;
      if (this.#inflight) {
        const rest = b.subarray(off);
        return this.#inflight.then(() => {
          this.#startWrite();
          return this.write(rest);
        });
      }
      this.#startWrite();
    }
  }
  /** Writes everything buffered and waits for all I/O (including a background datasync) to finish. */
  async flush(): Promise<void> {
    await this.#inflight;
    this.#startWrite();
    await this.settle();
    if (this.#error) throw this.#error;
  }
  /** Waits for in-flight I/O without throwing (before closing the file on an error path). */
  async settle(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    await this.#syncing;
    if (this.#buf) returnWriteBuffer(this.#buf);
    this.#buf = undefined;
    this.#len = 0;
  }
  /** Starts writing the filled part of the buffer; only called with no write in flight. */
  #startWrite(): void {
    if (this.#error) throw this.#error;
    const buf = this.#buf;
    const len = this.#len;
    if (!buf || len === 0) return;
    const pos = this.#pos;
    this.#buf = undefined;
    this.#len = 0;
    this.#pos += len;
    const done = (this.#inflight = this.#writeAll(buf, len, pos)
      .catch((e: unknown) => {
        this.#error ??= e;
      })
      .finally(() => {
        returnWriteBuffer(buf);
        if (this.#inflight === done) this.#inflight = undefined;
      }));
  }
  async #writeAll(buf: Buffer, len: number, pos: number): Promise<void> {
    let off = 0;
    while (off < len) {
      const { bytesWritten } = await this.#fh.write(buf, off, len - off, pos + off);
      off += bytesWritten;
    }
    this.#unsynced += len;
    if (this.#unsynced >= SYNC_EVERY_BYTES && !this.#syncing) {
      this.#unsynced = 0;
      this.#syncing = this.#fh
        .datasync()
        .catch((e: unknown) => {
          this.#error ??= e;
        })
        .finally(() => {
          this.#syncing = undefined;
        });
    }
  }
}

/** A stream chunk as a Buffer (without copying its bytes). */
export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`blob source yielded a ${typeof chunk}, expected bytes`);
}

async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let off = 0;
  while (off < length) {
    const { bytesRead } = await fh.read(buf, off, length - off, position + off);
    if (bytesRead === 0) throw new Error('unexpected end of blob file');
    off += bytesRead;
  }
  return buf;
}

async function fsyncDir(path: string): Promise<void> {
  const dh = await open(path, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
