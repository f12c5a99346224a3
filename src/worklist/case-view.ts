/**
 * GET /v1/cases/{caseId}: the case as its sender (and, from issue 4, the
 * authorised staff) sees it. Another party's case is answered exactly like a
 * missing one, so existence does not leak.
 */
import { Router } from 'express';
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';
import { notFound } from '../shared/problem.js';
import type { Party } from '../parties/parties.js';

export interface CaseView {
  caseId: string;
  state: string;
  service: string;
  caseType: string;
  urgent: boolean;
  municipalityCode: string;
  receivedAt: string;
  assignedTo: string | null;
  clock: unknown;
  documents: { part: string; type: string; title: string | null; mediaType: string; size: number; sha256: string; receivedAt: string }[];
  responses: unknown[];
  history: { at: string; event: string; actor: string; data?: unknown }[];
}

export async function loadCaseView(db: Kysely<Database>, caseId: string): Promise<(CaseView & { senderPartyId: string }) | null> {
  const c = await db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirst();
  if (!c) return null;
  const [docs, events] = await Promise.all([
    db.selectFrom('documents').selectAll().where('case_id', '=', caseId).orderBy('created_at').orderBy('part').execute(),
    db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).orderBy('id').execute(),
  ]);
  return {
    caseId: c.id,
    senderPartyId: c.sender_party_id,
    state: c.state,
    service: c.service,
    caseType: c.case_type,
    urgent: c.urgent === 1,
    municipalityCode: c.municipality_code,
    receivedAt: c.received_at,
    assignedTo: c.assigned_to,
    clock: JSON.parse(c.clock),
    documents: docs.map((d) => ({
      part: d.part,
      type: d.type,
      title: d.title,
      mediaType: d.media_type,
      size: Number(d.size),
      sha256: d.sha256,
      receivedAt: d.created_at,
    })),
    responses: [],
    history: events.map((e) => ({ at: e.at, event: e.event, actor: e.actor, data: JSON.parse(e.data) })),
  };
}

export function canSeeCase(party: Party, c: { senderPartyId: string }): boolean {
  if (party.kind === 'municipality' || party.kind === 'senior-pension-unit') return c.senderPartyId === party.id;
  return false;
}

export function createCaseViewRouter(deps: { db: Kysely<Database> }): Router {
  const router = Router();
  router.get('/v1/cases/:caseId', async (req, res) => {
    const caseId = String(req.params.caseId);
    const view = await loadCaseView(deps.db, caseId);
    if (!view || !canSeeCase(req.party!, view)) throw notFound(`no case ${caseId} visible to ${req.party!.id}`);
    const { senderPartyId: _s, ...body } = view;
    res.json(body);
  });
  return router;
}
