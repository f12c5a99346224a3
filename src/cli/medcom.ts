/**
 * `medcom` commands: MedCom FHIR messages against MedCom's published FHIR
 * profiles (src/medcom/).
 *
 *   medcom validate FILE [--packages DIR] [--profile URL]
 *   medcom show MESSAGE_ID [--json] [gateway options]
 *   medcom acknowledge --message FILE [--code CODE] [--out FILE]
 *
 * A sub-command is one entry of SUBCOMMANDS: (argv after its name, env) →
 * CommandResult, like the other operator commands (src/cli/args.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { acknowledgementOf } from '../medcom/acknowledgement.js';
import { resolve } from 'node:path';
import { loadMedcomPackages } from '../medcom/packages.js';
import { createMedcomValidator, type ValidationIssue } from '../medcom/validator.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';
import {
  fetchAnswer,
  formatProblem,
  GATEWAY_OPTIONS,
  GATEWAY_OPTIONS_USAGE,
  isSafeId,
  requestFailed,
  resolveGateway,
  type GatewayOptionValues,
  type HttpAnswer,
} from './gateway.js';

/** Where the packages are when neither --packages nor MEDCOM_PACKAGES_DIR says (relative to the working directory). */
export const DEFAULT_MEDCOM_PACKAGES_DIR = '../shared/medcom';

export const MEDCOM_USAGE = `usage: medcom validate FILE [--packages DIR] [--profile URL]
       medcom show MESSAGE_ID [--json] [gateway options]
       medcom acknowledge --message FILE [--code CODE] [--out FILE]

MedCom FHIR messages against MedCom's published FHIR profiles:

  validate FILE        validate a MedCom message Bundle (CareCommunication,
                       Acknowledgement; FHIR JSON) against the profile in its
                       meta.profile, and every entry against its own; prints
                       one line per issue (severity, FHIRPath location,
                       message, rule), then "valid" or "N errors"

  show MESSAGE_ID      GET /v1/medcom/messages/MESSAGE_ID as a team lead: what
                       the gateway sent to a GP (Bundle id, transport, every
                       transmission's envelope id), its state and the
                       acknowledgements received

  acknowledge          write the MedCom Acknowledgement a receiving system
                       sends for the message in --message (a CareCommunication
                       Bundle): response.identifier = its MessageHeader.id;
                       for GP-system and VANS developers trying the gateway

  --json               show: print the gateway's JSON answer as it is
  --message FILE       acknowledge: the message received (FHIR JSON)
  --code CODE          acknowledge: ok (default), transient-error or fatal-error
  --out FILE           acknowledge: where to write it (default: stdout)
${GATEWAY_OPTIONS_USAGE}
  --packages DIR       directory holding MedCom's FHIR packages (.tgz files or
                       extracted <name>/package/ folders); default
                       $MEDCOM_PACKAGES_DIR, else ${DEFAULT_MEDCOM_PACKAGES_DIR}
  --profile URL        validate against this profile instead of meta.profile
  -h, --help           show this help

Exit code 0 when there are no errors (warnings allowed), 1 when there are, or
the file or the packages cannot be read, 2 on usage errors.
`;

const usageError = (message: string): CommandResult => sharedUsageError('medcom', MEDCOM_USAGE, message);
const failure = (message: string): CommandResult => ({ code: 1, stdout: '', stderr: `medcom: ${message}\n` });

const SUBCOMMANDS: Record<string, (argv: string[], env: NodeJS.ProcessEnv) => Promise<CommandResult>> = {
  validate: validateCommand,
  show: showCommand,
  acknowledge: acknowledgeCommand,
};

const ACK_CODES = ['ok', 'transient-error', 'fatal-error'] as const;

/** `medcom acknowledge --message FILE [--code CODE] [--out FILE]`. */
async function acknowledgeCommand(argv: string[]): Promise<CommandResult> {
  const parsed = parseCommand<{ message?: string; code?: string; out?: string }>(
    argv,
    { message: { type: 'string' }, code: { type: 'string' }, out: { type: 'string' } },
    'medcom',
    MEDCOM_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const { message, out } = parsed.values;
  const code = (parsed.values.code ?? 'ok') as (typeof ACK_CODES)[number];
  if (!message) return usageError('acknowledge: --message is required');
  if (!ACK_CODES.includes(code)) return usageError(`acknowledge: --code is one of ${ACK_CODES.join(', ')}`);
  let bundle: { resourceType?: string; entry?: { resource?: { resourceType?: string } }[] };
  try {
    bundle = JSON.parse(await readFile(resolve(message), 'utf8')) as typeof bundle;
  } catch (err) {
    return failure(`cannot read ${message}: ${(err as Error).message}`);
  }
  if (bundle.resourceType !== 'Bundle' || bundle.entry?.[0]?.resource?.resourceType !== 'MessageHeader') {
    return failure(`${message} is not a MedCom message (a Bundle whose first entry is a MessageHeader)`);
  }
  const ack = `${JSON.stringify(acknowledgementOf(bundle, code), null, 2)}\n`;
  if (!out) return { code: 0, stdout: ack, stderr: '' };
  await writeFile(resolve(out), ack);
  return {
    code: 0,
    stdout: `${out}: Acknowledgement (${code}) of MessageHeader ${String((bundle.entry[0]!.resource as { id?: string }).id)}\n`,
    stderr: '',
  };
}

/** `medcom show MESSAGE_ID`: the team lead's view of one MedCom message, readable or as JSON. */
async function showCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const parsed = parseCommand<GatewayOptionValues & { json?: boolean }>(
    argv,
    { ...GATEWAY_OPTIONS, json: { type: 'boolean' } },
    'medcom',
    MEDCOM_USAGE,
    ['MESSAGE_ID'],
  );
  if ('done' in parsed) return parsed.done;
  const id = parsed.positionals[0] ?? '';
  if (!isSafeId(id)) return usageError(`${JSON.stringify(id)} is not a message id`);
  const resolved = resolveGateway(parsed.values, env, 'medcom', MEDCOM_USAGE);
  if ('done' in resolved) return resolved.done;
  const url = resolved.gateway.url(`v1/medcom/messages/${encodeURIComponent(id)}`);
  let answer: HttpAnswer;
  try {
    answer = await fetchAnswer(url, resolved.gateway.tls);
  } catch (err) {
    return { code: 1, stdout: '', stderr: requestFailed('medcom', url, err) };
  }
  if (answer.status !== 200) return { code: 1, stdout: '', stderr: formatProblem(answer) };
  const text = answer.body.toString('utf8');
  if (parsed.values.json) return { code: 0, stdout: text, stderr: '' };
  let m: Record<string, any>;
  try {
    m = JSON.parse(text) as Record<string, any>;
  } catch (err) {
    return failure(`the answer is not JSON: ${(err as Error).message}`);
  }
  const lines = [
    `message      ${m.messageId} (MessageHeader.id), Bundle.id ${m.bundleId ?? '-'}`,
    `case         ${m.caseId}, ${m.kind}`,
    `to           ${m.transport === 'vans' ? 'VANS' : (m.to ?? '-')}, ydernummer ${m.ydernummer ?? '-'}`,
    `sent at      ${m.sentAt} (the clinical timestamps of the Bundle)`,
    `state        ${m.state}${m.lastError ? ` (${m.lastError})` : ''}`,
    `sends        ${m.sends}; current envelope ${m.envelopeId ?? '-'} at ${m.envelopeSentAt ?? '-'}${m.ackDueAt ? `, acknowledgement due ${m.ackDueAt}` : ''}`,
    `bundle       ${m.bundleBytes} bytes, sha256 ${m.bundleSha256 || '-'}`,
    `acknowledged ${m.acknowledgement ? `${m.acknowledgement.code} at ${m.acknowledgement.at}` : 'not yet'}`,
  ];
  for (const a of m.acknowledgements as Record<string, string>[]) {
    lines.push(`  ack ${a.ackId}  ${a.code}  ${a.outcome}  from ${a.from} at ${a.receivedAt}`);
  }
  for (const i of m.validationIssues as ValidationIssue[]) lines.push(`  ${formatIssue(i)}`);
  return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
}

/** `medcom <subcommand> …` in the style of the other commands (for src/cli/main.ts's COMMANDS). */
export async function medcomCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'medcom' ? args.slice(1) : args;
  const sub = argv[0];
  if (sub === '-h' || sub === '--help' || sub === 'help') return { code: 0, stdout: MEDCOM_USAGE, stderr: '' };
  const run = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (!run) return usageError(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
  return run(argv.slice(1), env);
}

interface Output {
  write(text: string): unknown;
}

/**
 * `medcom validate FILE [--packages DIR] [--profile URL]`: prints the issues
 * and returns the exit code (0 valid, 1 errors, 2 usage). `argv` is what
 * follows `validate` (a leading "medcom" and "validate" are accepted too).
 */
export async function medcomValidate(
  argv: string[],
  out: { stdout: Output; stderr: Output } = { stdout: process.stdout, stderr: process.stderr },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let args = argv[0] === 'medcom' ? argv.slice(1) : argv;
  if (args[0] === 'validate') args = args.slice(1);
  const result = await validateCommand(args, env);
  if (result.stdout) out.stdout.write(result.stdout);
  if (result.stderr) out.stderr.write(result.stderr);
  return result.code;
}

async function validateCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const parsed = parseCommand<{ packages?: string; profile?: string }>(
    argv,
    { packages: { type: 'string' }, profile: { type: 'string' } },
    'medcom',
    MEDCOM_USAGE,
    ['FILE'],
  );
  if ('done' in parsed) return parsed.done;
  const file = resolve(parsed.positionals[0] ?? '');
  const dir = resolve(parsed.values.packages ?? (env.MEDCOM_PACKAGES_DIR || DEFAULT_MEDCOM_PACKAGES_DIR));

  let resource: unknown;
  try {
    resource = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return failure(e.code ? `cannot read ${file}: ${e.message}` : `${file} is not JSON: ${e.message}`);
  }
  let validator: ReturnType<typeof createMedcomValidator>;
  try {
    validator = createMedcomValidator(await loadMedcomPackages(dir));
  } catch (err) {
    return failure((err as Error).message);
  }
  const issues = validator.validate(resource, parsed.values.profile ? { profile: parsed.values.profile } : {});
  const errors = issues.filter((i) => i.severity === 'error').length;
  const lines = issues.map(formatIssue);
  lines.push(summary(errors, issues.length - errors));
  return { code: errors > 0 ? 1 : 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
}

/** `error  Bundle.entry[2].resource.identifier[0].value  message (rule)`, on one line. */
export function formatIssue(issue: ValidationIssue): string {
  const message = issue.message.replace(/\s+/g, ' ').trim();
  return `${issue.severity}  ${issue.location || '(document)'}  ${message}${issue.rule ? ` (${issue.rule})` : ''}`;
}

function summary(errors: number, warnings: number): string {
  const w = warnings > 0 ? `${warnings} warning${warnings === 1 ? '' : 's'}` : '';
  if (errors === 0) return w ? `valid, ${w}` : 'valid';
  return `${errors} error${errors === 1 ? '' : 's'}${w ? `, ${w}` : ''}`;
}
