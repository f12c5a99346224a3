import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDevPki, type DevPki } from '../../src/pki/devpki.js';
import { createSigner } from '../../src/receipts/cms.js';
import { runCli, tempDir } from './helpers.js';

const tmp = tempDir('cli-verify');
after(() => tmp.remove());

describe('verify-receipt', () => {
  let pki: DevPki;
  let otherPki: DevPki;
  let receiptFile: string;
  let sigFile: string;
  let tamperedFile: string;
  let sigB64: string;
  const signingTime = new Date('2026-12-18T09:41:08.000Z');

  before(async () => {
    // A throwaway CA and receipt-signing certificate, laid out like the gateway's
    // development PKI under DATA_DIR/pki (so the default --ca can be tested too).
    pki = await ensureDevPki(join(tmp.dir, 'data', 'pki'), []);
    otherPki = await ensureDevPki(join(tmp.dir, 'other', 'pki'), []);
    const receipt = Buffer.from(
      JSON.stringify({
        receiptId: 'r-1',
        packageId: 'p-1',
        caseId: 'c-1',
        receivedAt: '2026-12-18T09:41:07.123Z',
        service: 'clinical-assessment',
      }),
    );
    const der = createSigner({ certPem: readFileSync(pki.receiptCert, 'utf8'), keyPem: readFileSync(pki.receiptKey, 'utf8') }).sign(
      receipt,
      signingTime,
    );
    receiptFile = join(tmp.dir, 'receipt-r-1.json');
    sigFile = join(tmp.dir, 'receipt-r-1.sig.der');
    writeFileSync(receiptFile, receipt);
    writeFileSync(sigFile, der);
    sigB64 = der.toString('base64');
    // One byte changed: "c-1" → "c-2".
    tamperedFile = join(tmp.dir, 'tampered.json');
    writeFileSync(tamperedFile, Buffer.from(receipt.toString().replace('"c-1"', '"c-2"')));
  });

  it('accepts a valid signature and names the signer and signing time (exit 0)', async () => {
    const r = await runCli(['verify-receipt', '--receipt', receiptFile, '--signature', sigFile, '--ca', pki.caCert]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OK: .*signature valid/);
    assert.match(r.stdout, /receiptId: r-1/);
    assert.match(r.stdout, /signer: .*Postkasse receipt signing \(dev\)/);
    assert.match(r.stdout, /signing time: 2026-12-18T09:41:08\.000Z/);
  });

  it('rejects a receipt changed after signing (exit 1, with the reason)', async () => {
    const r = await runCli(['verify-receipt', '--receipt', tamperedFile, '--signature', sigFile, '--ca', pki.caCert]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAILED: .*content does not match the signature/);
    assert.doesNotMatch(r.stdout, /^OK/m);
  });

  it('rejects a signature that does not chain to the given CA (exit 1)', async () => {
    const r = await runCli(['verify-receipt', '--receipt', receiptFile, '--signature', sigFile, '--ca', otherPki.caCert]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAILED: .*does not chain to a trusted CA/);
  });

  it('takes the signature as base64 (the Receipt-Signature header) and defaults to the development CA in DATA_DIR', async () => {
    const ok = await runCli(['verify-receipt', '--receipt', receiptFile, '--signature-b64', sigB64], { DATA_DIR: join(tmp.dir, 'data') });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^OK: /);
    const wrongDefault = await runCli(['verify-receipt', '--receipt', receiptFile, '--signature-b64', sigB64], {
      DATA_DIR: join(tmp.dir, 'other'),
    });
    assert.equal(wrongDefault.code, 1);
    const garbage = await runCli([
      'verify-receipt',
      '--receipt',
      receiptFile,
      '--signature-b64',
      Buffer.from('not a signature').toString('base64'),
      '--ca',
      pki.caCert,
    ]);
    assert.equal(garbage.code, 1);
    assert.match(garbage.stdout, /FAILED: .*malformed CMS/);
  });

  it('is a usage error (exit 2) without a signature, or with both forms', async () => {
    const none = await runCli(['verify-receipt', '--receipt', receiptFile]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exactly one of --signature and --signature-b64/);
    const both = await runCli(['verify-receipt', '--receipt', receiptFile, '--signature', sigFile, '--signature-b64', sigB64]);
    assert.equal(both.code, 2);
  });
});
