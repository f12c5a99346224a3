/**
 * Returning documents (issue 5): the assigned staff member submits a
 * response (structured content + the signed-off document); the gateway
 * checks the content the law requires, builds one signed message per
 * recipient and commits, in ONE transaction, the response, the messages with
 * one shared `sentAt`, the clock stop (met or missed) and the audit entries.
 *
 * Recipients: the sender of the case (municipality or senior-pension unit);
 * for a specialist attest also, at the same instant, a copy to the citizen's
 * GP (§15 stk. 2); a GP notice (§9) to the GP only. A message to a GP is a
 * MedCom CareCommunication (src/medcom), addressed to the practice the GP
 * directory gives for the case's ydernummer; when the directory has none the
 * copy is kept with state `no-recipient-system`, audited and listed for team
 * leads — never dropped, never sent where a manifest says.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import type { CaseRow, MessageState } from '../storage/schema.js';
import type { Party, StaffParty } from '../parties/parties.js';
import { sealSmall } from '../storage/crypto.js';
import { openRetained } from '../storage/retained.js';
import { appendAudit } from '../audit/audit.js';
import { conflict, notFound, unprocessable } from '../shared/problem.js';
import { CONSULTATION_SERVICES, localDate, type DeadlineService } from '../deadlines/service.js';

/** The case event of a conversation with the citizen (§11 stk. 3). */
const CONVERSATION_EVENT = 'citizen-conversation-held';
import type { DetachedSigner } from '../receipts/cms.js';
import { envelopeDigestOf, prepareEnvelope, type EnvelopeFields, type EnvelopeParts } from '../delivery/service.js';
import { assertGpMessageFits, type GpPractice, type MedcomParts, type MedcomService } from '../medcom/service.js';
import { checkResponse, FINAL_KINDS, type ResponseKind } from './content.js';
import { enqueueIn } from '../outbox/outbox.js';
import { deliveryJob } from '../delivery/types.js';
import { createResponseStore } from './store.js';

/** The response kinds a case of `service` returns (a supplementary service's from its agreement): the public face of content.ts's rule. */
export { kindsFor, type ResponseKind } from './content.js';

export interface StoredDocument {
  blobKey: string;
  size: number;
  sha256: string;
  mediaType: string;
}

export interface ResponseServiceDeps {
  db: Db;
  blobs: BlobStore;
  masterKey: Buffer;
  signer: Pick<DetachedSigner, 'signDigestAsync'>;
  parties: { get(id: string): Party | undefined };
  medcom: Pick<MedcomService, 'prepareGpMessage' | 'practice'>;
  deadlines: Pick<DeadlineService, 'stopClockIn' | 'furtherAssessmentIn' | 'heldConsultation' | 'supplementaryService' | 'attestProcedure'>;
  log: Logger;
  now?: () => Date;
  /** after the commit: these messages wait for delivery (push) */
  onDispatched?: (messageIds: string[]) => void;
}

export interface SubmittedResponse {
  responseId: string;
  caseId: string;
  kind: ResponseKind;
  sentAt: string;
  messages: { messageId: string; to: string | null; copy: boolean; state: MessageState }[];
  clock: unknown;
}

interface PlannedMessage {
  messageId: string;
  to: string | null;
  ydernummer: string | null;
  copy: boolean;
  /** where a message starts (written as the case event `message-<state>`) */
  state: Extract<MessageState, 'queued' | 'no-recipient-system' | 'invalid'>;
  /** messages to a GP: the practice from the GP directory (undefined: nobody to send it to) */
  gp?: { practice: GpPractice | undefined };
}

interface SignedMessage {
  m: PlannedMessage;
  parts: EnvelopeParts | MedcomParts;
  sha256: string;
  size: number;
  signature: Buffer;
  medcom?: { bundleId: string; transport: string | null; envelopeId: string };
}

export function createResponseService(deps: ResponseServiceDeps) {
  const { db: database, log } = deps;
  const db = database.db;
  const store = createResponseStore(database);
  const now = deps.now ?? (() => new Date());

  function citizenOf(c: CaseRow): { cpr: string; name: string } {
    const m = JSON.parse(openRetained(deps.masterKey, c.manifest_enc, `the citizen of case ${c.id}`).toString('utf8')) as {
      citizen: { cpr: string; name: string };
    };
    return { cpr: m.citizen.cpr, name: m.citizen.name };
  }

  function recipients(kind: ResponseKind, c: CaseRow): PlannedMessage[] {
    const out: PlannedMessage[] = [];
    const toGp = kind === 'specialist-attest' || kind === 'gp-notice';
    if (kind !== 'gp-notice') out.push({ messageId: randomUUID(), to: c.sender_party_id, ydernummer: null, copy: false, state: 'queued' });
    if (toGp) {
      const practice = c.gp_ydernummer ? deps.medcom.practice(c.gp_ydernummer) : undefined;
      out.push({
        messageId: randomUUID(),
        to: practice?.transport.kind === 'party' ? practice.transport.partyId : null,
        ydernummer: c.gp_ydernummer,
        copy: kind === 'specialist-attest',
        state: practice ? 'queued' : 'no-recipient-system',
        gp: { practice },
      });
    }
    return out;
  }

  /**
   * The MedCom CareCommunication of a message to a GP (src/medcom), built
   * and validated before the transaction; 413 when it would exceed MedCom's
   * cap. Signed like every message when it is valid; an invalid one is kept,
   * unsigned, and never sent. Without a practice there is no Bundle to build
   * (submit held the document to the cap already, whatever the recipient).
   */
  async function prepareGp(
    m: PlannedMessage,
    kind: 'specialist-attest' | 'gp-notice',
    c: CaseRow,
    staff: Pick<StaffParty, 'name' | 'roles'>,
    citizen: { cpr: string; name: string },
    sentAt: string,
    doc: StoredDocument,
  ): Promise<SignedMessage> {
    const practice = m.gp!.practice;
    if (!practice) {
      const parts: MedcomParts = { head: '', tail: '', medcom: { senderEan: '', receiverEan: '', category: '' } };
      return { m, parts, sha256: '', size: 0, signature: Buffer.alloc(0), medcom: { bundleId: '', transport: null, envelopeId: '' } };
    }
    const prepared = await deps.medcom.prepareGpMessage({
      messageId: m.messageId,
      sentAt,
      kind,
      seniorPension: c.service === 'senior-pension-assessment',
      practice,
      patient: citizen,
      author: {
        name: staff.name,
        role: staff.roles.includes('specialist') ? 'specialist' : staff.roles.includes('coordinator') ? 'coordinator' : 'team-lead',
      },
      documentSize: doc.size,
    });
    m.state = prepared.state;
    const { sha256, size } = await envelopeDigestOf(prepared.parts, await deps.blobs.get(doc.blobKey));
    const signature = prepared.state === 'queued' ? await deps.signer.signDigestAsync(sha256, new Date(sentAt)) : Buffer.alloc(0);
    return {
      m,
      parts: prepared.parts,
      sha256: sha256.toString('hex'),
      size,
      signature,
      medcom: { bundleId: prepared.bundleId, transport: practice.transport.kind, envelopeId: randomUUID() },
    };
  }

  /**
   * Validates and dispatches. The document is already in the blob store
   * (`doc`); on any refusal or failure the caller deletes it.
   */
  /** Only the staff member the case is assigned to may respond; anyone else gets the answer a missing case gets. */
  async function assertAssignee(staff: StaffParty, caseId: string): Promise<void> {
    const c = await store.caseById(caseId);
    if (!c || c.assigned_to !== staff.id) throw notFound(`no case ${caseId} assigned to ${staff.id}`);
  }

  async function submit(
    staff: StaffParty,
    caseId: string,
    response: { kind: ResponseKind; content: Record<string, unknown> },
    doc: StoredDocument,
  ): Promise<SubmittedResponse> {
    const c = await store.caseById(caseId);
    if (!c || c.assigned_to !== staff.id) throw notFound(`no case ${caseId} assigned to ${staff.id}`);
    if (c.state !== 'assigned')
      throw conflict(`case ${caseId} is ${c.state}; responses are returned on open, assigned cases`, 'case-state');
    const kind = response.kind;
    if (kind === 'specialist-attest' && CONSULTATION_SERVICES.includes(c.service)) {
      // §13 stk. 2 (§2 stk. 2): the attest rests on a consultation with the citizen, held, not only booked.
      const held = await deps.deadlines.heldConsultation(c.id);
      if (!held.held) {
        throw conflict(
          held.date
            ? `the consultation is booked for ${held.date}: an attest is given after it is held (§13 stk. 2)`
            : 'no consultation with the citizen is recorded on the case: an attest is given after a held consultation (§13 stk. 2)',
          'consultation-not-held',
          { rules: ['§13 stk. 2'] },
        );
      }
    }
    // §11 stk. 3: in a jobafklaringsforløb at risk, the statement follows a conversation with the citizen.
    const requests = JSON.parse(c.requests) as { preMeetingAdviceRequested?: boolean; riskUnfitAfter4Years?: boolean };
    if (kind === 'statement' && requests.riskUnfitAfter4Years === true && !(await store.hasEvent(c.id, CONVERSATION_EVENT))) {
      throw conflict(
        'the citizen risks being unfit for work 4 years after sickness benefit ended: the coordinator talks with the citizen ' +
          'before the statement (§11 stk. 3); record the conversation first (POST /v1/cases/{caseId}/citizen-conversation)',
        'conversation-required',
        { rules: ['§11 stk. 3'] },
      );
    }
    // §14 stk. 3–4: an earlier attest for the same citizen, in any of the citizen's cases.
    const earlier = await store.citizenHasAttest(c.citizen_ref);
    const errors = checkResponse(response.kind, response.content, {
      service: c.service,
      earlierAssessments: earlier,
      gpDiscussionConsents: await store.consentDates(c.id, 'gp-discussion'),
      citizenContactAgreements: await store.consentDates(c.id, 'municipality-agreement-citizen-contact'),
      preMeetingAdviceRequested: requests.preMeetingAdviceRequested === true,
      supplementaryKinds: deps.deadlines.supplementaryService(c.agreement_id, c.service)?.responseKinds,
      attestProcedure: deps.deadlines.attestProcedure(c.agreement_id),
    });
    if (errors.length > 0) throw unprocessable(errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);

    // One instant for every recipient (§15 stk. 2: the GP's copy at the same time).
    const sentAt = now().toISOString();
    const responseId = randomUUID();
    const planned = recipients(kind, c);
    // MedCom's cap holds for every message to a GP, also when the directory has no practice yet (§15 stk. 2): the copy
    // kept as no-recipient-system is built when a team lead resolves it, and one over the cap could then never be sent.
    if (planned.some((m) => m.gp)) assertGpMessageFits(doc.size);
    const citizen = citizenOf(c);
    const signed: SignedMessage[] = [];
    for (const m of planned) {
      if (m.gp) {
        signed.push(await prepareGp(m, kind as 'specialist-attest' | 'gp-notice', c, staff, citizen, sentAt, doc));
        continue;
      }
      const fields: EnvelopeFields = {
        messageId: m.messageId,
        caseId: c.id,
        kind,
        sentAt,
        from: { partyId: staff.id },
        to: { partyId: m.to, ...(m.ydernummer ? { ydernummer: m.ydernummer } : {}) },
        copy: m.copy,
        citizen,
        content: response.content,
        document: { mediaType: doc.mediaType, sha256: doc.sha256, size: doc.size },
      };
      const { parts, sha256, size } = await prepareEnvelope(fields, await deps.blobs.get(doc.blobKey));
      const signature = await deps.signer.signDigestAsync(sha256, new Date(sentAt));
      signed.push({ m, parts, sha256: sha256.toString('hex'), size, signature });
    }

    let afterCommit: (() => unknown) | undefined;
    // The push series (and its give-up period) starts when the messages are queued, after signing and the
    // GP copy's validation, not at sentAt: a slow validation must not eat into the retry period.
    const queuedAt = now().toISOString();
    const clock = await db.transaction().execute(async (trx) => {
      // Re-check under the lock: the case must still be this person's open case.
      const locked = await store.lockCase(trx, c.id);
      if (!locked || locked.assigned_to !== staff.id || locked.state !== 'assigned')
        throw conflict(`case ${caseId} changed meanwhile; nothing was sent`, 'case-state');
      await store.insertResponse(trx, {
        id: responseId,
        case_id: c.id,
        kind,
        author: staff.id,
        content_enc: sealSmall(deps.masterKey, Buffer.from(JSON.stringify(response.content), 'utf8')),
        media_type: doc.mediaType,
        size: doc.size,
        sha256: doc.sha256,
        blob_key: doc.blobKey,
        created_at: sentAt,
      });
      await store.insertMessages(
        trx,
        signed.map((s) => ({
          id: s.m.messageId,
          response_id: responseId,
          case_id: c.id,
          kind,
          recipient_party_id: s.m.to,
          recipient_ydernummer: s.m.ydernummer,
          copy: s.m.copy ? 1 : 0,
          sent_at: sentAt,
          state: s.m.state,
          envelope_enc: sealSmall(deps.masterKey, Buffer.from(JSON.stringify(s.parts), 'utf8')),
          envelope_size: s.size,
          envelope_sha256: s.sha256,
          signature: s.signature,
          last_error: s.m.state === 'invalid' ? 'failed validation against the MedCom profiles (see medcom show)' : null,
          // every row names every column: a multi-row insert would write NULL over a default
          format: s.medcom ? 'medcom' : 'envelope',
          transport: s.medcom?.transport ?? null,
          bundle_id: s.medcom?.bundleId || null,
          envelope_id: s.medcom && s.m.state === 'queued' ? s.medcom.envelopeId : null,
          envelope_sent_at: s.medcom && s.m.state === 'queued' ? sentAt : null,
          push_since: queuedAt,
          delivered_at: null,
          acknowledged_at: null,
          updated_at: sentAt,
        })),
      );
      await store.insertEvents(trx, [
        {
          case_id: c.id,
          at: sentAt,
          event: 'response-submitted',
          actor: staff.id,
          data: JSON.stringify({ responseId, kind, sha256: doc.sha256 }),
        },
        ...signed.map((s) => ({
          case_id: c.id,
          at: sentAt,
          event: `message-${s.m.state}` as const,
          actor: 'delivery',
          data: JSON.stringify({
            messageId: s.m.messageId,
            to: s.m.to,
            copy: s.m.copy,
            ...(s.m.ydernummer ? { ydernummer: s.m.ydernummer } : {}),
          }),
        })),
      ]);
      // The push jobs commit with the messages (transactional outbox); pull-only recipients' jobs end at once.
      for (const sm of signed) if (sm.m.state === 'queued') await enqueueIn(trx, deliveryJob(sm.m.messageId), sentAt);
      for (const s of signed.filter((x) => x.m.state === 'no-recipient-system')) {
        await appendAudit(trx, database, {
          at: sentAt,
          actor: 'delivery',
          action: 'gp-message-without-recipient',
          caseId: c.id,
          details: {
            messageId: s.m.messageId,
            ydernummer: s.m.ydernummer,
            reason: 'the GP directory has no practice with this ydernummer',
          },
        });
      }
      await appendAudit(trx, database, {
        at: sentAt,
        actor: staff.id,
        action: 'response-dispatched',
        caseId: c.id,
        details: {
          responseId,
          kind,
          sha256: doc.sha256,
          messages: signed.map((s) => ({ messageId: s.m.messageId, to: s.m.to, copy: s.m.copy, state: s.m.state })),
        },
      });
      let clockNow: unknown = JSON.parse(c.clock);
      if (FINAL_KINDS.includes(kind)) {
        const status = (clockNow as { status?: string }).status;
        const after: (() => unknown)[] = [];
        if (status === 'running') {
          const stop = await deps.deadlines.stopClockIn(trx, c.id, { at: sentAt }, staff.id);
          clockNow = stop.result.clock;
          after.push(stop.committed);
        }
        // An attest that asks for further assessment (§14 stk. 2) leaves the case open for the
        // overall assessment that follows it (§14 stk. 3–4), and its clock goes on for that
        // assessment (the agreement's deadline, or no-deadline-agreed); anything else final closes it.
        const further =
          kind === 'specialist-attest'
            ? (response.content as { furtherAssessment?: { needed?: boolean; priceDkk?: number } }).furtherAssessment
            : undefined;
        if (further?.needed === true) {
          const stage = await deps.deadlines.furtherAssessmentIn(trx, c.id, staff.id, {
            responseId,
            ...(further.priceDkk !== undefined ? { priceDkk: further.priceDkk } : {}),
          });
          clockNow = stage.result.clock;
          after.push(stage.committed);
        } else {
          await store.closeCase(trx, c.id, sentAt);
        }
        afterCommit = () => after.forEach((f) => f());
      }
      return clockNow;
    });
    afterCommit?.();
    log.info(
      { caseId: c.id, responseId, kind, messages: signed.map((s) => ({ messageId: s.m.messageId, to: s.m.to, state: s.m.state })) },
      'response dispatched',
    );
    for (const s of signed) {
      if (s.m.state === 'no-recipient-system') {
        log.warn(
          { caseId: c.id, messageId: s.m.messageId, ydernummer: s.m.ydernummer },
          'the GP directory has no practice with this ydernummer: the message is kept and listed for team leads',
        );
      }
    }
    deps.onDispatched?.(signed.filter((s) => s.m.state === 'queued').map((s) => s.m.messageId));
    return {
      responseId,
      caseId: c.id,
      kind,
      sentAt,
      messages: signed.map((s) => ({ messageId: s.m.messageId, to: s.m.to, copy: s.m.copy, state: s.m.state })),
      clock,
    };
  }

  /**
   * §11 stk. 3: the assigned coordinator records the conversation held with
   * the citizen (on `date`, not in the future), with the case event and audit.
   */
  async function recordConversation(staff: StaffParty, caseId: string, date: string): Promise<{ caseId: string; date: string }> {
    const c = await store.caseById(caseId);
    if (!c || c.assigned_to !== staff.id) throw notFound(`no case ${caseId} assigned to ${staff.id}`);
    if (c.state !== 'assigned') throw conflict(`case ${caseId} is ${c.state}; a conversation is recorded on an open case`, 'case-state');
    const at = now().toISOString();
    if (date > localDate(at) || date < localDate(c.received_at)) {
      throw unprocessable(`date: ${date} must lie between the receipt of the case and today`, [
        {
          path: 'date',
          message: 'must lie between the receipt of the case and today (a conversation held)',
          da: 'Datoen skal ligge mellem sagens modtagelse og i dag',
        },
      ]);
    }
    await db.transaction().execute(async (trx) => {
      await store.insertEvents(trx, [
        { case_id: c.id, at, event: CONVERSATION_EVENT, actor: staff.id, data: JSON.stringify({ date, rule: '§11 stk. 3' }) },
      ]);
      await appendAudit(trx, database, { at, actor: staff.id, action: CONVERSATION_EVENT, caseId: c.id, details: { date } });
    });
    return { caseId: c.id, date };
  }

  /**
   * A team lead resolves a GP message kept as `no-recipient-system`, once the
   * GP directory knows the practice (GP_DIRECTORY_FILE, then SIGHUP): the
   * CareCommunication is built now, with the response's instant as its
   * clinical timestamps (§15 stk. 2: the same instant as the municipality's
   * message), validated, signed and queued. Audited; 409 while the directory
   * still has no practice for the ydernummer. A message kept as `invalid` (it
   * failed MedCom validation) is rebuilt the same way once its cause is
   * corrected: queued when it validates, else invalid again with the new
   * findings.
   *
   * A message without a ydernummer (`gp` is optional in the manifest) could
   * otherwise never be sent: the lead gives the GP's `ydernummer`, which must
   * be one the directory knows (422 naming the field, nothing changed, when it
   * is missing or unknown). It becomes the message's ydernummer, and who gave
   * it is recorded (case event and audit entry `gp-ydernummer-given`). A
   * message that has its ydernummer keeps it (409 for another one): the case
   * names the GP, and a lead does not redirect a copy to another practice.
   */
  async function resolveGpMessage(
    lead: StaffParty,
    messageId: string,
    input: { ydernummer?: string } = {},
  ): Promise<{ messageId: string; state: MessageState; to: string | null; ydernummer: string }> {
    const m = await store.message(messageId);
    if (!m) throw notFound(`no message ${messageId}`);
    // An invalid message (its CareCommunication failed MedCom validation) is rebuilt and validated again from the
    // directory, configuration and parties as they are now: once the cause is corrected, the copy goes (§15 stk. 2).
    if ((m.state !== 'no-recipient-system' && m.state !== 'invalid') || m.format !== 'medcom') {
      throw conflict(
        `message ${messageId} is ${m.state}; only a GP message without a recipient, or one that failed validation, is resolved`,
        'message-state',
      );
    }
    const from: MessageState = m.state;
    const given = m.recipient_ydernummer === null ? input.ydernummer : undefined;
    if (m.recipient_ydernummer === null) {
      if (given === undefined) {
        throw unprocessable(
          "ydernummer: required: the message has no ydernummer (the municipality's manifest named no GP); give the citizen's GP",
          [
            {
              path: 'ydernummer',
              message: "required: the message has no ydernummer; give the citizen's GP, as the GP directory knows the practice",
              da: 'Angiv egen læges ydernummer: kommunen oplyste ingen egen læge',
            },
          ],
        );
      }
      if (!deps.medcom.practice(given)) {
        throw unprocessable(
          `ydernummer: the GP directory has no practice with ydernummer ${given}: check the number, or add the practice to ` +
            'GP_DIRECTORY_FILE and reload (SIGHUP) first; nothing was changed',
          [
            {
              path: 'ydernummer',
              message: `the GP directory has no practice with ydernummer ${given}`,
              da: `Lægeregistret har ingen praksis med ydernummer ${given}`,
            },
          ],
        );
      }
    } else if (input.ydernummer !== undefined && input.ydernummer !== m.recipient_ydernummer) {
      throw conflict(
        `message ${messageId} is for the GP with ydernummer ${m.recipient_ydernummer}; a ydernummer is given only for a message without one`,
        'ydernummer-given',
      );
    }
    const ydernummer = (m.recipient_ydernummer ?? given)!;
    const practice = deps.medcom.practice(ydernummer);
    if (!practice) {
      throw conflict(
        `the GP directory still has no practice with ydernummer ${ydernummer}: add it to GP_DIRECTORY_FILE and reload (SIGHUP) first`,
        'no-recipient-system',
      );
    }
    const c = (await store.caseById(m.case_id))!;
    const r = (await store.response(m.response_id))!;
    const author = deps.parties.get(r.author);
    const planned: PlannedMessage = {
      messageId: m.id,
      to: practice.transport.kind === 'party' ? practice.transport.partyId : null,
      ydernummer,
      copy: m.copy === 1,
      state: 'queued',
      gp: { practice },
    };
    const doc: StoredDocument = { blobKey: r.blob_key, size: Number(r.size), sha256: r.sha256, mediaType: r.media_type };
    const s = await prepareGp(
      planned,
      r.kind as 'specialist-attest' | 'gp-notice',
      c,
      author?.kind === 'staff' ? author : { name: r.author, roles: [] },
      citizenOf(c),
      m.sent_at,
      doc,
    );
    const at = now().toISOString();
    const done = await db.transaction().execute(async (trx) => {
      const ok = await store.resolveMessage(
        trx,
        m.id,
        {
          state: s.m.state,
          recipient_party_id: s.m.to,
          ...(given !== undefined ? { recipient_ydernummer: given } : {}),
          transport: s.medcom!.transport,
          bundle_id: s.medcom!.bundleId,
          envelope_id: s.m.state === 'queued' ? s.medcom!.envelopeId : null,
          envelope_sent_at: s.m.state === 'queued' ? at : null,
          envelope_enc: sealSmall(deps.masterKey, Buffer.from(JSON.stringify(s.parts), 'utf8')),
          envelope_size: s.size,
          envelope_sha256: s.sha256,
          signature: s.signature,
          push_since: at,
          last_error: s.m.state === 'invalid' ? 'failed validation against the MedCom profiles (see medcom show)' : null,
          updated_at: at,
        },
        from,
      );
      if (!ok) return false;
      const details = { messageId: m.id, ydernummer, to: s.m.to, transport: s.medcom!.transport, state: s.m.state, from };
      // A recipient that came from the lead, not from the municipality: who gave it is part of the record.
      const gave = given !== undefined ? { messageId: m.id, ydernummer: given } : undefined;
      await store.insertEvents(trx, [
        ...(gave ? [{ case_id: c.id, at, event: 'gp-ydernummer-given' as const, actor: lead.id, data: JSON.stringify(gave) }] : []),
        { case_id: c.id, at, event: 'gp-message-resolved', actor: lead.id, data: JSON.stringify(details) },
      ]);
      if (gave) await appendAudit(trx, database, { at, actor: lead.id, action: 'gp-ydernummer-given', caseId: c.id, details: gave });
      await appendAudit(trx, database, { at, actor: lead.id, action: 'gp-message-resolved', caseId: c.id, details });
      if (s.m.state === 'queued') await enqueueIn(trx, deliveryJob(m.id), at);
      return true;
    });
    if (!done) throw conflict(`message ${messageId} changed meanwhile`, 'message-state');
    log.info(
      {
        caseId: c.id,
        messageId: m.id,
        to: s.m.to,
        state: s.m.state,
        ydernummer,
        ydernummerGivenBy: given !== undefined ? lead.id : undefined,
      },
      'GP message resolved by a team lead',
    );
    if (s.m.state === 'queued') deps.onDispatched?.([m.id]);
    return { messageId: m.id, state: s.m.state, to: s.m.to, ydernummer };
  }

  return { assertAssignee, submit, recordConversation, resolveGpMessage };
}

export type ResponseService = ReturnType<typeof createResponseService>;
