/**
 * Waiting-time statistics, computed from the cases and their stored events
 * (pure: no I/O, no clock reads). Each case's clock is recomputed by the
 * deadline engine from its stored events, exactly as the deadline service
 * does, so the figures can always be recomputed and explained.
 *
 * Per case:
 * - receipt: the local date (Europe/Copenhagen) of the first receipt (`cases.received_at`);
 * - delivery: when the clock of the main deadline stopped: the first
 *   clock-stopped event (the statement or attest was delivered); §21 stk. 1:
 *   the booking of the coordinator for the meeting (the engine measures the
 *   meeting's date against the due date); §14 stk. 2: the attest that asked for
 *   further assessment, not the overall assessment after it. A case with no
 *   deadline has no clock to stop: its delivery is its first clock-stopped
 *   event or final response (statement, specialist attest);
 * - met / missed: the engine's outcome, by the § rule of the main deadline.
 */
import { computeClock } from '../deadlines/engine.js';
import { toClockEvents, type StoredEvent } from '../deadlines/events.js';
import { addDays, daysBetween, localDate } from '../deadlines/calendar.js';
import type { Agreement } from '../deadlines/types.js';
import { toCsv } from '../shared/csv.js';
import { AGE_BUCKETS, NO_DEADLINE, type AgeBucket, type GroupBy, type WaitingTimeRow, type WaitingTimesReport } from './schema.js';

/** Response kinds that end a case (src/responses/content.ts FINAL_KINDS). */
const FINAL_RESPONSE_KINDS: readonly string[] = ['statement', 'specialist-attest'];

/** A case as the statistics read it: the case row's fields and its stored events in stored order. */
export interface StatsCase {
  id: string;
  municipalityCode: string;
  service: string;
  urgent: boolean;
  /** first receipt, UTC ISO instant */
  receivedAt: string;
  /** clock start (the completing package's receipt), or null while awaiting a complete case (§21 stk. 2) */
  clockStartedAt: string | null;
  agreementId: string | null;
  events: readonly StoredEvent[];
}

/** What the statistics need of one case, derived from its events. */
export interface CaseFacts {
  id: string;
  municipalityCode: string;
  service: string;
  receivedDate: string;
  /** local date of the delivery, or null while undelivered */
  deliveredDate: string | null;
  /** the § rule of the main deadline, or NO_DEADLINE (or the clock's status when it never started) */
  rule: string;
  outcome: 'met' | 'missed' | null;
  /** local dates of the extension-agreed events */
  extensionDates: string[];
}

const dataOf = (e: StoredEvent): Record<string, unknown> =>
  (typeof e.data === 'string' ? (JSON.parse(e.data) as Record<string, unknown>) : e.data) ?? {};

/** One case's facts: its clock recomputed by the engine from its stored events. */
export function caseFacts(c: StatsCase, agreementOf: (id: string | null) => Agreement | null): CaseFacts {
  // §14 stk. 2: the events after the attest that asked for further assessment belong to the overall assessment.
  const further = c.events.findIndex((e) => e.event === 'further-assessment-requested');
  const attestPhase = further >= 0 ? c.events.slice(0, further) : c.events;
  const { clock } = computeClock({
    service: c.service,
    urgent: c.urgent,
    receivedAt: c.receivedAt,
    startedAt: c.clockStartedAt,
    agreement: agreementOf(c.agreementId),
    events: toClockEvents(attestPhase),
  });
  const base = {
    id: c.id,
    municipalityCode: c.municipalityCode,
    service: c.service,
    receivedDate: localDate(c.receivedAt),
    extensionDates: c.events.filter((e) => e.event === 'extension-agreed').map((e) => localDate(e.at)),
  };
  const main = clock.deadlines[0];
  if (clock.status === 'stopped' && clock.stoppedAt && main) {
    // §21 stk. 1: what the citizen waits for is the rehabilitation-team meeting, held on its date, not the day it was
    // booked; until that date the case is open (a meeting booked for day 40 is a 40-day wait, not a 3-day one).
    const deliveredDate = clock.meetingDate ?? localDate(clock.stoppedAt);
    return { ...base, deliveredDate, rule: main.rule, outcome: clock.outcome ?? null };
  }
  // No clock to stop (no deadline, or the case never became complete): the first delivery recorded in the events.
  let delivered: string | null = null;
  for (const e of c.events) {
    let at: string | null = null;
    if (e.event === 'clock-stopped') {
      const d = dataOf(e);
      at = typeof d.at === 'string' ? d.at : e.at;
    } else if (e.event === 'further-assessment-requested') at = e.at;
    else if (e.event === 'response-submitted' && FINAL_RESPONSE_KINDS.includes(String(dataOf(e).kind))) at = e.at;
    if (at !== null && (delivered === null || Date.parse(at) < Date.parse(delivered))) delivered = at;
  }
  const rule = clock.status === 'running' && main ? main.rule : clock.status === 'awaiting-complete-case' ? clock.status : NO_DEADLINE;
  return { ...base, deliveredDate: delivered === null ? null : localDate(delivered), rule, outcome: null };
}

/** Nearest-rank percentile (p in (0, 100]) of values; null for none. */
export function nearestRank(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

export function ageBucket(days: number): AgeBucket {
  if (days <= 7) return '0-7';
  if (days <= 14) return '8-14';
  if (days <= 30) return '15-30';
  if (days <= 60) return '31-60';
  return '61+';
}

const within = (d: string | null, from: string, to: string): d is string => d !== null && from <= d && d <= to;
const minDate = (a: string, b: string) => (a <= b ? a : b);
const maxDate = (a: string, b: string) => (a >= b ? a : b);

/** One row over `facts` for the local dates [from, to]; the open cases as of the end of min(to, today). */
export function row(
  facts: readonly CaseFacts[],
  key: string,
  label: string | null,
  from: string,
  to: string,
  today: string,
): WaitingTimeRow {
  const asOf = minDate(to, today);
  const byRule: WaitingTimeRow['byRule'] = {};
  const days: number[] = [];
  const byAge = Object.fromEntries(AGE_BUCKETS.map((b) => [b, 0])) as Record<AgeBucket, number>;
  let received = 0;
  let openTotal = 0;
  let extensions = 0;
  for (const f of facts) {
    if (within(f.receivedDate, from, to)) received++;
    // delivered in the period, up to today: a §21 meeting booked for a later date is not held yet
    if (within(f.deliveredDate, from, asOf)) {
      const r = (byRule[f.rule] ??= { delivered: 0, met: 0, missed: 0 });
      r.delivered++;
      if (f.outcome) r[f.outcome]++;
      days.push(daysBetween(f.receivedDate, f.deliveredDate));
    }
    if (f.receivedDate <= asOf && (f.deliveredDate === null || f.deliveredDate > asOf)) {
      openTotal++;
      byAge[ageBucket(daysBetween(f.receivedDate, asOf))]++;
    }
    for (const d of f.extensionDates) if (within(d, from, to)) extensions++;
  }
  return {
    key,
    label,
    from,
    to,
    received,
    delivered: days.length,
    byRule: Object.fromEntries(Object.entries(byRule).sort(([a], [b]) => a.localeCompare(b))),
    medianDays: nearestRank(days, 50),
    p90Days: nearestRank(days, 90),
    open: { asOf, total: openTotal, byAge },
    extensions,
  };
}

/** The calendar months YYYY-MM that [from, to] touches, with each month's part of the period. */
export function monthsOf(from: string, to: string): { key: string; from: string; to: string }[] {
  const out: { key: string; from: string; to: string }[] = [];
  let start = `${from.slice(0, 7)}-01`;
  while (start <= to) {
    const y = Number(start.slice(0, 4));
    const m = Number(start.slice(5, 7));
    const next = m === 12 ? `${String(y + 1).padStart(4, '0')}-01-01` : `${start.slice(0, 5)}${String(m + 1).padStart(2, '0')}-01`;
    out.push({ key: start.slice(0, 7), from: maxDate(from, start), to: minDate(to, addDays(next, -1)) });
    start = next;
  }
  return out;
}

export interface WaitingTimesOptions {
  from: string;
  to: string;
  groupBy?: GroupBy | null;
  /** today's local date: open cases are counted at the end of min(period end, today) */
  today: string;
  generatedAt: string;
  senderPartyId?: string | null;
  /** the agreement of a case (the deadline engine's input); null: statutory defaults */
  agreementOf(id: string | null): Agreement | null;
  /** a municipality's name, if known */
  municipalityName?(code: string): string | undefined;
}

/** The waiting-time report over plain cases and their events. */
export function waitingTimes(cases: readonly StatsCase[], o: WaitingTimesOptions): WaitingTimesReport {
  const facts = cases.map((c) => caseFacts(c, o.agreementOf));
  return waitingTimesOfFacts(facts, o);
}

export function waitingTimesOfFacts(facts: readonly CaseFacts[], o: Omit<WaitingTimesOptions, 'agreementOf'>): WaitingTimesReport {
  const groupBy = o.groupBy ?? null;
  let rows: WaitingTimeRow[] = [];
  if (groupBy === 'month') {
    rows = monthsOf(o.from, o.to).map((m) => row(facts, m.key, null, m.from, m.to, o.today));
  } else if (groupBy) {
    const keyOf = (f: CaseFacts) => (groupBy === 'municipality' ? f.municipalityCode : f.service);
    const groups = new Map<string, CaseFacts[]>();
    for (const f of facts) {
      const k = keyOf(f);
      const list = groups.get(k);
      if (list) list.push(f);
      else groups.set(k, [f]);
    }
    rows = [...groups.keys()]
      .sort()
      .map((k) => row(groups.get(k)!, k, groupBy === 'municipality' ? (o.municipalityName?.(k) ?? null) : null, o.from, o.to, o.today))
      .filter((r) => r.received > 0 || r.delivered > 0 || r.open.total > 0 || r.extensions > 0);
  }
  return {
    from: o.from,
    to: o.to,
    groupBy,
    generatedAt: o.generatedAt,
    senderPartyId: o.senderPartyId ?? null,
    rows,
    total: row(facts, 'total', null, o.from, o.to, o.today),
  };
}

// --- CSV -------------------------------------------------------------------

/**
 * The report as CSV (src/shared/csv.ts: RFC 4180, CRLF): a header line, one
 * line per group row, then the total (key "total"). Per rule the columns
 * delivered:<rule>, met:<rule>, missed:<rule>; the open cases as open:asOf,
 * open:total and open:<bucket>.
 */
export function waitingTimesCsv(report: WaitingTimesReport): string {
  const all = [...report.rows, report.total];
  const rules = [...new Set(all.flatMap((r) => Object.keys(r.byRule)))].sort((a, b) => a.localeCompare(b));
  const header = [
    'key',
    'label',
    'from',
    'to',
    'received',
    'delivered',
    ...rules.flatMap((r) => [`delivered:${r}`, `met:${r}`, `missed:${r}`]),
    'medianDays',
    'p90Days',
    'open:asOf',
    'open:total',
    ...AGE_BUCKETS.map((b) => `open:${b}`),
    'extensions',
  ];
  return toCsv(
    header,
    all.map((r) => [
      r.key,
      r.label,
      r.from,
      r.to,
      r.received,
      r.delivered,
      ...rules.flatMap((k) => {
        const o = r.byRule[k];
        return [o?.delivered ?? 0, o?.met ?? 0, o?.missed ?? 0];
      }),
      r.medianDays,
      r.p90Days,
      r.open.asOf,
      r.open.total,
      ...AGE_BUCKETS.map((b) => r.open.byAge[b]),
      r.extensions,
    ]),
  );
}
