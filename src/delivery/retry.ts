/**
 * A team lead sends a dead-lettered message again (the JSON API's
 * POST /v1/messages/{id}/retry and the overview page alike): only a message
 * that is dead-lettered, and only while push delivery runs.
 */
import { conflict, notFound, unavailable } from '../shared/problem.js';
import type { DeliveryService } from './service.js';

export interface DeadLetterRetrier {
  retryDeadLetter(messageId: string, leadId: string): Promise<boolean>;
}

export async function retryDeadLetter(
  delivery: Pick<DeliveryService, 'message'>,
  push: DeadLetterRetrier | undefined,
  messageId: string,
  leadId: string,
): Promise<void> {
  const m = await delivery.message(messageId);
  if (!m) throw notFound(`no message ${messageId}`);
  if (m.state !== 'dead-lettered')
    throw conflict(`message ${messageId} is ${m.state}; only a dead-lettered message is retried`, 'message-state');
  if (!push) throw unavailable('push delivery is not running (no Redis or no push client certificate)');
  if (!(await push.retryDeadLetter(messageId, leadId))) throw conflict(`message ${messageId} changed meanwhile`, 'message-state');
}
