/** Builders for case packages and small documents used across tests. */
import { randomUUID, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import forge from 'node-forge';
import type { TestGateway } from './gateway.js';
import { waitFor } from './wait.js';

export const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
export const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]);
export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function pdf(marker = ''): Buffer {
  return Buffer.concat([PDF, Buffer.from(`% ${marker} ${randomUUID()}\n`)]);
}

export function manifest(over: Record<string, unknown> = {}): Record<string, any> {
  return {
    packageId: randomUUID(),
    service: 'rehab-team-advice',
    caseType: 'ressourceforloeb',
    citizen: { cpr: '0101801234', name: 'Testa Borgersen' },
    gp: { ydernummer: '057584', name: 'Lægehuset' },
    caseworker: { name: 'Sara Sagsbehandler', email: 'sara@kk.dk' },
    documents: [{ part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf', title: 'Forberedende del' }],
    ...over,
  };
}

export interface FilePart {
  name: string;
  body: Buffer;
  filename?: string;
  contentType?: string;
}

/** Posts a package as `party` over mTLS. The manifest goes first, as a file part unless `manifestAsField`. */
export function postPackage(
  g: TestGateway,
  party: string | null,
  m: unknown,
  files: FilePart[],
  opts: { manifestAsField?: boolean; manifestLast?: boolean; rawManifest?: string } = {},
) {
  let req = request(g.url).post('/v1/packages').ca(g.ca).trustLocalhost(true);
  if (party) {
    const c = g.creds(party);
    req = req.cert(c.cert).key(c.key);
  }
  const manifestText = opts.rawManifest ?? JSON.stringify(m);
  const addManifest = () => {
    req = opts.manifestAsField
      ? req.field('manifest', manifestText)
      : req.attach('manifest', Buffer.from(manifestText), { filename: 'manifest.json', contentType: 'application/json' });
  };
  if (!opts.manifestLast) addManifest();
  for (const f of files) {
    const filename = f.filename ?? `${f.name}.bin`;
    // form-data cuts a file name to its basename unless it is given as `filepath`.
    const options = {
      filename,
      contentType: f.contentType ?? 'application/octet-stream',
      ...(filename.includes('/') ? { filepath: filename } : {}),
    };
    req = req.attach(f.name, f.body, options as { filename: string; contentType: string });
  }
  if (opts.manifestLast) addManifest();
  return req;
}

/** The real `openssl cms -verify` of a detached DER signature over a file, as a partner runs it. */
export function opensslVerifyFiles(sigFile: string, contentFile: string, caFile: string): { ok: boolean; output: string } {
  try {
    const out = execFileSync(
      'openssl',
      ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sigFile, '-content', contentFile, '-CAfile', caFile, '-out', '/dev/null'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { ok: true, output: out.toString() };
  } catch (e) {
    return { ok: false, output: String((e as { stderr?: Buffer }).stderr ?? e) };
  }
}

/** The same over bytes and a base64 signature (a Receipt-Signature or Message-Signature header). */
export function opensslVerify(body: Buffer, signatureB64: string, caPem: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pk-verify-'));
  try {
    writeFileSync(join(dir, 'receipt.json'), body);
    writeFileSync(join(dir, 'sig.der'), Buffer.from(signatureB64, 'base64'));
    writeFileSync(join(dir, 'ca.pem'), caPem);
    return opensslVerifyFiles(join(dir, 'sig.der'), join(dir, 'receipt.json'), join(dir, 'ca.pem'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Temp files of uploads the gateway is storing right now (the blob store
 * writes each document to blobs/tmp/<key>.tmp and renames or removes it when
 * the upload ends): observable proof that an upload is in progress, or, once
 * none is left, that the gateway has finished cleaning up after one.
 */
export function uploadTempFiles(g: TestGateway): string[] {
  try {
    return readdirSync(join(g.dataDir, 'blobs', 'tmp')).filter((f) => f.endsWith('.tmp'));
  } catch {
    return [];
  }
}

/** Waits until the gateway has no upload temp file left: every upload it was storing has ended and been cleaned up after. */
export function tempFilesGone(g: TestGateway, what = 'upload temp files to be removed'): Promise<true> {
  return waitFor(what, () => {
    const left = uploadTempFiles(g);
    if (left.length > 0) throw new Error(`still there: ${left.join(', ')}`);
    return true;
  });
}

/** Everything a package could leave behind: rows and blob files. */
export async function residue(
  g: TestGateway,
): Promise<{ cases: number; documents: number; packages: number; receipts: number; responses: number; messages: number; blobs: number }> {
  const db = g.gw.db.db;
  const count = async (t: 'cases' | 'documents' | 'packages' | 'receipts' | 'responses' | 'messages') =>
    Number((await db.selectFrom(t).select(db.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return {
    cases: await count('cases'),
    documents: await count('documents'),
    packages: await count('packages'),
    receipts: await count('receipts'),
    responses: await count('responses'),
    messages: await count('messages'),
    blobs: countFiles(join(g.dataDir, 'blobs')),
  };
}

function countFiles(dir: string): number {
  let n = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e);
    n += statSync(p).isDirectory() ? countFiles(p) : 1;
  }
  return n;
}

/** A client certificate issued by `caCertPem`/`caKeyPem` for a subject serialNumber that no party owns. */
export function issueCert(caCertPem: string, caKeyPem: string, serialNumber: string): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(8));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const ca = forge.pki.certificateFromPem(caCertPem);
  cert.setSubject([
    { name: 'commonName', value: 'Nobody' },
    { type: '2.5.4.5', value: serialNumber },
  ]);
  cert.setIssuer(ca.subject.attributes);
  cert.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  cert.sign(forge.pki.privateKeyFromPem(caKeyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

export function selfSignedCa(): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const attrs = [{ name: 'commonName', value: 'Evil CA' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', keyCertSign: true, digitalSignature: true },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}
