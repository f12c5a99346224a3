import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, openSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createMultipart } from '../../src/cli/multipart.js';
import { parseMultipart, sha256, tempDir } from './helpers.js';

const tmp = tempDir('cli-multipart');
after(() => tmp.remove());

/** Collects a stream's bytes. */
async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('createMultipart', () => {
  let binaryFile: string;
  let binary: Buffer;
  let emptyFile: string;
  before(() => {
    // Bytes that look like multipart syntax must pass through untouched.
    binary = Buffer.concat([randomBytes(100_000), Buffer.from('\r\n--\r\n------postkasse-\r\n\r\n'), randomBytes(7)]);
    binaryFile = join(tmp.dir, 'scan.tiff');
    writeFileSync(binaryFile, binary);
    emptyFile = join(tmp.dir, 'empty.txt');
    writeFileSync(emptyFile, '');
  });

  it('produces a body a real parser (busboy) reads back as the same parts and bytes, and length is exact', async () => {
    const manifest = Buffer.from(JSON.stringify({ packageId: 'p-1', documents: [{ part: 'plan' }] }));
    const pdf = Buffer.from('%PDF-1.4\nsmall\n%%EOF\n');
    const mp = createMultipart([
      { name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: manifest },
      { name: 'scan', contentType: 'image/tiff', body: { path: binaryFile } },
      { name: 'plan', filename: 'Plan for Søren æøå.pdf', contentType: 'application/pdf', body: pdf },
      { name: 'empty', contentType: 'text/plain', body: { path: emptyFile } },
      { name: 'note', contentType: 'text/plain', body: Buffer.from('a plain field, no filename') },
    ]);
    assert.match(mp.contentType, /^multipart\/form-data; boundary=/);
    assert.ok(mp.contentType.endsWith(mp.boundary));

    const bytes = await collect(mp.stream());
    assert.equal(mp.length, bytes.length, 'length must equal the real byte count (it is sent as Content-Length)');

    const parts = await parseMultipart(mp.stream(), mp.contentType);
    assert.deepEqual(
      parts.map((p) => [p.name, p.filename, p.mimeType]),
      [
        ['manifest', 'manifest.json', 'application/json'],
        ['scan', 'scan.tiff', 'image/tiff'], // file name defaults to the base name of the path
        ['plan', 'Plan for Søren æøå.pdf', 'application/pdf'],
        ['empty', 'empty.txt', 'text/plain'],
        ['note', undefined, 'text/plain'],
      ],
    );
    assert.ok(parts[0]!.bytes!.equals(manifest));
    assert.equal(parts[1]!.size, binary.length);
    assert.equal(parts[1]!.sha256, sha256(binary));
    assert.ok(parts[2]!.bytes!.equals(pdf));
    assert.equal(parts[3]!.size, 0);
    assert.equal(parts[4]!.bytes!.toString(), 'a plain field, no filename');
  });

  it('gives every body a new random boundary, and the same bytes on every stream() call', async () => {
    const parts = [{ name: 'f', contentType: 'image/tiff', body: { path: binaryFile } }];
    const a = createMultipart(parts);
    const b = createMultipart(parts);
    assert.notEqual(a.boundary, b.boundary);
    assert.match(a.boundary, /[0-9a-f]{32,}/);
    const first = await collect(a.stream());
    const second = await collect(a.stream());
    assert.ok(first.equals(second));
  });

  it('escapes quotes and line breaks in names the way browsers do', async () => {
    const mp = createMultipart([{ name: 'x', filename: 'a"b\r\nc.txt', contentType: 'text/plain', body: Buffer.from('hi') }]);
    const raw = (await collect(mp.stream())).toString('utf8');
    assert.ok(raw.includes('filename="a%22b%0D%0Ac.txt"'), raw);
    const [p] = await parseMultipart(mp.stream(), mp.contentType);
    assert.equal(p!.filename, 'a%22b%0D%0Ac.txt');
    assert.throws(() => createMultipart([{ name: 'x', contentType: 'text/plain\r\nX-Evil: 1', body: Buffer.from('') }]), /content type/);
  });

  it('fails the stream, rather than break Content-Length, when a file changes size after the length was taken', async () => {
    const file = join(tmp.dir, 'changing.txt');
    writeFileSync(file, 'a'.repeat(1000));
    const grown = createMultipart([{ name: 'f', contentType: 'text/plain', body: { path: file } }]);
    appendFileSync(file, 'more');
    await assert.rejects(collect(grown.stream()), /grew/);

    const shrunk = createMultipart([{ name: 'f', contentType: 'text/plain', body: { path: file } }]);
    truncateSync(file, 10);
    await assert.rejects(collect(shrunk.stream()), /shrank/);

    assert.throws(() => createMultipart([{ name: 'f', contentType: 'text/plain', body: { path: join(tmp.dir, 'missing') } }]), /ENOENT/);
  });

  it('streams a 20 MB file with bounded memory', async () => {
    const size = 20 * 1024 * 1024;
    const big = join(tmp.dir, 'big.bin');
    // Written in 1 MB pieces so the test itself never holds the file.
    const fd = openSync(big, 'w');
    const piece = randomBytes(1024 * 1024);
    for (let i = 0; i < 20; i++) writeSync(fd, piece);
    closeSync(fd);

    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const live = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };

    const mp = createMultipart([
      { name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: Buffer.from('{}') },
      { name: 'big', contentType: 'application/octet-stream', body: { path: big } },
    ]);
    const baseline = live();
    let peak = 0;
    let seen = 0;
    let chunks = 0;
    let largestChunk = 0;
    await pipeline(
      mp.stream(),
      new Writable({
        highWaterMark: 16 * 1024,
        write(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          largestChunk = Math.max(largestChunk, chunk.length);
          // Sample the live (post-GC) memory every ~1 MB: a whole-file buffer
          // anywhere in the pipeline would show up here as >= 20 MB.
          if (++chunks % 16 === 0) peak = Math.max(peak, live() - baseline);
          setImmediate(cb); // a consumer slower than the disk
        },
      }),
    );
    assert.equal(seen, mp.length);
    assert.ok(mp.length > size);
    assert.ok(largestChunk <= 1024 * 1024, `largest chunk ${largestChunk} bytes`);
    assert.ok(peak < 8 * 1024 * 1024, `live memory grew by ${(peak / 1048576).toFixed(1)} MB while streaming a 20 MB file`);

    // And a real parser reads all 20 MB back intact.
    const parsed = await parseMultipart(mp.stream(), mp.contentType, { keepBytes: false });
    const expected = createHash('sha256');
    for (let i = 0; i < 20; i++) expected.update(piece);
    const pieceHash = expected.digest('hex');
    assert.equal(parsed[1]!.size, size);
    assert.equal(parsed[1]!.sha256, pieceHash);
  });
});
