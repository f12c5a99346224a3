/**
 * The blob writer thread (src/storage/blob-thread.ts starts it): runs the file store's put() — SHA-256,
 * AES-256-GCM, the coalesced writes, fsync, rename and the directory's fsync — for plaintext the gateway's
 * event loop posts to it, so none of that per-byte and per-file work is on the event loop.
 *
 * Protocol (ids are the gateway's): `put` opens a blob, `data` carries plaintext (transferred, never copied),
 * `end` closes it, `abort` discards it (its temp file is removed by put() itself). Each `data` is acknowledged
 * (`ack`) once put() has hashed and encrypted it, which is the gateway's backpressure; the ack hands the batch's
 * memory back, with the ciphertext chunks already written out, so that the thread leaves no garbage of its own
 * (V8 frees an isolate's young Buffers only at a scavenge it forces at ~32 MB of them: two isolates would double
 * a long upload's memory). `done` carries the result, `error` the failure (message and errno code only: never
 * any content).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Readable } from 'node:stream';
import { createFileBlobStore, type ChunkFilter } from './blobs.js';
import type { BlobThreadData, BlobThreadReply, BlobThreadRequest } from './blob-thread.js';

const port = parentPort!;
const data = workerData as BlobThreadData;
const store = createFileBlobStore({ dir: data.dir, masterKey: Buffer.from(data.masterKey) });
const sources = new Map<number, Readable>();
const post = (m: BlobThreadReply, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

function start(id: number): void {
  // a put's plaintext waits here until put() reads it; the gateway keeps at most its credit in flight
  const src = new Readable({ read() {} });
  // put() hears an abort through the stream's state; an 'error' event with no listener would end the thread
  src.on('error', () => {});
  sources.set(id, src);
  // A batch is acknowledged, and its memory handed back to the gateway for the next batch, once put() has hashed and
  // encrypted it: when put() passes the next one through this filter (or ends). put() reads each batch synchronously
  // and keeps no reference to it, so nothing here is left holding (or reading) memory the gateway writes again.
  let done: Buffer | undefined;
  let spent: ArrayBuffer[] = [];
  const giveBack = () => {
    if (!done) return;
    const ab = done.buffer as ArrayBuffer;
    const buffers = [ab, ...spent];
    post({ t: 'ack', id, bytes: done.length, buffers }, buffers);
    done = undefined;
    spent = [];
  };
  const recycle: ChunkFilter = {
    write(chunk) {
      giveBack();
      done = chunk;
      return chunk;
    },
    end() {
      giveBack();
      return null;
    },
  };
  store
    .put(src, {
      filter: recycle,
      spent: (ct) => {
        if (ct.byteOffset === 0 && ct.buffer.byteLength === ct.length) spent.push(ct.buffer as ArrayBuffer);
      },
    })
    .then(
      (result) => {
        sources.delete(id);
        post({ t: 'done', id, result });
      },
      (err: unknown) => {
        sources.delete(id);
        const e = err as NodeJS.ErrnoException;
        post({ t: 'error', id, message: String(e?.message ?? err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) });
      },
    );
}

port.on('message', (m: BlobThreadRequest | { close: true }) => {
  if ('close' in m) {
    port.close();
    return;
  }
  switch (m.t) {
    case 'put':
      return start(m.id);
    case 'data':
      sources.get(m.id)?.push(Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength));
      return;
    case 'end':
      sources.get(m.id)?.push(null);
      return;
    case 'abort':
      sources.get(m.id)?.destroy(new Error('the upload was aborted'));
      return;
  }
});
post({ t: 'ready' });
