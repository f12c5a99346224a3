/**
 * `verify-receipt` command: check a receipt's detached CMS signature against
 * trusted CA certificates, the same check a partner does with
 * `openssl cms -verify -binary -inform DER -in sig.der -content receipt.json -CAfile ca.pem -out /dev/null`.
 *
 *   verify-receipt --receipt receipt.json (--signature receipt.sig.der | --signature-b64 BASE64) [--ca ca.pem …]
 *
 * The signature part (reading the signed file, the signature in either form
 * and the trusted CAs, then verifying) is shared with `verify-message`.
 */
import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import { verifyDetached, type VerifyResult } from '../receipts/cms.js';
import { devPkiPaths } from './gateway.js';
import { parseCommand, usageError, type CommandResult } from './args.js';

/** Usage lines for the signature options (same column as the commands' own options). */
export const SIGNATURE_OPTIONS_USAGE = `  --signature FILE       the detached signature, DER (<name>.sig.der)
  --signature-b64 B64    the signature as base64, e.g. the signature header
  --ca FILE              trusted CA certificate(s), PEM; repeatable
                         (default: the development CA, \${DATA_DIR:-./data}/pki/ca.pem)`;

export const VERIFY_USAGE = `usage: verify-receipt --receipt FILE (--signature FILE | --signature-b64 BASE64) [--ca FILE …]

Checks that the receipt bytes are exactly what the gateway signed and that
the signing certificate chains to a trusted CA. Exit 0 when valid, 1 when not.

  --receipt FILE         the receipt as received (exact bytes)
${SIGNATURE_OPTIONS_USAGE.replace('<name>', 'receipt-<id>').replace('the signature header', 'the Receipt-Signature header')}
  -h, --help             show this help
`;

export const SIGNATURE_OPTIONS = {
  signature: { type: 'string' },
  'signature-b64': { type: 'string' },
  ca: { type: 'string', multiple: true },
} satisfies NonNullable<ParseArgsConfig['options']>;

export interface SignatureOptionValues {
  signature?: string;
  'signature-b64'?: string;
  ca?: string[];
}

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Reads the signed file, the signature (file or base64) and the trusted CAs
 * (--ca, else the development CA in DATA_DIR), and verifies. Returns the
 * content and the verdict, or the result to return at once: a usage error
 * (exit 2) for the signature options, a failure (exit 1) for unreadable files.
 */
export function checkSignature(
  command: string,
  usage: string,
  file: { path: string; what: string },
  values: SignatureOptionValues,
  env: NodeJS.ProcessEnv,
): { content: Buffer; result: VerifyResult } | { done: CommandResult } {
  const b64 = values['signature-b64'];
  if ((values.signature === undefined) === (b64 === undefined)) {
    return { done: usageError(command, usage, 'give exactly one of --signature and --signature-b64') };
  }
  const fail = (message: string) => ({ done: { code: 1, stdout: '', stderr: `${command}: ${message}\n` } });

  let content: Buffer;
  try {
    content = readFileSync(file.path);
  } catch (err) {
    return fail(`cannot read ${file.what} ${file.path}: ${(err as Error).message}`);
  }
  let der: Buffer;
  if (b64 !== undefined) {
    const compact = b64.replace(/\s+/g, '');
    if (!BASE64_RE.test(compact)) return { done: usageError(command, usage, '--signature-b64 is not base64') };
    der = Buffer.from(compact, 'base64');
  } else {
    try {
      der = readFileSync(values.signature!);
    } catch (err) {
      return fail(`cannot read signature ${values.signature}: ${(err as Error).message}`);
    }
  }
  const caFiles = values.ca?.length ? values.ca : [devPkiPaths(env).caCert];
  const cas: string[] = [];
  for (const f of caFiles) {
    try {
      cas.push(readFileSync(f, 'utf8'));
    } catch (err) {
      const hint = values.ca?.length ? '' : " (give --ca, or set DATA_DIR to the gateway's data directory)";
      return fail(`cannot read CA certificate ${f}: ${(err as Error).message}${hint}`);
    }
  }
  return { content, result: verifyDetached(content, der, cas) };
}

/** The signer and signing time of a valid signature, as printed. */
export function signerLines(result: Extract<VerifyResult, { ok: true }>): string[] {
  return [
    `  signer: ${result.signer.subject.replace(/\n/g, ', ')} (serial ${result.signer.serialNumber})`,
    `  signing time: ${result.signingTime ? result.signingTime.toISOString() : '(not given)'}`,
  ];
}

export async function verifyReceiptCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'verify-receipt' ? args.slice(1) : args;
  const parsed = parseCommand<SignatureOptionValues & { receipt?: string; help?: boolean }>(
    argv,
    { receipt: { type: 'string' }, ...SIGNATURE_OPTIONS },
    'verify-receipt',
    VERIFY_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const { values } = parsed;
  if (values.receipt === undefined) return usageError('verify-receipt', VERIFY_USAGE, '--receipt is required');

  const checked = checkSignature('verify-receipt', VERIFY_USAGE, { path: values.receipt, what: 'receipt' }, values, env);
  if ('done' in checked) return checked.done;
  const { content, result } = checked;
  if (!result.ok) {
    return { code: 1, stdout: `FAILED: ${values.receipt}: ${result.reason}\n`, stderr: '' };
  }
  const lines = [`OK: ${values.receipt}: signature valid`];
  try {
    const r = JSON.parse(content.toString('utf8')) as { receiptId?: unknown; packageId?: unknown; caseId?: unknown };
    for (const k of ['receiptId', 'packageId', 'caseId'] as const) if (typeof r[k] === 'string') lines.push(`  ${k}: ${r[k]}`);
  } catch {
    lines.push('  (the signed content is not JSON)');
  }
  lines.push(...signerLines(result));
  return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
}
