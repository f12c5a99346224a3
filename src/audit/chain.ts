/**
 * The audit chain's links (issue 15), apart from the rest of the audit log so
 * that the SQLite writer thread, which appends the entries of the embedded
 * database, loads only these (node:crypto and canonical JSON: no query
 * builder, no logger). The formulas are documented in ./audit.ts.
 */
import { createHash, createHmac } from 'node:crypto';
import { canonicalJson } from '../shared/canonical-json.js';

export const GENESIS_HASH = '0'.repeat(64);

type HashedFields = { at: string; actor: string; action: string; caseId: string | null; details: unknown };

const hashedBody = (e: HashedFields): string =>
  canonicalJson({ at: e.at, actor: e.actor, action: e.action, caseId: e.caseId, details: e.details });

/** The public SHA-256 link of one entry given its predecessor's hash. */
export function auditHash(prevHash: string, e: HashedFields): string {
  return createHash('sha256')
    .update(prevHash + '\n' + hashedBody(e), 'utf8')
    .digest('hex');
}

/** The keyed link of one entry (its mac): HMAC-SHA256 under the audit key over the same bytes, hex. */
export function auditHmac(key: Buffer, prevHash: string, e: HashedFields): string {
  return createHmac('sha256', key)
    .update(prevHash + '\n' + hashedBody(e), 'utf8')
    .digest('hex');
}

/**
 * The seal of the keyed chain's start (`audit_chain_seal.mac`): HMAC-SHA256 under the audit key over where the keyed
 * chain begins and with which key, hex. Without the key nobody can seal another start, so `audit verify` with the key
 * catches a start moved past entries whose macs were stripped (every entry up to the start passes as written before
 * the key) as surely as it catches a changed entry.
 */
export function auditChainSeal(key: Buffer, afterSeq: number, keyId: string): string {
  return createHmac('sha256', key).update(`postkasse-audit-chain-start\n${afterSeq}\n${keyId}`, 'utf8').digest('hex');
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

/** The row that links a prepared entry to its predecessor's hash, with its mac under the audit key. */
export function chainedAuditRow(prevHash: string | undefined, p: PreparedAuditEntry, key: Buffer) {
  const prev = prevHash ?? GENESIS_HASH;
  // Hash what verification will parse back: the details as stored.
  const fields = { at: p.at, actor: p.actor, action: p.action, caseId: p.caseId, details: JSON.parse(p.detailsJson) as unknown };
  const hash = auditHash(prev, fields);
  const mac = auditHmac(key, prev, fields);
  return { at: p.at, actor: p.actor, action: p.action, case_id: p.caseId, details: p.detailsJson, prev_hash: prev, hash, mac };
}

/** SQL of the chain's last link, for the writer thread (same query as `appendAudit` runs). */
export const LAST_AUDIT_SQL = 'select "seq", "hash" from "audit_log" order by "seq" desc limit 1';
