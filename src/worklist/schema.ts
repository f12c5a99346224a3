/**
 * Shapes of the staff API (API.md "Staff: work queues"): the request bodies
 * and queries, enforced by the routes through src/shared/validate.ts, and
 * the answers, from which the OpenAPI document is generated.
 */
import { z } from 'zod';
import { clockSchema } from '../receipts/schema.js';
import { retentionViewSchema } from '../retention/schema.js';
import { isDateString } from '../shared/identifiers.js';
import { ui } from '../shared/form-meta.js';

const date = (what: string) =>
  z
    .string()
    .refine(isDateString, { message: 'must be a real date written YYYY-MM-DD', params: { da: 'Skriv en gyldig dato (ÅÅÅÅ-MM-DD)' } })
    .describe(`${what}: YYYY-MM-DD, a real date, not before the case was received`);
/** A free text someone must give (a reason, who agreed): trimmed, not blank. */
const text = (max: number) => z.string().trim().min(1, 'must not be blank').max(max, `at most ${max} characters`);

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
export type WorklistItem = z.infer<typeof worklistItemSchema>;

export const worklistSchema = z
  .object({ items: z.array(worklistItemSchema) })
  .describe('Open cases, urgent first (§21 stk. 3), then the earliest due');

export const LEAD_FILTERS = ['unassigned', 'awaiting-complete-case', 'overdue', 'at-risk', 'extended'] as const;
export type LeadFilter = (typeof LEAD_FILTERS)[number];
export const leadListQuerySchema = z.strictObject({
  state: z
    .enum(LEAD_FILTERS)
    .describe(
      'unassigned: nobody eligible; awaiting-complete-case: documents missing; overdue; at-risk; ' +
        'extended: open cases with a deadline moved by an agreed extension (§22, §23)',
    ),
});

const leadListItemSchema = worklistItemSchema.extend({
  assignedTo: z.string().nullable(),
  routing: z
    .object({
      at: z.string(),
      excluded: z.array(z.object({ staffId: z.string(), rules: z.array(z.object({ rule: z.string(), reason: z.string() })) })),
    })
    .optional()
    .describe('for unassigned cases: who was considered and every rule that excluded them'),
  missingDocuments: z
    .array(z.string())
    .optional()
    .describe('for cases awaiting their complete documents: the document types still missing'),
  extended: z
    .boolean()
    .optional()
    .describe('overdue, at-risk and extended lists: a deadline was moved by an agreed extension (§22, §23), as opposed to plainly late'),
});
export type LeadListItem = z.infer<typeof leadListItemSchema>;
export const leadListSchema = z.object({ items: z.array(leadListItemSchema) });

// The Danish labels and § help of the staff pages' forms (src/shared/form-meta.ts): not part of the OpenAPI document.
export const meetingBodySchema = z
  .strictObject({
    date: ui(date('the meeting date'), {
      label: 'Mødedato',
      help: 'Datoen for rehabiliteringsteamets møde, som koordinatoren deltager i: mødet holdes senest 14 dage efter, at sagen er modtaget (§ 21, stk. 1).',
      input: 'date',
    }),
  })
  .describe('rehab-team-advice: the coordinator is booked for the meeting; stops the §21 clock');
export const consultationBodySchema = z
  .strictObject({
    date: ui(date('the consultation date'), {
      label: 'Dato for konsultationen',
      help: 'Attesten sendes senest 14 dage efter konsultationen og senest 30 dage efter, at anmodningen er modtaget (§ 23).',
      input: 'date',
    }),
  })
  .describe('§23: the consultation date');
export const extensionBodySchema = z
  .strictObject({
    dueDate: ui(date('the new due date'), {
      label: 'Ny frist',
      help: 'En anden frist, aftalt fordi forholdene i den konkrete sag gør, at fristen ikke kan overholdes; kun senere, aldrig for § 21 (§ 22, § 23).',
      input: 'date',
    }),
    reason: ui(text(2000).describe('why the deadline cannot be met in this case'), {
      label: 'Begrundelse',
      help: 'Hvorfor fristen ikke kan overholdes i denne sag (§ 22, § 23).',
      input: 'textarea',
    }),
    agreedWith: ui(text(300).describe('with whom the new deadline was agreed'), {
      label: 'Aftalt med',
      help: 'Hvem hos kommunen eller Seniorpensionsenheden den nye frist er aftalt med (§ 22, § 23).',
    }),
    kind: ui(z.string().min(1).optional().describe('deadline kind; default the main deadline'), {
      label: 'Frist',
      help: 'Hvilken frist der flyttes; uden valg sagens hovedfrist (§ 22, § 23).',
    }),
  })
  .describe('§22 / §23: another deadline agreed in a concrete case; only later, never for §21');
export const conflictBodySchema = z
  .strictObject({
    reason: ui(text(2000), {
      label: 'Begrundelse',
      help: 'Hvorfor du ikke kan rådgive i sagen, fx fordi du er eller har været borgerens egen læge eller behandler; sagen fordeles igen (§ 12, stk. 2).',
      input: 'textarea',
    }),
  })
  .describe('§12 stk. 2: hand the case back for reassignment');
export const assignBodySchema = z
  .strictObject({
    staffId: ui(z.string().min(1, 'must not be empty'), {
      label: 'Medarbejder',
      help: 'Alle udelukkelser gælder stadig: ingen kan se bort fra § 12, stk. 2, § 13, stk. 3 (kun et registreret samtykke) eller § 25, stk. 3.',
    }),
  })
  .describe('every exclusion applies: nobody sets §12 stk. 2, §13 stk. 3 (only a recorded consent) or §25 stk. 3 aside');

export const clockActionSchema = z.object({ caseId: z.string(), clock: clockSchema, warnings: z.array(z.string()) });
export const conflictAnswerSchema = z.object({ caseId: z.string(), state: z.literal('received'), routingRound: z.number().int() });
export const assignAnswerSchema = z.object({ caseId: z.string(), assignedTo: z.string() });

export const extensionsSchema = z.object({
  items: z.array(
    z.object({
      agreedAt: z.string(),
      recordedBy: z.string().optional().describe('the staff member who recorded it (staff and team leads only)'),
      kind: z.string(),
      rule: z.string().describe('§22 or §23 (or the agreement for deadlines set only by agreement)'),
      previousDueDate: z.string(),
      dueDate: z.string(),
      reason: z.string().optional().describe("the staff member's reason (staff and team leads only; never shown to the requester)"),
      agreedWith: z.string().describe('who at the requester (the municipality or Seniorpensionsenheden) agreed'),
    }),
  ),
});
export type Extension = z.infer<typeof extensionsSchema>['items'][number];

export const caseViewSchema = z.object({
  caseId: z.string().uuid(),
  state: z.string(),
  service: z.string(),
  caseType: z.string(),
  urgent: z.boolean(),
  municipalityCode: z.string(),
  receivedAt: z.string(),
  assignedTo: z.string().nullable(),
  clock: clockSchema,
  missingDocuments: z.array(z.string()).describe('document types the case still lacks; its clock waits for them (§21 stk. 2)'),
  documents: z.array(
    z.object({
      part: z.string(),
      type: z.string(),
      title: z.string().nullable(),
      mediaType: z.string(),
      size: z.number(),
      sha256: z.string(),
      receivedAt: z.string(),
    }),
  ),
  responses: z.array(z.unknown()),
  history: z
    .array(z.object({ at: z.string(), event: z.string(), actor: z.string(), data: z.unknown().optional() }))
    .describe(
      "to the case's sender: its own events as recorded; the region's with actor `region` and only their structured data " +
        "(dates, §, rounds, message ids and states), never a staff member's reason (issue 15)",
    ),
  retention: retentionViewSchema.optional(),
});
export type CaseView = z.infer<typeof caseViewSchema>;
