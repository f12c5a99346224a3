import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';

/**
 * Where every captured log line of the run also goes (set by test/run.mjs),
 * so that test/logs.check.ts can scan the whole suite's logs at the end.
 */
const LOG_DIR = process.env.POSTKASSE_TEST_LOG_DIR;
const logFile = LOG_DIR ? join(LOG_DIR, `${process.pid}-${randomBytes(4).toString('hex')}.log`) : undefined;
if (LOG_DIR) mkdirSync(LOG_DIR, { recursive: true });

/** Keeps log lines of the suite for the final scan (no-op outside test/run.mjs). */
export function keepForScan(lines: string[]): void {
  if (logFile && lines.length > 0) appendFileSync(logFile, lines.join('\n') + '\n');
}

/** A pino destination that keeps every line, for asserting what was (not) logged. */
export function logCapture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      const got = String(chunk).split('\n').filter(Boolean);
      lines.push(...got);
      keepForScan(got);
      cb();
    },
  });
  return { lines, stream };
}
