/**
 * End to end: `send --demo` against a real gateway (startGateway: mTLS, the
 * development PKI, embedded SQLite, Redis at 127.0.0.1:6379), then
 * `verify-receipt` on the files it wrote, an idempotent repeat, and
 * `audit verify` on the gateway's database.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { buildDemoPackage } from '../../src/cli/demo.js';
import { runCli, tempDir } from './helpers.js';

const tmp = tempDir('cli-send-gw');
const manifestFile = join(tmp.dir, 'manifest.json');
const pdfFile = join(tmp.dir, 'plan.pdf');

describe('send against the real gateway', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({ dialect: 'sqlite' });
  });
  after(async () => {
    await gw?.close();
    tmp.remove();
  });

  it('send --demo is receipted (201); verify-receipt accepts the files it wrote', async () => {
    const out = join(tmp.dir, 'demo');
    const r = await runCli(['send', '--demo', '--url', gw.url, '--out', out, '--timeout', '30'], { DATA_DIR: gw.dataDir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /HTTP 201/);
    const files = readdirSync(out);
    const receipt = files.find((f) => f.endsWith('.json'))!;
    const sig = files.find((f) => f.endsWith('.sig.der'))!;
    assert.ok(receipt && sig, files.join(', '));
    const body = JSON.parse(readFileSync(join(out, receipt), 'utf8')) as { receiptId: string; service: string; clock: { status: string } };
    assert.equal(receipt, `receipt-${body.receiptId}.json`);
    assert.equal(body.service, 'rehab-team-advice');
    assert.equal(body.clock.status, 'running', 'the demo package is a complete case');
    const v = await runCli(['verify-receipt', '--receipt', join(out, receipt), '--signature', join(out, sig)], { DATA_DIR: gw.dataDir });
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  it('a repeated package gets 200 and the byte-identical receipt', async () => {
    const demo = buildDemoPackage();
    writeFileSync(manifestFile, demo.manifestBytes);
    writeFileSync(pdfFile, demo.files[0]!.body);
    const args = ['send', '--manifest', manifestFile, '--file', `plan=${pdfFile}`, '--url', gw.url, '--timeout', '30'];
    const first = await runCli([...args, '--out', join(tmp.dir, 'first')], { DATA_DIR: gw.dataDir });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /HTTP 201/);
    const again = await runCli([...args, '--out', join(tmp.dir, 'again')], { DATA_DIR: gw.dataDir });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /HTTP 200/);
    const [f1] = readdirSync(join(tmp.dir, 'first')).filter((f) => f.endsWith('.json'));
    const [f2] = readdirSync(join(tmp.dir, 'again')).filter((f) => f.endsWith('.json'));
    assert.equal(f1, f2);
    assert.ok(readFileSync(join(tmp.dir, 'first', f1!)).equals(readFileSync(join(tmp.dir, 'again', f2!))));
    assert.ok(
      readFileSync(join(tmp.dir, 'first', f1!.replace(/\.json$/, '.sig.der'))).equals(
        readFileSync(join(tmp.dir, 'again', f2!.replace(/\.json$/, '.sig.der'))),
      ),
    );
  });

  it('a package with an invalid manifest gets a readable 422 naming the field (exit 1)', async () => {
    const demo = buildDemoPackage();
    const bad = JSON.parse(demo.manifestBytes.toString()) as Record<string, unknown>;
    bad.citizen = { cpr: '3102801234', name: 'X' }; // 31 February: not a real date of birth
    writeFileSync(manifestFile, JSON.stringify(bad));
    writeFileSync(pdfFile, demo.files[0]!.body);
    const r = await runCli(
      ['send', '--manifest', manifestFile, '--file', `plan=${pdfFile}`, '--url', gw.url, '--out', join(tmp.dir, 'bad'), '--timeout', '5'],
      {
        DATA_DIR: gw.dataDir,
      },
    );
    assert.equal(r.code, 1);
    assert.match(r.stdout, /HTTP 422/, r.stderr);
    assert.match(r.stderr, /citizen\.cpr: /);
  });

  it('audit verify reads the gateway database and finds the chain intact', async () => {
    const r = await runCli(['audit', 'verify'], { DATA_DIR: gw.dataDir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^audit chain OK: [1-9]\d* entries$/m);
  });
});
