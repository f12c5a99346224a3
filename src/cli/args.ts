/**
 * What every operator command shares: its result, the usage error, and
 * strict argument parsing (unknown options and stray arguments are usage
 * errors, exit code 2; --help prints the usage).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function usageError(command: string, usage: string, message: string): CommandResult {
  return { code: 2, stdout: '', stderr: `${command}: ${message}\n\n${usage}` };
}

/**
 * Parses `argv` against `options` (plus -h/--help). Returns the values (typed
 * by the caller as `V`) and the positional arguments, or the result to return
 * at once: the usage for --help, a usage error for anything unknown, and for
 * positional arguments other than exactly the ones named in `positionals`
 * (none by default), e.g. `['MESSAGE_ID']`.
 */
export function parseCommand<V>(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  command: string,
  usage: string,
  positionalNames: readonly string[] = [],
): { values: V; positionals: string[] } | { done: CommandResult } {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    return { done: usageError(command, usage, (err as Error).message) };
  }
  if (values.help) return { done: { code: 0, stdout: usage, stderr: '' } };
  if (positionals.length > positionalNames.length) {
    return { done: usageError(command, usage, `unexpected argument ${JSON.stringify(positionals[positionalNames.length])}`) };
  }
  if (positionals.length < positionalNames.length)
    return { done: usageError(command, usage, `missing ${positionalNames[positionals.length]}`) };
  return { values: values as V, positionals };
}
