import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that may carry personal data. pino's redaction replaces them before a
 * line is serialised; the `cprScrub` hook below is a second line of defence
 * for free text (error messages) that might quote a CPR number.
 */
export const REDACT_PATHS = [
  'citizen',
  '*.citizen',
  '*.*.citizen',
  'cpr',
  '*.cpr',
  '*.*.cpr',
  'name',
  '*.name',
  'manifest',
  '*.manifest',
  'body',
  '*.body',
  'content',
  '*.content',
  'document',
  '*.document',
  'data',
  '*.data',
  'req.headers.authorization',
  'req.headers.cookie',
];

const CPR_RE = /\b(\d{6})-?(\d{4})\b/g;

export function scrubCpr(s: string): string {
  return s.replace(CPR_RE, '[CPR]');
}

export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  return pino(
    {
      base: { service: opts.name ?? 'postkasse' },
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        log(obj) {
          // Error messages and other free text are scrubbed of CPR-like numbers.
          for (const [k, v] of Object.entries(obj)) {
            if (typeof v === 'string') obj[k] = scrubCpr(v);
            else if (v instanceof Error) obj[k] = { type: v.name, message: scrubCpr(v.message), stack: v.stack && scrubCpr(v.stack) };
          }
          return obj;
        },
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubCpr(a) : a)) as typeof args;
          return method.apply(this, scrubbed);
        },
      },
    },
    opts.destination,
  );
}
