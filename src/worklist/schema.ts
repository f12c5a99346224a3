/**
 * Shapes of the staff API (API.md "Staff: work queues"), for the OpenAPI
 * document and the contract tests. Request bodies are validated field by
 * field by the services (routing, deadlines), which answer 422 with the path
 * of each bad field.
 */
import { z } from 'zod';
import { clockSchema } from '../receipts/schema.js';

const date = z.string().describe('YYYY-MM-DD, a real date, not before the case was received');

export const worklistItemSchema = z.object({
  caseId: z.string().uuid(),
  service: z.string(),
  caseType: z.string(),
  urgent: z.boolean(),
  municipalityCode: z.string(),
  receivedAt: z.string(),
  dueDate: z.string().nullable(),
  dueAt: z.string().nullable(),
  state: z.string(),
});

export const worklistSchema = z
  .object({ items: z.array(worklistItemSchema) })
  .describe('Open cases, urgent first (§21 stk. 3), then the earliest due');

export const leadListSchema = z.object({
  items: z.array(
    worklistItemSchema.extend({
      assignedTo: z.string().nullable(),
      routing: z
        .object({
          at: z.string(),
          excluded: z.array(z.object({ staffId: z.string(), rules: z.array(z.object({ rule: z.string(), reason: z.string() })) })),
        })
        .optional()
        .describe('for unassigned cases: who was considered and every rule that excluded them'),
    }),
  ),
});

export const meetingBodySchema = z
  .object({ date })
  .describe('rehab-team-advice: the coordinator is booked for the meeting; stops the §21 clock');
export const consultationBodySchema = z.object({ date }).describe('§23: the consultation date');
export const extensionBodySchema = z
  .object({
    dueDate: date,
    reason: z.string().describe('why the deadline cannot be met in this case'),
    agreedWith: z.string().describe('with whom the new deadline was agreed'),
    kind: z.string().optional().describe('deadline kind; default the main deadline'),
  })
  .describe('§22 / §23: another deadline agreed in a concrete case; only later, never for §21');
export const conflictBodySchema = z.object({ reason: z.string() }).describe('§12 stk. 2: hand the case back for reassignment');
export const assignBodySchema = z.object({
  staffId: z.string(),
  overrideReason: z
    .string()
    .optional()
    .describe('sets aside §12 stk. 2, §13 stk. 3 and §25 stk. 3 (never role, municipality or a declared conflict); audited'),
});

export const clockActionSchema = z.object({ caseId: z.string(), clock: clockSchema, warnings: z.array(z.string()) });
export const conflictAnswerSchema = z.object({ caseId: z.string(), state: z.literal('received'), routingRound: z.number().int() });
export const assignAnswerSchema = z.object({ caseId: z.string(), assignedTo: z.string(), overridden: z.array(z.string()) });
