/**
 * Queue `routing`: one job per case and routing round ("look at case X in
 * round N"), job id `route-<caseId>-<round>`, data ids only. The processor
 * re-reads the case (RoutingService.route) and does nothing if it is already
 * assigned, closed or in a later round. Urgent cases (§21 stk. 3) carry
 * BullMQ priority 1, all others 2.
 *
 * Jobs come from the transactional outbox (src/outbox/relay.ts). Redis is
 * not the truth: `reconcile()` runs at start-up and every
 * `reconcileIntervalMs` (default 30 s), and re-adds a job for every complete,
 * unassigned case whose job is missing — after a Redis flush, a failed job,
 * or a case that found nobody eligible (so a parties file reload is picked up).
 */
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import { bullConnection, startReconciler } from '../src/shared/bullmq.js';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RoutingService, RouteOutcome } from '../src/routing/service.js';
import { routingJob, type RoutingJobData } from '../src/routing/types.js';
import type { RelayTarget } from '../src/outbox/relay.js';

export const QUEUE_NAME = 'routing';
export const DEFAULT_RECONCILE_INTERVAL_MS = 30_000;

export interface RoutingQueueOptions {
  connection: RedisOptions;
  prefix: string;
  routing: RoutingService;
  log: Logger;
  concurrency?: number;
  /** 0 = never (default 30 s) */
  reconcileIntervalMs?: number;
  /** run reconcile() right away (default true) */
  reconcileOnStart?: boolean;
}

export interface RoutingReconcileResult {
  /** complete cases waiting for an assignee; each has its job now */
  waiting: number;
}

/**
 * Group commit: the jobs the worker runs at the same time are routed
 * together, in one database transaction. While a batch commits, newly
 * arrived jobs wait and form the next batch (at most `max`).
 */
export function createBatcher<T, R>(run: (batch: T[]) => Promise<R[]>, max: number) {
  let waiting: { item: T; resolve(r: R): void; reject(e: unknown): void }[] = [];
  let busy = false;
  async function drain(): Promise<void> {
    busy = true;
    while (waiting.length > 0) {
      const batch = waiting.slice(0, max);
      waiting = waiting.slice(batch.length);
      try {
        const results = await run(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i]!));
      } catch (err) {
        batch.forEach((b) => b.reject(err));
      }
    }
    busy = false;
  }
  return {
    submit(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        // Let the jobs fetched together arrive before the first batch starts.
        if (!busy) {
          busy = true;
          setImmediate(() => void drain());
        }
      });
    },
  };
}

export function createRoutingQueue(opts: RoutingQueueOptions) {
  const { log, routing } = opts;
  const connection = bullConnection(opts.connection, `${opts.prefix}:${QUEUE_NAME}`);
  const jobOptions: JobsOptions = {
    attempts: 5,
    backoff: { type: 'exponential', delay: 500 },
    // The case row is the record; a finished job is removed (the reconciler re-adds one if the case still waits).
    removeOnComplete: true,
    removeOnFail: true,
  };

  const queue = new Queue<RoutingJobData, RouteOutcome['outcome']>(QUEUE_NAME, { connection, prefix: opts.prefix });
  const batcher = createBatcher((batch: { caseId: string; round?: number }[]) => {
    log.debug({ cases: batch.length }, 'routing batch');
    return routing.routeMany(batch);
  }, 100);
  queue.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'routing queue: Redis error'));

  const worker = new Worker<RoutingJobData, RouteOutcome['outcome']>(
    QUEUE_NAME,
    async (job: Job<RoutingJobData>) => {
      log.debug({ caseId: job.data.caseId, waitedMs: Date.now() - job.timestamp }, 'routing job started');
      const r = await batcher.submit(job.data);
      if (r.outcome === 'nothing-to-do')
        log.debug({ caseId: job.data.caseId, round: job.data.round, why: r.why }, 'routing job: nothing to do');
      return r.outcome;
    },
    { connection, prefix: opts.prefix, concurrency: opts.concurrency ?? 32 },
  );
  worker.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'routing worker: Redis error'));
  worker.on('failed', (job, err) =>
    log.error(
      { err, caseId: job?.data.caseId, attemptsMade: job?.attemptsMade },
      'routing job failed (retried; the reconciler re-adds it when attempts run out)',
    ),
  );

  const target: RelayTarget = {
    async addBulk(jobs) {
      await queue.addBulk(
        jobs.map((j) => ({
          name: 'route',
          data: j.data as RoutingJobData,
          opts: { ...jobOptions, jobId: j.jobId, ...(j.priority ? { priority: j.priority } : {}) },
        })),
      );
    },
  };

  /**
   * Every waiting case gets its job in one addBulk: the ids are deterministic,
   * so BullMQ leaves a job that exists (waiting, delayed, active) alone and
   * re-creates only the ones Redis lost or that finished without an assignee.
   */
  const reconciler = startReconciler(
    'routing',
    async (): Promise<RoutingReconcileResult> => {
      const waiting = await routing.waitingCases();
      if (waiting.length > 0) await target.addBulk(waiting.map((w) => routingJob(w.caseId, w.round, w.urgent)));
      log.debug({ waiting: waiting.length }, 'routing reconciler: every waiting case has its job');
      return { waiting: waiting.length };
    },
    { intervalMs: opts.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS, onStart: opts.reconcileOnStart !== false, log },
  );
  const reconcile = reconciler.run;

  let closed = false;
  async function close(): Promise<void> {
    closed = true;
    await reconciler.stop();
    await worker.close();
    await queue.close();
  }

  /**
   * Fast path, right after a commit in this process: route the case now, in
   * the same batches as the worker's jobs, without waiting for BullMQ to hand
   * the job to a worker (under a burst of uploads that hand-over took seconds
   * on a busy event loop). The outbox row and its job still exist and are the
   * durable path: the job finds the case assigned and does nothing; if this
   * process dies first, the job (or the reconciler) routes it.
   */
  function routeNow(caseId: string): void {
    if (closed) return;
    batcher.submit({ caseId }).catch((err: unknown) => log.warn({ err, caseId }, 'routing fast path failed; the routing job will do it'));
  }

  return { queue, worker, target, reconcile, routeNow, close };
}

export type RoutingQueue = ReturnType<typeof createRoutingQueue>;
