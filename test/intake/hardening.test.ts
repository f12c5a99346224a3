/**
 * Issue 15, hardening (each reproduces an attack on a running gateway):
 * - a lone UTF-16 surrogate or bytes that are not UTF-8 in a manifest or a response part: 422 naming where,
 *   nothing kept, the refusal audited (it was a 500 that left the document behind and audited nothing);
 * - a packageId that holds a CPR number is refused; CPR-like strings are scrubbed from log lines and audit details;
 * - an upload whose body trickles in (a byte now and then) is refused with 408 when it falls below
 *   UPLOAD_MIN_BYTES_PER_SECOND over UPLOAD_RATE_WINDOW_SECONDS: its admission slot is released and nothing is kept.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage, residue, tempFilesGone, uploadTempFiles } from '../helpers/packages.js';
import { as, ATTEST, holdConsultation, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { waitFor } from '../helpers/wait.js';
import { createMultipart, type MultipartPart } from '../../src/cli/multipart.js';

const plan = () => [{ name: 'plan', body: pdf('p'), contentType: 'application/pdf', filename: 'plan.pdf' }];
const PROBLEM = 'https://postkasse.dk/problems/';

async function encode(parts: MultipartPart[]): Promise<{ body: Buffer; contentType: string }> {
  const mp = createMultipart(parts);
  const chunks: Buffer[] = [];
  for await (const c of mp.stream()) chunks.push(c as Buffer);
  return { body: Buffer.concat(chunks), contentType: mp.contentType };
}

const manifestPart = (raw: Buffer | string): MultipartPart => ({
  name: 'manifest',
  filename: 'manifest.json',
  contentType: 'application/json',
  body: Buffer.isBuffer(raw) ? raw : Buffer.from(raw),
});

/**
 * Posts `body` over real mutual TLS at a pace: the first `head` bytes at once, then `chunk` bytes every `everyMs`,
 * until all is sent or the gateway answers. Resolves with the answer (or how the connection ended).
 */
function paced(
  g: TestGateway,
  party: string,
  path: string,
  body: Buffer,
  contentType: string,
  pace: { head: number; chunk: number; everyMs: number },
): { answered: Promise<{ status?: number; type?: string; json?: Record<string, unknown>; error?: string; ms: number }> } {
  const c = g.creds(party);
  const u = new URL(g.url);
  const started = Date.now();
  const req = https.request({
    host: u.hostname,
    port: u.port,
    path,
    method: 'POST',
    ca: g.ca,
    cert: c.cert,
    key: c.key,
    agent: false,
    headers: { 'content-type': contentType, 'content-length': body.length },
  });
  let done = false;
  const answered = new Promise<{ status?: number; type?: string; json?: Record<string, unknown>; error?: string; ms: number }>(
    (resolve) => {
      req.on('response', (res) => {
        done = true;
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, type: res.headers['content-type'], json, ms: Date.now() - started });
          req.destroy();
        });
      });
      req.on('error', (e) => {
        done = true;
        resolve({ error: e.message, ms: Date.now() - started });
      });
    },
  );
  req.write(body.subarray(0, pace.head));
  let at = pace.head;
  const timer = setInterval(() => {
    if (done || req.destroyed) return clearInterval(timer);
    const next = body.subarray(at, at + pace.chunk);
    at += next.length;
    if (at >= body.length) {
      clearInterval(timer);
      req.end(next);
    } else req.write(next);
  }, pace.everyMs);
  void answered.then(() => clearInterval(timer));
  return { answered };
}

const rejections = (g: TestGateway) =>
  g.gw.db.db.selectFrom('audit_log').select(['details']).where('action', '=', 'package-rejected').orderBy('seq').execute();

/** The refusals of JSON parts and identifiers, on a gateway of either dialect. */
function jsonAndIdentifierTests(gateway: () => TestGateway): void {
  describe('JSON parts and identifiers', () => {
    let g: TestGateway;
    before(() => {
      g = gateway();
    });

    test('issue 15: a lone surrogate in the manifest is 422 naming the field; nothing kept; the refusal is audited', async () => {
      const before = await residue(g);
      const m = manifest();
      const raw = JSON.stringify(m).replace('"Testa Borgersen"', '"Testa \\ud800 Borgersen"');
      for (const manifestAsField of [false, true]) {
        const r = await postPackage(g, 'kommune-101', m, plan(), { rawManifest: raw, manifestAsField });
        assert.equal(r.status, 422, r.text);
        assert.match(r.headers['content-type'] ?? '', /application\/problem\+json/);
        assert.equal(r.body.type, `${PROBLEM}invalid-manifest`);
        assert.equal(r.body.errors[0].path, 'citizen.name');
        assert.match(r.body.errors[0].message, /lone UTF-16 surrogate/);
      }
      // as a member name, and a low surrogate alone
      const inKey = JSON.stringify(manifest()).replace('"caseworker"', '"case\\udc00worker"');
      const r = await postPackage(g, 'kommune-101', null, plan(), { rawManifest: inKey });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.errors[0].path, 'case\\udc00worker');
      await tempFilesGone(g);
      assert.deepEqual(await residue(g), before, 'no document, case or blob kept');
      const audited = (await rejections(g)).filter((a) => a.details.includes(m.packageId) === false && a.details.includes('"status":422'));
      assert.ok(audited.length >= 3, `the three refusals are audited (${audited.length})`);
      assert.ok(audited.every((a) => a.details.includes(`${PROBLEM}invalid-manifest`)));
    });

    test('issue 15: a supplement whose manifest holds a lone surrogate is 422 too, and its document is not kept', async () => {
      const first = await postPackage(g, 'kommune-101', manifest(), plan());
      assert.equal(first.status, 201, first.text);
      const before = await residue(g);
      const m = manifest({
        supplementTo: JSON.parse(first.text).caseId,
        documents: [{ part: 'extra', type: 'supplement', mediaType: 'application/pdf', title: 'SURROGATE' }],
      });
      const raw = JSON.stringify(m).replace('"SURROGATE"', '"Bilag \\udfff"');
      const r = await postPackage(g, 'kommune-101', m, [{ name: 'extra', body: pdf('s'), contentType: 'application/pdf' }], {
        rawManifest: raw,
        manifestAsField: true,
      });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.errors[0].path, 'documents[0].title');
      await tempFilesGone(g);
      assert.deepEqual(await residue(g), before);
    });

    test('issue 15: a lone surrogate in the body of a JSON endpoint is 422 naming the field; nothing is recorded', async () => {
      const count = async () => (await g.gw.db.db.selectFrom('coordinator_changes').select('id').execute()).length;
      const before = await count();
      // JSON.stringify writes the lone surrogate as the escape \ud800, as a partner's JSON library may
      const r = await as(g, 'kommune-101').post('/v1/coordinator-changes', {
        staffId: 'coord-bo',
        reason: 'Samarbejdet \ud800 fungerer ikke.',
      });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.errors[0].path, 'reason');
      assert.match(r.body.errors[0].message, /lone UTF-16 surrogate/);
      assert.equal(await count(), before, 'nothing recorded, not even with the surrogate replaced');
    });

    test('issue 15: manifest bytes that are not UTF-8 are 422 naming the byte; nothing kept', async () => {
      const before = await residue(g);
      const text = JSON.stringify(manifest());
      const at = text.indexOf('Testa');
      const raw = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff, 0xc3]), Buffer.from(text.slice(at))]);
      const { body, contentType } = await encode([
        manifestPart(raw),
        { name: 'plan', filename: 'plan.pdf', contentType: 'application/pdf', body: pdf('u') },
      ]);
      const r = await paced(g, 'kommune-101', '/v1/packages', body, contentType, { head: body.length, chunk: 1, everyMs: 1000 }).answered;
      assert.equal(r.status, 422, JSON.stringify(r));
      assert.equal(r.json?.type, `${PROBLEM}invalid-manifest`);
      assert.deepEqual(r.json?.errors, [
        {
          path: 'manifest',
          message: `byte ${Buffer.byteLength(text.slice(0, at))} (0xff) is not valid UTF-8; send the JSON encoded as UTF-8`,
        },
      ]);
      await tempFilesGone(g);
      assert.deepEqual(await residue(g), before);
    });

    test('issue 15: a packageId holding a CPR number is 422 naming packageId and why; nothing kept', async () => {
      const before = await residue(g);
      for (const packageId of ['cpr0707801230', 'sag_0909801232', 'sag-070780-1230']) {
        const r = await postPackage(g, 'kommune-101', manifest({ packageId }), plan());
        assert.equal(r.status, 422, r.text);
        assert.equal(r.body.type, `${PROBLEM}invalid-manifest`);
        assert.equal(r.body.errors[0].path, 'packageId');
        assert.match(r.body.errors[0].message, /logs, receipts and the audit log.*CPR number/);
      }
      assert.deepEqual(await residue(g), before);
      const audit = JSON.stringify(await rejections(g));
      assert.doesNotMatch(audit, /0707801230|0909801232|070780-1230/);
      // a UUID with ten digits in a row is an ordinary packageId
      const ok = await postPackage(g, 'kommune-101', manifest({ packageId: '748fbb1e-f31b-4ad5-baab-cd0108199987' }), plan());
      assert.equal(ok.status, 201, ok.text);
    });

    test('issue 15: CPR-like strings in a request log line and in audit details come out scrubbed; UUIDs and digests whole', async () => {
      const r = await as(g, 'kommune-101').get('/v1/receipts/cpr0707801230-sag_0909801232');
      assert.equal(r.status, 404);
      const line = await waitFor('the request line', () => g.logs.find((l) => l.includes('/v1/receipts/cpr')));
      assert.doesNotMatch(line, /0707801230|0909801232/);
      assert.match(line, /cpr\[CPR\]-sag_\[CPR\]/);

      const sha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4950707801230a1';
      const id = '748fbb1e-f31b-4ad5-baab-cd0108199987';
      await g.gw.db.writer.commit([
        {
          audit: {
            at: new Date().toISOString(),
            actor: 'test',
            action: 'hardening-scrub-check',
            caseId: null,
            details: { note: 'cpr0707801230 and sag_0909801232', nested: { list: ['070780-1230'] }, sha256: sha, receiptId: id },
          },
        },
      ]);
      const row = await g.gw.db.db
        .selectFrom('audit_log')
        .select('details')
        .where('action', '=', 'hardening-scrub-check')
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(row.details), {
        note: 'cpr[CPR] and sag_[CPR]',
        nested: { list: ['[CPR]'] },
        sha256: sha,
        receiptId: id,
      });
    });
  });
}

describe('issue 15 hardening (postgres)', () => {
  let g: TestGateway;
  before(async () => {
    g = await startTestGateway({ dialect: 'postgres' });
  });
  after(async () => {
    await g?.close();
  });
  jsonAndIdentifierTests(() => g);
});

describe('issue 15 hardening (sqlite): JSON parts, identifiers, slow uploads, response parts', () => {
  let dir: string;
  let g: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-hardening-'));
    g = await startTestGateway({
      dialect: 'sqlite',
      env: {
        PARTIES_FILE: writeRoutingParties(dir),
        // a small window, so that the trickle is refused after ~2 s; one upload at a time per sender,
        // so that a held slot is visible as a 429
        UPLOAD_MIN_BYTES_PER_SECOND: '1024',
        UPLOAD_RATE_WINDOW_SECONDS: '2',
        MAX_CONCURRENT_UPLOADS_PER_PARTY: '1',
        RATE_LIMIT_PER_MINUTE: '0',
      },
    });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  jsonAndIdentifierTests(() => g);

  async function trickledPackage() {
    const m = manifest();
    const doc = Buffer.concat([pdf('slow'), Buffer.alloc(8000, 0x20)]);
    const enc = await encode([
      manifestPart(JSON.stringify(m)),
      { name: 'plan', filename: 'plan.pdf', contentType: 'application/pdf', body: doc },
    ]);
    // the manifest and the document's first bytes at once (well under 2 KiB), then a byte every 250 ms
    const head = enc.body.indexOf(Buffer.from('%PDF-')) + 40;
    assert.ok(head < 2048);
    return { m, ...enc, head };
  }

  test('issue 15: a package trickled in below the least data rate is 408; its slot is released; nothing is kept', async () => {
    const before = await residue(g);
    const t = await trickledPackage();
    const slow = paced(g, 'kommune-101', '/v1/packages', t.body, t.contentType, { head: t.head, chunk: 1, everyMs: 250 });
    // meanwhile another sender on a slow but steady line (3 KiB/s, longer than a window) is not refused
    const enc = await encode([
      manifestPart(JSON.stringify(manifest())),
      {
        name: 'plan',
        filename: 'plan.pdf',
        contentType: 'application/pdf',
        body: Buffer.concat([pdf('steady'), Buffer.alloc(6000, 0x20)]),
      },
    ]);
    const steady = paced(g, 'kommune-147', '/v1/packages', enc.body, enc.contentType, { head: 512, chunk: 768, everyMs: 250 });
    await waitFor('the document to be arriving', () => (uploadTempFiles(g).length > 0 ? true : undefined));
    const held = await postPackage(g, 'kommune-101', manifest(), plan());
    assert.equal(held.status, 429, 'the trickle holds the sender’s one upload slot');
    const r = await slow.answered;
    assert.equal(r.status, 408, JSON.stringify(r));
    assert.match(r.type ?? '', /application\/problem\+json/);
    assert.equal(r.json?.type, `${PROBLEM}upload-too-slow`);
    assert.match(String(r.json?.detail), /at least 1024 bytes\/s/);
    assert.ok(r.ms >= 1500 && r.ms < 6000, `refused after ${r.ms} ms (window 2 s)`);
    const ok = await steady.answered;
    assert.equal(ok.status, 201, JSON.stringify(ok));
    assert.ok(ok.ms > 2000, `the steady upload took ${ok.ms} ms: longer than one window`);
    await tempFilesGone(g, 'the partial document to be removed');
    const one = (n: number) => n + 1; // the steady package: its case, package, receipt, document and blob
    assert.deepEqual(
      await residue(g),
      {
        ...before,
        cases: one(before.cases),
        packages: one(before.packages),
        receipts: one(before.receipts),
        documents: one(before.documents),
        blobs: one(before.blobs),
      },
      'nothing of the trickled package is kept',
    );
    const audited = await rejections(g);
    assert.ok(audited.some((a) => a.details.includes('"status":408') && a.details.includes(t.m.packageId)));
    const next = await postPackage(g, 'kommune-101', manifest(), plan());
    assert.equal(next.status, 201, `the slot is released: ${next.text}`);
  });

  describe('staff response uploads', () => {
    let caseId: string;
    let who: string;
    before(async () => {
      ({ caseId } = await send(g, 'kommune-147', {
        service: 'clinical-assessment',
        caseType: 'foertidspension',
        documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
      }));
      who = (await settled(g, caseId)).assigned_to!;
      await holdConsultation(g, who, caseId); // so that a complete attest would be accepted, but for the bytes tested
    });

    const responseParts = (json: Buffer, doc: Buffer): MultipartPart[] => [
      { name: 'response', filename: 'response.json', contentType: 'application/json', body: json },
      { name: 'document', filename: 'attest.pdf', contentType: 'application/pdf', body: doc },
    ];

    test('issue 15: a lone surrogate or bytes that are not UTF-8 in the response part are 422; the document is removed', async () => {
      const before = await residue(g);
      const good = JSON.stringify({ kind: 'specialist-attest', content: { ...ATTEST, citizenAssessment: 'X' } });
      const at = good.indexOf('"X"') + 1;
      const cases: [Buffer, string][] = [
        [Buffer.from(good.replace('"X"', '"X \\ud83d Y"')), 'content.citizenAssessment'],
        [Buffer.concat([Buffer.from(good.slice(0, at)), Buffer.from([0xc0, 0x80]), Buffer.from(good.slice(at))]), 'response'],
      ];
      for (const [json, path] of cases) {
        // the document part comes first here, so that it is stored before the response part is read
        const enc = await encode(responseParts(json, pdf('attest')).reverse());
        const r = await paced(g, who, `/v1/cases/${caseId}/responses`, enc.body, enc.contentType, {
          head: enc.body.length,
          chunk: 1,
          everyMs: 1000,
        }).answered;
        assert.equal(r.status, 422, JSON.stringify(r));
        assert.equal((r.json?.errors as { path: string }[])[0]!.path, path);
      }
      await tempFilesGone(g);
      assert.deepEqual(await residue(g), before, 'no response, message or blob kept');
    });

    test('issue 15: a response trickled in below the least data rate is 408 and its partial document is removed', async () => {
      const before = await residue(g);
      const enc = await encode(
        responseParts(
          Buffer.from(JSON.stringify({ kind: 'specialist-attest', content: {} })),
          Buffer.concat([pdf('a'), Buffer.alloc(8000, 0x20)]),
        ),
      );
      const head = enc.body.indexOf(Buffer.from('%PDF-')) + 40;
      const r = await paced(g, who, `/v1/cases/${caseId}/responses`, enc.body, enc.contentType, { head, chunk: 1, everyMs: 250 }).answered;
      assert.equal(r.status, 408, JSON.stringify(r));
      assert.equal(r.json?.type, `${PROBLEM}upload-too-slow`);
      await tempFilesGone(g, 'the partial document to be removed');
      assert.deepEqual(await residue(g), before);
    });
  });
});
