/** zod schemas of what the gateway answers; the OpenAPI description is generated from them. */
import { z } from 'zod';

export const deadlineSchema = z.object({
  kind: z.string(),
  rule: z.string().describe('the rule that sets it: §21 stk. 1, §21 stk. 3, §22, §23, S§4, §29'),
  dueDate: z.string().describe('local due date (Europe/Copenhagen), YYYY-MM-DD'),
  dueAt: z.string().describe('23:59:59.999 local on the due date, as a UTC instant'),
  source: z.string().describe('"default", "agreement:<id>" or "extension"'),
  originalDueDate: z.string().optional(),
  extension: z.object({ reason: z.string(), agreedWith: z.string() }).optional(),
});

export const clockSchema = z.object({
  status: z.enum(['running', 'awaiting-complete-case', 'no-deadline-agreed', 'stopped']),
  startedAt: z.string().nullable(),
  deadlines: z.array(deadlineSchema),
  stoppedAt: z.string().optional(),
  outcome: z.enum(['met', 'missed']).optional(),
  daysLate: z.number().optional(),
  meetingDate: z.string().optional().describe('§21 stk. 1: the date of the rehabilitation-team meeting (the last booking counts)'),
  attest: z
    .object({ stoppedAt: z.string(), outcome: z.enum(['met', 'missed']).optional(), daysLate: z.number().optional() })
    .optional()
    .describe('§14 stk. 2: the attest asked for further assessment; the clock now runs for the overall assessment'),
});

export const receiptSchema = z.strictObject({
  receiptId: z.string().uuid(),
  packageId: z.string(),
  caseId: z.string().uuid(),
  sender: z.strictObject({ partyId: z.string(), municipalityCode: z.string() }),
  receivedAt: z.string().describe('the legally significant receipt instant (UTC)'),
  service: z.string(),
  supplementTo: z.string().uuid().optional(),
  documents: z.array(z.strictObject({ part: z.string(), type: z.string(), size: z.number().int(), sha256: z.string() })),
  missingDocuments: z
    .array(z.string())
    .optional()
    .describe('the document types the case still lacks; its clock waits for them (§21 stk. 2). Empty when the case is complete'),
  manifestSha256: z.string(),
  clock: clockSchema,
});

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
