/**
 * Encryption at rest: the master key and small sealed values.
 *
 * The master key is never used directly as a cipher key. Purpose-specific keys
 * are derived from it with HKDF-SHA256 (domain separation), so a sealed small
 * value can never be confused with a wrapped blob data key and vice versa.
 */
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync, mkdirSync } from 'node:fs';
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

export const MASTER_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SMALL_VERSION = 0x01;

export interface LoadMasterKeyOptions {
  /** file with 32 random bytes, base64; unset = `${dataDir}/storage.key` */
  file?: string;
  dataDir: string;
  /**
   * Generate `${dataDir}/storage.key` when `file` is unset and the default key
   * file does not exist. An explicitly configured `file` is never generated: if
   * it is missing, that is a deployment error (a new key would make all
   * existing data unreadable), so it throws.
   */
  createIfMissing: boolean;
}

export function loadMasterKey(opts: LoadMasterKeyOptions): Buffer {
  const file = opts.file ?? join(opts.dataDir, 'storage.key');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.file === undefined && opts.createIfMissing) return createKeyFile(file);
    if (code === 'ENOENT') {
      throw new Error(
        `storage master key file ${file} does not exist` +
          (opts.file === undefined
            ? ' (start with key creation enabled to generate one)'
            : ' (a configured key file is never generated; restore it)'),
        { cause: err },
      );
    }
    throw new Error(`storage master key file ${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseKey(text, file);
}

function parseKey(text: string, file: string): Buffer {
  const b64 = text.trim();
  if (b64.length === 0) throw new Error(`storage master key file ${file} is empty (expected ${MASTER_KEY_BYTES} random bytes, base64)`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new Error(`storage master key file ${file} is not valid base64 (expected ${MASTER_KEY_BYTES} random bytes, base64, on one line)`);
  }
  const key = Buffer.from(b64, 'base64');
  if (key.length !== MASTER_KEY_BYTES) {
    throw new Error(`storage master key file ${file} holds ${key.length} bytes, expected ${MASTER_KEY_BYTES}`);
  }
  return key;
}

/** Writes a fresh key atomically (temp file + link, so a concurrent starter never sees a half-written key and never overwrites one). */
function createKeyFile(file: string): Buffer {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(MASTER_KEY_BYTES);
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
    // Someone else created it first: use theirs.
    return parseKey(readFileSync(file, 'utf8'), file);
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

function assertMasterKey(masterKey: Buffer): void {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== MASTER_KEY_BYTES) {
    throw new TypeError(`master key must be a ${MASTER_KEY_BYTES}-byte Buffer`);
  }
}

const derived = new WeakMap<Buffer, Map<string, Buffer>>();

/** HKDF-SHA256 subkey of the master key for one purpose (cached per key object). */
export function deriveKey(masterKey: Buffer, purpose: string): Buffer {
  assertMasterKey(masterKey);
  let m = derived.get(masterKey);
  if (!m) derived.set(masterKey, (m = new Map()));
  let k = m.get(purpose);
  if (!k) {
    k = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `postkasse/${purpose}`, 32));
    m.set(purpose, k);
  }
  return k;
}

/** AES-256-GCM in one shot: returns iv | ciphertext | tag. */
export function gcmSeal(key: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv);
  if (aad) c.setAAD(aad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]);
}

/** Inverse of gcmSeal; throws on a wrong key or any modification. */
export function gcmOpen(key: Buffer, sealed: Buffer, aad?: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value is too short');
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAuthTag(tag);
  if (aad) d.setAAD(aad);
  const ct = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
  try {
    return Buffer.concat([d.update(ct), d.final()]);
  } catch {
    throw new Error('sealed value failed authentication (wrong key or modified data)');
  }
}

/**
 * Seals a small value (e.g. a manifest) under the master key:
 * version byte 0x01 | iv (12) | ciphertext | tag (16).
 * `aad`, if given, is authenticated but not stored (e.g. the case id, so a
 * sealed manifest cannot be moved to another row); pass the same to openSmall.
 */
export function sealSmall(masterKey: Buffer, plaintext: Buffer, aad?: Buffer): Buffer {
  const version = Buffer.from([SMALL_VERSION]);
  return Buffer.concat([version, gcmSeal(deriveKey(masterKey, 'small-v1'), plaintext, aadFor(version, aad))]);
}

export function openSmall(masterKey: Buffer, sealed: Buffer | Uint8Array, aad?: Buffer): Buffer {
  const buf = Buffer.isBuffer(sealed) ? sealed : Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (buf.length < 1 + IV_BYTES + TAG_BYTES) throw new Error(`sealed value is too short (${buf.length} bytes)`);
  if (buf[0] !== SMALL_VERSION) throw new Error(`sealed value has unknown version ${buf[0]}`);
  return gcmOpen(deriveKey(masterKey, 'small-v1'), buf.subarray(1), aadFor(buf.subarray(0, 1), aad));
}

function aadFor(version: Buffer, aad?: Buffer): Buffer {
  return aad ? Buffer.concat([version, aad]) : version;
}
