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
import { ui } from '../shared/form-meta.js';

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

/** A free text the law requires: trimmed, not blank. */
const text = (what: string) =>
  z
    .string({ error: requiredOr(what) })
    .trim()
    .min(1, `${what} must not be empty`)
    .max(50_000, 'at most 50 000 characters');

/** A free text with its Danish label and § help: a textarea on the staff pages. */
const field = <S extends z.ZodType>(schema: S, label: string, help: string) => ui(schema, { label, help, input: 'textarea' });

const DATE_DA = 'Skriv en gyldig dato (ÅÅÅÅ-MM-DD)';
const date = () => z.string().refine(isDateString, { message: 'must be a real date written YYYY-MM-DD', params: { da: DATE_DA } });
/**
 * Optional on coordinator kinds: the coordinator discussed the case with the citizen's GP on
 * `gpDiscussionDate` (needs the citizen's written consent recorded before it, §5 stk. 2, §11 stk. 5),
 * and had contact with the citizen on `citizenContactDate` (needs the municipality's prior
 * agreement, §5 stk. 2, §10 stk. 3, §11 stk. 5).
 */
const contacts = {
  gpDiscussion: ui(z.boolean().optional(), {
    label: 'Sagen er drøftet med borgerens egen læge',
    help: 'Kræver borgerens skriftlige samtykke, registreret på sagen senest på dagen for drøftelsen (§ 5, stk. 2, § 11, stk. 5).',
  }),
  gpDiscussionDate: ui(date().optional(), {
    label: 'Dato for drøftelsen med egen læge',
    help: 'Skal udfyldes, når sagen er drøftet med egen læge (§ 5, stk. 2, § 11, stk. 5).',
    input: 'date',
  }),
  citizenContactDate: ui(date().optional(), {
    label: 'Dato for kontakt med borgeren',
    help:
      'Kontakt med borgeren kræver kommunens forudgående aftale, registreret på sagen senest på dagen for kontakten ' +
      '(§ 5, stk. 2, § 10, stk. 3, § 11, stk. 5).',
    input: 'date',
  }),
};

const FURTHER_DA = 'Skal udfyldes, når der er behov for yderligere udredning (§ 14, stk. 2)';
const furtherAssessment = z
  .strictObject({
    needed: ui(z.boolean({ error: requiredOr('needed (true or false)') }), {
      label: 'Er der behov for yderligere udredning?',
      help:
        'Hvis ja: angiv hvilken udredning, prisen og tidsrammen (§ 14, stk. 2), ' +
        'medmindre aftalen med kommunen fastsætter en anden fremgangsmåde (§ 14, stk. 4).',
    }),
    description: ui(z.string().trim().min(1).optional(), {
      label: 'Hvilken udredning',
      help: 'Den yderligere udredning, der er behov for (§ 14, stk. 2).',
      input: 'textarea',
    }),
    priceDkk: ui(z.number().nonnegative('priceDkk must be 0 or more').optional(), {
      label: 'Pris (kr.)',
      help: 'Prisen for den yderligere udredning, i kroner (§ 14, stk. 2).',
      input: 'number',
    }),
    timeframe: ui(z.string().trim().min(1).optional(), {
      label: 'Tidsramme',
      help: 'Hvor lang tid den yderligere udredning tager (§ 14, stk. 2).',
    }),
  })
  .superRefine((f, ctx) => {
    if (!f.needed) return;
    // price and time frame (§14 stk. 2) unless the agreement sets another procedure (§14 stk. 4): checkResponse
    for (const k of ['description'] as const) {
      if (f[k] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [k],
          message: `${k} is required when further assessment is needed (§14 stk. 2)`,
          params: { da: FURTHER_DA },
        });
    }
  });

const schemas = {
  // §14 stk. 1: answers the municipality's concrete request, with the result of the objective examination.
  'specialist-attest': z.strictObject({
    municipalityRequest: field(
      text('municipalityRequest (§14 stk. 1: what the municipality concretely asked, which the attest answers)'),
      'Kommunens konkrete anmodning',
      'Det, kommunen konkret har spurgt om, og som attesten besvarer (§ 14, stk. 1).',
    ),
    objectiveExamination: field(
      text('objectiveExamination (§14 stk. 1: the result of the objective examination)'),
      'Resultatet af den objektive undersøgelse',
      'Vurderingen af borgerens helbred i relation til arbejde og uddannelse hviler på den objektive undersøgelse (§ 14, stk. 1).',
    ),
    functionalCapacity: field(
      text('functionalCapacity (§14 stk. 1)'),
      'Funktionsevne',
      'Borgerens funktionsevne i relation til arbejde og uddannelse (§ 14, stk. 1).',
    ),
    healthConditions: field(
      text('healthConditions (§14 stk. 1)'),
      'Helbredsforhold',
      'Borgerens helbredsforhold i relation til arbejde og uddannelse (§ 14, stk. 1).',
    ),
    citizenAssessment: field(
      text('citizenAssessment (§14 stk. 1)'),
      'Borgerens vurdering',
      'Borgerens egen vurdering af, hvad helbredsforholdene betyder for funktionsevnen (§ 14, stk. 1).',
    ),
    physicianAssessment: field(
      text('physicianAssessment (§14 stk. 1)'),
      'Lægens vurdering',
      'Lægens vurdering af, hvad helbredsforholdene betyder for funktionsevnen (§ 14, stk. 1).',
    ),
    otherFactors: field(
      z.string().trim().optional(),
      'Andre relevante forhold',
      'Andre forhold, der har betydning for sagen (§ 14, stk. 1).',
    ),
    furtherAssessment: ui(furtherAssessment.optional(), {
      label: 'Yderligere udredning',
      help: 'Er der behov for yderligere udredning, angiver attesten hvilken, prisen og tidsrammen (§ 14, stk. 2).',
    }),
    overallAssessment: field(
      z.string().trim().min(1, 'overallAssessment must not be empty').optional(),
      'Samlet vurdering',
      'Efter yderligere udredning, som kommunen har bedt om, og altid når borgeren er vurderet af regionen før (§ 14, stk. 3–4).',
    ),
  }),
  // §27 stk. 2: the senior-pension attest answers the requester's request with the objective examination,
  // and assesses functional capacity and health in relation to the latest job (not §14's field list).
  'specialist-attest-§27': z.strictObject({
    municipalityRequest: field(
      text('municipalityRequest (§27 stk. 2: what the requester concretely asked, which the attest answers)'),
      'Rekvirentens konkrete anmodning',
      'Det, rekvirenten (Seniorpensionsenheden) konkret har spurgt om, og som attesten besvarer (§ 27, stk. 2).',
    ),
    objectiveExamination: field(
      text('objectiveExamination (§27 stk. 2: the result of the objective examination)'),
      'Resultatet af den objektive undersøgelse',
      'Attesten indeholder resultatet af en objektiv undersøgelse (§ 27, stk. 2).',
    ),
    latestJobAssessment: field(
      text('latestJobAssessment (§27 stk. 2: functional capacity and health in relation to the latest job)'),
      'Funktionsevne og helbred i forhold til seneste job',
      'Vurderingen af borgerens funktionsevne og helbredsforhold i forhold til det seneste job (§ 27, stk. 2).',
    ),
    otherFactors: field(
      z.string().trim().optional(),
      'Andre relevante forhold',
      'Andre forhold, der har betydning for sagen (§ 27, stk. 2).',
    ),
  }),
  'statement-§10': z.strictObject({
    obvious: ui(z.boolean({ error: requiredOr('obvious (is it obvious that the work capacity cannot be improved, §10 stk. 2?)') }), {
      label: 'Er det åbenlyst, at borgerens arbejdsevne ikke kan forbedres?',
      help: 'En sundhedsfaglig vurdering af, om det er åbenlyst, at arbejdsevnen ikke kan forbedres (§ 10, stk. 2).',
    }),
    reasoning: field(text('reasoning (§10 stk. 2)'), 'Begrundelse', 'Begrundelsen for vurderingen (§ 10, stk. 2).'),
    ...contacts,
  }),
  statement: z.strictObject({
    assessment: field(
      text('assessment'),
      'Udtalelse',
      'Den skriftlige udtalelse i sagen (§ 11, stk. 6). Den siger ikke, hvilken ydelse borgeren har ret til (§ 11, stk. 4).',
    ),
    recommendation: ui(
      z
        .enum(['clinical-assessment', 'gp-visit', 'none'], 'recommendation is clinical-assessment, gp-visit or none (§11 stk. 2)')
        .optional(),
      {
        label: 'Anbefaling',
        help: 'Udtalelsen kan anbefale en vurdering i den kliniske funktion eller et besøg hos egen læge (§ 11, stk. 2).',
        options: {
          'clinical-assessment': 'Vurdering i den kliniske funktion',
          'gp-visit': 'Besøg hos egen læge',
          none: 'Ingen anbefaling',
        },
      },
    ),
    ...contacts,
  }),
  recommendation: z.strictObject({
    reasons: field(
      text('reasons (§6 stk. 2: a recommendation is reasoned)'),
      'Begrundelse',
      'En anbefaling skal være begrundet (§ 6, stk. 2).',
    ),
    proposals: ui(
      z
        .array(text('each proposal'), { error: requiredOr('proposals') })
        .min(1, 'proposals must list at least one concrete proposal (§6 stk. 2)'),
      { label: 'Konkrete forslag', help: 'Mindst ét konkret forslag (§ 6, stk. 2).', input: 'lines' },
    ),
    ...contacts,
  }),
  'pre-meeting-advice': z.strictObject({
    advice: field(
      text('advice (§6)'),
      'Rådgivning før mødet',
      'Rådgivningen til rehabiliteringsteamets møde, når kommunen har bedt om den (§ 6, stk. 1).',
    ),
    ...contacts,
  }),
  'gp-notice': z.strictObject({
    background: field(
      text('background (§9: the GP is informed of the background)'),
      'Baggrund',
      'Egen læge orienteres om baggrunden, når kommunen følger en anbefaling om, at borgeren går til egen læge (§ 9).',
    ),
  }),
} as const;

/** The kinds' Danish names, for the staff pages. */
export const RESPONSE_KIND_LABELS: Record<ResponseKind, string> = {
  statement: 'Udtalelse',
  'specialist-attest': 'Speciallægeattest',
  'pre-meeting-advice': 'Rådgivning før mødet',
  recommendation: 'Anbefaling',
  'gp-notice': 'Orientering til egen læge',
};

const kindDa = (k: ResponseKind) => RESPONSE_KIND_LABELS[k].toLowerCase();

/** The kinds a case of `service` returns (a supplementary service: as its agreement defines them, §16 stk. 3–4). */
export function kindsFor(service: string, supplementaryKinds?: readonly string[]): readonly ResponseKind[] {
  return (
    KINDS_BY_SERVICE[service] ??
    (supplementaryKinds ?? []).filter((k): k is ResponseKind => (RESPONSE_KINDS as readonly string[]).includes(k))
  );
}

/**
 * The content schema `checkResponse` checks a response of `kind` in a case of `service` with: an
 * early-pension statement is §10's, a senior-pension attest §27's. The staff pages render their forms from it.
 */
export function contentSchemaFor(kind: ResponseKind, service: string): z.ZodObject {
  if (kind === 'statement' && service === 'early-pension-statement') return schemas['statement-§10'];
  if (kind === 'specialist-attest' && service === 'senior-pension-assessment') return schemas['specialist-attest-§27'];
  return schemas[kind];
}

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
  /** §14 stk. 4: the procedure the case's agreement sets instead of stk. 2–3 (then the attest need not price the further assessment) */
  attestProcedure?: string | undefined;
}

/** The field errors of a response (empty = acceptable), with `kind` and `content.` paths. */
export function checkResponse(kind: unknown, content: unknown, ctx: ContentContext): FieldError[] {
  if (typeof kind !== 'string' || !(RESPONSE_KINDS as readonly string[]).includes(kind)) {
    return [{ path: 'kind', message: `kind is one of ${RESPONSE_KINDS.join(', ')}`, da: 'Vælg en af svartyperne' }];
  }
  const allowed = kindsFor(ctx.service, ctx.supplementaryKinds);
  if (!allowed.includes(kind as ResponseKind)) {
    return [
      {
        path: 'kind',
        message: `a ${ctx.service} case returns ${allowed.join(' or ') || 'nothing'}, not ${kind}`,
        da: allowed.length
          ? `Denne sag besvares med ${allowed.map(kindDa).join(' eller ')}, ikke ${kindDa(kind as ResponseKind)}`
          : 'Denne sag har ingen svartyper',
      },
    ];
  }
  if (kind === 'pre-meeting-advice' && !ctx.preMeetingAdviceRequested) {
    return [
      {
        path: 'kind',
        message:
          'advice before the meeting is given when the municipality asks for it (§6 stk. 1); this case does not (preMeetingAdviceRequested)',
        da: 'Rådgivning før mødet gives, når kommunen beder om den (§ 6, stk. 1), og det har kommunen ikke gjort i denne sag',
      },
    ];
  }
  const schema = contentSchemaFor(kind as ResponseKind, ctx.service);
  const errors: FieldError[] = checkWith(schema, content ?? undefined, 'content');
  if (content === null || typeof content !== 'object')
    return errors.length ? errors : [{ path: 'content', message: 'content must be an object', da: 'Svarets indhold mangler' }];
  const c = content as Record<string, unknown>;
  // §14 stk. 2: an attest that asks for further assessment gives its price and time frame, unless the municipality
  // and the region have agreed another procedure (§14 stk. 4), which then says how the further assessment is ordered.
  const further = c.furtherAssessment as { needed?: unknown; priceDkk?: unknown; timeframe?: unknown } | undefined;
  if (kind === 'specialist-attest' && further?.needed === true && ctx.attestProcedure === undefined) {
    for (const k of ['priceDkk', 'timeframe'] as const) {
      if (further[k] === undefined) {
        errors.push({
          path: `content.furtherAssessment.${k}`,
          message: `${k} is required when further assessment is needed (§14 stk. 2; the agreement sets no other procedure, §14 stk. 4)`,
          da: FURTHER_DA,
        });
      }
    }
  }
  if (
    schema === schemas['specialist-attest'] &&
    ctx.earlierAssessments &&
    (typeof c.overallAssessment !== 'string' || c.overallAssessment.trim() === '')
  ) {
    errors.push({
      path: 'content.overallAssessment',
      message: 'required: the citizen has been assessed by this region before, so an overall assessment is due (§14 stk. 3–4)',
      da: 'Skal udfyldes: borgeren er vurderet af regionen før, så attesten skal have en samlet vurdering (§ 14, stk. 3–4)',
    });
  }
  // A discussion date says a discussion took place, with or without the flag: it is held to the consent as well.
  if (c.gpDiscussion === true || (typeof c.gpDiscussionDate === 'string' && c.gpDiscussion !== false)) {
    const on = typeof c.gpDiscussionDate === 'string' ? c.gpDiscussionDate : undefined;
    if (on === undefined) {
      errors.push({
        path: 'content.gpDiscussionDate',
        message: 'required with gpDiscussion: the date of the discussion with the GP',
        da: 'Skal udfyldes, når sagen er drøftet med egen læge (§ 5, stk. 2, § 11, stk. 5)',
      });
    } else if (!errors.some((e) => e.path === 'content.gpDiscussionDate') && !ctx.gpDiscussionConsents.some((d) => d <= on)) {
      errors.push({
        path: 'content.gpDiscussion',
        message:
          `a discussion with the GP needs the citizen's written consent recorded on the case on or before ${on} ` +
          '(§5 stk. 2, §11 stk. 5): POST /v1/cases/{caseId}/consents, kind gp-discussion',
        da:
          `En drøftelse med egen læge kræver borgerens skriftlige samtykke, registreret på sagen senest ${on} ` +
          '(§ 5, stk. 2, § 11, stk. 5). Registrér samtykket først.',
      });
    }
  }
  if (typeof c.citizenContactDate === 'string' && !ctx.citizenContactAgreements.some((d) => d <= (c.citizenContactDate as string))) {
    errors.push({
      path: 'content.citizenContactDate',
      message:
        `contact with the citizen needs the municipality's prior agreement recorded on the case on or before ${c.citizenContactDate} ` +
        '(§5 stk. 2, §10 stk. 3, §11 stk. 5): kind municipality-agreement-citizen-contact',
      da:
        `Kontakt med borgeren kræver kommunens forudgående aftale, registreret på sagen senest ${c.citizenContactDate} ` +
        '(§ 5, stk. 2, § 10, stk. 3, § 11, stk. 5). Registrér aftalen først.',
    });
  }
  return errors;
}
