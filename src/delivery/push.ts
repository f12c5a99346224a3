/**
 * Pushing one message to a party's `push.url` over mutual TLS with the
 * gateway's client certificate. The body is the envelope's exact signed
 * bytes (streamed), with `Message-Signature` and `Message-Id` so the
 * receiver can verify and deduplicate (the same message always carries the
 * same id). Any 2xx counts as delivered; anything else, or no answer within
 * the timeout, is a failure the caller retries.
 *
 * The transport underneath is `mtlsPost` (src/shared/mtls.ts).
 */
import type { Readable } from 'node:stream';
import { mtlsPost, type PushTls } from '../shared/mtls.js';

export type { PushTls };

export interface PushRequest {
  url: string;
  messageId: string;
  signatureB64: string;
  size: number;
  body: Readable;
  timeoutMs?: number;
}

export async function pushEnvelope(tls: PushTls, r: PushRequest): Promise<{ status: number }> {
  const u = new URL(r.url);
  if (u.protocol !== 'https:') throw new Error(`push url must be https: ${u.protocol}`);
  return mtlsPost(tls, {
    url: r.url,
    headers: {
      'content-type': 'application/json',
      'content-length': String(r.size),
      'message-id': r.messageId,
      'message-signature': r.signatureB64,
    },
    body: r.body,
    timeoutMs: r.timeoutMs,
  });
}
