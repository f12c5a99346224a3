/**
 * Issue 15, "the database file is 0644, and an existing DATA_DIR is not
 * tightened": restrictDataDir (run at start-up) and the embedded database's
 * own files. The start of a whole gateway on a loose DATA_DIR is in
 * sealed-fields-gateway.test.ts.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase, restrictDataDir } from '../../src/storage/db.js';
import { tempDir } from './helpers.js';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('issue 15: file modes of DATA_DIR', () => {
  const tmp = tempDir('modes');
  after(() => tmp.remove());

  test('an existing DATA_DIR and everything in it that was left loose is tightened: dir and blob dirs 0700, database files and keys 0600', () => {
    const dir = join(tmp.dir, 'loose');
    mkdirSync(join(dir, 'blobs', 'ab'), { recursive: true });
    mkdirSync(join(dir, 'blobs', 'tmp'), { recursive: true });
    for (const f of ['postkasse.db', 'postkasse.db-wal', 'postkasse.db-shm', 'storage.key', 'audit.key', 'notes.txt']) {
      writeFileSync(join(dir, f), 'x');
      chmodSync(join(dir, f), 0o644);
    }
    for (const d of ['.', 'blobs', 'blobs/ab', 'blobs/tmp']) chmodSync(join(dir, d), 0o755);
    writeFileSync(join(dir, 'blobs', 'ab', 'blob'), 'x');
    chmodSync(join(dir, 'blobs', 'ab', 'blob'), 0o640);

    restrictDataDir(dir);

    assert.equal(mode(dir), '700');
    for (const d of ['blobs', 'blobs/ab', 'blobs/tmp']) assert.equal(mode(join(dir, d)), '700', d);
    for (const f of ['postkasse.db', 'postkasse.db-wal', 'postkasse.db-shm', 'storage.key', 'audit.key'])
      assert.equal(mode(join(dir, f)), '600', f);
    assert.equal(mode(join(dir, 'notes.txt')), '644', 'other files are not the gateway’s to change (DATA_DIR 0700 covers them)');
    assert.equal(mode(join(dir, 'blobs', 'ab', 'blob')), '640', 'blob files are not walked');
  });

  test('a DATA_DIR that does not exist yet is created 0700', () => {
    const dir = join(tmp.dir, 'new', 'data');
    restrictDataDir(dir);
    assert.equal(mode(dir), '700');
  });

  test('the embedded database creates its file 0600, so SQLite gives -wal and -shm the same; a 0644 file is tightened on open', async () => {
    const fresh = join(tmp.dir, 'fresh');
    const old = process.umask(0o022);
    try {
      const db = await openDatabase({ dataDir: fresh });
      try {
        for (const f of ['postkasse.db', 'postkasse.db-wal', 'postkasse.db-shm']) assert.equal(mode(join(fresh, f)), '600', f);
      } finally {
        await db.close();
      }
      chmodSync(join(fresh, 'postkasse.db'), 0o644);
      const again = await openDatabase({ dataDir: fresh });
      await again.close();
      assert.equal(mode(join(fresh, 'postkasse.db')), '600');
    } finally {
      process.umask(old);
    }
  });
});
