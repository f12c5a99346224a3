/**
 * Retention (issue 15; GDPR art. 5(1)(e)): health data leaves when its
 * purpose is served.
 *
 * - `purgeDue()` (the daily job, queues/retention.ts) deletes the documents
 *   and the personal fields of every case closed more than
 *   RETENTION_DAYS_AFTER_CLOSE days ago: the documents' and responses' blobs,
 *   the sealed manifest (citizen, CPR, GP, caseworker), the responses'
 *   content, the messages' envelopes, the documents' titles, who gave a
 *   consent, the free text of the case's events and clock, and the key that
 *   linked the citizen's cases. It keeps what evidence needs: the receipts and
 *   their signatures and timestamps, every digest and size, the dates, the
 *   audit log (which holds no personal data) and the settlement.
 * - A case is skipped while one of its messages still waits for its
 *   recipient (its envelope is still needed); the next run takes it.
 * - A team lead's legal hold (`placeHold`, with a reason) keeps a case from
 *   the purge until it is lifted; both are audited.
 * - Each purge is one transaction with its audit entry (`case-purged`); the
 *   blobs are deleted after the commit (one that fails to go is left to the
 *   orphan sweep: no row names it any more).
 * A purged case still answers: its view says `purgedAt`, and what was deleted
 * answers 410 `case-purged` (src/storage/retained.ts).
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import type { Party, StaffParty } from '../parties/parties.js';
import type { CaseRow } from '../storage/schema.js';
import { appendAudit } from '../audit/audit.js';
import { conflict, notFound, purged } from '../shared/problem.js';
import { createRetentionStore } from './store.js';

export const DAY_MS = 86_400_000;
/** the actor of the purge's audit entries */
export const RETENTION_ACTOR = 'retention';

export interface RetentionView {
  /** when the case was closed; null while it is open */
  closedAt: string | null;
  /** the earliest instant the purge takes it (closedAt + RETENTION_DAYS_AFTER_CLOSE); null while open or held */
  purgeAfter: string | null;
  /** a team lead's legal hold; the reason for staff only */
  legalHold: { reason?: string; placedBy?: string; placedAt: string } | null;
  /** when its documents and personal data were deleted */
  purgedAt: string | null;
}

/** The retention columns of a case row as stored (the hold's reason sealed). */
export type RetainedCase = Pick<CaseRow, 'id' | 'closed_at' | 'hold_reason' | 'hold_by' | 'hold_at' | 'purged_at'>;

export interface PurgeRun {
  purged: string[];
  /** due, but a message of the case still waits for its recipient */
  waitingForMessages: string[];
  /** blobs that could not be deleted now (the orphan sweep removes them) */
  blobsLeft: number;
}

export interface RetentionServiceDeps {
  db: Db;
  blobs: BlobStore;
  log: Logger;
  retentionDays: number;
  metrics?: Registry;
  now?: () => Date;
  /** cases per run (the next run takes the rest) */
  batch?: number;
}

export function createRetentionService(deps: RetentionServiceDeps) {
  const { log } = deps;
  const store = createRetentionStore(deps.db.db);
  const now = deps.now ?? (() => new Date());
  const purgedTotal = deps.metrics
    ? new Counter({
        name: 'postkasse_retention_purged_cases_total',
        help: 'cases whose documents and personal data the retention purge deleted',
        registers: [deps.metrics],
      })
    : undefined;

  async function purgeCase(caseId: string, closedAt: string, at: string): Promise<{ blobKeys: string[] } | undefined> {
    return deps.db.db.transaction().execute(async (trx) => {
      const counts = await store.purge(trx, caseId, at);
      if (!counts) return undefined;
      const { blobKeys, ...deleted } = counts;
      const details = { closedAt, retentionDays: deps.retentionDays, ...deleted };
      await store.insertEvent(trx, { case_id: caseId, at, event: 'purged', actor: RETENTION_ACTOR, data: JSON.stringify(details) });
      await appendAudit(trx, deps.db, { at, actor: RETENTION_ACTOR, action: 'case-purged', caseId, details });
      return { blobKeys };
    });
  }

  /** Purges every case due now (at most `batch`): see the module comment. */
  async function purgeDue(): Promise<PurgeRun> {
    const at = now();
    const cutoff = new Date(at.getTime() - deps.retentionDays * DAY_MS).toISOString();
    const run: PurgeRun = { purged: [], waitingForMessages: [], blobsLeft: 0 };
    for (const c of await store.due(cutoff, deps.batch ?? 500)) {
      if ((await store.inFlightMessages(c.id)) > 0) {
        run.waitingForMessages.push(c.id);
        continue;
      }
      const done = await purgeCase(c.id, c.closed_at, at.toISOString());
      if (!done) continue;
      run.purged.push(c.id);
      purgedTotal?.inc();
      for (const key of done.blobKeys) {
        await deps.blobs.delete(key).catch((err: unknown) => {
          run.blobsLeft++;
          log.warn({ err, caseId: c.id, blobKey: key }, 'retention: a purged blob could not be deleted now; the orphan sweep removes it');
        });
      }
    }
    if (run.purged.length || run.waitingForMessages.length) {
      log.info(
        { purged: run.purged.length, waitingForMessages: run.waitingForMessages.length, blobsLeft: run.blobsLeft, cutoff },
        'retention: purged the documents and personal data of cases closed before the cutoff',
      );
    }
    return run;
  }

  async function caseOf(caseId: string) {
    const c = await store.retentionOf(caseId);
    if (!c) throw notFound(`no case ${caseId}`);
    if (c.purged_at) throw purged(`case ${caseId} was purged on ${c.purged_at.slice(0, 10)}: there is nothing left to hold`);
    return c;
  }

  /** A team lead keeps the case from the purge, with a reason (sealed; audited without it). */
  async function placeHold(lead: StaffParty, caseId: string, reason: string): Promise<RetentionView> {
    const c = await caseOf(caseId);
    if (c.hold_at) throw conflict(`case ${caseId} is on legal hold since ${c.hold_at} (placed by ${c.hold_by})`, 'legal-hold');
    const at = now().toISOString();
    await deps.db.db.transaction().execute(async (trx) => {
      if (!(await store.setHold(trx, caseId, { reason, by: lead.id, at }))) throw purged(`case ${caseId} was purged meanwhile`);
      await store.insertEvent(trx, { case_id: caseId, at, event: 'legal-hold-placed', actor: lead.id, data: JSON.stringify({ reason }) });
      await appendAudit(trx, deps.db, { at, actor: lead.id, action: 'legal-hold-placed', caseId, details: {} });
    });
    return viewOf({ ...c, hold_reason: reason, hold_by: lead.id, hold_at: at }, true);
  }

  /** A team lead lifts the hold, with a reason; the purge takes the case when it is due. */
  async function liftHold(lead: StaffParty, caseId: string, reason: string): Promise<RetentionView> {
    const c = await caseOf(caseId);
    if (!c.hold_at) throw conflict(`case ${caseId} is not on legal hold`, 'legal-hold');
    const at = now().toISOString();
    await deps.db.db.transaction().execute(async (trx) => {
      if (!(await store.setHold(trx, caseId, null))) throw purged(`case ${caseId} was purged meanwhile`);
      await store.insertEvent(trx, { case_id: caseId, at, event: 'legal-hold-lifted', actor: lead.id, data: JSON.stringify({ reason }) });
      await appendAudit(trx, deps.db, { at, actor: lead.id, action: 'legal-hold-lifted', caseId, details: { heldSince: c.hold_at } });
    });
    return viewOf({ ...c, hold_reason: null, hold_by: null, hold_at: null }, true);
  }

  /** The retention block of a case view: staff see the hold's reason and who placed it, a sender only that there is one. */
  function viewOf(
    c: { closed_at: string | null; hold_reason: string | null; hold_by: string | null; hold_at: string | null; purged_at: string | null },
    staff: boolean,
  ): RetentionView {
    return {
      closedAt: c.closed_at,
      purgeAfter:
        c.closed_at && !c.hold_at && !c.purged_at ? new Date(Date.parse(c.closed_at) + deps.retentionDays * DAY_MS).toISOString() : null,
      legalHold: c.hold_at
        ? staff
          ? { reason: c.hold_reason ?? '', placedBy: c.hold_by ?? '', placedAt: c.hold_at }
          : { placedAt: c.hold_at }
        : null,
      purgedAt: c.purged_at,
    };
  }

  /** The retention block of case row `c` as `party` may see it (the caller read the row and checked that it may see it). */
  function view(party: Party, c: RetainedCase): RetentionView {
    return viewOf({ ...c, hold_reason: store.openHoldReason(c) }, party.kind === 'staff');
  }

  return { purgeDue, placeHold, liftHold, view };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
