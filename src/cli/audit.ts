/**
 * `audit verify` command: walk the keyed, anchored audit log of the
 * configured database (DATABASE_URL, or the embedded database in DATA_DIR)
 * and report what was checked and the first broken link (issue 15).
 *
 *   audit verify [--expect-head SEQ:HASH] [--no-key] [--tsa-ca FILE]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditChain, type AuditChecks, type AuditVerification } from '../audit/audit.js';
import { defaultAuditKeyFile, readAuditKeyIfPresent, type AuditKey } from '../audit/key.js';
import { verifyTimestampToken } from '../timestamps/client.js';
import { loadConfig } from '../shared/config.js';
import { openDatabase } from '../storage/db.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';

export const AUDIT_USAGE = `usage: audit verify [--expect-head SEQ:HASH] [--no-key] [--tsa-ca FILE] [--max-unanchored-minutes N]

Verifies the audit log in the database the gateway is configured with
(DATABASE_URL, or the embedded database in DATA_DIR, default ./data):

  - every entry's link to the one before it;
  - every entry's SHA-256 hash, recomputed from the entry;
  - every entry's mac (HMAC-SHA256 with the key in AUDIT_KEY_FILE, default
    DATA_DIR/audit.key), for the entries written since the key was
    introduced: recomputed when the key is there, else only required;
  - every anchored head's RFC 3161 timestamp token, against the TSA's CA
    (TSA_CA_FILE, --tsa-ca, or the development PKI's CA): the token must cover
    SHA-256("postkasse-audit-head\n<seq>\n<hash>") of the entry as stored;
  - with the key, that the keyed chain's start is the one sealed under it;
  - that the entries after the newest anchored head span no more than
    3 × AUDIT_STAMP_MINUTES (heads are anchored every AUDIT_STAMP_MINUTES):
    a longer stretch means anchors were removed, or the TSA was out of reach.

Prints "audit chain OK: N entries", what was checked and what was not, and
the head (seq and hash, worth recording elsewhere); or "audit chain BROKEN at
seq N: reason" with exit code 1.

  --expect-head SEQ:HASH   a head recorded earlier; it must still be in the
                           chain (detects truncation of the tail)
  --no-key                 do not use the audit key: links, hashes and
                           timestamp tokens only (what a third party can check)
  --tsa-ca FILE            PEM of the TSA's trust anchor(s)
  --max-unanchored-minutes N
                           the longest stretch of entries allowed without an
                           anchored head (default 3 × AUDIT_STAMP_MINUTES)
  -h, --help               show this help
`;

const usageError = (message: string): CommandResult => sharedUsageError('audit', AUDIT_USAGE, message);

/** The TSA trust anchors: --tsa-ca, else TSA_CA_FILE, else the development PKI's CA (the development TSA's). Also used by `evidence export`. */
export function trustAnchors(
  flag: string | undefined,
  configured: string | undefined,
  dataDir: string,
): { pems: string[]; source: string } | undefined {
  const file = flag ?? configured;
  if (file) return { pems: [readFileSync(file, 'utf8')], source: file };
  const dev = join(dataDir, 'pki', 'ca.pem');
  return existsSync(dev) ? { pems: [readFileSync(dev, 'utf8')], source: `${dev} (development PKI)` } : undefined;
}

const range = (r: { from: number; to: number }) => (r.from === r.to ? `seq ${r.from}` : `seq ${r.from}–${r.to}`);

/** What was checked, one line each, for the report. */
export function describeChecks(c: AuditChecks, ctx: { keyNote: string; tsa: string | undefined; head: { seq: number } | null }): string {
  const lines = [`links: ${c.entries} entries, each one's SHA-256 recomputed and linked to the one before`];
  if (c.plain) lines.push(`no mac: ${range(c.plain)}, written before the audit key was introduced`);
  if (c.keyed) {
    lines.push(
      c.keyed.hmac === 'checked'
        ? `HMAC: ${range(c.keyed)} recomputed with audit key ${c.keyed.keyId}`
        : `HMAC: ${range(c.keyed)} present but NOT recomputed (${ctx.keyNote}); only the anchored heads below cover a rewrite`,
    );
  }
  const a = c.anchors;
  if (a.count === 0) lines.push('anchored heads: none met');
  else if (a.tokens === 'checked') {
    const newest = `newest at seq ${a.newest!.seq}, ${a.newest!.genTime}`;
    lines.push(`anchored heads: ${a.count} timestamp token(s) verified against ${ctx.tsa}; ${newest}`);
  } else
    lines.push(`anchored heads: ${a.count} met, their timestamp tokens NOT checked (no TSA trust anchor: set TSA_CA_FILE or --tsa-ca)`);
  const newest = a.newest?.seq ?? 0;
  if (ctx.head && ctx.head.seq > newest)
    lines.push(`not anchored yet: entries after seq ${newest} (up to ${ctx.head.seq}) are covered by no timestamp`);
  return lines.map((l) => `  ${l}\n`).join('');
}

export async function auditCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'audit' ? args.slice(1) : args;
  if (argv[0] === '-h' || argv[0] === '--help' || argv[0] === 'help') return { code: 0, stdout: AUDIT_USAGE, stderr: '' };
  if (argv[0] !== 'verify')
    return usageError(argv[0] === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(argv[0])}`);
  const parsed = parseCommand<{
    'expect-head'?: string;
    'no-key'?: boolean;
    'tsa-ca'?: string;
    'max-unanchored-minutes'?: string;
    help?: boolean;
  }>(
    argv.slice(1),
    {
      'expect-head': { type: 'string' },
      'no-key': { type: 'boolean' },
      'tsa-ca': { type: 'string' },
      'max-unanchored-minutes': { type: 'string' },
    },
    'audit',
    AUDIT_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const { values } = parsed;
  let expectHead: { seq: number; hash: string } | undefined;
  if (values['expect-head'] !== undefined) {
    const m = /^(\d+):([0-9a-fA-F]{64})$/.exec(values['expect-head']);
    if (!m) return usageError('--expect-head must be SEQ:HASH, e.g. 42:3f2a… (64 hex digits)');
    expectHead = { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
  }

  const maxFlag = values['max-unanchored-minutes'];
  if (maxFlag !== undefined && !/^[1-9]\d{0,6}$/.test(maxFlag)) {
    return usageError('--max-unanchored-minutes must be a whole number of minutes, at least 1');
  }

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (err) {
    return { code: 1, stdout: '', stderr: `audit: ${(err as Error).message}\n` };
  }
  if (!config.DATABASE_URL) {
    // Opening a missing embedded database would create an empty one and report an empty, "valid" chain.
    const file = join(config.DATA_DIR, 'postkasse.db');
    if (!existsSync(file)) {
      return { code: 1, stdout: '', stderr: `audit: no database at ${file} (set DATA_DIR or DATABASE_URL to the gateway's)\n` };
    }
  }

  // The key is read, never generated: verifying must not create a key the chain was not written with.
  let key: AuditKey | undefined;
  let keyNote = 'no key: --no-key';
  if (!values['no-key']) {
    const file = config.AUDIT_KEY_FILE ?? defaultAuditKeyFile(config.DATA_DIR);
    try {
      key = readAuditKeyIfPresent(file);
    } catch (err) {
      return { code: 1, stdout: '', stderr: `audit: ${(err as Error).message}\n` };
    }
    keyNote = `no key: ${file} is absent`;
  }
  let tsa: ReturnType<typeof trustAnchors>;
  try {
    tsa = trustAnchors(values['tsa-ca'], config.TSA_CA_FILE, config.DATA_DIR);
  } catch (err) {
    return { code: 1, stdout: '', stderr: `audit: cannot read the TSA trust anchor: ${(err as Error).message}\n` };
  }

  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  } catch (err) {
    return { code: 1, stdout: '', stderr: `audit: cannot open the database: ${(err as Error).message}\n` };
  }
  try {
    const result: AuditVerification = await verifyAuditChain(db.db, {
      ...(expectHead ? { expectHead } : {}),
      ...(key ? { key } : {}),
      ...(tsa ? { tokens: { verify: verifyTimestampToken, trustedCaPems: tsa.pems } } : {}),
      maxUnanchoredMs: (maxFlag !== undefined ? Number(maxFlag) : 3 * config.AUDIT_STAMP_MINUTES) * 60_000,
    });
    const ctx = { keyNote, tsa: tsa?.source, head: result.ok ? result.head : null };
    if (!result.ok) {
      const checked = describeChecks(result.checks, ctx);
      return {
        code: 1,
        stdout: `audit chain BROKEN at seq ${result.brokenAt}: ${result.reason}\nchecked before the break:\n${checked}`,
        stderr: '',
      };
    }
    const head = result.head ? `head: ${result.head.seq}:${result.head.hash}\n` : '';
    return { code: 0, stdout: `audit chain OK: ${result.count} entries\n${describeChecks(result.checks, ctx)}${head}`, stderr: '' };
  } catch (err) {
    return { code: 1, stdout: '', stderr: `audit: verification failed: ${(err as Error).message}\n` };
  } finally {
    await db.close();
  }
}
