/**
 * The timestamp feature's SQL: receipt_timestamps (migration
 * 0010_receipt_timestamps). A row is inserted, waiting, in the receipt's own
 * transaction (`pendingRow`, used by src/intake/store.ts); the queue fills
 * it in once.
 */
import type { Insertable } from 'kysely';
import type { Db } from '../storage/db.js';
import { isAffectedRowsError } from '../storage/writer.js';
import type { ReceiptTimestampsTable } from '../storage/schema.js';

/** The waiting row of a new receipt, inserted in the receipt's own transaction. */
export function pendingRow(receiptId: string, at: string): Insertable<ReceiptTimestampsTable> {
  return { receipt_id: receiptId, created_at: at };
}

export interface StoredTimestamp {
  receiptId: string;
  stampedAt: string;
  tsaUrl: string;
  genTime: string;
  serialNumber: string;
  token: Buffer;
  response: Buffer;
}

export function createTimestampStore(database: Pick<Db, 'db' | 'writer'>) {
  const { db } = database;
  return {
    /** The receipt's signature and its timestamp row (undefined: no such receipt or a receipt from before 0010). */
    async forStamping(receiptId: string): Promise<{ signature: Buffer; stampedAt: string | null } | undefined> {
      const r = await db
        .selectFrom('receipt_timestamps')
        .innerJoin('receipts', 'receipts.id', 'receipt_timestamps.receipt_id')
        .select(['receipts.signature', 'receipt_timestamps.stamped_at'])
        .where('receipt_timestamps.receipt_id', '=', receiptId)
        .executeTakeFirst();
      return r ? { signature: Buffer.from(r.signature), stampedAt: r.stamped_at } : undefined;
    },
    /** Fills in the token once (a second writer, e.g. another instance, changes nothing). true when this call stored it. */
    /**
     * Fills in a waiting receipt's timestamp; false when it was already filled in (another instance was first).
     * Through the writer: on SQLite the commit's fsync happens in the writer thread, not on the event loop.
     */
    async saveStamp(t: StoredTimestamp): Promise<boolean> {
      const query = db
        .updateTable('receipt_timestamps')
        .set({
          stamped_at: t.stampedAt,
          tsa_url: t.tsaUrl,
          gen_time: t.genTime,
          serial_number: t.serialNumber,
          token: t.token,
          response: t.response,
          last_error: null,
        })
        .where('receipt_id', '=', t.receiptId)
        .where('stamped_at', 'is', null)
        .compile();
      try {
        await database.writer.commit([{ query, expectAffected: 1 }]);
        return true;
      } catch (e) {
        if (isAffectedRowsError(e)) return false;
        throw e;
      }
    },
    async recordFailure(receiptId: string, error: string): Promise<void> {
      await db
        .updateTable('receipt_timestamps')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error.slice(0, 1000) }))
        .where('receipt_id', '=', receiptId)
        .where('stamped_at', 'is', null)
        .execute();
    },
    async stamp(receiptId: string): Promise<StoredTimestamp | undefined> {
      const r = await db
        .selectFrom('receipt_timestamps')
        .selectAll()
        .where('receipt_id', '=', receiptId)
        .where('stamped_at', 'is not', null)
        .executeTakeFirst();
      if (!r || !r.token || !r.response) return undefined;
      return {
        receiptId: r.receipt_id,
        stampedAt: r.stamped_at!,
        tsaUrl: r.tsa_url!,
        genTime: r.gen_time!,
        serialNumber: r.serial_number!,
        token: Buffer.from(r.token),
        response: Buffer.from(r.response),
      };
    },
    /** Receipts waiting for their timestamp, oldest first. */
    async waiting(limit: number): Promise<string[]> {
      const rows = await db
        .selectFrom('receipt_timestamps')
        .select('receipt_id')
        .where('stamped_at', 'is', null)
        .orderBy('created_at')
        .limit(limit)
        .execute();
      return rows.map((r) => r.receipt_id);
    },
    /** The fail-closed gap's inputs: the oldest waiting receipt, how many wait, the latest stamp. */
    async gapState(): Promise<{ oldestWaitingAt: string | null; waiting: number; lastStampedAt: string | null }> {
      const [oldest, count, last] = await Promise.all([
        db
          .selectFrom('receipt_timestamps')
          .select('created_at')
          .where('stamped_at', 'is', null)
          .orderBy('created_at')
          .limit(1)
          .executeTakeFirst(),
        db
          .selectFrom('receipt_timestamps')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('stamped_at', 'is', null)
          .executeTakeFirst(),
        db
          .selectFrom('receipt_timestamps')
          .select('stamped_at')
          .where('stamped_at', 'is not', null)
          .orderBy('stamped_at', 'desc')
          .limit(1)
          .executeTakeFirst(),
      ]);
      return { oldestWaitingAt: oldest?.created_at ?? null, waiting: Number(count?.n ?? 0), lastStampedAt: last?.stamped_at ?? null };
    },
  };
}
