/**
 * Trusted time on receipts (issue 15): each receipt's signature value is
 * timestamped by an RFC 3161 TSA right after the receipt commits (through the
 * outbox and queues/timestamps.ts, never on the request path), and the token
 * is kept with the whole TimeStampResp.
 *
 * Fail closed, visibly (as X-Road's message log does): while receipts wait
 * for a stamp, the *gap* is the time since the later of the oldest waiting
 * receipt and the latest stamp. It is on /readyz and in the metrics all the
 * time; once it reaches TSA_MAX_GAP_MINUTES, intake refuses new packages with
 * 503 (`refuseIntake`) until the TSA answers again. The state is read from the
 * database (every instance sees the same) every `refreshMs` and after each
 * stamp, so the check on the request path costs nothing.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '../storage/db.js';
import { Problem } from '../shared/problem.js';
import { signatureValue } from '../receipts/cms.js';
import type { Timestamper } from './client.js';
import { createTimestampStore, type StoredTimestamp } from './store.js';

export interface TimestampHealth {
  /** ok: nothing waits long; waiting: receipts wait, under half the limit; lagging: half the limit or more; failing-closed: intake refuses */
  status: 'ok' | 'waiting' | 'lagging' | 'failing-closed';
  /** receipts waiting for their timestamp */
  waiting: number;
  oldestWaitingAt: string | null;
  unstampedOldestSeconds: number;
  lastStampedAt: string | null;
  /** seconds since the later of the oldest waiting receipt and the latest stamp (0 when nothing waits) */
  gapSeconds: number;
  maxGapSeconds: number;
  /** the last TSA failure, when the last attempt failed */
  lastError: string | null;
  checkedAt: string;
}

export interface TimestampServiceDeps {
  db: Pick<Db, 'db' | 'writer'>;
  /** undefined: nothing is stamped here (no queue); the state is still read */
  timestamper?: Timestamper;
  maxGapMs: number;
  log: Logger;
  metrics?: Registry;
  now?: () => Date;
  /** how often the gap's inputs are re-read from the database (default 5 s) */
  refreshMs?: number;
}

export type StampOutcome = 'stamped' | 'already-stamped' | 'no-such-receipt';

export function createTimestampService(deps: TimestampServiceDeps) {
  const { log } = deps;
  const store = createTimestampStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const maxGapSeconds = deps.maxGapMs / 1000;
  let state: { oldestWaitingAt: string | null; waiting: number; lastStampedAt: string | null; checkedAt: string } | null = null;
  let lastError: string | null = null;
  let refreshing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let wasFailing = false;

  const failures = deps.metrics
    ? new Counter({
        name: 'postkasse_tsa_failures_total',
        help: 'timestamp requests for a receipt that no TSA granted',
        registers: [deps.metrics],
      })
    : undefined;
  const stamps = deps.metrics
    ? new Counter({ name: 'postkasse_tsa_stamps_total', help: 'receipts timestamped by a TSA', registers: [deps.metrics] })
    : undefined;

  function health(): TimestampHealth {
    const t = now().getTime();
    const s = state ?? { oldestWaitingAt: null, waiting: 0, lastStampedAt: null, checkedAt: new Date(0).toISOString() };
    const oldest = s.oldestWaitingAt ? Date.parse(s.oldestWaitingAt) : null;
    const last = s.lastStampedAt ? Date.parse(s.lastStampedAt) : null;
    const unstampedOldestSeconds = oldest === null ? 0 : Math.max(0, (t - oldest) / 1000);
    const gapSeconds = oldest === null || s.waiting === 0 ? 0 : Math.max(0, (t - Math.max(oldest, last ?? oldest)) / 1000);
    const status =
      s.waiting === 0 ? 'ok' : gapSeconds >= maxGapSeconds ? 'failing-closed' : gapSeconds >= maxGapSeconds / 2 ? 'lagging' : 'waiting';
    return {
      status,
      waiting: s.waiting,
      oldestWaitingAt: s.oldestWaitingAt,
      unstampedOldestSeconds: Math.round(unstampedOldestSeconds * 1000) / 1000,
      lastStampedAt: s.lastStampedAt,
      gapSeconds: Math.round(gapSeconds * 1000) / 1000,
      maxGapSeconds,
      lastError: s.waiting === 0 ? null : lastError,
      checkedAt: s.checkedAt,
    };
  }

  if (deps.metrics) {
    new Gauge({
      name: 'postkasse_tsa_unstamped_oldest_seconds',
      help: 'age of the oldest receipt waiting for its RFC 3161 timestamp (0 when none waits)',
      registers: [deps.metrics],
      collect() {
        this.set(health().unstampedOldestSeconds);
      },
    });
    new Gauge({
      name: 'postkasse_tsa_gap_seconds',
      help: 'seconds without a timestamp while receipts wait; intake refuses packages at TSA_MAX_GAP_MINUTES',
      registers: [deps.metrics],
      collect() {
        this.set(health().gapSeconds);
      },
    });
    new Gauge({
      name: 'postkasse_tsa_waiting_receipts',
      help: 'receipts waiting for their RFC 3161 timestamp',
      registers: [deps.metrics],
      collect() {
        this.set(health().waiting);
      },
    });
  }

  /** Re-reads the gap's inputs (joins a read in flight). */
  function refresh(): Promise<void> {
    refreshing ??= store
      .gapState()
      .then((s) => {
        state = { ...s, checkedAt: now().toISOString() };
        const h = health();
        const failing = h.status === 'failing-closed';
        if (failing && !wasFailing) {
          log.error(
            { gapSeconds: h.gapSeconds, waiting: h.waiting, lastError: h.lastError },
            'no receipt timestamped for TSA_MAX_GAP_MINUTES: intake refuses packages until the TSA answers again',
          );
        } else if (!failing && wasFailing) {
          log.info({ waiting: h.waiting }, 'receipts are timestamped again: intake accepts packages');
        }
        wasFailing = failing;
      })
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  }

  /** Timestamps one receipt (the queue's processor). Throws when no TSA granted one (the job is retried). */
  async function stampReceipt(receiptId: string): Promise<StampOutcome> {
    const r = await store.forStamping(receiptId);
    if (!r) return 'no-such-receipt';
    if (r.stampedAt) return 'already-stamped';
    if (!deps.timestamper) throw new Error('no TSA configured');
    const digest = createHash('sha256').update(signatureValue(r.signature)).digest();
    let result;
    try {
      result = await deps.timestamper.stamp(digest);
    } catch (err) {
      lastError = (err as Error).message;
      failures?.inc();
      await store.recordFailure(receiptId, lastError).catch((e: unknown) => log.warn({ err: e }, 'could not record a TSA failure'));
      void refresh().catch(() => undefined);
      throw err;
    }
    const saved = await store.saveStamp({
      receiptId,
      stampedAt: now().toISOString(),
      tsaUrl: result.tsaUrl,
      genTime: result.genTime.toISOString(),
      serialNumber: result.serialNumber,
      token: result.token,
      response: result.response,
    });
    lastError = null;
    if (saved) stamps?.inc();
    log.debug(
      { receiptId, tsaUrl: result.tsaUrl, genTime: result.genTime.toISOString(), serialNumber: result.serialNumber },
      'receipt timestamped',
    );
    void refresh().catch(() => undefined);
    return saved ? 'stamped' : 'already-stamped';
  }

  /** 503 while the gap is at or over TSA_MAX_GAP_MINUTES (nothing of the request is kept); null otherwise. */
  function refuseIntake(): Problem | null {
    const h = health();
    if (h.status !== 'failing-closed') return null;
    const minutes = Math.floor(h.gapSeconds / 60);
    return new Problem({
      status: 503,
      title: 'Service unavailable',
      type: 'timestamps-unavailable',
      detail:
        `No receipt could be timestamped for ${minutes} minute(s) (limit ${Math.round(maxGapSeconds / 60)}): ` +
        'the time-stamping authority (TSA) does not answer, so the evidence of a receipt cannot be anchored in trusted time. ' +
        'The gateway takes no packages until it can; nothing of this request was kept. Send the package again later with the same packageId.',
      headers: { 'Retry-After': '300' },
      extensions: { waitingReceipts: h.waiting, gapSeconds: Math.floor(h.gapSeconds) },
    });
  }

  return {
    stampReceipt,
    refresh,
    health,
    refuseIntake,
    waiting: (limit: number) => store.waiting(limit),
    timestampOf: (receiptId: string): Promise<StoredTimestamp | undefined> => store.stamp(receiptId),
    async start(): Promise<void> {
      await refresh();
      timer = setInterval(
        () => void refresh().catch((err: unknown) => log.warn({ err }, 'could not read the timestamp state (retried)')),
        deps.refreshMs ?? 5000,
      );
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
    },
  };
}

export type TimestampService = ReturnType<typeof createTimestampService>;
