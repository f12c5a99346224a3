/**
 * The mailbox (API.md "Receiving documents"): a party pulls its messages.
 * `GET /v1/mailbox` lists the caller's unacknowledged messages;
 * `GET /v1/mailbox/{id}` streams the envelope's exact signed bytes with
 * `Message-Signature`; `POST /v1/mailbox/{id}/ack` confirms receipt.
 * Only the addressee sees a message; for anyone else it does not exist.
 * Team leads list what did not arrive and send a dead letter again.
 */
import { Router } from 'express';
import { streamStored } from '../shared/http.js';
import type { Logger } from 'pino';
import { named, operation, route } from '../shared/api.js';
import { requireTeamLead, staffOf } from '../parties/roles.js';
import { problemSchema } from '../receipts/schema.js';
import { mediaTypeOf, type DeliveryService } from './service.js';
import { retryDeadLetter } from './retry.js';
import { ackAnswerSchema, envelopeSchema, mailboxListSchema, undeliveredListSchema, undeliveredQuerySchema } from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });
const messageParam = { messageId: 'the message id (from the mailbox list)' };

export const operations = {
  mailbox: operation({
    method: 'get',
    path: '/v1/mailbox',
    summary: "The caller's unacknowledged messages, oldest first",
    responses: { '200': { description: 'Messages', body: named('Mailbox', mailboxListSchema) } },
  }),
  message: operation({
    method: 'get',
    path: '/v1/mailbox/{messageId}',
    summary: 'One message as the exact signed bytes (addressee only): our JSON envelope, or a MedCom Bundle (application/fhir+json)',
    params: messageParam,
    responses: {
      '200': {
        description: 'The envelope',
        headers: {
          'Message-Signature': 'base64 DER CMS SignedData, detached, over the body',
          'Envelope-Id': "MedCom messages: this transmission's envelope id (new on every resend; the Bundle stays the same)",
        },
        body: named('Envelope', envelopeSchema),
        content: {
          'application/fhir+json': {
            schema: { type: 'object', description: 'A MedCom CareCommunication Bundle (messages to GPs), see docs/gp-systems.md' },
          },
        },
      },
      '404': problem('No such message for the caller'),
    },
  }),
  ack: operation({
    method: 'post',
    path: '/v1/mailbox/{messageId}/ack',
    summary: 'The addressee confirms receipt; the message leaves the list (a MedCom message is settled by its MedCom Acknowledgement)',
    params: messageParam,
    responses: {
      '200': { description: 'Acknowledged (idempotent)', body: named('AckAnswer', ackAnswerSchema) },
      '404': problem('No such message for the caller'),
    },
  }),
  undelivered: operation({
    method: 'get',
    path: '/v1/messages',
    summary: 'Team leads: messages that did not reach their recipient',
    query: undeliveredQuerySchema,
    responses: {
      '200': { description: 'Messages', body: named('Undelivered', undeliveredListSchema) },
      '403': problem('Not a team lead'),
      '422': problem('Unknown state'),
    },
  }),
  retry: operation({
    method: 'post',
    path: '/v1/messages/{messageId}/retry',
    summary: 'Team leads: push a dead-lettered message again (a new retry period starts)',
    params: messageParam,
    responses: {
      '202': { description: 'Queued again' },
      '403': problem('Not a team lead'),
      '404': problem('No such message'),
      '409': problem('Not dead-lettered'),
      '503': problem('Push delivery is not running'),
    },
  }),
};

export interface MailboxRouterDeps {
  delivery: DeliveryService;
  log: Logger;
  /** the push queue (when Redis and a push client certificate are available): a lead's retry of a dead letter */
  push?: { retryDeadLetter(messageId: string, leadId: string): Promise<boolean> };
}

export function createMailboxRouter(deps: MailboxRouterDeps): Router {
  const router = Router();
  const { delivery } = deps;

  route(router, operations.undelivered, [requireTeamLead('listing undelivered messages is for team leads')], async (req, res) => {
    res.json({ items: await delivery.undelivered(req.query.state) });
  });

  route(router, operations.retry, [requireTeamLead('retrying messages is for team leads')], async (req, res) => {
    const id = req.params.messageId!;
    await retryDeadLetter(delivery, deps.push, id, staffOf(req).id);
    res.status(202).json({ messageId: id, state: 'queued' });
  });

  route(router, operations.mailbox, [], async (req, res) => {
    res.json({ items: await delivery.mailbox(req.party!) });
  });

  route(router, operations.message, [], async (req, res) => {
    const { message: m, body } = await delivery.read(req.party!, req.params.messageId!);
    res.status(200);
    res.setHeader('content-type', mediaTypeOf(m));
    res.setHeader('content-length', String(m.envelope_size));
    res.setHeader('message-signature', Buffer.from(m.signature).toString('base64'));
    if (m.envelope_id) res.setHeader('envelope-id', m.envelope_id);
    res.setHeader('cache-control', 'no-store');
    await streamStored(res, body, deps.log, 'message', { messageId: m.id, caseId: m.case_id });
  });

  route(router, operations.ack, [], async (req, res) => {
    res.json(await delivery.acknowledge(req.party!, req.params.messageId!));
  });

  return router;
}
