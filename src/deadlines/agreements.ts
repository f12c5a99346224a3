/**
 * Cooperation agreements (§16, §20, §25, §29; S§4): the agreements file
 * (API.md "Agreements file"), its validation, and which agreement governs a
 * package.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isDateString } from '../shared/identifiers.js';
import { SERVICES, SUPPLEMENTARY_SERVICE_RE, type Agreement, type AgreementLookup, type AgreementSelector } from './types.js';

/** Days per service; `urgent` is the §21 stk. 3 target; `overall-assessment` the §14 stk. 2 overall assessment after further assessment. */
export const DEADLINE_KEYS = [...SERVICES, 'urgent', 'overall-assessment'] as const;
export const MAX_DEADLINE_DAYS = 365;

const dateField = () =>
  z.string({ error: 'must be a date written YYYY-MM-DD, in quotes' }).refine(isDateString, {
    error: 'must be a real date written YYYY-MM-DD',
  });

const days = z
  .number({ error: `must be a whole number of days from 1 to ${MAX_DEADLINE_DAYS}` })
  .int({ error: `must be a whole number of days from 1 to ${MAX_DEADLINE_DAYS}` })
  .min(1, { error: `must be a whole number of days from 1 to ${MAX_DEADLINE_DAYS}` })
  .max(MAX_DEADLINE_DAYS, { error: `must be a whole number of days from 1 to ${MAX_DEADLINE_DAYS}` });

const deadlinesShape = Object.fromEntries(DEADLINE_KEYS.map((k) => [k, days.optional()])) as Record<
  (typeof DEADLINE_KEYS)[number],
  z.ZodOptional<typeof days>
>;

const nonEmpty = () => z.string({ error: 'must be a text in quotes' }).trim().min(1, { error: 'must not be empty' });

const VALID_TO_MESSAGE = 'must be a real date written YYYY-MM-DD, or null for an open-ended agreement';

/**
 * What a supplementary service may return (coordinator kinds; attests are the statutory §13–§14, §27 services, and
 * advice before the rehabilitation-team meeting is §6's). Its `statement` is the answer that delivers it: the one
 * that stops its clock, closes its case and is priced; a recommendation or a GP notice may go with it.
 */
const SUPPLEMENTARY_RESPONSE_KINDS = ['statement', 'recommendation', 'gp-notice'] as const;

/** An amount of DKK: 0 or more, at most two decimals (øre). */
const dkk = z
  .number({ error: 'must be an amount of DKK, e.g. 13750 or 13750.50' })
  .nonnegative({ error: 'must be 0 or more' })
  .max(1e9, { error: 'must be at most 1 000 000 000 DKK' })
  .refine((n) => Number.isInteger(Math.round(n * 100)) && Math.abs(Math.round(n * 100) - n * 100) < 1e-6, {
    error: 'must have at most two decimals (øre)',
  });

const positiveCount = z
  .number({ error: 'must be a whole number of cases' })
  .int({ error: 'must be a whole number of cases' })
  .nonnegative({ error: 'must be 0 or more' })
  .max(1_000_000, { error: 'must be at most 1 000 000' });

const serviceKey = z.string().regex(SUPPLEMENTARY_SERVICE_RE, { error: 'must be a service id, e.g. "clinical-assessment"' });

const MIX_MESSAGE = "the professions' sharePct must add up to 100";

/** §17 stk. 1–3, Bilag 1: exactly one of the three forms. */
const coordinatorFunctionSchema = z.union(
  [
    z.strictObject({ annualPriceDkk: dkk }),
    z.strictObject({ fteAnnualPriceDkk: dkk }),
    z.strictObject({
      professionMix: z
        .array(
          z.strictObject({
            profession: nonEmpty(),
            sharePct: z.number({ error: 'must be a percentage' }).positive({ error: 'must be more than 0' }).max(100),
            fteAnnualPriceDkk: dkk,
          }),
        )
        .min(1, { error: 'must list at least one profession' })
        .refine((mix) => Math.abs(mix.reduce((s, m) => s + m.sharePct, 0) - 100) < 1e-9, { error: MIX_MESSAGE }),
    }),
  ],
  {
    error:
      'must be one of { "annualPriceDkk": N } (an agreed annual price, §17 stk. 1), { "fteAnnualPriceDkk": N } (Bilag 1) ' +
      'or { "professionMix": [{ "profession", "sharePct", "fteAnnualPriceDkk" }] } (§17 stk. 3)',
  },
);

/** §16 stk. 2 nr. 4: the prices, as the agreement sets them from validFrom or a regulation sets them from its date. */
const pricesSchema = z.strictObject({
  coordinatorFunction: coordinatorFunctionSchema.optional(),
  services: z.record(serviceKey, dkk, { error: 'must be an object of service id to DKK per case' }).optional(),
});

export const agreementSchema = z.strictObject({
  id: nonEmpty(),
  municipalityCode: z
    .string({ error: 'must be a 3-digit municipality code in quotes, e.g. "101"' })
    .regex(/^\d{3}$/, { error: 'must be a 3-digit municipality code in quotes, e.g. "101"' })
    .optional(),
  partyId: nonEmpty().optional(),
  validFrom: dateField(),
  validTo: z
    .union([z.string(), z.null()], { error: VALID_TO_MESSAGE })
    .refine((v) => v === null || isDateString(v), { error: VALID_TO_MESSAGE }),
  deadlines: z
    .strictObject(deadlinesShape, { error: 'must be an object of service name to days, e.g. { "ongoing-case-advice": 10 }' })
    .optional(),
  rollForward: z.boolean({ error: 'must be true or false' }).optional(),
  excludedStaff: z.array(nonEmpty(), { error: 'must be a list of staff ids, e.g. ["coord-x"]' }).optional(),
  nationwideAdvice: z.boolean({ error: 'must be true or false' }).optional(),
  services: z
    .array(
      z.strictObject({
        id: z
          .string()
          .regex(SUPPLEMENTARY_SERVICE_RE, { error: 'must be 3–60 lower-case letters, digits or "-", starting with a letter' })
          .refine((id) => !(SERVICES as readonly string[]).includes(id), {
            error: 'is a statutory service; a supplementary one needs its own id',
          }),
        name: nonEmpty(),
        responseKinds: z
          .array(z.enum(SUPPLEMENTARY_RESPONSE_KINDS, { error: `must be one of ${SUPPLEMENTARY_RESPONSE_KINDS.join(', ')}` }))
          .min(1, { error: 'must list at least one response kind' })
          .refine((kinds) => kinds.includes('statement'), {
            error:
              'must include "statement": the written answer that delivers the service, stops its clock, closes the case and is ' +
              'priced (a recommendation or a GP notice may go with it)',
          }),
        deadlineDays: days.optional(),
        priceDkk: dkk.optional(),
      }),
      { error: 'must be a list of services' },
    )
    .optional(),
  expectedYearlyCases: z
    .union([positiveCount, z.record(serviceKey, positiveCount)], {
      error: 'must be a whole number of cases, or an object of service id to cases, e.g. { "rehab-team-advice": 600 }',
    })
    .optional(),
  coordinatorBackground: nonEmpty().optional(),
  attestProcedure: nonEmpty().optional(),
  meetingTerms: nonEmpty().optional(),
  prices: pricesSchema.optional(),
  priceRegulations: z
    .array(z.strictObject({ from: dateField(), prices: pricesSchema }), {
      error: 'must be a list of { "from": "YYYY-MM-01", "prices": { … } }',
    })
    .optional(),
  settlement: z
    .strictObject({
      paymentDaysAfterInvoice: days.optional(),
      invoiceDayOfMonth: z
        .number({ error: 'must be a day of the month from 1 to 28' })
        .int({ error: 'must be a day of the month from 1 to 28' })
        .min(1, { error: 'must be a day of the month from 1 to 28' })
        .max(28, { error: 'must be a day of the month from 1 to 28' })
        .optional(),
    })
    .optional(),
  noticeMonths: z
    .number({ error: 'must be a whole number of months from 0 to 60' })
    .int({ error: 'must be a whole number of months from 0 to 60' })
    .min(0, { error: 'must be a whole number of months from 0 to 60' })
    .max(60, { error: 'must be a whole number of months from 0 to 60' })
    .optional(),
  renegotiation: nonEmpty().optional(),
});

export const agreementsFileSchema = z.strictObject({
  agreements: z.array(agreementSchema, { error: 'must be a list of agreements' }),
});

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function whichAgreement(root: unknown, index: number): string {
  const id = valueAt(root, ['agreements', index, 'id']);
  return typeof id === 'string' && id.trim() ? `agreement "${id}" (agreements[${index}])` : `agreements[${index}]`;
}

function formatIssue(root: unknown, issue: z.core.$ZodIssue): string {
  const path = issue.path;
  let where: string;
  let field: string;
  if (path[0] === 'agreements' && typeof path[1] === 'number') {
    where = whichAgreement(root, path[1]);
    field = path.slice(2).map(String).join('.');
  } else {
    where = 'agreements file';
    field = path.map(String).join('.');
  }
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k}"`).join(', ');
    if (field === 'deadlines') {
      return `${where}, field deadlines: unknown service ${keys}; allowed keys are ${DEADLINE_KEYS.join(', ')}`;
    }
    const allowed = field === '' && where === 'agreements file' ? 'agreements' : Object.keys(agreementSchema.shape).join(', ');
    return `${where}${field ? `, field ${field}` : ''}: unknown field ${keys}; allowed fields are ${allowed}`;
  }
  const value = valueAt(root, path);
  const prefix = `${where}${field ? `, field ${field}` : ''}`;
  if (value === undefined) return `${prefix}: missing (it ${issue.message})`;
  return `${prefix}: ${issue.message} (got ${describeValue(value)})`;
}

export class AgreementsError extends Error {
  readonly problems: string[];
  constructor(problems: string[], prefix = 'agreements file is invalid') {
    super(`${prefix}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'AgreementsError';
    this.problems = problems;
  }
}

function periodText(a: Agreement): string {
  return `${a.validFrom} to ${a.validTo ?? 'open-ended'}`;
}

function overlaps(a: Agreement, b: Agreement): boolean {
  const aEnd = a.validTo ?? '9999-12-31';
  const bEnd = b.validTo ?? '9999-12-31';
  return a.validFrom <= bEnd && b.validFrom <= aEnd;
}

/**
 * Validate the parsed JSON of an agreements file and return the agreements
 * with defaults filled in (rollForward true, excludedStaff [], deadlines {}).
 * Throws an AgreementsError listing every problem, each naming the agreement
 * (id and index) and the field.
 */
export function parseAgreements(json: unknown): Agreement[] {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new AgreementsError([`the file must be a JSON object { "agreements": [ ... ] } (got ${describeValue(json)})`]);
  }
  const parsed = agreementsFileSchema.safeParse(json);
  if (!parsed.success) throw new AgreementsError(parsed.error.issues.map((i) => formatIssue(json, i)));

  const problems: string[] = [];
  const agreements: Agreement[] = parsed.data.agreements.map((raw, i) => {
    const where = whichAgreement(json, i);
    const hasM = raw.municipalityCode !== undefined;
    const hasP = raw.partyId !== undefined;
    if (hasM === hasP) {
      problems.push(
        `${where}: give exactly one of municipalityCode (a municipality's agreement) ` +
          `or partyId (e.g. "spe" for Seniorpensionsenheden)${hasM ? ', not both' : ''}`,
      );
    }
    if (raw.nationwideAdvice !== undefined && !hasP) {
      problems.push(
        `${where}, field nationwideAdvice: only Seniorpensionsenheden's agreement (partyId) can let this region give the §26 advice ` +
          'for all regions (§29 stk. 3)',
      );
    }
    if (raw.attestProcedure !== undefined && !hasM) {
      problems.push(
        `${where}, field attestProcedure: only a municipality's agreement (municipalityCode) can set another procedure for the ` +
          '§13 specialist attest (§14 stk. 4: "kommunen og regionen kan aftale")',
      );
    }
    if (raw.validTo !== null && raw.validTo < raw.validFrom) {
      problems.push(`${where}, field validTo: ${raw.validTo} is before validFrom ${raw.validFrom}`);
    }
    const deadlines: Agreement['deadlines'] = {};
    for (const k of DEADLINE_KEYS) {
      const v = raw.deadlines?.[k];
      if (v !== undefined) deadlines[k] = v;
    }
    const a: Agreement = {
      id: raw.id,
      ...(hasM ? { municipalityCode: raw.municipalityCode! } : {}),
      ...(hasP ? { partyId: raw.partyId! } : {}),
      validFrom: raw.validFrom,
      validTo: raw.validTo,
      deadlines,
      rollForward: raw.rollForward ?? true,
      excludedStaff: raw.excludedStaff ?? [],
      ...(raw.nationwideAdvice ? { nationwideAdvice: true } : {}),
      ...(raw.services?.length ? { services: raw.services } : {}),
      ...(raw.expectedYearlyCases !== undefined ? { expectedYearlyCases: raw.expectedYearlyCases } : {}),
      ...(raw.coordinatorBackground !== undefined ? { coordinatorBackground: raw.coordinatorBackground } : {}),
      ...(raw.attestProcedure !== undefined ? { attestProcedure: raw.attestProcedure } : {}),
      ...(raw.meetingTerms !== undefined ? { meetingTerms: raw.meetingTerms } : {}),
      ...(raw.prices !== undefined ? { prices: raw.prices } : {}),
      ...(raw.priceRegulations?.length ? { priceRegulations: raw.priceRegulations } : {}),
      ...(raw.settlement !== undefined ? { settlement: raw.settlement } : {}),
      ...(raw.noticeMonths !== undefined ? { noticeMonths: raw.noticeMonths } : {}),
      ...(raw.renegotiation !== undefined ? { renegotiation: raw.renegotiation } : {}),
    };
    const known = new Set<string>([...SERVICES, ...(raw.services ?? []).map((x) => x.id)]);
    const checkPrices = (prices: NonNullable<typeof raw.prices>, field: string) => {
      for (const k of Object.keys(prices.services ?? {})) {
        if (!known.has(k))
          problems.push(`${where}, field ${field}.services.${k}: not a statutory service nor one of the agreement's services`);
      }
      if (prices.coordinatorFunction && 'annualPriceDkk' in prices.coordinatorFunction === false && raw.expectedYearlyCases === undefined) {
        problems.push(
          `${where}, field expectedYearlyCases: missing (the Bilag 1 price of the coordinator function is computed from the expected yearly cases, §17 stk. 2)`,
        );
      }
    };
    if (raw.prices) {
      checkPrices(raw.prices, 'prices');
      for (const x of raw.services ?? []) {
        if (x.priceDkk !== undefined && raw.prices.services?.[x.id] !== undefined)
          problems.push(`${where}, field services (${x.id}): give its price once, in priceDkk or in prices.services, not both`);
      }
    }
    // §17 stk. 3: prices are regulated (yearly); a regulation sets every price from its date on, and the months
    // before keep theirs, so a settled month is never re-priced by the next year's prices.
    (raw.priceRegulations ?? []).forEach((r, i) => {
      const field = `priceRegulations[${i}]`;
      if (!r.from.endsWith('-01'))
        problems.push(`${where}, field ${field}.from: ${r.from} is not the first day of a month (settlement is monthly)`);
      if (r.from <= raw.validFrom)
        problems.push(`${where}, field ${field}.from: ${r.from} is not after validFrom ${raw.validFrom} (set those prices in prices)`);
      if (raw.validTo !== null && r.from > raw.validTo)
        problems.push(`${where}, field ${field}.from: ${r.from} is after validTo ${raw.validTo}`);
      const before = raw.priceRegulations![i - 1];
      if (before && r.from <= before.from)
        problems.push(`${where}, field ${field}.from: ${r.from} is not after ${before.from}: list regulations in date order, one per date`);
      checkPrices(r.prices, `${field}.prices`);
    });
    return a;
  });

  const seen = new Map<string, number>();
  agreements.forEach((a, i) => {
    const first = seen.get(a.id);
    if (first !== undefined) problems.push(`agreements[${first}] and agreements[${i}] both have id "${a.id}"; ids must be unique`);
    else seen.set(a.id, i);
  });

  for (let i = 0; i < agreements.length; i++) {
    for (let j = i + 1; j < agreements.length; j++) {
      const a = agreements[i]!;
      const b = agreements[j]!;
      let who: string | null = null;
      if (a.municipalityCode !== undefined && a.municipalityCode === b.municipalityCode) who = `municipality ${a.municipalityCode}`;
      else if (a.partyId !== undefined && a.partyId === b.partyId) who = `party "${a.partyId}"`;
      if (who && overlaps(a, b)) {
        problems.push(
          `agreements "${a.id}" (${periodText(a)}) and "${b.id}" (${periodText(b)}) overlap for ${who}; ` +
            'only one agreement may be in force on any date, so end one before the other starts',
        );
      }
    }
  }
  if (problems.length > 0) throw new AgreementsError(problems);
  return agreements;
}

/** Read and validate an agreements file. Throws an Error naming the file and every problem. */
export function loadAgreementsFile(path: string): Agreement[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read agreements file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`agreements file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseAgreements(json);
  } catch (err) {
    if (err instanceof AgreementsError) throw new AgreementsError(err.problems, `agreements file ${path} is invalid`);
    throw err;
  }
}

function inForce(a: Agreement, date: string): boolean {
  return a.validFrom <= date && (a.validTo === null || date <= a.validTo);
}

/**
 * The agreement that governs a package received on local date `date`
 * (inclusive validity), or null.
 *
 * A party that has agreements of its own in the file (the senior-pension unit,
 * §29) is governed only by those, even when its package names a municipality;
 * every other sender (a municipality) by the agreement for its
 * municipalityCode.
 */
export function agreementInForce(agreements: readonly Agreement[], selector: AgreementSelector, date: string): Agreement | null {
  if (!isDateString(date)) throw new RangeError(`agreementInForce: date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
  const { partyId, municipalityCode } = selector;
  if (partyId && agreements.some((a) => a.partyId === partyId)) {
    return agreements.find((a) => a.partyId === partyId && inForce(a, date)) ?? null;
  }
  if (municipalityCode) {
    return agreements.find((a) => a.municipalityCode === municipalityCode && inForce(a, date)) ?? null;
  }
  return null;
}

/** The subset of a pino logger the store uses. */
export interface AgreementStoreLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ReloadResult {
  ok: true;
  count: number;
}

export interface AgreementStore extends AgreementLookup {
  /** The agreements currently in force in the gateway (the last good file); a fresh array each call. */
  current(): Agreement[];
  /**
   * Re-read the file (e.g. on SIGHUP). A bad file is refused: the old set
   * stays in force, the problem is logged, and the Error (naming the file,
   * agreement and field) is thrown for the caller to report.
   */
  reload(): ReloadResult;
  /** Shortcut for agreementInForce(current(), selector, date). */
  inForce(selector: AgreementSelector, date: string): Agreement | null;
  /**
   * The agreement with this id, or null: for no id (the case has none), and
   * when the agreement that governed a case is no longer in the file. The
   * latter is logged once per id and process; callers apply the statutory
   * defaults and say so (the deadline service puts a warning on the clock).
   */
  byId(id: string | null): Agreement | null;
  readonly path: string;
}

/**
 * Load the agreements file and keep it in memory. Throws if the file is bad
 * at start-up (the gateway must not run without valid agreements).
 */
export function createAgreementStore(path: string, logger?: AgreementStoreLogger): AgreementStore {
  let agreements: readonly Agreement[] = Object.freeze(loadAgreementsFile(path).map((a) => Object.freeze(a)));
  logger?.info({ path, count: agreements.length }, 'agreements loaded');
  const missingLogged = new Set<string>();
  return {
    path,
    byId(id) {
      if (!id) return null;
      const a = agreements.find((x) => x.id === id);
      if (a) return a;
      if (!missingLogged.has(id)) {
        missingLogged.add(id);
        logger?.warn(
          { agreementId: id },
          'a case names an agreement that is no longer in the agreements file; statutory defaults apply to it',
        );
      }
      return null;
    },
    current: () => [...agreements],
    reload(): ReloadResult {
      try {
        const next = Object.freeze(loadAgreementsFile(path).map((a) => Object.freeze(a)));
        agreements = next;
        logger?.info({ path, count: next.length }, 'agreements reloaded');
        return { ok: true, count: next.length };
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        logger?.error({ path, err: error }, 'agreements file refused; the previous agreements stay in force');
        throw error;
      }
    },
    inForce: (selector, date) => agreementInForce(agreements, selector, date),
  };
}
