/**
 * Queue `retention` (issue 15): the daily purge. One BullMQ job scheduler,
 * `retention-daily`, fires every day at RETENTION_PURGE_HOUR:15 Copenhagen
 * time; however many instances run, the scheduler gives one job to one of
 * them. The job carries no data: the processor asks the database which
 * closed cases are due (RetentionService.purgeDue), so a missed or repeated
 * run only moves the purge, never changes what it does. `runNow()` adds a
 * one-off run and waits for its outcome.
 */
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { bullConnection } from '../src/shared/bullmq.js';
import type { PurgeRun, RetentionService } from '../src/retention/service.js';

export const QUEUE_NAME = 'retention';
export const SCHEDULER_ID = 'retention-daily';
export const PURGE_TIME_ZONE = 'Europe/Copenhagen';

export interface RetentionQueueOptions {
  connection: RedisOptions;
  prefix: string;
  retention: Pick<RetentionService, 'purgeDue'>;
  log: Logger;
  /** the hour (0–23, Copenhagen time) of the daily run; default 2 */
  hour?: number;
}

/** The cron pattern of the daily run: minute 15 of `hour`. */
export const dailyPattern = (hour: number): string => `15 ${hour} * * *`;

export function createRetentionQueue(opts: RetentionQueueOptions) {
  const { log } = opts;
  const connection = bullConnection(opts.connection, `${opts.prefix}:${QUEUE_NAME}`);
  const queue = new Queue<Record<string, never>, PurgeRun>(QUEUE_NAME, { connection, prefix: opts.prefix });
  queue.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'retention queue: Redis error'));

  const worker = new Worker<Record<string, never>, PurgeRun>(QUEUE_NAME, () => opts.retention.purgeDue(), {
    connection,
    prefix: opts.prefix,
    concurrency: 1,
  });
  worker.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'retention worker: Redis error'));
  worker.on('failed', (job, err) =>
    log.error({ err: { message: err.message }, jobId: job?.id }, 'retention purge failed; the next daily run tries again'),
  );

  /** Registers (or updates) the daily run; idempotent across instances and restarts. */
  async function schedule(): Promise<void> {
    await queue.upsertJobScheduler(
      SCHEDULER_ID,
      { pattern: dailyPattern(opts.hour ?? 2), tz: PURGE_TIME_ZONE },
      { name: 'purge', data: {}, opts: { removeOnComplete: 30, removeOnFail: 30 } },
    );
  }

  /** A one-off run now; resolves with what it purged. */
  async function runNow(): Promise<PurgeRun> {
    const events = new QueueEvents(QUEUE_NAME, { connection, prefix: opts.prefix });
    try {
      await events.waitUntilReady();
      const job = await queue.add('purge-now', {}, { removeOnComplete: 30, removeOnFail: 30 });
      return await job.waitUntilFinished(events);
    } finally {
      await events.close();
    }
  }

  async function close(): Promise<void> {
    await worker.close();
    await queue.close();
  }

  return { queue, worker, schedule, runNow, close };
}

export type RetentionQueue = ReturnType<typeof createRetentionQueue>;
