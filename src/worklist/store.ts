/**
 * The worklist feature's SQL: lists of cases, one case with everything the
 * case view shows, and the document a read asks for.
 */
import type { Kysely } from 'kysely';
import type { CaseRow, ConsentsTable, Database, DocumentRow } from '../storage/schema.js';
import { fieldsOf, openCaseFields, openEventRow, type FieldSealer } from '../storage/fields.js';

export const LIST_COLUMNS = [
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
  // a supplementary service is named by the case's agreement (§16 stk. 3–4)
  'agreement_id',
] as const;
export type ListRow = Pick<CaseRow, (typeof LIST_COLUMNS)[number]>;

/** The states of an open case: everything but 'closed'. */
export const OPEN_STATES = ['received', 'awaiting-complete-case', 'unassigned', 'assigned'] as const;

export interface CaseDetails {
  documents: Pick<DocumentRow, 'part' | 'type' | 'title' | 'media_type' | 'size' | 'sha256' | 'created_at'>[];
  events: { at: string; event: string; actor: string; data: string }[];
  responses: { id: string; kind: string; author: string; created_at: string; sha256: string; size: number }[];
  messages: {
    id: string;
    response_id: string;
    recipient_party_id: string | null;
    recipient_ydernummer: string | null;
    copy: number;
    sent_at: string;
    state: string;
    delivered_at: string | null;
    acknowledged_at: string | null;
    push_attempts: number;
    format: string;
    transport: string | null;
    sends: number;
    ack_code: string | null;
    ack_at: string | null;
  }[];
}

export interface WorklistStore {
  caseById(caseId: string): Promise<CaseRow | undefined>;
  /** open cases assigned to `staffId` */
  assignedTo(staffId: string): Promise<ListRow[]>;
  inStates(states: readonly string[]): Promise<ListRow[]>;
  details(caseId: string): Promise<CaseDetails>;
  /** the case's document of this part; a supplement may carry a part of the same name: the latest one */
  latestDocument(caseId: string, part: string): Promise<DocumentRow | undefined>;
  /** the case's agreed extensions (§22, §23), oldest first */
  extensionEvents(caseId: string): Promise<{ at: string; actor: string; data: string }[]>;
  /** the types of the documents a case holds */
  documentTypes(caseIds: readonly string[]): Promise<Map<string, string[]>>;
  /** the consents and agreements recorded on the case (the consents feature records them), oldest first */
  consents(caseId: string): Promise<ConsentsTable[]>;
}

const openTitle = <T extends { title: string | null }>(f: FieldSealer, id: string, d: T): T =>
  d.title === null ? d : { ...d, title: f.openText('documents', 'title', id, d.title) };

export function createWorklistStore(db: Kysely<Database>): WorklistStore {
  // titles, treating clinicians, who gave a consent and free text in events are sealed (src/storage/fields.ts)
  const fields = fieldsOf(db);
  return {
    caseById: async (caseId) =>
      openCaseFields(fields, await db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirst()),
    assignedTo: async (staffId) =>
      (await db.selectFrom('cases').select(LIST_COLUMNS).where('assigned_to', '=', staffId).where('state', '=', 'assigned').execute()).map(
        (r) => openCaseFields(fields, r),
      ),
    inStates: async (states) =>
      (
        await db
          .selectFrom('cases')
          .select(LIST_COLUMNS)
          .where('state', 'in', [...states])
          .execute()
      ).map((r) => openCaseFields(fields, r)),
    async details(caseId) {
      const [documents, events, responses, messages] = await Promise.all([
        db
          .selectFrom('documents')
          .select(['id', 'part', 'type', 'title', 'media_type', 'size', 'sha256', 'created_at'])
          .where('case_id', '=', caseId)
          .orderBy('created_at')
          .orderBy('part')
          .execute(),
        db.selectFrom('case_events').select(['at', 'event', 'actor', 'data']).where('case_id', '=', caseId).orderBy('id').execute(),
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
            'format',
            'transport',
            'sends',
            'ack_code',
            'ack_at',
          ])
          .where('case_id', '=', caseId)
          .orderBy('sent_at')
          .orderBy('copy')
          .execute(),
      ]);
      return {
        documents: documents.map(({ id, ...d }) => openTitle(fields, id, { ...d, size: Number(d.size) })),
        events: events.map((e) => openEventRow(fields, caseId, e)),
        responses: responses.map((r) => ({ ...r, size: Number(r.size) })),
        messages: messages.map((m) => ({ ...m, push_attempts: Number(m.push_attempts), sends: Number(m.sends) })),
      };
    },
    async latestDocument(caseId, part) {
      const d = await db
        .selectFrom('documents')
        .selectAll()
        .where('case_id', '=', caseId)
        .where('part', '=', part)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .executeTakeFirst();
      return d && openTitle(fields, d.id, d);
    },
    async extensionEvents(caseId) {
      const rows = await db
        .selectFrom('case_events')
        .select(['at', 'actor', 'data'])
        .where('case_id', '=', caseId)
        .where('event', '=', 'extension-agreed')
        .orderBy('id')
        .execute();
      return rows.map((r) => {
        const { event: _event, ...opened } = openEventRow(fields, caseId, { ...r, event: 'extension-agreed' });
        return opened;
      });
    },
    async documentTypes(caseIds) {
      const out = new Map<string, string[]>(caseIds.map((id) => [id, []]));
      if (caseIds.length === 0) return out;
      const rows = await db
        .selectFrom('documents')
        .select(['case_id', 'type'])
        .where('case_id', 'in', [...caseIds])
        .execute();
      for (const r of rows) out.get(r.case_id)?.push(r.type);
      return out;
    },
    consents: async (caseId) =>
      (await db.selectFrom('consents').selectAll().where('case_id', '=', caseId).orderBy('recorded_at').orderBy('id').execute()).map(
        (r) => ({
          ...r,
          given_by: fields.openText('consents', 'given_by', r.id, r.given_by),
        }),
      ),
  };
}
