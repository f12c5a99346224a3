/**
 * MedCom messaging (issue 12): every message addressed to a GP — the copy of
 * a specialist attest (§15 stk. 2) and the GP notice (§9) — is a MedCom
 * CareCommunication, validated against MedCom's profiles before it is sent,
 * and followed until its MedCom Acknowledgement arrives.
 *
 * - `prepareGpMessage` builds and validates the Bundle (before the response's
 *   transaction), refusing with 413 a document whose copy could exceed
 *   MedCom's 50 MB cap (`assertGpMessageFits`, the rule a posted response
 *   is held to as well, whether or not the GP's practice is known). An
 *   invalid Bundle is never sent: its message is stored as `invalid`,
 *   listed for team leads and counted.
 * - `markSent` records a hand-over to the transport (`queued → sent`) and
 *   when the acknowledgement is due (MEDCOM_ACK_TIMEOUT_MS, 30 min).
 * - `ackTimedOut` resends an unacknowledged message unchanged (a new envelope
 *   id and sent time; Bundle.id and MessageHeader.id stay), at most
 *   MEDCOM_MAX_RESENDS (2) times, then marks it `unacknowledged` for team
 *   leads (043 Reliable Messaging-FHIR: "MUST NOT resend … more than 2 times").
 * - `receiveAcknowledgement` validates an Acknowledgement, correlates it
 *   through `MessageHeader.response.identifier` and applies it once: `ok` →
 *   acknowledged, `transient-error`, `fatal-error` — also for a message the
 *   push transport dead-lettered (the GP system may have it all the same). A
 *   `transient-error` for a message with no acknowledgement timer running (a
 *   dead letter, or one queued for its resend) starts one, so it is sent again
 *   after the timeout. The same acknowledgement twice, or a second one for a
 *   settled message, changes nothing and is logged; one for an unknown
 *   message, or one never sent, is kept and reported, never a 5xx.
 * - `receiveVansReceipt` records the VANS network's receipt of one of our
 *   envelopes (032_Reliable_Messaging-VANSEnvelope.md: a `reliable` envelope
 *   is answered with a VANSEnvelopeAcknowledgement). It is not the FHIR
 *   Acknowledgement above and settles nothing: the acknowledgement timer still
 *   decides a resend. It is matched to our envelope by
 *   OriginalEnvelopeIdentifier — the current transmission's or an earlier
 *   one's of the same message (each recorded in its `medcom-sent` event) —
 *   and recorded once as a case event; the same receipt again is ignored and
 *   logged (MedCom, scenario #2: the sender SHALL ignore duplicate
 *   acknowledgements and log that one arrived). One for no envelope of ours
 *   is reported `unknown` (the inbox keeps its file aside).
 *
 * Every change is conditional on the state it leaves (several instances
 * apply each once) and commits with its case event and audit entry.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Db } from '../storage/db.js';
import type { MessageState } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import type { Party } from '../parties/parties.js';
import type { GpDirectory, GpPractice } from '../parties/gp-directory.js';
import { appendAudit } from '../audit/audit.js';
import { sealSmall } from '../storage/crypto.js';
import { openRetained } from '../storage/retained.js';
import { notFound, tooLarge, unavailable, unprocessable } from '../shared/problem.js';
import { scrubCpr } from '../shared/logger.js';
import {
  buildCareCommunication,
  CARE_COMMUNICATION_CATEGORY,
  careCommunicationSizeBound,
  MAX_CARE_COMMUNICATION_BYTES,
  MAX_CARE_COMMUNICATION_DOCUMENT_BYTES,
} from './carecommunication.js';
import { createMedcomStore, type AckRow, type MedcomMessageRow } from './store.js';
import { transmitMedcom } from './transport.js';
import type { MedcomParts, ValidationIssue } from './types.js';
import type { ParsedVansReceipt, VansReceiptResult } from './vans.js';

export { MAX_CARE_COMMUNICATION_BYTES };

/**
 * 413 when the MedCom CareCommunication of a document of `documentSize` bytes could exceed MedCom's 50 MB cap, whoever
 * receives it (careCommunicationSizeBound). Asked when a response to a GP is posted, before anything is stored or sent,
 * also when the GP directory has no practice yet: the copy kept for a team lead could otherwise never be sent.
 */
export function assertGpMessageFits(documentSize: number): void {
  const bound = careCommunicationSizeBound(documentSize);
  if (bound <= MAX_CARE_COMMUNICATION_BYTES) return;
  throw tooLarge(
    `the message to the GP would be a MedCom CareCommunication of up to ${bound} bytes with the document in base64; MedCom allows at most ` +
      `${MAX_CARE_COMMUNICATION_BYTES} bytes (50 MB), so nothing was sent. Return a smaller PDF ` +
      `(${MAX_CARE_COMMUNICATION_DOCUMENT_BYTES} bytes, about 37 MB, at most).`,
    'medcom-too-large',
  );
}
export type { VansTransport } from './transport.js';
export type { MedcomParts, ValidationIssue } from './types.js';
export type { GpPractice };

/** The validator (its own process, src/medcom/validator-client.ts); a rejection means it could not validate now. */
export interface MedcomValidatorLike {
  validate(resource: unknown): Promise<ValidationIssue[]>;
}

export interface ClinicalFunction {
  name: string;
  sor: string;
  ean: string;
  phone: string;
}

export type GpMessageKind = 'specialist-attest' | 'gp-notice';

export interface PreparedGpMessage {
  state: Extract<MessageState, 'queued' | 'invalid'>;
  bundleId: string;
  parts: MedcomParts;
  size: number;
  issues: ValidationIssue[];
}

/**
 * The states an acknowledgement still changes. `dead-lettered` too: the push transport gave up, but the GP system may
 * have stored the message all the same (its answer lost), and its acknowledgement is the truth. Never `invalid` or
 * `no-recipient-system`: those were never sent (receiveAcknowledgement counts such an acknowledgement `unknown`).
 */
export const ACK_STATES: readonly MessageState[] = ['queued', 'sent', 'transient-error', 'unacknowledged', 'dead-lettered'];
const ACK_CODES = ['ok', 'transient-error', 'fatal-error'] as const;
type AckCode = (typeof ACK_CODES)[number];
const STATE_OF: Record<AckCode, MessageState> = { ok: 'acknowledged', 'transient-error': 'transient-error', 'fatal-error': 'fatal-error' };

/** Danish topic and text of each message to a GP, naming the service and the §. */
function wording(kind: GpMessageKind, senderName: string, seniorPension: boolean) {
  if (kind === 'specialist-attest') {
    return {
      topic: 'Kopi af speciallægeattest, jf. § 15, stk. 2',
      text:
        `Kopi af speciallægeattest fra ${senderName}, jf. § 15, stk. 2. ` +
        `Attesten er sendt til ${seniorPension ? 'Seniorpensionsenheden' : 'kommunen'} samtidig med denne kopi.`,
      title: 'Speciallægeattest',
    };
  }
  return {
    topic: 'Orientering til egen læge, jf. § 9',
    text: `Orientering fra ${senderName} om baggrunden for anbefalingen om kontakt til egen læge, jf. § 9.`,
    title: 'Orientering til egen læge',
  };
}

export interface MedcomServiceDeps {
  db: Db;
  masterKey: Buffer;
  validator: MedcomValidatorLike;
  directory: GpDirectory;
  clinicalFunction: ClinicalFunction;
  fhirBaseUrl: string;
  log: Logger;
  metrics?: Registry;
  ackTimeoutMs?: number;
  maxResends?: number;
  now?: () => Date;
}

function counter(registry: Registry | undefined, name: string, help: string, labelNames: string[] = []) {
  if (!registry) return undefined;
  return (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

export function createMedcomService(deps: MedcomServiceDeps) {
  const store = createMedcomStore(deps.db.db, deps.db.dialect);
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const ackTimeoutMs = deps.ackTimeoutMs ?? 30 * 60_000;
  const maxResends = deps.maxResends ?? 2;
  const invalidCount = counter(deps.metrics, 'postkasse_medcom_invalid_total', 'MedCom messages that failed validation and were not sent');
  const needsLead = counter(
    deps.metrics,
    'postkasse_medcom_needs_lead_total',
    'MedCom messages a team lead must look at: fatal-error acknowledgements and resends exhausted',
    ['reason'],
  );
  const acks = counter(deps.metrics, 'postkasse_medcom_acknowledgements_total', 'MedCom acknowledgements received, by outcome and code', [
    'outcome',
    'code',
  ]);
  const resends = counter(deps.metrics, 'postkasse_medcom_resends_total', 'MedCom messages sent again after no acknowledgement');
  const vansReceipts = counter(deps.metrics, 'postkasse_medcom_vans_receipts_total', 'VANS receipts received, by result and outcome', [
    'result',
    'outcome',
  ]);

  /**
   * The Bundle of one GP message, validated. Throws 413 when MedCom's cap is
   * exceeded (before anything is stored or sent).
   */
  /** The validator's errors, or 503 when it could not validate now: nothing unvalidated is ever sent or applied. */
  async function errorsOf(resource: unknown, what: string): Promise<ValidationIssue[]> {
    let issues: ValidationIssue[];
    try {
      issues = await deps.validator.validate(resource);
    } catch (err) {
      log.error({ err }, 'MedCom validation unavailable');
      throw unavailable(`MedCom validation is unavailable right now (${(err as Error).message}); ${what}. Try again shortly.`);
    }
    return issues.filter((i) => i.severity === 'error');
  }

  async function prepareGpMessage(input: {
    messageId: string;
    sentAt: string;
    kind: GpMessageKind;
    seniorPension: boolean;
    practice: GpPractice;
    patient: { cpr: string; name: string };
    author: { name: string; role: 'specialist' | 'coordinator' | 'team-lead' };
    documentSize: number;
  }): Promise<PreparedGpMessage> {
    assertGpMessageFits(input.documentSize);
    const cf = deps.clinicalFunction;
    const w = wording(input.kind, cf.name, input.seniorPension);
    const bundleId = randomUUID();
    const built = buildCareCommunication({
      messageId: input.messageId,
      bundleId,
      sentAt: input.sentAt,
      topic: w.topic,
      text: w.text,
      sender: cf,
      receiver: input.practice,
      patient: input.patient,
      author: input.author,
      attachment: { title: w.title, size: input.documentSize },
      fhirBaseUrl: deps.fhirBaseUrl,
    });
    // Never reached while the names stay within CARE_COMMUNICATION_OVERHEAD_BYTES; kept so that no Bundle over the cap
    // is ever sent, whatever a parties file names its staff.
    if (built.size > MAX_CARE_COMMUNICATION_BYTES) {
      throw tooLarge(
        `the GP's copy would be a MedCom CareCommunication of ${built.size} bytes with the document in base64; MedCom allows at most ` +
          `${MAX_CARE_COMMUNICATION_BYTES} bytes (50 MB), so nothing was sent. Return a smaller PDF (about 37 MB at most).`,
        'medcom-too-large',
      );
    }
    const issues = await errorsOf(built.bundleForValidation, 'nothing was sent');
    const parts: MedcomParts = {
      head: built.parts.head,
      tail: built.parts.tail,
      medcom: { senderEan: cf.ean, receiverEan: input.practice.ean, category: CARE_COMMUNICATION_CATEGORY },
    };
    if (issues.length > 0) {
      parts.medcom.issues = issues;
      invalidCount?.inc();
      log.error(
        { messageId: input.messageId, issues: issues.length, locations: issues.slice(0, 5).map((i) => i.location) },
        'MedCom message failed validation against the MedCom profiles: not sent; listed for team leads',
      );
    }
    return { state: issues.length > 0 ? 'invalid' : 'queued', bundleId, parts, size: built.size, issues };
  }

  async function change(
    m: Pick<MedcomMessageRow, 'id' | 'case_id'>,
    from: readonly MessageState[],
    fields: Partial<Omit<MedcomMessageRow, 'id'>>,
    event: CaseEvent,
    data: Record<string, unknown>,
    sends?: number,
  ): Promise<boolean> {
    const at = now().toISOString();
    return deps.db.db.transaction().execute(async (trx) => {
      if (!(await store.transition(trx, m.id, from, { ...fields, updated_at: at }, sends))) return false;
      await store.addEvent(trx, m.case_id, at, event, 'medcom', { messageId: m.id, ...data });
      await appendAudit(trx, deps.db, { at, actor: 'medcom', action: event, caseId: m.case_id, details: { messageId: m.id, ...data } });
      return true;
    });
  }

  /** The transport took the message (`queued → sent`); the acknowledgement is due after the timeout. */
  async function markSent(m: MedcomMessageRow, via: string): Promise<{ sends: number; ackDueAt: string } | undefined> {
    const at = now();
    const sends = Number(m.sends) + 1;
    const ackDueAt = new Date(at.getTime() + ackTimeoutMs).toISOString();
    const ok = await change(
      m,
      ['queued'],
      {
        state: 'sent',
        sends,
        ack_due_at: ackDueAt,
        delivered_at: m.delivered_at ?? at.toISOString(),
        push_attempts: Number(m.push_attempts) + 1,
        last_error: null,
      },
      'medcom-sent',
      { via, send: sends, envelopeId: m.envelope_id, ackDueAt },
    );
    if (!ok) return undefined;
    log.info({ messageId: m.id, caseId: m.case_id, via, send: sends, envelopeId: m.envelope_id }, 'MedCom message handed over');
    return { sends, ackDueAt };
  }

  /**
   * No acknowledgement for send number `send` by its due time: send it again
   * (a new envelope id and sent time), or, after the last resend, leave it
   * `unacknowledged` for a team lead.
   */
  async function ackTimedOut(messageId: string, send: number): Promise<'resend' | 'exhausted' | 'settled'> {
    const m = await store.message(messageId);
    if (!m || !['sent', 'transient-error'].includes(m.state) || Number(m.sends) !== send) return 'settled';
    if (send <= maxResends) {
      const envelopeId = randomUUID();
      const at = now().toISOString();
      const ok = await change(
        m,
        ['sent', 'transient-error'],
        { state: 'queued', envelope_id: envelopeId, envelope_sent_at: at, push_since: at, acknowledged_at: null, ack_due_at: null },
        'medcom-resend',
        { resend: send, envelopeId, after: m.ack_code === 'transient-error' ? 'transient-error' : 'no acknowledgement' },
        send,
      );
      if (!ok) return 'settled';
      resends?.inc();
      log.warn(
        { messageId, caseId: m.case_id, resend: send, envelopeId },
        'no MedCom acknowledgement in time: the unchanged message is sent again',
      );
      return 'resend';
    }
    const ok = await change(
      m,
      ['sent', 'transient-error'],
      {
        state: 'unacknowledged',
        last_error: m.state === 'transient-error' ? `still transient-error after ${send} sends` : `no acknowledgement after ${send} sends`,
      },
      'medcom-unacknowledged',
      { sends: send },
      send,
    );
    if (!ok) return 'settled';
    needsLead?.inc({ reason: 'unacknowledged' });
    log.error(
      { messageId, caseId: m.case_id, sends: send },
      'MedCom message unacknowledged after the last resend: a team lead must contact the GP practice',
    );
    return 'exhausted';
  }

  /** The fields of an Acknowledgement that matter here; throws 422 on anything else. */
  async function readAcknowledgement(bundle: unknown) {
    const issues = await errorsOf(bundle, 'the acknowledgement was not recorded');
    const b = bundle as {
      id?: string;
      entry?: {
        resource?: {
          resourceType?: string;
          id?: string;
          response?: { identifier?: string; code?: string; details?: { reference?: string } };
        };
      }[];
    };
    const header = b.entry?.[0]?.resource;
    if (issues.length === 0 && (header?.resourceType !== 'MessageHeader' || !header.response)) {
      issues.push({
        severity: 'error',
        location: 'Bundle.entry[0].resource.response',
        message: 'an acknowledgement answers a message: response is required',
      });
    }
    if (issues.length > 0) {
      throw unprocessable(
        `not a valid MedCom Acknowledgement (${issues.length} error${issues.length > 1 ? 's' : ''}); nothing was recorded`,
        issues.slice(0, 50).map((i) => ({ path: i.location, message: i.rule ? `${i.message} (${i.rule})` : i.message })),
      );
    }
    const code = header!.response!.code as AckCode;
    if (!ACK_CODES.includes(code)) {
      throw unprocessable(`response.code must be one of ${ACK_CODES.join(', ')}`, [
        { path: 'Bundle.entry[0].resource.response.code', message: 'unknown code' },
      ]);
    }
    const detailsRef = header!.response!.details?.reference;
    const outcome = detailsRef
      ? (b.entry ?? [])
          .map((e) => e.resource as { resourceType?: string; id?: string; issue?: unknown })
          .find((r) => `${r.resourceType}/${r.id}` === detailsRef)
      : undefined;
    return { ackId: header!.id!, bundleId: b.id!, respondsTo: header!.response!.identifier!, code, outcomeIssues: outcome?.issue };
  }

  /**
   * An Acknowledgement handed over by `from` (a gp-system or vans-provider
   * party, or the VANS inbox directory). A gp-system may only acknowledge
   * messages addressed to it, the VANS side only messages sent through VANS;
   * anything else counts as unknown.
   */
  async function receiveAcknowledgement(
    from: { id: string; kind: Party['kind'] | 'vans-inbox' },
    bundle: unknown,
  ): Promise<{ outcome: 'applied' | 'duplicate' | 'unknown'; messageId: string | null; code: string; state?: MessageState }> {
    const a = await readAcknowledgement(bundle);
    const at = now().toISOString();
    const base = { ackId: a.ackId, respondsTo: a.respondsTo, code: a.code, from: from.id };
    if (await store.ackById(a.ackId)) {
      acks?.inc({ outcome: 'duplicate', code: a.code });
      log.info(base, 'duplicate MedCom acknowledgement (received before): nothing changes');
      return { outcome: 'duplicate', messageId: null, code: a.code };
    }
    const m = await store.message(a.respondsTo);
    // Only a message that was sent can be acknowledged, and only by its side: a gp-system its own, VANS what went through VANS.
    const mayAcknowledge =
      m !== undefined &&
      m.state !== 'invalid' &&
      m.state !== 'no-recipient-system' &&
      (from.kind === 'gp-system' ? m.transport === 'party' && m.recipient_party_id === from.id : m.transport === 'vans');
    const details = a.outcomeIssues ? sealSmall(deps.masterKey, Buffer.from(JSON.stringify(a.outcomeIssues))).toString('base64') : null;
    const row: AckRow = {
      id: a.ackId,
      bundle_id: a.bundleId,
      received_at: at,
      received_from: from.id,
      response_to: a.respondsTo,
      code: a.code,
      message_id: mayAcknowledge ? m.id : null,
      outcome: 'unknown',
      details,
    };
    try {
      const result = await deps.db.db.transaction().execute(async (trx) => {
        if (!mayAcknowledge) {
          await store.insertAck(trx, row);
          return { outcome: 'unknown' as const, messageId: null };
        }
        const state = STATE_OF[a.code];
        // transient-error: sent again at the timeout. Without a timer running (a dead letter, a resend still queued) the
        // due time starts now; the medcom-acks reconciler gives the message its timer.
        const due =
          a.code === 'transient-error' && !m.ack_due_at ? { ack_due_at: new Date(now().getTime() + ackTimeoutMs).toISOString() } : {};
        const applied = await store.transition(trx, m.id, ACK_STATES, { state, ack_code: a.code, ack_at: at, updated_at: at, ...due });
        await store.insertAck(trx, { ...row, outcome: applied ? 'applied' : 'duplicate' });
        if (!applied) return { outcome: 'duplicate' as const, messageId: m.id };
        await store.addEvent(trx, m.case_id, at, `medcom-${a.code === 'ok' ? 'acknowledged' : a.code}`, from.id, {
          messageId: m.id,
          ackId: a.ackId,
        });
        await appendAudit(trx, deps.db, {
          at,
          actor: from.id,
          action: 'medcom-acknowledgement',
          caseId: m.case_id,
          details: { messageId: m.id, ackId: a.ackId, code: a.code },
        });
        return { outcome: 'applied' as const, messageId: m.id, state };
      });
      acks?.inc({ outcome: result.outcome, code: a.code });
      if (result.outcome === 'unknown')
        log.warn(base, 'MedCom acknowledgement for no message of ours (or not its to give): kept and listed for team leads');
      else if (result.outcome === 'duplicate')
        log.info({ ...base, messageId: m!.id, state: m!.state }, 'duplicate MedCom acknowledgement: nothing changes');
      else if (a.code === 'fatal-error') {
        needsLead?.inc({ reason: 'fatal-error' });
        log.error({ ...base, messageId: m!.id, caseId: m!.case_id }, 'MedCom fatal-error acknowledgement: a team lead must act');
      } else log.info({ ...base, messageId: m!.id }, 'MedCom acknowledgement applied');
      return { ...result, code: a.code };
    } catch (err) {
      // Another instance stored the same acknowledgement first (primary key): a duplicate.
      if (await store.ackById(a.ackId)) {
        acks?.inc({ outcome: 'duplicate', code: a.code });
        log.info(base, 'duplicate MedCom acknowledgement (received concurrently): nothing changes');
        return { outcome: 'duplicate', messageId: null, code: a.code };
      }
      throw err;
    }
  }

  /**
   * A VANS receipt (VANSEnvelopeAcknowledgement) from the VANS inbox: see the
   * module comment. `recorded` the first time for an envelope of ours,
   * `duplicate` after that, `unknown` for an envelope the gateway did not send
   * through VANS. Logs carry ids, the result and the error code, never the
   * error's free text (it is kept, CPR-scrubbed, in the case event).
   */
  async function receiveVansReceipt(
    r: ParsedVansReceipt,
  ): Promise<{ outcome: 'recorded' | 'duplicate' | 'unknown'; messageId: string | null; result: VansReceiptResult }> {
    const base = {
      receiptEnvelopeId: r.envelopeId,
      envelopeId: r.originalEnvelopeId,
      result: r.result,
      ...(r.error?.code ? { errorCode: r.error.code } : {}),
    };
    // OriginalMessage/Identifier is our message id; only a NegativeVans may leave it out, and then the envelope id finds
    // the message (its current transmission).
    const m = r.originalMessageId ? await store.message(r.originalMessageId) : await store.messageByEnvelope(r.originalEnvelopeId);
    const ours =
      m !== undefined &&
      m.transport === 'vans' &&
      (m.envelope_id === r.originalEnvelopeId || (await store.envelopesOf(m)).includes(r.originalEnvelopeId));
    if (!ours) {
      vansReceipts?.inc({ result: r.result, outcome: 'unknown' });
      log.warn({ ...base, messageId: r.originalMessageId }, 'VANS receipt for no envelope the gateway sent through VANS: kept aside');
      return { outcome: 'unknown', messageId: null, result: r.result };
    }
    const at = now().toISOString();
    const event = r.result === 'positive' ? 'medcom-vans-receipt' : 'medcom-vans-negative-receipt';
    const recorded = await deps.db.db.transaction().execute(async (trx) => {
      // One receipt per envelope, also when two instances read two copies of it at once.
      await store.lockMessage(trx, m.id);
      if (await store.hasVansReceipt(trx, m, r.originalEnvelopeId)) return false;
      const details = { messageId: m.id, ...base };
      const error = r.error ? { code: r.error.code, description: scrubCpr(r.error.description) } : undefined;
      await store.addEvent(trx, m.case_id, at, event, 'vans-inbox', { ...details, ...(error ? { error } : {}) });
      await appendAudit(trx, deps.db, { at, actor: 'vans-inbox', action: event, caseId: m.case_id, details });
      return true;
    });
    vansReceipts?.inc({ result: r.result, outcome: recorded ? 'recorded' : 'duplicate' });
    const ctx = { ...base, messageId: m.id, caseId: m.case_id, current: m.envelope_id === r.originalEnvelopeId };
    if (!recorded) log.info(ctx, 'duplicate VANS receipt (recorded before): ignored');
    else if (r.result === 'positive') log.info(ctx, 'VANS receipt: the envelope was received');
    else {
      log.warn(
        ctx,
        r.result === 'negative-vans'
          ? 'negative VANS receipt: the VANS network refused the envelope; it is sent again if no MedCom acknowledgement comes in time'
          : 'negative VANS receipt: the receiver refused the envelope; it is sent again if no MedCom acknowledgement comes in time',
      );
    }
    return { outcome: recorded ? 'recorded' : 'duplicate', messageId: m.id, result: r.result };
  }

  /** What was sent and where it stands: for `medcom show` and team leads. */
  async function show(messageId: string) {
    const m = await store.message(messageId);
    if (!m) throw notFound(`no MedCom message ${messageId}`);
    const parts = JSON.parse(
      openRetained(deps.masterKey, m.envelope_enc, `MedCom message ${m.id}`).toString('utf8'),
    ) as Partial<MedcomParts>;
    const received = await store.acksOf(m.id);
    return {
      messageId: m.id,
      caseId: m.case_id,
      kind: m.kind,
      bundleId: m.bundle_id,
      state: m.state,
      transport: m.transport,
      to: m.recipient_party_id,
      ydernummer: m.recipient_ydernummer,
      sentAt: m.sent_at,
      sends: Number(m.sends),
      envelopeId: m.envelope_id,
      envelopeSentAt: m.envelope_sent_at,
      ackDueAt: m.ack_due_at,
      acknowledgement: m.ack_code ? { code: m.ack_code, at: m.ack_at } : null,
      bundleBytes: Number(m.envelope_size),
      bundleSha256: m.envelope_sha256,
      lastError: m.last_error,
      validationIssues: parts.medcom?.issues ?? [],
      acknowledgements: received.map((r) => ({
        ackId: r.id,
        receivedAt: r.received_at,
        from: r.received_from,
        code: r.code,
        outcome: r.outcome,
      })),
    };
  }

  async function unmatchedAcknowledgements() {
    const rows = await store.acksWithOutcome('unknown');
    return rows.map((r) => ({
      ackId: r.id,
      bundleId: r.bundle_id,
      receivedAt: r.received_at,
      from: r.received_from,
      respondsTo: r.response_to,
      code: r.code,
    }));
  }

  return {
    prepareGpMessage,
    transmit: transmitMedcom,
    practice: (ydernummer: string) => deps.directory.practice(ydernummer),
    markSent,
    ackTimedOut,
    receiveAcknowledgement,
    receiveVansReceipt,
    show,
    unmatchedAcknowledgements,
    awaitingAck: () => store.awaitingAck(),
    message: (id: string) => store.message(id),
    /** the sealed parts of a MedCom message */
    parts: (m: Pick<MedcomMessageRow, 'envelope_enc'>) =>
      JSON.parse(openRetained(deps.masterKey, m.envelope_enc, 'the MedCom message').toString('utf8')) as MedcomParts,
  };
}

export type MedcomService = ReturnType<typeof createMedcomService>;
