/**
 * What every multipart upload shares (case packages, responses): reading a
 * small JSON part with a size cap, and turning multer's and the disk's
 * errors into problems a partner can act on.
 */
import { isUtf8 } from 'node:buffer';
import type { Request, RequestHandler, Response } from 'express';
import multer from 'multer';
import { badRequest, insufficientStorage, Problem, tooLarge } from './problem.js';
import { toProblem } from './http.js';
import { loneSurrogateAt, validationProblem } from './validate.js';

export interface UploadProblemLimits {
  maxDocumentBytes: number;
  maxDocuments: number;
  maxManifestBytes: number;
  /** the least data rate of an upload's body (issue 15); absent or 0 bytes/s = none */
  minRate?: MinUploadRate;
}

export interface MinUploadRate {
  bytesPerSecond: number;
  windowSeconds: number;
}

/**
 * Runs a multer middleware over `req` and resolves when the body is read and stored. With `rate`, a body that
 * arrives slower than `rate.bytesPerSecond`, averaged over `rate.windowSeconds`, is refused with 408 the moment
 * a window falls short (issue 15: a sender trickling a byte every 45 s held an upload slot for 30 minutes).
 * The 408 carries `Connection: close`: once it is sent the connection ends, which aborts the parts still
 * arriving, and the storage engines remove what they had written.
 */
export function runMultipart(upload: RequestHandler, req: Request, res: Response, rate?: MinUploadRate): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let stop = () => {};
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stop();
      if (err) reject(err);
      else resolve();
    };
    upload(req, res, (err?: unknown) => settle(err));
    // multer has piped the request into its parser by now (synchronously), so counting its 'data' takes nothing away.
    if (!settled && rate && rate.bytesPerSecond > 0) stop = watchRate(req, res, rate, settle);
  });
}

/**
 * Calls `onSlow` with a 408 problem when fewer than bytesPerSecond × windowSeconds bytes of the body arrive in a
 * window. Only time the gateway spends waiting for the client counts: while the request is held back by the
 * gateway itself (a slow disk, the manifest being checked: backpressure), the window stands still. Returns stop().
 */
export function watchRate(req: Request, res: Response, rate: MinUploadRate, onSlow: (p: Problem) => void): () => void {
  const windowMs = rate.windowSeconds * 1000;
  const need = rate.bytesPerSecond * rate.windowSeconds;
  const tickMs = Math.min(1000, Math.max(50, Math.floor(windowMs / 10)));
  let bytes = 0;
  let waited = 0;
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
  };
  req.on('data', onData);
  const timer = setInterval(() => {
    if (req.complete || req.destroyed) return stop();
    if (req.readableFlowing === false || req.readableLength > 0) return; // the gateway is behind, not the client
    waited += tickMs;
    if (waited < windowMs) return;
    if (bytes >= need) {
      waited = 0;
      bytes = 0;
      return;
    }
    stop();
    // Node ends a connection whose answer says `Connection: close` once the answer is out (should it linger, it
    // goes). The request then no longer hears of its socket, so it is aborted here: that ends the parts still
    // arriving, and the storage engines remove what they had written.
    const socket = req.socket;
    socket.once('close', () => req.destroy());
    res.once('finish', () => setTimeout(() => socket.destroy(), 5000).unref());
    onSlow(
      new Problem({
        status: 408,
        title: 'Request timeout',
        type: 'upload-too-slow',
        detail:
          `the upload arrived at ${Math.floor(bytes / rate.windowSeconds)} bytes/s over the last ${rate.windowSeconds} s; ` +
          `the gateway needs at least ${rate.bytesPerSecond} bytes/s. Nothing was kept; send it again.`,
        headers: { Connection: 'close' },
      }),
    );
  }, tickMs);
  timer.unref();
  function stop(): void {
    clearInterval(timer);
    req.off('data', onData);
  }
  return stop;
}

/** Maps multer/busboy errors to problems a partner can act on. */
export function uploadProblem(err: unknown, limits: UploadProblemLimits): Problem {
  if (err instanceof Problem) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return insufficientStorage(
      'the gateway has no room to store the documents now; nothing was receipted. Send the package again later with the same packageId.',
    );
  }
  if (err instanceof multer.MulterError) {
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return tooLarge(`document "${err.field}" is larger than ${limits.maxDocumentBytes} bytes`, 'document-too-large');
      case 'LIMIT_FILE_COUNT':
        return tooLarge(`a package holds at most ${limits.maxDocuments} documents`, 'too-many-documents');
      case 'LIMIT_PART_COUNT':
        return tooLarge('the package has too many parts', 'too-many-parts');
      case 'LIMIT_FIELD_VALUE':
        return err.field === 'manifest'
          ? tooLarge(`the manifest is larger than ${limits.maxManifestBytes} bytes`, 'manifest-too-large')
          : badRequest(`field "${err.field}" is too large`, undefined, 'field-too-large');
      case 'LIMIT_FIELD_COUNT':
        return badRequest(
          'the package has too many text fields; send only "manifest" and the document parts',
          undefined,
          'too-many-fields',
        );
      default:
        return badRequest(`malformed multipart body: ${err.message}`, undefined, 'malformed-multipart');
    }
  }
  const msg = (err as Error)?.message ?? '';
  if (/Unexpected end of form|Malformed|boundary|multipart/i.test(msg)) {
    return badRequest(`malformed multipart body: ${msg}`, undefined, 'malformed-multipart');
  }
  return toProblem(err);
}

export async function readSmall(stream: NodeJS.ReadableStream, max: number, part = 'manifest'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw tooLarge(`the ${part} is larger than ${max} bytes`, `${part}-too-large`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The offset of the first byte of `b` that does not start a well-formed UTF-8 sequence (RFC 3629), or -1. */
export function firstInvalidUtf8(b: Buffer): number {
  if (isUtf8(b)) return -1;
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n >= b.length) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const x = b[i + k]!;
      if ((x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    const min = n === 1 ? 0x80 : n === 2 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return b.length; // not reached: isUtf8 said otherwise
}

export interface JsonPartOptions {
  /** for the detail: "the manifest", "the \"response\" part" */
  what: string;
  /** the field the errors name as the root (`manifest`, `response`) */
  field: string;
  /** problem type slug of a refusal (`invalid-manifest`, `validation`) */
  type: string;
  /** problem type slug of text that is not JSON at all (a 400) */
  syntaxType: string;
}

/**
 * Parses a JSON part of a multipart upload (the manifest, a response): UTF-8 only (RFC 8259 §8.1), and no lone
 * surrogates anywhere (issue 15: one gave a 500 and left the documents behind). Bytes that are not UTF-8 and
 * lone surrogates are a 422 naming the byte offset or the field; text that is not JSON is a 400.
 */
export function parseJsonPart(raw: Buffer, opts: JsonPartOptions): unknown {
  checkUtf8(raw, opts);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw badRequest(
      `${opts.what} is not valid JSON: ${(e as Error).message}`,
      [{ path: opts.field, message: 'not valid JSON' }],
      opts.syntaxType,
    );
  }
  checkSurrogates(json, opts);
  return json;
}

/**
 * The encoding half of parseJsonPart, for a caller that parses the JSON itself: bytes that are not UTF-8, and
 * lone surrogates in JSON that parses, are a 422; text that is not JSON passes (the caller refuses it).
 */
export function checkJsonEncoding(raw: Buffer, opts: Omit<JsonPartOptions, 'syntaxType'>): void {
  checkUtf8(raw, opts);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return;
  }
  checkSurrogates(json, opts);
}

function checkUtf8(raw: Buffer, opts: Omit<JsonPartOptions, 'syntaxType'>): void {
  const bad = firstInvalidUtf8(raw);
  if (bad >= 0) {
    throw validationProblem(
      [
        {
          path: opts.field,
          message: `byte ${bad} (0x${raw[bad]!.toString(16).padStart(2, '0')}) is not valid UTF-8; send the JSON encoded as UTF-8`,
          da: 'Teksten er ikke gyldig UTF-8',
        },
      ],
      { what: opts.what, type: opts.type },
    );
  }
}

function checkSurrogates(json: unknown, opts: Omit<JsonPartOptions, 'syntaxType'>): void {
  const at = loneSurrogateAt(json);
  if (at) {
    throw validationProblem(
      [
        {
          path: at,
          message:
            'holds a lone UTF-16 surrogate (a \\uD800–\\uDFFF escape without its pair), which is no character and has no UTF-8 form; ' +
            'escape a character outside the BMP as its surrogate pair, or send it as UTF-8',
          da: 'Indeholder et ugyldigt tegn (et enligt UTF-16-surrogat)',
        },
      ],
      { what: opts.what, type: opts.type },
    );
  }
}
