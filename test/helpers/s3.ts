/**
 * An S3-compatible server on loopback for tests (issue 16): s3rver on
 * 127.0.0.1, an ephemeral port, a temp directory and a fresh bucket.
 *
 * s3rver 3.7 implements neither ListMultipartUploads nor
 * AbortMultipartUpload (both answer an error), which the blob store relies on
 * (a failed put aborts its upload; sweepTemp aborts stale ones). The helper
 * adds both, on s3rver's own filesystem layout (an open upload is the
 * directory `<bucket>/._S3rver_uploads/<uploadId>` holding its key and parts),
 * in front of s3rver's router; `openUploads()` lists what is still open.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
// @ts-expect-error s3rver has no type declarations
import S3rver from 's3rver';
import { S3Client } from '@aws-sdk/client-s3';

/** s3rver's default credentials */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const S3_REGION = 'eu-north-1';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** the server's storage directory */
  dir: string;
  /** the gateway's environment for this store (BLOB_STORE=s3, S3_*, AWS credentials) */
  env(prefix?: string): Record<string, string>;
  /** a raw client on the same store (tests tamper with objects through it) */
  client(): S3Client;
  /** open multipart uploads: their object keys */
  openUploads(): string[];
  close(): Promise<void>;
}

interface KoaCtx {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  status: number;
  body: unknown;
  type: string;
  req: IncomingMessage;
  res: ServerResponse;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function startTestS3(): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'pk-s3-'));
  const bucket = `pk-${randomBytes(4).toString('hex')}`;
  const uploadsDir = join(dir, bucket, '._S3rver_uploads');
  const listUploads = () => {
    let ids: string[];
    try {
      ids = readdirSync(uploadsDir);
    } catch {
      return [];
    }
    return ids.map((id) => ({
      id,
      key: readFileSync(join(uploadsDir, id, 'key'), 'utf8'),
      initiated: statSync(join(uploadsDir, id, 'key')).mtime,
    }));
  };
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] }) as {
    middleware: Array<(ctx: KoaCtx, next: () => Promise<void>) => Promise<void>>;
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  };
  server.middleware.unshift(async (ctx, next) => {
    const [, b, ...rest] = ctx.path.split('/');
    if (b !== bucket) return next();
    if (ctx.method === 'DELETE' && rest.length > 0 && ctx.query.uploadId) {
      // AbortMultipartUpload
      const id = ctx.query.uploadId;
      if (!/^[0-9a-f]+$/.test(id) || !listUploads().some((u) => u.id === id)) {
        ctx.status = 404;
        ctx.type = 'application/xml';
        ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>';
        return;
      }
      rmSync(join(uploadsDir, id), { recursive: true, force: true });
      ctx.status = 204;
      ctx.body = '';
      return;
    }
    if (ctx.method === 'GET' && rest.join('') === '' && 'uploads' in ctx.query) {
      // ListMultipartUploads (one page)
      const prefix = ctx.query.prefix ?? '';
      const uploads = listUploads().filter((u) => u.key.startsWith(prefix));
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>' +
        `<Bucket>${bucket}</Bucket><Prefix>${xmlEscape(prefix)}</Prefix><IsTruncated>false</IsTruncated>` +
        uploads
          .map(
            (u) =>
              `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
          )
          .join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    return next();
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    bucket,
    dir,
    env: (prefix = 'postkasse/') => ({
      BLOB_STORE: 's3',
      S3_BUCKET: bucket,
      S3_PREFIX: prefix,
      S3_ENDPOINT: endpoint,
      S3_REGION,
      S3_FORCE_PATH_STYLE: 'true',
    }),
    client() {
      const c = new S3Client({
        region: S3_REGION,
        endpoint,
        forcePathStyle: true,
        credentials: S3_CREDENTIALS,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      clients.push(c);
      return c;
    },
    openUploads: () => listUploads().map((u) => u.key),
    async close() {
      for (const c of clients) c.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The AWS SDK's default credential chain reads these: set them for gateways started in this process (s3rver's defaults). */
export function useS3Credentials(): void {
  process.env.AWS_ACCESS_KEY_ID = S3_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3_CREDENTIALS.secretAccessKey;
}
