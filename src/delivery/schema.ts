/**
 * Shapes of the responses and mailbox endpoints (API.md "Staff: returning
 * documents", "Receiving documents"), for the OpenAPI document and the
 * contract tests.
 */
import { z } from 'zod';

export const messageStateSchema = z.enum([
  'queued',
  'pushed',
  'sent',
  'acknowledged',
  'transient-error',
  'fatal-error',
  'unacknowledged',
  'invalid',
  'dead-lettered',
  'no-recipient-system',
]);

/** What every listing says of a message. */
const messageItem = z.object({
  messageId: z.string().uuid(),
  caseId: z.string().uuid(),
  kind: z.string(),
  copy: z.boolean(),
  sentAt: z.string(),
});

export const mailboxListSchema = z.object({
  items: z.array(
    messageItem.extend({
      mediaType: z
        .enum(['application/json', 'application/fhir+json'])
        .describe('application/fhir+json: a MedCom CareCommunication (messages to GPs); application/json: the JSON envelope'),
    }),
  ),
});

export const envelopeSchema = z
  .object({
    messageId: z.string().uuid(),
    caseId: z.string().uuid(),
    kind: z.string(),
    sentAt: z.string(),
    from: z.object({ partyId: z.string() }),
    to: z.object({ partyId: z.string().nullable(), ydernummer: z.string().optional() }),
    copy: z.boolean(),
    citizen: z.object({ cpr: z.string(), name: z.string() }),
    content: z.unknown(),
    document: z.object({ mediaType: z.string(), sha256: z.string(), size: z.number(), data: z.string().describe('base64') }),
  })
  .describe('canonical JSON; the exact bytes are signed (Message-Signature)');

export const ackAnswerSchema = z.object({ messageId: z.string().uuid(), state: messageStateSchema, acknowledgedAt: z.string().nullable() });

export const undeliveredListSchema = z.object({
  items: z.array(
    messageItem.extend({
      to: z.string().nullable(),
      ydernummer: z.string().nullable(),
      pushAttempts: z.number(),
      lastError: z.string().nullable(),
      format: z.string().describe('envelope (JSON) or medcom (a MedCom Bundle to a GP)'),
      transport: z.string().nullable().describe('MedCom messages: party or vans'),
      sends: z.number().describe('MedCom messages: transmissions so far (1 + resends)'),
    }),
  ),
});

export const undeliveredQuerySchema = z.strictObject({
  state: z
    .enum(['no-recipient-system', 'dead-lettered', 'invalid', 'fatal-error', 'unacknowledged'])
    .describe(
      "no-recipient-system: the GP directory has no practice for the GP's ydernummer; dead-lettered: the transport failed for the " +
        'whole retry period; invalid: failed validation against the MedCom profiles, never sent; fatal-error: the GP system ' +
        'answered with a fatal-error acknowledgement; unacknowledged: no MedCom acknowledgement after the last resend',
    ),
});
