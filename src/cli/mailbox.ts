/**
 * `mailbox` commands: a party (municipality, senior-pension unit, GP system)
 * pulls its messages from the gateway over mutual TLS (API.md "Receiving
 * documents").
 *
 *   mailbox list [--json] [--url URL] [--as PARTY | --cert FILE --key FILE] [--ca FILE]
 *   mailbox get MESSAGE_ID [--out DIR] […]
 *   mailbox ack MESSAGE_ID […]
 */
import { createWriteStream, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ParseArgsConfig } from 'node:util';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';
import {
  fetchAnswer,
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
  type Gateway,
  type GatewayOptionValues,
  type HttpAnswer,
} from './gateway.js';

const DEFAULT_MESSAGES_DIR = './messages';

export const MAILBOX_USAGE = `usage: mailbox list [--json] [options]
       mailbox get MESSAGE_ID [--out DIR] [options]
       mailbox ack MESSAGE_ID [options]

The caller's mailbox on the gateway, over mutual TLS:

  list                 GET /v1/mailbox: the messages not yet acknowledged, one
                       line each: messageId, caseId, kind, copy|original, sentAt
  get MESSAGE_ID       GET /v1/mailbox/MESSAGE_ID: writes the envelope's exact
                       bytes to DIR/message-<id>.json and its signature
                       (Message-Signature, DER) to DIR/message-<id>.sig.der,
                       and prints the commands that verify them
  ack MESSAGE_ID       POST /v1/mailbox/MESSAGE_ID/ack: confirms receipt (the
                       message leaves the list)

  --json               list: print the gateway's JSON answer as it is
  --out DIR            get: where to write the files (default ${DEFAULT_MESSAGES_DIR})
${GATEWAY_OPTIONS_USAGE}
  -h, --help           show this help

A problem answer (e.g. 404 for a message that is not the caller's) is printed
on stderr with exit code 1.
`;

const usageError = (message: string): CommandResult => sharedUsageError('mailbox', MAILBOX_USAGE, message);
const failure = (message: string): CommandResult => ({ code: 1, stdout: '', stderr: `mailbox: ${message}\n` });
const problem = (answer: HttpAnswer): CommandResult => ({ code: 1, stdout: '', stderr: formatProblem(answer) });

type Values = GatewayOptionValues & { json?: boolean; out?: string; help?: boolean };

const SUBCOMMANDS: Record<
  string,
  {
    options: NonNullable<ParseArgsConfig['options']>;
    positionals: string[];
    run: (g: Gateway, v: Values, id: string) => Promise<CommandResult>;
  }
> = {
  list: { options: { json: { type: 'boolean' } }, positionals: [], run: (g, v) => list(g, v) },
  get: { options: { out: { type: 'string' } }, positionals: ['MESSAGE_ID'], run: (g, v, id) => get(g, v, id) },
  ack: { options: {}, positionals: ['MESSAGE_ID'], run: (g, _v, id) => ack(g, id) },
};

export async function mailboxCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'mailbox' ? args.slice(1) : args;
  const sub = argv[0];
  if (sub === '-h' || sub === '--help' || sub === 'help') return { code: 0, stdout: MAILBOX_USAGE, stderr: '' };
  if (sub === undefined) return usageError('missing subcommand (list, get or ack)');
  const spec = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (!spec) return usageError(`unknown subcommand ${JSON.stringify(sub)} (use list, get or ack)`);
  const parsed = parseCommand<Values>(argv.slice(1), { ...GATEWAY_OPTIONS, ...spec.options }, 'mailbox', MAILBOX_USAGE, spec.positionals);
  if ('done' in parsed) return parsed.done;
  const id = parsed.positionals[0] ?? '';
  if (spec.positionals.length > 0 && !isSafeId(id)) return usageError(`${JSON.stringify(id)} is not a message id`);
  const resolved = resolveGateway(parsed.values, env, 'mailbox', MAILBOX_USAGE);
  if ('done' in resolved) return resolved.done;
  return spec.run(resolved.gateway, parsed.values, id);
}

const messagePath = (id: string) => `v1/mailbox/${encodeURIComponent(id)}`;

async function list(gateway: Gateway, values: Values): Promise<CommandResult> {
  const url = gateway.url('v1/mailbox');
  let answer: HttpAnswer;
  try {
    answer = await fetchAnswer(url, gateway.tls);
  } catch (err) {
    return { code: 1, stdout: '', stderr: requestFailed('mailbox', url, err) };
  }
  if (answer.status !== 200) return problem(answer);
  if (values.json) return { code: 0, stdout: answer.body.toString('utf8'), stderr: '' };
  let items: unknown;
  try {
    items = (JSON.parse(answer.body.toString('utf8')) as { items?: unknown }).items;
  } catch (err) {
    return failure(`the answer is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(items)) return failure('the answer has no "items" list');
  const lines = (items as Array<Record<string, unknown>>).map((m) =>
    [String(m.messageId), String(m.caseId), String(m.kind), m.copy === true ? 'copy' : 'original', String(m.sentAt)].join('  '),
  );
  return {
    code: 0,
    stdout: lines.length ? `${lines.join('\n')}\n` : '',
    stderr: lines.length ? '' : `mailbox: no unacknowledged messages for ${gateway.who}\n`,
  };
}

async function get(gateway: Gateway, values: Values, id: string): Promise<CommandResult> {
  const url = gateway.url(messagePath(id));
  const outDir = resolve(values.out ?? DEFAULT_MESSAGES_DIR);
  const messageFile = join(outDir, `message-${id}.json`);
  const sigFile = join(outDir, `message-${id}.sig.der`);
  const partFile = join(outDir, `.message-${id}.json.${process.pid}.part`);
  const request = startRequest(url, gateway.tls, { method: 'GET' });
  request.req.end();
  let res: IncomingMessage;
  let size: number;
  let der: Buffer;
  try {
    try {
      res = await request.response;
    } catch (err) {
      return { code: 1, stdout: '', stderr: requestFailed('mailbox', url, err) };
    }
    if (res.statusCode !== 200) {
      try {
        return problem(await readAnswer(res));
      } catch (err) {
        return { code: 1, stdout: '', stderr: requestFailed('mailbox', url, err) };
      }
    }
    const sigHeader = res.headers['message-signature'];
    const compact = typeof sigHeader === 'string' ? sigHeader.replace(/\s+/g, '') : '';
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
      res.destroy();
      return failure('the answer carries no (base64) Message-Signature header');
    }
    der = Buffer.from(compact, 'base64');
    // The envelope can be large (the document in base64): it goes to disk as it
    // arrives, under a temporary name until it is complete.
    try {
      mkdirSync(outDir, { recursive: true });
      await pipeline(res, createWriteStream(partFile));
      size = statSync(partFile).size;
      const expected = res.headers['content-length'];
      if (expected !== undefined && Number(expected) !== size) {
        throw new Error(`got ${size} of the ${expected} bytes announced (Content-Length)`);
      }
      renameSync(partFile, messageFile);
      writeFileSync(sigFile, der);
    } catch (err) {
      rmSync(partFile, { force: true });
      return failure(`cannot fetch message ${id} into ${outDir}: ${(err as Error).message}`);
    }
  } finally {
    request.close();
  }
  const ca = gateway.caGiven ? ` --ca ${shellQuote(gateway.caFile)}` : '';
  const out = [
    `message:   ${messageFile} (${size} bytes)`,
    `signature: ${sigFile}`,
    '',
    'verify the signature with:',
    `  ${opensslVerifyCommand(sigFile, messageFile, gateway.caFile)}`,
    'or the signature and the document (its sha256 and size) with:',
    `  npm run cli -- verify-message --message ${shellQuote(messageFile)} --signature ${shellQuote(sigFile)}${ca}`,
  ];
  return { code: 0, stdout: `${out.join('\n')}\n`, stderr: '' };
}

async function ack(gateway: Gateway, id: string): Promise<CommandResult> {
  const url = gateway.url(`${messagePath(id)}/ack`);
  let answer: HttpAnswer;
  try {
    answer = await fetchAnswer(url, gateway.tls, 'POST');
  } catch (err) {
    return { code: 1, stdout: '', stderr: requestFailed('mailbox', url, err) };
  }
  if (answer.status !== 200) return problem(answer);
  const text = answer.body.toString('utf8');
  let printed = text;
  try {
    printed = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    /* print it as it came */
  }
  return { code: 0, stdout: `${printed}\n`, stderr: '' };
}
