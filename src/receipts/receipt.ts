/**
 * The receipt: canonical JSON bytes (API.md), signed as a detached CMS
 * SignedData. The stored bytes are the signed bytes; a repeat answer serves
 * them unchanged.
 */
import { canonicalJson } from '../shared/canonical-json.js';
import type { Clock } from '../deadlines/types.js';

export interface ReceiptDocument {
  part: string;
  type: string;
  size: number;
  sha256: string;
}

export interface Receipt {
  receiptId: string;
  packageId: string;
  caseId: string;
  sender: { partyId: string; municipalityCode: string };
  receivedAt: string;
  service: string;
  supplementTo?: string;
  documents: ReceiptDocument[];
  /** document types the case still lacks before its clock starts (§21 stk. 2); empty when complete */
  missingDocuments: string[];
  manifestSha256: string;
  clock: Clock;
}

export function receiptBytes(r: Receipt): Buffer {
  return Buffer.from(canonicalJson(r), 'utf8');
}

export interface Signer {
  sign(content: Buffer): Buffer;
  /** Same bytes as `sign`, computed off the event loop. */
  signAsync(content: Buffer): Promise<Buffer>;
}
