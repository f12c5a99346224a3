/**
 * The audit head statement that the TSA timestamps (issue 15). Exactly these
 * bytes, UTF-8, no trailing newline:
 *
 *   postkasse-audit-head\n<seq>\n<hash>
 *
 * `<seq>` is the entry's seq in decimal without leading zeros, `<hash>` its
 * 64 lower-case hex digits as stored in audit_log.hash. The token's message
 * imprint is SHA-256 over these bytes, so a third party recomputes it with
 *
 *   printf 'postkasse-audit-head\n%s\n%s' SEQ HASH | openssl dgst -sha256
 *
 * and checks the token with `openssl ts -verify -digest <that> -in token.tsr
 * -token_in -CAfile tsa-ca.pem`.
 */
import { createHash } from 'node:crypto';

export const HEAD_STATEMENT_PREFIX = 'postkasse-audit-head';

export function headStatement(seq: number, hash: string): Buffer {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new TypeError(`audit head seq must be a positive integer, got ${seq}`);
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new TypeError('audit head hash must be 64 lower-case hex digits');
  return Buffer.from(`${HEAD_STATEMENT_PREFIX}\n${seq}\n${hash}`, 'utf8');
}

/** SHA-256 of the head statement: the imprint the TSA signs. */
export function headImprint(seq: number, hash: string): Buffer {
  return createHash('sha256').update(headStatement(seq, hash)).digest();
}
