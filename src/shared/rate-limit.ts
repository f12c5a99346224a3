/**
 * A party's rate limit through rate-limiter-flexible (issue 16: kept in Redis, so that a deployment's instances share
 * one budget): the seconds to wait, as the 429's Retry-After says them. Used by the upload admission
 * (src/intake/admission.ts) and the audited reads (src/audit/reads.ts).
 */
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** Takes one point of `key`: 0 when it had one, else the whole seconds (≥ 1) until it has. Other errors (the store not answering) are thrown. */
export async function secondsToWait(limiter: RateLimiterAbstract, key: string): Promise<number> {
  try {
    await limiter.consume(key);
    return 0;
  } catch (res) {
    if (res instanceof RateLimiterRes) return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    throw res;
  }
}
