/**
 * Monthly settlement per payer (§17–19, §28, S§4, Bilag 1), the §18 stk. 2
 * price cap, and the agreements as the parties may read them (§16, §25).
 *
 * The payer is whoever requested the service: the case's sender, i.e. the
 * municipality, or Seniorpensionsenheden in its own senior-pension cases
 * (§28). A statement of a month holds the coordinator function's share of
 * that month (§19 stk. 2) and the services delivered in it; once the month is
 * closed its statements are frozen, and any later difference becomes an
 * adjustment line of the next open month.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import { appendAudit } from '../audit/audit.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { addDays, localDate, startOfLocalDay } from '../deadlines/calendar.js';
import { agreementInForce } from '../deadlines/agreements.js';
import { DEFAULT_NOTICE_MONTHS, settlementTermsOf, expectedYearlyTotal, type Agreement, type AgreementLookup } from '../deadlines/types.js';
import type { Party } from '../parties/parties.js';
import { hasRole } from '../parties/roles.js';
import { unprocessable, conflict, forbidden, notFound } from '../shared/problem.js';
import { createSettlementStore, type DeliveredRow } from './store.js';
import {
  CHAPTER_3_SERVICES,
  coordinatorAnnualPrice,
  coordinatorLine,
  pricesOn,
  dkkToOre,
  formatDkk,
  monthBounds,
  nextMonth,
  roundHalfUp,
  terminationDate,
} from './money.js';
import type { PriceIndex } from './price-index.js';

export type LineKind = 'coordinator-function' | 'attest' | 'further-assessment' | 'statement' | 'advice' | 'adjustment';

export interface StatementLine {
  kind: LineKind;
  /** identifies what the line is for across months: an adjustment names the key it corrects */
  key: string;
  caseId?: string;
  responseId?: string;
  service?: string;
  agreementId?: string;
  deliveredAt?: string;
  /** øre; null when no price is agreed (the basis says why) */
  amountOre: number | null;
  basis: string;
  /** an adjustment: the closed month and line it corrects, what was billed and what is due now */
  adjusts?: { month: string; key: string; billedOre: number; dueOre: number | null };
}

export interface Statement {
  month: string;
  payer: string;
  payerName?: string;
  lines: StatementLine[];
  /** the sum of the priced lines */
  totalOre: number;
  /** lines without an agreed price: the statement is not complete until they are priced */
  unpricedLines: number;
  invoiceDate: string;
  dueDate: string;
  closed: boolean;
  closedAt?: string;
  /** a closed statement: SHA-256 of its canonical JSON (without this field), as in the audit chain */
  sha256?: string;
}

export interface PriceCapRow {
  payer: string;
  year: number;
  /** cases with a priced attest delivered in the year */
  assessedCases: number;
  /** attests and priced further assessments (§14 stk. 2) delivered in the year, in øre */
  totalOre: number;
  unpricedLines: number;
  averageOre: number | null;
  /** §18 stk. 2: DKK 14 000 at 2011 level, indexed; null without an index for the year */
  capOre: number | null;
  exceeded: boolean | null;
  basis: string;
}

export interface AgreementView extends Agreement {
  /** §16 stk. 2 nr. 1: the total of expectedYearlyCases */
  expectedYearlyTotal: number | null;
  /** §17: the coordinator function's annual price in øre and how it is computed */
  coordinatorFunctionAnnual: { ore: number; basis: string } | null;
  /** §25 stk. 2: notice given today ends the agreement on this date at the earliest (or validTo, when that is earlier) */
  termination: { noticeMonths: number; noticeSource: 'agreement' | '§25 stk. 2'; noticeGivenOn: string; earliestEndDate: string };
}

export interface SettlementDeps {
  db: Db;
  agreements: AgreementLookup & { current(): Agreement[] };
  parties: { all(): readonly Party[] };
  priceIndex: () => PriceIndex;
  log: Logger;
  now?: () => Date;
}

/** §18 stk. 2: DKK 14 000 per case at 2011 level. */
export const PRICE_CAP_2011_ORE = 1_400_000;

const MONTH_RE = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function isMonth(s: string): boolean {
  return MONTH_RE.test(s);
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

const KIND_OF_RESPONSE: Record<string, LineKind> = { statement: 'statement', 'pre-meeting-advice': 'advice' };

/** The key of an agreement's coordinator-function line in a statement: this, then the agreement's id. */
const COORDINATOR_KEY = 'coordinator-function:';

export function createSettlementService(deps: SettlementDeps) {
  const store = createSettlementStore(deps.db.db);
  const now = deps.now ?? (() => new Date());

  function payerOfAgreement(a: Agreement): string {
    if (a.partyId) return a.partyId;
    const p = deps.parties.all().find((x) => x.kind === 'municipality' && x.municipalityCode === a.municipalityCode);
    return p?.id ?? `municipality-${a.municipalityCode}`;
  }

  function nameOf(payer: string): string | undefined {
    return deps.parties.all().find((p) => p.id === payer)?.name;
  }

  /** The price of `service` in the agreement on `date` (§17 stk. 3: as regulated then), in øre, or why there is none. */
  function priceOf(a: Agreement | null, agreementId: string | null, service: string, date: string): { ore: number | null; basis: string } {
    if (!a) {
      return agreementId
        ? { ore: null, basis: `agreement ${agreementId} is no longer in the agreements file: no agreed price (§16 stk. 2 nr. 4)` }
        : { ore: null, basis: 'no cooperation agreement governed the case: no agreed price (§16 stk. 2 nr. 4)' };
    }
    const prices = pricesOn(a, date);
    const regulated = a.priceRegulations?.filter((r) => r.from <= date).at(-1);
    const dkk = prices?.services?.[service] ?? a.services?.find((s) => s.id === service)?.priceDkk;
    if (dkk !== undefined) {
      const ore = dkkToOre(dkk);
      const since = regulated ? `, as regulated from ${regulated.from} (§17 stk. 3)` : '';
      return { ore, basis: `agreement ${a.id}: ${formatDkk(ore)} DKK per ${service} case (§16 stk. 2 nr. 4)${since}` };
    }
    if (CHAPTER_3_SERVICES.includes(service) && prices?.coordinatorFunction) {
      return { ore: 0, basis: `covered by the coordinator function's price in agreement ${a.id} (§17 stk. 2: chapter 3 work)` };
    }
    return { ore: null, basis: `agreement ${a.id} sets no price for ${service} (§16 stk. 2 nr. 4): to be priced` };
  }

  /** Every payer's lines of `month` as the records say now (no adjustments), in statement order. */
  async function baseLines(month: string): Promise<Map<string, StatementLine[]>> {
    const out = new Map<string, StatementLine[]>();
    const add = (payer: string, line: StatementLine) => {
      const list = out.get(payer) ?? [];
      list.push(line);
      out.set(payer, list);
    };
    for (const a of deps.agreements.current()) {
      const line = coordinatorLine(a, month);
      if (line) {
        add(payerOfAgreement(a), {
          kind: 'coordinator-function',
          key: `${COORDINATOR_KEY}${a.id}`,
          agreementId: a.id,
          amountOre: line.amountOre,
          basis: `§19 stk. 2 (monthly in arrears): ${line.basis}`,
        });
      }
    }
    const { first } = monthBounds(month);
    const rows = await store.delivered(startOfLocalDay(first), startOfLocalDay(`${nextMonth(month)}-01`));
    const attestCases = [...new Set(rows.filter((r) => r.kind === 'specialist-attest').map((r) => r.case_id))];
    const attests = await store.attests(attestCases);
    const further = await store.furtherAssessments(attestCases);
    for (const r of rows) {
      const line = deliveredLine(r, attests, further);
      if (line) add(r.sender_party_id, line);
    }
    return out;
  }

  function deliveredLine(
    r: DeliveredRow,
    attests: readonly { id: string; case_id: string; created_at: string }[],
    further: readonly { case_id: string; data: string }[],
  ): StatementLine | null {
    const a = deps.agreements.byId(r.agreement_id);
    const common = {
      caseId: r.case_id,
      responseId: r.response_id,
      service: r.service,
      deliveredAt: r.created_at,
      ...(r.agreement_id ? { agreementId: r.agreement_id } : {}),
    };
    if (r.kind !== 'specialist-attest') {
      const price = priceOf(a, r.agreement_id, r.service, localDate(r.created_at));
      const kind = KIND_OF_RESPONSE[r.kind]!;
      return { kind, key: `${kind}:${r.response_id}`, ...common, amountOre: price.ore, basis: price.basis };
    }
    const ofCase = attests.filter((x) => x.case_id === r.case_id);
    if (ofCase[0]?.id === r.response_id) {
      // §18: a price per case, for the first attest; later attests of the case are in it.
      const price = priceOf(a, r.agreement_id, r.service, localDate(r.created_at));
      return { kind: 'attest', key: `attest:${r.case_id}`, ...common, amountOre: price.ore, basis: `§18: ${price.basis}` };
    }
    // §14 stk. 2: the attest before this one asked for further assessment at a price; this one is the overall assessment.
    const previous = ofCase.filter((x) => x.created_at < r.created_at).at(-1);
    const request = previous
      ? further.map((f) => JSON.parse(f.data) as { responseId?: unknown; priceDkk?: unknown }).find((f) => f.responseId === previous.id)
      : undefined;
    if (!request) return null;
    const priceDkk = request.priceDkk;
    const ore = typeof priceDkk === 'number' ? dkkToOre(priceDkk) : null;
    return {
      kind: 'further-assessment',
      key: `further-assessment:${r.response_id}`,
      ...common,
      amountOre: ore,
      basis:
        ore === null
          ? '§14 stk. 2: the attest that asked for further assessment carries no price: to be priced'
          : `§14 stk. 2: further assessment priced at ${formatDkk(ore)} DKK in the attest of ${localDate(previous!.created_at)}, ` +
            'due now the overall assessment is delivered',
    };
  }

  interface Billed {
    payer: string;
    billedOre: number;
    lastDue: number | null;
    basis: string;
  }

  /** What the closed months billed per line: their own lines plus every adjustment of them since. */
  function billedByLine(frozen: readonly Statement[]): Map<string, Billed> {
    const billed = new Map<string, Billed>();
    for (const st of frozen) {
      for (const l of st.lines) {
        if (l.kind === 'adjustment' && l.adjusts) {
          const id = `${l.adjusts.month}|${st.payer}|${l.adjusts.key}`;
          const b = billed.get(id) ?? { payer: st.payer, billedOre: 0, lastDue: null, basis: l.basis };
          b.billedOre += l.amountOre ?? 0;
          b.lastDue = l.adjusts.dueOre;
          billed.set(id, b);
        } else {
          billed.set(`${st.month}|${st.payer}|${l.key}`, {
            payer: st.payer,
            billedOre: l.amountOre ?? 0,
            lastDue: l.amountOre,
            basis: l.basis,
          });
        }
      }
    }
    return billed;
  }

  /** The adjustment lines for the first open month after the closed ones: how each closed month's lines differ today. */
  async function adjustments(closed: readonly string[]): Promise<Map<string, StatementLine[]>> {
    const out = new Map<string, StatementLine[]>();
    if (closed.length === 0) return out;
    const frozen = (await store.frozen(closed)).map((r) => JSON.parse(r.statement) as Statement);
    const billed = billedByLine(frozen);
    for (const month of closed) {
      const current = new Map<string, { payer: string; line: StatementLine }>();
      for (const [payer, lines] of await baseLines(month))
        for (const line of lines) current.set(`${month}|${payer}|${line.key}`, { payer, line });
      const ids = new Set([...current.keys(), ...[...billed.keys()].filter((k) => k.startsWith(`${month}|`))]);
      for (const id of ids) {
        const now = current.get(id);
        const was = billed.get(id);
        const key = id.split('|').slice(2).join('|');
        // An agreement taken out of the agreements file (expired, archived) cannot price its closed months again:
        // what they billed stands, rather than a credit of every line it priced.
        const agreementId = now?.line.agreementId ?? (key.startsWith(COORDINATOR_KEY) ? key.slice(COORDINATOR_KEY.length) : undefined);
        if (agreementId !== undefined && !deps.agreements.byId(agreementId)) continue;
        const payer = now?.payer ?? was!.payer;
        const due = now ? now.line.amountOre : 0;
        const billedOre = was?.billedOre ?? 0;
        const lastDue = was ? was.lastDue : null;
        if (due === lastDue && (due === null || due === billedOre)) continue;
        let amountOre: number | null;
        if (due === null) {
          if (billedOre === 0 || lastDue === null) continue; // nothing was billed, nothing is due: unchanged
          amountOre = null;
        } else {
          amountOre = due - billedOre;
          if (amountOre === 0) continue;
        }
        const what = now
          ? `now due ${due === null ? 'without an agreed price' : `${formatDkk(due)} DKK`}: ${now.line.basis}`
          : 'no longer due (the delivery it billed is no longer on record)';
        const line: StatementLine = {
          kind: 'adjustment',
          key: `adjustment:${month}:${key}`,
          ...(now?.line.caseId ? { caseId: now.line.caseId } : {}),
          ...(now?.line.service ? { service: now.line.service } : {}),
          ...(now?.line.deliveredAt ? { deliveredAt: now.line.deliveredAt } : {}),
          amountOre,
          basis: `correction of the closed statement of ${month} (${key}): billed ${formatDkk(billedOre)} DKK, ${what}`,
          adjusts: { month, key, billedOre, dueOre: due },
        };
        out.set(payer, [...(out.get(payer) ?? []), line]);
      }
    }
    return out;
  }

  /**
   * §19 stk. 3: the statement is invoiced on the agreed day of the following month, or when the month is closed if that
   * is later (`issuedOn`): payment falls due the agreed days after the invoice is received, never before it is sent.
   */
  function datesOf(month: string, payer: string, issuedOn?: string): { invoiceDate: string; dueDate: string } {
    const { first, last } = monthBounds(month);
    const code = deps.parties.all().find((p) => p.id === payer && p.kind === 'municipality') as { municipalityCode?: string } | undefined;
    const selector = { partyId: payer, municipalityCode: code?.municipalityCode ?? null };
    const current = deps.agreements.current();
    const a = agreementInForce(current, selector, last) ?? agreementInForce(current, selector, first);
    const terms = settlementTermsOf(a);
    const agreed = `${nextMonth(month)}-${String(terms.invoiceDayOfMonth).padStart(2, '0')}`;
    const invoiceDate = issuedOn !== undefined && issuedOn > agreed ? issuedOn : agreed;
    return { invoiceDate, dueDate: addDays(invoiceDate, terms.paymentDaysAfterInvoice) };
  }

  function statementOf(month: string, payer: string, lines: StatementLine[]): Statement {
    const priced = lines.filter((l) => l.amountOre !== null);
    const name = nameOf(payer);
    return {
      month,
      payer,
      ...(name ? { payerName: name } : {}),
      lines,
      totalOre: priced.reduce((s, l) => s + l.amountOre!, 0),
      unpricedLines: lines.length - priced.length,
      ...datesOf(month, payer),
      closed: false,
    };
  }

  /** Every payer's statement of `month`: frozen when closed, else as the records say now (with adjustments in the first open month). */
  async function statementsOf(month: string): Promise<Statement[]> {
    const closedRows = await store.closedMonths();
    const closed = closedRows.map((r) => r.month);
    if (closed.includes(month)) {
      return (await store.frozen([month])).map((r) => ({ ...(JSON.parse(r.statement) as Statement), sha256: r.sha256 }));
    }
    const lines = await baseLines(month);
    const last = closed.at(-1);
    if (last !== undefined && nextMonth(last) === month) {
      for (const [payer, adj] of await adjustments(closed)) lines.set(payer, [...(lines.get(payer) ?? []), ...adj]);
    }
    return [...lines.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([payer, l]) => statementOf(month, payer, l));
  }

  /** Who may read which payer's statements: finance and team leads every payer's, a municipality or the senior-pension unit its own. */
  function readableBy(caller: Party, payer: string | undefined): string | undefined {
    if (hasRole(caller, 'finance', 'team-lead')) return payer;
    if (caller.kind === 'municipality' || caller.kind === 'senior-pension-unit') {
      if (payer !== undefined && payer !== caller.id)
        throw forbidden(`a ${caller.kind} party reads only its own statements (${caller.id})`);
      return caller.id;
    }
    throw forbidden('settlement statements are for finance, team leads and the paying party', 'wrong-party-kind');
  }

  return {
    isClosed: async (month: string) => (await store.closedMonths()).some((r) => r.month === month),

    /** The statements of `month` the caller may read, or the one of `payer`. */
    async statements(caller: Party, month: string, payer?: string): Promise<Statement[]> {
      const only = readableBy(caller, payer);
      const all = await statementsOf(month);
      if (only === undefined) return all;
      const own = all.find((s) => s.payer === only);
      if (own) return [own];
      // no line for this payer: an empty statement, closed when its month is (nothing was or will be billed for it)
      const empty = statementOf(month, only, []);
      return [(await store.closedMonths()).some((r) => r.month === month) ? { ...empty, closed: true } : empty];
    },

    /**
     * Closes `month`: every payer's statement is stored as it is now, and its
     * hash goes into the audit chain. Months close in order, after they end.
     */
    async close(caller: Party, month: string): Promise<Statement[]> {
      if (!hasRole(caller, 'finance', 'team-lead')) throw forbidden('months are closed by finance or a team lead', 'wrong-party-kind');
      if (!isMonth(month))
        throw unprocessable(`the month must be written YYYY-MM, e.g. 2027-01 (got ${JSON.stringify(month.slice(0, 20))})`, [
          { path: 'month', message: 'must be a month written YYYY-MM' },
        ]);
      const today = localDate(now());
      const { last } = monthBounds(month);
      if (last >= today)
        throw conflict(`${month} has not ended yet (today is ${today}): a month is closed after its last day`, 'month-not-ended');
      const closed = (await store.closedMonths()).map((r) => r.month);
      if (closed.includes(month)) throw conflict(`${month} is already closed; later changes go into the next open month`, 'month-closed');
      const latest = closed.at(-1);
      if (latest !== undefined && nextMonth(latest) !== month) {
        throw conflict(
          latest > month
            ? `${month} lies before the last closed month ${latest}: months close once, in order`
            : `months close in order: close ${nextMonth(latest)} first`,
          'month-order',
        );
      }
      if (latest === undefined) {
        // The first close fixes where the settled months begin: a month before it is never closed, so none may hold
        // a delivery on record (it would never be invoiced). Earlier months with only the coordinator function
        // (settled before the gateway) may stay outside.
        const first = await store.firstDelivered();
        const firstMonth = first === null ? null : localDate(first).slice(0, 7);
        if (firstMonth !== null && firstMonth < month) {
          throw conflict(
            `the first month to close is ${firstMonth} or earlier: deliveries on record from ${firstMonth} would otherwise never be invoiced`,
            'month-order',
          );
        }
      }
      const at = now().toISOString();
      const statements = (await statementsOf(month)).map((s) => ({ ...s, ...datesOf(month, s.payer, today), closed: true, closedAt: at }));
      const rows = statements.map((s) => {
        const json = canonicalJson(s);
        return { month, payer: s.payer, statement: json, sha256: sha256Hex(json) };
      });
      try {
        await deps.db.db.transaction().execute(async (trx) => {
          if (await store.isClosed(trx, month)) throw conflict(`${month} was closed meanwhile`, 'month-closed');
          await store.insertClosed(trx, { month, closed_at: at, closed_by: caller.id }, rows);
          await appendAudit(trx, deps.db, {
            at,
            actor: caller.id,
            action: 'settlement-closed',
            caseId: null,
            details: { month, statements: rows.map((r, i) => ({ payer: r.payer, sha256: r.sha256, totalOre: statements[i]!.totalOre })) },
          });
        });
      } catch (err) {
        if (err instanceof Error && /unique|duplicate|constraint/i.test(err.message)) {
          throw conflict(`${month} was closed meanwhile`, 'month-closed');
        }
        throw err;
      }
      deps.log.info({ month, statements: rows.length, actor: caller.id }, 'settlement month closed');
      return statements.map((s, i) => ({ ...s, sha256: rows[i]!.sha256 }));
    },

    /** §18 stk. 2: the average price per assessed case in `year`, per payer, against DKK 14 000 at 2011 level indexed. */
    async priceCap(caller: Party, year: number, payer?: string): Promise<PriceCapRow[]> {
      const only = readableBy(caller, payer);
      const index = deps.priceIndex();
      const base = index.factors[String(index.baseYear)];
      const factor = index.factors[String(year)];
      const capOre =
        base !== undefined && factor !== undefined
          ? Number(roundHalfUp(BigInt(PRICE_CAP_2011_ORE) * BigInt(Math.round(factor * 10_000)), BigInt(Math.round(base * 10_000))))
          : null;
      const perPayer = new Map<string, { cases: Set<string>; total: number; unpriced: number }>();
      for (let m = 1; m <= 12; m++) {
        const month = `${year}-${String(m).padStart(2, '0')}`;
        for (const [p, lines] of await baseLines(month)) {
          if (only !== undefined && p !== only) continue;
          for (const l of lines) {
            if (l.kind !== 'attest' && l.kind !== 'further-assessment') continue;
            // §18 stk. 2 caps "the assessment under §13": a §27 senior-pension attest (S§4) is not averaged in
            if (l.service !== 'clinical-assessment') continue;
            const acc = perPayer.get(p) ?? { cases: new Set<string>(), total: 0, unpriced: 0 };
            // the average is over the cases whose attest has a price: an unpriced one is counted apart, not as 0
            if (l.amountOre === null) acc.unpriced++;
            else {
              acc.total += l.amountOre;
              if (l.kind === 'attest') acc.cases.add(l.caseId!);
            }
            perPayer.set(p, acc);
          }
        }
      }
      if (only !== undefined && !perPayer.has(only)) perPayer.set(only, { cases: new Set(), total: 0, unpriced: 0 });
      const capText =
        capOre === null
          ? `no price index for ${year} (or ${index.baseYear}) in PRICE_INDEX_FILE: the cap cannot be computed`
          : `§18 stk. 2: 14.000 DKK (2011 level) × ${factor} / ${base} = ${formatDkk(capOre)} DKK per case`;
      return [...perPayer.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([p, acc]) => {
          const averageOre = acc.cases.size > 0 ? Number(roundHalfUp(BigInt(acc.total), BigInt(acc.cases.size))) : null;
          return {
            payer: p,
            year,
            assessedCases: acc.cases.size,
            totalOre: acc.total,
            unpricedLines: acc.unpriced,
            averageOre,
            capOre,
            exceeded: capOre === null || averageOre === null ? null : averageOre > capOre,
            basis:
              `${capText}; average = ${formatDkk(acc.total)} DKK / ${acc.cases.size} assessed cases` +
              (acc.unpriced > 0 ? `; ${acc.unpriced} line(s) without an agreed price are not in the average` : '') +
              '; certificates obtained outside the clinical function are not on record here',
          };
        });
    },

    /** The agreements the caller may read: finance and team leads all, a municipality or the senior-pension unit its own. */
    agreements(caller: Party): AgreementView[] {
      return deps.agreements
        .current()
        .filter((a) => mayReadAgreement(caller, a))
        .map((a) => agreementView(a, localDate(now())));
    },

    agreement(caller: Party, id: string): AgreementView {
      const a = deps.agreements.current().find((x) => x.id === id);
      if (!a || !mayReadAgreement(caller, a)) throw notFound(`no agreement ${id} visible to ${caller.id}`);
      return agreementView(a, localDate(now()));
    },
  };
}

function mayReadAgreement(caller: Party, a: Agreement): boolean {
  if (hasRole(caller, 'finance', 'team-lead')) return true;
  if (caller.kind === 'municipality') return a.municipalityCode === caller.municipalityCode;
  if (caller.kind === 'senior-pension-unit') return a.partyId === caller.id;
  return false;
}

/** An agreement as served: its fields, the totals derived from them, and the earliest end for a notice given `today` (§25 stk. 2). */
export function agreementView(a: Agreement, today: string): AgreementView {
  const noticeMonths = a.noticeMonths ?? DEFAULT_NOTICE_MONTHS;
  const byNotice = terminationDate(today, noticeMonths);
  const pricesToday = pricesOn(a, today);
  return {
    ...a,
    expectedYearlyTotal: expectedYearlyTotal(a),
    coordinatorFunctionAnnual: pricesToday ? coordinatorAnnualPrice({ ...a, prices: pricesToday }) : null,
    termination: {
      noticeMonths,
      noticeSource: a.noticeMonths === undefined ? '§25 stk. 2' : 'agreement',
      noticeGivenOn: today,
      earliestEndDate: a.validTo !== null && a.validTo < byNotice ? a.validTo : byNotice,
    },
  };
}

export type SettlementService = ReturnType<typeof createSettlementService>;
