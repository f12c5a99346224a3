/**
 * A secret key in a file of its own: random bytes, base64 on one line, mode 0600. The storage master key
 * (src/storage/crypto.ts) and the audit chain's HMAC key (src/audit/key.ts) are kept this way, outside the
 * database. `label` names the file in every message, e.g. "storage master key file /data/storage.key".
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';

export function parseKeyFile(text: string, bytes: number, label: string): Buffer {
  const b64 = text.trim();
  if (b64.length === 0) throw new Error(`${label} is empty (expected ${bytes} random bytes, base64)`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new Error(`${label} is not valid base64 (expected ${bytes} random bytes, base64, on one line)`);
  }
  const key = Buffer.from(b64, 'base64');
  if (key.length !== bytes) throw new Error(`${label} holds ${key.length} bytes, expected ${bytes}`);
  return key;
}

/** The key in `file`, or undefined when there is no such file; any other failure names the file. */
export function readKeyFile(file: string, bytes: number, label: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${label} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseKeyFile(text, bytes, label);
}

/** Writes a fresh key atomically (temp file + link: a concurrent starter never sees half a key, nor overwrites one). */
export function createKeyFile(file: string, bytes: number, label: string): Buffer {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(bytes);
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
    return parseKeyFile(readFileSync(file, 'utf8'), bytes, label);
  } finally {
    unlinkSync(tmp);
  }
  const dfd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return key;
}
