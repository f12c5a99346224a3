/**
 * Append-only, hash-chained audit log.
 *
 *   hash(n) = sha256_hex( hash(n-1) + "\n" + canonicalJson({ at, actor, action, caseId, details }) )
 *   hash(0) = "0" × 64   (the prev_hash of the first entry)
 *
 * Chain order is `seq` order. Appends are serialised so that no two entries
 * ever link to the same predecessor: on PostgreSQL by a transaction-scoped
 * advisory lock taken before the last hash is read, on SQLite by the write
 * lock of the (BEGIN IMMEDIATE) transaction. The lock is held until the
 * surrounding transaction ends, so call appendAudit late in a transaction.
 *
 * The table is also append-only at the database level (triggers reject
 * UPDATE / DELETE, and TRUNCATE on PostgreSQL; see migrations.ts). The chain
 * detects modification, insertion and removal of entries *before* the last
 * one; truncating the tail is only detectable against an externally kept
 * copy of a recent (seq, hash) — see `verifyAuditChain`'s `expectHead`.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../storage/schema.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { scrubCpr } from '../shared/logger.js';

export type SqlDialect = 'sqlite' | 'postgres';

export const GENESIS_HASH = '0'.repeat(64);
/** pg_advisory_xact_lock key serialising audit appends ("PkAudi" in ASCII). */
export const AUDIT_LOCK_KEY = 0x506b41756469;

const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface AuditEntry {
  /** ISO-8601 UTC with milliseconds, e.g. `2026-12-18T09:41:07.123Z` */
  at: string;
  actor: string;
  action: string;
  caseId?: string | null;
  /** Must not contain CPR numbers, names or document bytes; CPR-like strings are replaced with "[CPR]" as a safety net. */
  details?: Record<string, unknown>;
}

/** The hash of one entry given its predecessor's hash. */
export function auditHash(
  prevHash: string,
  e: { at: string; actor: string; action: string; caseId: string | null; details: unknown },
): string {
  const body = canonicalJson({ at: e.at, actor: e.actor, action: e.action, caseId: e.caseId, details: e.details });
  return createHash('sha256')
    .update(prevHash + '\n' + body, 'utf8')
    .digest('hex');
}

/** An entry checked and in its stored form: what `appendAudit` and the SQLite writer thread chain and insert. */
export interface PreparedAuditEntry {
  at: string;
  actor: string;
  action: string;
  caseId: string | null;
  /** canonical JSON of the (CPR-scrubbed) details, exactly as stored and hashed */
  detailsJson: string;
}

/** Checks an entry and puts it in its stored form. Throws a TypeError for a malformed entry. */
export function prepareAudit(entry: AuditEntry): PreparedAuditEntry {
  if (!ISO_UTC_MS.test(entry.at) || Number.isNaN(Date.parse(entry.at))) {
    throw new TypeError(`audit entry "at" must be an ISO-8601 UTC instant with milliseconds, got ${JSON.stringify(entry.at)}`);
  }
  if (!entry.actor) throw new TypeError('audit entry needs an actor');
  if (!entry.action) throw new TypeError('audit entry needs an action');
  return {
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    caseId: entry.caseId ?? null,
    detailsJson: canonicalJson(scrubStrings(entry.details ?? {})),
  };
}

/** The row that links a prepared entry to its predecessor's hash. */
export function chainedAuditRow(prevHash: string | undefined, p: PreparedAuditEntry) {
  const prev = prevHash ?? GENESIS_HASH;
  // Hash what verification will parse back: the details as stored.
  const hash = auditHash(prev, {
    at: p.at,
    actor: p.actor,
    action: p.action,
    caseId: p.caseId,
    details: JSON.parse(p.detailsJson) as unknown,
  });
  return { at: p.at, actor: p.actor, action: p.action, case_id: p.caseId, details: p.detailsJson, prev_hash: prev, hash };
}

/** SQL of the chain's last link, for the writer thread (same query as `appendAudit` runs). */
export const LAST_AUDIT_SQL = 'select "seq", "hash" from "audit_log" order by "seq" desc limit 1';

/**
 * Appends one entry. Pass the transaction the audited change is made in, so
 * the entry commits (or rolls back) with it; given a plain Kysely instance it
 * opens its own transaction.
 */
export async function appendAudit(
  trx: Kysely<Database> | Transaction<Database>,
  dialect: SqlDialect,
  entry: AuditEntry,
): Promise<{ seq: number; hash: string }> {
  const prepared = prepareAudit(entry);
  const run = async (t: Transaction<Database>) => {
    if (dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY)})`.execute(t);
    }
    const last = await t.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const values = chainedAuditRow(last?.hash, prepared);
    const row = await t.insertInto('audit_log').values(values).returning('seq').executeTakeFirstOrThrow();
    return { seq: Number(row.seq), hash: values.hash };
  };
  return trx.isTransaction ? run(trx as Transaction<Database>) : trx.transaction().execute(run);
}

export type AuditVerification =
  { ok: true; count: number; head: { seq: number; hash: string } | null } | { ok: false; brokenAt: number; reason: string };

/**
 * Walks the whole chain in seq order, a page at a time (memory bounded), and
 * names the first broken link. `expectHead`, if given (a (seq, hash) recorded
 * elsewhere earlier), must be found in the chain — this catches truncation of
 * the tail, which the chain alone cannot.
 */
export async function verifyAuditChain(
  db: Kysely<Database> | Transaction<Database>,
  opts: { pageSize?: number; expectHead?: { seq: number; hash: string } } = {},
): Promise<AuditVerification> {
  const pageSize = opts.pageSize ?? 1000;
  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  let count = 0;
  let head: { seq: number; hash: string } | null = null;
  let sawExpected = !opts.expectHead;
  for (;;) {
    const rows = await db.selectFrom('audit_log').selectAll().where('seq', '>', prevSeq).orderBy('seq', 'asc').limit(pageSize).execute();
    for (const r of rows) {
      const seq = Number(r.seq);
      if (r.prev_hash !== prevHash) {
        return {
          ok: false,
          brokenAt: seq,
          reason:
            count === 0
              ? 'first entry does not start from the genesis hash'
              : `prev_hash does not match the hash of entry ${prevSeq} (entry removed, inserted or reordered)`,
        };
      }
      let details: unknown;
      try {
        details = JSON.parse(r.details);
      } catch {
        return { ok: false, brokenAt: seq, reason: 'details is not valid JSON' };
      }
      let expected: string;
      try {
        expected = auditHash(prevHash, { at: r.at, actor: r.actor, action: r.action, caseId: r.case_id, details });
      } catch (e) {
        return { ok: false, brokenAt: seq, reason: `entry cannot be canonicalised: ${(e as Error).message}` };
      }
      if (r.hash !== expected) return { ok: false, brokenAt: seq, reason: 'hash does not match the entry (entry modified)' };
      if (opts.expectHead && seq === opts.expectHead.seq) {
        if (r.hash !== opts.expectHead.hash) return { ok: false, brokenAt: seq, reason: 'hash differs from the externally recorded head' };
        sawExpected = true;
      }
      prevHash = r.hash;
      prevSeq = seq;
      count++;
      head = { seq, hash: r.hash };
    }
    if (rows.length < pageSize) break;
  }
  if (!sawExpected) {
    return { ok: false, brokenAt: opts.expectHead!.seq, reason: 'externally recorded entry is missing (log truncated?)' };
  }
  return { ok: true, count, head };
}

/** The audit actions that make up the access log: reading a document, opening a case file. */
export const ACCESS_ACTIONS = ['document-read', 'case-read'] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];

/** One read in the access log: who read which case (and, for a document, which part of what type), when. */
export interface AccessLogEntry {
  seq: number;
  at: string;
  actor: string;
  action: AccessAction;
  caseId: string;
  /** document-read: the document's part name and type */
  part?: string;
  type?: string;
}

export const ACCESS_LOG_LIMIT = 100;
export const ACCESS_LOG_MAX_LIMIT = 500;

/**
 * The access log, newest first: the `document-read` and `case-read` entries
 * of the audit log, of one case or of all; `limit` default 100, at most 500.
 * Served by the indexes on audit_log (action, seq) and (case_id, seq).
 */
export async function accessLog(
  db: Kysely<Database> | Transaction<Database>,
  opts: { limit?: number; caseId?: string } = {},
): Promise<AccessLogEntry[]> {
  const limit = Math.min(
    ACCESS_LOG_MAX_LIMIT,
    Math.max(1, opts.limit !== undefined && Number.isFinite(opts.limit) ? Math.floor(opts.limit) : ACCESS_LOG_LIMIT),
  );
  const rows = await db
    .selectFrom('audit_log')
    .select(['seq', 'at', 'actor', 'action', 'case_id', 'details'])
    .where('action', 'in', [...ACCESS_ACTIONS])
    .$if(opts.caseId !== undefined, (qb) => qb.where('case_id', '=', opts.caseId!))
    .orderBy('seq', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => {
    const d = parseDetails(r.details);
    return {
      seq: Number(r.seq),
      at: r.at,
      actor: r.actor,
      action: r.action as AccessAction,
      caseId: r.case_id ?? '',
      ...(typeof d.part === 'string' ? { part: d.part } : {}),
      ...(typeof d.type === 'string' ? { type: d.type } : {}),
    };
  });
}

function parseDetails(json: string): Record<string, unknown> {
  try {
    const v = JSON.parse(json) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function scrubStrings(v: unknown): unknown {
  if (typeof v === 'string') return scrubCpr(v);
  if (Array.isArray(v)) return v.map(scrubStrings);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubStrings(x)]));
  }
  return v;
}
