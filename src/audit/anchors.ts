/**
 * Anchored heads of the audit chain (issue 15): every AUDIT_STAMP_MINUTES,
 * and once more at shutdown, the chain's head (seq, hash) is timestamped by
 * the TSA and the token is stored in `audit_anchors`. The token's imprint is
 * SHA-256 of the head statement (src/audit/head.ts):
 *
 *   postkasse-audit-head\n<seq>\n<hash>
 *
 * A rewrite of any entry at or before an anchored seq changes that entry's
 * hash (every later link depends on it), so the token no longer covers the
 * statement rebuilt from the stored row: `audit verify` catches it even
 * without the audit key, and even if the rewriter held the key.
 *
 * The head is also stamped when stamping starts, so that what a crash left
 * unanchored is covered at once. A head that has not moved since the last
 * anchor is not stamped again. A
 * failed stamp is logged and tried again at the next interval; it never stops
 * the gateway.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { AuditAnchorsTable, Database } from '../storage/schema.js';
import { headImprint } from './head.js';

/** What the stamping needs of a TSA client (src/timestamps/client.ts `Timestamper` is one). */
export interface HeadTimestamper {
  stamp(sha256: Buffer): Promise<{ tsaUrl: string; genTime: Date; serialNumber: string; token: Buffer }>;
}

export interface AuditAnchor {
  seq: number;
  hash: string;
  tsaUrl: string;
  genTime: string;
  serialNumber: string;
  /** the RFC 3161 TimeStampToken, DER */
  token: Buffer;
  createdAt: string;
}

// ------------------------------------------------------------------ store

/** The chain's current head, or null for an empty log. */
export async function auditHead(db: Kysely<Database>): Promise<{ seq: number; hash: string } | null> {
  const row = await db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? { seq: Number(row.seq), hash: row.hash } : null;
}

const toAnchor = (r: Selectable<AuditAnchorsTable>): AuditAnchor => ({
  seq: Number(r.seq),
  hash: r.hash,
  tsaUrl: r.tsa_url,
  genTime: r.gen_time,
  serialNumber: r.serial_number,
  token: Buffer.from(r.token),
  createdAt: r.created_at,
});

/** The newest anchored head, or null. */
export async function latestAnchor(db: Kysely<Database>): Promise<AuditAnchor | null> {
  const row = await db.selectFrom('audit_anchors').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? toAnchor(row) : null;
}

/** Stores an anchor; a second instance that anchored the same head first wins (returns false). */
export async function insertAnchor(db: Kysely<Database>, a: AuditAnchor): Promise<boolean> {
  const r = await db
    .insertInto('audit_anchors')
    .values({
      seq: a.seq,
      hash: a.hash,
      tsa_url: a.tsaUrl,
      gen_time: a.genTime,
      serial_number: a.serialNumber,
      token: a.token,
      created_at: a.createdAt,
    })
    .onConflict((oc) => oc.column('seq').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

// ---------------------------------------------------------------- service

export type StampOutcome =
  { stamped: true; seq: number; genTime: string } | { stamped: false; reason: 'empty' | 'unchanged' | 'failed' | 'anchored-elsewhere' };

export interface AuditStamper {
  /** Anchors the current head now (unless it has not moved). Never rejects: a failure is logged and returned. */
  stampNow(): Promise<StampOutcome>;
  /** Starts stamping every `intervalMs` (the timer does not keep the process alive). */
  start(): void;
  /** Stops the timer, waits for a stamp in flight, then anchors the head once more: call it before the database closes. */
  stop(): Promise<StampOutcome>;
}

export function createAuditStamper(deps: {
  db: Kysely<Database>;
  timestamper: HeadTimestamper;
  log: Logger;
  /** AUDIT_STAMP_MINUTES in milliseconds */
  intervalMs: number;
  now?: () => Date;
}): AuditStamper {
  const now = deps.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<StampOutcome> | undefined;
  let failures = 0;

  async function stampOnce(): Promise<StampOutcome> {
    let head: { seq: number; hash: string } | null = null;
    try {
      head = await auditHead(deps.db);
      if (!head) return { stamped: false, reason: 'empty' };
      const last = await latestAnchor(deps.db);
      if (last && last.seq >= head.seq) return { stamped: false, reason: 'unchanged' };
      const r = await deps.timestamper.stamp(headImprint(head.seq, head.hash));
      const anchor: AuditAnchor = {
        seq: head.seq,
        hash: head.hash,
        tsaUrl: r.tsaUrl,
        genTime: r.genTime.toISOString(),
        serialNumber: r.serialNumber,
        token: r.token,
        createdAt: now().toISOString(),
      };
      if (!(await insertAnchor(deps.db, anchor))) return { stamped: false, reason: 'anchored-elsewhere' };
      if (failures > 0) deps.log.info({ seq: head.seq, failedBefore: failures }, 'audit head anchored again after failures');
      failures = 0;
      deps.log.debug({ seq: head.seq, tsaUrl: r.tsaUrl, genTime: anchor.genTime }, 'audit head anchored');
      return { stamped: true, seq: head.seq, genTime: anchor.genTime };
    } catch (err) {
      failures++;
      deps.log.warn(
        { err, seq: head?.seq, consecutiveFailures: failures },
        'audit head could not be timestamped; trying again at the next interval (AUDIT_STAMP_MINUTES)',
      );
      return { stamped: false, reason: 'failed' };
    }
  }

  function stampNow(): Promise<StampOutcome> {
    // One at a time: a tick that comes while a stamp is in flight waits for it and then looks again.
    const run = (inFlight ?? Promise.resolve()).then(stampOnce);
    inFlight = run.finally(() => {
      if (inFlight === guarded) inFlight = undefined;
    });
    const guarded = inFlight;
    return run;
  }

  return {
    stampNow,
    start() {
      if (timer) return;
      timer = setInterval(() => void stampNow(), deps.intervalMs);
      timer.unref();
      // At once too: a head a crash left unanchored (no stamp at shutdown) is covered now, not an interval later.
      void stampNow();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      return stampNow();
    },
  };
}
