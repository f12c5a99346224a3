/**
 * Queue `medcom-acks`: the acknowledgement timer of each MedCom message
 * handed to its transport. One delayed job per transmission
 * (`ack-timeout-<messageId>-<send>`, data: ids only) fires when the
 * acknowledgement is due (MEDCOM_ACK_TIMEOUT_MS, MedCom's 30 minutes). The
 * processor re-reads the message: if it is still waiting for that
 * transmission's acknowledgement, the unchanged message goes out again with
 * a new envelope id (at most MEDCOM_MAX_RESENDS times, then it is left
 * `unacknowledged` for team leads); anything else ends the job.
 *
 * Redis is not the truth: `reconcile()` (start-up and every interval) gives
 * every message waiting for an acknowledgement its timer again; the
 * deterministic job ids leave the timers that exist alone, and the
 * conditional state changes in src/medcom/service.ts apply each timeout once
 * across instances.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { bullConnection, startReconciler } from '../src/shared/bullmq.js';
import type { MedcomService } from '../src/medcom/service.js';

export const QUEUE_NAME = 'medcom-acks';

interface TimeoutJob {
  messageId: string;
  send: number;
}

export function ackTimeoutJobId(messageId: string, send: number): string {
  return `ack-timeout-${messageId}-${send}`;
}

export interface MedcomAckQueueOptions {
  connection: RedisOptions;
  prefix: string;
  medcom: Pick<MedcomService, 'ackTimedOut' | 'awaitingAck'>;
  /** the message is queued again: hand it to the delivery queue */
  resend: (messageId: string) => Promise<void>;
  log: Logger;
  reconcileIntervalMs?: number;
  now?: () => Date;
}

export function createMedcomAckQueue(opts: MedcomAckQueueOptions) {
  const { log } = opts;
  const now = opts.now ?? (() => new Date());
  const connection = bullConnection(opts.connection, `${opts.prefix}:${QUEUE_NAME}`);
  const queue = new Queue<TimeoutJob, string>(QUEUE_NAME, { connection, prefix: opts.prefix });
  queue.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'medcom-acks queue: Redis error'));

  async function process(job: Job<TimeoutJob>): Promise<string> {
    const outcome = await opts.medcom.ackTimedOut(job.data.messageId, job.data.send);
    if (outcome === 'resend') await opts.resend(job.data.messageId);
    return outcome;
  }

  const worker = new Worker<TimeoutJob, string>(QUEUE_NAME, process, { connection, prefix: opts.prefix, concurrency: 4 });
  worker.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'medcom-acks worker: Redis error'));

  /** The timer of transmission `send`, firing at `dueAt`. */
  async function schedule(messageId: string, send: number, dueAt: string): Promise<void> {
    await queue.add(
      'ack-timeout',
      { messageId, send },
      {
        jobId: ackTimeoutJobId(messageId, send),
        delay: Math.max(0, Date.parse(dueAt) - now().getTime()),
        attempts: 20,
        backoff: { type: 'exponential', delay: 5_000 },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  /** Every message waiting for its acknowledgement has its timer (existing ids are left alone). */
  const reconciler = startReconciler(
    'medcom-acks',
    async () => {
      const rows = await opts.medcom.awaitingAck();
      for (const r of rows) if (r.ack_due_at) await schedule(r.id, Number(r.sends), r.ack_due_at);
      return { waiting: rows.length };
    },
    { intervalMs: opts.reconcileIntervalMs ?? 60_000, log },
  );

  async function close(): Promise<void> {
    await reconciler.stop();
    await worker.close();
    await queue.close();
  }

  return { queue, worker, schedule, reconcile: reconciler.run, close };
}

export type MedcomAckQueue = ReturnType<typeof createMedcomAckQueue>;
