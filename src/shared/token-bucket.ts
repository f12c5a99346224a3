/**
 * A token bucket per party: `ratePerMinute` requests a minute, up to that many at once after a quiet
 * minute: the audited reads' limit within one instance (src/audit/reads.ts), and its stand-in while Redis does not
 * answer.
 */
export function createTokenBuckets(ratePerMinute: number, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    /** 0 when `party` had a token (it is taken; also when there is no limit), else the whole seconds until it has one. */
    take(party: string): number {
      if (ratePerMinute <= 0) return 0;
      const t = now();
      const perMs = ratePerMinute / 60_000;
      const b = buckets.get(party) ?? { tokens: ratePerMinute, at: t };
      b.tokens = Math.min(ratePerMinute, b.tokens + (t - b.at) * perMs);
      b.at = t;
      buckets.set(party, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
    },
  };
}
