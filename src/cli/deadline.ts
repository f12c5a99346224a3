/**
 * `deadline` command: print the clock a receipt would carry for a case
 * received now-or-then, without touching the gateway's state.
 *
 *   deadline --service S --received ISO [--consultation YYYY-MM-DD]
 *            [--municipality CODE] [--party ID] [--urgent] [--agreements FILE]
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { agreementInForce, loadAgreementsFile } from '../deadlines/agreements.js';
import { isInstantString, localDate } from '../deadlines/calendar.js';
import { isDateString } from '../shared/identifiers.js';
import { computeClock } from '../deadlines/engine.js';
import { isService, SERVICES, type Agreement, type ClockEvent } from '../deadlines/types.js';
import { parseCommand, usageError as sharedUsageError, type CommandResult } from './args.js';

export const DEFAULT_AGREEMENTS_FILE = 'config/agreements.json';

export const DEADLINE_USAGE = `usage: deadline --service SERVICE --received ISO-INSTANT [options]

Prints the clock (deadlines) JSON exactly as a receipt would carry it.
The case is taken to be complete at --received (the clock starts then).

  --service S            one of: ${SERVICES.join(', ')}
  --received ISO         instant the case was received, with Z or an offset,
                         e.g. 2026-12-18T09:41:07Z or 2026-12-18T10:41:07+01:00
  --consultation DATE    clinical-assessment: booked consultation date, YYYY-MM-DD (§23)
  --municipality CODE    3-digit code of the sending municipality, e.g. 101
  --party ID             sending party id, e.g. spe (Seniorpensionsenheden)
  --urgent               urgent rehab-team case (§21 stk. 3)
  --agreements FILE      agreements file (default ${DEFAULT_AGREEMENTS_FILE})
  -h, --help             show this help
`;

const usageError = (message: string): CommandResult => sharedUsageError('deadline', DEADLINE_USAGE, message);

export async function deadlineCommand(args: string[]): Promise<CommandResult> {
  const argv = args[0] === 'deadline' ? args.slice(1) : args;
  const parsed = parseCommand<{
    service?: string;
    received?: string;
    consultation?: string;
    municipality?: string;
    party?: string;
    urgent?: boolean;
    agreements?: string;
    help?: boolean;
  }>(
    argv,
    {
      service: { type: 'string' },
      received: { type: 'string' },
      consultation: { type: 'string' },
      municipality: { type: 'string' },
      party: { type: 'string' },
      urgent: { type: 'boolean' },
      agreements: { type: 'string' },
    },
    'deadline',
    DEADLINE_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const { values } = parsed;

  const { service, received, consultation, municipality, party } = values;
  if (service === undefined) return usageError('--service is required');
  if (!isService(service)) return usageError(`unknown service ${JSON.stringify(service)}; use one of ${SERVICES.join(', ')}`);
  if (received === undefined) return usageError('--received is required');
  if (!isInstantString(received)) {
    return usageError(
      `--received must be an ISO 8601 instant with Z or an offset, e.g. 2026-12-18T09:41:07Z (got ${JSON.stringify(received)})`,
    );
  }
  if (consultation !== undefined) {
    if (!isDateString(consultation))
      return usageError(`--consultation must be a real date YYYY-MM-DD (got ${JSON.stringify(consultation)})`);
    if (service !== 'clinical-assessment') return usageError('--consultation applies only to --service clinical-assessment (§23)');
  }
  if (municipality !== undefined && !/^\d{3}$/.test(municipality)) {
    return usageError(`--municipality must be a 3-digit municipality code, e.g. 101 (got ${JSON.stringify(municipality)})`);
  }
  if (party !== undefined && party.trim() === '') return usageError('--party must not be empty');

  const stderr: string[] = [];
  let agreements: Agreement[] = [];
  const file = resolve(process.cwd(), values.agreements ?? DEFAULT_AGREEMENTS_FILE);
  if (values.agreements !== undefined && !existsSync(file)) {
    return usageError(`agreements file ${file} does not exist`);
  }
  if (existsSync(file)) {
    try {
      agreements = loadAgreementsFile(file);
    } catch (err) {
      return { code: 1, stdout: '', stderr: `deadline: ${(err as Error).message}\n` };
    }
  } else {
    stderr.push(`warning: no agreements file at ${file}; statutory defaults apply`);
  }

  const date = localDate(received);
  const selector = { municipalityCode: municipality ?? null, partyId: party ?? null };
  const agreement = municipality || party ? agreementInForce(agreements, selector, date) : null;
  if (!agreement && (municipality || party)) {
    const who = [party && `party ${party}`, municipality && `municipality ${municipality}`].filter(Boolean).join(' / ');
    stderr.push(`warning: no agreement in force for ${who} on ${date}; statutory defaults apply`);
  }

  const events: ClockEvent[] = consultation ? [{ event: 'consultation-booked', at: received, date: consultation }] : [];
  const { clock, warnings } = computeClock({
    service,
    urgent: values.urgent === true,
    receivedAt: received,
    startedAt: received,
    agreement,
    events,
  });
  for (const w of warnings) stderr.push(`warning: ${w}`);
  return {
    code: 0,
    stdout: JSON.stringify(clock, null, 2),
    stderr: stderr.length ? `${stderr.join('\n')}\n` : '',
  };
}
