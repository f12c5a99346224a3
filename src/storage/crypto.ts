/**
 * Encryption at rest: the master key and small sealed values.
 *
 * The master key is never used directly as a cipher key. Purpose-specific keys
 * are derived from it with HKDF-SHA256 (domain separation), so a sealed small
 * value can never be confused with a wrapped blob data key and vice versa.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createKeyFile, readKeyFile } from '../shared/key-file.js';

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
  const label = `storage master key file ${file}`;
  const key = readKeyFile(file, MASTER_KEY_BYTES, label);
  if (key) return key;
  if (opts.file === undefined && opts.createIfMissing) return createKeyFile(file, MASTER_KEY_BYTES, label);
  throw new Error(
    `${label} does not exist` +
      (opts.file === undefined
        ? ' (start with key creation enabled to generate one)'
        : ' (a configured key file is never generated; restore it)'),
  );
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
