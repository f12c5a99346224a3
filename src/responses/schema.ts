/**
 * Shapes of POST /v1/cases/{caseId}/responses (API.md "Staff: returning
 * documents"): the `response` part, parsed with this schema by the route,
 * and the answer. The content each kind needs is checked per service by
 * content.ts, which names every missing field.
 */
import { z } from 'zod';
import { messageStateSchema } from '../delivery/schema.js';
import { isDateString, YDERNUMMER_RE } from '../shared/identifiers.js';
import { ui } from '../shared/form-meta.js';
import { RESPONSE_KINDS } from './content.js';

export const responseRequestSchema = z
  .object({
    kind: z.enum(RESPONSE_KINDS),
    content: z
      .record(z.string(), z.unknown())
      .describe(
        'the fields the rules require for this kind and service, each missing one a 422 naming content.<field>: ' +
          'specialist-attest: functionalCapacity, healthConditions, citizenAssessment, physicianAssessment, otherFactors?, ' +
          'furtherAssessment? { needed, description, priceDkk, timeframe } (§14 stk. 2), overallAssessment (§14 stk. 3–4), ' +
          'latestJobAssessment (senior pension, §27 stk. 2); statement: obvious + reasoning (§10) or assessment + recommendation? (§11); ' +
          'recommendation: reasons + proposals[] (§6 stk. 2); pre-meeting-advice: advice; gp-notice: background (§9)',
      ),
  })
  .describe('the `response` part (JSON)');

export const responseAnswerSchema = z.object({
  responseId: z.string().uuid(),
  caseId: z.string().uuid(),
  kind: z.enum(RESPONSE_KINDS),
  sentAt: z.string().describe('one instant for every recipient (§15 stk. 2)'),
  messages: z.array(z.object({ messageId: z.string().uuid(), to: z.string().nullable(), copy: z.boolean(), state: messageStateSchema })),
  clock: z.unknown(),
});

export const conversationBodySchema = z
  .strictObject({
    date: z.string().refine(isDateString, 'must be a real date written YYYY-MM-DD').describe('when the conversation was held'),
  })
  .describe('§11 stk. 3: the coordinator held the conversation with the citizen');
export const conversationAnswerSchema = z.object({ caseId: z.string().uuid(), date: z.string() });

/** The fields of a team lead's resolve (also the staff page's form, src/web/pages/overview.ts). */
export const resolveFieldsSchema = z.strictObject({
  ydernummer: ui(
    z
      .string()
      .regex(YDERNUMMER_RE, 'a ydernummer is 6 digits')
      .optional()
      .describe(
        "the citizen's GP, as the GP directory knows the practice: required when the message has none (the municipality's " +
          'manifest named no GP); not given for a message that has one',
      ),
    {
      label: 'Egen læges ydernummer',
      help:
        'Kommunen oplyste ingen egen læge. Kopien af attesten skal til borgerens egen læge (§ 15, stk. 2): ' +
        'angiv lægens ydernummer (6 cifre) fra lægeregistret.',
    },
  ),
});

/** The body of POST /v1/messages/{messageId}/resolve: none, or the ydernummer a message without one needs. */
export const resolveBodySchema = resolveFieldsSchema
  .optional()
  .describe('optional: only a message without a ydernummer needs one (the ydernummer field)');

export const resolveAnswerSchema = z.object({
  messageId: z.string().uuid(),
  state: z.string().describe('queued (on its way to the practice) or invalid (failed validation against the MedCom profiles)'),
  to: z.string().nullable().describe('the gp-system party, or null when the practice is reached through VANS'),
  ydernummer: z.string().describe('the ydernummer the copy went to: the case’s, or the one the team lead gave'),
});
