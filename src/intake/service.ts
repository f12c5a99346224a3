/**
 * Intake: the legally significant moment. A package is receipted only after
 * its documents are durable (fsync'd blobs) and one database transaction has
 * committed case, documents, receipt and audit entry (§24).
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import { isUniqueViolation } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import { WriteOutcomeUnknown } from '../storage/writer.js';
import { deriveKey, sealSmall } from '../storage/crypto.js';
import { openRetained } from '../storage/retained.js';
import type { Party } from '../parties/parties.js';
import type { DeadlineService } from '../deadlines/service.js';
import { isService, SERVICES } from '../deadlines/types.js';
import { senderClock } from '../deadlines/engine.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { normaliseCpr } from '../shared/identifiers.js';
import { conflict, forbidden, notFound, Problem, unavailable, unprocessable } from '../shared/problem.js';
import { routingJob } from '../routing/types.js';
import { stampJob } from '../timestamps/types.js';
import { validationProblem } from '../shared/validate.js';
import { receiptBytes, type Receipt, type Signer } from '../receipts/receipt.js';
import { missingDocuments, SENIOR_PENSION_SERVICES, type Manifest } from './schema.js';
import type { UploadState } from './upload.js';
import type { CaseRow } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import { createIntakeStore, type StoredReceipt } from './store.js';
import { consentRow } from '../consents/service.js';
import type { TimestampService } from '../timestamps/service.js';
import { withSignatureTimestamp } from '../receipts/cms.js';

export interface MunicipalityTable {
  regionOf(code: string): string | undefined;
  regionName(code: string): string | undefined;
}

export interface IntakeDeps {
  db: Db;
  blobs: BlobStore;
  masterKey: Buffer;
  signer: Signer;
  deadlines: Pick<DeadlineService, 'governingAgreement' | 'receiptClock'>;
  municipalities: MunicipalityTable;
  regionCode: string;
  log: Logger;
  now?: () => Date;
  /** issue 15: the receipts' RFC 3161 timestamps (served with the receipt; intake fails closed without them) */
  timestamps?: Pick<TimestampService, 'timestampOf' | 'refuseIntake'>;
  /** Called after a package is committed (e.g. to schedule deadline reminders). Errors are logged, never thrown. */
  onCommitted?: (caseId: string) => void | Promise<void>;
}

export interface ReceiptResult {
  status: 200 | 201;
  receiptId: string;
  caseId: string;
  body: Buffer;
  signature: Buffer;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Decides "same content" for idempotency: the canonical manifest plus every document's hash. */
export function contentHash(manifest: Manifest, docs: { part: string; sha256: string }[]): string {
  const parts = [...docs].sort((a, b) => (a.part < b.part ? -1 : 1)).map((d) => `${d.part}:${d.sha256}`);
  return sha256(canonicalJson(manifest) + '\n' + parts.join('\n'));
}

export function createIntakeService(deps: IntakeDeps) {
  const { blobs, log } = deps;
  const store = createIntakeStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const citizenKey = deriveKey(deps.masterKey, 'citizen-ref');
  const citizenRef = (cpr: string) => createHmac('sha256', citizenKey).update(normaliseCpr(cpr)).digest('hex');

  /**
   * Authorisation and context checks that need only the manifest; they run as
   * soon as it arrives, before any document is written.
   */
  async function checkManifest(party: Party, m: Manifest): Promise<void> {
    if (party.kind === 'municipality') {
      const own = party.municipalityCode!;
      if (m.municipalityCode && m.municipalityCode !== own) {
        throw forbidden(`${party.id} sends for municipality ${own} only; the manifest names ${m.municipalityCode}`, 'foreign-municipality');
      }
    } else if (party.kind === 'senior-pension-unit') {
      if (!SENIOR_PENSION_SERVICES.includes(m.service)) {
        throw new Problem({
          status: 403,
          title: 'Forbidden',
          type: 'service-not-allowed',
          detail: `Seniorpensionsenheden requests only senior-pension-advice and senior-pension-assessment (§13 stk. 1), not ${m.service}`,
          extensions: { rules: ['§13 stk. 1'] },
        });
      }
      if (!m.municipalityCode) {
        throw validationProblem(
          [{ path: 'municipalityCode', message: "required from the senior-pension unit: the citizen's municipality" }],
          {
            what: 'the manifest',
            type: 'invalid-manifest',
          },
        );
      }
    }
    const code = party.kind === 'municipality' ? party.municipalityCode! : m.municipalityCode!;
    const region = deps.municipalities.regionOf(code);
    if (!region) {
      throw validationProblem([{ path: 'municipalityCode', message: `${code} is not one of the 98 Danish municipality codes` }], {
        what: 'the manifest',
        type: 'invalid-manifest',
      });
    }
    // §29 stk. 3: by agreement one region gives the §26 advice on behalf of all five; §27 attests stay with each region.
    const nationwide =
      party.kind === 'senior-pension-unit' &&
      m.service === 'senior-pension-advice' &&
      deps.deadlines.governingAgreement(party, code, now().toISOString())?.nationwideAdvice === true;
    if (region !== deps.regionCode && !nationwide) {
      throw forbidden(
        `municipality ${code} lies in ${deps.municipalities.regionName(region) ?? region} (${region}); this mailbox serves region ${deps.regionCode}. ` +
          "A municipality works with the region it lies in (§29 stk. 4): send the package to that region's mailbox.",
        'wrong-region',
      );
    }
    // §16 stk. 3–4: a service the order does not name is one the sender's agreement in force defines.
    if (
      !isService(m.service) &&
      !deps.deadlines.governingAgreement(party, code, now().toISOString())?.services?.some((x) => x.id === m.service)
    ) {
      throw validationProblem(
        [
          {
            path: 'service',
            message:
              `${m.service} is no statutory service and no supplementary service of your agreement in force (§16 stk. 3–4); ` +
              `the statutory ones are ${SERVICES.join(', ')}`,
          },
        ],
        { what: 'the manifest', type: 'invalid-manifest' },
      );
    }
    if (m.supplementTo) {
      const c = await store.caseById(m.supplementTo);
      if (!c || c.sender_party_id !== party.id) {
        // Another sender's case is reported exactly like a missing one: no existence leak.
        throw notFound(`supplementTo names no case of ${party.id}`);
      }
      if (c.service !== m.service) {
        throw unprocessable(`a supplement must name the service of its case (${c.service})`, [
          { path: 'service', message: `must be ${c.service}, the service of case ${c.id}` },
        ]);
      }
    }
  }

  async function existingReceipt(party: Party, packageId: string, hash: string): Promise<ReceiptResult | null> {
    const r = await store.receiptOfPackage(party.id, packageId);
    if (!r) return null;
    if (r.contentSha256 !== hash) {
      throw conflict(
        `packageId ${packageId} was already received from ${party.id} with different content; choose a new packageId for a new package`,
        'package-id-reused',
      );
    }
    return { status: 200, receiptId: r.receiptId, caseId: r.caseId, body: r.body, signature: r.signature };
  }

  /** Commits a fully uploaded package and returns its receipt. Blobs of a package that is not committed are removed. */
  async function commit(party: Party, state: UploadState): Promise<ReceiptResult> {
    const m = state.manifest!;
    const docs = state.stored;
    const keep = { value: false };
    // Issue 15: everything after the documents were written (hashing, canonical JSON, sealing, signing) runs
    // inside this scope, so any failure removes them.
    try {
      const hash = contentHash(
        m,
        docs.map((d) => ({ part: d.entry.part, sha256: d.sha256 })),
      );
      const repeat = await existingReceipt(party, m.packageId, hash);
      if (repeat) return repeat;
      const result = await insertPackage(party, state, hash);
      keep.value = result.status === 201;
      return result;
    } catch (e) {
      if (e instanceof Problem) throw e;
      log.error({ err: e, partyId: party.id }, 'intake commit failed');
      if (e instanceof WriteOutcomeUnknown) {
        // It may have committed: its documents stay (the orphan sweep removes them if it did not).
        keep.value = true;
        throw unavailable(
          'the gateway could not confirm that the package was stored. Send it again with the same packageId: if it was stored, the answer is its receipt.',
        );
      }
      throw unavailable('the package could not be stored durably; nothing was receipted. Send it again with the same packageId.');
    } finally {
      if (!keep.value) {
        await Promise.allSettled(docs.map((d) => blobs.delete(d.blobKey)));
      }
    }
  }

  async function insertPackage(party: Party, state: UploadState, hash: string): Promise<ReceiptResult> {
    const m = state.manifest!;
    const raw = state.manifestRaw!;
    const receivedAt = now().toISOString();
    const packageRowId = randomUUID();
    const receiptId = randomUUID();
    const municipalityCode = party.kind === 'municipality' ? party.municipalityCode! : m.municipalityCode!;
    const docTypes = state.stored.map((d) => d.entry.type);

    let caseRow: CaseRow;
    let becameComplete = false;
    let missing: string[];
    if (m.supplementTo) {
      const existing = await store.caseById(m.supplementTo);
      if (!existing) throw notFound(`supplementTo names no case of ${party.id}`);
      if (existing.purged_at) {
        throw conflict(
          `case ${existing.id} was deleted on ${existing.purged_at.slice(0, 10)} when its retention period ended; send a new case instead`,
          'case-purged',
        );
      }
      const first = JSON.parse(openRetained(deps.masterKey, existing.manifest_enc, `case ${existing.id}`).toString('utf8')) as Manifest;
      if (normaliseCpr(first.citizen.cpr) !== normaliseCpr(m.citizen.cpr)) {
        throw unprocessable('a supplement must concern the same citizen as its case', [
          { path: 'citizen.cpr', message: `does not match the citizen of case ${existing.id}` },
        ]);
      }
      missing = missingDocuments(m.service, [...(await store.documentTypes(existing.id)), ...docTypes]);
      const completeNow = existing.complete === 1 || missing.length === 0;
      becameComplete = existing.complete === 0 && completeNow;
      const requests = { ...JSON.parse(existing.requests), ...definedRequests(m) };
      caseRow = {
        ...existing,
        complete: completeNow ? 1 : 0,
        state: becameComplete ? 'received' : existing.state,
        clock_started_at: becameComplete ? receivedAt : existing.clock_started_at,
        requests: JSON.stringify(requests),
        urgent: existing.urgent === 1 || m.urgent ? 1 : 0,
        updated_at: receivedAt,
      };
    } else {
      missing = missingDocuments(m.service, docTypes);
      const complete = missing.length === 0;
      const agreement = deps.deadlines.governingAgreement(party, municipalityCode, receivedAt);
      caseRow = {
        id: randomUUID(),
        sender_party_id: party.id,
        municipality_code: municipalityCode,
        service: m.service,
        case_type: m.caseType,
        urgent: m.urgent ? 1 : 0,
        state: complete ? 'received' : 'awaiting-complete-case',
        complete: complete ? 1 : 0,
        received_at: receivedAt,
        clock_started_at: complete ? receivedAt : null,
        agreement_id: agreement?.id ?? null,
        citizen_ref: citizenRef(m.citizen.cpr),
        gp_ydernummer: m.gp?.ydernummer ?? null,
        treating_clinicians: JSON.stringify(m.treatingClinicians ?? []),
        consents: '{}', // superseded by recorded consents (the consents table)
        manifest_enc: sealSmall(deps.masterKey, raw),
        clock: '',
        assigned_to: null,
        created_at: receivedAt,
        updated_at: receivedAt,
        routing_round: 0,
        assigned_at: null,
        conflicts: '[]',
        routing_note: null,
        requests: JSON.stringify(definedRequests(m)),
        closed_at: null,
        hold_reason: null,
        hold_by: null,
        hold_at: null,
        purged_at: null,
      };
    }
    const priorEvents = m.supplementTo ? await store.events(caseRow.id) : [];
    const clock = deps.deadlines.receiptClock(caseRow, priorEvents);
    caseRow.clock = JSON.stringify(clock);
    // A complete case has nothing missing, whatever this supplement adds.
    if (caseRow.complete === 1) missing = [];

    const receipt: Receipt = {
      receiptId,
      packageId: m.packageId,
      caseId: caseRow.id,
      sender: { partyId: party.id, municipalityCode },
      receivedAt,
      service: m.service,
      ...(m.supplementTo ? { supplementTo: m.supplementTo } : {}),
      documents: m.documents.map((e) => {
        const d = state.stored.find((s) => s.entry.part === e.part)!;
        return { part: e.part, type: e.type, size: d.size, sha256: d.sha256 };
      }),
      missingDocuments: missing,
      manifestSha256: sha256(raw),
      // The sender's receipt: the case's clock without a staff member's extension reason (the stored clock keeps it).
      clock: senderClock(clock),
    };
    const body = receiptBytes(receipt);
    const signature = await deps.signer.signAsync(body);

    const events: { event: CaseEvent; data: Record<string, unknown> }[] = [
      {
        event: m.supplementTo ? 'supplement-received' : 'received',
        data: { packageId: m.packageId, receiptId, documents: state.stored.length },
      },
    ];
    if (!m.supplementTo && caseRow.complete === 0) events.push({ event: 'awaiting-complete-case', data: { missingDocuments: missing } });
    // A case that is complete now (new and complete, or completed by this
    // supplement) starts its clock and goes to routing: the outbox row commits with it.
    const startsNow = (!m.supplementTo && caseRow.complete === 1) || becameComplete;
    if (startsNow) events.push({ event: 'clock-started', data: { at: receivedAt, deadlines: clock.deadlines } });

    try {
      await store.commitPackage({
        case: m.supplementTo
          ? {
              update: {
                id: caseRow.id,
                complete: caseRow.complete,
                state: caseRow.state,
                clock_started_at: caseRow.clock_started_at,
                requests: caseRow.requests,
                urgent: caseRow.urgent,
                clock: caseRow.clock,
                updated_at: receivedAt,
              },
            }
          : { insert: caseRow },
        package: {
          id: packageRowId,
          sender_party_id: party.id,
          package_id: m.packageId,
          case_id: caseRow.id,
          content_sha256: hash,
          manifest_sha256: receipt.manifestSha256,
          is_supplement: m.supplementTo ? 1 : 0,
          received_at: receivedAt,
        },
        documents: state.stored.map((d) => ({
          id: randomUUID(),
          case_id: caseRow.id,
          package_row_id: packageRowId,
          part: d.entry.part,
          type: d.entry.type,
          title: d.entry.title ?? null,
          media_type: d.entry.mediaType,
          size: d.size,
          sha256: d.sha256,
          blob_key: d.blobKey,
          created_at: receivedAt,
        })),
        receipt: { id: receiptId, body, signature },
        events,
        actor: party.id,
        at: receivedAt,
        // issue 15: the receipt's RFC 3161 timestamp is asked for after the commit, never on the request path
        jobs: [stampJob(receiptId), ...(startsNow ? [routingJob(caseRow.id, caseRow.routing_round, caseRow.urgent === 1)] : [])],
        consents: (m.consents ?? []).map((r) => consentRow(caseRow.id, r, party.id, receivedAt)),
        audit: {
          at: receivedAt,
          actor: party.id,
          action: m.supplementTo ? 'supplement-received' : 'package-received',
          caseId: caseRow.id,
          details: {
            packageId: m.packageId,
            receiptId,
            manifestSha256: receipt.manifestSha256,
            documents: receipt.documents,
            clockStatus: clock.status,
          },
        },
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        // A concurrent post of the same packageId committed first.
        const repeat = await existingReceipt(party, m.packageId, hash);
        if (repeat) return repeat;
      }
      throw e;
    }
    log.info(
      { partyId: party.id, caseId: caseRow.id, receiptId, service: m.service, documents: state.stored.length, clock: clock.status },
      'package receipted',
    );
    if (deps.onCommitted) {
      Promise.resolve()
        .then(() => deps.onCommitted!(caseRow.id))
        .catch((err: unknown) => log.error({ err, caseId: caseRow.id }, 'after-commit hook failed (the reconciler will catch up)'));
    }
    return { status: 201, receiptId, caseId: caseRow.id, body, signature };
  }

  /**
   * The receipt for its sender. Once timestamped (issue 15), the signature carries the TSA's token as the
   * unsigned attribute signatureTimeStampToken (CAdES-T): signed attributes and signature value unchanged.
   */
  async function getReceipt(party: Party, receiptId: string): Promise<StoredReceipt & { timestamped: boolean }> {
    const r = await store.receipt(receiptId);
    if (!r || r.senderPartyId !== party.id) throw notFound(`no receipt ${receiptId} for ${party.id}`);
    const ts = await deps.timestamps?.timestampOf(receiptId);
    if (!ts) return { ...r, timestamped: false };
    return { ...r, signature: withSignatureTimestamp(r.signature, ts.token), timestamped: true };
  }

  /** The TSA's TimeStampResp (DER) over SHA-256 of the receipt's signature value; 404 until it is there. */
  async function getReceiptTimestamp(party: Party, receiptId: string): Promise<{ response: Buffer; genTime: string }> {
    const r = await store.receipt(receiptId);
    if (!r || r.senderPartyId !== party.id) throw notFound(`no receipt ${receiptId} for ${party.id}`);
    const ts = await deps.timestamps?.timestampOf(receiptId);
    if (!ts) {
      throw new Problem({
        status: 404,
        title: 'Not found',
        type: 'timestamp-pending',
        detail:
          `receipt ${receiptId} has no timestamp yet: the gateway asks the time-stamping authority right after the receipt is stored, ` +
          'usually within seconds. Ask again later (receipts from before timestamps were introduced never get one).',
        headers: { 'Retry-After': '10' },
      });
    }
    return { response: ts.response, genTime: ts.genTime };
  }

  /** issue 15: 503 while no receipt could be timestamped for TSA_MAX_GAP_MINUTES; null otherwise. */
  function refuseIntake(): Problem | null {
    return deps.timestamps?.refuseIntake() ?? null;
  }

  /** Records a refused package: the audit entry is all that is kept of it. */
  async function auditRejection(party: Party | undefined, status: number, type: string, packageId?: string): Promise<void> {
    try {
      await deps.db.writer.commit([
        {
          audit: {
            at: now().toISOString(),
            actor: party?.id ?? 'anonymous',
            action: 'package-rejected',
            caseId: null,
            details: { status, type, ...(packageId ? { packageId } : {}) },
          },
        },
      ]);
    } catch (e) {
      log.error({ err: e }, 'could not audit a rejected package');
    }
  }

  return { checkManifest, commit, getReceipt, getReceiptTimestamp, refuseIntake, auditRejection };
}

/** What the requester asked for or stated beyond the service (§6 stk. 1 advice before the meeting; §11 stk. 3 risk). */
function definedRequests(m: Manifest): Record<string, boolean> {
  return {
    ...(m.preMeetingAdviceRequested === undefined ? {} : { preMeetingAdviceRequested: m.preMeetingAdviceRequested }),
    ...(m.riskUnfitAfter4Years === undefined ? {} : { riskUnfitAfter4Years: m.riskUnfitAfter4Years }),
  };
}

export type IntakeService = ReturnType<typeof createIntakeService>;
