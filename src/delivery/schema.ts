/**
 * Shapes of the responses and mailbox endpoints (API.md "Staff: returning
 * documents", "Receiving documents"), for the OpenAPI document and the
 * contract tests.
 */
import { z } from 'zod';

export const messageStateSchema = z.enum(['queued', 'pushed', 'acknowledged', 'dead-lettered', 'no-recipient-system']);

export const mailboxListSchema = z.object({
  items: z.array(
    z.object({ messageId: z.string().uuid(), caseId: z.string().uuid(), kind: z.string(), copy: z.boolean(), sentAt: z.string() }),
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
    z.object({
      messageId: z.string().uuid(),
      caseId: z.string().uuid(),
      kind: z.string(),
      copy: z.boolean(),
      sentAt: z.string(),
      to: z.string().nullable(),
      ydernummer: z.string().nullable(),
      pushAttempts: z.number(),
      lastError: z.string().nullable(),
    }),
  ),
});

export const undeliveredQuerySchema = z.strictObject({
  state: z
    .enum(['no-recipient-system', 'dead-lettered'])
    .describe('no-recipient-system: no GP system registered; dead-lettered: pushes failed'),
});
