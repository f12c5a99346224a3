/**
 * Admission control for uploads (issue 6): a cap on uploads in flight in
 * total and per party, and a per-party rate limit. A refusal happens before a
 * byte of the body is read: 429 (this party: too many at once, or too fast) or
 * 503 (the gateway as a whole is busy), both with Retry-After, so a
 * well-behaved client backs off instead of hammering.
 *
 * Issue 16, several instances: with `shared` (Redis) a party's limits hold
 * across every instance of the deployment, instead of being multiplied by
 * their number:
 * - the per-party rate: `rate-limiter-flexible`'s RateLimiterRedis (a window of
 *   a minute per party), with an in-memory limiter of the same rate standing
 *   in for as long as Redis does not answer;
 * - the per-party uploads in flight: a sorted set per party in Redis, one
 *   member (a lease) per upload, added and counted in one Lua script and
 *   removed when the upload ends. A lease expires after `leaseMs` (longer than
 *   any request may last), so an instance killed mid-upload leaks no slot for
 *   good. Without Redis answering, the instance's own count stands in.
 * The total in flight (MAX_CONCURRENT_UPLOADS) stays per instance: it
 * protects that process's memory, disk and CPU.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { secondsToWait } from '../shared/rate-limit.js';
import { Problem } from '../shared/problem.js';

export interface AdmissionLimits {
  maxConcurrent: number;
  maxConcurrentPerParty: number;
  /** requests per minute per party; 0 = no limit */
  ratePerMinute: number;
}

export interface SharedAdmission {
  redis: Redis;
  /** the deployment's key prefix (QUEUE_PREFIX): instances of one deployment share it */
  prefix: string;
  /** how long a lease of an upload in flight lives at most (longer than the request timeout) */
  leaseMs: number;
  log: Logger;
}

/** Drops expired leases, and adds one when fewer than the limit are left: 1 admitted, 0 refused. */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

const tooManyAtOnce = (max: number) =>
  new Problem({
    status: 429,
    title: 'Too many requests',
    type: 'too-many-concurrent-uploads',
    detail: `at most ${max} uploads at a time per sender; wait for one to finish`,
    headers: { 'Retry-After': '5' },
  });

export function createAdmission(limits: AdmissionLimits, opts: { shared?: SharedAdmission; now?: () => number } = {}) {
  const now = opts.now ?? Date.now;
  const shared = opts.shared;
  let inFlight = 0;
  const perParty = new Map<string, number>();
  const rateOpts = { points: limits.ratePerMinute, duration: 60 };
  const memoryRate = new RateLimiterMemory(rateOpts);
  const rate =
    limits.ratePerMinute <= 0
      ? undefined
      : shared
        ? new RateLimiterRedis({
            ...rateOpts,
            storeClient: shared.redis,
            keyPrefix: `${shared.prefix}:admission:rate`,
            // Redis not answering: this instance's own limiter of the same rate stands in
            insuranceLimiter: memoryRate,
          })
        : memoryRate;
  const leases = (party: string) => `${shared!.prefix}:admission:uploads:${party}`;

  /** Seconds to wait before the party may upload again, or 0 (its point is taken). */
  async function takeRate(party: string): Promise<number> {
    return rate ? secondsToWait(rate, party) : 0;
  }

  /** A lease for one more upload of `party` across the instances, or null when it has its limit in flight. */
  async function acquireShared(party: string): Promise<(() => void) | null | 'unavailable'> {
    const member = randomUUID();
    const t = now();
    try {
      const ok = await shared!.redis.eval(
        ACQUIRE,
        1,
        leases(party),
        t,
        t + shared!.leaseMs,
        member,
        limits.maxConcurrentPerParty,
        shared!.leaseMs,
      );
      if (ok !== 1) return null;
    } catch (err) {
      shared!.log.warn({ err }, 'admission: Redis did not answer; this instance counts its own uploads in flight');
      return 'unavailable';
    }
    return () => {
      shared!.redis.zrem(leases(party), member).catch((err: unknown) => {
        shared!.log.warn({ err }, 'admission: a lease could not be returned to Redis; it expires by itself');
      });
    };
  }

  const middleware: RequestHandler = (req, res, next) => {
    const party = req.party!.id;
    const mine = perParty.get(party) ?? 0;
    if (mine >= limits.maxConcurrentPerParty) return next(tooManyAtOnce(limits.maxConcurrentPerParty));
    if (inFlight >= limits.maxConcurrent) {
      return next(
        new Problem({
          status: 503,
          title: 'Service unavailable',
          type: 'busy',
          detail: `the gateway is receiving ${limits.maxConcurrent} uploads; try again shortly`,
          headers: { 'Retry-After': '5' },
        }),
      );
    }
    // Counted here at once, so that concurrent requests of this instance see each other while Redis answers.
    inFlight++;
    perParty.set(party, mine + 1);
    let lease: (() => void) | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inFlight--;
      const n = (perParty.get(party) ?? 1) - 1;
      if (n <= 0) perParty.delete(party);
      else perParty.set(party, n);
      lease?.();
    };
    res.once('finish', release);
    res.once('close', release);
    void (async () => {
      if (shared) {
        const got = await acquireShared(party);
        if (got === null) throw tooManyAtOnce(limits.maxConcurrentPerParty);
        // the client may have gone while Redis answered: its lease goes back at once
        if (got !== 'unavailable') {
          if (released) got();
          else lease = got;
        }
      }
      const wait = await takeRate(party);
      if (wait > 0) {
        throw new Problem({
          status: 429,
          title: 'Too many requests',
          type: 'rate-limited',
          detail: `at most ${limits.ratePerMinute} uploads a minute per sender`,
          headers: { 'Retry-After': String(wait) },
        });
      }
    })().then(
      () => next(),
      (err: unknown) => {
        release();
        next(err);
      },
    );
  };

  return { middleware, inFlight: () => inFlight };
}
