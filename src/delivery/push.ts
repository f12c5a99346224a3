/**
 * Pushing one message to a party's `push.url` over mutual TLS with the
 * gateway's client certificate. The body is the envelope's exact signed
 * bytes (streamed), with `Message-Signature` and `Message-Id` so the
 * receiver can verify and deduplicate (the same message always carries the
 * same id). Any 2xx counts as delivered; anything else, or no answer within
 * the timeout, is a failure the caller retries.
 */
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface PushTls {
  cert: string;
  key: string;
  /** trust anchors for receivers' server certificates; undefined = the system's */
  ca?: string;
}

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
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method: 'POST',
        hostname: u.hostname,
        port: u.port || 443,
        path: `${u.pathname}${u.search}`,
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca ? { ca: tls.ca } : {}),
        minVersion: 'TLSv1.2',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': String(r.size),
          'message-id': r.messageId,
          'message-signature': r.signatureB64,
        },
        timeout: r.timeoutMs ?? 30_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${u.host} within ${r.timeoutMs ?? 30_000} ms`)));
    req.on('error', (err) => {
      r.body.destroy();
      reject(err);
    });
    r.body.on('error', (err) => req.destroy(err));
    r.body.pipe(req);
  });
}
