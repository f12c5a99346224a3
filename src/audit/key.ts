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
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.file === undefined && opts.createIfMissing) return auditKeyFrom(createKeyFile(file));
    if (code === 'ENOENT') {
      throw new Error(
        `AUDIT_KEY_FILE: the audit key file ${file} does not exist` +
          (opts.file === undefined
            ? ' (it is generated only in development; under NODE_ENV=production restore it from its backup or set AUDIT_KEY_FILE)'
            : ' (a configured key file is never generated; restore it from its backup)'),
        { cause: err },
      );
    }
    throw new Error(`AUDIT_KEY_FILE: the audit key file ${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return auditKeyFrom(parseKey(text, file));
}

/** Reads the key file if it is there (the CLI's `audit verify`); never creates one. */
export function readAuditKeyIfPresent(file: string): AuditKey | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`AUDIT_KEY_FILE: the audit key file ${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return auditKeyFrom(parseKey(text, file));
}

function parseKey(text: string, file: string): Buffer {
  const b64 = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new Error(`AUDIT_KEY_FILE: ${file} is not valid base64 (expected ${AUDIT_KEY_BYTES} random bytes, base64, on one line)`);
  }
  const key = Buffer.from(b64, 'base64');
  if (key.length !== AUDIT_KEY_BYTES) throw new Error(`AUDIT_KEY_FILE: ${file} holds ${key.length} bytes, expected ${AUDIT_KEY_BYTES}`);
  return key;
}

/** Writes a fresh key atomically (temp file + link: a concurrent starter never sees half a key, nor overwrites one). */
function createKeyFile(file: string): Buffer {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(AUDIT_KEY_BYTES);
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, key.toString('base64') + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process created it first: use theirs.
    unlinkSync(tmp);
    return parseKey(readFileSync(file, 'utf8'), file);
  }
  unlinkSync(tmp);
  const dirFd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
  return key;
}
