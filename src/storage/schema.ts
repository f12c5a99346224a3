/**
 * The relational schema, one definition for both dialects (better-sqlite3 and
 * PostgreSQL). Conventions that keep the two dialects identical:
 * - instants are ISO-8601 UTC strings with milliseconds (`2026-12-18T09:41:07.123Z`);
 * - booleans are integers 0/1;
 * - JSON is stored as text;
 * - binary values (receipt bytes, signatures, encrypted manifests) are stored as
 *   blobs (`bytea` in PostgreSQL) and surface as Buffer / Uint8Array.
 */
import type { ColumnType, Generated, Selectable } from 'kysely';

export interface CasesTable {
  id: string; // caseId (uuid)
  sender_party_id: string;
  municipality_code: string;
  service: string;
  case_type: string;
  /** 1 when the manifest carried `urgent` (§21 stk. 3) */
  urgent: number;
  /** 'received' | 'awaiting-complete-case' | 'unassigned' | 'assigned' | 'closed' */
  state: string;
  /** 1 when the required documents are present (§21 stk. 2) */
  complete: number;
  /** receipt instant of the first package of the case */
  received_at: string;
  /** instant at which the clock started (the completing package's receipt), or null */
  clock_started_at: string | null;
  /** agreement in force on the local date of receipt, or null (defaults) */
  agreement_id: string | null;
  /**
   * HMAC-SHA256 of the citizen's CPR number under a key derived from the master
   * key: links a citizen's cases (e.g. §13 stk. 3, who was the coordinator)
   * without storing the CPR number in clear.
   */
  citizen_ref: string;
  /** citizen's GP ydernummer (6 digits) or null; needed by routing (§12 stk. 2) and delivery (§15 stk. 2) */
  gp_ydernummer: string | null;
  /** JSON array of treating clinicians' identifiers (§12 stk. 2); sealed (src/storage/fields.ts) */
  treating_clinicians: string;
  /** JSON object of consents (§5 stk. 2, §13 stk. 3) */
  consents: string;
  /** the first manifest, AES-256-GCM encrypted under the master key (it holds CPR and names) */
  manifest_enc: Uint8Array;
  /** current clock as JSON (same shape as the receipt's `clock`) */
  clock: string;
  assigned_to: string | null;
  created_at: string;
  updated_at: string;
  /** incremented whenever the case goes (back) to routing; part of the routing job id */
  routing_round: Generated<number>;
  assigned_at: string | null;
  /** JSON array of staff ids who declared a conflict (§12 stk. 2): never assigned this case again */
  conflicts: Generated<string>;
  /** JSON: why nobody was eligible when the state is 'unassigned' */
  routing_note: string | null;
  /** JSON: what the requester asked for beyond the service, e.g. { "preMeetingAdviceRequested": true } (§6 stk. 1) */
  requests: Generated<string>;
  /** issue 15, retention (0013): when the case was closed; the purge counts RETENTION_DAYS_AFTER_CLOSE from it */
  closed_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** a team lead's legal hold: the reason (sealed), who placed it and when; a held case is never purged */
  hold_reason: ColumnType<string | null, string | null | undefined, string | null>;
  hold_by: ColumnType<string | null, string | null | undefined, string | null>;
  hold_at: ColumnType<string | null, string | null | undefined, string | null>;
  /** when the documents and personal fields were deleted; the case's evidence (receipts, digests, audit) stays */
  purged_at: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface PackagesTable {
  id: string; // internal uuid
  sender_party_id: string;
  package_id: string; // chosen by the sender; unique per sender forever
  case_id: string;
  /** sha256 over the canonical manifest and the documents' hashes: decides 200 vs 409 on a repeat */
  content_sha256: string;
  manifest_sha256: string;
  /** 1 when this package is a supplement (`supplementTo`) */
  is_supplement: number;
  received_at: string;
}

export interface DocumentsTable {
  id: string; // uuid
  case_id: string;
  package_row_id: string;
  part: string;
  type: string;
  /** the document's title, sealed (src/storage/fields.ts) */
  title: string | null;
  media_type: string;
  size: number;
  sha256: string;
  /** key in the blob store */
  blob_key: string;
  created_at: string;
}

export interface ReceiptsTable {
  id: string; // receiptId
  package_row_id: string;
  case_id: string;
  sender_party_id: string;
  /** exactly the signed bytes */
  body: Uint8Array;
  /** DER CMS SignedData, detached */
  signature: Uint8Array;
  created_at: string;
}

export interface AuditLogTable {
  seq: Generated<number>;
  at: string;
  actor: string;
  action: string;
  case_id: string | null;
  /** JSON; never contains CPR numbers, names or document bytes */
  details: string;
  prev_hash: string;
  hash: string;
  /** HMAC-SHA256 under the audit key (src/audit/audit.ts); null for entries written before the key (migration 0011) */
  mac: ColumnType<string | null, string | null | undefined, string | null>;
}

/** The seal of the keyed chain's start (0015): HMAC-SHA256 under the audit key over audit_chain's after_seq and key_id. */
export interface AuditChainSealTable {
  id: number;
  mac: string;
  created_at: string;
}

/** Where the keyed (HMAC) audit chain begins: one row (migration 0011). */
export interface AuditChainTable {
  id: number;
  /** entries with a greater seq carry a mac; up to it they were written before the key */
  after_seq: number;
  /** id of the AUDIT_KEY_FILE key (src/audit/audit.ts auditKeyId), never the key */
  key_id: string;
  created_at: string;
}

/** issue 15: a receipt's RFC 3161 timestamp; stamped_at NULL while it waits for the TSA (src/timestamps). */
export interface ReceiptTimestampsTable {
  receipt_id: string;
  /** when the receipt committed */
  created_at: string;
  stamped_at: string | null;
  tsa_url: string | null;
  /** ISO-8601 UTC: the TSA's genTime */
  gen_time: string | null;
  serial_number: string | null;
  /** the TimeStampToken (CMS ContentInfo, DER) over SHA-256 of the receipt signature's value */
  token: Uint8Array | null;
  /** the whole TimeStampResp (DER), as served at /v1/receipts/{id}/timestamp */
  response: Uint8Array | null;
  attempts: Generated<number>;
  last_error: string | null;
}

/** A timestamped head of the audit chain (src/audit/anchors.ts). */
export interface AuditAnchorsTable {
  seq: number;
  hash: string;
  tsa_url: string;
  /** ISO-8601 UTC: the TSA's genTime */
  gen_time: string;
  serial_number: string;
  /** the RFC 3161 TimeStampToken (CMS ContentInfo, DER) */
  token: Buffer;
  created_at: string;
}

export interface CaseEventsTable {
  id: Generated<number>;
  case_id: string;
  at: string;
  /** e.g. 'received', 'clock-started', 'awaiting-complete-case', 'supplement-received', 'consultation-booked', 'extension-agreed', 'clock-stopped' */
  event: string;
  actor: string;
  /** JSON payload of the event; the values of its free-text keys (`reason`, `agreedWith`) are sealed (src/storage/fields.ts) */
  data: string;
}

/**
 * Transactional outbox: work for BullMQ written in the same transaction as
 * the state change that needs it; the relay enqueues and deletes the rows.
 */
export interface OutboxTable {
  id: string;
  /** the queue the job is for, e.g. 'routing' */
  topic: string;
  /** deterministic BullMQ job id, so a row relayed twice is one job */
  job_id: string;
  /** JSON job data: ids only */
  payload: string;
  /** BullMQ priority (1 = first); 0 = none */
  priority: Generated<number>;
  created_at: string;
}

export interface ResponsesTable {
  id: string;
  case_id: string;
  kind: string;
  author: string;
  /** the structured content (JSON), sealed under the master key */
  content_enc: Uint8Array;
  media_type: string;
  size: number;
  sha256: string;
  blob_key: string;
  created_at: string;
}

/**
 * A message's state. Our JSON envelope (to municipalities): queued → pushed |
 * acknowledged (mailbox), or dead-lettered. A MedCom message (to GPs):
 * queued → sent (handed to the transport) → acknowledged | transient-error |
 * fatal-error by the MedCom acknowledgement; without one in time it is sent
 * again (queued), at most twice, then unacknowledged. `invalid`: failed
 * validation against the MedCom profiles, never sent. `no-recipient-system`:
 * nobody to send it to.
 */
export type MessageState =
  | 'queued'
  | 'pushed'
  | 'sent'
  | 'acknowledged'
  | 'transient-error'
  | 'fatal-error'
  | 'unacknowledged'
  | 'invalid'
  | 'dead-lettered'
  | 'no-recipient-system';

export interface MessagesTable {
  id: string;
  response_id: string;
  case_id: string;
  kind: string;
  recipient_party_id: string | null;
  recipient_ydernummer: string | null;
  copy: number;
  sent_at: string;
  state: MessageState;
  /** sealed JSON { head, tail }: the envelope bytes are head + base64(document) + tail */
  envelope_enc: Uint8Array;
  envelope_size: number;
  envelope_sha256: string;
  /** DER CMS SignedData, detached, over the envelope bytes */
  signature: Uint8Array;
  push_attempts: Generated<number>;
  /** start of the current push series: sent_at, or when a team lead retried a dead letter */
  push_since: string;
  last_error: string | null;
  delivered_at: string | null;
  acknowledged_at: string | null;
  updated_at: string;
  /** 'envelope' (our JSON envelope) | 'medcom' (a MedCom FHIR Bundle) */
  format: Generated<string>;
  /** MedCom messages: 'party' (push/mailbox of a gp-system party) | 'vans' */
  transport: string | null;
  /** MedCom messages: Bundle.id (kept on a resend) */
  bundle_id: string | null;
  /** the current transmission's envelope id and sent time (new on every resend) */
  envelope_id: string | null;
  envelope_sent_at: string | null;
  /** MedCom messages handed over: when the acknowledgement is due (30 minutes after the hand-over); then a resend */
  ack_due_at: string | null;
  /** transmissions completed (1 + resends) */
  sends: Generated<number>;
  /** the MedCom acknowledgement applied: 'ok' | 'transient-error' | 'fatal-error', and when */
  ack_code: string | null;
  ack_at: string | null;
}

/** Every MedCom acknowledgement received, matched to a message or not. */
export interface MedcomAcksTable {
  /** the acknowledgement's MessageHeader.id */
  id: string;
  bundle_id: string;
  received_at: string;
  received_from: string;
  /** MessageHeader.response.identifier */
  response_to: string;
  code: string;
  message_id: string | null;
  /** 'applied' | 'duplicate' | 'unknown' */
  outcome: string;
  details: string | null;
}

/** §25 stk. 3: a municipality asked for another health coordinator than `staff_id`. */
export interface CoordinatorChangesTable {
  id: string;
  municipality_code: string;
  /** the municipality party that asked */
  requested_by: string;
  staff_id: string;
  /** the municipality's reason, as given (free text about the cooperation; never logged); sealed (src/storage/fields.ts) */
  reason: string;
  requested_at: string;
}

/** A consent or an agreement, recorded as evidence: who gave it, when, how (§13 stk. 3, §5 stk. 2, §10 stk. 3, §11 stk. 5). */
export interface ConsentsTable {
  id: string;
  case_id: string;
  /** 'same-specialist-as-coordinator' | 'gp-discussion' | 'municipality-agreement-citizen-contact' */
  kind: string;
  /** who gave it (the citizen; for an agreement, who at the municipality); sealed (src/storage/fields.ts) */
  given_by: string;
  /** the date it was given (YYYY-MM-DD) */
  given_on: string;
  /** 'written' | 'oral' */
  how: string;
  /** the case document that holds a written consent */
  document_part: string | null;
  recorded_by: string;
  recorded_at: string;
}

/** A staff member's browser session (src/web/sessions.ts). */
export interface WebSessionsTable {
  /** SHA-256 (hex) of the cookie's random token */
  token_hash: string;
  staff_id: string;
  created_at: string;
  last_seen_at: string;
  csrf_token: string;
  /** the IdP's ID token, sealed with the master key: the id_token_hint of RP-initiated logout */
  id_token_enc: Buffer | null;
}

/** A closed settlement month (§19). */
export interface SettlementMonthsTable {
  /** YYYY-MM */
  month: string;
  closed_at: string;
  closed_by: string;
}

/** A payer's statement of a closed month, frozen as it was closed (canonical JSON) and its SHA-256. */
export interface SettlementStatementsTable {
  month: string;
  payer: string;
  statement: string;
  sha256: string;
}

export interface Database {
  cases: CasesTable;
  packages: PackagesTable;
  documents: DocumentsTable;
  receipts: ReceiptsTable;
  receipt_timestamps: ReceiptTimestampsTable;
  audit_log: AuditLogTable;
  audit_chain: AuditChainTable;
  audit_chain_seal: AuditChainSealTable;
  audit_anchors: AuditAnchorsTable;
  case_events: CaseEventsTable;
  outbox: OutboxTable;
  responses: ResponsesTable;
  messages: MessagesTable;
  medcom_acks: MedcomAcksTable;
  coordinator_changes: CoordinatorChangesTable;
  consents: ConsentsTable;
  web_sessions: WebSessionsTable;
  settlement_months: SettlementMonthsTable;
  settlement_statements: SettlementStatementsTable;
}

export type CaseRow = Selectable<CasesTable>;
export type DocumentRow = Selectable<DocumentsTable>;
