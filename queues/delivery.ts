/**
 * Queue `delivery`: one job per message (`deliver-<messageId>`, data: the
 * message id) for recipients with a `push.url`, and for every MedCom message
 * (to a GP). The processor re-reads the message and does nothing unless it
 * is still `queued` (an acknowledgement through the mailbox counts as
 * delivered too), POSTs the signed envelope over mTLS, and marks it `pushed`
 * on a 2xx with a conditional update.
 *
 * A MedCom message (src/medcom) is handed to its transport and marked `sent`
 * (its acknowledgement timer starts, queues/medcom-acks.ts):
 * - `party`: POSTed as `application/fhir+json` to the gp-system's push.url
 *   (Message-Id, Envelope-Id, Message-Signature), or, for a pull-only
 *   party, made available in its mailbox;
 * - `vans`: wrapped in a VANSEnvelope (Data = base64 of the Bundle) and
 *   written atomically to VANS_OUTBOX_DIR as `<envelope id>.xml`, or POSTed
 *   over mTLS to VANS_ENDPOINT_URL. A retry of one transmission repeats its
 *   envelope id, so the VANS side sees it once.
 *
 * Failures are retried with exponential backoff and jitter (by default from
 * about a minute, doubling, capped at four hours) for at least
 * `giveUpAfterMs` (72 h) from the start of the push series; then the message
 * is dead-lettered: visible to team leads, counted, re-triable by a lead.
 *
 * Jobs come from the transactional outbox (src/outbox/relay.ts). Redis is
 * not the truth: `reconcile()` (start-up and every interval) hands every
 * queued push message its job again in one addBulk; the deterministic ids
 * leave the jobs that exist alone.
 */
import { Queue, Worker, type Job, type JobsOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { bullConnection, startReconciler } from '../src/shared/bullmq.js';
import type { Party } from '../src/parties/parties.js';
import type { DeliveryService } from '../src/delivery/service.js';
import { pushEnvelope, type PushTls } from '../src/delivery/push.js';
import type { MedcomService, VansTransport } from '../src/medcom/service.js';
import type { MessageRow } from '../src/delivery/store.js';
import { deliveryJob } from '../src/delivery/types.js';
import type { RelayTarget } from '../src/outbox/relay.js';

export const QUEUE_NAME = 'delivery';

export interface DeliveryRetry {
  baseMs: number;
  maxMs: number;
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY: DeliveryRetry = { baseMs: 60_000, maxMs: 4 * 3600_000, giveUpAfterMs: 72 * 3600_000 };

/** Delay before retry number `attempt` (1 = the first retry): base·2^(attempt−1), capped, with "equal jitter" (half fixed, half random). */
export function retryDelay(attempt: number, retry: DeliveryRetry, random: () => number = Math.random): number {
  const exp = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export type DeliveryOutcome = 'pushed' | 'sent' | 'not-queued' | 'pull-only' | 'dead-lettered';

export interface DeliveryQueueOptions {
  connection: RedisOptions;
  prefix: string;
  delivery: DeliveryService;
  parties: { get(id: string): Party | undefined };
  /** the gateway's client certificate for pushes; undefined = pull only (and no VANS endpoint) */
  tls?: PushTls;
  /** MedCom messages: the service that records hand-overs, and the acknowledgement timer */
  medcom?: {
    service: Pick<MedcomService, 'markSent' | 'parts' | 'transmit'>;
    vans: VansTransport;
    onSent(messageId: string, send: number, ackDueAt: string): Promise<void>;
  };
  log: Logger;
  metrics?: Registry;
  retry?: Partial<DeliveryRetry>;
  reconcileIntervalMs?: number;
  concurrency?: number;
  now?: () => Date;
  pushTimeoutMs?: number;
}

export function createDeliveryQueue(opts: DeliveryQueueOptions) {
  const { log, delivery } = opts;
  const now = opts.now ?? (() => new Date());
  const retry: DeliveryRetry = { ...DEFAULT_RETRY, ...opts.retry };
  const connection = bullConnection(opts.connection, `${opts.prefix}:${QUEUE_NAME}`);
  const jobOptions: JobsOptions = {
    // Attempts are bounded by time (giveUpAfterMs), not by count: the processor dead-letters.
    attempts: 100_000,
    backoff: { type: 'jittered' },
    removeOnComplete: true,
    removeOnFail: true,
  };
  const deadLettered = opts.metrics
    ? new Counter({
        name: 'postkasse_delivery_dead_lettered_total',
        help: 'Messages whose pushes failed for the whole retry period',
        registers: [opts.metrics],
      })
    : undefined;
  const pushed = opts.metrics
    ? new Counter({ name: 'postkasse_delivery_pushed_total', help: 'Messages delivered by push (2xx)', registers: [opts.metrics] })
    : undefined;

  const queue = new Queue<{ messageId: string }, DeliveryOutcome>(QUEUE_NAME, { connection, prefix: opts.prefix });
  queue.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'delivery queue: Redis error'));

  async function process(job: Job<{ messageId: string }>): Promise<DeliveryOutcome> {
    const m = await delivery.message(job.data.messageId);
    if (!m || m.state !== 'queued') return 'not-queued';
    if (m.format === 'medcom' && opts.medcom) {
      let via: string;
      try {
        const party = m.recipient_party_id ? opts.parties.get(m.recipient_party_id) : undefined;
        via = await opts.medcom.service.transmit(m, {
          bundle: () => delivery.envelope(m),
          parts: opts.medcom.service.parts(m),
          pushUrl: party?.push?.url,
          tls: opts.tls,
          vans: opts.medcom.vans,
          timeoutMs: opts.pushTimeoutMs,
        });
      } catch (e) {
        return failed(m, (e as Error).message);
      }
      const sent = await opts.medcom.service.markSent(m, via);
      if (!sent) return 'not-queued';
      await opts.medcom
        .onSent(m.id, sent.sends, sent.ackDueAt)
        .catch((err: unknown) =>
          log.warn({ err, messageId: m.id }, 'acknowledgement timer not scheduled now; the reconciler schedules it'),
        );
      return 'sent';
    }
    const party = m.recipient_party_id ? opts.parties.get(m.recipient_party_id) : undefined;
    const url = party?.push?.url;
    if (!url || !opts.tls) return 'pull-only';
    let error: string;
    try {
      const { status } = await pushEnvelope(opts.tls, {
        url,
        messageId: m.id,
        signatureB64: Buffer.from(m.signature).toString('base64'),
        size: Number(m.envelope_size),
        body: await delivery.envelope(m),
        timeoutMs: opts.pushTimeoutMs,
      });
      if (status >= 200 && status < 300) {
        const at = now().toISOString();
        const done = await delivery.transition(
          m,
          'queued',
          { state: 'pushed', delivered_at: at, push_attempts: Number(m.push_attempts) + 1, last_error: null },
          'message-pushed',
          'delivery',
          { to: m.recipient_party_id, status },
        );
        if (done) {
          pushed?.inc();
          log.info(
            { messageId: m.id, caseId: m.case_id, to: m.recipient_party_id, attempts: Number(m.push_attempts) + 1 },
            'message pushed',
          );
        }
        return done ? 'pushed' : 'not-queued';
      }
      error = `HTTP ${status}`;
    } catch (e) {
      error = (e as Error).message;
    }
    return failed(m, error);
  }

  /** A failed attempt: retried with backoff, or dead-lettered once the retry period is over. */
  async function failed(m: MessageRow, error: string): Promise<DeliveryOutcome> {
    const attempts = Number(m.push_attempts) + 1;
    const age = now().getTime() - Date.parse(m.push_since);
    if (age >= retry.giveUpAfterMs) {
      const done = await delivery.transition(
        m,
        'queued',
        { state: 'dead-lettered', push_attempts: attempts, last_error: error },
        'message-dead-lettered',
        'delivery',
        { to: m.recipient_party_id, attempts, error },
      );
      if (done) {
        deadLettered?.inc();
        log.error(
          { messageId: m.id, caseId: m.case_id, to: m.recipient_party_id, attempts, error },
          'message dead-lettered: pushes failed for the whole retry period; a team lead must act',
        );
      }
      return 'dead-lettered';
    }
    await delivery.recordPushFailure(m, attempts, error);
    log.warn({ messageId: m.id, to: m.recipient_party_id, attempts, error }, 'push failed; retried with backoff');
    throw new Error(`delivery of ${m.id} failed: ${error}`);
  }

  const worker = new Worker<{ messageId: string }, DeliveryOutcome>(QUEUE_NAME, process, {
    connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency ?? 8,
    settings: { backoffStrategy: (attemptsMade: number) => retryDelay(attemptsMade, retry) },
  });
  worker.on('error', (err) => log.warn({ err, queue: QUEUE_NAME }, 'delivery worker: Redis error'));

  const target: RelayTarget = {
    async addBulk(jobs) {
      await queue.addBulk(
        jobs.map((j) => ({ name: 'push', data: j.data as { messageId: string }, opts: { ...jobOptions, jobId: j.jobId } })),
      );
    },
  };

  /** Every queued push (and MedCom) message gets its job in one addBulk (existing ids are left alone). */
  const reconciler = startReconciler(
    'delivery',
    async () => {
      const rows = await delivery.queued();
      const push = rows.filter(
        (r) => (r.format === 'medcom' && opts.medcom) || (r.recipient_party_id && opts.parties.get(r.recipient_party_id)?.push?.url),
      );
      if (push.length > 0) await target.addBulk(push.map((r) => deliveryJob(r.id)));
      log.debug({ waiting: push.length }, 'delivery reconciler: every queued push message has its job');
      return { waiting: push.length };
    },
    { intervalMs: opts.reconcileIntervalMs ?? 30_000, log },
  );
  const reconcile = reconciler.run;

  /** A team lead sends a dead letter again: a new push series starts now. */
  async function retryDeadLetter(messageId: string, leadId: string): Promise<boolean> {
    const m = await delivery.message(messageId);
    if (!m) return false;
    const at = now().toISOString();
    const ok = await delivery.transition(
      m,
      'dead-lettered',
      { state: 'queued', push_since: at, last_error: null },
      'message-retried',
      leadId,
      { by: leadId },
    );
    if (ok) await target.addBulk([deliveryJob(m.id)]);
    return ok;
  }

  async function close(): Promise<void> {
    await reconciler.stop();
    await worker.close();
    await queue.close();
  }

  return { queue, worker, target, reconcile, retryDeadLetter, close };
}

export type DeliveryQueue = ReturnType<typeof createDeliveryQueue>;
