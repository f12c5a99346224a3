/**
 * `settlement`: a month's settlement statements from the gateway (§17–19),
 * as text, JSON or CSV for the region's finance system; `--close` closes the
 * month (finance, team leads).
 *
 *   settlement --month 2027-01 [--payer kommune-101] [--csv | --json] [--close] [gateway options]
 */
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';
import {
  fetchAnswer,
  formatProblem,
  GATEWAY_OPTIONS,
  GATEWAY_OPTIONS_USAGE,
  requestFailed,
  resolveGateway,
  type GatewayOptionValues,
  type HttpAnswer,
} from './gateway.js';

export const SETTLEMENT_USAGE = `usage: settlement --month YYYY-MM [--payer PARTY] [--csv | --json] [--close] [options]

A month's settlement statements, one per payer (§17–19, §28), over mutual TLS
(GET /v1/settlements). Finance and team leads read every payer's; a
municipality or Seniorpensionsenheden its own. Amounts are in DKK in the text,
in øre in JSON and CSV.

  --month YYYY-MM      the month (required)
  --payer PARTY        only this payer's statement
  --csv                print the CSV the region's finance system reads
  --json               print the gateway's JSON answer as it is
  --close              close the month first (POST /v1/settlements/MONTH/close):
                       its statements are frozen and their hashes audited
${GATEWAY_OPTIONS_USAGE}
  -h, --help           show this help

Example: npm run cli -- settlement --month 2027-01 --as fin-1 --csv
`;

type Values = GatewayOptionValues & { month?: string; payer?: string; csv?: boolean; json?: boolean; close?: boolean };

interface Line {
  kind: string;
  caseId?: string;
  service?: string;
  amountOre: number | null;
  basis: string;
}
interface Statement {
  month: string;
  payer: string;
  payerName?: string;
  lines: Line[];
  totalOre: number;
  unpricedLines: number;
  invoiceDate: string;
  dueDate: string;
  closed: boolean;
}

const usageError = (message: string): CommandResult => sharedUsageError('settlement', SETTLEMENT_USAGE, message);

/** øre → "1.234,56" */
export function kroner(ore: number): string {
  const neg = ore < 0;
  const abs = Math.abs(ore);
  const kr = Math.floor(abs / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return `${neg ? '-' : ''}${kr},${String(abs % 100).padStart(2, '0')}`;
}

export function formatStatements(list: readonly Statement[]): string {
  if (list.length === 0) return 'no statements: nothing was delivered and no coordinator function was in force\n';
  const out: string[] = [];
  for (const s of list) {
    out.push(
      `${s.month}  ${s.payer}${s.payerName ? ` (${s.payerName})` : ''}  ${s.closed ? 'closed' : 'open'}  ` +
        `invoice ${s.invoiceDate}, due ${s.dueDate}`,
    );
    for (const l of s.lines) {
      const amount = l.amountOre === null ? 'no price' : `${kroner(l.amountOre)} DKK`;
      out.push(`  ${l.kind.padEnd(20)} ${amount.padStart(18)}  ${[l.service, l.caseId].filter(Boolean).join(' ')}`);
      out.push(`  ${''.padEnd(20)} ${l.basis}`);
    }
    out.push(
      `  ${'total'.padEnd(20)} ${`${kroner(s.totalOre)} DKK`.padStart(18)}${s.unpricedLines ? `  (${s.unpricedLines} line(s) without a price)` : ''}`,
    );
    out.push('');
  }
  return `${out.join('\n')}`;
}

export async function settlementCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'settlement' ? args.slice(1) : args;
  const parsed = parseCommand<Values>(
    argv,
    {
      ...GATEWAY_OPTIONS,
      month: { type: 'string' },
      payer: { type: 'string' },
      csv: { type: 'boolean' },
      json: { type: 'boolean' },
      close: { type: 'boolean' },
    },
    'settlement',
    SETTLEMENT_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const v = parsed.values;
  if (!v.month) return usageError('missing --month YYYY-MM');
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(v.month))
    return usageError(`--month must be a month written YYYY-MM, not ${JSON.stringify(v.month)}`);
  if (v.csv && v.json) return usageError('give --csv or --json, not both');
  const resolved = resolveGateway(v, env, 'settlement', SETTLEMENT_USAGE);
  if ('done' in resolved) return resolved.done;
  const gateway = resolved.gateway;
  const call = async (path: string, method: 'GET' | 'POST'): Promise<HttpAnswer | CommandResult> => {
    const url = gateway.url(path);
    try {
      return await fetchAnswer(url, gateway.tls, method);
    } catch (err) {
      return { code: 1, stdout: '', stderr: requestFailed('settlement', url, err) };
    }
  };
  let closedNote = '';
  if (v.close) {
    const closed = await call(`v1/settlements/${v.month}/close`, 'POST');
    if ('code' in closed) return closed;
    if (closed.status !== 200) return { code: 1, stdout: '', stderr: formatProblem(closed) };
    closedNote = `settlement: ${v.month} is closed\n`;
  }
  const query = new URLSearchParams({ month: v.month, ...(v.payer ? { payer: v.payer } : {}), ...(v.csv ? { format: 'csv' } : {}) });
  const answer = await call(`v1/settlements?${query.toString()}`, 'GET');
  if ('code' in answer) return answer;
  if (answer.status !== 200) return { code: 1, stdout: '', stderr: formatProblem(answer) };
  const text = answer.body.toString('utf8');
  if (v.csv || v.json) return { code: 0, stdout: text, stderr: closedNote };
  const body = JSON.parse(text) as Statement | { statements: Statement[] };
  const list = 'statements' in body ? body.statements : [body];
  return { code: 0, stdout: formatStatements(list), stderr: closedNote };
}
