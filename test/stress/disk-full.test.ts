/**
 * Issue 6: the disk fills up during an upload (an injected ENOSPC from the
 * blob store's real write path, part-way through the document): 507
 * problem+json with Retry-After, nothing receipted, nothing left behind; the
 * next upload, with room again, is receipted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage, residue, tempFilesGone } from '../helpers/packages.js';
import type { BlobStore, ChunkFilter } from '../../src/storage/blobs.js';

let full = false;

/** The real store, whose write stream fails with ENOSPC after 64 KiB while `full` is set. */
function fillingDisk(store: BlobStore): BlobStore {
  return {
    ...store,
    put(source, opts = {}) {
      if (!full) return store.put(source, opts);
      let written = 0;
      const inner = opts.filter;
      const filter: ChunkFilter = {
        write(chunk) {
          written += chunk.length;
          if (written > 64 * 1024) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          return inner ? inner.write(chunk) : chunk;
        },
        end: () => (inner ? inner.end() : null),
      };
      return store.put(source, { ...opts, filter });
    },
  };
}

let g: TestGateway;
before(async () => {
  g = await startTestGateway({ dialect: 'sqlite', start: { wrapBlobStore: fillingDisk } });
});
after(async () => {
  await g?.close();
});

test('disk full mid-upload: 507 problem+json with Retry-After, nothing receipted or left behind; recovers when there is room', async () => {
  const before = await residue(g);
  full = true;
  const big = Buffer.concat([pdf('big'), Buffer.alloc(512 * 1024, 7)]);
  const res = await postPackage(g, 'kommune-101', manifest(), [
    { name: 'plan', body: big, contentType: 'application/pdf', filename: 'plan.pdf' },
  ]);
  assert.equal(res.status, 507, res.text);
  assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/);
  assert.equal(res.body.type, 'https://postkasse.dk/problems/insufficient-storage');
  assert.ok(Number(res.headers['retry-after']) > 0);
  await tempFilesGone(g, 'the refused upload’s temp file to be removed');
  assert.deepEqual(await residue(g), before, 'no row, no blob, no temp file');
  full = false;
  const ok = await postPackage(g, 'kommune-101', manifest(), [
    { name: 'plan', body: big, contentType: 'application/pdf', filename: 'plan.pdf' },
  ]);
  assert.equal(ok.status, 201, ok.text);
});
