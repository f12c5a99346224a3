/**
 * The deadline lifecycle of a case (issue 3): consultation booked (§23),
 * another deadline agreed (§22 / §23 2. pkt.), rehabilitation-team meeting
 * booked (stops the §21 clock), clock stopped (statement / attest delivered),
 * and the at-risk / overdue reminders.
 *
 * Every change is ONE transaction: the case event is inserted, the clock is
 * recomputed by the engine from the case row and ALL its stored events, the
 * `cases.clock` column is rewritten (it is only a cache of that computation)
 * and an audit entry is appended. Nothing here edits a due date directly, so
 * every date on a case can be explained from its history.
 *
 * Validation errors are Problems (422 with `errors: [{ path, message }]`,
 * 404 for a missing case), ready for the staff endpoints of issue 4.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { Database } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import type { Party } from '../parties/parties.js';
import { createDeadlineStore, type CaseClockFields, type EventRow } from './store.js';
import { appendAudit } from '../audit/audit.js';
import { notFound, unprocessable, type FieldError } from '../shared/problem.js';
import { computeClock, validateExtension } from './engine.js';
import { toClockEvents, type StoredEvent } from './events.js';
import { atRiskInstant, daysBetween, isInstantString, localDate, localDateTime, toUtcIso } from './calendar.js';
import { isDateString } from '../shared/identifiers.js';
import type { Agreement, AgreementLookup, Clock, Service, SupplementaryService } from './types.js';

/** Services in which a consultation with the citizen is booked before the attest (§23; §27 for senior pension). */
export const CONSULTATION_SERVICES: readonly string[] = ['clinical-assessment', 'senior-pension-assessment'];
/** The service whose clock a booked rehabilitation-team meeting stops (§21 stk. 1). */
export const MEETING_SERVICE = 'rehab-team-advice';
/** Default actor of reminder events. */
export const REMINDER_ACTOR = 'system:deadline-reminders';

export type ReminderType = 'at-risk' | 'overdue';
export const REMINDER_EVENTS: Readonly<Record<ReminderType, CaseEvent>> = {
  'at-risk': 'deadline-at-risk',
  overdue: 'deadline-overdue',
};

/** A reminder recorded for the deadline as it currently stands (same kind and due instant). */
export interface DeadlineFlag {
  type: ReminderType;
  kind: string;
  dueAt: string;
  /** when the reminder was recorded */
  at: string;
}

/**
 * The clock as stored in `cases.clock`: the engine's clock, plus `flags` when
 * an at-risk or overdue reminder has been recorded for a current deadline of a
 * running clock. `flags` is absent otherwise, so an untouched case's clock is
 * exactly the engine's (and the receipt's) shape.
 */
export type CaseClock = Clock & { flags?: DeadlineFlag[] };

export interface DeadlineResult {
  clock: CaseClock;
  warnings: string[];
}

export interface ClockView extends DeadlineResult {
  /** the case's `state` column ('received', 'assigned', 'closed', …) */
  state: string;
}

export interface ExtensionInput {
  /** deadline kind to extend; default: the clock's main deadline (the first) */
  kind?: string;
  dueDate: string;
  reason: string;
  agreedWith: string;
}

export interface StopInput {
  /** instant the clock stops (e.g. the statement was delivered); default now */
  at?: string;
  /** deadline kind the stop is measured against; default the main deadline */
  kind?: string;
}

export interface ReminderInput {
  type: ReminderType;
  kind: string;
  dueAt: string;
}

export type ReminderOutcome = 'recorded' | 'already-recorded' | 'case-gone' | 'case-closed' | 'clock-not-running' | 'due-date-changed';

export interface ReminderResult {
  outcome: ReminderOutcome;
  /** the case's recomputed clock (absent when the case is gone) */
  clock?: CaseClock;
  state?: string;
}

export interface DeadlineServiceDeps {
  db: Db;
  agreements: AgreementLookup;
  log: Logger;
  now?: () => Date;
  /** a deadline is at risk this many working days before it is due (AT_RISK_WORKING_DAYS, default 3) */
  atRiskWorkingDays?: number;
  /** Called after every committed change of a case's clock (e.g. to reschedule its reminders). Errors are logged, never thrown. */
  onChange?: (caseId: string) => void | Promise<void>;
}

const MAX_REASON = 2000;
const MAX_AGREED_WITH = 300;

type CaseFields = CaseClockFields;
interface NewEvent {
  event: CaseEvent;
  data: Record<string, unknown>;
}
interface Loaded {
  row: CaseFields;
  events: EventRow[];
  result: DeadlineResult;
  /** the result of the stored events plus `extra` (not yet inserted) */
  preview(extra: NewEvent[], at: string): DeadlineResult;
}

type Q = Kysely<Database> | Transaction<Database>;

/** Flags for the clock's current deadlines, from the stored reminder events. Pure. */
export function deriveFlags(
  clock: Clock,
  events: readonly { event: string; at: string; data: string | Record<string, unknown> }[],
): DeadlineFlag[] {
  if (clock.status !== 'running') return [];
  const found = new Map<string, DeadlineFlag>();
  for (const e of events) {
    const type = e.event === REMINDER_EVENTS['at-risk'] ? 'at-risk' : e.event === REMINDER_EVENTS.overdue ? 'overdue' : null;
    if (!type) continue;
    const d = (typeof e.data === 'string' ? JSON.parse(e.data) : e.data) as Record<string, unknown>;
    const kind = typeof d.kind === 'string' ? d.kind : undefined;
    const dueAt = typeof d.dueAt === 'string' ? d.dueAt : undefined;
    if (!kind || !dueAt || !isInstantString(dueAt)) continue;
    const current = clock.deadlines.find((x) => x.kind === kind && Date.parse(x.dueAt) === Date.parse(dueAt));
    if (!current) continue; // recorded for a due date that has since changed
    const key = `${type}|${kind}`;
    if (!found.has(key)) found.set(key, { type, kind, dueAt: current.dueAt, at: e.at });
  }
  // Overdue supersedes at-risk for the same deadline.
  return [...found.values()].filter((f) => f.type === 'overdue' || !found.has(`overdue|${f.kind}`));
}

/** The 422 problem for a list of field errors. */
function invalid(errors: FieldError[]): never {
  throw unprocessable(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
}

function dateError(path: string, value: unknown, receivedDate: string): FieldError | null {
  if (!isDateString(value)) {
    return { path, message: `must be a real date written YYYY-MM-DD, got ${JSON.stringify(value ?? null)}`, da: 'Skriv en gyldig dato' };
  }
  if (value < receivedDate) {
    return {
      path,
      message: `${value} is before the case was received (${receivedDate})`,
      da: `Datoen ligger før sagen blev modtaget (${receivedDate})`,
    };
  }
  return null;
}

function statusError(clock: Clock, what: string): FieldError | null {
  switch (clock.status) {
    case 'running':
      return null;
    case 'stopped':
      return {
        path: 'clock',
        message: `the clock stopped at ${clock.stoppedAt ?? '?'} (${clock.outcome ?? '?'}); ${what} cannot be recorded on a stopped clock`,
        da: 'Fristen er stoppet: det kan ikke registreres længere',
      };
    case 'awaiting-complete-case':
      return {
        path: 'clock',
        message: `the clock has not started: the case is awaiting its complete documents (§21 stk. 2); ${what} cannot be recorded yet`,
        da: 'Fristen er ikke startet: sagen afventer sine dokumenter (§ 21, stk. 2)',
      };
    case 'no-deadline-agreed':
      return {
        path: 'clock',
        message: `this case has no deadline (none by statute or agreement); ${what} cannot be recorded`,
        da: 'Sagen har ingen frist (hverken efter loven eller aftalen)',
      };
  }
}

function noSuchDeadline(kind: string | undefined, clock: Clock): string {
  const kinds = clock.deadlines.map((d) => d.kind).join(', ') || 'none';
  return `this case has no deadline of kind ${JSON.stringify(kind ?? null)} (its deadlines: ${kinds})`;
}

function requireActor(actor: string): void {
  if (typeof actor !== 'string' || actor.trim() === '') throw new TypeError('deadline service: an actor is required');
}

export function createDeadlineService(deps: DeadlineServiceDeps) {
  const { db: database, log } = deps;
  const store = createDeadlineStore(database);
  const db = database.db;
  const now = deps.now ?? (() => new Date());
  const atRiskWorkingDays = deps.atRiskWorkingDays ?? 3;

  function agreementFor(row: Pick<CaseFields, 'agreement_id'>): { agreement: Agreement | null; warning?: string } {
    const agreement = deps.agreements.byId(row.agreement_id);
    if (agreement || !row.agreement_id) return { agreement };
    // Decision: the agreement that governed the case has disappeared from the
    // agreements file. The case keeps running on the statutory defaults (so
    // it never silently loses its deadline), and the problem is visible: a
    // warning on the clock, and one log line per agreement id and process (the store's).
    return {
      agreement: null,
      warning:
        `agreement ${row.agreement_id} governs this case but is no longer in the agreements file; ` +
        'statutory defaults are applied until it is restored',
    };
  }

  function compute(
    row: CaseFields,
    events: readonly { event: string; at: string; actor: string; data: string | Record<string, unknown> }[],
  ): DeadlineResult {
    const { agreement, warning } = agreementFor(row);
    const r = computeClock({
      service: row.service as Service,
      urgent: row.urgent === 1,
      receivedAt: row.received_at,
      startedAt: row.clock_started_at,
      agreement,
      events: toClockEvents(events),
    });
    const flags = deriveFlags(r.clock, events);
    const clock: CaseClock = flags.length > 0 ? { ...r.clock, flags } : r.clock;
    return { clock, warnings: warning ? [warning, ...r.warnings] : r.warnings };
  }

  async function load(q: Q, caseId: string, forUpdate: boolean): Promise<Loaded | null> {
    if (typeof caseId !== 'string' || caseId === '') return null;
    // PostgreSQL: serialise changes of one case (read-then-write). SQLite: BEGIN IMMEDIATE already does.
    const row = await store.caseFields(q, caseId, forUpdate);
    if (!row) return null;
    const events = await store.events(q, caseId);
    const result = compute(row, events);
    return {
      row,
      events,
      result,
      preview: (extra, at) => compute(row, [...events, ...extra.map((e) => ({ event: e.event, at, actor: '', data: e.data }))]),
    };
  }

  async function clockOf(caseId: string): Promise<ClockView> {
    const l = await load(db, caseId, false);
    if (!l) throw notFound(`no case ${caseId}`);
    return { ...l.result, state: l.row.state };
  }

  interface Plan {
    events: NewEvent[];
    action: string;
    audit: Record<string, unknown>;
    /** warnings about this change that the engine does not produce */
    extraWarnings?: string[];
  }

  /**
   * One transaction: load (locked), validate and plan, insert the events,
   * recompute, rewrite the clock column, audit. Logs the warnings that are
   * new with this change; calls onChange after the commit.
   */
  interface Applied {
    result: DeadlineResult;
    before: DeadlineResult;
    action: string;
    extra: string[];
  }

  /** Load (locked), plan, insert the events, recompute, rewrite the clock column, audit — inside `trx`. */
  async function applyIn(
    trx: Transaction<Database>,
    caseId: string,
    actor: string,
    plan: (l: Loaded, at: string) => Plan,
    at: string,
  ): Promise<Applied> {
    const l = await load(trx, caseId, true);
    if (!l) throw notFound(`no case ${caseId}`);
    const p = plan(l, at);
    const inserted = p.events.map((e) => ({ case_id: caseId, at, event: e.event, actor, data: JSON.stringify(e.data) }));
    await store.insertEvents(trx, inserted);
    const next = compute(l.row, [...l.events, ...inserted]);
    await store.setClock(trx, caseId, JSON.stringify(next.clock), at);
    await appendAudit(trx, database, {
      at,
      actor,
      action: p.action,
      caseId,
      details: {
        ...p.audit,
        clockStatus: next.clock.status,
        deadlines: next.clock.deadlines.map((d) => ({ kind: d.kind, dueDate: d.dueDate })),
      },
    });
    return { result: next, before: l.result, action: p.action, extra: p.extraWarnings ?? [] };
  }

  /** After the commit: log the new warnings and the recomputed clock, notify (reminders). */
  function committed(caseId: string, actor: string, a: Applied): DeadlineResult {
    const warnings = [...a.extra, ...a.result.warnings];
    const fresh = warnings.filter((w) => !a.before.warnings.includes(w));
    // Only ids, kinds and dates: never CPR numbers, names, reasons or who agreed.
    for (const w of fresh) log.warn({ caseId, action: a.action, warning: w }, 'deadline warning');
    log.info(
      {
        caseId,
        action: a.action,
        actor,
        clockStatus: a.result.clock.status,
        dueDates: a.result.clock.deadlines.map((d) => `${d.kind}:${d.dueDate}`),
      },
      'case clock recomputed',
    );
    notify(caseId);
    return { clock: a.result.clock, warnings };
  }

  /**
   * One transaction: load (locked), validate and plan, insert the events,
   * recompute, rewrite the clock column, audit. Logs the warnings that are
   * new with this change; calls onChange after the commit.
   */
  async function mutate(caseId: string, actor: string, plan: (l: Loaded, at: string) => Plan): Promise<DeadlineResult> {
    requireActor(actor);
    const at = now().toISOString();
    const applied = await db.transaction().execute((trx) => applyIn(trx, caseId, actor, plan, at));
    return committed(caseId, actor, applied);
  }

  function notify(caseId: string): void {
    if (!deps.onChange) return;
    try {
      const r = deps.onChange(caseId);
      if (r && typeof (r as Promise<void>).catch === 'function') {
        (r as Promise<void>).catch((err: unknown) => log.error({ err, caseId }, 'deadline onChange hook failed'));
      }
    } catch (err) {
      log.error({ err, caseId }, 'deadline onChange hook failed');
    }
  }

  /** §23: a consultation is booked; the attest deadline becomes min(consultation + 14, receipt + 30). A rebooking replaces the earlier one. */
  async function bookConsultation(caseId: string, date: string, actor: string): Promise<DeadlineResult> {
    return mutate(caseId, actor, (l, at) => {
      const errors: FieldError[] = [];
      if (!CONSULTATION_SERVICES.includes(l.row.service)) {
        errors.push({
          path: 'service',
          message: `consultations are booked in clinical-assessment and senior-pension-assessment cases (§23, §27); this case is ${l.row.service}`,
        });
      }
      const de = dateError('date', date, localDate(l.row.received_at));
      if (de) errors.push(de);
      // A consultation is a fact worth recording even where no deadline is agreed (no-deadline-agreed); not before the clock starts or after it stopped.
      const se = l.result.clock.status === 'no-deadline-agreed' ? null : statusError(l.result.clock, 'a consultation');
      if (se) errors.push(se);
      if (errors.length) invalid(errors);
      const ev: NewEvent = { event: 'consultation-booked', data: { date } };
      const after = l.preview([ev], at);
      const main = after.clock.deadlines[0];
      if (main) ev.data.recomputedDueDate = main.dueDate; // informational: the main due date right after this booking
      return { events: [ev], action: 'consultation-booked', audit: { date, ...(main ? { dueDate: main.dueDate } : {}) } };
    });
  }

  /**
   * §22 / §23 2. pkt.: "another deadline is agreed" in a concrete case. Needs a
   * reason and who agreed; can only move a deadline later. §21 has no such
   * provision, so the coordinator deadlines (§21 stk. 1 and stk. 3) cannot be
   * extended. Deadlines that exist only by agreement (S§4, §29) can: the
   * parties that set them may agree another in a concrete case.
   */
  async function agreeExtension(caseId: string, input: ExtensionInput, actor: string): Promise<DeadlineResult> {
    return mutate(caseId, actor, (l) => {
      const errors: FieldError[] = [];
      const { clock } = l.result;
      const reason = typeof input?.reason === 'string' ? input.reason.trim() : '';
      const agreedWith = typeof input?.agreedWith === 'string' ? input.agreedWith.trim() : '';
      if (!reason) errors.push({ path: 'reason', message: 'required: why the deadline cannot be met in this case', da: 'Skal udfyldes' });
      else if (reason.length > MAX_REASON) errors.push({ path: 'reason', message: `at most ${MAX_REASON} characters` });
      if (!agreedWith) errors.push({ path: 'agreedWith', message: 'required: with whom the new deadline was agreed', da: 'Skal udfyldes' });
      else if (agreedWith.length > MAX_AGREED_WITH) errors.push({ path: 'agreedWith', message: `at most ${MAX_AGREED_WITH} characters` });
      const de = dateError('dueDate', input?.dueDate, localDate(l.row.received_at));
      if (de) errors.push(de);
      const se = statusError(clock, 'an extension');
      if (se) errors.push(se);
      const kind = input?.kind ?? clock.deadlines[0]?.kind;
      const current = clock.deadlines.find((d) => d.kind === kind);
      if (!se) {
        if (!current) {
          errors.push({ path: 'kind', message: noSuchDeadline(kind, clock), da: 'Sagen har ingen frist af den art' });
        } else if (current.rule.startsWith('§21')) {
          errors.push({
            path: 'kind',
            message: `${current.rule} has no provision for agreeing another deadline in a concrete case (only §22 and §23 have one)`,
            da: 'Fristen i § 21 kan ikke forlænges efter aftale (kun fristerne i § 22 og § 23)',
          });
        } else if (!de) {
          const why = validateExtension(clock, current.kind, input.dueDate);
          if (why) errors.push({ path: 'dueDate', message: why, da: 'Den nye frist skal ligge senere end den nuværende' });
        }
      }
      if (errors.length) invalid(errors);
      const d = current!;
      return {
        events: [
          {
            event: 'extension-agreed',
            data: { kind: d.kind, dueDate: input.dueDate, reason, agreedWith, previousDueDate: d.dueDate, rule: d.rule },
          },
        ],
        action: 'extension-agreed',
        // reason and agreedWith stay in the case history; the audit log keeps no free text about the citizen.
        audit: { kind: d.kind, rule: d.rule, dueDate: input.dueDate, previousDueDate: d.dueDate },
      };
    });
  }

  function stopEvent(l: Loaded, at: string, stopAt: string, kind: string, extra: Record<string, unknown>): NewEvent {
    const ev: NewEvent = { event: 'clock-stopped', data: { at: stopAt, kind, ...extra } };
    const after = l.preview([ev], at).clock;
    const measured = after.deadlines.find((d) => d.kind === kind) ?? after.deadlines[0];
    Object.assign(ev.data, { dueDate: measured?.dueDate ?? null, outcome: after.outcome ?? null, daysLate: after.daysLate ?? null });
    return ev;
  }

  /**
   * §21 stk. 1: a coordinator is booked for the rehabilitation-team meeting on
   * `date`. The booking stops the clock; the outcome is measured by the
   * meeting's date against the due date (met on or before it, else missed by
   * the calendar days between). A moved meeting is booked again: the last
   * booking counts, and the outcome is recomputed.
   */
  async function bookMeeting(caseId: string, date: string, actor: string): Promise<DeadlineResult> {
    return mutate(caseId, actor, (l, at) => {
      const errors: FieldError[] = [];
      if (l.row.service !== MEETING_SERVICE) {
        errors.push({
          path: 'service',
          message: `a rehabilitation-team meeting is booked in rehab-team-advice cases (§21); this case is ${l.row.service}`,
        });
      }
      const de = dateError('date', date, localDate(l.row.received_at));
      if (de) errors.push(de);
      const { clock } = l.result;
      // A clock a meeting stopped takes a moved meeting; any other stop is final.
      const se = clock.status === 'stopped' && clock.meetingDate !== undefined ? null : statusError(clock, 'a meeting');
      if (se) errors.push(se);
      if (errors.length) invalid(errors);
      const main = clock.deadlines.find((d) => d.kind === 'coordinator-available') ?? clock.deadlines[0]!;
      const ev: NewEvent = { event: 'meeting-booked', data: { date } };
      const after = l.preview([ev], at).clock;
      Object.assign(ev.data, {
        dueDate: main.dueDate,
        outcome: after.outcome ?? null,
        daysLate: after.daysLate ?? null,
        ...(clock.meetingDate !== undefined ? { previousDate: clock.meetingDate } : {}),
      });
      const extraWarnings =
        date > main.dueDate ? [`${main.rule}: the meeting on ${date} is after the due date ${main.dueDate} of ${main.kind}`] : [];
      return {
        events: [ev],
        action: clock.meetingDate !== undefined ? 'meeting-moved' : 'meeting-booked',
        audit: { meetingDate: date, kind: main.kind, dueDate: main.dueDate, outcome: after.outcome, daysLate: after.daysLate },
        extraWarnings,
      };
    });
  }

  /**
   * The clock stops (e.g. the statement or attest was delivered): met or
   * missed, with how many days late, against the deadline of `kind` (default
   * the main one). `at` may lie in the past, but not before the clock started
   * or before the latest recorded clock event, and not in the future.
   */
  async function stopClock(caseId: string, input: StopInput, actor: string): Promise<DeadlineResult> {
    return mutate(caseId, actor, stopPlan(input));
  }

  /**
   * The clock stop inside the caller's transaction (e.g. the response that
   * delivers the attest, §15 stk. 2: response, messages and clock stop commit
   * together). Call `committed()` after the caller's commit.
   */
  async function stopClockIn(
    trx: Transaction<Database>,
    caseId: string,
    input: StopInput,
    actor: string,
  ): Promise<{ result: DeadlineResult; committed(): DeadlineResult }> {
    requireActor(actor);
    const a = await applyIn(trx, caseId, actor, stopPlan(input), now().toISOString());
    return { result: { clock: a.result.clock, warnings: a.result.warnings }, committed: () => committed(caseId, actor, a) };
  }

  /**
   * §14 stk. 2, inside the caller's transaction (the attest's): the attest asks
   * for further assessment, so the clock goes on for the overall assessment —
   * with the agreement's deadline, or no-deadline-agreed. Call `committed()`
   * after the caller's commit.
   */
  async function furtherAssessmentIn(
    trx: Transaction<Database>,
    caseId: string,
    actor: string,
    attest: { responseId: string; priceDkk?: number },
  ): Promise<{ result: DeadlineResult; committed(): DeadlineResult }> {
    requireActor(actor);
    const a = await applyIn(
      trx,
      caseId,
      actor,
      () => ({
        // the attest's price for the further assessment is settled when the overall assessment is delivered (§14 stk. 2, §18)
        events: [{ event: 'further-assessment-requested', data: { rule: '§14 stk. 2', ...attest } }],
        action: 'further-assessment-requested',
        audit: {},
      }),
      now().toISOString(),
    );
    return { result: { clock: a.result.clock, warnings: a.result.warnings }, committed: () => committed(caseId, actor, a) };
  }

  function stopPlan(input: StopInput): (l: Loaded, at: string) => Plan {
    return (l, at) => {
      const errors: FieldError[] = [];
      const { clock } = l.result;
      const se = statusError(clock, 'a clock stop');
      if (se) errors.push(se);
      let stopAt = at;
      if (input?.at !== undefined) {
        if (!isInstantString(input.at))
          errors.push({ path: 'at', message: `must be an ISO 8601 instant with an offset, got ${JSON.stringify(input.at)}` });
        else {
          stopAt = toUtcIso(input.at);
          const lastEvent = toClockEvents(l.events).reduce<string | null>(
            (m, e) => (m === null || Date.parse(e.at) > Date.parse(m) ? e.at : m),
            null,
          );
          if (Date.parse(stopAt) > Date.parse(at)) errors.push({ path: 'at', message: `${stopAt} is in the future` });
          else if (clock.startedAt && Date.parse(stopAt) < Date.parse(clock.startedAt))
            errors.push({ path: 'at', message: `${stopAt} is before the clock started (${clock.startedAt})` });
          else if (lastEvent && Date.parse(stopAt) < Date.parse(lastEvent))
            errors.push({ path: 'at', message: `${stopAt} is before the latest recorded clock event (${toUtcIso(lastEvent)})` });
        }
      }
      const kind = input?.kind ?? clock.deadlines[0]?.kind;
      if (!se && !clock.deadlines.some((d) => d.kind === kind)) {
        errors.push({
          path: 'kind',
          message: noSuchDeadline(kind, clock),
        });
      }
      if (errors.length) invalid(errors);
      const stop = stopEvent(l, at, stopAt, kind!, {});
      return {
        events: [stop],
        action: 'clock-stopped',
        audit: { stoppedAt: stopAt, kind, dueDate: stop.data.dueDate, outcome: stop.data.outcome, daysLate: stop.data.daysLate },
      };
    };
  }

  /**
   * Records an at-risk / overdue reminder, but only if it still applies: the
   * case exists and is not closed, its clock runs, it still has this deadline
   * with this due instant, and the reminder was not recorded before. Never
   * throws a Problem; the outcome says what happened.
   */
  async function recordReminder(caseId: string, input: ReminderInput, actor: string = REMINDER_ACTOR): Promise<ReminderResult> {
    requireActor(actor);
    const at = now().toISOString();
    const r = await db.transaction().execute(async (trx): Promise<ReminderResult> => {
      const l = await load(trx, caseId, true);
      if (!l) return { outcome: 'case-gone' };
      const { clock } = l.result;
      const base = { clock, state: l.row.state };
      if (l.row.state === 'closed') return { outcome: 'case-closed', ...base };
      if (clock.status !== 'running') return { outcome: 'clock-not-running', ...base };
      const d = clock.deadlines.find((x) => x.kind === input.kind);
      if (!d || !isInstantString(input.dueAt) || Date.parse(d.dueAt) !== Date.parse(input.dueAt))
        return { outcome: 'due-date-changed', ...base };
      const flags = clock.flags ?? [];
      if (flags.some((f) => f.kind === d.kind && (f.type === input.type || f.type === 'overdue'))) {
        // Repair the cached clock column if a writer that does not know the flags rewrote it.
        const json = JSON.stringify(clock);
        if (l.row.clock !== json) await store.setClock(trx, caseId, json);
        return { outcome: 'already-recorded', ...base };
      }
      const event = REMINDER_EVENTS[input.type];
      const inserted = {
        case_id: caseId,
        at,
        event,
        actor,
        data: JSON.stringify({ kind: d.kind, rule: d.rule, dueDate: d.dueDate, dueAt: d.dueAt }),
      };
      await store.insertEvents(trx, [inserted]);
      const next = compute(l.row, [...l.events, inserted]);
      await store.setClock(trx, caseId, JSON.stringify(next.clock), at);
      await appendAudit(trx, database, {
        at,
        actor,
        action: event,
        caseId,
        details: { kind: d.kind, rule: d.rule, dueDate: d.dueDate, dueAt: d.dueAt },
      });
      return { outcome: 'recorded', clock: next.clock, state: l.row.state };
    });
    if (r.outcome === 'recorded') notify(caseId);
    return r;
  }

  /** The agreement that governs a package: the one in force for its sender on the local date of receipt. */
  function governingAgreement(sender: Pick<Party, 'kind' | 'id'>, municipalityCode: string, receivedAt: string): Agreement | null {
    const key = sender.kind === 'senior-pension-unit' ? { partyId: sender.id } : { municipalityCode };
    return deps.agreements.inForce(key, localDate(receivedAt));
  }

  /**
   * The clock a receipt carries: the engine's computation from the case's
   * fields and every stored event (so a supplement keeps a booked
   * consultation or an agreed extension), without reminder flags.
   */
  function receiptClock(
    row: Pick<CaseFields, 'service' | 'urgent' | 'received_at' | 'clock_started_at' | 'agreement_id'>,
    events: readonly StoredEvent[],
  ): Clock {
    return computeClock({
      service: row.service as Service,
      urgent: row.urgent === 1,
      receivedAt: row.received_at,
      startedAt: row.clock_started_at,
      agreement: agreementFor(row).agreement,
      events: toClockEvents(events),
    }).clock;
  }

  /** `overdue` when a running deadline has passed, `at-risk` within AT_RISK_WORKING_DAYS of one, else null. */
  function alertOf(clock: Clock | null, at: Date = now()): 'overdue' | 'at-risk' | null {
    if (!clock || clock.status !== 'running') return null;
    const t = at.getTime();
    if (clock.deadlines.some((d) => Date.parse(d.dueAt) < t)) return 'overdue';
    return clock.deadlines.some((d) => t >= atRiskInstant(d.dueDate, atRiskWorkingDays)) ? 'at-risk' : null;
  }

  /**
   * The case's consultation (§13 stk. 2, §23): the last booking counts; it is
   * held once its date is not after today (Europe/Copenhagen). A future date
   * is a booking, not a held consultation.
   */
  async function heldConsultation(caseId: string): Promise<{ held: boolean; date: string | null }> {
    const events = await store.events(db, caseId);
    const last = events.filter((e) => e.event === 'consultation-booked').at(-1);
    const date = last ? ((JSON.parse(last.data) as { date?: string }).date ?? null) : null;
    return { held: date !== null && date <= localDate(now().toISOString()), date };
  }

  /** Open cases whose clock has started, a page at a time (the reminders' reconciler). */
  const startedOpenCases = (afterId: string, limit: number) => store.startedOpenCases(afterId, limit);

  /** §16 stk. 3–4: the supplementary service `serviceId` as the case's agreement defines it, if it does. */
  function supplementaryService(agreementId: string | null, serviceId: string): SupplementaryService | undefined {
    return deps.agreements.byId(agreementId)?.services?.find((x) => x.id === serviceId);
  }

  /** §14 stk. 4: the procedure the case's agreement sets instead of §14 stk. 2–3, if it does. */
  function attestProcedure(agreementId: string | null): string | undefined {
    return deps.agreements.byId(agreementId)?.attestProcedure;
  }

  return {
    stopClockIn,
    furtherAssessmentIn,
    supplementaryService,
    attestProcedure,
    clockOf,
    bookConsultation,
    agreeExtension,
    bookMeeting,
    stopClock,
    recordReminder,
    governingAgreement,
    receiptClock,
    heldConsultation,
    alertOf,
    startedOpenCases,
    atRiskWorkingDays,
  };
}

export { atRiskInstant, daysBetween, localDate, localDateTime };

export type DeadlineService = ReturnType<typeof createDeadlineService>;
