/**
 * The work queues and the case (API.md "Staff: work queues").
 *
 * Who sees what (one rule, `caseAccess`):
 * - a sender (municipality, senior-pension unit) sees its own cases;
 * - a staff member sees the cases assigned to them;
 * - a team lead sees every case of the region (this gateway serves one region);
 * - nobody else sees anything. A case someone may not see is answered exactly
 *   like a missing one (404), so existence does not leak.
 *
 * Documents are read by the assigned staff member and team leads only; every
 * read is written to the access log (the hash-chained audit log, action
 * `document-read`: who, when, which case, which document) before a byte is sent.
 */
import type { Readable } from 'node:stream';
import type { Db } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import type { CaseRow, DocumentRow } from '../storage/schema.js';
import type { Party, StaffParty } from '../parties/parties.js';
import { isStaff, isTeamLead } from '../parties/roles.js';
import { appendAudit } from '../audit/audit.js';
import { forbidden, notFound } from '../shared/problem.js';
import type { DeadlineService } from '../deadlines/service.js';
import type { Clock, Service } from '../deadlines/types.js';
import { missingDocuments } from '../intake/schema.js';
import { createWorklistStore, type ListRow, type WorklistStore } from './store.js';
import type { CaseView, Extension, LeadFilter, LeadListItem, WorklistItem } from './schema.js';

export type CaseAccess = 'sender' | 'assignee' | 'team-lead';

/** How `party` may see case `c`, or null when it may not. */
export function caseAccess(party: Party, c: Pick<CaseRow, 'sender_party_id' | 'assigned_to'>): CaseAccess | null {
  if (party.kind === 'municipality' || party.kind === 'senior-pension-unit') return c.sender_party_id === party.id ? 'sender' : null;
  if (isTeamLead(party)) return 'team-lead';
  if (isStaff(party) && c.assigned_to === party.id) return 'assignee';
  return null;
}

function parseClock(text: string): Clock | null {
  try {
    return JSON.parse(text) as Clock;
  } catch {
    return null;
  }
}

/** The earliest due deadline of a running clock (what the worklist sorts by). */
function nextDue(clock: Clock | null): { dueDate: string; dueAt: string } | null {
  if (!clock || clock.status !== 'running') return null;
  let best: { dueDate: string; dueAt: string } | null = null;
  for (const d of clock.deadlines) if (!best || Date.parse(d.dueAt) < Date.parse(best.dueAt)) best = { dueDate: d.dueDate, dueAt: d.dueAt };
  return best;
}

function item(r: ListRow): WorklistItem {
  const due = nextDue(parseClock(r.clock));
  return {
    caseId: r.id,
    service: r.service,
    caseType: r.case_type,
    urgent: r.urgent === 1,
    municipalityCode: r.municipality_code,
    receivedAt: r.received_at,
    dueDate: due?.dueDate ?? null,
    dueAt: due?.dueAt ?? null,
    state: r.state,
  };
}

/** §21 stk. 3: urgent first everywhere; then the earliest due; cases without a running deadline last; then oldest first. */
export function byUrgency(a: WorklistItem, b: WorklistItem): number {
  if (a.urgent !== b.urgent) return a.urgent ? -1 : 1;
  const da = a.dueAt ? Date.parse(a.dueAt) : Infinity;
  const dbt = b.dueAt ? Date.parse(b.dueAt) : Infinity;
  if (da !== dbt) return da < dbt ? -1 : 1;
  return a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : a.caseId < b.caseId ? -1 : 1;
}

const EXTENSIONS: Record<string, string> = {
  'application/pdf': '.pdf',
  'application/xml': '.xml',
  'text/xml': '.xml',
  'application/json': '.json',
  'text/plain': '.txt',
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/tiff': '.tif',
};

/** A download's file name: the part name (safe characters only) with the extension of its media type. */
export function downloadName(part: string, mediaType: string): string {
  const base = part.replace(/[^A-Za-z0-9._-]/g, '_');
  const ext = EXTENSIONS[mediaType] ?? '';
  return base.toLowerCase().endsWith(ext) ? base : `${base}${ext}`;
}

export interface WorklistServiceDeps {
  db: Db;
  blobs: BlobStore;
  deadlines: Pick<DeadlineService, 'alertOf'>;
  /** stands in for the database store where a test needs only data */
  store?: WorklistStore;
  now?: () => Date;
}

export function createWorklistService(deps: WorklistServiceDeps) {
  const store = deps.store ?? createWorklistStore(deps.db.db);
  const now = deps.now ?? (() => new Date());

  /** The case if `party` may see it with one of `allowed`; else 404 (no existence leak). */
  async function visibleCase(party: Party, caseId: string, allowed: readonly CaseAccess[]): Promise<CaseRow> {
    const c = await store.caseById(caseId);
    const access = c ? caseAccess(party, c) : null;
    if (!c || !access || !allowed.includes(access)) throw notFound(`no case ${caseId} for ${party.id}`);
    return c;
  }

  async function worklist(staff: StaffParty): Promise<WorklistItem[]> {
    return (await store.assignedTo(staff.id)).map(item).sort(byUrgency);
  }

  /** Team leads' lists: unassigned, awaiting their complete documents, overdue or at risk. */
  async function leadList(filter: LeadFilter): Promise<LeadListItem[]> {
    let rows: ListRow[];
    if (filter === 'unassigned' || filter === 'awaiting-complete-case') {
      rows = await store.inStates([filter]);
    } else {
      const at = now();
      rows = (await store.inStates(['received', 'assigned', 'unassigned'])).filter(
        (r) => deps.deadlines.alertOf(parseClock(r.clock), at) === filter,
      );
    }
    const types = filter === 'awaiting-complete-case' ? await store.documentTypes(rows.map((r) => r.id)) : undefined;
    return rows
      .map((r) => ({
        ...item(r),
        assignedTo: r.assigned_to,
        ...(r.state === 'unassigned' && r.routing_note ? { routing: JSON.parse(r.routing_note) as LeadListItem['routing'] } : {}),
        ...(types ? { missingDocuments: missingDocuments(r.service as Service, types.get(r.id) ?? []) } : {}),
        ...(filter === 'overdue' || filter === 'at-risk'
          ? { extended: parseClock(r.clock)?.deadlines.some((d) => d.extension !== undefined) ?? false }
          : {}),
      }))
      .sort(byUrgency);
  }

  /** The case as its sender, its assignee or a team lead sees it. */
  async function caseView(party: Party, caseId: string): Promise<CaseView> {
    const c = await visibleCase(party, caseId, ['sender', 'assignee', 'team-lead']);
    const d = await store.details(c.id);
    return {
      caseId: c.id,
      state: c.state,
      service: c.service,
      caseType: c.case_type,
      urgent: c.urgent === 1,
      municipalityCode: c.municipality_code,
      receivedAt: c.received_at,
      assignedTo: c.assigned_to,
      clock: JSON.parse(c.clock) as Clock,
      missingDocuments:
        c.complete === 1
          ? []
          : missingDocuments(
              c.service as Service,
              d.documents.map((x) => x.type),
            ),
      documents: d.documents.map((x) => ({
        part: x.part,
        type: x.type,
        title: x.title,
        mediaType: x.media_type,
        size: x.size,
        sha256: x.sha256,
        receivedAt: x.created_at,
      })),
      // Delivery states per recipient; a message to a GP is a MedCom CareCommunication with its acknowledgement.
      responses: d.responses.map((r) => ({
        responseId: r.id,
        kind: r.kind,
        author: r.author,
        sentAt: r.created_at,
        document: { sha256: r.sha256, size: r.size },
        messages: d.messages
          .filter((m) => m.response_id === r.id)
          .map((m) => ({
            messageId: m.id,
            to: m.recipient_party_id,
            ...(m.recipient_ydernummer ? { ydernummer: m.recipient_ydernummer } : {}),
            copy: m.copy === 1,
            sentAt: m.sent_at,
            state: m.state,
            deliveredAt: m.delivered_at,
            acknowledgedAt: m.acknowledged_at,
            pushAttempts: m.push_attempts,
            ...(m.format === 'medcom'
              ? {
                  medcom: {
                    transport: m.transport,
                    sends: m.sends,
                    acknowledgement: m.ack_code ? { code: m.ack_code, at: m.ack_at } : null,
                  },
                }
              : {}),
          })),
      })),
      history: d.events.map((e) => ({ at: e.at, event: e.event, actor: e.actor, data: JSON.parse(e.data) as unknown })),
    };
  }

  /**
   * A document of the case, decrypted, for its assignee or a team lead. The
   * access-log entry commits before the stream is handed out; the caller
   * sends it and destroys it on failure.
   */
  async function readDocument(
    party: Party,
    caseId: string,
    part: string,
  ): Promise<{ doc: DocumentRow; stream: Readable; fileName: string }> {
    const c = await store.caseById(caseId);
    const access = c ? caseAccess(party, c) : null;
    if (!c || !access) throw notFound(`no case ${caseId} for ${party.id}`);
    if (access === 'sender') {
      throw forbidden(
        `documents of case ${caseId} are read by the staff member it is assigned to and by team leads; ` +
          'as its sender you hold them already (your receipt names each document with its SHA-256)',
        'sender-document-read',
      );
    }
    const doc = await store.latestDocument(c.id, part);
    if (!doc) throw notFound(`case ${c.id} has no document ${part}`);
    const stream = await deps.blobs.get(doc.blob_key);
    try {
      await appendAudit(deps.db.db, deps.db.dialect, {
        at: now().toISOString(),
        actor: party.id,
        action: 'document-read',
        caseId: c.id,
        details: { documentId: doc.id, part: doc.part, type: doc.type, sha256: doc.sha256 },
      });
    } catch (err) {
      stream.destroy();
      throw err;
    }
    return { doc, stream, fileName: downloadName(doc.part, doc.media_type) };
  }

  /** §22, §23: the extensions agreed in the case, for its requester, its assignee and team leads. */
  async function extensions(party: Party, caseId: string): Promise<Extension[]> {
    const c = await visibleCase(party, caseId, ['sender', 'assignee', 'team-lead']);
    return (await store.extensionEvents(c.id)).map((e) => {
      const d = JSON.parse(e.data) as Record<string, string>;
      return {
        agreedAt: e.at,
        recordedBy: e.actor,
        kind: d.kind ?? '',
        rule: d.rule ?? '',
        previousDueDate: d.previousDueDate ?? '',
        dueDate: d.dueDate ?? '',
        reason: d.reason ?? '',
        agreedWith: d.agreedWith ?? '',
      };
    });
  }

  return { visibleCase, worklist, leadList, caseView, readDocument, extensions };
}

export type WorklistService = ReturnType<typeof createWorklistService>;
