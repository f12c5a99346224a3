/**
 * What the routing feature shares with its queue (queues/routing.ts) and with
 * the features that put a case into routing: the job's id, data and priority.
 */
import type { OutboxJob } from '../outbox/outbox.js';

export const ROUTING_TOPIC = 'routing';

export interface RoutingJobData {
  caseId: string;
  round: number;
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

/** The outbox job that has the case routed in this round. §21 stk. 3: urgent cases first. */
export function routingJob(caseId: string, round: number, urgent: boolean): OutboxJob {
  const data: RoutingJobData = { caseId, round };
  return {
    topic: ROUTING_TOPIC,
    jobId: routingJobId(caseId, round),
    data: { ...data },
    priority: urgent ? ROUTING_PRIORITY.urgent : ROUTING_PRIORITY.normal,
  };
}
