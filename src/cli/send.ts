/**
 * `send` command: post a case package (API.md "Sending a case package") over
 * mutual TLS, print the answer, and keep the receipt and its detached
 * signature as files a partner can check with openssl.
 *
 *   send --manifest m.json --file part=path [--file …] [--url URL] [--as PARTY]
 *        [--cert c.pem --key k.pem] [--ca ca.pem] [--out DIR]
 *   send --demo [--as PARTY] …
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { buildDemoPackage } from './demo.js';
import { createMultipart, type MultipartPart } from './multipart.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';

export const DEFAULT_URL = 'https://localhost:8443';
export const DEFAULT_PARTY = 'kommune-101';
export const DEFAULT_OUT_DIR = './receipts';
/** Seconds the connection may stay idle (nothing sent, nothing received) before send gives up. */
export const DEFAULT_TIMEOUT_S = 120;

export const SEND_USAGE = `usage: send --manifest FILE --file PART=PATH [--file PART=PATH …] [options]
       send --demo [options]

Posts a case package to POST /v1/packages over mutual TLS. On success prints
the receipt, writes receipt-<receiptId>.json (the exact signed bytes) and
receipt-<receiptId>.sig.der (the detached CMS signature) to --out, and prints
the openssl command that verifies them.

  --manifest FILE      the manifest (JSON), sent unchanged as the first part
  --file PART=PATH     a document; PART is its "part" in the manifest, whose
                       mediaType becomes the part's Content-Type (repeatable)
  --demo               build and send a valid demo package (rehab-team-advice,
                       fictitious citizen, small generated PDF)
  --url URL            gateway base URL (default ${DEFAULT_URL})
  --as PARTY           use the development client certificate of PARTY
                       (default ${DEFAULT_PARTY}) from \${DATA_DIR:-./data}/pki
  --cert FILE          client certificate (PEM); with --key, instead of --as
  --key FILE           client private key (PEM)
  --ca FILE            CA certificate(s) to trust for the gateway and its
                       receipt signature (default: the development CA)
  --out DIR            where to write receipts (default ${DEFAULT_OUT_DIR})
  --timeout SECONDS    give up when the connection is idle this long
                       (default ${DEFAULT_TIMEOUT_S})
  -h, --help           show this help
`;

const usageError = (message: string): CommandResult => sharedUsageError('send', SEND_USAGE, message);

function failure(message: string): CommandResult {
  return { code: 1, stdout: '', stderr: `send: ${message}\n` };
}

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

interface HttpAnswer {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Largest answer body kept; receipts and problems are small. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * POSTs a multipart body over mTLS. Resolves with the answer even when the
 * server answers early and closes the connection before the whole body was
 * sent (e.g. 413, 401); rejects with the upload's own error (file unreadable,
 * changed size) when that is what stopped the request.
 */
export async function postMultipart(
  url: URL,
  body: ReturnType<typeof createMultipart>,
  tls: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer },
  opts: { idleTimeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_TIMEOUT_S * 1000;
  // A private keep-alive agent, destroyed once the answer is in, so no socket
  // outlives the command. Keep-alive matters: with `Connection: close` a
  // server that answers early (413, 401) closes the connection while the body
  // is still arriving, which resets it and can lose the answer; on a
  // keep-alive connection node-based servers discard the rest of the body and
  // the answer arrives intact.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const req = https.request(url, {
    method: 'POST',
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    agent,
    headers: {
      'content-type': body.contentType,
      'content-length': String(body.length),
      accept: 'application/json, application/problem+json',
    },
  });
  // Inactivity limit on the connection (not on the whole upload, which may be long).
  req.setTimeout(idleTimeoutMs, () =>
    req.destroy(
      Object.assign(new Error(`no answer from the gateway: the connection was idle for ${idleTimeoutMs / 1000} s`), { code: 'ETIMEDOUT' }),
    ),
  );
  const answer = new Promise<HttpAnswer>((resolveAnswer, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
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
  });
  let uploading = true;
  const upload = pipeline(body.stream(), req).then(
    () => undefined,
    (err: Error) => err,
  );
  void upload.finally(() => (uploading = false));
  let result: HttpAnswer;
  try {
    result = await answer;
  } catch (err) {
    req.destroy();
    agent.destroy();
    const uploadError = await upload;
    // An upload error that is not just the consequence of the connection dying is the real cause.
    if (
      uploadError &&
      uploadError !== err &&
      !/socket hang up|ECONNRESET|EPIPE|ETIMEDOUT|premature close|aborted/i.test(
        `${uploadError.message} ${(uploadError as NodeJS.ErrnoException).code ?? ''}`,
      )
    ) {
      throw uploadError;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE' || code === 'ECONNRESET') {
      throw Object.assign(
        new Error(
          `${(err as Error).message}: the gateway closed the connection before answering (a rejected upload, e.g. over the size limits, or a proxy in between)`,
        ),
        { code },
      );
    }
    throw err;
  }
  // The gateway answered before it had the whole body (e.g. 413, 401): the
  // answer is final, so stop sending the rest.
  if (uploading) req.destroy();
  await upload;
  agent.destroy();
  return result;
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

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export async function sendCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'send' ? args.slice(1) : args;
  const parsed = parseCommand<{
    manifest?: string;
    file?: string[];
    demo?: boolean;
    url?: string;
    as?: string;
    cert?: string;
    key?: string;
    ca?: string;
    out?: string;
    timeout?: string;
    help?: boolean;
  }>(
    argv,
    {
      manifest: { type: 'string' },
      file: { type: 'string', multiple: true },
      demo: { type: 'boolean' },
      url: { type: 'string' },
      as: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      out: { type: 'string' },
      timeout: { type: 'string' },
    },
    'send',
    SEND_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const { values } = parsed;

  // --- the package --------------------------------------------------------
  const parts: MultipartPart[] = [];
  let packageId: unknown;
  if (values.demo) {
    if (values.manifest !== undefined || values.file?.length)
      return usageError('--demo builds its own package; leave out --manifest and --file');
    const demo = buildDemoPackage();
    packageId = demo.manifest.packageId;
    parts.push({ name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: demo.manifestBytes });
    for (const f of demo.files) parts.push({ name: f.part, filename: f.filename, contentType: f.mediaType, body: f.body });
  } else {
    if (values.manifest === undefined) return usageError('--manifest is required (or use --demo)');
    let raw: Buffer;
    try {
      raw = readFileSync(values.manifest);
    } catch (err) {
      return failure(`cannot read manifest ${values.manifest}: ${(err as Error).message}`);
    }
    let manifest: { packageId?: unknown; documents?: unknown };
    try {
      manifest = JSON.parse(raw.toString('utf8')) as typeof manifest;
    } catch (err) {
      return failure(`manifest ${values.manifest} is not valid JSON: ${(err as Error).message}`);
    }
    if (!manifest || typeof manifest !== 'object' || !Array.isArray(manifest.documents)) {
      return failure(`manifest ${values.manifest} has no "documents" list`);
    }
    packageId = manifest.packageId;
    const declared = new Map<string, string>();
    for (const d of manifest.documents as Array<{ part?: unknown; mediaType?: unknown }>) {
      if (d && typeof d.part === 'string') declared.set(d.part, typeof d.mediaType === 'string' ? d.mediaType : 'application/octet-stream');
    }
    parts.push({ name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: raw });
    const given = new Set<string>();
    for (const spec of values.file ?? []) {
      const eq = spec.indexOf('=');
      if (eq <= 0 || eq === spec.length - 1) return usageError(`--file must be PART=PATH (got ${JSON.stringify(spec)})`);
      const part = spec.slice(0, eq);
      const path = spec.slice(eq + 1);
      const mediaType = declared.get(part);
      if (mediaType === undefined) {
        return usageError(
          `--file ${part}=…: the manifest declares no document with part "${part}" (it declares: ${[...declared.keys()].join(', ') || 'none'})`,
        );
      }
      if (given.has(part)) return usageError(`--file ${part}=… given twice`);
      given.add(part);
      if (!existsSync(path)) return failure(`file ${path} for part "${part}" does not exist`);
      parts.push({ name: part, contentType: mediaType, body: { path } });
    }
    const missing = [...declared.keys()].filter((p) => !given.has(p));
    if (missing.length) return usageError(`the manifest declares part(s) ${missing.join(', ')} but no --file was given for them`);
  }

  let timeoutS = DEFAULT_TIMEOUT_S;
  if (values.timeout !== undefined) {
    timeoutS = Number(values.timeout);
    if (!/^\d+(\.\d+)?$/.test(values.timeout) || !(timeoutS > 0))
      return usageError(`--timeout must be a positive number of seconds (got ${JSON.stringify(values.timeout)})`);
  }

  // --- where and who ------------------------------------------------------
  let url: URL;
  try {
    const base = values.url ?? DEFAULT_URL;
    url = new URL('v1/packages', base.endsWith('/') ? base : `${base}/`);
  } catch {
    return usageError(`--url ${JSON.stringify(values.url)} is not a URL`);
  }
  if (url.protocol !== 'https:') return usageError('--url must be https:// (the gateway only speaks mutual TLS)');
  if ((values.cert === undefined) !== (values.key === undefined)) return usageError('--cert and --key go together');
  if (values.as !== undefined && values.cert !== undefined) return usageError('give either --as or --cert/--key, not both');
  const partyId = values.as ?? DEFAULT_PARTY;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(partyId)) return usageError(`--as ${JSON.stringify(partyId)} is not a party id`);
  const dev = devPkiPaths(env, partyId);
  const certFile = values.cert ?? dev.clientCert;
  const keyFile = values.key ?? dev.clientKey;
  const caFile = values.ca ?? dev.caCert;
  if (values.cert === undefined && !existsSync(certFile)) {
    return failure(
      `no development client certificate for "${partyId}" at ${certFile}.\n` +
        `Start the gateway once (npm start, same DATA_DIR) to create the development PKI, or give --cert and --key.`,
    );
  }
  let tls: { cert: string; key: string; ca: string };
  try {
    tls = { cert: readPem(certFile, 'client certificate'), key: readPem(keyFile, 'client key'), ca: readPem(caFile, 'CA certificate') };
  } catch (err) {
    return failure((err as Error).message);
  }

  // --- send ---------------------------------------------------------------
  const out: string[] = [];
  let body: ReturnType<typeof createMultipart>;
  try {
    body = createMultipart(parts);
  } catch (err) {
    return failure((err as Error).message);
  }
  if (packageId !== undefined)
    out.push(
      `package ${String(packageId)}: ${parts.length - 1} document(s), ${body.length} bytes → ${url.href} as ${values.cert ? certFile : partyId}`,
    );
  let answer: HttpAnswer;
  try {
    answer = await postMultipart(url, body, tls, { idleTimeoutMs: timeoutS * 1000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint = e.code === 'ECONNREFUSED' ? ' (is the gateway running? npm start)' : '';
    return {
      code: 1,
      stdout: out.length ? `${out.join('\n')}\n` : '',
      stderr: `send: request to ${url.href} failed: ${e.message}${hint}\n`,
    };
  }

  out.push(`HTTP ${answer.status} ${answer.statusMessage}`.trimEnd());
  if (answer.status !== 200 && answer.status !== 201) {
    return { code: 1, stdout: `${out.join('\n')}\n`, stderr: formatProblem(answer) };
  }
  if (answer.status === 200) out.push('(this package was received before; the original receipt is returned)');
  if (typeof answer.headers.location === 'string') out.push(`Location: ${answer.headers.location}`);

  let receipt: { receiptId?: unknown; caseId?: unknown };
  try {
    receipt = JSON.parse(answer.body.toString('utf8')) as typeof receipt;
  } catch (err) {
    return { code: 1, stdout: `${out.join('\n')}\n`, stderr: `send: the answer is not JSON: ${(err as Error).message}\n` };
  }
  out.push(JSON.stringify(receipt, null, 2));

  const sigHeader = answer.headers['receipt-signature'];
  if (typeof sigHeader !== 'string' || sigHeader.trim() === '') {
    return { code: 1, stdout: `${out.join('\n')}\n`, stderr: 'send: the answer carries no Receipt-Signature header\n' };
  }
  const der = Buffer.from(sigHeader.trim(), 'base64');
  const id =
    typeof receipt.receiptId === 'string' &&
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(receipt.receiptId) &&
    !receipt.receiptId.includes('..')
      ? receipt.receiptId
      : createHash('sha256').update(answer.body).digest('hex').slice(0, 32);
  const outDir = resolve(values.out ?? DEFAULT_OUT_DIR);
  const receiptFile = join(outDir, `receipt-${id}.json`);
  const sigFile = join(outDir, `receipt-${id}.sig.der`);
  try {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(receiptFile, answer.body);
    writeFileSync(sigFile, der);
  } catch (err) {
    return { code: 1, stdout: `${out.join('\n')}\n`, stderr: `send: cannot write the receipt to ${outDir}: ${(err as Error).message}\n` };
  }
  out.push(
    '',
    `receipt:   ${receiptFile}`,
    `signature: ${sigFile}`,
    '',
    'verify with:',
    `  openssl cms -verify -binary -inform DER -in ${shellQuote(sigFile)} -content ${shellQuote(receiptFile)} -CAfile ${shellQuote(resolve(caFile))}`,
    'or:',
    `  npm run cli -- verify-receipt --receipt ${shellQuote(receiptFile)} --signature ${shellQuote(sigFile)}${values.ca ? ` --ca ${shellQuote(resolve(caFile))}` : ''}`,
  );
  return { code: 0, stdout: `${out.join('\n')}\n`, stderr: '' };
}
