/**
 * The case-package manifest (API.md "Sending a case package"), validated with
 * zod. The same schema feeds the served OpenAPI description.
 */
import { z } from 'zod';
import { SERVICES, SUPPLEMENTARY_SERVICE_RE, type Service } from '../deadlines/types.js';
import { consentRecordSchema } from '../consents/schema.js';
import { cprBirthDate, isDateString, YDERNUMMER_RE } from '../shared/identifiers.js';
import { containsCprLike } from '../shared/logger.js';

export const CASE_TYPES = [
  'ressourceforloeb',
  'jobafklaringsforloeb',
  'fleksjob',
  'tilskud-selvstaendig',
  'foertidspension',
  'sygedagpenge-kategori-3',
  'seniorpension',
  // §16 stk. 3–4: cases of the supplementary services an agreement may add
  'kontanthjaelp',
  'sygedagpenge',
  'revalidering',
] as const;

export const DOCUMENT_TYPES = ['rehab-plan-preparatory', 'medical-certificate', 'journal', 'request', 'supplement', 'other'] as const;
export type DocumentType = (typeof DOCUMENT_TYPES)[number];

/** Which document type makes a case complete (§21 stk. 2; API.md "Required documents"). */
export const REQUIRED_DOCUMENT: Partial<Record<Service, DocumentType>> = {
  'rehab-team-advice': 'rehab-plan-preparatory',
  'early-pension-statement': 'rehab-plan-preparatory',
  'clinical-assessment': 'request',
  'senior-pension-assessment': 'request',
};

export const SENIOR_PENSION_SERVICES: readonly string[] = ['senior-pension-advice', 'senior-pension-assessment'];

const realDate = z.string().refine(isDateString, 'must be a real date written YYYY-MM-DD');
const ydernummer = z.string().regex(YDERNUMMER_RE, 'a ydernummer is 6 digits');
const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);

export const PART_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Issue 15: identifiers the sender chooses travel in logs, receipts and the audit log, whose scrubber would cut
 * a CPR number out of them; so one that holds ten digits in a row (DDMMYYSSSS or DDMMYY-SSSS, not part of a
 * longer digit run, whatever letters stand around them) is refused. UUIDs are fine.
 */
const NO_CPR = (what: string) =>
  [
    (v: string) => !containsCprLike(v),
    `${what} travels in logs, receipts and the audit log and must never hold a CPR number: ` +
      'ten digits in a row (DDMMYYSSSS or DDMMYY-SSSS) are refused; use your own case or package number',
  ] as const;

export const documentEntrySchema = z.strictObject({
  part: z
    .string()
    .regex(PART_NAME_RE, 'a part name is 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit')
    .refine((p) => !p.includes('..'), 'a part name must not contain ".."')
    .refine((p) => p !== 'manifest', '"manifest" is reserved for the manifest part')
    .refine(...NO_CPR('a part name')),
  type: z.enum(DOCUMENT_TYPES),
  title: text(500).optional(),
  /** Checked against the allowed set and the bytes after validation (415, not 400). */
  mediaType: z.string().min(1).max(100),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'sha256 is 64 hexadecimal characters')
    .transform((s) => s.toLowerCase())
    .optional(),
});

export const manifestSchema = z
  .strictObject({
    packageId: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'packageId is 1–100 letters, digits, ".", "_", ":" or "-"')
      .refine(...NO_CPR('a packageId'))
      .describe(
        'your unique id for this package: 1–100 letters, digits, ".", "_", ":" or "-". It travels in logs, receipts and the audit log, ' +
          'so it must not hold a CPR number (ten digits in a row, DDMMYYSSSS or DDMMYY-SSSS, are refused)',
      ),
    service: z
      .string()
      .regex(SUPPLEMENTARY_SERVICE_RE, `one of ${SERVICES.join(', ')}, or a supplementary service your agreement defines (§16 stk. 3–4)`)
      .describe(`${SERVICES.join(' | ')}, or a supplementary service the sender's agreement defines (§16 stk. 3–4)`),
    caseType: z.enum(CASE_TYPES),
    supplementTo: z.string().uuid('supplementTo must be a caseId').optional(),
    urgent: z
      .strictObject({
        reason: z.enum(['terminal', 'other']),
        note: text(2000).optional(),
      })
      .optional(),
    municipalityCode: z
      .string()
      .regex(/^\d{3}$/, 'a municipality code is 3 digits')
      .optional(),
    citizen: z.strictObject({
      cpr: z
        .string()
        .regex(/^\d{6}-?\d{4}$/, 'a CPR number is written DDMMYY-SSSS or DDMMYYSSSS')
        .refine((v) => cprBirthDate(v) !== null, 'the CPR number does not hold a real date of birth'),
      name: text(200),
    }),
    gp: z.strictObject({ ydernummer, name: text(200).optional() }).optional(),
    caseworker: z.strictObject({ name: text(200), email: z.string().email().optional(), phone: text(40).optional() }).optional(),
    meetingDate: realDate.optional(),
    riskUnfitAfter4Years: z
      .boolean()
      .optional()
      .describe(
        'ongoing-case-advice in a jobafklaringsforløb: the citizen risks being unfit for work 4 years after sickness benefit ended; ' +
          'the coordinator must talk with the citizen before the statement (§11 stk. 3)',
      ),
    preMeetingAdviceRequested: z
      .boolean()
      .optional()
      .describe('rehab-team-advice: the municipality asks for advice before the meeting (§6 stk. 1); only then is it given'),
    consents: z
      .array(consentRecordSchema)
      .max(20)
      .optional()
      .describe('consents and agreements already given, as evidence (§13 stk. 3, §5 stk. 2, §10 stk. 3, §11 stk. 5)'),
    treatingClinicians: z
      .array(
        z
          .strictObject({ ydernummer: ydernummer.optional(), authorisationId: text(50).optional() })
          .refine((c) => c.ydernummer || c.authorisationId, 'give a ydernummer or an authorisationId'),
      )
      .max(50)
      .optional(),
    latestJob: z
      .strictObject({
        title: text(200),
        tasks: text(5000).optional(),
        hoursPerWeek: z.number().min(0).max(168).optional(),
      })
      .optional(),
    documents: z.array(documentEntrySchema).min(1, 'a package holds at least one document'),
  })
  .superRefine((m, ctx) => {
    const seen = new Map<string, number>();
    m.documents.forEach((d, i) => {
      const first = seen.get(d.part);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['documents', i, 'part'],
          message: `part "${d.part}" is already used by documents[${first}]`,
        });
      } else seen.set(d.part, i);
    });
    const isSenior = SENIOR_PENSION_SERVICES.includes(m.service);
    if (isSenior !== (m.caseType === 'seniorpension')) {
      ctx.addIssue({
        code: 'custom',
        path: ['caseType'],
        message: isSenior
          ? `service ${m.service} is for caseType "seniorpension" (§26–27)`
          : 'caseType "seniorpension" goes with service senior-pension-advice or senior-pension-assessment (§26–27)',
      });
    }
    if (m.urgent && m.service !== 'rehab-team-advice') {
      ctx.addIssue(
        m.service === 'early-pension-statement' && m.urgent.reason === 'terminal'
          ? {
              code: 'custom',
              path: ['urgent', 'reason'],
              message:
                'a citizen in the terminal phase gets no §10 statement (§10 stk. 1): send rehab-team-advice with urgent, the urgent track of §21 stk. 3',
            }
          : { code: 'custom', path: ['urgent'], message: `urgency (§21 stk. 3) is for rehab-team-advice cases, not ${m.service}` },
      );
    }
    m.consents?.forEach((c, i) => {
      if (c.documentPart !== undefined && !m.documents.some((d) => d.part === c.documentPart) && !m.supplementTo) {
        ctx.addIssue({ code: 'custom', path: ['consents', i, 'documentPart'], message: `names no document of this package` });
      }
    });
    if (m.riskUnfitAfter4Years !== undefined && (m.service !== 'ongoing-case-advice' || m.caseType !== 'jobafklaringsforloeb')) {
      ctx.addIssue({
        code: 'custom',
        path: ['riskUnfitAfter4Years'],
        message: 'the §11 stk. 3 risk is stated in ongoing-case-advice cases about a jobafklaringsforløb',
      });
    }
    if (m.preMeetingAdviceRequested !== undefined && m.service !== 'rehab-team-advice') {
      ctx.addIssue({
        code: 'custom',
        path: ['preMeetingAdviceRequested'],
        message: 'advice before the rehabilitation-team meeting (§6 stk. 1) belongs to rehab-team-advice cases',
      });
    }
    if (isSenior && !m.latestJob) {
      ctx.addIssue({ code: 'custom', path: ['latestJob'], message: 'senior-pension cases describe the latest job (§26 stk. 2 nr. 1)' });
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type DocumentEntry = z.infer<typeof documentEntrySchema>;

/**
 * The document types a case of `service` still lacks, given the types it
 * holds (§21 stk. 2: the case is complete with its required documents; §23:
 * the assessment's clock runs from the request). Empty = complete.
 */
export function missingDocuments(service: string, documentTypes: Iterable<string>): DocumentType[] {
  const required = REQUIRED_DOCUMENT[service as Service];
  if (!required) return [];
  for (const t of documentTypes) if (t === required) return [];
  return [required];
}
