/**
 * Issue 15, "staff reasons shown to senders": what a case's sender (the
 * municipality or Seniorpensionsenheden) sees of the region's work on it.
 *
 * A sender sees that something happened — the event, when, the § it names and
 * its structured facts (dates, rounds, message ids, delivery states) — never a
 * text a staff member typed as a reason (of a conflict under §12 stk. 2, of an
 * extension under §22/§23) and never who at the region did it: the region's
 * events show the actor `region`. With whom at the sender an extension was
 * agreed (`agreedWith`) names the sender's own people and stays. The sender's own events
 * (its packages, its §25 stk. 3 request) are shown as recorded. The staff
 * member assigned to the case stays visible (`assignedTo`, the `assigned`
 * event's `staffId`): the sender needs it to ask for another coordinator.
 *
 * The data of an event is filtered by an allow-list, so a new event with a
 * free-text field shows nothing of it to senders until it is added here.
 */
import { senderClock, senderDeadline } from '../deadlines/engine.js';
import type { CaseView, Extension } from './schema.js';

/** The actor a sender sees for whatever the region (its staff and its processes) did. */
export const REGION_ACTOR = 'region';

/** Event data a sender sees: structured facts only. */
const SENDER_DATA = new Set([
  'agreedWith',
  'at',
  'code',
  'copy',
  'date',
  'daysLate',
  'deadlines',
  'documents',
  'dueDate',
  'kind',
  'messageId',
  'missingDocuments',
  'outcome',
  'packageId',
  'previousDueDate',
  'receiptId',
  'responseId',
  'round',
  'rule',
  'rules',
  'sha256',
  'staffConsidered',
  'state',
  'to',
  'transport',
  'ydernummer',
  'ackId',
]);

/** Events whose `staffId` is the staff member the case is (or was) assigned to: meant for the sender. */
const ASSIGNEE_EVENTS = new Set(['assigned']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type HistoryEntry = CaseView['history'][number];

/** One history entry as `viewerId` (the case's sender) sees it. */
export function senderHistoryEntry(e: HistoryEntry, viewerId: string): HistoryEntry {
  if (e.actor === viewerId) return e;
  const out: HistoryEntry = { at: e.at, event: e.event, actor: REGION_ACTOR };
  if (!isRecord(e.data)) return out;
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.data)) {
    if (k === 'staffId' && ASSIGNEE_EVENTS.has(e.event)) data[k] = v;
    else if (k === 'deadlines' && Array.isArray(v)) data[k] = v.map((d) => (isRecord(d) ? senderDeadline(d) : d));
    else if (SENDER_DATA.has(k)) data[k] = v;
  }
  return { ...out, data };
}

/** The case view as its sender sees it. */
export function senderCaseView(view: CaseView, viewerId: string): CaseView {
  return {
    ...view,
    clock: senderClock(view.clock),
    history: view.history.map((e) => senderHistoryEntry(e, viewerId)),
  };
}

/** An agreed extension as the sender sees it: the dates, the § and who at its side agreed; not the staff member's reason or name. */
export function senderExtension(e: Extension): Extension {
  const { reason: _reason, recordedBy: _recordedBy, ...rest } = e;
  return rest;
}
