/**
 * `audit verify` command: walk the hash-chained audit log of the configured
 * database (DATABASE_URL, or the embedded database in DATA_DIR) and report the
 * first broken link.
 *
 *   audit verify [--expect-head SEQ:HASH]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditChain } from '../audit/audit.js';
import { loadConfig } from '../shared/config.js';
import { openDatabase } from '../storage/db.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';

export const AUDIT_USAGE = `usage: audit verify [--expect-head SEQ:HASH]

Verifies the audit log's hash chain in the database the gateway is configured
with (DATABASE_URL, or the embedded database in DATA_DIR, default ./data).
Prints "audit chain OK: N entries" and the head (seq and hash, worth recording
elsewhere), or "audit chain BROKEN at seq N: reason" with exit code 1.

  --expect-head SEQ:HASH   a head recorded earlier; it must still be in the
                           chain (detects truncation of the tail)
  -h, --help               show this help
`;

const usageError = (message: string): CommandResult => sharedUsageError('audit', AUDIT_USAGE, message);

export async function auditCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'audit' ? args.slice(1) : args;
  if (argv[0] === '-h' || argv[0] === '--help' || argv[0] === 'help') return { code: 0, stdout: AUDIT_USAGE, stderr: '' };
  if (argv[0] !== 'verify')
    return usageError(argv[0] === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(argv[0])}`);
  const parsed = parseCommand<{ 'expect-head'?: string; help?: boolean }>(
    argv.slice(1),
    { 'expect-head': { type: 'string' } },
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

  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  } catch (err) {
    return { code: 1, stdout: '', stderr: `audit: cannot open the database: ${(err as Error).message}\n` };
  }
  try {
    const result = await verifyAuditChain(db.db, expectHead ? { expectHead } : {});
    if (!result.ok) {
      return { code: 1, stdout: `audit chain BROKEN at seq ${result.brokenAt}: ${result.reason}\n`, stderr: '' };
    }
    const head = result.head ? `\nhead: ${result.head.seq}:${result.head.hash}` : '';
    return { code: 0, stdout: `audit chain OK: ${result.count} entries${head}\n`, stderr: '' };
  } catch (err) {
    return { code: 1, stdout: '', stderr: `audit: verification failed: ${(err as Error).message}\n` };
  } finally {
    await db.close();
  }
}
