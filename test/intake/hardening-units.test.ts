/**
 * Issue 15, hardening, the pure parts: the checks of a JSON part's bytes (UTF-8, lone surrogates), and
 * "compute the hash inside the cleanup scope". Whatever fails in intake's commit after the
 * documents were written (hashing, canonical JSON, sealing, signing) removes them. A manifest that canonical JSON
 * cannot serialise (here a lone surrogate that got past the parser) used to throw before the cleanup scope,
 * leaving the document behind; the parser now refuses it first (test/intake/hardening.test.ts), and commit()
 * cleans up anyway.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createFileBlobStore } from '../../src/storage/blobs.js';
import { createIntakeService, type IntakeDeps } from '../../src/intake/service.js';
import { createLogger } from '../../src/shared/logger.js';
import { Problem } from '../../src/shared/problem.js';
import type { Party } from '../../src/parties/parties.js';
import type { UploadState } from '../../src/intake/upload.js';
import type { Manifest } from '../../src/intake/schema.js';
import { firstInvalidUtf8, parseJsonPart } from '../../src/shared/uploads.js';
import { loneSurrogateAt } from '../../src/shared/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'pk-commit-scope-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('issue 15: an exception while hashing the package after its documents were written removes them (503, nothing kept)', async () => {
  const masterKey = randomBytes(32);
  const blobs = createFileBlobStore({ dir, masterKey });
  const put = await blobs.put(Readable.from([Buffer.from('%PDF-1.4 document')]));
  assert.equal(await blobs.exists(put.key), true);
  const fail = (what: string) => () => {
    throw new Error(`commit must not reach ${what}`);
  };
  const intake = createIntakeService({
    db: { db: {}, writer: { commit: fail('the database') } },
    blobs,
    masterKey,
    signer: { signAsync: fail('the signer') },
    deadlines: { governingAgreement: fail('the agreements'), receiptClock: fail('the clock') },
    municipalities: { regionOf: () => '1084', regionName: () => 'Region Hovedstaden' },
    regionCode: '1084',
    log: createLogger({ level: 'silent' }),
  } as unknown as IntakeDeps);
  const entry = { part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf' } as const;
  const manifest = {
    packageId: 'p-1',
    service: 'rehab-team-advice',
    caseType: 'ressourceforloeb',
    citizen: { cpr: '0101801234', name: 'Testa \ud800' }, // canonical JSON refuses a lone surrogate
    documents: [entry],
  } as unknown as Manifest;
  const state: UploadState = {
    manifest,
    manifestRaw: Buffer.from('{}'),
    seenParts: new Set(['plan']),
    stored: [{ entry, blobKey: put.key, size: put.size, sha256: put.sha256 }],
    packageBytes: put.size,
    onManifest: async () => {},
  };
  const party = { id: 'kommune-101', kind: 'municipality', municipalityCode: '101' } as unknown as Party;
  await assert.rejects(intake.commit(party, state), (e: unknown) => e instanceof Problem && e.status === 503);
  assert.equal(await blobs.exists(put.key), false, 'the document written for the package is removed');
});

test('issue 15: firstInvalidUtf8 finds the first byte that is not well-formed UTF-8 (RFC 3629)', () => {
  const cases: [number[], number][] = [
    [[0x41, 0x42], -1],
    [[0xc3, 0xa6], -1], // æ
    [[0xf0, 0x9f, 0x98, 0x80], -1], // an emoji
    [[0x41, 0xff], 1],
    [[0xc3], 0], // truncated
    [[0xc0, 0x80], 0], // overlong NUL
    [[0xe0, 0x80, 0x80], 0], // overlong
    [[0xed, 0xa0, 0x80], 0], // an encoded surrogate (CESU-8)
    [[0xf4, 0x90, 0x80, 0x80], 0], // beyond U+10FFFF
    [[0x41, 0xc3, 0x41], 1], // a lead byte without its continuation
  ];
  for (const [bytes, at] of cases) assert.equal(firstInvalidUtf8(Buffer.from(bytes)), at, JSON.stringify(bytes));
});

test('issue 15: loneSurrogateAt names the first string or member name with a lone surrogate, even 50 000 levels deep', () => {
  assert.equal(loneSurrogateAt({ a: [1, { b: 'x', c: 'y\ud800' }], d: '\udc00' }), 'a[1].c');
  assert.equal(loneSurrogateAt({ ok: 'fine', ['k\ud800']: 1 }), 'k\\ud800');
  assert.equal(loneSurrogateAt('\ud83d\ude00 a pair is a character'), undefined);
  const deep = JSON.parse('['.repeat(50_000) + '"\\udbff"' + ']'.repeat(50_000)) as unknown;
  assert.equal(loneSurrogateAt(deep)?.length, 50_000 * 3);
  const opts = { what: 'the manifest', field: 'manifest', type: 'invalid-manifest', syntaxType: 'invalid-manifest-json' };
  assert.throws(
    () => parseJsonPart(Buffer.from('{"a":"\\ud800"}'), opts),
    (e: unknown) => e instanceof Problem && e.status === 422,
  );
  assert.throws(
    () => parseJsonPart(Buffer.from('{"a":'), opts),
    (e: unknown) => e instanceof Problem && e.status === 400,
  );
  assert.deepEqual(parseJsonPart(Buffer.from('{"a":"\\ud83d\\ude00"}'), opts), { a: '\u{1F600}' });
});
