/**
 * The transactional outbox: work that a queue must do because of a committed
 * change is written in the *same* transaction as the change. If the
 * transaction rolls back, there is no job; if Redis is down when it commits,
 * the row waits. The relay (relay.ts) turns rows into jobs with deterministic
 * ids and deletes them, so relaying a row twice (two gateway instances, a
 * crash between add and delete) still makes one job.
 *
 * Features say what their jobs are (routing/types.ts, delivery/types.ts);
 * this module only stores and hands them over.
 */
import { randomUUID } from 'node:crypto';
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database, OutboxTable } from '../storage/schema.js';
import type { Db } from '../storage/db.js';

/** A job for `topic`'s queue; `data` holds ids only (the processor re-reads the state). */
export interface OutboxJob {
  topic: string;
  /** deterministic BullMQ job id (so a row relayed twice is one job; ids may not contain ':') */
  jobId: string;
  data: Record<string, string | number>;
  /** BullMQ priority (1 runs first); 0 = none */
  priority?: number;
}

type Q = Kysely<Database> | Transaction<Database>;

/** The outbox row of `job`, committed at `at` (the receipt's transaction inserts it through src/storage/inserts.ts). */
export function outboxRow(job: OutboxJob, at: string): Insertable<OutboxTable> {
  return {
    id: randomUUID(),
    topic: job.topic,
    job_id: job.jobId,
    payload: JSON.stringify(job.data),
    priority: job.priority ?? 0,
    created_at: at,
  };
}

/** The insert of an outbox row, to execute in the caller's transaction. */
export function outboxInsert(q: Q, job: OutboxJob, at: string) {
  return q.insertInto('outbox').values(outboxRow(job, at));
}

/** Inside the caller's transaction: the job exists once the transaction commits. */
export async function enqueueIn(trx: Q, job: OutboxJob, at: string): Promise<void> {
  await outboxInsert(trx, job, at).execute();
}

export interface OutboxRow {
  id: string;
  topic: string;
  jobId: string;
  data: unknown;
  priority: number;
}

/** What the relay reads and deletes. */
export function createOutboxStore({ db, writer }: Pick<Db, 'db' | 'writer'>) {
  return {
    async oldest(limit: number): Promise<OutboxRow[]> {
      const rows = await db.selectFrom('outbox').selectAll().orderBy('created_at').orderBy('id').limit(limit).execute();
      return rows.map((r) => ({
        id: r.id,
        topic: r.topic,
        jobId: r.job_id,
        data: JSON.parse(r.payload) as unknown,
        priority: Number(r.priority),
      }));
    },
    /** Through the writer: on SQLite the commit's fsync happens in the writer thread, not on the event loop. */
    async remove(ids: string[]): Promise<void> {
      if (ids.length > 0) await writer.commit([{ query: db.deleteFrom('outbox').where('id', 'in', ids).compile() }]);
    },
  };
}
