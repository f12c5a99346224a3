/**
 * The case as GET /v1/cases/{caseId} shows it (routes.ts decides who may see it).
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

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
  const [docs, events, responses, messages] = await Promise.all([
    db.selectFrom('documents').selectAll().where('case_id', '=', caseId).orderBy('created_at').orderBy('part').execute(),
    db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).orderBy('id').execute(),
    db
      .selectFrom('responses')
      .select(['id', 'kind', 'author', 'created_at', 'sha256', 'size'])
      .where('case_id', '=', caseId)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('messages')
      .select([
        'id',
        'response_id',
        'recipient_party_id',
        'recipient_ydernummer',
        'copy',
        'sent_at',
        'state',
        'delivered_at',
        'acknowledged_at',
        'push_attempts',
      ])
      .where('case_id', '=', caseId)
      .orderBy('sent_at')
      .orderBy('copy')
      .execute(),
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
    // Delivery states (queued, pushed, acknowledged, dead-lettered, no-recipient-system) per recipient.
    responses: responses.map((r) => ({
      responseId: r.id,
      kind: r.kind,
      author: r.author,
      sentAt: r.created_at,
      document: { sha256: r.sha256, size: Number(r.size) },
      messages: messages
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
          pushAttempts: Number(m.push_attempts),
        })),
    })),
    history: events.map((e) => ({ at: e.at, event: e.event, actor: e.actor, data: JSON.parse(e.data) })),
  };
}
