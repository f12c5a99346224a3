/**
 * What a crash can leave behind, and its removal. A crash (kill -9, power
 * loss) mid-upload can leave a temp file (never renamed), or a blob that was
 * renamed into place but whose database transaction never committed (the
 * receipt was never given). Rows cannot be half-written: every change is one
 * transaction. Both kinds of leftover are encrypted, and neither was ever
 * receipted; they are removed here, and each sweep that removes something
 * is logged.
 *
 * Age: an upload in flight can be at most REQUEST_TIMEOUT_MS old, so files
 * older than that belong to no live request. At start-up with the embedded
 * database (one process per DATA_DIR) nothing is in flight yet, so
 * everything left over goes at once.
 */
import type { Logger } from 'pino';
import type { Db } from './db.js';
import type { BlobStore } from './blobs.js';

export async function sweepOrphanBlobs(db: Db, blobs: BlobStore, olderThanMs: number): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  let removed = 0;
  for await (const key of blobs.listKeys()) {
    const mtime = await blobs.modifiedAt(key);
    if (mtime === null || mtime > cutoff) continue;
    const doc = await db.db.selectFrom('documents').select('id').where('blob_key', '=', key).executeTakeFirst();
    if (doc) continue;
    const resp = await db.db.selectFrom('responses').select('id').where('blob_key', '=', key).executeTakeFirst();
    if (resp) continue;
    await blobs.delete(key);
    removed++;
  }
  return removed;
}

export async function sweep(
  db: Db,
  blobs: BlobStore,
  olderThanMs: number,
  log: Logger,
  when: string,
): Promise<{ temp: number; orphans: number }> {
  const temp = await blobs.sweepTemp(olderThanMs);
  const orphans = await sweepOrphanBlobs(db, blobs, olderThanMs);
  if (temp || orphans) {
    log.warn(
      { temp, orphans, when },
      'swept what an interrupted upload left behind (temp files; blobs of packages that were never receipted)',
    );
  }
  return { temp, orphans };
}
