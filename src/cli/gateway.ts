/**
 * What every command that talks to the gateway shares: where the gateway is
 * (--url, else POSTKASSE_URL, else https://localhost:$PORT), who we are
 * (--as PARTY with the development PKI, or --cert/--key), which CA we trust
 * (--ca, else the development CA), one mutual-TLS request on a private agent,
 * and the readable form of a problem answer.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import https from 'node:https';
import { join, resolve } from 'node:path';
import type { ParseArgsConfig } from 'node:util';
import { usageError, type CommandResult } from './args.js';

const DEFAULT_PORT = 8443;
export const DEFAULT_PARTY = 'kommune-101';
/** Seconds the connection may stay idle (nothing sent, nothing received) before a command gives up. */
export const DEFAULT_TIMEOUT_S = 120;

/** The options of `GATEWAY_OPTIONS`, as parsed. */
export interface GatewayOptionValues {
  url?: string;
  as?: string;
  cert?: string;
  key?: string;
  ca?: string;
}

export const GATEWAY_OPTIONS = {
  url: { type: 'string' },
  as: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
} satisfies NonNullable<ParseArgsConfig['options']>;

/** Usage lines for `GATEWAY_OPTIONS` (same column as the commands' own options). */
export const GATEWAY_OPTIONS_USAGE = `  --url URL            gateway base URL (default $POSTKASSE_URL, else
                       https://localhost:$PORT with PORT default ${DEFAULT_PORT})
  --as PARTY           use the development client certificate of PARTY
                       (default ${DEFAULT_PARTY}) from \${DATA_DIR:-./data}/pki/clients
  --cert FILE          client certificate (PEM); with --key, instead of --as
  --key FILE           client private key (PEM)
  --ca FILE            CA certificate(s) to trust for the gateway and its
                       signatures (default: the development CA)`;

/** Development PKI file locations, as created by the gateway (src/pki/devpki.ts). */
export function devPkiPaths(env: NodeJS.ProcessEnv = process.env, partyId = DEFAULT_PARTY) {
  const dir = join(resolve(env.DATA_DIR?.trim() || './data'), 'pki');
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    clientCert: join(dir, 'clients', `${partyId}.pem`),
    clientKey: join(dir, 'clients', `${partyId}.key`),
  };
}

export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
}

export interface Gateway {
  /** The base URL, normalised to end in a slash. */
  base: URL;
  /** `path` (relative, e.g. `v1/mailbox`) under the base URL. */
  url(path: string): URL;
  tls: TlsMaterial;
  /** The CA file trusted (absolute), and whether it was given with --ca. */
  caFile: string;
  caGiven: boolean;
  /** The party id (--as) or the certificate file (--cert), for messages. */
  who: string;
}

/**
 * The gateway's base URL: --url, else POSTKASSE_URL, else
 * https://localhost:$PORT (PORT default 8443). Returns the URL or the reason
 * it is unusable (naming where it came from).
 */
export function gatewayBaseUrl(explicit: string | undefined, env: NodeJS.ProcessEnv): URL | string {
  let source: string;
  let base: string;
  if (explicit !== undefined) {
    source = '--url';
    base = explicit;
  } else if (env.POSTKASSE_URL?.trim()) {
    source = 'POSTKASSE_URL';
    base = env.POSTKASSE_URL.trim();
  } else {
    const port = env.PORT?.trim() || String(DEFAULT_PORT);
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      return `PORT ${JSON.stringify(env.PORT)} is not a TCP port (1–65535); set PORT or POSTKASSE_URL, or give --url`;
    }
    source = 'PORT';
    base = `https://localhost:${Number(port)}`;
  }
  let url: URL;
  try {
    url = new URL(base.endsWith('/') ? base : `${base}/`);
  } catch {
    return `${source} ${JSON.stringify(base)} is not a URL`;
  }
  if (url.protocol !== 'https:') return `${source} must be https:// (the gateway only speaks mutual TLS; got ${JSON.stringify(base)})`;
  return url;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Resolves the gateway URL and the client credentials from the command's
 * options. Returns the gateway, or the result to return at once: a usage
 * error (exit 2) for contradictory or malformed options, a failure (exit 1)
 * for unreadable credential files.
 */
export function resolveGateway(
  values: GatewayOptionValues,
  env: NodeJS.ProcessEnv,
  command: string,
  usage: string,
): { gateway: Gateway } | { done: CommandResult } {
  const usageFail = (message: string) => ({ done: usageError(command, usage, message) });
  const fail = (message: string) => ({ done: { code: 1, stdout: '', stderr: `${command}: ${message}\n` } });
  const base = gatewayBaseUrl(values.url, env);
  if (typeof base === 'string') return usageFail(base);
  if ((values.cert === undefined) !== (values.key === undefined)) return usageFail('--cert and --key go together');
  if (values.as !== undefined && values.cert !== undefined) return usageFail('give either --as or --cert/--key, not both');
  const partyId = values.as ?? DEFAULT_PARTY;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(partyId)) return usageFail(`--as ${JSON.stringify(partyId)} is not a party id`);
  const dev = devPkiPaths(env, partyId);
  const certFile = values.cert ?? dev.clientCert;
  const keyFile = values.key ?? dev.clientKey;
  const caFile = resolve(values.ca ?? dev.caCert);
  if (values.cert === undefined && !existsSync(certFile)) {
    return fail(
      `no development client certificate for "${partyId}" at ${certFile}.\n` +
        `Start the gateway once (npm start, same DATA_DIR) to create the development PKI, or give --cert and --key.`,
    );
  }
  let tls: TlsMaterial;
  try {
    tls = { cert: readPem(certFile, 'client certificate'), key: readPem(keyFile, 'client key'), ca: readPem(caFile, 'CA certificate') };
  } catch (err) {
    return fail((err as Error).message);
  }
  return {
    gateway: {
      base,
      url: (path) => new URL(path, base),
      tls,
      caFile,
      caGiven: values.ca !== undefined,
      who: values.cert !== undefined ? certFile : partyId,
    },
  };
}

export interface HttpAnswer {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Largest answer body kept in memory; receipts, lists and problems are small. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export interface GatewayRequest {
  req: ClientRequest;
  /** The answer's status and headers; its body is still to be read. Rejects when the request fails first. */
  response: Promise<IncomingMessage>;
  /** Closes the private agent's sockets; call once the answer is read. */
  close(): void;
}

/**
 * Starts one request over mutual TLS on a private keep-alive agent (so no
 * socket outlives the command, and a server that answers before it has read
 * the whole body does not reset the connection under the answer). The caller
 * writes the body (or ends the request), reads the answer and calls close().
 * The connection fails with ETIMEDOUT when it is idle for `idleTimeoutMs`.
 */
export function startRequest(
  url: URL,
  tls: TlsMaterial,
  opts: { method: string; headers?: Record<string, string>; idleTimeoutMs?: number },
): GatewayRequest {
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_TIMEOUT_S * 1000;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const req = https.request(url, {
    method: opts.method,
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    agent,
    headers: { accept: 'application/json, application/problem+json', ...opts.headers },
  });
  // Inactivity limit on the connection (not on the whole transfer, which may be long).
  req.setTimeout(idleTimeoutMs, () =>
    req.destroy(
      Object.assign(new Error(`no answer from the gateway: the connection was idle for ${idleTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' }),
    ),
  );
  const response = new Promise<IncomingMessage>((resolveResponse, reject) => {
    req.on('error', reject);
    req.on('response', resolveResponse);
  });
  return { req, response, close: () => agent.destroy() };
}

/** Reads a (small) answer body into memory: at most MAX_ANSWER_BYTES. */
export function readAnswer(res: IncomingMessage): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolveAnswer, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ANSWER_BYTES) {
        res.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the connection closed before the whole answer arrived')));
    res.on('end', () =>
      resolveAnswer({
        status: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        headers: res.headers,
        body: Buffer.concat(chunks),
      }),
    );
  });
}

/** A request without a body (GET, or a POST that carries nothing), its answer read into memory. */
export async function fetchAnswer(url: URL, tls: TlsMaterial, method: 'GET' | 'POST' = 'GET'): Promise<HttpAnswer> {
  const r = startRequest(url, tls, { method, headers: method === 'POST' ? { 'content-length': '0' } : {} });
  try {
    r.req.end();
    return await readAnswer(await r.response);
  } finally {
    r.close();
  }
}

/** The stderr line for a request that got no answer, with a hint when nothing listens. */
export function requestFailed(command: string, url: URL, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const hint = e.code === 'ECONNREFUSED' ? ' (is the gateway running? npm start; or set POSTKASSE_URL / give --url)' : '';
  return `${command}: request to ${url.href} failed: ${e.message}${hint}\n`;
}

/** Prints an RFC 9457 problem readably; falls back to the raw body. */
export function formatProblem(answer: HttpAnswer): string {
  const lines = [`HTTP ${answer.status} ${answer.statusMessage}`.trimEnd()];
  const text = answer.body.toString('utf8');
  let p: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) p = parsed as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  if (!p) {
    if (text.trim()) lines.push(text.trim());
    return `${lines.join('\n')}\n`;
  }
  if (typeof p.title === 'string') lines.push(`${p.title}${typeof p.type === 'string' ? ` (${p.type})` : ''}`);
  if (typeof p.detail === 'string') lines.push(`  ${p.detail}`);
  if (Array.isArray(p.errors)) {
    for (const e of p.errors as Array<{ path?: unknown; message?: unknown }>) {
      lines.push(`  - ${String(e?.path ?? '(root)')}: ${String(e?.message ?? '')}`);
    }
  }
  const known = new Set(['type', 'title', 'status', 'detail', 'errors']);
  for (const [k, v] of Object.entries(p)) if (!known.has(k)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  return `${lines.join('\n')}\n`;
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The openssl command that checks a detached signature over a file (without printing the content back). */
export function opensslVerifyCommand(sigFile: string, contentFile: string, caFile: string): string {
  return (
    `openssl cms -verify -binary -inform DER -in ${shellQuote(sigFile)} -content ${shellQuote(contentFile)} ` +
    `-CAfile ${shellQuote(caFile)} -out /dev/null`
  );
}

/** A server-chosen id that is safe as part of a file name (no separators, no `..`). */
export function isSafeId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id) && !id.includes('..');
}
