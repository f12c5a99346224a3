/**
 * The audit chain's HMAC key (issue 15): 32 random bytes, base64 on one line,
 * in AUDIT_KEY_FILE — a file outside the database, so that someone who can
 * write the database cannot recompute the chain's links.
 *
 * Unset, the file is `${DATA_DIR}/audit.key`, beside the storage master key.
 * In development a missing default file is generated (mode 0600, written
 * atomically like the master key); under NODE_ENV=production, or when the
 * variable names a file, a missing file refuses start-up.
 */
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { createKeyFile, readKeyFile } from '../shared/key-file.js';

export const AUDIT_KEY_BYTES = 32;

export interface AuditKey {
  key: Buffer;
  /** public fingerprint of the key, stored in the database to recognise a wrong key file: see `auditKeyId` */
  id: string;
}

/** The key's id: the first 16 hex digits of HMAC-SHA256(key, "postkasse-audit-key-id"). It reveals nothing of the key. */
export function auditKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('postkasse-audit-key-id', 'utf8').digest('hex').slice(0, 16);
}

export function auditKeyFrom(key: Buffer): AuditKey {
  if (key.length !== AUDIT_KEY_BYTES) throw new Error(`the audit key must be ${AUDIT_KEY_BYTES} bytes, got ${key.length}`);
  return { key, id: auditKeyId(key) };
}

export interface LoadAuditKeyOptions {
  /** AUDIT_KEY_FILE; unset = `${dataDir}/audit.key` */
  file?: string;
  dataDir: string;
  /** generate the default file when it is missing (development); never for an explicitly configured file */
  createIfMissing: boolean;
}

/** The default key file when AUDIT_KEY_FILE is unset. */
export const defaultAuditKeyFile = (dataDir: string): string => join(dataDir, 'audit.key');

export function loadAuditKey(opts: LoadAuditKeyOptions): AuditKey {
  const file = opts.file ?? defaultAuditKeyFile(opts.dataDir);
  const label = `AUDIT_KEY_FILE: the audit key file ${file}`;
  const key = readKeyFile(file, AUDIT_KEY_BYTES, label);
  if (key) return auditKeyFrom(key);
  if (opts.file === undefined && opts.createIfMissing) return auditKeyFrom(createKeyFile(file, AUDIT_KEY_BYTES, label));
  throw new Error(
    `${label} does not exist` +
      (opts.file === undefined
        ? ' (it is generated only in development; under NODE_ENV=production restore it from its backup or set AUDIT_KEY_FILE)'
        : ' (a configured key file is never generated; restore it from its backup)'),
  );
}

/** Reads the key file if it is there (the CLI's `audit verify`); never creates one. */
export function readAuditKeyIfPresent(file: string): AuditKey | undefined {
  const key = readKeyFile(file, AUDIT_KEY_BYTES, `AUDIT_KEY_FILE: the audit key file ${file}`);
  return key && auditKeyFrom(key);
}
