/**
 * Staff API (API.md "Staff: work queues"): work queues, the case, its
 * documents, and what staff record on a case.
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
import express, { Router, type Request, type Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import type { CaseRow } from '../storage/schema.js';
import type { Party, StaffParty } from '../parties/parties.js';
import { appendAudit } from '../audit/audit.js';
import { badRequest, forbidden, notFound } from '../shared/problem.js';
import type { DeadlineService } from '../deadlines/service.js';
import type { Clock as CaseClock } from '../deadlines/types.js';
import { isStaff, isTeamLead, type RoutingService } from '../routing/service.js';
import { atRiskInstant } from '../deadlines/calendar.js';
import { loadCaseView } from './case-view.js';

export type CaseAccess = 'sender' | 'assignee' | 'team-lead';

/** How `party` may see case `c`, or null when it may not. */
export function caseAccess(party: Party, c: Pick<CaseRow, 'sender_party_id' | 'assigned_to'>): CaseAccess | null {
  if (party.kind === 'municipality' || party.kind === 'senior-pension-unit') return c.sender_party_id === party.id ? 'sender' : null;
  if (isTeamLead(party)) return 'team-lead';
  if (isStaff(party) && c.assigned_to === party.id) return 'assignee';
  return null;
}

export interface WorklistItem {
  caseId: string;
  service: string;
  caseType: string;
  urgent: boolean;
  municipalityCode: string;
  receivedAt: string;
  dueDate: string | null;
  dueAt: string | null;
  state: string;
}

type ListRow = Pick<
  CaseRow,
  'id' | 'service' | 'case_type' | 'urgent' | 'municipality_code' | 'received_at' | 'state' | 'clock' | 'assigned_to' | 'routing_note'
>;

function parseClock(text: string): CaseClock | null {
  try {
    return JSON.parse(text) as CaseClock;
  } catch {
    return null;
  }
}

/** The earliest due deadline of a running clock (what the worklist sorts by). */
function nextDue(clock: CaseClock | null): { dueDate: string; dueAt: string } | null {
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

const LEAD_FILTERS = ['unassigned', 'overdue', 'at-risk'] as const;
type LeadFilter = (typeof LEAD_FILTERS)[number];

export interface StaffRouterDeps {
  db: Db;
  blobs: BlobStore;
  deadlines: DeadlineService;
  routing: RoutingService;
  log: Logger;
  atRiskWorkingDays: number;
  now?: () => Date;
}

const listColumns = [
  'id',
  'service',
  'case_type',
  'urgent',
  'municipality_code',
  'received_at',
  'state',
  'clock',
  'assigned_to',
  'routing_note',
] as const;

export function createStaffRouter(deps: StaffRouterDeps): Router {
  const router = Router();
  const db = deps.db.db;
  const now = deps.now ?? (() => new Date());
  const json = express.json({ limit: '16kb', strict: true, type: () => true });

  function staffOnly(req: Request): StaffParty {
    if (!isStaff(req.party)) throw forbidden('this endpoint is for regional staff', 'wrong-party-kind');
    return req.party;
  }

  /** The case if `req.party` may see it with one of `allowed`; else 404 (no existence leak). */
  async function visibleCase(req: Request, allowed: readonly CaseAccess[]): Promise<{ c: CaseRow; access: CaseAccess }> {
    const caseId = String(req.params.caseId);
    const c = await db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirst();
    const access = c ? caseAccess(req.party!, c) : null;
    if (!c || !access || !allowed.includes(access)) throw notFound(`no case ${caseId} for ${req.party!.id}`);
    return { c, access };
  }

  function body(req: Request): Record<string, unknown> {
    const b: unknown = req.body;
    if (b === null || typeof b !== 'object' || Array.isArray(b)) throw badRequest('the body must be a JSON object');
    return b as Record<string, unknown>;
  }

  router.get('/v1/worklist', async (req, res) => {
    const staff = staffOnly(req);
    const rows = await db
      .selectFrom('cases')
      .select(listColumns)
      .where('assigned_to', '=', staff.id)
      .where('state', '=', 'assigned')
      .execute();
    res.json({ items: rows.map(item).sort(byUrgency) });
  });

  router.get('/v1/cases', async (req, res) => {
    if (!isTeamLead(req.party)) throw forbidden('listing cases is for team leads', 'wrong-party-kind');
    const state = req.query.state;
    if (typeof state !== 'string' || !(LEAD_FILTERS as readonly string[]).includes(state)) {
      throw badRequest(`state must be one of ${LEAD_FILTERS.join(', ')}`, [
        { path: 'state', message: `one of ${LEAD_FILTERS.join(', ')}` },
      ]);
    }
    const filter = state as LeadFilter;
    let rows: ListRow[];
    if (filter === 'unassigned') {
      rows = await db.selectFrom('cases').select(listColumns).where('state', '=', 'unassigned').execute();
    } else {
      const t = now().getTime();
      const open = await db.selectFrom('cases').select(listColumns).where('state', 'in', ['received', 'assigned', 'unassigned']).execute();
      rows = open.filter((r) => {
        const clock = parseClock(r.clock);
        if (!clock || clock.status !== 'running') return false;
        const overdue = clock.deadlines.some((d) => Date.parse(d.dueAt) < t);
        if (filter === 'overdue') return overdue;
        return !overdue && clock.deadlines.some((d) => t >= atRiskInstant(d.dueDate, deps.atRiskWorkingDays));
      });
    }
    res.json({
      items: rows
        .map((r) => ({
          ...item(r),
          assignedTo: r.assigned_to,
          ...(r.state === 'unassigned' && r.routing_note ? { routing: JSON.parse(r.routing_note) as unknown } : {}),
        }))
        .sort(byUrgency),
    });
  });

  router.get('/v1/cases/:caseId', async (req, res) => {
    const { c } = await visibleCase(req, ['sender', 'assignee', 'team-lead']);
    const view = await loadCaseView(db, c.id);
    if (!view) throw notFound(`no case ${c.id}`);
    const { senderPartyId: _s, ...out } = view;
    res.json(out);
  });

  router.get('/v1/cases/:caseId/documents/:part', async (req: Request, res: Response) => {
    const { c } = await visibleCase(req, ['assignee', 'team-lead']);
    const part = String(req.params.part);
    // A supplement may carry a part of the same name: the latest one is served.
    const doc = await db
      .selectFrom('documents')
      .selectAll()
      .where('case_id', '=', c.id)
      .where('part', '=', part)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    if (!doc) throw notFound(`case ${c.id} has no document ${part}`);
    const stream = await deps.blobs.get(doc.blob_key);
    const at = now().toISOString();
    // The access log entry commits before the first byte leaves.
    try {
      await db.transaction().execute(async (trx) => {
        await appendAudit(trx, deps.db.dialect, {
          at,
          actor: req.party!.id,
          action: 'document-read',
          caseId: c.id,
          details: { documentId: doc.id, part: doc.part, type: doc.type, sha256: doc.sha256 },
        });
      });
    } catch (err) {
      stream.destroy();
      throw err;
    }
    res.status(200);
    res.setHeader('content-type', doc.media_type);
    res.setHeader('content-length', String(doc.size));
    res.setHeader('content-disposition', `attachment; filename="${doc.part.replace(/[^A-Za-z0-9._-]/g, '_')}"`);
    res.setHeader('repr-digest', `sha-256=:${Buffer.from(doc.sha256, 'hex').toString('base64')}:`);
    res.setHeader('cache-control', 'no-store');
    try {
      await pipeline(stream, res);
    } catch (err) {
      // Decryption failure (tampered blob) or the client went away: the response is cut short, never completed with bad bytes.
      deps.log.warn({ err, caseId: c.id, documentId: doc.id }, 'document stream ended early');
      res.destroy();
    }
  });

  router.post('/v1/cases/:caseId/meeting', json, async (req, res) => {
    const staff = staffOnly(req);
    const { c } = await visibleCase(req, ['assignee']);
    const r = await deps.deadlines.bookMeeting(c.id, body(req).date as string, staff.id);
    res.json({ caseId: c.id, clock: r.clock, warnings: r.warnings });
  });

  router.post('/v1/cases/:caseId/consultation', json, async (req, res) => {
    const staff = staffOnly(req);
    const { c } = await visibleCase(req, ['assignee']);
    const r = await deps.deadlines.bookConsultation(c.id, body(req).date as string, staff.id);
    res.json({ caseId: c.id, clock: r.clock, warnings: r.warnings });
  });

  router.post('/v1/cases/:caseId/extension', json, async (req, res) => {
    const staff = staffOnly(req);
    const { c } = await visibleCase(req, ['assignee']);
    const b = body(req);
    const r = await deps.deadlines.agreeExtension(
      c.id,
      {
        dueDate: b.dueDate as string,
        reason: b.reason as string,
        agreedWith: b.agreedWith as string,
        ...(typeof b.kind === 'string' ? { kind: b.kind } : {}),
      },
      staff.id,
    );
    res.json({ caseId: c.id, clock: r.clock, warnings: r.warnings });
  });

  router.post('/v1/cases/:caseId/conflict', json, async (req, res) => {
    const staff = staffOnly(req);
    const { c } = await visibleCase(req, ['assignee']);
    const r = await deps.routing.declareConflict(c.id, staff, body(req).reason);
    res.status(202).json({ caseId: c.id, state: 'received', routingRound: r.round });
  });

  router.post('/v1/cases/:caseId/assign', json, async (req, res) => {
    const lead = req.party;
    if (!isStaff(lead) || !isTeamLead(lead)) throw forbidden('assigning cases is for team leads', 'wrong-party-kind');
    const { c } = await visibleCase(req, ['team-lead']);
    const b = body(req);
    const r = await deps.routing.assignManually(c.id, lead, { staffId: b.staffId, overrideReason: b.overrideReason });
    res.json({ caseId: c.id, assignedTo: r.staffId, overridden: r.overridden.map((o) => o.rule) });
  });

  return router;
}
