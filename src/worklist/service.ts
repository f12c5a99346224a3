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
 * The case file of the staff pages (the case with the citizen's name and CPR
 * number from the manifest) is theirs only too, and every opening of it is
 * written to the access log as `case-read` before it is returned.
 */
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { Db } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import type { CaseRow, ConsentsTable, DocumentRow } from '../storage/schema.js';
import { openRetained, retainedBlobKey } from '../storage/retained.js';
import type { Party, StaffParty } from '../parties/parties.js';
import { isStaff, isTeamLead } from '../parties/roles.js';
import { appendAudit, type AuditEntry } from '../audit/audit.js';
import type { ReadAudit } from '../audit/reads.js';
import { forbidden, notFound } from '../shared/problem.js';
import { daysBetween, localDate, type DeadlineService } from '../deadlines/service.js';
import type { Clock, Service } from '../deadlines/types.js';
import { missingDocuments, type Manifest } from '../intake/schema.js';
import { kindsFor, type ResponseKind } from '../responses/service.js';
import type { consentSchema } from '../consents/schema.js';
import { senderCaseView, senderExtension } from './audience.js';
import type { RetentionService } from '../retention/service.js';
import { createWorklistStore, OPEN_STATES, type ListRow, type WorklistStore } from './store.js';
import { LEAD_FILTERS, type CaseView, type Extension, type LeadFilter, type LeadListItem, type WorklistItem } from './schema.js';

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

function item(r: ListRow, clock: Clock | null): WorklistItem {
  const due = nextDue(clock);
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

/** An open case as the lists see it: its row, its clock (parsed once) and its list item. */
interface OpenCase {
  row: ListRow;
  clock: Clock | null;
  item: WorklistItem;
}

function openCase(row: ListRow): OpenCase {
  const clock = parseClock(row.clock);
  return { row, clock, item: item(row, clock) };
}

/** §22, §23: a deadline of the clock was moved by an agreed extension. */
function isExtended(clock: Clock | null): boolean {
  return clock?.deadlines.some((d) => d.extension !== undefined) ?? false;
}

/**
 * Where a case stands with its deadline, for the staff pages: `overdue` and
 * `at-risk` from the deadline service (a running clock only); otherwise the
 * clock's status (`stopped`: e.g. the §21 meeting is booked and the case waits
 * for its response).
 */
export const DEADLINE_STATUSES = ['overdue', 'at-risk', 'running', 'stopped', 'awaiting-complete-case', 'no-deadline-agreed'] as const;
export type DeadlineStatus = (typeof DEADLINE_STATUSES)[number];

function deadlineStatus(c: OpenCase, alert: 'overdue' | 'at-risk' | null): DeadlineStatus {
  if (alert) return alert;
  if (c.row.state === 'awaiting-complete-case') return 'awaiting-complete-case';
  switch (c.clock?.status) {
    case 'running':
    case 'stopped':
    case 'awaiting-complete-case':
      return c.clock.status;
    default:
      return 'no-deadline-agreed';
  }
}

export type WorklistPageItem = WorklistItem & { status: DeadlineStatus };

/** What a worklist page asks for: filters (all optional) and the page. */
export interface WorklistQuery {
  service?: string;
  municipality?: string;
  status?: DeadlineStatus;
  /** 1-based; clamped to the pages there are */
  page?: number;
  /** default 50, at most 200 */
  pageSize?: number;
}

export interface WorklistPage {
  /** this page's cases, in worklist order (§21 stk. 3) */
  items: WorklistPageItem[];
  /** cases matching the filters */
  total: number;
  page: number;
  pages: number;
  pageSize: number;
  /** the values the filters can take: those of all the staff member's open cases, whatever is filtered */
  facets: { services: string[]; municipalities: string[]; statuses: DeadlineStatus[] };
  /** §16 stk. 3–4: the names the agreements give the supplementary services among those cases, by service id */
  serviceNames: Record<string, string>;
}

export const WORKLIST_PAGE_SIZE = 50;
export const WORKLIST_MAX_PAGE_SIZE = 200;

/** A whole number in [min, max]; `fallback` when it is not a finite number. */
function clampInt(n: number | undefined, fallback: number, min: number, max: number): number {
  const v = n !== undefined && Number.isFinite(n) ? Math.floor(n) : fallback;
  return Math.min(max, Math.max(min, v));
}

/** The team leads' overview: every list of `leadList` at once. */
export interface LeadOverview {
  unassigned: LeadListItem[];
  awaitingCompleteCase: LeadListItem[];
  atRisk: LeadListItem[];
  overdue: LeadListItem[];
  extended: LeadListItem[];
  /** §16 stk. 3–4: the names the agreements give the supplementary services among the open cases, by service id */
  serviceNames: Record<string, string>;
}

/**
 * A case's service as its pages show and answer it: a statutory service returns the kinds the law gives it
 * (KINDS_BY_SERVICE); a supplementary one (§16 stk. 3–4) has the name and the response kinds its agreement gives it,
 * and none when the agreement no longer defines it. The same kinds `checkResponse` accepts.
 */
export interface CaseService {
  /** the agreement's name of a supplementary service; null for a statutory one (the pages name those) */
  name: string | null;
  responseKinds: readonly ResponseKind[];
}

/** The states whose clocks the overdue and at-risk lists look at. */
const ALERT_STATES: readonly string[] = ['received', 'assigned', 'unassigned'];

/** The states a team-lead list reads: a case in any other state is on none of them. */
const LEAD_STATES: Record<LeadFilter, readonly string[]> = {
  unassigned: ['unassigned'],
  'awaiting-complete-case': ['awaiting-complete-case'],
  overdue: ALERT_STATES,
  'at-risk': ALERT_STATES,
  extended: OPEN_STATES,
};

/** The team-lead lists an open case is on (one rule for `leadList` and `overview`). Pure. */
function leadFiltersOf(c: OpenCase, alert: 'overdue' | 'at-risk' | null): LeadFilter[] {
  const state = c.row.state;
  const out: LeadFilter[] = [];
  if (state === 'unassigned') out.push('unassigned');
  if (state === 'awaiting-complete-case') out.push('awaiting-complete-case');
  if (alert && ALERT_STATES.includes(state)) out.push(alert);
  if ((OPEN_STATES as readonly string[]).includes(state) && isExtended(c.clock)) out.push('extended');
  return out;
}

/** A consent or agreement recorded on the case, as the consents feature lists it. */
export type CaseConsent = z.infer<typeof consentSchema>;

/** A deadline of the case's clock as the case page shows it. */
export interface CaseFileDeadline {
  kind: string;
  /** the rule that sets it, e.g. "§21 stk. 1", "§23" */
  rule: string;
  dueDate: string;
  /** calendar days from today (Europe/Copenhagen) to the due date; negative when it has passed (shown beside the clock's status) */
  daysLeft: number;
  /** "default" or "agreement:<id>" */
  source: string;
  /** the agreement that sets it, when one does */
  agreementId?: string;
  /** §22, §23: the deadline was moved by an agreed extension */
  extension?: { reason: string; agreedWith: string; originalDueDate?: string };
}

/** The case page: the case view, who it concerns (from the manifest), its consents and its deadlines. */
export interface CaseFile extends CaseView {
  /** the agreement that governs the case (cases.agreement_id), or null: statutory defaults */
  agreementId: string | null;
  citizen: { name: string; cpr: string };
  gp: { ydernummer: string; name?: string } | null;
  caseworker: { name: string; email?: string; phone?: string } | null;
  consents: CaseConsent[];
  deadlines: CaseFileDeadline[];
}

function consentView(r: ConsentsTable): CaseConsent {
  return {
    id: r.id,
    caseId: r.case_id,
    kind: r.kind as CaseConsent['kind'],
    givenBy: r.given_by,
    date: r.given_on,
    how: r.how as CaseConsent['how'],
    documentPart: r.document_part,
    recordedBy: r.recorded_by,
    recordedAt: r.recorded_at,
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
  deadlines: Pick<DeadlineService, 'alertOf' | 'supplementaryService'>;
  /** the storage master key: opens the sealed manifest for the case file (`caseFile` throws without it) */
  masterKey?: Buffer;
  /** stands in for the database store where a test needs only data */
  store?: WorklistStore;
  now?: () => Date;
  /** issue 15: the case's retention (closed, legal hold, purged), shown in its view */
  retention?: Pick<RetentionService, 'view'>;
  /** issue 15: the per-party limit on audited reads and the counting of repeated ones (src/audit/reads.ts); unset: every read its own entry */
  reads?: ReadAudit;
}

export function createWorklistService(deps: WorklistServiceDeps) {
  const store = deps.store ?? createWorklistStore(deps.db.db);
  const now = deps.now ?? (() => new Date());

  /** The service of a case governed by `agreementId` (null: none): see CaseService. */
  function serviceOf(agreementId: string | null, service: string): CaseService {
    const supplementary = deps.deadlines.supplementaryService(agreementId, service);
    return { name: supplementary?.name ?? null, responseKinds: kindsFor(service, supplementary?.responseKinds) };
  }

  /** The agreements' names of the supplementary services among `rows`, by service id (statutory services have none). */
  function serviceNames(rows: readonly Pick<ListRow, 'service' | 'agreement_id'>[]): Record<string, string> {
    const names: Record<string, string> = {};
    for (const r of rows) {
      if (Object.hasOwn(names, r.service)) continue;
      const name = serviceOf(r.agreement_id, r.service).name;
      if (name !== null) names[r.service] = name;
    }
    return names;
  }

  /** The case if `party` may see it with one of `allowed`; else 404 (no existence leak). */
  async function visibleCase(party: Party, caseId: string, allowed: readonly CaseAccess[]): Promise<CaseRow> {
    const c = await store.caseById(caseId);
    const access = c ? caseAccess(party, c) : null;
    if (!c || !access || !allowed.includes(access)) throw notFound(`no case ${caseId} for ${party.id}`);
    return c;
  }

  /** The staff member's open cases in worklist order (§21 stk. 3): one read of the cases assigned to them. */
  async function assignedCases(staff: StaffParty): Promise<OpenCase[]> {
    return (await store.assignedTo(staff.id)).map(openCase).sort((a, b) => byUrgency(a.item, b.item));
  }

  async function worklist(staff: StaffParty): Promise<WorklistItem[]> {
    return (await assignedCases(staff)).map((c) => c.item);
  }

  /**
   * A page of the staff member's worklist for the staff pages: the same cases
   * in the same order as `worklist`, each with its deadline status, filtered
   * before paging; the facets name every value the filters can take.
   */
  async function worklistPage(staff: StaffParty, q: WorklistQuery = {}): Promise<WorklistPage> {
    const at = now();
    const cases = await assignedCases(staff);
    const all = cases.map((c): WorklistPageItem => ({
      ...c.item,
      status: deadlineStatus(c, deps.deadlines.alertOf(c.clock, at)),
    }));
    const matching = all.filter(
      (i) =>
        (q.service === undefined || i.service === q.service) &&
        (q.municipality === undefined || i.municipalityCode === q.municipality) &&
        (q.status === undefined || i.status === q.status),
    );
    const pageSize = clampInt(q.pageSize, WORKLIST_PAGE_SIZE, 1, WORKLIST_MAX_PAGE_SIZE);
    const pages = Math.max(1, Math.ceil(matching.length / pageSize));
    const page = clampInt(q.page, 1, 1, pages);
    const statuses = new Set(all.map((i) => i.status));
    return {
      items: matching.slice((page - 1) * pageSize, page * pageSize),
      total: matching.length,
      page,
      pages,
      pageSize,
      facets: {
        services: [...new Set(all.map((i) => i.service))].sort(),
        municipalities: [...new Set(all.map((i) => i.municipalityCode))].sort(),
        statuses: DEADLINE_STATUSES.filter((s) => statuses.has(s)),
      },
      serviceNames: serviceNames(cases.map((c) => c.row)),
    };
  }

  /** The team-lead lists `wanted` of these rows, each in worklist order; each item shaped for its list. */
  async function leadLists(rows: readonly ListRow[], wanted: readonly LeadFilter[]): Promise<Record<LeadFilter, LeadListItem[]>> {
    const at = now();
    const on = Object.fromEntries(LEAD_FILTERS.map((f) => [f, [] as OpenCase[]])) as Record<LeadFilter, OpenCase[]>;
    for (const r of rows) {
      const c = openCase(r);
      for (const f of leadFiltersOf(c, deps.deadlines.alertOf(c.clock, at))) if (wanted.includes(f)) on[f].push(c);
    }
    const awaiting = on['awaiting-complete-case'];
    const types = awaiting.length > 0 ? await store.documentTypes(awaiting.map((c) => c.row.id)) : undefined;
    const itemFor = (c: OpenCase, f: LeadFilter): LeadListItem => ({
      ...c.item,
      assignedTo: c.row.assigned_to,
      ...(c.row.state === 'unassigned' && c.row.routing_note ? { routing: JSON.parse(c.row.routing_note) as LeadListItem['routing'] } : {}),
      ...(f === 'awaiting-complete-case'
        ? { missingDocuments: missingDocuments(c.row.service as Service, types?.get(c.row.id) ?? []) }
        : {}),
      ...(f === 'overdue' || f === 'at-risk' || f === 'extended' ? { extended: isExtended(c.clock) } : {}),
    });
    return Object.fromEntries(LEAD_FILTERS.map((f) => [f, on[f].map((c) => itemFor(c, f)).sort(byUrgency)])) as Record<
      LeadFilter,
      LeadListItem[]
    >;
  }

  /** Team leads' lists: unassigned, awaiting their complete documents, overdue, at risk, or with an extended deadline (§22, §23). */
  async function leadList(filter: LeadFilter): Promise<LeadListItem[]> {
    return (await leadLists(await store.inStates(LEAD_STATES[filter]), [filter]))[filter];
  }

  /** The team leads' overview: every list of `leadList`, from one read of the open cases. */
  async function overview(): Promise<LeadOverview> {
    const rows = await store.inStates(OPEN_STATES);
    const lists = await leadLists(rows, LEAD_FILTERS);
    return {
      unassigned: lists.unassigned,
      awaitingCompleteCase: lists['awaiting-complete-case'],
      atRisk: lists['at-risk'],
      overdue: lists.overdue,
      extended: lists.extended,
      serviceNames: serviceNames(rows),
    };
  }

  /** The case as its sender, its assignee or a team lead sees it (the sender without staff reasons or names: ./audience.ts). */
  async function caseView(party: Party, caseId: string): Promise<CaseView> {
    const c = await visibleCase(party, caseId, ['sender', 'assignee', 'team-lead']);
    const view = await viewOf(c);
    if (deps.retention) view.retention = deps.retention.view(party, c);
    return caseAccess(party, c) === 'sender' ? senderCaseView(view, party.id) : view;
  }

  async function viewOf(c: CaseRow): Promise<CaseView> {
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
   * The case page of the staff pages, for its assignee and team leads (404 for
   * anyone else): the case view with the citizen, the GP and the caseworker
   * from the sealed manifest, the recorded consents and every deadline with
   * the days left. Each call is written to the access log (`case-read`: who,
   * when, which case; never the citizen) before the file is returned.
   */
  /** An audited read: counted when the same party read the same object just before (issue 15), else appended. */
  const auditRead = (object: string, entry: AuditEntry): Promise<unknown> =>
    deps.reads ? deps.reads.record(object, entry) : appendAudit(deps.db.db, deps.db, entry);

  async function caseFile(staff: StaffParty, caseId: string): Promise<CaseFile> {
    await deps.reads?.admit(staff.id);
    const masterKey = deps.masterKey;
    if (!masterKey) throw new Error('worklist service: caseFile needs the storage master key (deps.masterKey) to open the manifest');
    const c = await visibleCase(staff, caseId, ['assignee', 'team-lead']);
    const [view, consents] = await Promise.all([viewOf(c), store.consents(c.id)]);
    type Who = Pick<Manifest, 'citizen' | 'gp' | 'caseworker'>;
    const m = JSON.parse(openRetained(masterKey, c.manifest_enc, `the case file of ${c.id}`).toString('utf8')) as Who;
    const at = now();
    const today = localDate(at);
    const file: CaseFile = {
      ...view,
      ...(deps.retention ? { retention: deps.retention.view(staff, c) } : {}),
      agreementId: c.agreement_id,
      citizen: { name: m.citizen.name, cpr: m.citizen.cpr },
      gp: m.gp ? { ydernummer: m.gp.ydernummer, ...(m.gp.name !== undefined ? { name: m.gp.name } : {}) } : null,
      caseworker: m.caseworker
        ? {
            name: m.caseworker.name,
            ...(m.caseworker.email !== undefined ? { email: m.caseworker.email } : {}),
            ...(m.caseworker.phone !== undefined ? { phone: m.caseworker.phone } : {}),
          }
        : null,
      consents: consents.map(consentView),
      deadlines: view.clock.deadlines.map((d) => ({
        kind: d.kind,
        rule: d.rule,
        dueDate: d.dueDate,
        daysLeft: daysBetween(today, d.dueDate),
        source: d.source,
        ...(d.source.startsWith('agreement:') ? { agreementId: d.source.slice('agreement:'.length) } : {}),
        ...(d.extension
          ? {
              extension: {
                reason: d.extension.reason,
                agreedWith: d.extension.agreedWith,
                ...(d.originalDueDate !== undefined ? { originalDueDate: d.originalDueDate } : {}),
              },
            }
          : {}),
      })),
    };
    await auditRead(`case:${c.id}`, {
      at: at.toISOString(),
      actor: staff.id,
      action: 'case-read',
      caseId: c.id,
      details: {},
    });
    return file;
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
    await deps.reads?.admit(party.id);
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
    const stream = await deps.blobs.get(retainedBlobKey(doc.blob_key, `document ${doc.part} of case ${c.id}`));
    try {
      await auditRead(`document:${doc.id}`, {
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
    const sender = caseAccess(party, c) === 'sender';
    return (await store.extensionEvents(c.id)).map((e) => {
      const d = JSON.parse(e.data) as Record<string, string>;
      const extension: Extension = {
        agreedAt: e.at,
        recordedBy: e.actor,
        kind: d.kind ?? '',
        rule: d.rule ?? '',
        previousDueDate: d.previousDueDate ?? '',
        dueDate: d.dueDate ?? '',
        reason: d.reason ?? '',
        agreedWith: d.agreedWith ?? '',
      };
      return sender ? senderExtension(extension) : extension;
    });
  }

  return { visibleCase, serviceOf, worklist, worklistPage, leadList, overview, caseView, caseFile, readDocument, extensions };
}

export type WorklistService = ReturnType<typeof createWorklistService>;
