/**
 * Consents and agreements as recorded evidence (§13 stk. 3, §5 stk. 2,
 * §10 stk. 3, §11 stk. 5). The case's sender and the staff member it is
 * assigned to record them; they, and team leads, read them. Routing (§13
 * stk. 3) and returns (a GP discussion, contact with the citizen) ask for
 * them before they allow what needs them.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../storage/db.js';
import type { ConsentsTable } from '../storage/schema.js';
import type { Party } from '../parties/parties.js';
import { appendAudit } from '../audit/audit.js';
import { validationProblem } from '../shared/validate.js';
import { localDate } from '../deadlines/service.js';
import { createConsentStore } from './store.js';
import type { ConsentKind, ConsentRecord } from './schema.js';

export type { ConsentRecord };

function view(r: ConsentsTable) {
  return {
    id: r.id,
    caseId: r.case_id,
    kind: r.kind as ConsentKind,
    givenBy: r.given_by,
    date: r.given_on,
    how: r.how as 'written' | 'oral',
    documentPart: r.document_part,
    recordedBy: r.recorded_by,
    recordedAt: r.recorded_at,
  };
}

/** The row of a consent record on a case (the manifest's records are inserted with the package). */
export function consentRow(caseId: string, r: ConsentRecord, recordedBy: string, at: string): ConsentsTable {
  return {
    id: randomUUID(),
    case_id: caseId,
    kind: r.kind,
    given_by: r.givenBy,
    given_on: r.date,
    how: r.how,
    document_part: r.documentPart ?? null,
    recorded_by: recordedBy,
    recorded_at: at,
  };
}

export interface ConsentServiceDeps {
  db: Db;
  /** the case as its reader sees it (404 for anyone else): the worklist's rule */
  visibleCase(
    party: Party,
    caseId: string,
    allowed: readonly ('sender' | 'assignee' | 'team-lead')[],
  ): Promise<{ id: string; received_at: string }>;
  now?: () => Date;
}

export function createConsentService(deps: ConsentServiceDeps) {
  const store = createConsentStore(deps.db.db);
  const now = deps.now ?? (() => new Date());

  /** The case's sender or assignee records a consent or agreement. */
  async function record(party: Party, caseId: string, input: ConsentRecord) {
    const c = await deps.visibleCase(party, caseId, ['sender', 'assignee']);
    const at = now().toISOString();
    const errors = [];
    if (input.date > localDate(at))
      errors.push({
        path: 'date',
        message: `${input.date} is in the future: record a consent once it is given`,
        da: 'Datoen ligger i fremtiden: registrér samtykket, når det er givet',
      });
    if (input.documentPart !== undefined && !(await store.documentParts(c.id)).includes(input.documentPart)) {
      errors.push({
        path: 'documentPart',
        message: `case ${c.id} has no document "${input.documentPart}": send it as a supplement first`,
        da: 'Sagen har intet dokument med det navn: kommunen sender det som supplerende materiale først',
      });
    }
    if (errors.length) throw validationProblem(errors, { what: 'the consent' });
    const row = consentRow(c.id, input, party.id, at);
    await deps.db.db.transaction().execute(async (trx) => {
      await store.insert(trx, row);
      await appendAudit(trx, deps.db, {
        at,
        actor: party.id,
        action: 'consent-recorded',
        caseId: c.id,
        details: { id: row.id, kind: row.kind, how: row.how, date: row.given_on },
      });
    });
    return view(row);
  }

  async function list(party: Party, caseId: string) {
    const c = await deps.visibleCase(party, caseId, ['sender', 'assignee', 'team-lead']);
    return (await store.list(c.id)).map(view);
  }

  return { record, list };
}

export type ConsentService = ReturnType<typeof createConsentService>;
