/**
 * Admission control for uploads (issue 6): a cap on uploads in flight in
 * total and per party, and a per-party rate limit (token bucket). A refusal
 * happens before a byte of the body is read: 429 (this party: too many at
 * once, or too fast) or 503 (the gateway as a whole is busy), both with
 * Retry-After, so a well-behaved client backs off instead of hammering.
 */
import type { RequestHandler } from 'express';
import { Problem } from '../shared/problem.js';
import { createTokenBuckets } from '../shared/token-bucket.js';

export interface AdmissionLimits {
  maxConcurrent: number;
  maxConcurrentPerParty: number;
  /** requests per minute per party; 0 = no limit */
  ratePerMinute: number;
}

export function createAdmission(limits: AdmissionLimits, now: () => number = Date.now) {
  let inFlight = 0;
  const perParty = new Map<string, number>();
  const buckets = createTokenBuckets(limits.ratePerMinute, now);

  const middleware: RequestHandler = (req, res, next) => {
    const party = req.party!.id;
    const mine = perParty.get(party) ?? 0;
    if (mine >= limits.maxConcurrentPerParty) {
      return next(
        new Problem({
          status: 429,
          title: 'Too many requests',
          type: 'too-many-concurrent-uploads',
          detail: `at most ${limits.maxConcurrentPerParty} uploads at a time per sender; wait for one to finish`,
          headers: { 'Retry-After': '5' },
        }),
      );
    }
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
    const wait = buckets.take(party);
    if (wait > 0) {
      return next(
        new Problem({
          status: 429,
          title: 'Too many requests',
          type: 'rate-limited',
          detail: `at most ${limits.ratePerMinute} uploads a minute per sender`,
          headers: { 'Retry-After': String(wait) },
        }),
      );
    }
    inFlight++;
    perParty.set(party, mine + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      inFlight--;
      const n = (perParty.get(party) ?? 1) - 1;
      if (n <= 0) perParty.delete(party);
      else perParty.set(party, n);
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };

  return { middleware, inFlight: () => inFlight };
}
