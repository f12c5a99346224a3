/**
 * `evidence` command (issue 15): export one case's evidence as a zip a third
 * party can check with openssl alone, and check such a file.
 *
 *   evidence export --case ID --out FILE.zip [--ca FILE] [--tsa-ca FILE]
 *   evidence verify FILE.zip [--ca FILE] [--tsa-ca FILE]
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportEvidence, EvidenceError, verifyEvidence, type EvidenceVerification } from '../evidence/service.js';
import { loadConfig } from '../shared/config.js';
import { openDatabase } from '../storage/db.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';
import { trustAnchors } from './audit.js';

export const EVIDENCE_USAGE = `usage: evidence export --case ID --out FILE.zip [--ca FILE] [--tsa-ca FILE]
       evidence verify FILE.zip [--ca FILE] [--tsa-ca FILE]

export: writes one zip file with the evidence of a case, from the database the
gateway is configured with (DATABASE_URL, or the embedded database in DATA_DIR):
its receipts with their signatures and RFC 3161 timestamps, its audit entries
with the chain segments up to the timestamped heads that cover them, the
digests of its documents and responses (never the documents), the CA
certificates to check them against, and a README.txt that tells a third party
how to check each item with openssl. Nothing in it names the citizen.

  --case ID      the case id
  --out FILE     the zip file to write
  --ca FILE      the receipt signer's CA (PEM) to put in the file
                 (default: the development CA, \${DATA_DIR:-./data}/pki/ca.pem)
  --tsa-ca FILE  the TSA's CA (PEM) to put in the file
                 (default: TSA_CA_FILE, else the development CA)

verify: checks such a file: every file's SHA-256 against its index, each
receipt's signature and its chain to the CA, each receipt's timestamp (over
the signature value), each audit entry's hash and link, and each timestamped
head over the entry it names. Prints a line per check, then "evidence OK", or
"evidence BROKEN: reason" with exit code 1. Entries no timestamped head
covered yet are reported as "not yet anchored" (not a failure).

  --ca FILE      trust anchor for the receipts (PEM); default: the CA inside the file
  --tsa-ca FILE  trust anchor for the timestamps (PEM); default: the CA inside the file
                 (a third party should give both, from the region and the TSA provider)
  -h, --help     show this help
`;

const usageError = (message: string): CommandResult => sharedUsageError('evidence', EVIDENCE_USAGE, message);
const failure = (message: string): CommandResult => ({ code: 1, stdout: '', stderr: `evidence: ${message}\n` });

interface Values {
  case?: string;
  out?: string;
  ca?: string;
  'tsa-ca'?: string;
  help?: boolean;
}

const OPTIONS = { ca: { type: 'string' }, 'tsa-ca': { type: 'string' } } as const;

/** The verification as printed: a line per check, then the verdict. */
export function formatVerification(v: EvidenceVerification): string {
  const label = { ok: 'ok  ', note: 'note', fail: 'FAIL' } as const;
  const lines = v.checks.map((c) => `  ${label[c.status]}  ${c.item}: ${c.detail}`);
  const failed = v.checks.filter((c) => c.status === 'fail');
  const verdict = v.ok
    ? 'evidence OK'
    : `evidence BROKEN: ${failed.length === 1 ? '' : `${failed.length} checks failed; first: `}${failed[0]!.item}: ${failed[0]!.detail}`;
  return `${lines.join('\n')}\n${verdict}\n`;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function exportCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const parsed = parseCommand<Values>(argv, { case: { type: 'string' }, out: { type: 'string' }, ...OPTIONS }, 'evidence', EVIDENCE_USAGE);
  if ('done' in parsed) return parsed.done;
  const { values } = parsed;
  if (!values.case?.trim()) return usageError('--case is required');
  if (!values.out?.trim()) return usageError('--out is required');

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    return failure((err as Error).message);
  }
  if (!config.DATABASE_URL) {
    // Opening a missing embedded database would create an empty one.
    const file = join(config.DATA_DIR, 'postkasse.db');
    if (!existsSync(file)) return failure(`no database at ${file} (set DATA_DIR or DATABASE_URL to the gateway's)`);
  }
  let receiptCaPem: string;
  let tsaCaPem: string;
  try {
    const receiptCa = values.ca ?? join(config.DATA_DIR, 'pki', 'ca.pem');
    if (values.ca === undefined && !existsSync(receiptCa)) {
      return failure(`no development CA at ${receiptCa}: give --ca, the CA of the receipt-signing certificate (RECEIPT_CERT_FILE)`);
    }
    receiptCaPem = readPem(receiptCa, 'the receipt CA');
    const tsa = trustAnchors(values['tsa-ca'], config.TSA_CA_FILE, config.DATA_DIR);
    if (!tsa) return failure("no TSA trust anchor: give --tsa-ca or set TSA_CA_FILE (the TSA's CA certificate)");
    tsaCaPem = tsa.pems.join('\n');
  } catch (err) {
    return failure((err as Error).message);
  }

  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  } catch (err) {
    return failure(`cannot open the database: ${(err as Error).message}`);
  }
  let result: Awaited<ReturnType<typeof exportEvidence>>;
  try {
    result = await exportEvidence(db.db, {
      caseId: values.case.trim(),
      receiptCaPem,
      tsaCaPem,
      gatewayName: `Postkasse, ${config.CLINICAL_FUNCTION_NAME}`,
    });
  } catch (err) {
    if (err instanceof EvidenceError) return failure(err.message);
    return failure(`export failed: ${(err as Error).message}`);
  } finally {
    await db.close();
  }
  const tmp = `${values.out}.partial`;
  try {
    writeFileSync(tmp, result.zip);
    renameSync(tmp, values.out);
  } catch (err) {
    return failure(`cannot write ${values.out}: ${(err as Error).message}`);
  }
  const ix = result.index;
  const stamped = ix.receipts.filter((r) => r.timestamp).length;
  const summary = [
    `wrote ${values.out} (${result.zip.length} bytes) for case ${ix.caseId}:`,
    `  ${ix.receipts.length} receipt(s), ${stamped} timestamped`,
    `  ${ix.audit.caseEntries.length} audit entries of the case, in ${ix.audit.segments.length} chain segment(s), ` +
      `${ix.audit.anchors.length} anchored head(s)` +
      (ix.audit.notYetAnchored.length ? `; not yet anchored: seq ${ix.audit.notYetAnchored.join(', ')}` : ''),
    `  ${ix.files.length} files; see README.txt inside`,
  ];
  // Check what was written, as a third party will (against the CAs put in it).
  const check = verifyEvidence(result.zip);
  summary.push(`self-check against the CAs in the file:`);
  return { code: check.ok ? 0 : 1, stdout: `${summary.join('\n')}\n${formatVerification(check)}`, stderr: '' };
}

function verifyCommand(argv: string[]): CommandResult {
  const parsed = parseCommand<Values>(argv, OPTIONS, 'evidence', EVIDENCE_USAGE, ['FILE.zip']);
  if ('done' in parsed) return parsed.done;
  const { values, positionals } = parsed;
  const file = positionals[0]!;
  let zip: Buffer;
  try {
    zip = readFileSync(file);
  } catch (err) {
    return failure(`cannot read ${file}: ${(err as Error).message}`);
  }
  let receiptCaPems: string[] | undefined;
  let tsaCaPems: string[] | undefined;
  try {
    if (values.ca !== undefined) receiptCaPems = [readPem(values.ca, 'CA certificate')];
    if (values['tsa-ca'] !== undefined) tsaCaPems = [readPem(values['tsa-ca'], 'TSA CA certificate')];
  } catch (err) {
    return failure((err as Error).message);
  }
  const v = verifyEvidence(zip, { ...(receiptCaPems ? { receiptCaPems } : {}), ...(tsaCaPems ? { tsaCaPems } : {}) });
  return { code: v.ok ? 0 : 1, stdout: `${file}${v.caseId ? ` (case ${v.caseId})` : ''}:\n${formatVerification(v)}`, stderr: '' };
}

export async function evidenceCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'evidence' ? args.slice(1) : args;
  const sub = argv[0];
  if (sub === '-h' || sub === '--help' || sub === 'help') return { code: 0, stdout: EVIDENCE_USAGE, stderr: '' };
  if (sub === 'export') return exportCommand(argv.slice(1), env);
  if (sub === 'verify') return verifyCommand(argv.slice(1));
  return usageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
}
