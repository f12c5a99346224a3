/**
 * What the law requires a returned document to contain, checked before it is
 * signed and dispatched (API.md "Staff: returning documents"; RULES.md
 * "What each service delivers"). Every missing or bad field is reported with
 * its path (`content.<field>`), as a 422.
 */
import { z } from 'zod';
import type { FieldError } from '../shared/problem.js';
import { checkWith, requiredOr } from '../shared/validate.js';
import { isDateString } from '../shared/identifiers.js';

export const RESPONSE_KINDS = ['statement', 'specialist-attest', 'pre-meeting-advice', 'recommendation', 'gp-notice'] as const;
export type ResponseKind = (typeof RESPONSE_KINDS)[number];

/** Which kinds each service returns. */
export const KINDS_BY_SERVICE: Record<string, readonly ResponseKind[]> = {
  // §6 advice before the meeting and its recommendation; §9 notice to the GP
  'rehab-team-advice': ['pre-meeting-advice', 'recommendation', 'gp-notice'],
  'ongoing-case-advice': ['statement'], // §11
  'early-pension-statement': ['statement'], // §10
  'clinical-assessment': ['specialist-attest'], // §13–§14
  'senior-pension-advice': ['statement'], // §26
  'senior-pension-assessment': ['specialist-attest'], // §27
  'resource-course-conversation': ['statement'], // S§
};

/** Kinds that end the case's work and stop its clock (met or missed). */
export const FINAL_KINDS: readonly ResponseKind[] = ['statement', 'specialist-attest'];

const text = (what: string) =>
  z
    .string({ error: requiredOr(what) })
    .trim()
    .min(1, `${what} must not be empty`)
    .max(50_000, 'at most 50 000 characters');

const date = z.string().refine(isDateString, 'must be a real date written YYYY-MM-DD');
/**
 * Optional on coordinator kinds: the coordinator discussed the case with the citizen's GP on
 * `gpDiscussionDate` (needs the citizen's written consent recorded before it, §5 stk. 2, §11 stk. 5),
 * and had contact with the citizen on `citizenContactDate` (needs the municipality's prior
 * agreement, §5 stk. 2, §10 stk. 3, §11 stk. 5).
 */
const contacts = {
  gpDiscussion: z.boolean().optional(),
  gpDiscussionDate: date.optional(),
  citizenContactDate: date.optional(),
};

const furtherAssessment = z
  .strictObject({
    needed: z.boolean({ error: requiredOr('needed (true or false)') }),
    description: z.string().trim().min(1).optional(),
    priceDkk: z.number().nonnegative('priceDkk must be 0 or more').optional(),
    timeframe: z.string().trim().min(1).optional(),
  })
  .superRefine((f, ctx) => {
    if (!f.needed) return;
    for (const k of ['description', 'priceDkk', 'timeframe'] as const) {
      if (f[k] === undefined)
        ctx.addIssue({ code: 'custom', path: [k], message: `${k} is required when further assessment is needed (§14 stk. 2)` });
    }
  });

const schemas = {
  // §14 stk. 1: answers the municipality's concrete request, with the result of the objective examination.
  'specialist-attest': z.strictObject({
    municipalityRequest: text('municipalityRequest (§14 stk. 1: what the municipality concretely asked, which the attest answers)'),
    objectiveExamination: text('objectiveExamination (§14 stk. 1: the result of the objective examination)'),
    functionalCapacity: text('functionalCapacity (§14 stk. 1)'),
    healthConditions: text('healthConditions (§14 stk. 1)'),
    citizenAssessment: text('citizenAssessment (§14 stk. 1)'),
    physicianAssessment: text('physicianAssessment (§14 stk. 1)'),
    otherFactors: z.string().trim().optional(),
    furtherAssessment: furtherAssessment.optional(),
    overallAssessment: z.string().trim().min(1, 'overallAssessment must not be empty').optional(),
  }),
  // §27 stk. 2: the senior-pension attest answers the requester's request with the objective examination,
  // and assesses functional capacity and health in relation to the latest job (not §14's field list).
  'specialist-attest-§27': z.strictObject({
    municipalityRequest: text('municipalityRequest (§27 stk. 2: what the requester concretely asked, which the attest answers)'),
    objectiveExamination: text('objectiveExamination (§27 stk. 2: the result of the objective examination)'),
    latestJobAssessment: text('latestJobAssessment (§27 stk. 2: functional capacity and health in relation to the latest job)'),
    otherFactors: z.string().trim().optional(),
  }),
  'statement-§10': z.strictObject({
    obvious: z.boolean({ error: requiredOr('obvious (is it obvious that the work capacity cannot be improved, §10 stk. 2?)') }),
    reasoning: text('reasoning (§10 stk. 2)'),
    ...contacts,
  }),
  statement: z.strictObject({
    assessment: text('assessment'),
    recommendation: z
      .enum(['clinical-assessment', 'gp-visit', 'none'], 'recommendation is clinical-assessment, gp-visit or none (§11 stk. 2)')
      .optional(),
    ...contacts,
  }),
  recommendation: z.strictObject({
    reasons: text('reasons (§6 stk. 2: a recommendation is reasoned)'),
    proposals: z
      .array(text('each proposal'), { error: requiredOr('proposals') })
      .min(1, 'proposals must list at least one concrete proposal (§6 stk. 2)'),
    ...contacts,
  }),
  'pre-meeting-advice': z.strictObject({ advice: text('advice (§6)'), ...contacts }),
  'gp-notice': z.strictObject({ background: text('background (§9: the GP is informed of the background)') }),
} as const;

export interface ContentContext {
  service: string;
  /** the citizen already has a specialist attest from this region, in this case or another (§14 stk. 3–4) */
  earlierAssessments: boolean;
  /** dates of the citizen's written consents to a GP discussion recorded on the case (§5 stk. 2, §11 stk. 5) */
  gpDiscussionConsents: readonly string[];
  /** dates of the municipality's recorded agreements to contact with the citizen (§5 stk. 2, §10 stk. 3, §11 stk. 5) */
  citizenContactAgreements: readonly string[];
  /** the municipality asked for advice before the rehabilitation-team meeting (§6 stk. 1) */
  preMeetingAdviceRequested?: boolean;
  /** §16 stk. 3–4: the kinds a supplementary service returns, as its agreement defines them */
  supplementaryKinds?: readonly string[];
}

/** The field errors of a response (empty = acceptable), with `kind` and `content.` paths. */
export function checkResponse(kind: unknown, content: unknown, ctx: ContentContext): FieldError[] {
  if (typeof kind !== 'string' || !(RESPONSE_KINDS as readonly string[]).includes(kind)) {
    return [{ path: 'kind', message: `kind is one of ${RESPONSE_KINDS.join(', ')}` }];
  }
  const allowed = KINDS_BY_SERVICE[ctx.service] ?? ctx.supplementaryKinds ?? [];
  if (!allowed.includes(kind as ResponseKind)) {
    return [{ path: 'kind', message: `a ${ctx.service} case returns ${allowed.join(' or ') || 'nothing'}, not ${kind}` }];
  }
  if (kind === 'pre-meeting-advice' && !ctx.preMeetingAdviceRequested) {
    return [
      {
        path: 'kind',
        message:
          'advice before the meeting is given when the municipality asks for it (§6 stk. 1); this case does not (preMeetingAdviceRequested)',
      },
    ];
  }
  const key =
    kind === 'statement' && ctx.service === 'early-pension-statement'
      ? 'statement-§10'
      : kind === 'specialist-attest' && ctx.service === 'senior-pension-assessment'
        ? 'specialist-attest-§27'
        : (kind as keyof typeof schemas);
  const errors: FieldError[] = checkWith(schemas[key], content ?? undefined, 'content');
  if (content === null || typeof content !== 'object')
    return errors.length ? errors : [{ path: 'content', message: 'content must be an object' }];
  const c = content as Record<string, unknown>;
  if (
    key === 'specialist-attest' &&
    ctx.earlierAssessments &&
    (typeof c.overallAssessment !== 'string' || c.overallAssessment.trim() === '')
  ) {
    errors.push({
      path: 'content.overallAssessment',
      message: 'required: the citizen has been assessed by this region before, so an overall assessment is due (§14 stk. 3–4)',
    });
  }
  if (c.gpDiscussion === true) {
    const on = typeof c.gpDiscussionDate === 'string' ? c.gpDiscussionDate : undefined;
    if (on === undefined) {
      errors.push({ path: 'content.gpDiscussionDate', message: 'required with gpDiscussion: the date of the discussion with the GP' });
    } else if (!ctx.gpDiscussionConsents.some((d) => d <= on)) {
      errors.push({
        path: 'content.gpDiscussion',
        message:
          `a discussion with the GP needs the citizen's written consent recorded on the case on or before ${on} ` +
          '(§5 stk. 2, §11 stk. 5): POST /v1/cases/{caseId}/consents, kind gp-discussion',
      });
    }
  }
  if (typeof c.citizenContactDate === 'string' && !ctx.citizenContactAgreements.some((d) => d <= (c.citizenContactDate as string))) {
    errors.push({
      path: 'content.citizenContactDate',
      message:
        `contact with the citizen needs the municipality's prior agreement recorded on the case on or before ${c.citizenContactDate} ` +
        '(§5 stk. 2, §10 stk. 3, §11 stk. 5): kind municipality-agreement-citizen-contact',
    });
  }
  return errors;
}
