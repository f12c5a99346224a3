/**
 * Audited reads, bounded (issue 15, hardening: "5 000 mailbox reads in 14 s
 * gave 5 000 audit rows").
 *
 * - **Rate limit**: each party may make `ratePerMinute` audited reads a minute
 *   (staff case and document reads, mailbox message reads; a token bucket per
 *   party, like the uploads' in src/intake/admission.ts). Beyond it the read is
 *   refused with 429 problem+json and Retry-After before anything is read.
 *   Issue 16, several instances: with `shared` (Redis) the allowance holds
 *   across every instance of the deployment (rate-limiter-flexible's
 *   RateLimiterRedis, a window of a minute per party, as the uploads' rate),
 *   instead of being multiplied by their number; while Redis does not answer,
 *   the instance's own token bucket stands in.
 * - **Repeated reads**: the first read of an object by a party writes its
 *   audit entry before the data is handed out, as always. Reads of the same
 *   object by the same party within the next `windowMs` are counted, not
 *   written one by one; when the window has passed (checked every `windowMs`,
 *   at the party's next read of it, and at shutdown) one entry of the same
 *   action records them: `details.repeats` = how many, `details.firstSeq` =
 *   the entry they repeat, `at` = the last of them. A crash can lose at most
 *   one window's repeat counts, never a first read.
 */
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { secondsToWait } from '../shared/rate-limit.js';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { Problem } from '../shared/problem.js';
import { createTokenBuckets } from '../shared/token-bucket.js';
import { appendAudit, type AuditEntry, type AuditTarget } from './audit.js';

export interface ReadLimits {
  /** audited reads a minute per party; 0 = no limit */
  ratePerMinute: number;
  /** repeated reads of one object by one party within this many ms are one entry with a count; 0 = every read its own entry */
  windowMs: number;
}

export interface ReadAudit {
  /** Takes one read from the party's allowance, or rejects with 429 (problem+json, Retry-After). */
  admit(party: string): Promise<void>;
  /**
   * Audits a read of `object` (e.g. a document id): appends `entry` to the
   * chain, or, within the window of an earlier read of the same object by
   * the same actor, only counts it. Call after `admit`, before handing out the data.
   */
  record(object: string, entry: AuditEntry): Promise<void>;
  /** Writes the counts of windows that have passed (all of them with `all`, at shutdown). */
  flush(all?: boolean): Promise<void>;
  /** Starts the periodic flush (the timer does not keep the process alive). */
  start(): void;
  /** Stops the timer and writes every pending count: call before the database closes. */
  stop(): Promise<void>;
}

interface Window {
  until: number;
  firstSeq: number;
  repeats: number;
  lastAt: string;
  entry: AuditEntry;
}

export function createReadAudit(deps: {
  db: { db: Kysely<Database> } & AuditTarget;
  limits: ReadLimits;
  log?: Logger;
  now?: () => number;
  /** the deployment's Redis and key prefix (QUEUE_PREFIX): the allowance is shared by its instances */
  shared?: { redis: Redis; prefix: string };
}): ReadAudit {
  const { limits } = deps;
  const now = deps.now ?? Date.now;
  const buckets = createTokenBuckets(limits.ratePerMinute, now);
  const sharedRate =
    deps.shared && limits.ratePerMinute > 0
      ? new RateLimiterRedis({
          storeClient: deps.shared.redis,
          keyPrefix: `${deps.shared.prefix}:reads:rate`,
          points: limits.ratePerMinute,
          duration: 60,
        })
      : undefined;

  let redisDown = false;

  /** Seconds until the party may read again (0: admitted, its read taken from the allowance). */
  async function wait(party: string): Promise<number> {
    if (!sharedRate) return buckets.take(party);
    try {
      const seconds = await secondsToWait(sharedRate, party);
      redisDown = false;
      return seconds;
    } catch (err) {
      // said once per outage, not at every read while it lasts
      if (!redisDown) deps.log?.warn({ err }, 'audited reads: Redis did not answer; this instance limits reads on its own');
      redisDown = true;
      return buckets.take(party);
    }
  }
  const windows = new Map<string, Window>();
  let timer: NodeJS.Timeout | undefined;

  async function writeRepeats(key: string, w: Window): Promise<void> {
    windows.delete(key);
    if (w.repeats === 0) return;
    await appendAudit(deps.db.db, deps.db, {
      ...w.entry,
      at: w.lastAt,
      details: { ...(w.entry.details ?? {}), repeats: w.repeats, firstSeq: w.firstSeq },
    });
  }

  async function flush(all = false): Promise<void> {
    const t = now();
    for (const [key, w] of [...windows]) {
      if (!all && w.until > t) continue;
      try {
        await writeRepeats(key, w);
      } catch (err) {
        // kept for the next flush: the count is not lost to a passing database error
        windows.set(key, w);
        deps.log?.warn({ err, repeats: w.repeats }, 'repeated reads could not be audited yet; trying again');
        if (!all) return;
        throw err;
      }
    }
  }

  return {
    async admit(party) {
      const seconds = await wait(party);
      if (seconds > 0) {
        throw new Problem({
          status: 429,
          title: 'Too many requests',
          type: 'read-rate-limited',
          detail: `at most ${limits.ratePerMinute} audited reads a minute per party (AUDITED_READS_PER_MINUTE); try again in ${seconds} s`,
          headers: { 'Retry-After': String(seconds) },
        });
      }
    },
    async record(object, entry) {
      if (limits.windowMs <= 0) {
        await appendAudit(deps.db.db, deps.db, entry);
        return;
      }
      const key = `${entry.actor}\n${entry.action}\n${object}`;
      const t = now();
      const w = windows.get(key);
      if (w && w.until > t) {
        w.repeats++;
        w.lastAt = entry.at;
        return;
      }
      if (w) await writeRepeats(key, w);
      const { seq } = await appendAudit(deps.db.db, deps.db, entry);
      windows.set(key, { until: t + limits.windowMs, firstSeq: seq, repeats: 0, lastAt: entry.at, entry });
    },
    flush,
    start() {
      if (timer || limits.windowMs <= 0) return;
      timer = setInterval(() => void flush().catch(() => undefined), Math.max(1000, limits.windowMs));
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await flush(true);
    },
  };
}
