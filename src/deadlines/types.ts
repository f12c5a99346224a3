/**
 * Types of the deadline engine (RULES.md "Services", "Counting days"; API.md
 * "Agreements file" and the receipt's `clock` object).
 *
 * Dates are plain `YYYY-MM-DD` strings meaning a local date in
 * Europe/Copenhagen; instants are ISO 8601 strings in UTC with milliseconds.
 */

export const SERVICES = [
  'rehab-team-advice',
  'ongoing-case-advice',
  'early-pension-statement',
  'clinical-assessment',
  'resource-course-conversation',
  'senior-pension-advice',
  'senior-pension-assessment',
] as const;

export type Service = (typeof SERVICES)[number];

/** Ids of supplementary services (§16 stk. 3–4); the statutory names fit it too. */
export const SUPPLEMENTARY_SERVICE_RE = /^[a-z][a-z0-9-]{2,59}$/;

export function isService(x: unknown): x is Service {
  return typeof x === 'string' && (SERVICES as readonly string[]).includes(x);
}

/** §16 stk. 3–4: a supplementary service an agreement defines; it never gets a statutory default deadline. */
export interface SupplementaryService {
  /** the `service` packages name, e.g. "kontanthjaelp-advice"; never a statutory service's name */
  id: string;
  name: string;
  /** the response kinds it returns (statement, recommendation, pre-meeting-advice, gp-notice) */
  responseKinds: string[];
  /** days from the complete case to the deadline; absent = no-deadline-agreed */
  deadlineDays?: number;
  /** DKK per case */
  priceDkk?: number;
}

/** A cooperation agreement (§16, §20, §25, §29; S§4), as loaded from the agreements file. */
export interface Agreement {
  id: string;
  /** Exactly one of municipalityCode / partyId is set. */
  municipalityCode?: string;
  partyId?: string;
  /** First local date the agreement applies to (inclusive), YYYY-MM-DD. */
  validFrom: string;
  /** Last local date the agreement applies to (inclusive), or null = open-ended. */
  validTo: string | null;
  /** Days per service, and `urgent`: the §21 stk. 3 target. */
  deadlines: Partial<Record<Service | 'urgent' | 'overall-assessment', number>>;
  /** Weekend/holiday roll-forward (default true). */
  rollForward: boolean;
  /** §25 stk. 3: staff the municipality has asked not to work its cases (default []). */
  excludedStaff: string[];
  /** §29 stk. 3 (Seniorpensionsenheden's agreement): this region gives the §26 advice for citizens of every region. */
  nationwideAdvice?: boolean;
  /** §16 stk. 3–4: supplementary services the agreement defines (default []). */
  services?: SupplementaryService[];
  /** §16 stk. 2 nr. 1: the expected yearly number of cases, in total or per service (the total is their sum). */
  expectedYearlyCases?: number | Partial<Record<string, number>>;
  /** §16 stk. 2 nr. 2: the coordinators' professional background. */
  coordinatorBackground?: string;
  /** §16 stk. 2 nr. 3: meeting times in the rehabilitation team, advice in ongoing cases, meeting days. */
  meetingTerms?: string;
  /**
   * §14 stk. 4: the procedure the municipality and the region agreed instead of §14 stk. 2–3 (how further assessments
   * are ordered and priced), in words. With it an attest asking for further assessment need not give its price and time
   * frame; the overall assessment when the citizen has been assessed before (§14 stk. 4, last sentence) stays required.
   */
  attestProcedure?: string;
  /** §16 stk. 2 nr. 4, §17–18: prices, from validFrom until the first regulation. */
  prices?: AgreementPrices;
  /**
   * §17 stk. 3: the prices as regulated (yearly, or as agreed), each in force from its date (the first of a month, in
   * date order) until the next; each replaces every price. A settled month keeps the prices of its own dates.
   */
  priceRegulations?: { from: string; prices: AgreementPrices }[];
  /** §16 stk. 2 nr. 4, §19: settlement terms; absent = §19's defaults (see settlementTermsOf). */
  settlement?: Partial<SettlementTerms>;
  /** §25 stk. 1–2: months of notice; absent = 9 (§25 stk. 2). */
  noticeMonths?: number;
  /** §16 stk. 2 nr. 6: when and how the agreement is renegotiated. */
  renegotiation?: string;
}

/** §25 stk. 2: unless agreed otherwise, an agreement can be terminated with 9 months' notice. */
export const DEFAULT_NOTICE_MONTHS = 9;
/** §19 stk. 3: unless agreed otherwise, paid no later than 14 days after the invoice is received. */
export const DEFAULT_PAYMENT_DAYS = 14;

/** The agreement's settlement terms with §19's defaults filled in. */
export function settlementTermsOf(a: Pick<Agreement, 'settlement'> | null): SettlementTerms {
  return {
    paymentDaysAfterInvoice: a?.settlement?.paymentDaysAfterInvoice ?? DEFAULT_PAYMENT_DAYS,
    invoiceDayOfMonth: a?.settlement?.invoiceDayOfMonth ?? 1,
  };
}

/** The expected yearly number of cases in total (§16 stk. 2 nr. 1), or null when the agreement sets none. */
export function expectedYearlyTotal(a: Pick<Agreement, 'expectedYearlyCases'>): number | null {
  const e = a.expectedYearlyCases;
  if (e === undefined) return null;
  if (typeof e === 'number') return e;
  return Object.values(e).reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

/** §17 stk. 1–3, Bilag 1: the coordinator function's price, agreed per year or from the default inputs. */
export type CoordinatorFunctionPrice =
  /** an agreed annual price (§17 stk. 1) */
  | { annualPriceDkk: number }
  /** Bilag 1: the average annual price per full-time equivalent with overhead */
  | { fteAnnualPriceDkk: number }
  /** Bilag 1 / §17 stk. 3: several professions share the function; the FTE price is weighted by their shares (percent, summing to 100) */
  | { professionMix: { profession: string; sharePct: number; fteAnnualPriceDkk: number }[] };

/** §16 stk. 2 nr. 4: prices in DKK. */
export interface AgreementPrices {
  coordinatorFunction?: CoordinatorFunctionPrice;
  /** DKK per delivered service, by service id (statutory or supplementary) */
  services?: Partial<Record<string, number>>;
}

/** §16 stk. 2 nr. 4, §19: settlement terms. */
export interface SettlementTerms {
  /** §19 stk. 3: the due date is this many days after the invoice is received (default 14) */
  paymentDaysAfterInvoice: number;
  /** the statement of a month is invoiced on this day of the following month (default 1) */
  invoiceDayOfMonth: number;
}

export interface Extension {
  reason: string;
  agreedWith: string;
}

export interface Deadline {
  /** What must be delivered: coordinator-available | urgent-target | statement | attest | advice. */
  kind: string;
  /** The rule that sets it, e.g. "§21 stk. 1", "§23", "S§4". */
  rule: string;
  /** Local due date (Europe/Copenhagen), YYYY-MM-DD. */
  dueDate: string;
  /** 23:59:59.999 local time on dueDate, as a UTC ISO instant. */
  dueAt: string;
  /** "default" or "agreement:<id>". */
  source: string;
  /** Present when an extension was agreed: the due date before the extension. */
  originalDueDate?: string;
  /** Present when an extension was agreed (§22 / §23 2. pkt.). */
  extension?: Extension;
}

export type ClockStatus = 'running' | 'awaiting-complete-case' | 'no-deadline-agreed' | 'stopped';

export interface Clock {
  status: ClockStatus;
  /** UTC ISO instant the case became complete, or null while awaiting it. */
  startedAt: string | null;
  /** The first entry is the main deadline (the one `outcome` is measured against). */
  deadlines: Deadline[];
  /** Only when status = "stopped". */
  stoppedAt?: string;
  outcome?: 'met' | 'missed';
  /** Calendar days from the local due date to the local stop date (§21: to the meeting's date); 0 when met. */
  daysLate?: number;
  /** §21 stk. 1: the date of the rehabilitation-team meeting the coordinator is booked for (the last booking counts). */
  meetingDate?: string;
  /**
   * §14 stk. 2: the attest asked for further assessment; this clock now runs for the overall
   * assessment (or shows no-deadline-agreed), and `attest` keeps how the attest's own deadline went.
   */
  attest?: { stoppedAt: string; outcome?: 'met' | 'missed'; daysLate?: number };
}

export type ClockEvent =
  | { event: 'consultation-booked'; at: string; date: string }
  | {
      event: 'extension-agreed';
      at: string;
      kind: string;
      dueDate: string;
      reason: string;
      agreedWith: string;
      actor?: string;
    }
  | { event: 'clock-stopped'; at: string; kind?: string }
  | { event: 'meeting-booked'; at: string; date: string }
  | { event: 'further-assessment-requested'; at: string };

export interface ClockInput {
  /** a statutory service, or a supplementary one the agreement defines (§16 stk. 3–4) */
  service: Service | string;
  urgent: boolean;
  /** ISO instant of the case's first receipt. Informational: selects nothing. */
  receivedAt: string;
  /** ISO instant the case became complete (clock start); null = awaiting a complete case. */
  startedAt: string | null;
  /** The agreement in force for the case (see agreementInForce), or null. */
  agreement: Agreement | null;
  events?: ClockEvent[];
}

export interface ClockResult {
  clock: Clock;
  warnings: string[];
}

export interface AgreementSelector {
  /** The municipality the package is from (or, for the senior-pension unit, concerns). */
  municipalityCode?: string | null;
  /** The sending party's id, e.g. "spe" for Seniorpensionsenheden. */
  partyId?: string | null;
}

/** How features look agreements up (the gateway's is the agreements file, reloaded on SIGHUP). */
export interface AgreementLookup {
  /** the agreement in force for a sender on a local date */
  inForce(selector: AgreementSelector, date: string): Agreement | null;
  /** the agreement with this id, or null (no id, or no longer in the file: statutory defaults apply) */
  byId(id: string | null): Agreement | null;
}
