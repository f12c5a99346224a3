/**
 * Issue 16: the encrypted blob store on S3-compatible object storage, beside
 * the file store (src/storage/blobs.ts) and behind the same BlobStore
 * interface, so several gateway instances with separate DATA_DIRs read each
 * other's documents.
 *
 * - The object store only ever sees the PKBS format of the file store
 *   (createBlobCodec): AES-256-GCM ciphertext under a per-blob data key
 *   wrapped by the master key, header and blob key authenticated. The object
 *   key is `${prefix}${blobKey}`; the AAD binds the blob key, so an object
 *   copied to another key fails authentication.
 * - put() streams as a multipart upload (lib-storage Upload, PART_BYTES parts,
 *   QUEUE_SIZE in flight: memory stays flat); a blob smaller than a part is
 *   one PutObject. It resolves only when the object is complete; on any error
 *   (source error, abort signal, filter throw, a failed part) the body stream
 *   is destroyed, Upload aborts the multipart upload, and put() rejects only
 *   after that. What a crash leaves behind (an open multipart upload) is
 *   aborted by sweepTemp(), orphaned objects by the orphan sweep.
 * - get() reads the object front to back in one GetObject: the header is
 *   authenticated before get() resolves, the last 16 bytes are the tag, and
 *   the last decrypted chunk is held back until it verifies.
 * - Checksums are WHEN_REQUIRED: S3-compatible stores (and emulators) do not
 *   all speak the aws-chunked trailing checksums; integrity is ours (GCM).
 */
import type { Readable } from 'node:stream';
import { PassThrough, pipeline as pipelineCb } from 'node:stream';
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  BLOB_HEADER_BYTES,
  createBlobCodec,
  isBlobKey,
  pump,
  sealingSink,
  type BlobIntegrityFailure,
  type BlobPutOptions,
  type BlobPutResult,
  type BlobStore,
} from './blobs.js';

/** Multipart part size (S3's minimum) and parts in flight: a put holds at most ~(QUEUE_SIZE + 1) parts. */
const PART_BYTES = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** what the encrypting loop may run ahead of the upload */
const BODY_HIGH_WATER = 1 << 20;

export interface S3BlobStoreOptions {
  bucket: string;
  /** object key prefix, e.g. "postkasse/" */
  prefix: string;
  masterKey: Buffer;
  /** S3_ENDPOINT: a non-AWS store (MinIO, Ceph, ...); unset = AWS */
  endpoint?: string;
  region: string;
  forcePathStyle?: boolean;
  /** unset = the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles) */
  credentials?: S3ClientConfig['credentials'];
  onIntegrityFailure?: (f: BlobIntegrityFailure) => void;
}

/** The S3 store is a BlobStore that also owns an HTTP client to close at shutdown. */
export interface S3BlobStore extends BlobStore {
  close(): void;
}

export function createS3BlobStore(opts: S3BlobStoreOptions): S3BlobStore {
  const codec = createBlobCodec(opts.masterKey, opts.onIntegrityFailure);
  const { bucket, prefix } = opts;
  const client = new S3Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  function objectKey(key: string): string {
    if (!isBlobKey(key)) throw new TypeError(`invalid blob key ${JSON.stringify(String(key).slice(0, 80))}`);
    return `${prefix}${key}`;
  }

  async function put(source: NodeJS.ReadableStream | Readable, popts: BlobPutOptions = {}): Promise<BlobPutResult> {
    const { signal, filter } = popts;
    signal?.throwIfAborted();
    const sealer = codec.seal(filter);
    const Key = objectKey(sealer.key);
    const body = new PassThrough({ highWaterMark: BODY_HIGH_WATER });
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key, Body: body, ContentType: 'application/octet-stream' },
      partSize: PART_BYTES,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    let uploadError: unknown;
    const done = upload.done();
    // A failed upload (a part, the store unreachable) ends the body, so the encrypting loop never waits on it forever.
    done.catch((e: unknown) => {
      uploadError = e;
      body.destroy(e as Error);
    });
    const write = (b: Buffer): void | Promise<void> => {
      if (body.destroyed) throw uploadError ?? body.errored ?? new Error('blob upload ended');
      if (body.write(b)) return;
      return new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          body.off('close', onClose);
          resolve();
        };
        const onClose = () => {
          body.off('drain', onDrain);
          reject(uploadError ?? body.errored ?? new Error('blob upload ended'));
        };
        body.once('drain', onDrain);
        body.once('close', onClose);
      });
    };
    try {
      const first = write(sealer.header);
      if (first) await first;
      await pump(source, sealingSink(sealer, write), signal);
      signal?.throwIfAborted();
      const last = write(sealer.finish());
      if (last) await last;
      body.end();
      await done;
    } catch (err) {
      // Destroying the body makes Upload abort the multipart upload; wait for that before rejecting.
      if (!body.destroyed) body.destroy(err as Error);
      await done.catch(() => undefined);
      throw err;
    }
    if (signal?.aborted) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => undefined);
      signal.throwIfAborted();
    }
    return sealer.result();
  }

  async function get(key: string): Promise<Readable> {
    const Key = objectKey(key);
    let res;
    try {
      res = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
    } catch (err) {
      if (isNotFound(err)) throw Object.assign(new Error(`blob ${key} not found`), { code: 'ENOENT' });
      throw err;
    }
    const body = res.Body as Readable | undefined;
    if (!body) throw new Error(`blob ${key}: the object store returned no body`);
    let handedOver = false;
    try {
      if (res.ContentLength !== undefined) codec.checkSize(key, res.ContentLength);
      const header = await readHead(body, BLOB_HEADER_BYTES);
      const decipher = codec.open(key, header);
      const plain = codec.plaintext(key, decipher, { tagFromTail: true });
      handedOver = true;
      // Errors (a broken connection, authentication failure) surface on `plain`; destroying `plain` ends the request.
      pipelineCb(body, plain, () => {});
      return plain;
    } finally {
      if (!handedOver) body.destroy();
    }
  }

  async function head(key: string) {
    try {
      return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async function del(key: string): Promise<void> {
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async function* listKeys(): AsyncIterable<string> {
    for await (const page of paginateListObjectsV2({ client, pageSize: 1000 }, { Bucket: bucket, Prefix: prefix })) {
      for (const o of page.Contents ?? []) {
        const k = o.Key?.slice(prefix.length);
        if (o.Key?.startsWith(prefix) && isBlobKey(k)) yield k;
      }
    }
  }

  /** Aborts the multipart uploads under the prefix (what a crash mid-upload leaves) started more than `olderThanMs` ago. */
  async function sweepTemp(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, UploadIdMarker }));
      for (const u of page.Uploads ?? []) {
        if (!u.Key?.startsWith(prefix) || !u.UploadId || (u.Initiated && u.Initiated.getTime() > cutoff)) continue;
        try {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
          removed++;
        } catch (err) {
          if (!isNotFound(err)) throw err; // finished or aborted meanwhile
        }
      }
      if (!page.IsTruncated) return removed;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /** Readiness: the bucket answers, and a probe object under the prefix can be written and removed. */
  async function check(): Promise<void> {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    const Key = `${prefix}.probe-${randomBytes(8).toString('hex')}`;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.from('probe') }));
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
  }

  return {
    put,
    get,
    delete: del,
    exists: async (key) => (await head(key)) !== null,
    listKeys,
    modifiedAt: async (key) => (await head(key))?.LastModified?.getTime() ?? null,
    sweepTemp,
    check,
    close: () => client.destroy(),
  };
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | null;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.Code === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

/** Reads exactly `n` bytes off the front of `s` (paused), putting back what came with them. */
async function readHead(s: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const c = s.read() as Buffer | null;
    if (c !== null) {
      parts.push(c);
      len += c.length;
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        s.off('readable', onReadable);
        s.off('end', onEnd);
        s.off('error', done);
        s.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onReadable = () => done();
      const onEnd = () => done(new Error('the object ended inside its header'));
      const onClose = () => done(new Error('the object stream closed inside its header'));
      s.on('readable', onReadable);
      s.on('end', onEnd);
      s.on('error', done);
      s.on('close', onClose);
    });
  }
  const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, len);
  if (all.length > n) s.unshift(all.subarray(n));
  return all.subarray(0, n);
}
