/**
 * The transactional outbox (issues 4 and 5): work that BullMQ must do because of a
 * committed change is written in the *same* transaction as the change. If the
 * transaction rolls back, there is no job; if Redis is down when it commits,
 * the row waits. The relay (queues/relay.ts) turns rows into jobs with
 * deterministic ids and deletes them, so relaying a row twice (two gateway
 * instances, a crash between add and delete) still makes one job.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../storage/schema.js';

export const ROUTING_TOPIC = 'routing';

export interface RoutingJobData {
  caseId: string;
  round: number;
}

export const DELIVERY_TOPIC = 'delivery';

/** BullMQ job id of a message's push delivery. */
export function deliveryJobId(messageId: string): string {
  return `deliver-${messageId}`;
}

/** The insert of an outbox row: a job for `topic`'s queue (ids only in `data`). */
export function outboxInsert(
  db: Transaction<Database> | Kysely<Database>,
  topic: string,
  jobId: string,
  data: Record<string, string | number>,
  at: string,
  priority = 0,
) {
  return db
    .insertInto('outbox')
    .values({ id: randomUUID(), topic, job_id: jobId, payload: JSON.stringify(data), priority, created_at: at });
}

/** Inside the caller's transaction: a job for `topic`'s queue (ids only in `data`). */
export async function requestJob(
  trx: Transaction<Database> | Kysely<Database>,
  topic: string,
  jobId: string,
  data: Record<string, string | number>,
  at: string,
  priority = 0,
): Promise<void> {
  await outboxInsert(trx, topic, jobId, data, at, priority).execute();
}

/** BullMQ job id of a case's routing in a given round (ids may not contain ':'). */
export function routingJobId(caseId: string, round: number): string {
  return `route-${caseId}-${round}`;
}

/**
 * BullMQ priorities of routing jobs (lower runs first). Every routing job has
 * one: BullMQ takes jobs *without* a priority before all prioritised ones, so
 * a priority only for urgent cases would put them last.
 */
export const ROUTING_PRIORITY = { urgent: 1, normal: 2 } as const;

/** The outbox insert that has the case routed in this round. §21 stk. 3: urgent cases first. */
export function routingInsert(db: Transaction<Database> | Kysely<Database>, caseId: string, round: number, at: string, urgent: boolean) {
  const data: RoutingJobData = { caseId, round };
  return outboxInsert(
    db,
    ROUTING_TOPIC,
    routingJobId(caseId, round),
    { ...data },
    at,
    urgent ? ROUTING_PRIORITY.urgent : ROUTING_PRIORITY.normal,
  );
}

/** Inside the caller's transaction: the case is to be routed in this round. */
export async function requestRouting(
  trx: Transaction<Database> | Kysely<Database>,
  caseId: string,
  round: number,
  at: string,
  urgent: boolean,
): Promise<void> {
  await routingInsert(trx, caseId, round, at, urgent).execute();
}
