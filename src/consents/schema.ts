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
import { ui } from '../shared/form-meta.js';

export const CONSENT_KINDS = ['same-specialist-as-coordinator', 'gp-discussion', 'municipality-agreement-citizen-contact'] as const;
export type ConsentKind = (typeof CONSENT_KINDS)[number];

/** The Danish names of the kinds, for the staff pages. */
export const CONSENT_KIND_LABELS: Record<ConsentKind, string> = {
  'same-specialist-as-coordinator': 'Borgeren accepterer, at koordinatoren foretager den lægefaglige vurdering (§ 13, stk. 3)',
  'gp-discussion': 'Borgerens skriftlige samtykke til, at sagen drøftes med egen læge (§ 5, stk. 2, § 11, stk. 5)',
  'municipality-agreement-citizen-contact':
    'Kommunens forudgående aftale om kontakt med borgeren (§ 5, stk. 2, § 10, stk. 3, § 11, stk. 5)',
};

// The Danish labels and § help of the staff pages' form (src/shared/form-meta.ts): not part of the OpenAPI document.
export const consentRecordSchema = z
  .strictObject({
    kind: ui(z.enum(CONSENT_KINDS), {
      label: 'Samtykke eller aftale',
      help: 'Hvad der er givet; det registreres som dokumentation med hvem, hvornår og hvordan (§ 5, stk. 2, § 13, stk. 3).',
      options: CONSENT_KIND_LABELS,
    }),
    givenBy: ui(z.string().trim().min(1, 'must not be blank').max(200, 'at most 200 characters').describe('who gave it'), {
      label: 'Givet af',
      help: 'Hvem der gav samtykket eller aftalen: borgeren eller en medarbejder i kommunen (§ 5, stk. 2, § 13, stk. 3).',
    }),
    date: ui(
      z
        .string()
        .refine(isDateString, { message: 'must be a real date written YYYY-MM-DD', params: { da: 'Skriv en gyldig dato (ÅÅÅÅ-MM-DD)' } })
        .describe('when it was given'),
      {
        label: 'Dato',
        help: 'Hvornår det blev givet: det skal foreligge senest på dagen for drøftelsen eller kontakten (§ 5, stk. 2, § 11, stk. 5).',
        input: 'date',
      },
    ),
    how: ui(z.enum(['written', 'oral']), {
      label: 'Hvordan',
      help: 'Samtykke til drøftelse med egen læge skal være skriftligt (§ 5, stk. 2, § 11, stk. 5).',
      options: { written: 'Skriftligt', oral: 'Mundtligt' },
    }),
    documentPart: ui(z.string().min(1).max(64).optional().describe("a written consent: the case document's part that holds it"), {
      label: 'Dokument',
      help: 'Ved skriftligt samtykke: den del af sagens dokumenter, der indeholder det (§ 5, stk. 2, § 11, stk. 5).',
    }),
  })
  .superRefine((r, ctx) => {
    if (r.how === 'written' && r.documentPart === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['documentPart'],
        message: 'a written consent names the document that holds it',
        params: { da: 'Et skriftligt samtykke skal angive det dokument, der indeholder det' },
      });
    }
    if (r.kind === 'gp-discussion' && r.how !== 'written') {
      ctx.addIssue({
        code: 'custom',
        path: ['how'],
        message: 'a discussion with the GP needs the citizen’s written consent (§5 stk. 2, §11 stk. 5)',
        params: { da: 'En drøftelse med egen læge kræver borgerens skriftlige samtykke (§ 5, stk. 2, § 11, stk. 5)' },
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
