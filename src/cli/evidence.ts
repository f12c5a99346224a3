/**
 * `evidence` command (issue 15): export one case's evidence as a zip a third
 * party can check with openssl alone, and check such a file.
 *
 *   evidence export --case ID --out FILE.zip [--ca FILE] [--tsa-ca FILE]
 *   evidence verify FILE.zip [--ca FILE] [--tsa-ca FILE]
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  exportEvidence,
  EvidenceError,
  OWN_CERTS_UNTRUSTED,
  verifyEvidence,
  type EvidenceVerification,
  type TrustAnchor,
} from '../evidence/service.js';
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

verify: checks such a file against trust anchors of your own: every file's
SHA-256 against its index, each receipt's signature and its chain to the CA,
each receipt's timestamp (over the signature value), each audit entry's hash
and link, and each timestamped head over the entry it names; and says whether
the CA certificates inside the file are those anchors. Prints a line per
check, then "evidence OK", or "evidence BROKEN: reason" with exit code 1.
Entries no timestamped head covered yet are reported as "not yet anchored"
(not a failure). Without a trust anchor it verifies nothing (exit code 1):
the CA certificates inside the file came with it, so a forged file brings
its own.

  --ca FILE      trust anchor for the receipts (PEM): the CA of the region's
                 receipt signer, from the region (next to a development
                 gateway: its PKI's CA, \${DATA_DIR:-./data}/pki/ca.pem)
  --tsa-ca FILE  trust anchor for the timestamps (PEM): the TSA's CA, from the
                 TSA provider (default: TSA_CA_FILE, else the development CA)
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
  let receiptCaSource: string;
  let tsaCaSource: string;
  try {
    const receiptCa = values.ca ?? join(config.DATA_DIR, 'pki', 'ca.pem');
    if (values.ca === undefined && !existsSync(receiptCa)) {
      return failure(`no development CA at ${receiptCa}: give --ca, the CA of the receipt-signing certificate (RECEIPT_CERT_FILE)`);
    }
    receiptCaPem = readPem(receiptCa, 'the receipt CA');
    receiptCaSource = receiptCa;
    const tsa = trustAnchors(values['tsa-ca'], config.TSA_CA_FILE, config.DATA_DIR);
    if (!tsa) return failure("no TSA trust anchor: give --tsa-ca or set TSA_CA_FILE (the TSA's CA certificate)");
    tsaCaPem = tsa.pems.join('\n');
    tsaCaSource = tsa.source;
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
  // Check what was written, as a third party will, against the CAs put in it (the exporter's own anchors).
  const check = verifyEvidence(result.zip, {
    receiptCa: { pems: [receiptCaPem], source: receiptCaSource },
    tsaCa: { pems: [tsaCaPem], source: tsaCaSource },
  });
  summary.push(`self-check against the CAs put in the file:`);
  return { code: check.ok ? 0 : 1, stdout: `${summary.join('\n')}\n${formatVerification(check)}`, stderr: '' };
}

/**
 * The verifier's trust anchors: the flags, else those of the gateway configured where the command
 * runs (TSA_CA_FILE; the development PKI's CA, which signs the receipts and the development TSA's
 * certificate when no RECEIPT_CERT_FILE is set). Never the certificates inside the file.
 */
function verifierAnchors(values: Values, env: NodeJS.ProcessEnv): { receiptCa?: TrustAnchor; tsaCa?: TrustAnchor; configNote: string } {
  const out: { receiptCa?: TrustAnchor; tsaCa?: TrustAnchor; configNote: string } = { configNote: '' };
  if (values.ca !== undefined) out.receiptCa = { pems: [readPem(values.ca, 'CA certificate')], source: `${values.ca} (--ca)` };
  if (values['tsa-ca'] !== undefined) {
    out.tsaCa = { pems: [readPem(values['tsa-ca'], 'TSA CA certificate')], source: `${values['tsa-ca']} (--tsa-ca)` };
  }
  if (out.receiptCa && out.tsaCa) return out;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    out.configNote = ` (the gateway configuration here cannot be read: ${(err as Error).message})`;
    return out;
  }
  const dev = join(config.DATA_DIR, 'pki', 'ca.pem');
  if (!out.receiptCa && !config.RECEIPT_CERT_FILE && existsSync(dev)) {
    out.receiptCa = { pems: [readPem(dev, 'the development CA')], source: `${dev} (the development PKI of the gateway configured here)` };
  }
  if (!out.tsaCa) {
    const tsa = trustAnchors(undefined, config.TSA_CA_FILE, config.DATA_DIR);
    if (tsa) out.tsaCa = { pems: tsa.pems, source: config.TSA_CA_FILE ? `${tsa.source} (TSA_CA_FILE)` : tsa.source };
  }
  return out;
}

/** What to give when a trust anchor is missing, and why the file's own certificates will not do. */
function missingAnchors(file: string, anchors: ReturnType<typeof verifierAnchors>): string {
  const what = anchors.receiptCa ? 'timestamps' : anchors.tsaCa ? 'receipts' : 'receipts and the timestamps';
  const lines = [`${file} not verified: no trust anchor of your own for the ${what}${anchors.configNote}. Give`];
  if (!anchors.receiptCa) lines.push("  --ca FILE      the CA certificate (PEM) of the region's receipt signer, from the region");
  if (!anchors.tsaCa) lines.push("  --tsa-ca FILE  the TSA's CA certificate (PEM), from the TSA provider (or set TSA_CA_FILE)");
  lines.push(`${OWN_CERTS_UNTRUSTED}.`);
  return lines.join('\n');
}

function verifyCommand(argv: string[], env: NodeJS.ProcessEnv): CommandResult {
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
  let anchors: ReturnType<typeof verifierAnchors>;
  try {
    anchors = verifierAnchors(values, env);
  } catch (err) {
    return failure((err as Error).message);
  }
  const { receiptCa, tsaCa } = anchors;
  if (!receiptCa || !tsaCa) return failure(missingAnchors(file, anchors));
  const v = verifyEvidence(zip, { receiptCa, tsaCa });
  return { code: v.ok ? 0 : 1, stdout: `${file}${v.caseId ? ` (case ${v.caseId})` : ''}:\n${formatVerification(v)}`, stderr: '' };
}

export async function evidenceCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'evidence' ? args.slice(1) : args;
  const sub = argv[0];
  if (sub === '-h' || sub === '--help' || sub === 'help') return { code: 0, stdout: EVIDENCE_USAGE, stderr: '' };
  if (sub === 'export') return exportCommand(argv.slice(1), env);
  if (sub === 'verify') return verifyCommand(argv.slice(1), env);
  return usageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
}
