/**
 * Shapes of the statistics endpoints: waiting times (§21–§23, computed from the
 * case events) and the §17 stk. 4 volume monitoring. The query schema is the
 * one the route validates and OpenAPI describes.
 */
import { z } from 'zod';
import { isDateString } from '../shared/identifiers.js';

export const GROUP_BYS = ['municipality', 'service', 'month'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** Age of an open case in days since its receipt (local dates). */
export const AGE_BUCKETS = ['0-7', '8-14', '15-30', '31-60', '61+'] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number];

/** The key of the cases delivered without a deadline (none by statute or agreement). */
export const NO_DEADLINE = 'no-deadline-agreed';

/** The longest range one request may cover. */
export const MAX_RANGE_YEARS = 3;

const localDateParam = (what: string) =>
  z
    .string()
    .refine(isDateString, { message: 'must be a real date written YYYY-MM-DD', params: { da: 'Skriv en gyldig dato (ÅÅÅÅ-MM-DD)' } })
    .describe(what);

/** The first date that is no longer within MAX_RANGE_YEARS of `from` (a string key; 29 Feb compares correctly). */
function rangeEndExclusive(from: string): string {
  return `${String(Number(from.slice(0, 4)) + MAX_RANGE_YEARS).padStart(4, '0')}${from.slice(4)}`;
}

export const waitingTimesQuerySchema = z
  .strictObject({
    from: localDateParam('first local date (Europe/Copenhagen) of the period, inclusive'),
    to: localDateParam(`last local date (Europe/Copenhagen) of the period, inclusive; at most ${MAX_RANGE_YEARS} years after from`),
    groupBy: z
      .enum(GROUP_BYS)
      .optional()
      .describe('one row per municipality (cases.municipality_code), service or calendar month; absent = only the total'),
    format: z.enum(['json', 'csv']).optional().describe('csv: the same rows as text/csv (as does `Accept: text/csv`); default JSON'),
  })
  .superRefine((q, ctx) => {
    if (q.from > q.to) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `must not be before from (${q.from})`,
        params: { da: 'Slutdatoen må ikke ligge før startdatoen' },
      });
    } else if (q.to >= rangeEndExclusive(q.from)) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: `the period may cover at most ${MAX_RANGE_YEARS} years: to must be before ${rangeEndExclusive(q.from)}`,
        params: { da: `Perioden må højst være ${MAX_RANGE_YEARS} år` },
      });
    }
  });
export type WaitingTimesQuery = z.output<typeof waitingTimesQuerySchema>;

const count = z.number().int().nonnegative();

const ruleOutcomeSchema = z.object({
  delivered: count.describe('cases of this rule delivered in the period'),
  met: count,
  missed: count,
});

export const waitingTimeRowSchema = z.object({
  key: z.string().describe('municipality code, service, YYYY-MM, or "total"'),
  label: z.string().nullable().describe("the municipality's name when the parties file has it; else null"),
  from: z.string().describe("first local date the row counts (a month row: its month's, within the request's period)"),
  to: z.string().describe('last local date the row counts'),
  received: count.describe("cases whose first receipt's local date is in the row's period"),
  delivered: count.describe(
    "cases whose clock stopped in the row's period: the first clock-stopped event (the statement or attest was delivered); " +
      '§21 stk. 1: the date of the rehabilitation-team meeting (up to today; a later meeting leaves the case open); ' +
      '§14 stk. 2: the attest, not the later ' +
      'overall assessment; a case with no deadline: its first final response',
  ),
  byRule: z
    .record(z.string(), ruleOutcomeSchema)
    .describe(
      'the delivered cases by the § rule of the case\'s main deadline ("§21 stk. 1", "§22", "§23", "S§4", "§29", ' +
        '"§16 stk. 3"), met or missed as the deadline engine measures it from the stored events (extensions included); ' +
        `cases without a deadline under "${NO_DEADLINE}" (delivered only)`,
    ),
  medianDays: z
    .number()
    .int()
    .nullable()
    .describe(
      'days from the receipt (local date) to the delivery (local date) of the cases delivered in the period: the median as ' +
        'the nearest-rank 50th percentile (for an even count the lower middle value); null when none was delivered',
    ),
  p90Days: z.number().int().nullable().describe('the same days: nearest-rank 90th percentile; null when none was delivered'),
  open: z.object({
    asOf: z.string().describe("the local date at whose end the snapshot is taken: the row's last date, or today if that is later"),
    total: count,
    byAge: z
      .object(Object.fromEntries(AGE_BUCKETS.map((b) => [b, count])) as Record<AgeBucket, typeof count>)
      .describe('cases received on or before asOf and not delivered by its end, by days since their receipt'),
  }),
  extensions: count.describe("extension-agreed events (another deadline agreed, §22 / §23 2. pkt.) in the row's period"),
});
export type WaitingTimeRow = z.output<typeof waitingTimeRowSchema>;

export const waitingTimesSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(GROUP_BYS).nullable(),
    generatedAt: z.string(),
    /** a municipality or the senior-pension unit: only the cases it sent */
    senderPartyId: z.string().nullable().describe('set when the figures cover only the cases this party sent'),
    rows: z.array(waitingTimeRowSchema),
    total: waitingTimeRowSchema,
  })
  .describe('Waiting times recomputed from the cases and their stored events by the deadline engine');
export type WaitingTimesReport = z.output<typeof waitingTimesSchema>;

const volumeFigures = {
  expectedYearly: count.describe('§16 stk. 2 nr. 1: the expected number of cases a year'),
  expectedToDate: z.number().describe('expectedYearly × elapsedDays / daysInYear, one decimal'),
  actual: count.describe('cases received from countedFrom through today'),
  deviationPct: z
    .number()
    .nullable()
    .describe('(actual − expected to date) / expected to date × 100, one decimal; null when nothing is expected yet'),
  alert: z.boolean().describe('|deviationPct| is above VOLUME_DEVIATION_ALERT_PCT'),
};

export const volumeRowSchema = z.object({
  agreementId: z.string(),
  municipalityCode: z.string().nullable(),
  partyId: z.string().nullable(),
  yearStart: z.string().describe("first day of the agreement year containing today (years start on validFrom's month and day)"),
  yearEnd: z.string(),
  daysInYear: count,
  countedFrom: z
    .string()
    .describe(
      "first day counted: yearStart, or the day of the gateway's first receipt when that is later (its records begin there; " +
        'a gateway taken into use mid-year did not see the cases before)',
    ),
  elapsedDays: count.describe('countedFrom through today, inclusive'),
  ...volumeFigures,
  services: z
    .array(z.object({ service: z.string(), ...volumeFigures }))
    .optional()
    .describe("when the agreement sets the expected cases per service; the row's own figures then count the cases of those services only"),
});
export type VolumeRow = z.output<typeof volumeRowSchema>;

export const volumeReportSchema = z
  .object({
    asOf: z.string().describe('today (Europe/Copenhagen)'),
    rule: z.literal('§17 stk. 4'),
    alertThresholdPct: z.number(),
    items: z.array(volumeRowSchema),
  })
  .describe('§17 stk. 4: the cases received this agreement year against the expected number, per agreement in force today');
export type VolumeReport = z.output<typeof volumeReportSchema>;
