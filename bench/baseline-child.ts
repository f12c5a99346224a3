/**
 * Benchmark baseline: a bare node:https server doing the same durable work as
 * the gateway's blob store, and nothing else — the cost floor of intake.
 *
 * Same server certificate and client CA as the gateway, mutual TLS
 * (requestCert, rejectUnauthorized), keep-alive. Every request body (the whole
 * multipart body, unparsed) streams through SHA-256 and AES-256-GCM under a
 * fresh data key into a temp file (≤ 1 MiB coalesced writes), which is
 * fsync'd, renamed into a fan-out directory, and whose directory is fsync'd;
 * then 201 with a small JSON body. No multipart parsing, validation, database,
 * signing or logging.
 *
 * With BASELINE_S3_ENDPOINT (the `intakeS3` part, issue 16) the ciphertext goes to an S3-compatible store
 * instead, as the gateway's S3 blob store sends it: one @aws-sdk/lib-storage Upload per request (5 MiB parts,
 * 2 in flight, so a 1 MiB package is one PutObject), checksums WHEN_REQUIRED, through a 1 MiB PassThrough.
 *
 * Environment: BASELINE_DIR, TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE; for S3 also BASELINE_S3_ENDPOINT,
 * BASELINE_S3_BUCKET, BASELINE_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
 * Prints `{ "ready": true, "pid", "port" }` on stdout when listening; stops on
 * SIGTERM, SIGINT or when stdin closes.
 */
import { createCipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const COALESCE = 1 << 20;

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`baseline-child: ${name} is not set`);
  return v;
}

const dir = env('BASELINE_DIR');
const tmpDir = join(dir, 'tmp');
mkdirSync(tmpDir, { recursive: true, mode: 0o700 });

async function fsyncDir(path: string): Promise<void> {
  const dh = await open(path, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer, pos: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, pos + off);
    off += bytesWritten;
  }
}

async function store(req: IncomingMessage): Promise<{ key: string; size: number; sha256: string }> {
  const key = randomUUID();
  const tmp = join(tmpDir, `${key}.tmp`);
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  cipher.setAAD(Buffer.from(key, 'ascii'));
  const hash = createHash('sha256');
  const fh = await open(tmp, 'wx', 0o600);
  let size = 0;
  try {
    let pos = 0;
    let parts: Buffer[] = [iv];
    let len = iv.length;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      hash.update(chunk);
      const ct = cipher.update(chunk);
      parts.push(ct);
      len += ct.length;
      if (len >= COALESCE) {
        const buf = Buffer.concat(parts, len);
        parts = [];
        len = 0;
        await writeAll(fh, buf, pos);
        pos += buf.length;
      }
    }
    parts.push(cipher.final(), cipher.getAuthTag());
    const buf = Buffer.concat(parts);
    await writeAll(fh, buf, pos);
    await fh.sync();
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  const fanout = join(dir, key.slice(0, 2));
  const created = await mkdir(fanout, { recursive: true, mode: 0o700 });
  if (created) await fsyncDir(dir);
  await rename(tmp, join(fanout, key));
  await fsyncDir(fanout);
  return { key, size, sha256: hash.digest('hex') };
}

const s3Endpoint = process.env.BASELINE_S3_ENDPOINT;
const s3 = s3Endpoint
  ? {
      bucket: env('BASELINE_S3_BUCKET'),
      client: new S3Client({
        region: env('BASELINE_S3_REGION'),
        endpoint: s3Endpoint,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    }
  : undefined;

/** The same work as store(), with the ciphertext streamed to the S3 store instead of a file. */
async function storeS3(req: IncomingMessage, target: NonNullable<typeof s3>): Promise<{ key: string; size: number; sha256: string }> {
  const key = randomUUID();
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  cipher.setAAD(Buffer.from(key, 'ascii'));
  const hash = createHash('sha256');
  const body = new PassThrough({ highWaterMark: COALESCE });
  const upload = new Upload({
    client: target.client,
    params: { Bucket: target.bucket, Key: `baseline/${key}`, Body: body, ContentType: 'application/octet-stream' },
    partSize: 5 * 1024 * 1024,
    queueSize: 2,
    leavePartsOnError: false,
  });
  const done = upload.done();
  done.catch((e: unknown) => body.destroy(e as Error));
  let size = 0;
  body.write(iv);
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    hash.update(chunk);
    if (!body.write(cipher.update(chunk))) await once(body, 'drain');
  }
  body.end(Buffer.concat([cipher.final(), cipher.getAuthTag()]));
  await done;
  return { key, size, sha256: hash.digest('hex') };
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as TLSSocket;
  if (!socket.authorized) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"client certificate required"}');
    req.resume();
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    req.resume();
    return;
  }
  (s3 ? storeS3(req, s3) : store(req)).then(
    (r) => {
      const body = JSON.stringify({ receiptId: randomUUID(), receivedAt: new Date().toISOString(), ...r });
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    },
    (e: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (e as Error).message }));
    },
  );
}

const server = https.createServer(
  {
    cert: readFileSync(env('TLS_CERT_FILE'), 'utf8'),
    key: readFileSync(env('TLS_KEY_FILE'), 'utf8'),
    ca: readFileSync(env('TLS_CLIENT_CA_FILE'), 'utf8'),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  },
  handler,
);
server.keepAliveTimeout = 5_000;
server.headersTimeout = 60_000;

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  s3?.client.destroy();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 3_000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as { port: number }).port;
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, port }) + '\n');
});
