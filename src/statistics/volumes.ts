/**
 * §17 stk. 4: when the coordinator function's price is set from the expected
 * number of cases, the agreement must regulate it by continuous monitoring of
 * the deviations from that number. Pure: the agreement year containing today,
 * the expectation pro-rated to today, and the deviation of the cases received.
 *
 * - Agreement years start on validFrom's month and day (29 February: on 28
 *   February in other years); only agreements in force today are monitored.
 * - expected to date = expected a year × elapsed days / days in the agreement
 *   year, where the elapsed days count the first counted day through today:
 *   the year's first day, or the day the gateway's records begin (its first
 *   receipt) when that is later. A gateway taken into use mid-year holds no
 *   record of the cases before; measured against the whole year's share it
 *   would report a deficit, and an alert, until the year ends.
 * - deviation = (actual − expected to date) / expected to date × 100, rounded
 *   to one decimal; null when nothing is expected yet (expected 0).
 * - alert when |deviation| > the threshold (VOLUME_DEVIATION_ALERT_PCT).
 */
import { addDays, daysBetween, localDate } from '../deadlines/calendar.js';
import { expectedYearlyTotal, type Agreement } from '../deadlines/types.js';
import type { VolumeRow } from './schema.js';

export const VOLUME_RULE = '§17 stk. 4';

/** A received case as the volume monitoring reads it. */
export interface VolumeCase {
  agreementId: string;
  service: string;
  /** first receipt, UTC ISO instant */
  receivedAt: string;
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** validFrom's month-day in `year` (29 February becomes 28 February in a common year). */
export function anniversary(validFrom: string, year: number): string {
  const md = validFrom.slice(5);
  const y = String(year).padStart(4, '0');
  return md === '02-29' && !isLeap(year) ? `${y}-02-28` : `${y}-${md}`;
}

/** The agreement year containing `today` (today ≥ validFrom): first and last day, and its length in days. */
export function agreementYear(validFrom: string, today: string): { start: string; end: string; days: number } {
  let year = Number(today.slice(0, 4));
  if (anniversary(validFrom, year) > today) year--;
  const start = anniversary(validFrom, year);
  const next = anniversary(validFrom, year + 1);
  return { start, end: addDays(next, -1), days: daysBetween(start, next) };
}

/** Rounds half away from zero to one decimal (so +x and −x round alike). */
export function round1(x: number): number {
  return (Math.sign(x) * Math.round(Math.abs(x) * 10 + 1e-9)) / 10;
}

/** (actual − expected) / expected × 100, one decimal; null when nothing is expected. */
export function deviationPct(actual: number, expectedToDate: number): number | null {
  if (!(expectedToDate > 0)) return null;
  return round1(((actual - expectedToDate) / expectedToDate) * 100);
}

/** §17 stk. 4: an alert when the deviation (as shown, one decimal) is more than the threshold either way. */
export function isVolumeAlert(deviation: number | null, thresholdPct: number): boolean {
  return deviation !== null && Math.abs(deviation) > thresholdPct;
}

function figures(expectedYearly: number, actual: number, elapsedDays: number, daysInYear: number, thresholdPct: number) {
  const expected = (expectedYearly * elapsedDays) / daysInYear;
  const deviation = deviationPct(actual, expected);
  return {
    expectedYearly,
    expectedToDate: round1(expected),
    actual,
    deviationPct: deviation,
    alert: isVolumeAlert(deviation, thresholdPct),
  };
}

const inForceOn = (a: Agreement, date: string) => a.validFrom <= date && (a.validTo === null || date <= a.validTo);

/** The agreements monitored today: in force, with an expected number of cases. */
export function monitoredAgreements(agreements: readonly Agreement[], today: string): Agreement[] {
  return agreements.filter((a) => inForceOn(a, today) && expectedYearlyTotal(a) !== null);
}

/** One row per monitored agreement (sorted by id), with per-service rows when the expectation is per service. */
export function volumeRows(
  agreements: readonly Agreement[],
  cases: readonly VolumeCase[],
  today: string,
  thresholdPct: number,
  /** the first day of the gateway's records (local date of its first receipt); none: every year counts whole */
  recordsFrom?: string,
): VolumeRow[] {
  return monitoredAgreements(agreements, today)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((a) => {
      const year = agreementYear(a.validFrom, today);
      const countedFrom = recordsFrom !== undefined && recordsFrom > year.start ? (recordsFrom > today ? today : recordsFrom) : year.start;
      const elapsedDays = daysBetween(countedFrom, today) + 1;
      const mine = cases.filter((c) => {
        if (c.agreementId !== a.id) return false;
        const d = localDate(c.receivedAt);
        return countedFrom <= d && d <= today;
      });
      const e = a.expectedYearlyCases;
      // Expected per service: the total compares like with like, the cases of those services only (a clinical
      // assessment under an agreement that expects only rehabilitation-team cases is no deviation from it).
      const counted = e !== undefined && typeof e === 'object' ? mine.filter((c) => e[c.service] !== undefined) : mine;
      return {
        agreementId: a.id,
        municipalityCode: a.municipalityCode ?? null,
        partyId: a.partyId ?? null,
        yearStart: year.start,
        yearEnd: year.end,
        daysInYear: year.days,
        countedFrom,
        elapsedDays,
        ...figures(expectedYearlyTotal(a)!, counted.length, elapsedDays, year.days, thresholdPct),
        ...(e !== undefined && typeof e === 'object'
          ? {
              services: Object.entries(e)
                .filter((x): x is [string, number] => x[1] !== undefined)
                .sort(([p], [q]) => p.localeCompare(q))
                .map(([service, n]) => ({
                  service,
                  ...figures(n, mine.filter((c) => c.service === service).length, elapsedDays, year.days, thresholdPct),
                })),
            }
          : {}),
      };
    });
}

/** The earliest agreement-year start among the monitored agreements (what the store must read from), or null. */
export function earliestYearStart(agreements: readonly Agreement[], today: string): string | null {
  const starts = monitoredAgreements(agreements, today).map((a) => agreementYear(a.validFrom, today).start);
  return starts.length ? starts.sort()[0]! : null;
}
