/**
 * Queue `timestamps` (issue 15): one job per receipt, job id
 * `stamp-<receiptId>`, data the receipt id only. The processor re-reads the
 * receipt (TimestampService.stampReceipt): stamped already, nothing to do;
 * otherwise it asks the TSAs (TSA_URLS, in order) for an RFC 3161 timestamp
 * over SHA-256 of the receipt's signature value and stores token and
 * response once.
 *
 * A TSA that does not answer: the job is retried with exponential backoff
 * (from 2 s, at most TSA_RETRY_MAX_SECONDS apart). When a stamp succeeds
 * while other receipts wait, their delayed retries run at once, so the
 * backlog drains as soon as the TSA is back.
 *
 * Jobs come from the transactional outbox (written with the receipt). Redis
 * is not the truth: `reconcile()` (start-up and every interval) re-adds a job
 * for every receipt still waiting; deterministic ids leave existing jobs
 * alone.
 */
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { bullConnection, startReconciler } from '../src/shared/bullmq.js';
import type { RelayTarget } from '../src/outbox/relay.js';
import type { StampOutcome, TimestampService } from '../src/timestamps/service.js';
import { stampJob, type StampJobData } from '../src/timestamps/types.js';

export const QUEUE_NAME = 'timestamps';
const RECONCILE_BATCH = 1000;

export interface TimestampQueueOptions {
  connection: RedisOptions;
  prefix: string;
  timestamps: Pick<TimestampService, 'stampReceipt' | 'waiting' | 'health'>;
  log: Logger;
  /** the longest wait between two attempts of one receipt (default 5 min) */
  retryMaxMs?: number;
  concurrency?: number;
  /** 0 = never (default 60 s) */
  reconcileIntervalMs?: number;
}

/** Exponential from 2 s, capped. */
export function stampRetryDelay(attemptsMade: number, maxMs: number): number {
  return Math.min(maxMs, 2000 * 2 ** Math.max(0, Math.min(attemptsMade - 1, 20)));
}

export function createTimestampQueue(opts: TimestampQueueOptions) {
  const { log } = opts;
  const retryMaxMs = opts.retryMaxMs ?? 5 * 60_000;
  const connection = bullConnection(opts.connection, `${opts.prefix}:${QUEUE_NAME}`);
  const jobOptions: JobsOptions = {
    attempts: 50,
    backoff: { type: 'custom' },
    // The receipt_timestamps row is the record; the reconciler re-adds a job for a receipt still waiting.
    removeOnComplete: true,
    removeOnFail: true,
  };
  const queue = new Queue<StampJobData, StampOutcome>(QUEUE_NAME, { connection, prefix: opts.prefix });
  queue.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'timestamps queue: Redis error'));

  async function process(job: Job<StampJobData>): Promise<StampOutcome> {
    const outcome = await opts.timestamps.stampReceipt(job.data.receiptId);
    // The TSA answers again: the receipts in backoff need not wait for their next attempt.
    if (outcome === 'stamped' && job.attemptsMade > 0 && opts.timestamps.health().waiting > 1) {
      await queue.promoteJobs().catch((err: unknown) => log.warn({ err }, 'timestamps: could not promote the waiting retries'));
    }
    return outcome;
  }

  const worker = new Worker<StampJobData, StampOutcome>(QUEUE_NAME, process, {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency ?? 4,
    settings: { backoffStrategy: (attemptsMade: number) => stampRetryDelay(attemptsMade, retryMaxMs) },
  });
  worker.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'timestamps worker: Redis error'));
  worker.on('failed', (job, err) =>
    log.warn(
      { err: { message: err.message }, receiptId: job?.data.receiptId, attemptsMade: job?.attemptsMade },
      'receipt timestamp failed (retried with backoff)',
    ),
  );

  const target: RelayTarget = {
    async addBulk(jobs) {
      await queue.addBulk(jobs.map((j) => ({ name: 'stamp', data: j.data as StampJobData, opts: { ...jobOptions, jobId: j.jobId } })));
    },
  };

  /** Every receipt still waiting for its timestamp has its job (existing ids are left alone). */
  const reconciler = startReconciler(
    'timestamps',
    async () => {
      const waiting = await opts.timestamps.waiting(RECONCILE_BATCH);
      if (waiting.length > 0) await target.addBulk(waiting.map((id) => stampJob(id)));
      log.debug({ waiting: waiting.length }, 'timestamps reconciler: every waiting receipt has its job');
      return { waiting: waiting.length };
    },
    { intervalMs: opts.reconcileIntervalMs ?? 60_000, log },
  );

  async function close(): Promise<void> {
    await reconciler.stop();
    await worker.close();
    await queue.close();
  }

  return { queue, worker, target, reconcile: reconciler.run, close };
}

export type TimestampQueue = ReturnType<typeof createTimestampQueue>;
