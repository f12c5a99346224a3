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
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { buildDemoPackage } from './demo.js';
import { createMultipart, type MultipartPart } from './multipart.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';
import {
  DEFAULT_TIMEOUT_S,
  formatProblem,
  GATEWAY_OPTIONS,
  GATEWAY_OPTIONS_USAGE,
  isSafeId,
  opensslVerifyCommand,
  readAnswer,
  requestFailed,
  resolveGateway,
  shellQuote,
  startRequest,
  type GatewayOptionValues,
  type HttpAnswer,
  type TlsMaterial,
} from './gateway.js';

export const DEFAULT_OUT_DIR = './receipts';

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
${GATEWAY_OPTIONS_USAGE}
  --out DIR            where to write receipts (default ${DEFAULT_OUT_DIR})
  --timeout SECONDS    give up when the connection is idle this long
                       (default ${DEFAULT_TIMEOUT_S})
  -h, --help           show this help
`;

const usageError = (message: string): CommandResult => sharedUsageError('send', SEND_USAGE, message);

function failure(message: string): CommandResult {
  return { code: 1, stdout: '', stderr: `send: ${message}\n` };
}

/**
 * POSTs a multipart body over mTLS. Resolves with the answer even when the
 * server answers early and closes the connection before the whole body was
 * sent (e.g. 413, 401); rejects with the upload's own error (file unreadable,
 * changed size) when that is what stopped the request.
 */
export async function postMultipart(
  url: URL,
  body: ReturnType<typeof createMultipart>,
  tls: TlsMaterial,
  opts: { idleTimeoutMs?: number } = {},
): Promise<HttpAnswer> {
  // Keep-alive (startRequest's private agent) matters here: with
  // `Connection: close` a server that answers early (413, 401) closes the
  // connection while the body is still arriving, which resets it and can lose
  // the answer; on a keep-alive connection node-based servers discard the
  // rest of the body and the answer arrives intact.
  const { req, response, close } = startRequest(url, tls, {
    method: 'POST',
    headers: { 'content-type': body.contentType, 'content-length': String(body.length) },
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
  });
  const answer = response.then(readAnswer);
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
    close();
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
  close();
  return result;
}

export async function sendCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'send' ? args.slice(1) : args;
  const parsed = parseCommand<
    GatewayOptionValues & {
      manifest?: string;
      file?: string[];
      demo?: boolean;
      out?: string;
      timeout?: string;
      help?: boolean;
    }
  >(
    argv,
    {
      ...GATEWAY_OPTIONS,
      manifest: { type: 'string' },
      file: { type: 'string', multiple: true },
      demo: { type: 'boolean' },
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
  const resolved = resolveGateway(values, env, 'send', SEND_USAGE);
  if ('done' in resolved) return resolved.done;
  const { gateway } = resolved;
  const url = gateway.url('v1/packages');

  // --- send ---------------------------------------------------------------
  const out: string[] = [];
  let body: ReturnType<typeof createMultipart>;
  try {
    body = createMultipart(parts);
  } catch (err) {
    return failure((err as Error).message);
  }
  if (packageId !== undefined)
    out.push(`package ${String(packageId)}: ${parts.length - 1} document(s), ${body.length} bytes → ${url.href} as ${gateway.who}`);
  let answer: HttpAnswer;
  try {
    answer = await postMultipart(url, body, gateway.tls, { idleTimeoutMs: timeoutS * 1000 });
  } catch (err) {
    return { code: 1, stdout: out.length ? `${out.join('\n')}\n` : '', stderr: requestFailed('send', url, err) };
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
    typeof receipt.receiptId === 'string' && isSafeId(receipt.receiptId)
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
  const caOption = gateway.caGiven ? ` --ca ${shellQuote(gateway.caFile)}` : '';
  out.push(
    '',
    `receipt:   ${receiptFile}`,
    `signature: ${sigFile}`,
    '',
    'verify with:',
    `  ${opensslVerifyCommand(sigFile, receiptFile, gateway.caFile)}`,
    'or:',
    `  npm run cli -- verify-receipt --receipt ${shellQuote(receiptFile)} --signature ${shellQuote(sigFile)}${caOption}`,
  );
  return { code: 0, stdout: `${out.join('\n')}\n`, stderr: '' };
}
