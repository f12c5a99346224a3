/**
 * What the retention purge leaves of a sealed value (issue 15): nothing. The
 * purge empties a case's sealed manifest, its responses' sealed content and
 * its messages' sealed envelopes (zero bytes) and clears the blob keys of its
 * documents and responses; the rows stay, with their digests, for the
 * evidence. A reader that meets an emptied value answers 410 `case-purged`
 * (src/shared/problem.ts), never a decryption error.
 */
import { openSmall } from './crypto.js';
import { purged } from '../shared/problem.js';

/** The sealed value of a purged row: zero bytes. */
export const PURGED_SEALED = new Uint8Array(0);
/** The blob key of a purged document or response: no blob. */
export const PURGED_BLOB_KEY = '';

/** Opens a sealed value of a case; an emptied one (purged) answers 410 naming `what`. */
export function openRetained(masterKey: Buffer, sealed: Uint8Array, what: string): Buffer {
  if (sealed.length === 0) throw purged(`${what} was deleted when its retention period ended (the receipts and digests remain)`);
  return openSmall(masterKey, Buffer.from(sealed));
}

/** The blob key of a document or response; a purged one answers 410 naming `what`. */
export function retainedBlobKey(blobKey: string, what: string): string {
  if (blobKey === PURGED_BLOB_KEY) throw purged(`${what} was deleted when its retention period ended (its SHA-256 remains)`);
  return blobKey;
}
