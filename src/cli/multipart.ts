/**
 * Streaming multipart/form-data encoder (RFC 7578) for the CLI, tests and
 * benchmarks.
 *
 * File bodies (`{ path }`) are streamed from disk and never read whole into
 * memory; their sizes are taken when the encoder is created, so `length` is the
 * exact byte count of the encoded body and can be sent as Content-Length. A
 * file that changes size between creation and streaming makes the stream fail
 * rather than send a body that disagrees with its Content-Length.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';

export interface MultipartPart {
  /** Form field name. */
  name: string;
  /** File name; for a `{ path }` body it defaults to the file's base name. */
  filename?: string;
  contentType: string;
  body: Buffer | { path: string };
}

export interface MultipartBody {
  boundary: string;
  /** Value for the Content-Type header, with the boundary. */
  contentType: string;
  /** Exact byte length of everything `stream()` produces. */
  length: number;
  /** A fresh stream of the encoded body on every call. */
  stream(): Readable;
}

const CRLF = '\r\n';

/**
 * Quotes a name or file name for Content-Disposition the way browsers do
 * (WHATWG HTML "multipart/form-data encoding algorithm"): `"` → %22, CR → %0D,
 * LF → %0A; everything else is sent as UTF-8.
 */
function quote(value: string): string {
  return `"${value.replace(/\r\n|\r|\n/g, '%0D%0A').replace(/"/g, '%22')}"`;
}

type Prepared = { head: Buffer; body: Buffer } | { head: Buffer; path: string; size: number };

export function createMultipart(parts: MultipartPart[]): MultipartBody {
  // 24 random bytes: cannot plausibly occur in any part by chance.
  const boundary = `----postkasse-${randomBytes(24).toString('hex')}`;
  const prepared: Prepared[] = parts.map((p, i) => {
    if (!p.name) throw new TypeError(`multipart part ${i}: name must not be empty`);
    if (/[\r\n]/.test(p.contentType) || p.contentType.trim() === '') {
      throw new TypeError(`multipart part ${i} (${p.name}): invalid content type ${JSON.stringify(p.contentType)}`);
    }
    const isFile = !Buffer.isBuffer(p.body);
    const filename = p.filename ?? (isFile ? basename((p.body as { path: string }).path) : undefined);
    const disposition = `form-data; name=${quote(p.name)}${filename !== undefined ? `; filename=${quote(filename)}` : ''}`;
    const head = Buffer.from(
      `--${boundary}${CRLF}Content-Disposition: ${disposition}${CRLF}Content-Type: ${p.contentType}${CRLF}${CRLF}`,
      'utf8',
    );
    if (Buffer.isBuffer(p.body)) return { head, body: p.body };
    const { path } = p.body;
    const st = statSync(path);
    if (!st.isFile()) throw new TypeError(`multipart part ${i} (${p.name}): ${path} is not a regular file`);
    return { head, path, size: st.size };
  });
  const tail = Buffer.from(`--${boundary}--${CRLF}`, 'utf8');
  const crlf = Buffer.from(CRLF, 'latin1');

  let length = tail.length;
  for (const p of prepared) length += p.head.length + ('body' in p ? p.body.length : p.size) + crlf.length;

  async function* generate(): AsyncGenerator<Buffer> {
    for (const p of prepared) {
      yield p.head;
      if ('body' in p) {
        if (p.body.length > 0) yield p.body;
      } else {
        let sent = 0;
        const file = createReadStream(p.path, { highWaterMark: 64 * 1024 });
        try {
          for await (const chunk of file as AsyncIterable<Buffer>) {
            sent += chunk.length;
            if (sent > p.size) throw new Error(`${p.path} grew while it was being sent (expected ${p.size} bytes)`);
            yield chunk;
          }
        } finally {
          file.destroy();
        }
        if (sent !== p.size) throw new Error(`${p.path} shrank while it was being sent (expected ${p.size} bytes, read ${sent})`);
      }
      yield crlf;
    }
    yield tail;
  }

  return {
    boundary,
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    // Byte mode (not object mode), so highWaterMark bounds the buffered bytes.
    stream: () => Readable.from(generate(), { objectMode: false, highWaterMark: 64 * 1024 }),
  };
}
