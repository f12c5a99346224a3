/**
 * Waiting in tests: on observable state, not on the clock.
 *
 * - `waitFor` polls something the test can see (a database row, a queue's
 *   jobs, a captured log line `g.logs`, a flag an event handler sets, a temp
 *   file) until it holds. It returns as soon as it does, so it is fast on a
 *   fast machine and still correct on a slow one.
 * - `stayFor` is the one fixed wait left: a deliberate, named negative wait
 *   ("nothing must happen during this time"). It only proves that nothing
 *   happened within its window, and every run pays for all of it, so keep it
 *   short (at most STAY_LIMIT_MS unless the test is about a timeout), and give
 *   it the check that must stay false so that it fails the moment the thing
 *   happens.
 *
 * A pause that is part of a protocol a test simulates (a slowloris client, a
 * client going silent mid-body) is neither: it stays a plain timer, under a
 * name or comment saying so.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

export interface WaitOptions {
  /** give up after this long (default 10 s) */
  timeoutMs?: number;
  /** poll interval (default 25 ms) */
  everyMs?: number;
}

const show = (v: unknown) => {
  const s = inspect(v, { depth: 4, breakLength: Infinity });
  return s.length > 600 ? `${s.slice(0, 600)}…` : s;
};

/**
 * Polls `fn` until it returns something truthy, and returns that. A throw
 * counts as "not yet" (so `fn` may assert). On timeout it throws an Error
 * naming `what` and the last value or error `fn` gave.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, everyMs = 25 } = opts;
  const end = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown };
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = { value: v };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= end) {
      const seen =
        'error' in last
          ? `last error: ${last.error instanceof Error ? last.error.message : show(last.error)}`
          : `last value: ${show(last.value)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${seen}`, 'error' in last ? { cause: last.error } : undefined);
    }
    await sleep(everyMs);
  }
}

/** Longest negative wait allowed unless the test is about a timeout. */
export const STAY_LIMIT_MS = 500;

export interface StayOptions {
  /** polled during the window: truthy means the thing that must not happen has happened (fails at once, with that value) */
  happened?: () => unknown;
  /** poll interval for `happened` (default 25 ms) */
  everyMs?: number;
  /** allows a window longer than STAY_LIMIT_MS: only for a test about a timeout */
  aboutATimeout?: boolean;
}

/**
 * A deliberate negative wait: `ms` during which `what` must not happen
 * (`what` names the thing that must not happen, e.g. "a push of the
 * acknowledged message"). With `happened`, fails as soon as it returns
 * truthy, and checks it once more at the end of the window. Short by rule:
 * longer than STAY_LIMIT_MS only with `aboutATimeout`.
 */
export async function stayFor(what: string, ms: number, opts: StayOptions = {}): Promise<void> {
  const { happened, everyMs = 25, aboutATimeout = false } = opts;
  if (ms > STAY_LIMIT_MS && !aboutATimeout) {
    throw new Error(`stayFor(${what}): ${ms} ms is longer than ${STAY_LIMIT_MS} ms; wait for something observable instead`);
  }
  const end = Date.now() + ms;
  for (;;) {
    if (happened) {
      const v: unknown = await happened();
      if (v) throw new Error(`${what} happened within ${ms} ms (it must not): ${show(v)}`);
    }
    const left = end - Date.now();
    if (left <= 0) return;
    await sleep(happened ? Math.min(everyMs, left) : left);
  }
}
