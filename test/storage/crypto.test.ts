import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadMasterKey, openSmall, sealSmall } from '../../src/storage/crypto.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('crypto');
after(() => tmp.remove());

describe('loadMasterKey', () => {
  it('generates ${dataDir}/storage.key (0600, 32 bytes base64) and loads the same key again', () => {
    const dataDir = join(tmp.dir, 'gen');
    const k1 = loadMasterKey({ dataDir, createIfMissing: true });
    assert.equal(k1.length, 32);
    const file = join(dataDir, 'storage.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), k1);
    assert.deepEqual(readdirSync(dataDir), ['storage.key'], 'no temp file left behind');
    const k2 = loadMasterKey({ dataDir, createIfMissing: true });
    assert.deepEqual(k2, k1);
    const k3 = loadMasterKey({ dataDir, createIfMissing: false });
    assert.deepEqual(k3, k1);
  });

  it('two generated keys differ', () => {
    const a = loadMasterKey({ dataDir: join(tmp.dir, 'a'), createIfMissing: true });
    const b = loadMasterKey({ dataDir: join(tmp.dir, 'b'), createIfMissing: true });
    assert.notDeepEqual(a, b);
  });

  it('loads an explicit file', () => {
    const file = join(tmp.dir, 'explicit.key');
    const key = randomBytes(32);
    writeFileSync(file, key.toString('base64') + '\n');
    assert.deepEqual(loadMasterKey({ file, dataDir: tmp.dir, createIfMissing: false }), key);
  });

  it('never generates an explicitly configured file that is missing', () => {
    const file = join(tmp.dir, 'missing.key');
    assert.throws(
      () => loadMasterKey({ file, dataDir: tmp.dir, createIfMissing: true }),
      (e: Error) => e.message.includes(file) && /does not exist/.test(e.message),
    );
    assert.equal(existsSync(file), false);
  });

  it('missing default key without createIfMissing is an error naming the file', () => {
    const dataDir = join(tmp.dir, 'nokey');
    assert.throws(
      () => loadMasterKey({ dataDir, createIfMissing: false }),
      (e: Error) => e.message.includes(join(dataDir, 'storage.key')),
    );
  });

  it('wrong length is an error naming the file and the length', () => {
    const file = join(tmp.dir, 'short.key');
    writeFileSync(file, randomBytes(16).toString('base64'));
    assert.throws(
      () => loadMasterKey({ file, dataDir: tmp.dir, createIfMissing: false }),
      (e: Error) => e.message.includes(file) && /16 bytes, expected 32/.test(e.message),
    );
  });

  it('not base64 is an error naming the file', () => {
    const file = join(tmp.dir, 'garbage.key');
    writeFileSync(file, 'this is not base64 at all!!');
    assert.throws(
      () => loadMasterKey({ file, dataDir: tmp.dir, createIfMissing: false }),
      (e: Error) => e.message.includes(file) && /base64/.test(e.message),
    );
    writeFileSync(file, '');
    assert.throws(
      () => loadMasterKey({ file, dataDir: tmp.dir, createIfMissing: false }),
      (e: Error) => e.message.includes(file) && /empty/.test(e.message),
    );
  });
});

describe('sealSmall / openSmall', () => {
  const key = randomBytes(32);

  it('round-trips, with a version byte and fresh iv each time', () => {
    const pt = Buffer.from('{"citizen":{"cpr":"0101011234"}}');
    const s1 = sealSmall(key, pt);
    const s2 = sealSmall(key, pt);
    assert.equal(s1[0], 1);
    assert.equal(s1.length, 1 + 12 + pt.length + 16);
    assert.notDeepEqual(s1, s2);
    assert.equal(s1.includes(pt.subarray(0, 12)), false);
    assert.deepEqual(openSmall(key, s1), pt);
    assert.deepEqual(openSmall(key, new Uint8Array(s2)), pt);
    assert.deepEqual(openSmall(key, sealSmall(key, Buffer.alloc(0))), Buffer.alloc(0));
  });

  it('rejects any flipped bit, a wrong key, a wrong aad, a bad version, a short value', () => {
    const pt = Buffer.from('manifest');
    const sealed = sealSmall(key, pt, Buffer.from('case-1'));
    assert.deepEqual(openSmall(key, sealed, Buffer.from('case-1')), pt);
    for (let i = 1; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 0x01;
      assert.throws(() => openSmall(key, bad, Buffer.from('case-1')), /authentication/, `flip at byte ${i} not detected`);
    }
    assert.throws(() => openSmall(randomBytes(32), sealed, Buffer.from('case-1')), /authentication/);
    assert.throws(() => openSmall(key, sealed, Buffer.from('case-2')), /authentication/);
    assert.throws(() => openSmall(key, sealed), /authentication/);
    const v2 = Buffer.from(sealed);
    v2[0] = 2;
    assert.throws(() => openSmall(key, v2, Buffer.from('case-1')), /version/);
    assert.throws(() => openSmall(key, sealed.subarray(0, 20)), /too short/);
    assert.throws(() => sealSmall(Buffer.alloc(16), pt), /32-byte/);
  });
});
