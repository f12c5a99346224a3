/**
 * Deadline reminders (issue 3): BullMQ delayed jobs, one per deadline and
 * type, with deterministic job ids so that scheduling is idempotent and a
 * changed due date yields a new job.
 *
 * - at-risk: at 00:00 local time on the day `atRiskWorkingDays` working days
 *   before the due date (now, if that has passed; not at all once the
 *   deadline itself has passed);
 * - overdue: 1 ms after the deadline's `dueAt` (23:59:59.999 local).
 *
 * Redis is not the truth. Job data carries ids only; the processor re-reads
 * the case and recomputes its clock, and does nothing when the case is gone
 * or closed, its clock is not running, or the due date changed (extension,
 * rebooked consultation). `reconcile()` scans the database for running clocks
 * and (re)creates missing jobs — at start-up and every
 * `reconcileIntervalMs` — so jobs lost with Redis data come back.
 */
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import { bullConnection } from '../src/shared/bullmq.js';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Problem } from '../src/shared/problem.js';
import type { DeadlineMetrics } from '../src/deadlines/metrics.js';
import { atRiskInstant, type CaseClock, type DeadlineService, type ReminderOutcome, type ReminderType } from '../src/deadlines/service.js';

export const QUEUE_NAME = 'deadline-reminders';
export const DEFAULT_AT_RISK_WORKING_DAYS = 3;
export const DEFAULT_RECONCILE_INTERVAL_MS = 60_000;
const SCAN_PAGE = 500;

export interface ReminderJobData {
  caseId: string;
  kind: string;
  type: ReminderType;
  /** the deadline's due instant this reminder is for (UTC ISO) */
  dueAt: string;
}

export interface PlannedReminder {
  jobId: string;
  data: ReminderJobData;
  /** when the job should run (epoch ms) */
  runAt: number;
  /** ms from `now` until runAt, never negative */
  delay: number;
}

/**
 * `${caseId}|${kind}|${type}|${dueAt without colons}`. BullMQ (6.x, Job.validateOptions)
 * refuses custom ids that are integers, and ids containing ':' unless they
 * split into exactly 3 parts (legacy repeatable jobs); ':' is also Redis's key
 * separator. '|' occurs in none of the parts, and the colons of the ISO
 * instant are dropped, so the id is unambiguous and always accepted.
 */
export function reminderJobId(caseId: string, kind: string, type: ReminderType, dueAt: string): string {
  return `${caseId}|${kind}|${type}|${dueAt.replace(/:/g, '')}`;
}

export { atRiskInstant };

/**
 * The reminder jobs a case needs now, from its clock. Pure (the delay
 * computation is injectable through `nowMs`). Reminders already recorded on
 * the clock (`flags`) are not planned again; no at-risk reminder once the
 * deadline has passed.
 */
export function planReminders(
  caseId: string,
  clock: CaseClock,
  nowMs: number,
  atRiskWorkingDays = DEFAULT_AT_RISK_WORKING_DAYS,
): PlannedReminder[] {
  if (clock.status !== 'running') return [];
  const out: PlannedReminder[] = [];
  const flags = clock.flags ?? [];
  const plan = (type: ReminderType, kind: string, dueAt: string, runAt: number) =>
    out.push({
      jobId: reminderJobId(caseId, kind, type, dueAt),
      data: { caseId, kind, type, dueAt },
      runAt,
      delay: Math.max(0, runAt - nowMs),
    });
  for (const d of clock.deadlines) {
    const dueMs = Date.parse(d.dueAt);
    const flagged = (t: ReminderType) => flags.some((f) => f.kind === d.kind && f.type === t && Date.parse(f.dueAt) === dueMs);
    if (flagged('overdue')) continue;
    if (!flagged('at-risk') && nowMs <= dueMs) plan('at-risk', d.kind, d.dueAt, atRiskInstant(d.dueDate, atRiskWorkingDays));
    plan('overdue', d.kind, d.dueAt, dueMs + 1);
  }
  return out;
}

/** What the processor did: the service's outcome, or skipped because the deadline had passed before an at-risk job ran. */
export type ProcessResult = ReminderOutcome | 'superseded-by-overdue';

type Flag = 'at-risk' | 'overdue';
function flagOf(clock: CaseClock | undefined, state: string | undefined): Flag | null {
  if (!clock || clock.status !== 'running' || state === 'closed') return null;
  const flags = clock.flags ?? [];
  if (flags.some((f) => f.type === 'overdue')) return 'overdue';
  if (flags.some((f) => f.type === 'at-risk')) return 'at-risk';
  return null;
}

export interface DeadlineRemindersOptions {
  /** ioredis options (e.g. RedisHandle.options); the queue and the worker open their own connections and close them. */
  connection: RedisOptions;
  /** BullMQ key prefix (each test file its own). */
  prefix: string;
  deadlines: Pick<DeadlineService, 'clockOf' | 'recordReminder' | 'startedOpenCases'>;
  log: Logger;
  atRiskWorkingDays?: number;
  metrics?: DeadlineMetrics;
  /** clock for the delay computation and the at-risk cut-off (tests pass a fake one) */
  now?: () => Date;
  /** how often reconcile() runs; 0 = never (default 60 s) */
  reconcileIntervalMs?: number;
  /** run reconcile() right away (default true) */
  reconcileOnStart?: boolean;
  /** worker concurrency (default 4) */
  concurrency?: number;
  /** attempts per job before it fails (default 5, exponential backoff from 1 s); a failed job is removed and re-created by the next reconcile */
  attempts?: number;
}

export interface ReconcileResult {
  /** running clocks seen */
  cases: number;
  /** jobs passed to Redis (existing ones are left as they are) */
  jobs: number;
}

export function createDeadlineReminders(opts: DeadlineRemindersOptions) {
  const { deadlines, log, metrics } = opts;
  const now = opts.now ?? (() => new Date());
  const atRiskWorkingDays = opts.atRiskWorkingDays ?? DEFAULT_AT_RISK_WORKING_DAYS;
  if (!Number.isInteger(atRiskWorkingDays) || atRiskWorkingDays < 0)
    throw new RangeError(`atRiskWorkingDays must be a non-negative integer, got ${atRiskWorkingDays}`);
  const intervalMs = opts.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS;
  const connection = bullConnection(opts.connection, `${opts.prefix}:${QUEUE_NAME}`);
  const jobOptions: JobsOptions = {
    attempts: opts.attempts ?? 5,
    backoff: { type: 'exponential', delay: 1000 },
    // The database is the record (case events); Redis keeps no history. A
    // removed job is re-created by reconcile() only if its reminder is still
    // unrecorded, and the processor is idempotent anyway.
    removeOnComplete: true,
    removeOnFail: true,
  };

  const queue = new Queue<ReminderJobData, ProcessResult, ReminderType>(QUEUE_NAME, { connection, prefix: opts.prefix });
  queue.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'deadline reminder queue: Redis error'));

  /** caseId → current flag, for the gauges. Rebuilt from the database by every reconcile. */
  const flagged = new Map<string, Flag>();
  function track(caseId: string, clock: CaseClock | undefined, state: string | undefined): void {
    const f = flagOf(clock, state);
    if (f) flagged.set(caseId, f);
    else flagged.delete(caseId);
    updateGauges();
  }
  function updateGauges(): void {
    if (!metrics) return;
    let atRisk = 0;
    let overdue = 0;
    for (const f of flagged.values())
      if (f === 'overdue') overdue++;
      else atRisk++;
    metrics.atRisk.set(atRisk);
    metrics.overdue.set(overdue);
  }

  async function enqueue(planned: PlannedReminder[]): Promise<void> {
    if (planned.length === 0) return;
    // An id that exists (delayed, waiting, active) is left untouched by BullMQ: scheduling is idempotent.
    await queue.addBulk(planned.map((p) => ({ name: p.data.type, data: p.data, opts: { ...jobOptions, jobId: p.jobId, delay: p.delay } })));
  }

  /** (Re)creates the reminder jobs of one case from its recomputed clock; returns the job ids it needs. Call after anything that changes the clock. */
  async function schedule(caseId: string): Promise<string[]> {
    let view;
    try {
      view = await deadlines.clockOf(caseId);
    } catch (e) {
      if (e instanceof Problem && e.status === 404) {
        track(caseId, undefined, undefined);
        return [];
      }
      throw e;
    }
    track(caseId, view.clock, view.state);
    if (view.state === 'closed') return [];
    const planned = planReminders(caseId, view.clock, now().getTime(), atRiskWorkingDays);
    await enqueue(planned);
    return planned.map((p) => p.jobId);
  }

  async function process(job: Job<ReminderJobData, ProcessResult, ReminderType>): Promise<ProcessResult> {
    const { caseId, kind, type, dueAt } = job.data;
    if (type === 'at-risk' && now().getTime() > Date.parse(dueAt)) {
      // Fired late (worker or Redis was down): the overdue reminder says more.
      log.debug({ caseId, kind, type, dueAt }, 'at-risk reminder after the deadline: skipped');
      return 'superseded-by-overdue';
    }
    const r = await deadlines.recordReminder(caseId, { type, kind, dueAt });
    track(caseId, r.clock, r.state);
    if (r.outcome === 'recorded') {
      const d = r.clock?.deadlines.find((x) => x.kind === kind);
      const fields = { caseId, kind, rule: d?.rule, dueDate: d?.dueDate, dueAt, reminder: type };
      if (type === 'overdue') log.warn(fields, 'deadline overdue');
      else log.info(fields, 'deadline at risk');
      metrics?.reminders.inc({ type });
    } else {
      log.debug({ caseId, kind, type, dueAt, outcome: r.outcome }, 'deadline reminder no longer applies: nothing done');
      // The due date moved: make sure the reminders for the new one exist.
      if (r.outcome === 'due-date-changed') await schedule(caseId);
    }
    return r.outcome;
  }

  const worker = new Worker<ReminderJobData, ProcessResult, ReminderType>(QUEUE_NAME, process, {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency ?? 4,
  });
  worker.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'deadline reminder worker: Redis error'));
  worker.on('failed', (job, err) =>
    log.error(
      { err, caseId: job?.data.caseId, kind: job?.data.kind, reminder: job?.data.type, attemptsMade: job?.attemptsMade },
      'deadline reminder failed (it is retried; a job that exhausts its attempts is re-created by the next reconcile)',
    ),
  );

  let running: Promise<ReconcileResult> | null = null;
  /** Scans the database for running clocks and (re)creates their missing reminder jobs; refreshes the gauges. Concurrent calls share one run. */
  function reconcile(): Promise<ReconcileResult> {
    running ??= (async () => {
      const started = Date.now();
      const nextFlags = new Map<string, Flag>();
      let cases = 0;
      let jobs = 0;
      let cursor = '';
      for (;;) {
        // The stored clock is the engine's result as of the last change; the processor recomputes before it acts.
        const rows = await deadlines.startedOpenCases(cursor, SCAN_PAGE);
        if (rows.length === 0) break;
        cursor = rows[rows.length - 1]!.id;
        const nowMs = now().getTime();
        const planned: PlannedReminder[] = [];
        for (const row of rows) {
          let clock: CaseClock;
          try {
            clock = JSON.parse(row.clock) as CaseClock;
          } catch {
            log.warn({ caseId: row.id }, 'reconcile: unreadable clock column; rescheduling from the recomputed clock');
            await schedule(row.id).catch((err: unknown) => log.error({ err, caseId: row.id }, 'reconcile: could not schedule reminders'));
            continue;
          }
          if (clock?.status !== 'running' || !Array.isArray(clock.deadlines)) continue;
          cases++;
          const f = flagOf(clock, row.state);
          if (f) nextFlags.set(row.id, f);
          planned.push(...planReminders(row.id, clock, nowMs, atRiskWorkingDays));
        }
        await enqueue(planned);
        jobs += planned.length;
        if (rows.length < SCAN_PAGE) break;
      }
      flagged.clear();
      for (const [k, v] of nextFlags) flagged.set(k, v);
      updateGauges();
      log.info({ cases, jobs, ms: Date.now() - started }, 'deadline reminders reconciled with the database');
      return { cases, jobs };
    })().finally(() => {
      running = null;
    });
    return running;
  }

  const runReconcile = (why: string) =>
    void reconcile().catch((err: unknown) =>
      log.error({ err, why }, 'deadline reminders: reconcile failed (retried at the next interval)'),
    );
  if (opts.reconcileOnStart !== false) runReconcile('start-up');
  const timer = intervalMs > 0 ? setInterval(() => runReconcile('interval'), intervalMs) : null;
  timer?.unref();

  let closing: Promise<void> | undefined;
  /** Stops the interval, lets an active job finish, closes the worker's and the queue's Redis connections. Idempotent. */
  function close(): Promise<void> {
    closing ??= (async () => {
      if (timer) clearInterval(timer);
      await running?.catch(() => {});
      await worker.close();
      await queue.close();
    })();
    return closing;
  }

  return { queue, worker, schedule, reconcile, close };
}

export type DeadlineReminders = ReturnType<typeof createDeadlineReminders>;
