/**
 * End to end against a real gateway (startTestGateway: mTLS, development PKI,
 * embedded SQLite, Redis): a specialist attest in a clinical-assessment case
 * puts a message in kommune-147's mailbox and a copy in gp-057584's; the CLI
 * finds the gateway through POSTKASSE_URL or PORT, lists, fetches (files the
 * real openssl and verify-message accept), refuses tampered envelopes,
 * keeps other parties out, and acknowledges.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSigner } from '../../src/receipts/cms.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { opensslVerifyFiles, pdf } from '../helpers/packages.js';
import { postAttest, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { REPO_ROOT, runCli, tempDir } from './helpers.js';

const tmp = tempDir('cli-mailbox-gw');

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { cwd: REPO_ROOT, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 127) : 0, stdout, stderr }),
    ),
  );
}

/** The indented command line after `prefix` in the CLI's output. */
function printed(stdout: string, prefix: string): string {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(prefix));
  assert.ok(line, `no "${prefix}…" line in:\n${stdout}`);
  return line.trim();
}

interface Envelope {
  messageId: string;
  caseId: string;
  kind: string;
  sentAt: string;
  copy: boolean;
  document: { mediaType: string; sha256: string; size: number; data: string };
}

describe('mailbox and verify-message against the real gateway', () => {
  let gw: TestGateway;
  let env: Record<string, string>;
  let port: string;
  let caseId: string;
  let messageId: string;
  let copyId: string;
  let sentAt: string;
  let doc: Buffer;
  let caFile: string;
  const outDir = join(tmp.dir, 'messages');

  before(async () => {
    gw = await startTestGateway({ dialect: 'sqlite', env: { PARTIES_FILE: writeRoutingParties(tmp.dir) } });
    env = { DATA_DIR: gw.dataDir };
    port = new URL(gw.url).port;
    caFile = join(gw.dataDir, 'pki', 'ca.pem');
    ({ caseId } = await send(gw, 'kommune-147', {
      citizen: { cpr: '0303551234', name: 'Rasmus Attest' },
      service: 'clinical-assessment',
      gp: { ydernummer: '057584' },
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
    }));
    const who = (await settled(gw, caseId)).assigned_to!;
    doc = pdf('signed-off attest');
    const answer = await postAttest(gw, who, caseId, doc);
    messageId = answer.messages.find((m) => m.to === 'kommune-147')!.messageId;
    copyId = answer.messages.find((m) => m.to === 'gp-057584')!.messageId;
    sentAt = answer.sentAt;
  });

  after(async () => {
    await gw?.close();
    tmp.remove();
  });

  it('finds the gateway through POSTKASSE_URL, else https://localhost:$PORT; an explicit --url still wins', async () => {
    const viaEnv = await runCli(['mailbox', 'list', '--as', 'kommune-147'], { ...env, POSTKASSE_URL: gw.url, PORT: '1' });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.ok(viaEnv.stdout.includes(messageId));

    const viaPort = await runCli(['mailbox', 'list', '--as', 'kommune-147'], { ...env, PORT: port });
    assert.equal(viaPort.code, 0, viaPort.stderr);
    assert.ok(viaPort.stdout.includes(messageId));

    const unreachable = { ...env, POSTKASSE_URL: 'https://127.0.0.1:1', PORT: port };
    const used = await runCli(['mailbox', 'list', '--as', 'kommune-147'], unreachable);
    assert.equal(used.code, 1);
    assert.match(used.stderr, /request to https:\/\/127\.0\.0\.1:1\/v1\/mailbox failed: .*ECONNREFUSED/);
    const explicit = await runCli(['mailbox', 'list', '--as', 'kommune-147', '--url', gw.url], unreachable);
    assert.equal(explicit.code, 0, explicit.stderr);
    assert.ok(explicit.stdout.includes(messageId));

    const plain = await runCli(['mailbox', 'list'], { ...env, POSTKASSE_URL: `http://127.0.0.1:${port}` });
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /POSTKASSE_URL must be https:\/\//);

    // send too, and its openssl command checks the receipt without dumping it (-out /dev/null).
    const sent = await runCli(['send', '--demo', '--out', join(tmp.dir, 'receipts'), '--timeout', '30'], { ...env, POSTKASSE_URL: gw.url });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /HTTP 201/);
    const sentViaPort = await runCli(['send', '--demo', '--out', join(tmp.dir, 'receipts'), '--timeout', '30'], { ...env, PORT: port });
    assert.equal(sentViaPort.code, 0, sentViaPort.stdout + sentViaPort.stderr);
    const cmd = printed(sent.stdout, 'openssl cms -verify');
    assert.match(cmd, / -CAfile \S+ -out \/dev\/null$/);
    const ran = await run('sh', ['-c', cmd]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, '', 'the receipt is not printed');
    assert.match(ran.stderr, /Verification successful/);
  });

  it('list prints one line per message (messageId, caseId, kind, copy, sentAt); --json the raw answer', async () => {
    const own = await runCli(['mailbox', 'list', '--as', 'kommune-147', '--url', gw.url], env);
    assert.equal(own.code, 0, own.stderr);
    const line = own.stdout.split('\n').find((l) => l.startsWith(messageId));
    assert.equal(line, `${messageId}  ${caseId}  specialist-attest  original  ${sentAt}`);
    assert.ok(!own.stdout.includes(copyId), "the GP's copy is not in the municipality's mailbox");

    const gp = await runCli(['mailbox', 'list', '--as', 'gp-057584', '--url', gw.url], env);
    assert.equal(gp.code, 0, gp.stderr);
    assert.ok(gp.stdout.includes(`${copyId}  ${caseId}  specialist-attest  copy  ${sentAt}`), gp.stdout);

    const json = await runCli(['mailbox', 'list', '--json', '--as', 'kommune-147', '--url', gw.url], env);
    assert.equal(json.code, 0, json.stderr);
    const items = (JSON.parse(json.stdout) as { items: { messageId: string; caseId: string; copy: boolean; sentAt: string }[] }).items;
    assert.deepEqual(
      items.find((i) => i.messageId === messageId),
      { messageId, caseId, kind: 'specialist-attest', copy: false, sentAt, mediaType: 'application/json' },
    );
  });

  it('get writes the exact envelope and its signature; the real openssl and verify-message accept them', async () => {
    const r = await runCli(['mailbox', 'get', messageId, '--out', outDir, '--as', 'kommune-147', '--url', gw.url], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const messageFile = join(outDir, `message-${messageId}.json`);
    const sigFile = join(outDir, `message-${messageId}.sig.der`);
    assert.ok(r.stdout.includes(messageFile) && r.stdout.includes(sigFile), r.stdout);
    assert.deepEqual(readdirSync(outDir).sort(), [`message-${messageId}.json`, `message-${messageId}.sig.der`]);

    const envelope = JSON.parse(readFileSync(messageFile, 'utf8')) as Envelope;
    assert.equal(envelope.messageId, messageId);
    assert.ok(Buffer.from(envelope.document.data, 'base64').equals(doc), 'the document travels intact');

    const ossl = opensslVerifyFiles(sigFile, messageFile, caFile);
    assert.ok(ossl.ok, ossl.output);
    const cmd = printed(r.stdout, 'openssl cms -verify');
    assert.equal(cmd, `openssl cms -verify -binary -inform DER -in ${sigFile} -content ${messageFile} -CAfile ${caFile} -out /dev/null`);
    const ran = await run('sh', ['-c', cmd]);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, '');

    const verify = printed(r.stdout, 'npm run cli -- verify-message');
    const v = await runCli(verify.replace('npm run cli -- ', '').split(' '), env);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /^OK: .*signature valid, document intact/);
    for (const expected of [
      `messageId: ${messageId}`,
      `caseId: ${caseId}`,
      'kind: specialist-attest',
      `sentAt: ${sentAt}`,
      'copy: false',
      `sha256 ${createHash('sha256').update(doc).digest('hex')}`,
    ]) {
      assert.ok(v.stdout.includes(expected), `${expected} in\n${v.stdout}`);
    }
    assert.match(v.stdout, /signer: .*receipt signing/);
    assert.match(v.stdout, /signing time: \d{4}-\d\d-\d\dT/);

    const b64 = await runCli(
      ['verify-message', '--message', messageFile, '--signature-b64', readFileSync(sigFile).toString('base64'), '--ca', caFile],
      {},
    );
    assert.equal(b64.code, 0, b64.stdout + b64.stderr);
  });

  it('verify-message refuses a tampered envelope, and a re-signed one whose document does not match its sha256 or size', async () => {
    const messageFile = join(outDir, `message-${messageId}.json`);
    const sigFile = join(outDir, `message-${messageId}.sig.der`);
    const bytes = readFileSync(messageFile);
    const verify = (file: string, sig = sigFile) => runCli(['verify-message', '--message', file, '--signature', sig, '--ca', caFile]);

    // One byte changed, inside the document's base64 data.
    const tampered = Buffer.from(bytes);
    const at = bytes.indexOf('"data":"') + 20;
    tampered[at] = tampered[at] === 0x41 ? 0x42 : 0x41;
    const tamperedFile = join(tmp.dir, 'tampered.json');
    writeFileSync(tamperedFile, tampered);
    const t = await verify(tamperedFile);
    assert.equal(t.code, 1);
    assert.match(t.stdout, /^FAILED: .*content does not match the signature/m);
    assert.doesNotMatch(t.stdout, /^OK/m);

    // Re-signed with the gateway's own signing key, so the signature holds, but the document is not the one stated.
    const pki = gw.gw.tls.devPki!;
    const signer = { certPem: readFileSync(pki.receiptCert, 'utf8'), keyPem: readFileSync(pki.receiptKey, 'utf8') };
    const resign = async (name: string, change: (e: Envelope) => void) => {
      const e = JSON.parse(bytes.toString('utf8')) as Envelope;
      change(e);
      const content = Buffer.from(JSON.stringify(e));
      const file = join(tmp.dir, `${name}.json`);
      const sig = join(tmp.dir, `${name}.sig.der`);
      writeFileSync(file, content);
      writeFileSync(sig, createSigner(signer).sign(content));
      const ossl = opensslVerifyFiles(sig, file, caFile);
      assert.ok(ossl.ok, `openssl accepts the re-signed ${name}: ${ossl.output}`);
      return verify(file, sig);
    };
    const other = Buffer.from(doc);
    other[other.length - 2] = other[other.length - 2]! ^ 0x01; // same size, other bytes
    const wrongData = await resign('wrong-data', (e) => (e.document.data = other.toString('base64')));
    assert.equal(wrongData.code, 1);
    assert.match(wrongData.stdout, /^FAILED: .*the document's SHA-256 is [0-9a-f]{64}, but document\.sha256 says/m);
    assert.doesNotMatch(wrongData.stdout, /^OK/m);

    const wrongSize = await resign('wrong-size', (e) => (e.document.size += 1));
    assert.equal(wrongSize.code, 1);
    assert.match(wrongSize.stdout, /^FAILED: .*the document is \d+ bytes, but document\.size says/m);

    const notBase64 = await resign('not-base64', (e) => (e.document.data = `${e.document.data.slice(0, -4)}!!!!`));
    assert.equal(notBase64.code, 1);
    assert.match(notBase64.stdout, /^FAILED: .*document\.data is not base64/m);

    const unchanged = await resign('unchanged', () => undefined);
    assert.equal(unchanged.code, 0, unchanged.stdout + unchanged.stderr);
  });

  it('another party cannot get or ack the message: the 404 problem, exit 1, no files', async () => {
    const dir = join(tmp.dir, 'intruder');
    const r = await runCli(['mailbox', 'get', messageId, '--out', dir, '--as', 'kommune-101', '--url', gw.url], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^HTTP 404 Not Found/);
    assert.ok(r.stderr.includes(`no message ${messageId} for kommune-101`), r.stderr);
    assert.ok(!existsSync(dir) || readdirSync(dir).length === 0, 'nothing written');

    const gpAck = await runCli(['mailbox', 'ack', messageId, '--as', 'gp-057584', '--url', gw.url], env);
    assert.equal(gpAck.code, 1);
    assert.match(gpAck.stderr, /HTTP 404/);
    const still = await runCli(['mailbox', 'list', '--as', 'kommune-147', '--url', gw.url], env);
    assert.ok(still.stdout.includes(messageId), 'the message is still unacknowledged');
  });

  it('ack confirms receipt and the message leaves the list', async () => {
    const r = await runCli(['mailbox', 'ack', messageId, '--as', 'kommune-147', '--url', gw.url], env);
    assert.equal(r.code, 0, r.stderr);
    const answer = JSON.parse(r.stdout) as { messageId: string; state: string; acknowledgedAt: string };
    assert.equal(answer.messageId, messageId);
    assert.equal(answer.state, 'acknowledged');
    const list = await runCli(['mailbox', 'list', '--as', 'kommune-147', '--url', gw.url], env);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(!list.stdout.includes(messageId), list.stdout);
    const gp = await runCli(['mailbox', 'list', '--as', 'gp-057584', '--url', gw.url], env);
    assert.ok(gp.stdout.includes(copyId), "the GP's copy is acknowledged separately");
  });

  it('usage errors exit 2; help names the new commands', async () => {
    mkdirSync(join(tmp.dir, 'x'), { recursive: true });
    for (const args of [
      ['mailbox'],
      ['mailbox', 'frob'],
      ['mailbox', 'get'],
      ['mailbox', 'get', messageId, 'extra'],
      ['mailbox', 'get', '../etc', '--url', gw.url],
      ['mailbox', 'list', '--out', join(tmp.dir, 'x')],
      ['mailbox', 'ack', messageId, '--bogus'],
      ['verify-message', '--signature', 'x.der'],
      ['verify-message', '--message', 'x.json'],
    ]) {
      const r = await runCli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /usage: /);
    }
    const help = await runCli(['help']);
    assert.equal(help.code, 0);
    for (const c of [
      'mailbox list',
      'mailbox get MESSAGE_ID',
      'mailbox ack MESSAGE_ID',
      'verify-message --message FILE',
      'POSTKASSE_URL',
    ]) {
      assert.ok(help.stdout.includes(c), `help mentions ${c}`);
    }
    const mailboxHelp = await runCli(['help', 'mailbox']);
    assert.equal(mailboxHelp.code, 0);
    assert.match(mailboxHelp.stdout, /POSTKASSE_URL/);
  });
});
