/**
 * Shapes of the MedCom endpoints (POST /v1/medcom/inbox, the team leads'
 * views of MedCom messages and acknowledgements), for the OpenAPI document
 * and the contract tests.
 */
import { z } from 'zod';

export const inboxAnswerSchema = z.object({
  outcome: z
    .enum(['applied', 'duplicate', 'unknown'])
    .describe(
      'applied: the message took the state; duplicate: received before, nothing changes; unknown: no message of ours, kept and reported',
    ),
  messageId: z.string().uuid().nullable(),
  code: z.enum(['ok', 'transient-error', 'fatal-error']),
  state: z.string().optional().describe("the message's state after an applied acknowledgement"),
});

export const medcomMessageSchema = z.object({
  messageId: z.string().uuid().describe('MessageHeader.id of the Bundle'),
  caseId: z.string().uuid(),
  kind: z.string(),
  bundleId: z.string().nullable().describe('Bundle.id; the same on every resend'),
  state: z.string(),
  transport: z.string().nullable().describe('party (push or mailbox of a gp-system party) or vans'),
  to: z.string().nullable(),
  ydernummer: z.string().nullable(),
  sentAt: z.string().describe('the response instant: the clinical timestamps of the Bundle'),
  sends: z.number().int().describe('transmissions so far (1 + resends)'),
  envelopeId: z.string().nullable().describe("the current transmission's envelope id (new on every resend)"),
  envelopeSentAt: z.string().nullable(),
  ackDueAt: z.string().nullable(),
  acknowledgement: z.object({ code: z.string(), at: z.string().nullable() }).nullable(),
  bundleBytes: z.number().int(),
  bundleSha256: z.string(),
  lastError: z.string().nullable(),
  validationIssues: z.array(z.object({ severity: z.string(), location: z.string(), message: z.string(), rule: z.string().optional() })),
  acknowledgements: z.array(
    z.object({ ackId: z.string(), receivedAt: z.string(), from: z.string(), code: z.string(), outcome: z.string() }),
  ),
});

export const unmatchedAcksSchema = z.object({
  items: z.array(
    z.object({
      ackId: z.string(),
      bundleId: z.string(),
      receivedAt: z.string(),
      from: z.string(),
      respondsTo: z.string(),
      code: z.string(),
    }),
  ),
});
