/**
 * An independent TSA for tests: `openssl ts -reply` behind a tiny HTTP
 * server on loopback (one openssl process per request, requests one at a
 * time so the serial file is not raced). Its own CA and TSA certificate
 * (extendedKeyUsage critical, timeStamping) are made with openssl in a
 * temporary directory, so nothing of the gateway's code is involved.
 *
 * `down()` makes it answer nothing useful (connections are refused once the
 * listener is closed); `up()` listens again on the same port.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpensslTsa {
  url: string;
  /** PEM of the TSA's CA (the trust anchor for its tokens) */
  caPem: string;
  caFile: string;
  tsaCertFile: string;
  dir: string;
  /** requests answered */
  readonly served: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and a TSA certificate (critical EKU timeStamping), made with openssl in `dir`. */
export function makeOpensslTsaPki(dir: string): { caFile: string; tsaCert: string; tsaKey: string } {
  writeFileSync(
    join(dir, 'ext.cnf'),
    [
      '[ca_ext]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '[tsa_ext]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, nonRepudiation',
      'extendedKeyUsage = critical, timeStamping',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=Test TSA CA'],
    dir,
  );
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tsa.key', '-out', 'tsa.csr', '-subj', '/CN=Test TSA'], dir);
  openssl(
    ['x509', '-req', '-in', 'tsa.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x1234', '-days', '30'].concat([
      '-extfile',
      'ext.cnf',
      '-extensions',
      'tsa_ext',
      '-out',
      'tsa.pem',
    ]),
    dir,
  );
  return { caFile: join(dir, 'ca.pem'), tsaCert: join(dir, 'tsa.pem'), tsaKey: join(dir, 'tsa.key') };
}

export async function startOpensslTsa(opts: { port?: number } = {}): Promise<OpensslTsa> {
  const dir = mkdtempSync(join(tmpdir(), 'postkasse-tsa-'));
  const pki = makeOpensslTsaPki(dir);
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(
    join(dir, 'tsa.cnf'),
    [
      '[ tsa ]',
      'default_tsa = tsa1',
      '[ tsa1 ]',
      `serial = ${join(dir, 'serial')}`,
      'crypto_device = builtin',
      `signer_cert = ${pki.tsaCert}`,
      `signer_key = ${pki.tsaKey}`,
      'signer_digest = sha256',
      'default_policy = 1.3.6.1.4.1.4146.2.3',
      'digests = sha256, sha384, sha512',
      'accuracy = secs:1',
      'ordering = no',
      'tsa_name = yes',
      'ess_cert_id_chain = no',
      'ess_cert_id_alg = sha256',
      '',
    ].join('\n'),
  );

  let served = 0;
  let chain: Promise<unknown> = Promise.resolve();
  const queryFile = join(dir, 'query.tsq');
  const reply = (query: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      writeFileSync(queryFile, query);
      const p = spawn('openssl', ['ts', '-reply', '-config', join(dir, 'tsa.cnf'), '-queryfile', queryFile], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      p.stdout.on('data', (d: Buffer) => out.push(d));
      p.stderr.on('data', (d: Buffer) => err.push(d));
      p.on('error', reject);
      p.on('close', (code) =>
        code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`openssl ts -reply: ${Buffer.concat(err).toString()}`)),
      );
    });

  const server = http.createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (d: Buffer) => body.push(d));
    req.on('end', () => {
      if (req.method !== 'POST' || req.headers['content-type'] !== 'application/timestamp-query') {
        res.writeHead(415).end();
        return;
      }
      const job = chain.then(() => reply(Buffer.concat(body)));
      chain = job.catch(() => undefined);
      job.then(
        (der) => {
          served++;
          res.writeHead(200, { 'content-type': 'application/timestamp-reply', 'content-length': der.length }).end(der);
        },
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(e.message),
      );
    });
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  return {
    url: `http://127.0.0.1:${port}/tsa`,
    caPem: readFileSync(pki.caFile, 'utf8'),
    caFile: pki.caFile,
    tsaCertFile: pki.tsaCert,
    dir,
    get served() {
      return served;
    },
    down: () => (server.listening ? stop() : Promise.resolve()),
    up: () => (server.listening ? Promise.resolve() : listen(port)),
    async close() {
      if (server.listening) await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
