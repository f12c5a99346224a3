/**
 * Consents and agreements as recorded evidence, not a flag: who gave it,
 * when, and how (written, with the document that holds it, or oral).
 * - `same-specialist-as-coordinator`: the citizen agrees that the case's coordinator does the
 *   specialist assessment (§13 stk. 3);
 * - `gp-discussion`: the citizen's written consent to discussing the case with the GP (§5 stk. 2, §11 stk. 5);
 * - `municipality-agreement-citizen-contact`: the municipality's prior agreement to contact with the
 *   citizen (§5 stk. 2, §10 stk. 3, §11 stk. 5).
 * The same record comes in the manifest (`consents`) or through POST /v1/cases/{caseId}/consents.
 */
import { z } from 'zod';
import { isDateString } from '../shared/identifiers.js';

export const CONSENT_KINDS = ['same-specialist-as-coordinator', 'gp-discussion', 'municipality-agreement-citizen-contact'] as const;
export type ConsentKind = (typeof CONSENT_KINDS)[number];

export const consentRecordSchema = z
  .strictObject({
    kind: z.enum(CONSENT_KINDS),
    givenBy: z.string().trim().min(1, 'must not be blank').max(200, 'at most 200 characters').describe('who gave it'),
    date: z.string().refine(isDateString, 'must be a real date written YYYY-MM-DD').describe('when it was given'),
    how: z.enum(['written', 'oral']),
    documentPart: z.string().min(1).max(64).optional().describe("a written consent: the case document's part that holds it"),
  })
  .superRefine((r, ctx) => {
    if (r.how === 'written' && r.documentPart === undefined) {
      ctx.addIssue({ code: 'custom', path: ['documentPart'], message: 'a written consent names the document that holds it' });
    }
    if (r.kind === 'gp-discussion' && r.how !== 'written') {
      ctx.addIssue({
        code: 'custom',
        path: ['how'],
        message: 'a discussion with the GP needs the citizen’s written consent (§5 stk. 2, §11 stk. 5)',
      });
    }
  });
export type ConsentRecord = z.infer<typeof consentRecordSchema>;

export const consentSchema = z.object({
  id: z.string().uuid(),
  caseId: z.string().uuid(),
  kind: z.enum(CONSENT_KINDS),
  givenBy: z.string(),
  date: z.string(),
  how: z.enum(['written', 'oral']),
  documentPart: z.string().nullable(),
  recordedBy: z.string(),
  recordedAt: z.string(),
});
export const consentListSchema = z.object({ items: z.array(consentSchema) });
