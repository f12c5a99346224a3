/**
 * A receiver on loopback like a partner's (a municipality's or GP system's
 * push url, the VANS provider's endpoint): HTTPS with the dev PKI's server
 * certificate, a client certificate from the dev CA required. It records
 * every request (headers, body, the client certificate's CN, path) and
 * answers with the status `answer` gives for it.
 */
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';

export interface Hit {
  headers: IncomingHttpHeaders;
  body: Buffer;
  clientCn: string;
  path: string;
}

export async function startMtlsReceiver(
  pki: { serverCert: string; serverKey: string; caCert: string },
  answer: (hit: Hit, hits: readonly Hit[]) => number = () => 204,
): Promise<{ url(path: string): string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const server = https.createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ca: readFileSync(pki.caCert),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const cert = (req.socket as TLSSocket).getPeerCertificate();
        const hit = { headers: req.headers, body: Buffer.concat(chunks), clientCn: String(cert.subject?.CN), path: req.url ?? '' };
        hits.push(hit);
        res.writeHead(answer(hit, hits)).end();
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: (path) => `https://127.0.0.1:${port}${path}`,
    hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
