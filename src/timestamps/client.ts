/**
 * The RFC 3161 client: asks the configured TSAs, in order, for a timestamp
 * over a SHA-256 and returns the first granted response whose token verifies.
 *
 * Each request carries a fresh 64-bit nonce and certReq TRUE (so the token
 * holds the TSA certificate and verifies on its own). A response counts only
 * when it is granted, its token verifies (rfc3161.ts: signature, TSA
 * certificate chaining to `trustedCaPems` with the timeStamping EKU,
 * ESSCertID) and its TSTInfo echoes our message imprint and nonce; anything
 * else is a failure of that TSA and the next one is tried.
 */
import { randomBytes } from 'node:crypto';
import { CmsError } from '../receipts/cms.js';
import { encodeRequest, parseResponse, verifyTokenOrThrow, verifyTimestampToken } from './rfc3161.js';

export { verifyTimestampToken };

export interface TimestampResult {
  tsaUrl: string;
  genTime: Date;
  serialNumber: string;
  /** DER TimeStampResp */
  response: Buffer;
  /** DER ContentInfo(SignedData) = TimeStampToken */
  token: Buffer;
}

export interface Timestamper {
  stamp(sha256: Buffer): Promise<TimestampResult>;
}

/** Every TSA failed; `message` names each URL with its reason. */
export class TimestampError extends Error {
  constructor(readonly failures: { tsaUrl: string; reason: string }[]) {
    super(`no TSA granted a timestamp: ${failures.map((f) => `${f.tsaUrl}: ${f.reason}`).join('; ')}`);
    this.name = 'TimestampError';
  }
}

/** fetch's "fetch failed" hides the network error (ECONNREFUSED, …) in its cause. */
function reasonOf(e: Error): string {
  const cause = (e as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
  const code = cause?.code ?? cause?.errors?.[0]?.code;
  if (e.name === 'TimeoutError') return 'no answer in time';
  return code ? `${e.message} (${code})` : cause?.message ? `${e.message} (${cause.message})` : e.message;
}

const MAX_RESPONSE_BYTES = 256 * 1024;

export function createTimestamper(opts: { urls: string[]; trustedCaPems: string[]; timeoutMs?: number }): Timestamper {
  if (opts.urls.length === 0) throw new Error('createTimestamper: no TSA URL');
  const timeoutMs = opts.timeoutMs ?? 10_000;

  async function ask(url: string, sha256: Buffer): Promise<TimestampResult> {
    const nonce = randomBytes(8);
    nonce[0] = nonce[0]! & 0x7f || 0x01; // positive, minimal
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
      body: new Uint8Array(encodeRequest(sha256, nonce)),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    const body = Buffer.from(await res.arrayBuffer());
    if (!res.ok) throw new CmsError(`HTTP ${res.status}`);
    if (body.length > MAX_RESPONSE_BYTES) throw new CmsError(`response too large (${body.length} bytes)`);
    const parsed = parseResponse(body);
    if (parsed.status > 1) throw new CmsError(`TSA refused: ${parsed.statusText}${parsed.detail ? ` (${parsed.detail})` : ''}`);
    if (!parsed.token) throw new CmsError('granted response without a token');
    const tst = verifyTokenOrThrow(parsed.token, sha256, opts.trustedCaPems);
    if (tst.nonce !== nonce.toString('hex')) throw new CmsError('the token does not echo our nonce');
    return { tsaUrl: url, genTime: tst.genTime, serialNumber: tst.serialNumber, response: body, token: parsed.token };
  }

  return {
    async stamp(sha256: Buffer): Promise<TimestampResult> {
      if (sha256.length !== 32) throw new TypeError('stamp needs a 32-byte SHA-256 digest');
      const failures: { tsaUrl: string; reason: string }[] = [];
      for (const url of opts.urls) {
        try {
          return await ask(url, sha256);
        } catch (e) {
          failures.push({ tsaUrl: url, reason: reasonOf(e as Error) });
        }
      }
      throw new TimestampError(failures);
    },
  };
}
