/**
 * The intake feature's SQL: what a package's checks read, and the receipt's
 * one transaction, compiled here and handed whole to the writer (on SQLite
 * it commits in the writer thread, so the commit's fsync does not stop the
 * event loop).
 */
import type { Db } from '../storage/db.js';
import type { CaseRow, ConsentsTable, DocumentsTable, PackagesTable } from '../storage/schema.js';
import type { CaseEvent } from '../storage/case-events.js';
import type { WriteOp } from '../storage/writer.js';
import type { AuditEntry } from '../audit/audit.js';
import { outboxRow, type OutboxJob } from '../outbox/outbox.js';
import { pendingRow } from '../timestamps/store.js';
import { createInsertCompiler } from '../storage/inserts.js';
import { fieldsOf, openCaseFields, openEventRow, sealCaseFields, sealEventRow } from '../storage/fields.js';

export interface StoredReceipt {
  receiptId: string;
  caseId: string;
  senderPartyId: string;
  body: Buffer;
  signature: Buffer;
}

export interface PackageCommit {
  /** the new case (inserted), or the supplemented case's changed fields (updated; must change exactly one row) */
  case:
    | { insert: CaseRow }
    | {
        update: Pick<CaseRow, 'id' | 'complete' | 'state' | 'clock_started_at' | 'requests' | 'urgent' | 'clock' | 'updated_at'>;
      };
  package: PackagesTable;
  documents: DocumentsTable[];
  receipt: { id: string; body: Buffer; signature: Buffer };
  events: { event: CaseEvent; data: Record<string, unknown> }[];
  actor: string;
  at: string;
  /** queue work committed with the package (the receipt's timestamp; routing of a case complete now) */
  jobs: OutboxJob[];
  /** consents and agreements the manifest carries, as evidence */
  consents: ConsentsTable[];
  audit: AuditEntry;
}

export function createIntakeStore(database: Pick<Db, 'db' | 'writer'>) {
  const { db } = database;
  // personal fields (titles, treating clinicians, who gave a consent, free text in events) are sealed: src/storage/fields.ts
  const fields = fieldsOf(db);
  // the receipt's inserts, compiled once per shape (src/storage/inserts.ts)
  const insert = createInsertCompiler(db);
  return {
    async caseById(caseId: string): Promise<CaseRow | undefined> {
      return openCaseFields(fields, await db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirst());
    },
    async documentTypes(caseId: string): Promise<string[]> {
      const rows = await db.selectFrom('documents').select('type').where('case_id', '=', caseId).execute();
      return rows.map((r) => r.type);
    },
    async events(caseId: string): Promise<{ event: string; at: string; actor: string; data: string }[]> {
      const rows = await db
        .selectFrom('case_events')
        .select(['event', 'at', 'actor', 'data'])
        .where('case_id', '=', caseId)
        .orderBy('id')
        .execute();
      return rows.map((r) => openEventRow(fields, caseId, r));
    },
    /** The receipt of `packageId` from this sender, with the content hash that decides 200 or 409. */
    async receiptOfPackage(senderPartyId: string, packageId: string): Promise<(StoredReceipt & { contentSha256: string }) | undefined> {
      const r = await db
        .selectFrom('packages')
        .innerJoin('receipts', 'receipts.package_row_id', 'packages.id')
        .select(['packages.content_sha256', 'receipts.id as receipt_id', 'receipts.body', 'receipts.signature', 'packages.case_id'])
        .where('packages.sender_party_id', '=', senderPartyId)
        .where('packages.package_id', '=', packageId)
        .executeTakeFirst();
      if (!r) return undefined;
      return {
        receiptId: r.receipt_id,
        caseId: r.case_id,
        senderPartyId,
        body: Buffer.from(r.body),
        signature: Buffer.from(r.signature),
        contentSha256: r.content_sha256,
      };
    },
    async receipt(receiptId: string): Promise<StoredReceipt | undefined> {
      const r = await db.selectFrom('receipts').selectAll().where('id', '=', receiptId).executeTakeFirst();
      if (!r) return undefined;
      return {
        receiptId: r.id,
        caseId: r.case_id,
        senderPartyId: r.sender_party_id,
        body: Buffer.from(r.body),
        signature: Buffer.from(r.signature),
      };
    },
    /** The receipt's one transaction: case, package, documents, receipt, events, outbox rows and the audit entry. */
    async commitPackage(c: PackageCommit): Promise<void> {
      const ops: WriteOp[] = [];
      if ('insert' in c.case) {
        ops.push({ query: insert('cases', [sealCaseFields(fields, c.case.insert)]) });
      } else {
        const { id, ...changed } = sealCaseFields(fields, c.case.update);
        ops.push({ query: db.updateTable('cases').set(changed).where('id', '=', id).compile(), expectAffected: 1 });
      }
      const caseId = c.package.case_id;
      ops.push({ query: insert('packages', [c.package]) });
      const documents = c.documents.map((d) => ({
        ...d,
        title: d.title === null ? null : fields.sealText('documents', 'title', d.id, d.title),
      }));
      ops.push({ query: insert('documents', documents) });
      ops.push({
        query: insert('receipts', [
          {
            id: c.receipt.id,
            package_row_id: c.package.id,
            case_id: caseId,
            sender_party_id: c.package.sender_party_id,
            body: c.receipt.body,
            signature: c.receipt.signature,
            created_at: c.at,
          },
        ]),
      });
      // issue 15: the receipt waits for its RFC 3161 timestamp (the job is among c.jobs)
      ops.push({ query: insert('receipt_timestamps', [pendingRow(c.receipt.id, c.at)]) });
      ops.push({
        query: insert(
          'case_events',
          c.events.map((e) =>
            sealEventRow(fields, { case_id: caseId, at: c.at, event: e.event, actor: c.actor, data: JSON.stringify(e.data) }),
          ),
        ),
      });
      for (const job of c.jobs) ops.push({ query: insert('outbox', [outboxRow(job, c.at)]) });
      const consents = c.consents.map((r) => ({ ...r, given_by: fields.sealText('consents', 'given_by', r.id, r.given_by) }));
      if (consents.length > 0) ops.push({ query: insert('consents', consents) });
      ops.push({ audit: c.audit });
      await database.writer.commit(ops);
    },
  };
}
