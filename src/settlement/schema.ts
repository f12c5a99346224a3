/** The settlement and agreement endpoints' schemas: one source for validation and OpenAPI. */
import { z } from 'zod';

const month = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be a month written YYYY-MM, e.g. 2027-01');
const payerId = z.string().min(1).max(64).describe("the paying party's id (municipality or senior-pension unit)");
const format = z.enum(['json', 'csv']).optional().describe('csv: the same data as text/csv (also chosen by Accept: text/csv)');

export const settlementQuerySchema = z.strictObject({
  month,
  payer: payerId.optional(),
  format,
});

export const priceCapQuerySchema = z.strictObject({
  year: z
    .string()
    .regex(/^\d{4}$/, 'must be a year written YYYY')
    .transform(Number)
    .refine((y) => y >= 2011 && y <= 2100, 'must be a year from 2011 to 2100'),
  payer: payerId.optional(),
});

export const closeParams = { month: 'the month to close, YYYY-MM (it must have ended, and the months before it be closed)' };

export const statementLineSchema = z.object({
  kind: z
    .enum(['coordinator-function', 'attest', 'further-assessment', 'statement', 'advice', 'adjustment'])
    .describe(
      'coordinator-function: the month’s share of the annual price (§17, §19 stk. 2); attest: the first attest of a case (§18); ' +
        'further-assessment: the further assessment priced in an attest, when the overall assessment is delivered (§14 stk. 2); ' +
        'statement / advice: a delivered statement or advice at the agreement’s price; adjustment: a correction of a closed month',
    ),
  key: z.string().describe('what the line is for; an adjustment names the key of the closed line it corrects'),
  caseId: z.string().optional(),
  responseId: z.string().optional(),
  service: z.string().optional(),
  agreementId: z.string().optional(),
  deliveredAt: z.string().optional().describe('when the statement or attest was sent (UTC)'),
  amountOre: z.number().int().nullable().describe('øre; null when no price is agreed (the basis says why), never a silent zero'),
  basis: z.string().describe('how the amount was computed, with its §'),
  adjusts: z.object({ month: z.string(), key: z.string(), billedOre: z.number().int(), dueOre: z.number().int().nullable() }).optional(),
});

export const statementSchema = z.object({
  month: z.string(),
  payer: z.string(),
  payerName: z.string().optional(),
  lines: z.array(statementLineSchema),
  totalOre: z.number().int().describe('the sum of the priced lines, in øre'),
  unpricedLines: z.number().int().describe('lines with amountOre null'),
  invoiceDate: z.string().describe('the invoice is sent on this date (the agreement’s invoiceDayOfMonth of the following month)'),
  dueDate: z.string().describe('§19 stk. 3: invoiceDate + paymentDaysAfterInvoice (default 14 days)'),
  closed: z.boolean(),
  closedAt: z.string().optional(),
  sha256: z.string().optional().describe('a closed statement: SHA-256 of its canonical JSON without this field, as in the audit chain'),
});

export const statementListSchema = z.object({
  month: z.string(),
  closed: z.boolean(),
  statements: z.array(statementSchema),
});

export const priceCapSchema = z.object({
  year: z.number().int(),
  rows: z.array(
    z.object({
      payer: z.string(),
      year: z.number().int(),
      assessedCases: z.number().int(),
      totalOre: z.number().int(),
      unpricedLines: z.number().int(),
      averageOre: z.number().int().nullable(),
      capOre: z.number().int().nullable(),
      exceeded: z.boolean().nullable(),
      basis: z.string(),
    }),
  ),
});

export const agreementViewSchema = z
  .object({
    id: z.string(),
    municipalityCode: z.string().optional(),
    partyId: z.string().optional(),
    validFrom: z.string(),
    validTo: z.string().nullable(),
    expectedYearlyTotal: z.number().int().nullable(),
    coordinatorFunctionAnnual: z
      .object({ ore: z.number().int(), basis: z.string() })
      .nullable()
      .describe("the coordinator function's annual price with the prices in force today (priceRegulations applied, §17 stk. 3)"),
    termination: z.object({
      noticeMonths: z.number().int(),
      noticeSource: z.enum(['agreement', '§25 stk. 2']),
      noticeGivenOn: z.string(),
      earliestEndDate: z.string().describe('§25 stk. 2: notice given today ends the agreement on this date at the earliest (or validTo)'),
    }),
  })
  .catchall(z.unknown())
  .describe('The agreement as in the agreements file (§16 stk. 2 nr. 1–6), with derived totals');

export const agreementListSchema = z.object({ items: z.array(agreementViewSchema) });
