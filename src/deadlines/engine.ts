/**
 * The deadline engine: computes a case's clock (the receipt's `clock` object)
 * from its inputs. Pure and deterministic: the same input always gives the
 * same output; nothing is read from the system clock or the disk.
 *
 * Rules (RULES.md "Services", "Counting days"; source: bekendtgørelse §§20–24,
 * §29 and S§4):
 * - day 0 is the local date (Europe/Copenhagen) of the clock start; the day
 *   of receipt is not counted; N calendar days; the deadline ends at
 *   23:59:59.999 local time on day N;
 * - a due day that is a Saturday, Sunday, public holiday, 5 June, 24 Dec or
 *   31 Dec moves to the next open day, unless the agreement switches this off;
 * - an explicitly agreed extension date is used as it is (no roll-forward).
 */
import { isDateString } from '../shared/identifiers.js';
import { addDays, daysBetween, endOfLocalDay, isInstantString, localDate, rollForward as rollToOpenDay, toUtcIso } from './calendar.js';
import {
  isService,
  type Agreement,
  type Clock,
  type ClockEvent,
  type ClockInput,
  type ClockResult,
  type Deadline,
  type Service,
} from './types.js';

export type { ClockInput, ClockResult } from './types.js';

/** Statutory defaults ("hvis ikke andet er aftalt"). Services absent here have none (S§4, §29). */
export const STATUTORY_DAYS: Readonly<Partial<Record<Service, number>>> = {
  'rehab-team-advice': 14, // §21 stk. 1
  'ongoing-case-advice': 14, // §22
  'early-pension-statement': 14, // §22: "sager om ... førtidspension"
  'clinical-assessment': 30, // §23: 30 days after the request was received
};

/** §23: the attest is due no later than 14 days after the consultation. */
export const CONSULTATION_DAYS = 14;

interface ServiceRule {
  kind: string;
  rule: string;
}

export const SERVICE_RULES: Readonly<Record<Service, ServiceRule>> = {
  'rehab-team-advice': { kind: 'coordinator-available', rule: '§21 stk. 1' },
  'ongoing-case-advice': { kind: 'statement', rule: '§22' },
  'early-pension-statement': { kind: 'statement', rule: '§22' },
  'clinical-assessment': { kind: 'attest', rule: '§23' },
  'resource-course-conversation': { kind: 'statement', rule: 'S§4' },
  'senior-pension-advice': { kind: 'advice', rule: '§29' },
  'senior-pension-assessment': { kind: 'attest', rule: '§29' },
};

export const URGENT_RULE: ServiceRule = { kind: 'urgent-target', rule: '§21 stk. 3' };
/** A supplementary service the agreement defines (§16 stk. 3–4). */
const SUPPLEMENTARY_RULE: ServiceRule = { kind: 'service', rule: '§16 stk. 3' };

function agreementSource(a: Agreement): string {
  return `agreement:${a.id}`;
}

function makeDeadline(kind: string, rule: string, dueDate: string, source: string): Deadline {
  return { kind, rule, dueDate, dueAt: endOfLocalDay(dueDate), source };
}

function minDate(a: string, b: string): string {
  return a <= b ? a : b;
}

interface IndexedEvent {
  ev: ClockEvent;
  ms: number;
  index: number;
}

/** Events in chronological order of `at`; equal instants keep their input order. Invalid ones are reported and dropped. */
function orderEvents(events: readonly ClockEvent[], warnings: string[]): IndexedEvent[] {
  const out: IndexedEvent[] = [];
  events.forEach((ev, index) => {
    if (!ev || typeof ev !== 'object' || !isInstantString((ev as { at?: unknown }).at)) {
      warnings.push(`event #${index} ignored: "at" must be an ISO 8601 instant with an offset`);
      return;
    }
    out.push({ ev, ms: Date.parse(ev.at), index });
  });
  out.sort((p, q) => p.ms - q.ms || p.index - q.index);
  return out;
}

/**
 * Compute the clock of a case. Throws RangeError/TypeError only for malformed
 * core input (unknown service, unparsable instants); problems with individual
 * events are reported in `warnings` and the event is ignored.
 */
export function computeClock(input: ClockInput): ClockResult {
  // §14 stk. 2: an attest that asks for further assessment ends the attest's clock; a second
  // phase runs for the overall assessment, with the agreement's deadline or none.
  const further = (input.events ?? []).findIndex((e) => e?.event === 'further-assessment-requested');
  if (further >= 0 && input.startedAt !== null) return overallAssessmentClock(input, further);
  const warnings: string[] = [];
  const { service, agreement } = input;
  const supplementary = isService(service) ? undefined : agreement?.services?.find((x) => x.id === service);
  if (!isService(service) && typeof service !== 'string') throw new TypeError(`computeClock: unknown service ${JSON.stringify(service)}`);
  if (!isInstantString(input.receivedAt)) {
    throw new RangeError(`computeClock: receivedAt must be an ISO 8601 instant with an offset, got ${JSON.stringify(input.receivedAt)}`);
  }
  if (input.startedAt !== null && !isInstantString(input.startedAt)) {
    throw new RangeError(
      `computeClock: startedAt must be an ISO 8601 instant with an offset or null, got ${JSON.stringify(input.startedAt)}`,
    );
  }
  const events = orderEvents(input.events ?? [], warnings);

  if (input.startedAt === null) {
    if (events.length > 0) {
      warnings.push(`${events.length} clock event(s) ignored: the clock has not started because the case is not complete (§21 stk. 2)`);
    }
    return { clock: { status: 'awaiting-complete-case', startedAt: null, deadlines: [] }, warnings };
  }

  const startedAt = toUtcIso(input.startedAt);
  const day0 = localDate(startedAt);
  const roll = agreement?.rollForward !== false;
  const due = (from: string, n: number): string => (roll ? rollToOpenDay(addDays(from, n)) : addDays(from, n));

  if (agreement) {
    const receivedDate = localDate(input.receivedAt);
    if (receivedDate < agreement.validFrom || (agreement.validTo !== null && receivedDate > agreement.validTo)) {
      warnings.push(
        `agreement ${agreement.id} is applied but is not in force on the receipt date ${receivedDate} ` +
          `(valid ${agreement.validFrom} to ${agreement.validTo ?? 'open-ended'})`,
      );
    }
  }

  // The clock stops once: the first clock-stopped event counts; later events do not change the clock.
  const stopIdx = events.findIndex((e) => e.ev.event === 'clock-stopped');
  const stop = stopIdx >= 0 ? events[stopIdx]! : undefined;
  const effective = stop ? events.slice(0, stopIdx) : events;
  if (stop) {
    const after = events.slice(stopIdx + 1);
    if (after.length > 0) {
      warnings.push(`${after.length} event(s) recorded after the clock stopped at ${toUtcIso(stop.ev.at)} are ignored`);
    }
  }

  const { kind, rule } = isService(service) ? SERVICE_RULES[service] : SUPPLEMENTARY_RULE;
  const agreed = isService(service) ? agreement?.deadlines[service] : supplementary?.deadlineDays;
  const deadlines: Deadline[] = [];

  if (!isService(service)) {
    // §16 stk. 3–4: the agreement alone sets a supplementary service's deadline; there is no statutory default.
    if (agreed === undefined) {
      const why = supplementary
        ? `agreement ${agreement!.id} sets no deadline for ${service}`
        : `${service} is defined by no agreement in force for this case`;
      warnings.push(`${rule}: ${why}; the clock has no deadline`);
      return { clock: { status: 'no-deadline-agreed', startedAt, deadlines: [] }, warnings };
    }
    deadlines.push(makeDeadline(kind, rule, due(day0, agreed), agreementSource(agreement!)));
  } else if (service === 'clinical-assessment') {
    const days = agreed ?? STATUTORY_DAYS[service]!;
    const requestLeg = due(day0, days);
    const requestSource = agreed !== undefined ? agreementSource(agreement!) : 'default';
    let consultation: string | null = null;
    for (const { ev, index } of effective) {
      if (ev.event !== 'consultation-booked') continue;
      if (!isDateString(ev.date)) {
        warnings.push(`consultation-booked event #${index} ignored: date must be a real date YYYY-MM-DD`);
        continue;
      }
      consultation = ev.date; // the latest booking counts (rebooking)
    }
    if (consultation === null) {
      deadlines.push(makeDeadline(kind, rule, requestLeg, requestSource));
    } else {
      const consultationLeg = due(consultation, CONSULTATION_DAYS);
      if (consultation < day0) {
        warnings.push(`§23: the consultation date ${consultation} is before the clock started (${day0}); check the booking`);
      }
      if (consultation > requestLeg) {
        warnings.push(
          `§23: the consultation on ${consultation} is after the ${days}-day due date ${requestLeg}; ` +
            'the attest cannot be delivered in time unless another deadline is agreed (§23, 2. pkt.)',
        );
      } else if (consultationLeg >= requestLeg) {
        warnings.push(
          `§23: the consultation on ${consultation} is booked so late that consultation + ${CONSULTATION_DAYS} days (${consultationLeg}) ` +
            `is not earlier than the ${days}-day due date ${requestLeg}; the attest must be delivered by ${requestLeg}`,
        );
      }
      if (consultationLeg < requestLeg) deadlines.push(makeDeadline(kind, rule, consultationLeg, 'default'));
      else deadlines.push(makeDeadline(kind, rule, requestLeg, requestSource));
    }
  } else {
    const days = agreed ?? STATUTORY_DAYS[service as Service];
    if (days === undefined) {
      const who = agreement ? `agreement ${agreement.id} sets no deadline for ${service}` : 'no agreement is in force';
      warnings.push(`${rule}: ${service} has no statutory deadline and ${who}; the clock has no deadline`);
      if (stop) warnings.push('clock-stopped ignored: there is no deadline to measure against');
      return { clock: { status: 'no-deadline-agreed', startedAt, deadlines: [] }, warnings };
    }
    const main = makeDeadline(kind, rule, due(day0, days), agreed !== undefined ? agreementSource(agreement!) : 'default');
    deadlines.push(main);
    if (service === 'rehab-team-advice' && input.urgent) {
      const target = agreement?.deadlines.urgent;
      if (target !== undefined) {
        const urgentDue = due(day0, target);
        if (urgentDue > main.dueDate) {
          warnings.push(
            `§21 stk. 3: the agreed urgent target of ${target} days (${urgentDue}) is later than the ${rule} deadline ${main.dueDate}; ` +
              `the urgent target is capped at ${main.dueDate}`,
          );
        }
        deadlines.push(makeDeadline(URGENT_RULE.kind, URGENT_RULE.rule, minDate(urgentDue, main.dueDate), agreementSource(agreement!)));
      }
    }
  }

  // Extensions (§22 / §23 2. pkt.): the latest agreed extension per kind replaces the due date.
  const latestExtension = new Map<string, Extract<ClockEvent, { event: 'extension-agreed' }>>();
  for (const { ev, index } of effective) {
    if (ev.event !== 'extension-agreed') continue;
    if (!isDateString(ev.dueDate)) {
      warnings.push(`extension-agreed event #${index} ignored: dueDate must be a real date YYYY-MM-DD`);
      continue;
    }
    if (!deadlines.some((d) => d.kind === ev.kind)) {
      warnings.push(`extension-agreed event #${index} ignored: this clock has no deadline of kind "${ev.kind}"`);
      continue;
    }
    latestExtension.set(ev.kind, ev);
  }
  for (let i = 0; i < deadlines.length; i++) {
    const d = deadlines[i]!;
    const ext = latestExtension.get(d.kind);
    if (!ext) continue;
    if (ext.dueDate < d.dueDate) {
      warnings.push(
        `extension of ${d.kind} (${d.rule}) to ${ext.dueDate} is earlier than the computed due date ${d.dueDate}; recorded as agreed`,
      );
    }
    deadlines[i] = {
      ...d,
      dueDate: ext.dueDate,
      dueAt: endOfLocalDay(ext.dueDate),
      originalDueDate: d.dueDate,
      extension: { reason: ext.reason, agreedWith: ext.agreedWith },
    };
  }

  const clock: Clock = { status: 'running', startedAt, deadlines };

  // §21 stk. 1: the coordinator is available for a meeting held no later than the due date. Booking the
  // meeting stops the clock; what counts is the meeting's date, and the last booking (a moved meeting).
  if (service === 'rehab-team-advice') {
    let meeting: { date: string; at: string } | null = null;
    for (const { ev, index } of events) {
      if (ev.event !== 'meeting-booked') continue;
      if (!isDateString(ev.date)) {
        warnings.push(`meeting-booked event #${index} ignored: date must be a real date YYYY-MM-DD`);
        continue;
      }
      meeting = { date: ev.date, at: ev.at };
    }
    if (meeting) {
      const measured = deadlines[0]!;
      const met = meeting.date <= measured.dueDate;
      clock.status = 'stopped';
      clock.stoppedAt = toUtcIso(meeting.at);
      clock.meetingDate = meeting.date;
      clock.outcome = met ? 'met' : 'missed';
      clock.daysLate = met ? 0 : daysBetween(measured.dueDate, meeting.date);
      const urgentTarget = deadlines.find((d) => d.kind === URGENT_RULE.kind);
      if (urgentTarget && meeting.date > urgentTarget.dueDate)
        warnings.push(`§21 stk. 3: the urgent target ${urgentTarget.dueDate} was missed`);
      return { clock, warnings };
    }
  }

  if (stop && stop.ev.event === 'clock-stopped') {
    const stopKind = stop.ev.kind;
    let measured = deadlines[0]!;
    if (stopKind !== undefined) {
      const match = deadlines.find((d) => d.kind === stopKind);
      if (match) measured = match;
      else warnings.push(`clock-stopped names kind "${stopKind}", which this clock does not have; measured against ${measured.kind}`);
    }
    const stoppedAt = toUtcIso(stop.ev.at);
    const met = Date.parse(stoppedAt) <= Date.parse(measured.dueAt);
    clock.status = 'stopped';
    clock.stoppedAt = stoppedAt;
    clock.outcome = met ? 'met' : 'missed';
    clock.daysLate = met ? 0 : Math.max(0, daysBetween(measured.dueDate, localDate(stoppedAt)));
    const urgentTarget = deadlines.find((d) => d.kind === URGENT_RULE.kind);
    if (urgentTarget && urgentTarget !== measured && Date.parse(stoppedAt) > Date.parse(urgentTarget.dueAt)) {
      warnings.push(`§21 stk. 3: the urgent target ${urgentTarget.dueDate} was missed`);
    }
  }
  return { clock, warnings };
}

/**
 * Check a proposed extension before it is recorded. Returns a message saying
 * why it is refused, or null if it may be recorded. An extension may not move
 * a deadline earlier than its current due date; it needs a running clock.
 */
export function validateExtension(clock: Clock, kind: string, dueDate: string): string | null {
  if (!isDateString(dueDate)) return `dueDate must be a real date written YYYY-MM-DD, got ${JSON.stringify(dueDate)}`;
  if (clock.status === 'awaiting-complete-case') {
    return 'the clock has not started (the case is not complete), so there is no deadline to extend';
  }
  if (clock.status === 'no-deadline-agreed')
    return 'this case has no deadline (none is set by statute or agreement), so there is nothing to extend';
  if (clock.status === 'stopped') return `the clock stopped at ${clock.stoppedAt ?? '?'}; a stopped deadline cannot be extended`;
  const current = clock.deadlines.find((d) => d.kind === kind);
  if (!current) {
    const kinds = clock.deadlines.map((d) => d.kind).join(', ') || 'none';
    return `this case has no deadline of kind "${kind}" (its deadlines: ${kinds})`;
  }
  if (dueDate < current.dueDate) {
    return (
      `refused: ${dueDate} is earlier than the current due date ${current.dueDate} of ${kind} (${current.rule}); ` +
      'an extension can only move a deadline later'
    );
  }
  return null;
}

/** The clock after an attest asked for further assessment (§14 stk. 2): the overall assessment's deadline, if agreed. */
function overallAssessmentClock(input: ClockInput, furtherIndex: number): ClockResult {
  const events = input.events ?? [];
  const request = events[furtherIndex]!;
  const first = computeClock({ ...input, events: events.slice(0, furtherIndex) });
  const attest = { stoppedAt: first.clock.stoppedAt ?? toUtcIso(request.at), outcome: first.clock.outcome, daysLate: first.clock.daysLate };
  const warnings = [...first.warnings];
  const days = input.agreement?.deadlines['overall-assessment'];
  const startedAt = toUtcIso(request.at);
  if (days === undefined) {
    warnings.push('§14 stk. 2: no deadline for the overall assessment is agreed; the clock has no deadline');
    return { clock: { status: 'no-deadline-agreed', startedAt, deadlines: [], attest }, warnings };
  }
  const roll = input.agreement?.rollForward !== false;
  const dueDate = roll ? rollToOpenDay(addDays(localDate(startedAt), days)) : addDays(localDate(startedAt), days);
  const deadline = makeDeadline('overall-assessment', '§14 stk. 2', dueDate, agreementSource(input.agreement!));
  const clock: Clock = { status: 'running', startedAt, deadlines: [deadline], attest };
  const stop = events.slice(furtherIndex + 1).find((e) => e.event === 'clock-stopped');
  if (stop) {
    const stoppedAt = toUtcIso(stop.at);
    const met = Date.parse(stoppedAt) <= Date.parse(deadline.dueAt);
    clock.status = 'stopped';
    clock.stoppedAt = stoppedAt;
    clock.outcome = met ? 'met' : 'missed';
    clock.daysLate = met ? 0 : Math.max(0, daysBetween(deadline.dueDate, localDate(stoppedAt)));
  }
  return { clock, warnings };
}

/** A deadline without its extension's reason (its `source` and `originalDueDate` still show it was moved; the extensions list says with whom). */
export function senderDeadline<D extends Pick<Deadline, 'extension'>>(d: D): Omit<D, 'extension'> {
  const { extension: _extension, ...rest } = d;
  return rest;
}

/**
 * The clock as the case's sender sees it, in its case view and in the receipt of a supplement: every
 * date and §, never the staff member's reason for an extension (issue 15, "staff reasons shown to senders").
 */
export function senderClock(clock: Clock): Clock {
  return { ...clock, deadlines: clock.deadlines.map(senderDeadline) };
}
