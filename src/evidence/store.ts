/**
 * The evidence export's SQL (issue 15). It reads only what a retention purge
 * keeps: the case's id, its receipts and their timestamps, the digests of its
 * documents and responses (never their bytes, titles or content), the audit
 * log without its macs, and the anchored heads.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

export interface EvidenceReceiptRow {
  id: string;
  body: Buffer;
  signature: Buffer;
  createdAt: string;
  /** the receipt's RFC 3161 timestamp, when it has one */
  timestamp: { token: Buffer; response: Buffer; genTime: string; serialNumber: string; tsaUrl: string } | null;
}

export interface EvidenceAuditRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  caseId: string | null;
  /** the canonical JSON of the details, as stored and hashed */
  details: string;
  prevHash: string;
  hash: string;
}

export interface EvidenceAnchorRow {
  seq: number;
  hash: string;
  genTime: string;
  serialNumber: string;
  tsaUrl: string;
  token: Buffer;
}

export function createEvidenceStore(db: Kysely<Database>) {
  return {
    /** true when the case is known (its row, or a receipt of it) */
    async caseExists(caseId: string): Promise<boolean> {
      const row = await db.selectFrom('cases').select('id').where('id', '=', caseId).executeTakeFirst();
      if (row) return true;
      const receipt = await db.selectFrom('receipts').select('id').where('case_id', '=', caseId).limit(1).executeTakeFirst();
      return receipt !== undefined;
    },

    /** The case's receipts, oldest first, each with its timestamp if stamped. */
    async receipts(caseId: string): Promise<EvidenceReceiptRow[]> {
      const rows = await db
        .selectFrom('receipts as r')
        .leftJoin('receipt_timestamps as t', 't.receipt_id', 'r.id')
        .select([
          'r.id',
          'r.body',
          'r.signature',
          'r.created_at',
          't.stamped_at',
          't.token',
          't.response',
          't.gen_time',
          't.serial_number',
          't.tsa_url',
        ])
        .where('r.case_id', '=', caseId)
        .orderBy('r.created_at')
        .orderBy('r.id')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        body: Buffer.from(r.body),
        signature: Buffer.from(r.signature),
        createdAt: r.created_at,
        timestamp:
          r.stamped_at && r.token && r.response
            ? {
                token: Buffer.from(r.token),
                response: Buffer.from(r.response),
                genTime: r.gen_time ?? '',
                serialNumber: r.serial_number ?? '',
                tsaUrl: r.tsa_url ?? '',
              }
            : null,
      }));
    },

    /** The digests of the case's documents, with the receipt of the package that brought each. */
    documents: (caseId: string) =>
      db
        .selectFrom('documents as d')
        .leftJoin('receipts as r', 'r.package_row_id', 'd.package_row_id')
        .select(['r.id as receipt_id', 'd.part', 'd.type', 'd.media_type', 'd.size', 'd.sha256', 'd.created_at'])
        .where('d.case_id', '=', caseId)
        .orderBy('d.created_at')
        .orderBy('d.part')
        .execute(),

    /** The digests of the responses given in the case. */
    responses: (caseId: string) =>
      db
        .selectFrom('responses')
        .select(['id', 'kind', 'media_type', 'size', 'sha256', 'created_at'])
        .where('case_id', '=', caseId)
        .orderBy('created_at')
        .orderBy('id')
        .execute(),

    /** The seqs of the case's audit entries, ascending. */
    async auditSeqs(caseId: string): Promise<number[]> {
      const rows = await db.selectFrom('audit_log').select('seq').where('case_id', '=', caseId).orderBy('seq').execute();
      return rows.map((r) => Number(r.seq));
    },

    /** The first anchored head at or after `seq` (the one whose token covers that entry), or undefined. */
    async anchorCovering(seq: number): Promise<EvidenceAnchorRow | undefined> {
      const r = await db
        .selectFrom('audit_anchors')
        .select(['seq', 'hash', 'gen_time', 'serial_number', 'tsa_url', 'token'])
        .where('seq', '>=', seq)
        .orderBy('seq')
        .limit(1)
        .executeTakeFirst();
      return r
        ? {
            seq: Number(r.seq),
            hash: r.hash,
            genTime: r.gen_time,
            serialNumber: r.serial_number,
            tsaUrl: r.tsa_url,
            token: Buffer.from(r.token),
          }
        : undefined;
    },

    /** The audit entries with from <= seq <= to, in chain order, without their macs. */
    async auditRange(from: number, to: number): Promise<EvidenceAuditRow[]> {
      const rows = await db
        .selectFrom('audit_log')
        .select(['seq', 'at', 'actor', 'action', 'case_id', 'details', 'prev_hash', 'hash'])
        .where('seq', '>=', from)
        .where('seq', '<=', to)
        .orderBy('seq')
        .execute();
      return rows.map((r) => ({
        seq: Number(r.seq),
        at: r.at,
        actor: r.actor,
        action: r.action,
        caseId: r.case_id,
        details: r.details,
        prevHash: r.prev_hash,
        hash: r.hash,
      }));
    },
  };
}
