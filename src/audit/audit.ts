/**
 * Append-only, hash-chained audit log, keyed and anchored (issue 15).
 *
 *   body(n) = canonicalJson({ at, actor, action, caseId, details })
 *   hash(n) = sha256_hex( hash(n-1) + "\n" + body(n) )                       the public link
 *   mac(n)  = hex( HMAC-SHA256( auditKey, hash(n-1) + "\n" + body(n) ) )     the keyed link
 *   hash(0) = "0" × 64   (the prev_hash of the first entry)
 *
 * The key (AUDIT_KEY_FILE, src/audit/key.ts) lives outside the database.
 * Whoever can write the database can change an entry and recompute the
 * SHA-256 links after it, but not the macs: `audit verify` with the key
 * catches that rewrite at the changed entry. The SHA-256 links stay public on
 * purpose: a third party without the key can still recompute every link from
 * the entries, and the chain's head is timestamped by a TSA every
 * AUDIT_STAMP_MINUTES (src/audit/anchors.ts) — which catches a rewrite even
 * by someone holding the key, and truncation up to the last anchored head.
 *
 * Entries written before the key (an existing database) have no mac:
 * `audit_chain.after_seq` records where the keyed chain begins, and every
 * later entry must carry a mac. The first keyed entry links to the last
 * plain one as any entry does.
 *
 * The key travels with the database handle (`Db.auditKey`, set by
 * openDatabase), never as a process global: `appendAudit(trx, db, entry)`.
 *
 * Chain order is `seq` order. Appends are serialised so that no two entries
 * ever link to the same predecessor: on PostgreSQL by a transaction-scoped
 * advisory lock taken before the last hash is read, on SQLite by the write
 * lock of the (BEGIN IMMEDIATE) transaction. The lock is held until the
 * surrounding transaction ends, so call appendAudit late in a transaction.
 *
 * The tables are also append-only at the database level (triggers reject
 * UPDATE / DELETE, and TRUNCATE on PostgreSQL; see migrations.ts) — a speed
 * bump only: whoever can write the database can drop a trigger.
 */
import { timingSafeEqual } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../storage/schema.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { scrubCpr } from '../shared/logger.js';
import type { AuditKey } from './key.js';
import { headImprint } from './head.js';
import { auditChainSeal, auditHash, auditHmac, chainedAuditRow, GENESIS_HASH, type PreparedAuditEntry } from './chain.js';

export { auditHash, auditHmac, GENESIS_HASH, type PreparedAuditEntry };

export type SqlDialect = 'sqlite' | 'postgres';

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

/** What appendAudit needs of a database handle: its dialect and the audit key (`Db` is one). */
export interface AuditTarget {
  dialect: SqlDialect;
  auditKey?: AuditKey | undefined;
}

/** The audit key, or an error saying that this handle cannot append to the chain. */
export function requireAuditKey(auditKey: AuditKey | undefined): AuditKey {
  if (!auditKey) {
    throw new Error('this database handle was opened without the audit key (AUDIT_KEY_FILE): it cannot append to the audit chain');
  }
  return auditKey;
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

/**
 * Appends one entry, linked with the handle's audit key. Pass the transaction
 * the audited change is made in, so the entry commits (or rolls back) with
 * it; given a plain Kysely instance it opens its own transaction. `target` is
 * the database handle (`Db`): its dialect and audit key.
 */
export async function appendAudit(
  trx: Kysely<Database> | Transaction<Database>,
  target: AuditTarget,
  entry: AuditEntry,
): Promise<{ seq: number; hash: string }> {
  const key = requireAuditKey(target.auditKey);
  const prepared = prepareAudit(entry);
  const run = async (t: Transaction<Database>) => {
    if (target.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY)})`.execute(t);
    }
    const last = await t.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const values = chainedAuditRow(last?.hash, prepared, key.key);
    const row = await t.insertInto('audit_log').values(values).returning('seq').executeTakeFirstOrThrow();
    return { seq: Number(row.seq), hash: values.hash };
  };
  return trx.isTransaction ? run(trx as Transaction<Database>) : trx.transaction().execute(run);
}

/**
 * Makes sure the database's chain is keyed with `key` from here on (openDatabase calls it).
 *
 * The first time a key meets a database, `audit_chain` records the current
 * last seq: the entries up to it were written without a mac, every later one
 * must carry one; `audit_chain_seal` seals that start under the key (0015).
 * Afterwards the key must be the same one: a different key file (a lost or
 * mixed-up key) refuses, since its entries would no longer verify. A start
 * that does not match its seal, a seal gone, or keyed entries without a
 * recorded start refuse too: each means the chain was tampered with (the
 * start moved or removed so that stripped macs pass), and a gateway that
 * started on it would key a forged history from then on. `audit verify`
 * names the damage.
 */
export async function startKeyedChain(db: Kysely<Database>, dialect: SqlDialect, key: AuditKey): Promise<{ afterSeq: number }> {
  const tampered = (what: string) =>
    new Error(
      `the audit chain has been tampered with: ${what}. The gateway does not start on it: run \`audit verify\` with the key ` +
        'to see where, and restore the database from a backup that verifies',
    );
  return db.transaction().execute(async (t) => {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${sql.lit(AUDIT_LOCK_KEY)})`.execute(t);
    const row = await t.selectFrom('audit_chain').select(['after_seq', 'key_id']).where('id', '=', 1).executeTakeFirst();
    if (row) {
      const afterSeq = Number(row.after_seq);
      if (row.key_id !== key.id) {
        throw new Error(
          `AUDIT_KEY_FILE: this database's audit chain is keyed with key ${row.key_id} (since seq ${afterSeq + 1}), ` +
            `but the key file holds key ${key.id}; start with the key file the chain was begun with (restore it from its backup)`,
        );
      }
      const seal = await t.selectFrom('audit_chain_seal').select('mac').where('id', '=', 1).executeTakeFirst();
      if (!seal) throw tampered(`the seal of the keyed chain's start (after seq ${afterSeq}) is gone`);
      if (!sameHex(seal.mac, auditChainSeal(key.key, afterSeq, row.key_id))) {
        throw tampered(`the keyed chain's start (after seq ${afterSeq}) does not match its seal: it was moved`);
      }
      return { afterSeq };
    }
    if (await t.selectFrom('audit_chain_seal').select('id').executeTakeFirst()) {
      throw tampered('the record of where the keyed chain begins is gone, while its seal remains');
    }
    const keyedEntry = await t
      .selectFrom('audit_log')
      .select('seq')
      .where('mac', 'is not', null)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    if (keyedEntry)
      throw tampered(`entries from seq ${Number(keyedEntry.seq)} carry macs, but the record of where the keyed chain begins is gone`);
    const last = await t.selectFrom('audit_log').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const afterSeq = last ? Number(last.seq) : 0;
    const createdAt = new Date().toISOString();
    await t.insertInto('audit_chain').values({ id: 1, after_seq: afterSeq, key_id: key.id, created_at: createdAt }).execute();
    await t
      .insertInto('audit_chain_seal')
      .values({ id: 1, mac: auditChainSeal(key.key, afterSeq, key.id), created_at: createdAt })
      .execute();
    return { afterSeq };
  });
}

/** Checks a stored timestamp token against the imprint it must cover (H1's verifyTimestampToken fits). */
export type VerifyToken = (
  token: Buffer,
  sha256: Buffer,
  trustedCaPems: string[],
) => { ok: true; genTime: Date; serialNumber: string } | { ok: false; reason: string };

export interface AuditVerifyOptions {
  pageSize?: number;
  /** a (seq, hash) recorded elsewhere earlier: must still be in the chain (detects truncation of the tail) */
  expectHead?: { seq: number; hash: string };
  /** the audit key: recomputes every entry's mac; without it the macs' presence is checked, not their values */
  key?: AuditKey;
  /** checks every anchored head's timestamp token against the TSA's trust anchors; without it the tokens are not checked */
  tokens?: { verify: VerifyToken; trustedCaPems: string[] };
  /**
   * The longest stretch of entries (from the first not covered by an anchored head to the last entry, by their `at`)
   * that may stand without a timestamp: heads are anchored every AUDIT_STAMP_MINUTES, so a longer stretch means the
   * anchors were removed (the rewrite they would have caught goes unseen without the key) or the TSA was out of reach
   * that long. Absent: not checked.
   */
  maxUnanchoredMs?: number;
}

/** What a verification checked, for its report (also when it found a break). */
export interface AuditChecks {
  /** entries walked: each one's link to its predecessor and its SHA-256 hash recomputed */
  entries: number;
  /** seq range written before the audit key was introduced (no mac) */
  plain: { from: number; to: number } | null;
  /** seq range of keyed entries; `hmac` says whether their macs were recomputed (with the key) or only found present (no key) */
  keyed: { from: number; to: number; keyId: string; hmac: 'checked' | 'not-checked' } | null;
  /** anchored heads met; `tokens` says whether their timestamp tokens were checked */
  anchors: { count: number; tokens: 'checked' | 'not-checked'; newest: { seq: number; genTime: string } | null };
}

export type AuditVerification =
  | { ok: true; count: number; head: { seq: number; hash: string } | null; checks: AuditChecks }
  | { ok: false; brokenAt: number; reason: string; checks: AuditChecks };

type AnchorRow = { seq: number; hash: string; gen_time: string; token: Buffer };

/**
 * Walks the whole chain in seq order, a page at a time (memory bounded), and
 * names the first broken link. For each entry: its link to the previous
 * entry's hash; its SHA-256 hash, recomputed; after the keyed chain began,
 * its mac — recomputed when `key` is given, else only required; and, where a head was
 * anchored at that seq, the timestamp token over the head statement built
 * from the entry as stored now (src/audit/head.ts). An anchor whose entry is
 * gone, like `expectHead`, catches truncation.
 */
export async function verifyAuditChain(
  db: Kysely<Database> | Transaction<Database>,
  opts: AuditVerifyOptions = {},
): Promise<AuditVerification> {
  const pageSize = opts.pageSize ?? 1000;
  const keyed = await db.selectFrom('audit_chain').select(['after_seq', 'key_id']).where('id', '=', 1).executeTakeFirst();
  const afterSeq = keyed ? Number(keyed.after_seq) : Number.POSITIVE_INFINITY;
  const checks: AuditChecks = {
    entries: 0,
    plain: null,
    keyed: null,
    anchors: { count: 0, tokens: opts.tokens ? 'checked' : 'not-checked', newest: null },
  };
  const broken = (brokenAt: number, reason: string): AuditVerification => ({ ok: false, brokenAt, reason, checks });
  if (keyed && opts.key && opts.key.id !== keyed.key_id) {
    return broken(
      Number(keyed.after_seq) + 1,
      `the key given (id ${opts.key.id}) is not the key the chain is keyed with (id ${keyed.key_id}): wrong AUDIT_KEY_FILE, or audit_chain was altered`,
    );
  }
  if (opts.key) {
    // With the key, where the keyed chain begins is itself checked: moved or removed, every entry up to it would
    // pass as written before the key, its mac stripped and its links recomputed.
    if (!keyed) {
      const first = await db.selectFrom('audit_log').select('seq').orderBy('seq').limit(1).executeTakeFirst();
      if (first) {
        return broken(
          Number(first.seq),
          'a key was given, but the database records no keyed chain (audit_chain removed, or this key never met this database): ' +
            'no entry can be checked against it',
        );
      }
    } else {
      const seal = await db.selectFrom('audit_chain_seal').select('mac').where('id', '=', 1).executeTakeFirst();
      if (!seal || !sameHex(seal.mac, auditChainSeal(opts.key.key, afterSeq, keyed.key_id))) {
        return broken(
          afterSeq + 1,
          seal
            ? `the keyed chain's start (after seq ${afterSeq}) does not match its seal: audit_chain was altered to pass entries as written before the key`
            : `the seal of the keyed chain's start (after seq ${afterSeq}) is gone (audit_chain_seal removed)`,
        );
      }
    }
  }

  // Anchors are read alongside the entries, a page at a time.
  let anchorPage: AnchorRow[] = [];
  let anchorIdx = 0;
  let anchorsDone = false;
  let lastAnchorSeq = 0;
  const nextAnchor = async (): Promise<AnchorRow | undefined> => {
    if (anchorIdx < anchorPage.length) return anchorPage[anchorIdx];
    if (anchorsDone) return undefined;
    anchorPage = (
      await db
        .selectFrom('audit_anchors')
        .select(['seq', 'hash', 'gen_time', 'token'])
        .where('seq', '>', lastAnchorSeq)
        .orderBy('seq', 'asc')
        .limit(100)
        .execute()
    ).map((a) => ({ ...a, seq: Number(a.seq) }));
    anchorIdx = 0;
    if (anchorPage.length < 100) anchorsDone = true;
    return anchorPage[0];
  };
  let lastGoodAnchor = 0;
  /** the first entry after the newest anchored head: where the stretch without a timestamp begins */
  let unanchoredFrom: { seq: number; at: string } | null = null;
  let lastAt = '';

  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  let head: { seq: number; hash: string } | null = null;
  let sawExpected = !opts.expectHead;
  for (;;) {
    const rows = await db.selectFrom('audit_log').selectAll().where('seq', '>', prevSeq).orderBy('seq', 'asc').limit(pageSize).execute();
    for (const r of rows) {
      const seq = Number(r.seq);
      const pending = await nextAnchor();
      if (pending && pending.seq < seq) {
        return broken(
          pending.seq,
          `the anchored entry at seq ${pending.seq} (timestamped ${pending.gen_time}) is missing from the chain (entry removed)`,
        );
      }
      if (r.prev_hash !== prevHash) {
        return broken(
          seq,
          checks.entries === 0
            ? 'first entry does not start from the genesis hash'
            : `prev_hash does not match the hash of entry ${prevSeq} (entry removed, inserted or reordered)`,
        );
      }
      let details: unknown;
      try {
        details = JSON.parse(r.details);
      } catch {
        return broken(seq, 'details is not valid JSON');
      }
      const fields = { at: r.at, actor: r.actor, action: r.action, caseId: r.case_id, details };
      let expected: string;
      let expectedMac: string | undefined;
      try {
        expected = auditHash(prevHash, fields);
        if (opts.key && (seq > afterSeq || r.mac !== null)) expectedMac = auditHmac(opts.key.key, prevHash, fields);
      } catch (e) {
        return broken(seq, `entry cannot be canonicalised: ${(e as Error).message}`);
      }
      if (r.hash !== expected) return broken(seq, 'hash does not match the entry (entry modified)');
      if (!keyed && r.mac !== null) {
        return broken(seq, 'entry carries a mac, but the record of where the keyed chain begins is gone (audit_chain removed)');
      }
      if (seq > afterSeq) {
        if (r.mac === null) return broken(seq, `entry has no mac, though the keyed chain began after seq ${afterSeq} (mac removed)`);
        checks.keyed = { from: checks.keyed?.from ?? seq, to: seq, keyId: keyed!.key_id, hmac: opts.key ? 'checked' : 'not-checked' };
      } else {
        checks.plain = { from: checks.plain?.from ?? seq, to: seq };
      }
      if (expectedMac !== undefined && !sameHex(r.mac ?? '', expectedMac)) {
        return broken(seq, 'HMAC does not match the entry (entry modified and its links recomputed without the key)');
      }
      if (pending && pending.seq === seq) {
        const why = anchorMismatch(pending, r.hash, opts.tokens);
        if (why) {
          return broken(
            seq,
            `${why}: the chain was rewritten at or before seq ${seq}` +
              (lastGoodAnchor ? ` (after the anchored head at seq ${lastGoodAnchor}, which still matches)` : ''),
          );
        }
        checks.anchors.count++;
        checks.anchors.newest = { seq, genTime: pending.gen_time };
        lastGoodAnchor = seq;
        lastAnchorSeq = seq;
        anchorIdx++;
        unanchoredFrom = null;
      } else {
        unanchoredFrom ??= { seq, at: r.at };
      }
      if (opts.expectHead && seq === opts.expectHead.seq) {
        if (r.hash !== opts.expectHead.hash) return broken(seq, 'hash differs from the externally recorded head');
        sawExpected = true;
      }
      prevHash = r.hash;
      prevSeq = seq;
      checks.entries++;
      head = { seq, hash: r.hash };
      lastAt = r.at;
    }
    if (rows.length < pageSize) break;
  }
  const leftover = await nextAnchor();
  if (leftover) {
    return broken(
      leftover.seq,
      `the anchored entry at seq ${leftover.seq} (timestamped ${leftover.gen_time}) is missing from the chain (log truncated)`,
    );
  }
  if (!sawExpected) return broken(opts.expectHead!.seq, 'externally recorded entry is missing (log truncated?)');
  if (unanchoredFrom && opts.maxUnanchoredMs !== undefined) {
    const spanMs = Date.parse(lastAt) - Date.parse(unanchoredFrom.at);
    if (spanMs > opts.maxUnanchoredMs) {
      return broken(
        unanchoredFrom.seq,
        `entries from seq ${unanchoredFrom.seq} (${unanchoredFrom.at}) to seq ${head!.seq} (${lastAt}) are covered by no timestamp: ` +
          `${Math.round(spanMs / 60_000)} minutes of entries without an anchored head, more than the ${Math.round(opts.maxUnanchoredMs / 60_000)} allowed ` +
          '(anchors removed, which hides a rewrite from a check without the key; or the TSA out of reach that long)',
      );
    }
  }
  return { ok: true, count: checks.entries, head, checks };
}

function anchorMismatch(a: AnchorRow, hash: string, tokens: AuditVerifyOptions['tokens']): string | undefined {
  if (tokens) {
    let imprint: Buffer;
    try {
      imprint = headImprint(Number(a.seq), hash);
    } catch (e) {
      return `the entry's hash cannot be anchored (${(e as Error).message})`;
    }
    const v = tokens.verify(Buffer.from(a.token), imprint, tokens.trustedCaPems);
    if (!v.ok)
      return `the timestamp token of the head anchored at seq ${a.seq} (${a.gen_time}) does not verify over the entry as stored (${v.reason})`;
  }
  if (a.hash !== hash)
    return `the head anchored at seq ${a.seq} (${a.gen_time}) recorded hash ${a.hash.slice(0, 16)}…, the entry now has ${hash.slice(0, 16)}…`;
  return undefined;
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
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
  /** how many reads this entry records: 1, or the repeats of one object by one party counted in one entry (src/audit/reads.ts) */
  count: number;
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
      count: typeof d.repeats === 'number' && d.repeats > 0 ? d.repeats : 1,
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
