/**
 * Delivery (API.md "Receiving documents"): the mailbox a party pulls from,
 * acknowledgements, the team leads' view of what did not arrive, and the
 * state changes the push queue (queues/delivery.ts) records. Every change is
 * one transaction with its case event and audit entry; a read of a message
 * is audited before a byte leaves.
 */
import type { Readable } from 'node:stream';
import type { Db } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import type { MessageState } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import { openRetained, retainedBlobKey } from '../storage/retained.js';
import { appendAudit } from '../audit/audit.js';
import type { ReadAudit } from '../audit/reads.js';
import { notFound } from '../shared/problem.js';
import type { Party } from '../parties/parties.js';
import { envelopeDigest, envelopeParts, envelopeStream, type EnvelopeFields, type EnvelopeParts } from './envelope.js';
import { createDeliveryStore, type MessageRow } from './store.js';

export type { EnvelopeFields, EnvelopeParts };
export type { MessageRow };

/**
 * A message's envelope for `fields` around `document` (read once): its head
 * and tail, and the SHA-256 and size of the bytes a recipient will get and
 * the signature signs.
 */
export async function prepareEnvelope(
  fields: EnvelopeFields,
  document: Readable,
): Promise<{ parts: EnvelopeParts; sha256: Buffer; size: number }> {
  const parts = envelopeParts(fields);
  return { parts, ...(await envelopeDigest(parts, document)) };
}

/** SHA-256 and size of the bytes `parts` around the base64 of `document` make (the document is read once). */
export function envelopeDigestOf(parts: EnvelopeParts, document: Readable): Promise<{ sha256: Buffer; size: number }> {
  return envelopeDigest(parts, document);
}

/** The states team leads list: messages that need a person. */
export type LeadListState = 'no-recipient-system' | 'dead-lettered' | 'invalid' | 'fatal-error' | 'unacknowledged';

/** A MedCom message is a FHIR Bundle; anything else is our JSON envelope. */
export function mediaTypeOf(m: { format: string }): string {
  return m.format === 'medcom' ? 'application/fhir+json' : 'application/json';
}

export interface DeliveryServiceDeps {
  db: Db;
  blobs: BlobStore;
  masterKey: Buffer;
  now?: () => Date;
  /** issue 15: the per-party limit on audited reads and the counting of repeated ones (src/audit/reads.ts); unset: every read its own entry */
  reads?: ReadAudit;
}

export function createDeliveryService(deps: DeliveryServiceDeps) {
  const store = createDeliveryStore(deps.db.db);
  const now = deps.now ?? (() => new Date());

  /** The message if `party` is its addressee; for anyone else it does not exist. */
  async function own(party: Party, messageId: string): Promise<MessageRow> {
    const m = await store.messageById(messageId);
    if (!m || m.recipient_party_id === null || m.recipient_party_id !== party.id || m.state === 'invalid') {
      throw notFound(`no message ${messageId} for ${party.id}`);
    }
    return m;
  }

  /** The envelope's exact signed bytes, streamed: head + base64(decrypted document) + tail. */
  async function envelope(m: MessageRow): Promise<Readable> {
    const parts = JSON.parse(openRetained(deps.masterKey, m.envelope_enc, `message ${m.id}`).toString('utf8')) as EnvelopeParts;
    return envelopeStream(parts, await deps.blobs.get(retainedBlobKey(await store.documentBlobKey(m.response_id), `message ${m.id}`)));
  }

  /** What every listing says of a message. */
  const item = (r: Pick<MessageRow, 'id' | 'case_id' | 'kind' | 'copy' | 'sent_at'>) => ({
    messageId: r.id,
    caseId: r.case_id,
    kind: r.kind,
    copy: r.copy === 1,
    sentAt: r.sent_at,
  });

  async function mailbox(party: Party) {
    const rows = await store.unacknowledged(party.id);
    return rows.map((r) => ({ ...item(r), mediaType: mediaTypeOf(r) }));
  }

  /** The addressee reads a message: the read is audited first. */
  async function read(party: Party, messageId: string): Promise<{ message: MessageRow; body: Readable }> {
    await deps.reads?.admit(party.id);
    const m = await own(party, messageId);
    const body = await envelope(m);
    try {
      const entry = { at: now().toISOString(), actor: party.id, action: 'message-read', caseId: m.case_id, details: { messageId: m.id } };
      await (deps.reads ? deps.reads.record(`message:${m.id}`, entry) : appendAudit(deps.db.db, deps.db, entry));
    } catch (err) {
      body.destroy();
      throw err;
    }
    return { message: m, body };
  }

  /**
   * The addressee confirms receipt (idempotent): the message leaves the
   * mailbox and counts as delivered. A MedCom message's state waits for its
   * MedCom Acknowledgement (POST /v1/medcom/inbox).
   */
  async function acknowledge(party: Party, messageId: string) {
    const m = await own(party, messageId);
    const at = now().toISOString();
    const medcom = m.format === 'medcom';
    if (m.acknowledged_at === null) {
      await deps.db.db.transaction().execute(async (trx) => {
        const done = medcom ? await store.confirmFetched(trx, m.id, at) : await store.acknowledge(trx, m.id, at, m.delivered_at ?? at);
        if (!done) return; // acknowledged concurrently
        await store.addEvent(trx, m.case_id, at, medcom ? 'message-fetched' : 'message-acknowledged', party.id, { messageId: m.id });
        await appendAudit(trx, deps.db, {
          at,
          actor: party.id,
          action: 'message-acknowledged',
          caseId: m.case_id,
          details: { messageId: m.id },
        });
      });
    }
    const after = await store.messageById(m.id);
    return { messageId: m.id, state: after!.state, acknowledgedAt: after!.acknowledged_at };
  }

  /** Team leads: messages that did not reach their recipient and need a person. */
  async function undelivered(state: LeadListState) {
    const rows = await store.inState(state);
    return rows.map((r) => ({
      ...item(r),
      to: r.recipient_party_id,
      ydernummer: r.recipient_ydernummer,
      pushAttempts: Number(r.push_attempts),
      lastError: r.last_error,
      format: r.format,
      transport: r.transport,
      sends: Number(r.sends),
    }));
  }

  /**
   * A state change of the message (pushed, dead-lettered, queued again), only
   * from `from`, with its case event and audit entry, in one transaction.
   * False when the message was no longer in `from`.
   */
  async function transition(
    m: Pick<MessageRow, 'id' | 'case_id'>,
    from: MessageState,
    fields: Partial<Omit<MessageRow, 'id'>>,
    event: CaseEvent,
    actor: string,
    data: Record<string, unknown>,
  ): Promise<boolean> {
    const at = now().toISOString();
    return deps.db.db.transaction().execute(async (trx) => {
      if (!(await store.transition(trx, m.id, from, { ...fields, updated_at: at }))) return false;
      await store.addEvent(trx, m.case_id, at, event, actor, { messageId: m.id, ...data });
      await appendAudit(trx, deps.db, { at, actor, action: event, caseId: m.case_id, details: { messageId: m.id, ...data } });
      return true;
    });
  }

  /** A failed push attempt, while the message is still queued (no event: the series continues). */
  async function recordPushFailure(m: Pick<MessageRow, 'id'>, attempts: number, error: string): Promise<void> {
    await store.transition(store.db, m.id, 'queued', { push_attempts: attempts, last_error: error, updated_at: now().toISOString() });
  }

  return {
    mailbox,
    read,
    acknowledge,
    undelivered,
    transition,
    recordPushFailure,
    envelope,
    message: (id: string) => store.messageById(id),
    queued: () => store.queued(),
  };
}

export type DeliveryService = ReturnType<typeof createDeliveryService>;
