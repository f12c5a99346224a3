import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSniffFilter, type AllowedMediaType } from '../../src/storage/sniff.js';
import { Problem } from '../../src/shared/problem.js';

/** Feeds the chunks through the filter as the blob store does (write per chunk, then end). */
async function run(type: AllowedMediaType, chunks: Buffer[]): Promise<{ ok: boolean; status?: number; bytes: number }> {
  const f = createSniffFilter(type, 'doc');
  let bytes = 0;
  try {
    for (const c of chunks) bytes += f.write(c)?.length ?? 0;
    bytes += f.end()?.length ?? 0;
    return { ok: true, bytes };
  } catch (e) {
    return { ok: false, status: (e as Problem).status, bytes };
  }
}

const pdf = Buffer.from('%PDF-1.7\n%%EOF\n');
const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1]);
const tiff = Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(12)]);

const table: Array<[string, AllowedMediaType, Buffer[], boolean]> = [
  ['pdf ok', 'application/pdf', [pdf], true],
  ['pdf split over tiny chunks', 'application/pdf', [...pdf].map((b) => Buffer.from([b])), true],
  ['png declared pdf', 'application/pdf', [png], false],
  ['png ok', 'image/png', [png], true],
  ['jpeg ok', 'image/jpeg', [jpeg], true],
  ['tiff ok', 'image/tiff', [tiff], true],
  ['pdf declared png', 'image/png', [pdf], false],
  ['xml ok', 'application/xml', [Buffer.from('\ufeff  <?xml version="1.0"?><a/>')], true],
  ['xml not xml', 'application/xml', [Buffer.from('hello world, not xml')], false],
  ['json ok', 'application/json', [Buffer.from('{"a":1}')], true],
  ['json declared but text', 'application/json', [Buffer.from('a=1')], false],
  ['text ok', 'text/plain', [Buffer.from('Notat om borgeren\n')], true],
  ['text with NUL later', 'text/plain', [Buffer.from('hello this is long enough'), Buffer.from([0x41, 0x00, 0x42])], false],
  ['text invalid utf-8', 'text/plain', [Buffer.from('hello this is long enough'), Buffer.from([0xc3, 0x28])], false],
  ['text with pdf bytes', 'text/plain', [pdf], false],
  ['short file of 3 bytes', 'text/plain', [Buffer.from('ok\n')], true],
];
for (const [name, type, chunks, ok] of table) {
  test(`sniff: ${name}`, async () => {
    const r = await run(type, chunks);
    assert.equal(r.ok, ok);
    if (ok) assert.equal(r.bytes, Buffer.concat(chunks).length, 'all bytes pass through');
    else assert.equal(r.status, 415);
  });
}

test('sniff: a mismatch says which bytes the declared type starts with', () => {
  const f = createSniffFilter('application/pdf', 'plan');
  assert.throws(
    () => f.write(Buffer.from('just some text, long enough to decide')),
    (e: Problem) =>
      e.status === 415 &&
      /document "plan" is declared as application\/pdf but its bytes do not start with the bytes "%PDF-"/.test(e.message),
  );
  const g = createSniffFilter('image/png', 'scan');
  assert.throws(
    () => {
      g.write(pdf); // shorter than the sniffed head: decided at the end
      g.end();
    },
    (e: Problem) => /look like application\/pdf and do not start with the PNG signature 89 50 4E 47/.test(e.message),
  );
});

test('sniff: an empty document is refused', async () => {
  const r = await run('application/pdf', []);
  assert.equal(r.ok, false);
  assert.equal(r.status, 400);
});
