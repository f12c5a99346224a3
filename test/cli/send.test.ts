/**
 * `send` against a small mutual-TLS stub of POST /v1/packages (not the real
 * gateway): checks what goes over the wire (client certificate, part order,
 * Content-Types, exact bytes, Content-Length) and what the CLI does with the
 * answers (receipt files, openssl command, problem+json, early rejection).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { buildDemoPackage, demoPdf } from '../../src/cli/demo.js';
import { manifestSchema } from '../../src/intake/schema.js';
import { ensureDevPki, type DevPki } from '../../src/pki/devpki.js';
import { createSigner } from '../../src/receipts/cms.js';
import { parseMultipart, runCli, sha256, tempDir, type ParsedPart } from './helpers.js';
import { opensslVerifyFiles } from '../helpers/packages.js';

const tmp = tempDir('cli-send');
const dataDir = join(tmp.dir, 'data');

interface Seen {
  clientCn: string | undefined;
  contentLength: number;
  received: number;
  parts: ParsedPart[];
}

type Mode = 'receipt' | 'problem' | 'early-413' | 'silent';

describe('send (against an mTLS stub of POST /v1/packages)', () => {
  let pki: DevPki;
  let server: https.Server;
  let baseUrl: string;
  let mode: Mode = 'receipt';
  let seen: Seen[] = [];

  before(async () => {
    pki = await ensureDevPki(join(dataDir, 'pki'), [
      { id: 'kommune-101', kind: 'municipality', name: 'Test Kommune 101', certificates: [{ subjectSerialNumber: 'UI:DK-O:G:test-101' }] },
    ]);
    const receiptSigner = { certPem: readFileSync(pki.receiptCert, 'utf8'), keyPem: readFileSync(pki.receiptKey, 'utf8') };

    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const s: Seen = {
        clientCn: peer?.subject?.CN as string | undefined,
        contentLength: Number(req.headers['content-length']),
        received: 0,
        parts: [],
      };
      seen.push(s);
      if (req.method !== 'POST' || req.url !== '/v1/packages') {
        res.writeHead(404).end();
        return;
      }
      if (mode === 'early-413') {
        // Answer before reading the body, as the gateway does at a size limit;
        // node's server then discards whatever of the body still arrives.
        res.writeHead(413, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'https://postkasse.dk/problems/too-large',
            title: 'Payload too large',
            status: 413,
            detail: 'document "big" exceeds 1000 bytes',
          }),
        );
        return;
      }
      req.on('data', (c: Buffer) => (s.received += c.length));
      s.parts = await parseMultipart(req, String(req.headers['content-type']));
      if (mode === 'silent') return; // reads everything, never answers
      if (mode === 'problem') {
        res.writeHead(422, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'https://postkasse.dk/problems/validation',
            title: 'Unprocessable content',
            status: 422,
            detail: 'the manifest is not valid',
            errors: [{ path: 'citizen.cpr', message: 'the CPR number does not hold a real date of birth' }],
          }),
        );
        return;
      }
      const manifest = JSON.parse(s.parts[0]!.bytes!.toString()) as { packageId: string; service: string };
      const body = Buffer.from(
        JSON.stringify({
          receiptId: `rcpt-${manifest.packageId.slice(0, 8)}`,
          packageId: manifest.packageId,
          caseId: randomUUID(),
          sender: { partyId: 'kommune-101', municipalityCode: '101' },
          receivedAt: new Date().toISOString(),
          service: manifest.service,
          documents: s.parts.slice(1).map((p) => ({ part: p.name, size: p.size, sha256: p.sha256 })),
        }),
      );
      res.writeHead(201, {
        'content-type': 'application/json',
        location: '/v1/cases/x',
        'receipt-signature': createSigner(receiptSigner).sign(body).toString('base64'),
      });
      res.end(body);
    };

    server = https.createServer(
      {
        cert: readFileSync(pki.serverCert),
        key: readFileSync(pki.serverKey),
        ca: readFileSync(pki.caCert),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        handle(req, res).catch((err: Error) => {
          if (!res.headersSent) res.writeHead(500).end(err.message);
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `https://localhost:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    tmp.remove();
  });

  it('sends the manifest first and each file with its mediaType, over mTLS with the --as client certificate, and keeps a verifiable receipt', async () => {
    seen = [];
    mode = 'receipt';
    const packageId = randomUUID();
    const manifestFile = join(tmp.dir, 'm.json');
    const manifestBytes = Buffer.from(
      JSON.stringify({
        packageId,
        service: 'clinical-assessment',
        caseType: 'ressourceforloeb',
        citizen: { cpr: '0101801234', name: 'Test' },
        documents: [
          { part: 'req', type: 'request', mediaType: 'text/plain' },
          { part: 'scan', type: 'journal', mediaType: 'image/png' },
        ],
      }),
    );
    writeFileSync(manifestFile, manifestBytes);
    const reqBytes = Buffer.from('Please assess.\n');
    const scanBytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(300_000)]);
    writeFileSync(join(tmp.dir, 'req.txt'), reqBytes);
    writeFileSync(join(tmp.dir, 'scan.png'), scanBytes);
    const outDir = join(tmp.dir, 'out');

    const r = await runCli(
      [
        'send',
        '--manifest',
        manifestFile,
        '--file',
        `scan=${join(tmp.dir, 'scan.png')}`,
        '--file',
        `req=${join(tmp.dir, 'req.txt')}`,
        '--url',
        baseUrl,
        '--out',
        outDir,
      ],
      { DATA_DIR: dataDir },
    );
    assert.equal(r.code, 0, r.stderr);

    assert.equal(seen.length, 1);
    const s = seen[0]!;
    assert.equal(s.clientCn, 'Test Kommune 101', 'the development client certificate of kommune-101 was presented');
    assert.equal(s.received, s.contentLength, 'Content-Length matches the body');
    assert.deepEqual(
      s.parts.map((p) => [p.name, p.mimeType]),
      [
        ['manifest', 'application/json'],
        ['scan', 'image/png'],
        ['req', 'text/plain'],
      ],
    );
    assert.ok(s.parts[0]!.bytes!.equals(manifestBytes), 'the manifest is sent byte for byte');
    assert.equal(s.parts[1]!.sha256, sha256(scanBytes));
    assert.ok(s.parts[2]!.bytes!.equals(reqBytes));

    assert.match(r.stdout, /HTTP 201/);
    const receiptId = `rcpt-${packageId.slice(0, 8)}`;
    const receiptFile = join(outDir, `receipt-${receiptId}.json`);
    const sigFile = join(outDir, `receipt-${receiptId}.sig.der`);
    assert.ok(existsSync(receiptFile) && existsSync(sigFile));
    assert.equal((JSON.parse(readFileSync(receiptFile, 'utf8')) as { packageId: string }).packageId, packageId);
    assert.ok(r.stdout.includes(`"receiptId": "${receiptId}"`), 'the receipt JSON is printed');

    // The printed openssl command verifies the files as written.
    const cmd = /openssl cms -verify -binary -inform DER -in (\S+) -content (\S+) -CAfile (\S+)/.exec(r.stdout);
    assert.ok(cmd, r.stdout);
    assert.deepEqual(cmd.slice(1), [sigFile, receiptFile, pki.caCert]);
    const openssl = opensslVerifyFiles(sigFile, receiptFile, pki.caCert);
    assert.ok(openssl.ok, openssl.output);

    const v = await runCli(['verify-receipt', '--receipt', receiptFile, '--signature', sigFile], { DATA_DIR: dataDir });
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  it('--demo builds and sends a valid complete package (manifest checked with the gateway schema, PDF part)', async () => {
    seen = [];
    mode = 'receipt';
    const outDir = join(tmp.dir, 'demo-out');
    const r = await runCli(['send', '--demo', '--url', baseUrl, '--out', outDir], { DATA_DIR: dataDir });
    assert.equal(r.code, 0, r.stderr);
    const parts = seen[0]!.parts;
    assert.deepEqual(
      parts.map((p) => [p.name, p.mimeType]),
      [
        ['manifest', 'application/json'],
        ['plan', 'application/pdf'],
      ],
    );
    const parsed = manifestSchema.safeParse(JSON.parse(parts[0]!.bytes!.toString()));
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    assert.equal(parsed.data.service, 'rehab-team-advice');
    assert.equal(parsed.data.documents[0]!.type, 'rehab-plan-preparatory');
    const pdf = parts[1]!.bytes!.toString('latin1');
    assert.ok(pdf.startsWith('%PDF-1.4'));
    assert.ok(pdf.trimEnd().endsWith('%%EOF'));
    assert.equal(readdirSync(outDir).filter((f) => f.endsWith('.sig.der')).length, 1);
  });

  it('prints a problem+json answer readably and exits 1', async () => {
    seen = [];
    mode = 'problem';
    const outDir = join(tmp.dir, 'problem-out');
    const r = await runCli(['send', '--demo', '--url', baseUrl, '--out', outDir], { DATA_DIR: dataDir });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /HTTP 422/);
    assert.match(r.stderr, /Unprocessable content/);
    assert.match(r.stderr, /the manifest is not valid/);
    assert.match(r.stderr, /- citizen\.cpr: the CPR number does not hold a real date of birth/);
    assert.ok(!existsSync(outDir), 'no receipt is written for a rejected package');
  });

  it('reports the answer of a gateway that rejects before reading the whole body, and stops uploading', async () => {
    seen = [];
    mode = 'early-413';
    const big = join(tmp.dir, 'big.pdf');
    writeFileSync(big, Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(8 * 1024 * 1024)]));
    const manifestFile = join(tmp.dir, 'big.json');
    writeFileSync(
      manifestFile,
      JSON.stringify({ packageId: randomUUID(), documents: [{ part: 'big', type: 'other', mediaType: 'application/pdf' }] }),
    );
    const r = await runCli(['send', '--manifest', manifestFile, '--file', `big=${big}`, '--url', baseUrl], { DATA_DIR: dataDir });
    assert.equal(seen[0]!.received, 0, 'the stub read none of the body');
    assert.equal(r.code, 1);
    assert.match(r.stdout, /HTTP 413/, r.stderr);
    assert.match(r.stderr, /document "big" exceeds 1000 bytes/);
  });

  it('gives up on a gateway that never answers (--timeout, exit 1) instead of hanging', async () => {
    seen = [];
    mode = 'silent';
    const started = Date.now();
    const r = await runCli(['send', '--demo', '--url', baseUrl, '--timeout', '1'], { DATA_DIR: dataDir }, 30_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no answer from the gateway: the connection was idle for 1 s/);
    assert.equal(seen[0]!.parts.length, 2, 'the package was sent in full');
    assert.ok(Date.now() - started < 20_000);
  });

  it('refuses a --file the manifest does not declare, and a declared part without --file (exit 2)', async () => {
    const manifestFile = join(tmp.dir, 'two.json');
    writeFileSync(
      manifestFile,
      JSON.stringify({
        packageId: 'x',
        documents: [
          { part: 'a', mediaType: 'text/plain' },
          { part: 'b', mediaType: 'text/plain' },
        ],
      }),
    );
    writeFileSync(join(tmp.dir, 'a.txt'), 'a');
    const undeclared = await runCli(['send', '--manifest', manifestFile, '--file', `c=${join(tmp.dir, 'a.txt')}`, '--url', baseUrl], {
      DATA_DIR: dataDir,
    });
    assert.equal(undeclared.code, 2);
    assert.match(undeclared.stderr, /declares no document with part "c"/);
    const missing = await runCli(['send', '--manifest', manifestFile, '--file', `a=${join(tmp.dir, 'a.txt')}`, '--url', baseUrl], {
      DATA_DIR: dataDir,
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /part\(s\) b but no --file/);
  });

  it('explains a missing development client certificate (exit 1) and an unreachable gateway (exit 1)', async () => {
    const noCert = await runCli(['send', '--demo', '--as', 'kommune-999', '--url', baseUrl], { DATA_DIR: dataDir });
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /no development client certificate for "kommune-999"/);
    const refused = await runCli(['send', '--demo', '--url', 'https://127.0.0.1:1'], { DATA_DIR: dataDir });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ECONNREFUSED/);
  });
});

describe('demo package', () => {
  it('is valid for the gateway manifest schema and has a random packageId and valid-date CPR each time', () => {
    const a = buildDemoPackage();
    const b = buildDemoPackage();
    assert.notEqual(a.manifest.packageId, b.manifest.packageId);
    for (let i = 0; i < 200; i++) {
      const p = buildDemoPackage();
      const r = manifestSchema.safeParse(JSON.parse(p.manifestBytes.toString('utf8')));
      assert.ok(r.success, JSON.stringify(r.error?.issues));
    }
  });

  it('generates a well-formed PDF whose cross-reference offsets point at its objects', () => {
    const pdf = demoPdf('Hello (world) \\ æ').toString('latin1');
    assert.ok(pdf.startsWith('%PDF-1.4\n'));
    assert.ok(pdf.endsWith('%%EOF\n'));
    const startxref = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(pdf)![1]);
    assert.ok(pdf.startsWith('xref\n', startxref));
    const entries = [...pdf.slice(startxref).matchAll(/^(\d{10}) 00000 n $/gm)].map((m) => Number(m[1]));
    assert.equal(entries.length, 5);
    entries.forEach((off, i) => assert.ok(pdf.startsWith(`${i + 1} 0 obj\n`, off), `object ${i + 1} at ${off}`));
    const stream = /<< \/Length (\d+) >>\nstream\n([\s\S]*?)endstream/.exec(pdf)!;
    assert.equal(Number(stream[1]), Buffer.byteLength(stream[2]!, 'latin1'));
    assert.ok(stream[2]!.includes('(Hello \\(world\\) \\\\ ?)'));
  });
});
