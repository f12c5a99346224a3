/**
 * Every event a case's history (the `case_events` table) can hold, in one
 * list: each feature that writes one types it as a `CaseEvent`, so a new
 * event does not compile until it is named here, and the staff pages' test
 * holds every name here to a Danish label (src/web/labels.ts).
 */
export const CASE_EVENTS = [
  // intake (§21 stk. 2: the clock starts when the case is complete)
  'received',
  'supplement-received',
  'awaiting-complete-case',
  'clock-started',
  // routing (§12 stk. 2, §25 stk. 3)
  'assigned',
  'unassigned',
  'conflict-declared',
  'coordinator-change',
  // deadlines (§21–23, §14 stk. 2) and their reminders
  'meeting-booked',
  'consultation-booked',
  'extension-agreed',
  'clock-stopped',
  'further-assessment-requested',
  'deadline-at-risk',
  'deadline-overdue',
  // responses (§11 stk. 3) and the state each message starts in
  'response-submitted',
  'citizen-conversation-held',
  'message-queued',
  'message-no-recipient-system',
  'message-invalid',
  'gp-ydernummer-given',
  'gp-message-resolved',
  // delivery: push, the mailbox, a team lead's retry
  'message-pushed',
  'message-acknowledged',
  'message-fetched',
  'message-dead-lettered',
  'message-retried',
  // MedCom: sent, sent again, acknowledged (or not)
  'medcom-sent',
  'medcom-resend',
  'medcom-unacknowledged',
  'medcom-acknowledged',
  'medcom-transient-error',
  'medcom-fatal-error',
  // VANS: the network's receipt of one of our envelopes (not the MedCom acknowledgement)
  'medcom-vans-receipt',
  'medcom-vans-negative-receipt',
  // retention (issue 15)
  'legal-hold-placed',
  'legal-hold-lifted',
  'purged',
] as const;

export type CaseEvent = (typeof CASE_EVENTS)[number];

const KNOWN: ReadonlySet<string> = new Set(CASE_EVENTS);

/** True for an event named above (a stored row is a plain string). */
export const isCaseEvent = (event: string): event is CaseEvent => KNOWN.has(event);
