/**
 * Issue 15, "a tampered blob is served as a complete 200": the blob store's
 * read stream holds the last decrypted chunk back until the AES-GCM tag has
 * verified, so a modified document ends in an error before its final bytes
 * are released, and every integrity failure reaches the alarm hook.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  BlobIntegrityError,
  createFileBlobStore,
  holdBackUntilVerified,
  isBlobIntegrityError,
  type BlobIntegrityFailure,
} from '../../src/storage/blobs.js';
import { envelopeParts, envelopeStream } from '../../src/delivery/envelope.js';
import { vansEnvelopeParts, vansEnvelopeStream } from '../../src/medcom/vans.js';
import { writeEnvelopeToOutbox } from '../../src/medcom/vans-transport.js';
import { drain, tempDir } from './helpers.js';

const HEADER_BYTES = 77;
const blobPath = (dir: string, key: string) => join(dir, key.slice(0, 2), key);

describe('issue 15: blob reads hold the last chunk back until the GCM tag verifies', () => {
  const tmp = tempDir('blob-integrity');
  const failures: BlobIntegrityFailure[] = [];
  const store = createFileBlobStore({ dir: tmp.dir, masterKey: randomBytes(32), onIntegrityFailure: (f) => failures.push(f) });
  after(() => tmp.remove());

  it('unit: a chunk is released only when the next arrives, the last only after final() verified the tag', async () => {
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    const parts = [randomBytes(1000), randomBytes(1000), randomBytes(1000)];
    const ct = parts.map((p) => c.update(p));
    c.final();
    const tag = c.getAuthTag();

    for (const good of [true, false]) {
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAuthTag(good ? tag : Buffer.alloc(16));
      const t = holdBackUntilVerified(d, () => new BlobIntegrityError('k', 'tag'));
      const seen: Buffer[] = [];
      t.on('data', (b: Buffer) => seen.push(b));
      const ended = new Promise<unknown>((resolve) => {
        t.on('end', () => resolve(undefined));
        t.on('error', resolve);
      });
      const tick = () => new Promise((r) => setImmediate(r));
      t.write(ct[0]);
      await tick();
      assert.equal(seen.length, 0, 'the first chunk is held');
      t.write(ct[1]);
      await tick();
      assert.deepEqual(seen, [parts[0]], 'the first chunk goes once the second has arrived');
      t.write(ct[2]);
      await tick();
      assert.deepEqual(seen, [parts[0], parts[1]], 'the last chunk is still held');
      t.end();
      const err = await ended;
      if (good) {
        assert.equal(err, undefined);
        assert.deepEqual(Buffer.concat(seen), Buffer.concat(parts), 'an intact blob comes out whole');
      } else {
        assert.ok(isBlobIntegrityError(err), 'a bad tag is an integrity error');
        assert.deepEqual(seen, [parts[0], parts[1]], 'the last chunk is never emitted when the tag fails');
      }
    }
  });

  it('a flipped ciphertext byte: the read fails before the final bytes are emitted, and the alarm hook is told once', async () => {
    const data = randomBytes(1_200_000); // several 256 KiB read chunks
    const r = await store.put(Readable.from([data]));
    const p = blobPath(tmp.dir, r.key);
    const bytes = readFileSync(p);
    bytes[HEADER_BYTES + 10]! ^= 0x01; // early in the document: only the tag can tell
    writeFileSync(p, bytes);
    failures.length = 0;

    const { bytes: out, error } = await drain(await store.get(r.key));
    assert.ok(isBlobIntegrityError(error), `an integrity error, got ${String(error)}`);
    assert.equal((error as BlobIntegrityError).blobKey, r.key);
    assert.ok(out.length < data.length, `only ${out.length} of ${data.length} bytes may have left`);
    assert.ok(data.length - out.length >= 64 * 1024, 'at least the last read chunk is withheld');
    assert.deepEqual(
      failures.map((f) => f.key),
      [r.key],
    );
    assert.ok(!failures[0]!.reason.includes(data.subarray(0, 8).toString('hex')), 'no document bytes in the alarm');
  });

  it('a small (one-chunk) document with a flipped byte emits nothing at all', async () => {
    const data = Buffer.from('%PDF-1.4 CPR 0101011234 Jensen');
    const r = await store.put(Readable.from([data]));
    const p = blobPath(tmp.dir, r.key);
    const bytes = readFileSync(p);
    bytes[bytes.length - 20]! ^= 0x80; // the last ciphertext byte
    writeFileSync(p, bytes);
    const { bytes: out, error } = await drain(await store.get(r.key));
    assert.ok(isBlobIntegrityError(error));
    assert.equal(out.length, 0);
  });

  it('a modified header or truncated file rejects get() with an integrity error and tells the hook', async () => {
    const r = await store.put(Readable.from([randomBytes(5000)]));
    const p = blobPath(tmp.dir, r.key);
    const bytes = readFileSync(p);
    failures.length = 0;
    bytes[20]! ^= 0x40; // the wrapped data key
    writeFileSync(p, bytes);
    await assert.rejects(store.get(r.key), (e: unknown) => isBlobIntegrityError(e));
    writeFileSync(p, bytes.subarray(0, 50));
    await assert.rejects(store.get(r.key), (e: unknown) => isBlobIntegrityError(e));
    assert.equal(failures.length, 2);
  });

  it('the message envelope and the VANS outbox: a tampered document ends the envelope with an error, no outbox file is left', async () => {
    const data = randomBytes(300_000);
    const r = await store.put(Readable.from([data]));
    const p = blobPath(tmp.dir, r.key);
    const bytes = readFileSync(p);
    bytes[HEADER_BYTES + 5]! ^= 0x10;
    writeFileSync(p, bytes);

    // our JSON envelope (mailbox, push): the tail never comes, the stream errors (and leaves no unhandled rejection)
    const parts = envelopeParts({
      messageId: randomUUID(),
      caseId: randomUUID(),
      kind: 'specialist-attest',
      sentAt: new Date().toISOString(),
      from: { partyId: 'spec-eva' },
      to: { partyId: 'kommune-101' },
      copy: false,
      citizen: { cpr: '0101801234', name: 'X' },
      content: {},
      document: { mediaType: 'application/pdf', sha256: r.sha256, size: r.size },
    });
    const env = await drain(envelopeStream(parts, await store.get(r.key)));
    assert.ok(isBlobIntegrityError(env.error), String(env.error));
    assert.ok(!env.bytes.toString('utf8').endsWith(parts.tail), 'the envelope is never complete');

    // the MedCom copy to a VANS practice: written atomically, so nothing reaches the outbox
    const outbox = join(tmp.dir, 'vans-outbox');
    mkdirSync(outbox);
    const vansParts = vansEnvelopeParts({
      envelopeId: randomUUID(),
      sentAt: new Date(),
      senderEan: '5790000000005',
      receiverEan: '5790000575848',
      messageId: randomUUID(),
      name: 'MCM:FDIS91#test',
      version: '2.0.0',
      mime: 'application/fhir+json',
      sizeInBytes: r.size,
    });
    await assert.rejects(writeEnvelopeToOutbox(outbox, randomUUID(), vansEnvelopeStream(vansParts, await store.get(r.key))), (e: unknown) =>
      isBlobIntegrityError(e),
    );
    assert.deepEqual(readdirSync(outbox), [], 'no envelope and no temp file in the outbox');
  });

  it('an intact document still reads whole (no alarm), also when empty', async () => {
    failures.length = 0;
    for (const data of [randomBytes(700_000), Buffer.alloc(0)]) {
      const r = await store.put(Readable.from([data]));
      const { bytes: out, error } = await drain(await store.get(r.key));
      assert.equal(error, undefined);
      assert.ok(out.equals(data));
    }
    assert.equal(failures.length, 0);
  });
});
