/**
 * What the timestamp feature shares with its queue (queues/timestamps.ts) and
 * with intake, which writes the job in the receipt's own transaction.
 */
import type { OutboxJob } from '../outbox/outbox.js';

export const TIMESTAMP_TOPIC = 'timestamps';

export interface StampJobData {
  receiptId: string;
}

/** BullMQ job id of a receipt's timestamp (ids may not contain ':'). */
export function stampJobId(receiptId: string): string {
  return `stamp-${receiptId}`;
}

/** The outbox job that has a receipt timestamped by the TSA. */
export function stampJob(receiptId: string): OutboxJob {
  const data: StampJobData = { receiptId };
  return { topic: TIMESTAMP_TOPIC, jobId: stampJobId(receiptId), data: { ...data } };
}
