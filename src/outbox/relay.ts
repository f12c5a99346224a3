/**
 * Outbox relay: moves committed outbox rows (outbox.ts) into their BullMQ
 * queues and deletes them. Runs when kicked (right after a commit that wrote
 * a row) and every `intervalMs` (rows of other instances, rows left while
 * Redis was down). One pass at a time per process; a kick during a pass
 * triggers one more pass.
 *
 * Safe with several instances: job ids are deterministic, so a row relayed
 * by two instances, or relayed and then not deleted because of a crash, is
 * still one job; deleting an already-deleted row is a no-op.
 */
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import { createOutboxStore } from './outbox.js';

export interface RelayTarget {
  addBulk(jobs: { jobId: string; data: unknown; priority?: number }[]): Promise<void>;
}

export interface OutboxRelayOptions {
  db: Db;
  log: Logger;
  targets: Record<string, RelayTarget>;
  /** poll interval; 0 = only when kicked (default 1000 ms) */
  intervalMs?: number;
  batchSize?: number;
}

export function createOutboxRelay(opts: OutboxRelayOptions) {
  const { log } = opts;
  const store = createOutboxStore(opts.db);
  const batchSize = opts.batchSize ?? 500;
  let running: Promise<number> | null = null;
  let again = false;
  let closed = false;
  let failing = false;

  async function pass(): Promise<number> {
    let moved = 0;
    for (;;) {
      const rows = await store.oldest(batchSize);
      if (rows.length === 0) return moved;
      const byTopic = new Map<string, typeof rows>();
      for (const r of rows) {
        const list = byTopic.get(r.topic);
        if (list) list.push(r);
        else byTopic.set(r.topic, [r]);
      }
      const done: string[] = [];
      for (const [topic, list] of byTopic) {
        const target = opts.targets[topic];
        if (!target) {
          log.error({ topic, rows: list.length }, 'outbox rows for a topic with no queue: left in place');
          continue;
        }
        await target.addBulk(list.map((r) => ({ jobId: r.jobId, data: r.data, priority: r.priority })));
        done.push(...list.map((r) => r.id));
      }
      if (done.length === 0) return moved;
      await store.remove(done);
      moved += done.length;
      log.debug({ rows: done.length }, 'outbox relayed');
      if (rows.length < batchSize) return moved;
    }
  }

  /** One relay run (joins a run in progress, and then runs once more). Resolves to the rows moved. */
  function runOnce(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let total = 0;
      try {
        do {
          again = false;
          total += await pass();
        } while (again && !closed);
        if (failing) log.info('outbox relay: working again');
        failing = false;
      } catch (err) {
        // Redis or the database is down: the rows stay; the next interval retries.
        if (!failing) log.warn({ err }, 'outbox relay: could not move outbox rows to their queues (retried every interval)');
        failing = true;
      } finally {
        running = null;
      }
      return total;
    })();
    return running;
  }

  const intervalMs = opts.intervalMs ?? 1000;
  const timer = intervalMs > 0 ? setInterval(() => void runOnce(), intervalMs) : undefined;
  timer?.unref();

  return {
    /** relay now (fire and forget) */
    kick(): void {
      if (!closed) void runOnce();
    },
    runOnce,
    async close(): Promise<void> {
      closed = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

export type OutboxRelay = ReturnType<typeof createOutboxRelay>;
