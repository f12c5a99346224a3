/**
 * Operator command line: `npm run cli -- <command> …`
 * (= node --import tsx src/cli/main.ts <command> …).
 *
 * Exit codes: 0 success, 1 the operation failed (rejected package, invalid
 * signature, broken audit chain, I/O), 2 usage error.
 */
import { pathToFileURL } from 'node:url';
import type { CommandResult } from './args.js';

export const USAGE = `usage: npm run cli -- <command> [options]

commands:
  deadline --service S --received ISO [--consultation DATE] [--municipality CODE] [--party ID] [--urgent] [--agreements FILE]
                      print the deadlines JSON a receipt would carry
  send --manifest FILE --file PART=PATH … [--url URL] [--as PARTY | --cert FILE --key FILE] [--ca FILE] [--out DIR]
  send --demo [...]   post a case package over mutual TLS; keep the signed receipt
  verify-receipt --receipt FILE (--signature FILE | --signature-b64 B64) [--ca FILE]
                      check a receipt's detached CMS signature
  mailbox list [--json] [--url URL] [--as PARTY | --cert FILE --key FILE] [--ca FILE]
                      list the caller's unacknowledged messages
  mailbox get MESSAGE_ID [--out DIR] [...]
                      fetch a message envelope and its signature into files
  mailbox ack MESSAGE_ID [...]
                      acknowledge a message (it leaves the list)
  verify-message --message FILE (--signature FILE | --signature-b64 B64) [--ca FILE]
                      check a message's signature and its document's sha256 and size
  audit verify [--expect-head SEQ:HASH]
                      verify the audit log's hash chain in the configured database
  evidence export --case ID --out FILE.zip [--ca FILE] [--tsa-ca FILE]
                      one case's receipts, timestamps, audit chain and digests, for a third party
  evidence verify FILE.zip [--ca FILE] [--tsa-ca FILE]
                      check an evidence file (what its README.txt does with openssl)
  medcom validate FILE [--packages DIR] [--profile URL]
                      validate a FHIR Bundle against MedCom's profiles; each issue with its FHIRPath location
  settlement --month YYYY-MM [--payer PARTY] [--csv | --json] [--close] [...]
                      a month's settlement statements per payer (finance, team leads; a payer its own)
  medcom show MESSAGE_ID [...]
                      what the gateway sent to a GP (MedCom) and its acknowledgement state (team leads)
  help [COMMAND]      this text, or a command's options

Environment: DATA_DIR (default ./data: development PKI and embedded database),
DATABASE_URL and the other gateway variables (see docs/operations.md).
send, mailbox and settlement talk to --url, else POSTKASSE_URL, else https://localhost:$PORT
(PORT default 8443).
`;

// Loaded on demand: a command only pays for its own dependencies (the
// database drivers, TLS, zod schemas …) at start-up.
const COMMANDS: Record<string, (args: string[], env: NodeJS.ProcessEnv) => Promise<CommandResult>> = {
  deadline: async (a) => (await import('./deadline.js')).deadlineCommand(a),
  send: async (a, env) => (await import('./send.js')).sendCommand(a, env),
  'verify-receipt': async (a, env) => (await import('./verify.js')).verifyReceiptCommand(a, env),
  mailbox: async (a, env) => (await import('./mailbox.js')).mailboxCommand(a, env),
  'verify-message': async (a, env) => (await import('./verify-message.js')).verifyMessageCommand(a, env),
  audit: async (a, env) => (await import('./audit.js')).auditCommand(a, env),
  evidence: async (a, env) => (await import('./evidence.js')).evidenceCommand(a, env),
  medcom: async (a, env) => (await import('./medcom.js')).medcomCommand(a, env),
  settlement: async (a, env) => (await import('./settlement.js')).settlementCommand(a, env),
};

/** The command line as a function: `env` is the environment the command reads (the process's own by default). */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const [command, ...rest] = argv;
  if (command === undefined) return { code: 2, stdout: '', stderr: USAGE };
  if (command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0];
    if (topic !== undefined && topic in COMMANDS) return COMMANDS[topic]!(['--help'], env);
    return { code: 0, stdout: USAGE, stderr: '' };
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) return { code: 2, stdout: '', stderr: `unknown command ${JSON.stringify(command)}\n\n${USAGE}` };
  try {
    return await run(rest, env);
  } catch (err) {
    return { code: 1, stdout: '', stderr: `${command}: ${(err as Error).stack ?? String(err)}\n` };
  }
}

function write(stream: NodeJS.WriteStream, text: string): void {
  if (text) stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

// Run only when executed directly, not when imported (e.g. by tests).
const entry = process.argv[1];
if (entry !== undefined && (pathToFileURL(entry).href === import.meta.url || /[\\/]src[\\/]cli[\\/]main\.ts$/.test(entry))) {
  const result = await runCli(process.argv.slice(2));
  write(process.stdout, result.stdout);
  write(process.stderr, result.stderr);
  process.exitCode = result.code;
}
