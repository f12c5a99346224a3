/**
 * The settlement arithmetic (§17–19, §28, S§4, Bilag 1), pure: amounts are
 * integers in øre, rounded half up, so that anyone can redo a statement by
 * hand from the `basis` of each line.
 */
import { addDays, daysBetween } from '../deadlines/calendar.js';
import type { Agreement, AgreementPrices, CoordinatorFunctionPrice } from '../deadlines/types.js';
import { expectedYearlyTotal } from '../deadlines/types.js';

/** Bilag 1: 202 working days a year × 3 new cases a day per full-time equivalent. */
export const BILAG1_CASES_PER_FTE = 202 * 3;

/** §17 stk. 2: the default price covers the coordinator function's chapter 3 work (§5–§12). */
export const CHAPTER_3_SERVICES: readonly string[] = ['rehab-team-advice', 'ongoing-case-advice', 'early-pension-statement'];

/** round(n / d) half up, for n ≥ 0 and d > 0 (exact, on integers of any size). */
export function roundHalfUp(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('roundHalfUp: the divisor must be positive');
  if (n < 0n) return -roundHalfUp(-n, d);
  return (2n * n + d) / (2n * d);
}

/** DKK (at most two decimals) → øre, exactly. */
export function dkkToOre(dkk: number): number {
  return Math.round(dkk * 100);
}

/** Danish-style DKK for the basis texts: 731234 → "731.234", 13750.5 → "13.750,50". */
export function formatDkk(ore: number | bigint): string {
  const o = BigInt(ore);
  const neg = o < 0n;
  const abs = neg ? -o : o;
  const kr = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  const rest = abs % 100n;
  return `${neg ? '-' : ''}${kr}${rest === 0n ? '' : `,${rest.toString().padStart(2, '0')}`}`;
}

export interface AnnualPrice {
  /** øre a year */
  ore: number;
  /** how it was computed, in words and numbers */
  basis: string;
}

/**
 * The coordinator function's annual price in øre: an agreed annual price
 * (§17 stk. 1), or by default (§17 stk. 2, Bilag 1)
 * round(expectedYearlyCases × fteAnnualPriceDkk × 100 / (202 × 3)); with a
 * profession mix (§17 stk. 3) the FTE price is weighted by the shares.
 * Null when the agreement sets no coordinator price.
 */
export function coordinatorAnnualPrice(a: Pick<Agreement, 'prices' | 'expectedYearlyCases'>): AnnualPrice | null {
  const f: CoordinatorFunctionPrice | undefined = a.prices?.coordinatorFunction;
  if (!f) return null;
  if ('annualPriceDkk' in f) {
    const ore = dkkToOre(f.annualPriceDkk);
    return { ore, basis: `agreed annual price ${formatDkk(ore)} DKK (§17 stk. 1)` };
  }
  const expected = expectedYearlyTotal(a) ?? 0;
  // The (weighted) FTE price in øre as an exact fraction: shares are counted in hundredths of a percent.
  let fteOre: bigint;
  let fteDivisor = 1n;
  let fteText: string;
  if ('fteAnnualPriceDkk' in f) {
    fteOre = BigInt(dkkToOre(f.fteAnnualPriceDkk));
    fteText = `${formatDkk(fteOre)} DKK per FTE`;
  } else {
    fteOre = f.professionMix.reduce((s, m) => s + BigInt(Math.round(m.sharePct * 100)) * BigInt(dkkToOre(m.fteAnnualPriceDkk)), 0n);
    fteDivisor = 10_000n;
    fteText = `(${f.professionMix.map((m) => `${m.sharePct} % × ${formatDkk(dkkToOre(m.fteAnnualPriceDkk))} DKK`).join(' + ')}) per FTE`;
  }
  const ore = Number(roundHalfUp(BigInt(expected) * fteOre, BigInt(BILAG1_CASES_PER_FTE) * fteDivisor));
  return {
    ore,
    basis: `${expected} expected cases a year / (202 × 3) FTE × ${fteText} = ${formatDkk(ore)} DKK a year (§17 stk. 2, Bilag 1)`,
  };
}

/**
 * The prices in force on `date` (YYYY-MM-DD): the latest price regulation from that date or before (§17 stk. 3), else
 * the agreement's prices. A regulation replaces every price, so a settled month keeps the prices of its own dates.
 */
export function pricesOn(a: Pick<Agreement, 'prices' | 'priceRegulations'>, date: string): AgreementPrices | undefined {
  let prices = a.prices;
  for (const r of a.priceRegulations ?? []) if (r.from <= date) prices = r.prices;
  return prices;
}

/** January–November: round(annual / 12); December: the remainder, so that a year sums to the annual price exactly. */
export function monthlyShare(annualOre: number, month: number): number {
  const base = Number(roundHalfUp(BigInt(annualOre), 12n));
  return month === 12 ? annualOre - 11 * base : base;
}

/** `YYYY-MM` → its first and last local date and its length in days. */
export function monthBounds(month: string): { first: string; last: string; days: number } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const first = `${month}-01`;
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, '0')}-01`;
  const last = addDays(next, -1);
  return { first, last, days: daysBetween(first, next) };
}

/** The month after `YYYY-MM`. */
export function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

export interface CoordinatorLine {
  amountOre: number;
  basis: string;
  /** days of the month the agreement was in force */
  days: number;
}

/**
 * The coordinator function's line for `month` under agreement `a` (§19 stk. 2:
 * monthly in arrears, in the statement of the month it covers): the month's
 * share of the calendar year's annual price, pro-rated by the days the
 * agreement was in force; null when it was in force on none of them or sets
 * no coordinator price. The price is the one in force on the month's first
 * day (regulations start on the first of a month).
 */
export function coordinatorLine(
  a: Pick<Agreement, 'prices' | 'priceRegulations' | 'expectedYearlyCases' | 'validFrom' | 'validTo'>,
  month: string,
): CoordinatorLine | null {
  const { first, last, days } = monthBounds(month);
  const prices = pricesOn(a, first);
  const annual = prices ? coordinatorAnnualPrice({ ...a, prices }) : null;
  if (!annual) return null;
  const from = a.validFrom > first ? a.validFrom : first;
  const to = a.validTo !== null && a.validTo < last ? a.validTo : last;
  if (from > to) return null;
  const inForce = daysBetween(from, to) + 1;
  const m = Number(month.slice(5, 7));
  const share = monthlyShare(annual.ore, m);
  const shareText = m === 12 ? 'December: the annual price less 11 × round(annual / 12)' : 'round(annual / 12)';
  if (inForce === days) return { amountOre: share, days, basis: `${annual.basis}; ${shareText} = ${formatDkk(share)} DKK` };
  const amountOre = Number(roundHalfUp(BigInt(share) * BigInt(inForce), BigInt(days)));
  return {
    amountOre,
    days: inForce,
    basis: `${annual.basis}; ${shareText} = ${formatDkk(share)} DKK × ${inForce}/${days} days in force = ${formatDkk(amountOre)} DKK`,
  };
}

/** The earliest date an agreement ends when notice is given on `date` (§25 stk. 2: 9 months unless agreed otherwise). */
export function terminationDate(date: string, noticeMonths: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const total = y * 12 + (m - 1) + noticeMonths;
  const ty = Math.floor(total / 12);
  const tm = (total % 12) + 1;
  const month = `${ty}-${String(tm).padStart(2, '0')}`;
  const { days } = monthBounds(month);
  return `${month}-${String(Math.min(d, days)).padStart(2, '0')}`;
}
