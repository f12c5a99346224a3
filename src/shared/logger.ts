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

/**
 * A CPR number as it turns up in free text: ten digits, written DDMMYY-SSSS or
 * DDMMYYSSSS, that are not part of a longer run of digits. Letters, `_` or
 * other characters around it do not protect it: `cpr0707801230` and
 * `sag_0909801232` are scrubbed (issue 15; `\b` missed them). Longer digit runs
 * stay: EAN/GLN (13 digits), SOR ids (15–18), epoch milliseconds (13).
 */
const CPR_IN_TEXT = String.raw`(?<!\d)\d{6}-?\d{4}(?!\d)`;
/**
 * Tokens that hold ten digits in a row by chance and are never a CPR number:
 * a UUID (e.g. `…-baab-cd0108199987`, or `ab010819-9987-…`) and a hex digest
 * of 32 characters or more (MD5 and longer: SHA-256 document digests, audit
 * links, HMAC citizen references). They are matched first and kept whole, so
 * receipts' and documents' identifiers and digests in logs and audit details
 * are never mangled.
 */
const KEEP = String.raw`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-z])|(?<![0-9a-z])[0-9a-f]{32,}(?![0-9a-z])`;
const SCRUB_RE = new RegExp(`(${KEEP})|${CPR_IN_TEXT}`, 'gi');

/** Replaces every CPR-like number in free text with `[CPR]` (logs, audit details). */
export function scrubCpr(s: string): string {
  return s.replace(SCRUB_RE, (m, keep: string | undefined) => keep ?? '[CPR]');
}

/**
 * True when the scrubber would change `s`: it holds a CPR-like number. For identifiers a sender chooses
 * (packageId, part names), which travel in logs, receipts and the audit log and are refused when this holds.
 */
export function containsCprLike(s: string): boolean {
  return scrubCpr(s) !== s;
}

/** Scrubs every string inside a plain value (objects, arrays), copying only what changes. Depth-limited. */
export function scrubDeep(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return scrubCpr(v);
  if (depth > 8 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    v.forEach((x, i) => {
      const y = scrubDeep(x, depth + 1);
      if (y !== x) (out ??= [...v])[i] = y;
    });
    return out ?? v;
  }
  if (v instanceof Error) return { type: v.name, message: scrubCpr(v.message), stack: v.stack && scrubCpr(v.stack) };
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v; // Buffers, Dates, class instances: left to pino's serialisers
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const y = scrubDeep(x, depth + 1);
    if (y !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = y;
  }
  return out ?? v;
}

export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  return pino(
    {
      base: { service: opts.name ?? 'postkasse' },
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        log(obj) {
          // Error messages and other free text, at any depth, are scrubbed of CPR-like numbers.
          for (const [k, v] of Object.entries(obj)) obj[k] = scrubDeep(v);
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
