/**
 * What the delivery feature shares with its queue (queues/delivery.ts) and
 * with the features that send messages: the push job of a message.
 */
import type { OutboxJob } from '../outbox/outbox.js';

export const DELIVERY_TOPIC = 'delivery';

/** BullMQ job id of a message's push delivery. */
export function deliveryJobId(messageId: string): string {
  return `deliver-${messageId}`;
}

/** The outbox job that pushes message `messageId` to its recipient's push.url. */
export function deliveryJob(messageId: string): OutboxJob {
  return { topic: DELIVERY_TOPIC, jobId: deliveryJobId(messageId), data: { messageId } };
}
