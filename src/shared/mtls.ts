/**
 * One HTTPS POST over mutual TLS (TLS 1.2+) with the gateway's client
 * certificate: the body streamed, the caller's headers, a timeout. Pushes to
 * parties (src/delivery/push.ts) and to the VANS provider
 * (src/medcom/vans-transport.ts) go through it.
 */
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface PushTls {
  cert: string;
  key: string;
  /** trust anchors for receivers' server certificates; undefined = the system's */
  ca?: string;
}

export interface MtlsPostRequest {
  /** an https: url */
  url: string;
  /** request headers, content-type and content-length included */
  headers: Record<string, string>;
  /** streamed as the request body; destroyed when the request fails */
  body: Readable;
  /** no answer within this many ms fails the request; default 30 s */
  timeoutMs?: number;
}

/** One HTTPS POST over mutual TLS (TLS 1.2+), streaming the body; resolves with the status once the response has ended. */
export async function mtlsPost(tls: PushTls, r: MtlsPostRequest): Promise<{ status: number }> {
  const u = new URL(r.url);
  if (u.protocol !== 'https:') throw new Error(`url must be https: ${u.protocol}`);
  const timeoutMs = r.timeoutMs ?? 30_000;
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
        headers: r.headers,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${u.host} within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      r.body.destroy();
      reject(err);
    });
    r.body.on('error', (err) => req.destroy(err));
    r.body.pipe(req);
  });
}
