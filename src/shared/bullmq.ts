/**
 * BullMQ connection options from the gateway's Redis connection (the one
 * shared/redis.ts verified or started), for every queue module in queues/.
 */
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';

export function bullConnection(redis: RedisOptions, name: string): BullRedisOptions {
  // ioredis allows `retryStrategy: null`, BullMQ's option type does not: drop it then (ioredis's default applies).
  const { retryStrategy, ...rest } = redis;
  return {
    ...rest,
    ...(retryStrategy ? { retryStrategy } : {}),
    maxRetriesPerRequest: null, // required by BullMQ workers
    // named, so operators (CLIENT LIST) and the tests can see these connections
    connectionName: redis.connectionName ?? name,
  };
}

export interface Reconciler<R> {
  /** One pass now (a pass already running is joined, not doubled). */
  run(): Promise<R>;
  /** Stops the interval and waits for a pass in flight. */
  stop(): Promise<void>;
}

/**
 * Redis is not the truth: a queue's reconciler re-creates from the database
 * the jobs Redis lost. `pass` runs at start-up (unless `onStart` is false) and
 * every `intervalMs` (0 = never); one pass at a time; a failed pass is logged
 * and retried at the next interval.
 */
export function startReconciler<R>(
  name: string,
  pass: () => Promise<R>,
  opts: { intervalMs: number; onStart?: boolean; log: { warn(obj: object, msg?: string): void } },
): Reconciler<R> {
  let running: Promise<R> | null = null;
  const run = (): Promise<R> => {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  };
  const runLogged = (why: string) =>
    void run().catch((err: unknown) => opts.log.warn({ err, why }, `${name} reconciler failed (retried at the next interval)`));
  if (opts.onStart !== false) runLogged('start-up');
  const timer = opts.intervalMs > 0 ? setInterval(() => runLogged('interval'), opts.intervalMs) : undefined;
  timer?.unref();
  return {
    run,
    async stop() {
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
