/**
 * The file store with its writes in a thread of its own (issue 16, intake throughput): put() filters each
 * chunk on the event loop (media-type sniffing and size limits need the request's own state), copies what
 * passes into 128 KiB batches and transfers them to the blob writer thread (src/storage/blob-writer-thread.ts),
 * which hashes, encrypts, writes, fsyncs and renames exactly as createFileBlobStore's put() does, because it
 * runs that put(). Profiling showed intake's limit is the event loop, not the CPUs: hashing and encrypting
 * each 16 KiB TLS record and dispatching a put's nine file operations to the thread pool took a third of it.
 * Reads, deletes and sweeps stay on the event loop (they are few, and reads stream to a response).
 *
 * Backpressure: a put keeps at most CREDIT_BYTES posted and not yet hashed and encrypted by the thread; beyond
 * that its sink waits, so the request stream (and TCP) wait too. Memory per upload stays at a few batches: the
 * thread's acknowledgement hands each batch back (reused for the next ones) with the ciphertext it has written,
 * whose garbage the event loop's frequent scavenges free (the thread's own would hold ~32 MB more).
 *
 * Failure: an error of the thread's put (a full disk: code ENOSPC) fails the put with the same message and
 * code; a lost thread fails every put in flight and the next put starts a new one. Either way put() rejects
 * only once the thread has settled the blob, i.e. removed its temp file (the BlobStore contract).
 */
import type { Worker } from 'node:worker_threads';
import { Writable, type Readable as ReadableT } from 'node:stream';
import type { Logger } from 'pino';
import { closeModuleThread, spawnModuleThread } from '../shared/threads.js';
import {
  createFileBlobStore,
  pump,
  toBuffer,
  type BlobIntegrityFailure,
  type BlobPutOptions,
  type BlobPutResult,
  type BlobStore,
} from './blobs.js';

/** What the blob writer thread starts with. */
export interface BlobThreadData {
  dir: string;
  masterKey: Uint8Array;
}
/** What the gateway posts to the thread. */
export type BlobThreadRequest =
  { t: 'put'; id: number } | { t: 'data'; id: number; chunk: Uint8Array } | { t: 'end'; id: number } | { t: 'abort'; id: number };
/** What the thread posts back. */
export type BlobThreadReply =
  | { t: 'ready' }
  | { t: 'ack'; id: number; bytes: number; buffers?: ArrayBuffer[] }
  | { t: 'done'; id: number; result: BlobPutResult }
  | { t: 'error'; id: number; message: string; code?: string };

const BATCH_BYTES = 128 * 1024;
const CREDIT_BYTES = 4 * BATCH_BYTES;
/** batches the thread has handed back, for the next ones (a few uploads' credit) */
const SPARE_BATCHES = 8;

interface InFlight {
  resolve(r: BlobPutResult): void;
  reject(e: Error): void;
  /** bytes the thread has hashed and encrypted */
  ack(bytes: number): void;
}

export function createThreadedFileBlobStore(opts: {
  dir: string;
  masterKey: Buffer;
  onIntegrityFailure?: (f: BlobIntegrityFailure) => void;
  log?: Logger;
  /** tests: stand in for the thread (e.g. one that dies); `real` starts the real one */
  spawn?: (real: () => Worker) => Worker;
}): BlobStore & { close(): Promise<void> } {
  const inline = createFileBlobStore(opts);
  const workerData: BlobThreadData = { dir: opts.dir, masterKey: new Uint8Array(opts.masterKey) };
  const inflight = new Map<number, InFlight>();
  const spare: Buffer[] = [];
  let nextId = 1;
  let thread: Promise<Worker> | undefined;
  let closed: Promise<void> | undefined;

  function start(): Promise<Worker> {
    const real = () => spawnModuleThread('storage/blob-writer-thread', workerData);
    const w = opts.spawn ? opts.spawn(real) : real();
    let ready = false;
    const started = new Promise<Worker>((resolve, reject) => {
      w.on('message', (m: BlobThreadReply) => {
        if (m.t === 'ready') {
          ready = true;
          if (inflight.size === 0) w.unref();
          return resolve(w);
        }
        const p = inflight.get(m.id);
        if (!p) return;
        if (m.t === 'ack') {
          for (const b of m.buffers ?? []) if (b.byteLength === BATCH_BYTES && spare.length < SPARE_BATCHES) spare.push(Buffer.from(b));
          return p.ack(m.bytes);
        }
        inflight.delete(m.id);
        if (inflight.size === 0 && !closed) w.unref();
        if (m.t === 'done') p.resolve(m.result);
        else p.reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
      });
      w.on('error', (err) => {
        opts.log?.error({ err }, 'blob writer thread failed');
        if (!ready) reject(err);
      });
      w.on('exit', (code) => {
        if (thread === started) thread = undefined;
        if (!ready) reject(new Error(`the blob writer thread exited (code ${code}) before it was ready`));
        if (inflight.size && !closed) opts.log?.error({ code, inFlight: inflight.size }, 'blob writer thread ended with uploads in flight');
        for (const p of inflight.values()) {
          p.reject(
            Object.assign(new Error(`the blob writer thread ended (code ${code}); nothing of the upload was kept`), {
              code: 'EBLOBTHREAD',
            }),
          );
        }
        inflight.clear();
      });
    });
    return started;
  }
  // started with the store, so that the first upload does not wait for it
  thread = start();
  thread.catch(() => {});

  async function put(source: NodeJS.ReadableStream | ReadableT, popts: BlobPutOptions = {}): Promise<BlobPutResult> {
    const { signal, filter } = popts;
    signal?.throwIfAborted();
    if (closed) throw new Error('the blob store is closed');
    const w = await (thread ??= start());
    const id = nextId++;

    let unacked = 0;
    let waiting: (() => void) | undefined;
    let batch: Buffer | undefined;
    let len = 0;
    const send = () => {
      if (!batch || len === 0) return;
      const chunk = new Uint8Array(batch.buffer, batch.byteOffset, len);
      unacked += len;
      w.postMessage({ t: 'data', id, chunk } satisfies BlobThreadRequest, [batch.buffer as ArrayBuffer]);
      batch = undefined;
      len = 0;
    };
    const append = (b: Buffer) => {
      let off = 0;
      while (off < b.length) {
        // not from Buffer's shared pool: its memory is handed to the thread
        const buf = (batch ??= spare.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES));
        const n = b.copy(buf, len, off);
        len += n;
        off += n;
        if (len === buf.length) send();
      }
    };
    const sink = new Writable({
      highWaterMark: BATCH_BYTES,
      write(chunk: unknown, _enc, cb) {
        try {
          const passed = filter ? filter.write(toBuffer(chunk)) : toBuffer(chunk);
          if (passed) append(passed);
        } catch (e) {
          return cb(e as Error);
        }
        if (unacked > CREDIT_BYTES) waiting = () => cb();
        else cb();
      },
      final(cb) {
        try {
          const rest = filter?.end();
          if (rest) append(rest);
        } catch (e) {
          return cb(e as Error);
        }
        send();
        w.postMessage({ t: 'end', id } satisfies BlobThreadRequest);
        cb();
      },
    });

    const result = new Promise<BlobPutResult>((resolve, reject) => {
      inflight.set(id, {
        resolve,
        reject: (e) => {
          reject(e);
          // a sink waiting for credit would wait forever: fail it, so that pump() rejects with the thread's error
          sink.destroy(e);
        },
        ack: (bytes) => {
          unacked -= bytes;
          if (waiting && unacked <= CREDIT_BYTES) {
            const go = waiting;
            waiting = undefined;
            go();
          }
        },
      });
    });
    result.catch(() => {}); // observed below; a rejection before then is not unhandled
    w.ref();
    w.postMessage({ t: 'put', id } satisfies BlobThreadRequest);

    try {
      await pump(source, sink, signal);
    } catch (err) {
      // the thread removes its temp file; the put settles (rejects) once it has
      w.postMessage({ t: 'abort', id } satisfies BlobThreadRequest);
      // (an abort that came after the end: the thread may have stored the blob, which nothing will reference)
      const stored = await result.catch(() => undefined);
      if (stored) await inline.delete(stored.key).catch(() => {});
      throw err;
    }
    return result;
  }

  return {
    ...inline,
    put,
    close() {
      closed ??= closeModuleThread(thread);
      return closed;
    },
  };
}
