/**
 * `verify-receipt` command: check a receipt's detached CMS signature against
 * trusted CA certificates, the same check a partner does with
 * `openssl cms -verify -binary -inform DER -in sig.der -content receipt.json -CAfile ca.pem`.
 *
 *   verify-receipt --receipt receipt.json (--signature receipt.sig.der | --signature-b64 BASE64) [--ca ca.pem …]
 */
import { readFileSync } from 'node:fs';
import { verifyDetached } from '../receipts/cms.js';
import { devPkiPaths } from './send.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';

export const VERIFY_USAGE = `usage: verify-receipt --receipt FILE (--signature FILE | --signature-b64 BASE64) [--ca FILE …]

Checks that the receipt bytes are exactly what the gateway signed and that
the signing certificate chains to a trusted CA. Exit 0 when valid, 1 when not.

  --receipt FILE         the receipt as received (exact bytes)
  --signature FILE       the detached signature, DER (receipt-<id>.sig.der)
  --signature-b64 B64    the signature as base64, e.g. the Receipt-Signature header
  --ca FILE              trusted CA certificate(s), PEM; repeatable
                         (default: the development CA, \${DATA_DIR:-./data}/pki/ca.pem)
  -h, --help             show this help
`;

const usageError = (message: string): CommandResult => sharedUsageError('verify-receipt', VERIFY_USAGE, message);

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

export async function verifyReceiptCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'verify-receipt' ? args.slice(1) : args;
  const parsed = parseCommand<{ receipt?: string; signature?: string; 'signature-b64'?: string; ca?: string[]; help?: boolean }>(
    argv,
    {
      receipt: { type: 'string' },
      signature: { type: 'string' },
      'signature-b64': { type: 'string' },
      ca: { type: 'string', multiple: true },
    },
    'verify-receipt',
    VERIFY_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const { values } = parsed;
  if (values.receipt === undefined) return usageError('--receipt is required');
  const b64 = values['signature-b64'];
  if ((values.signature === undefined) === (b64 === undefined)) return usageError('give exactly one of --signature and --signature-b64');

  const fail = (message: string): CommandResult => ({ code: 1, stdout: '', stderr: `verify-receipt: ${message}\n` });

  let content: Buffer;
  try {
    content = readFileSync(values.receipt);
  } catch (err) {
    return fail(`cannot read receipt ${values.receipt}: ${(err as Error).message}`);
  }
  let der: Buffer;
  if (b64 !== undefined) {
    const compact = b64.replace(/\s+/g, '');
    if (!BASE64_RE.test(compact)) return usageError('--signature-b64 is not base64');
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

  const result = verifyDetached(content, der, cas);
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
  lines.push(
    `  signer: ${result.signer.subject.replace(/\n/g, ', ')} (serial ${result.signer.serialNumber})`,
    `  signing time: ${result.signingTime ? result.signingTime.toISOString() : '(not given)'}`,
  );
  return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
}
