/**
 * Issue 16 (found bringing the production profile up under Docker): the image runs as a non-root user, and a key
 * mounted as the docs first said (`chmod 600`, owned by root) stopped the gateway with a bare
 * "EACCES: permission denied, open '/run/postkasse-keys/server.key'". Every configured file is now checked before
 * any is read, and one list names each variable, the path, the user and what to do.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ConfigError, assertConfiguredFilesReadable, loadConfig } from '../../src/shared/config.js';

const dir = mkdtempSync(join(tmpdir(), 'pk-config-files-'));
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    assertConfiguredFilesReadable(loadConfig({ ...env, DATA_DIR: join(dir, 'data') }));
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
};

test('issue 16: every configured file that is missing or not a file is named with its variable, all at once', () => {
  const cert = join(dir, 'server.pem');
  writeFileSync(cert, 'x');
  const problems = problemsOf({
    TLS_CERT_FILE: cert,
    TLS_KEY_FILE: join(dir, 'missing.key'),
    TLS_CLIENT_CA_FILE: dir,
    RECEIPT_CERT_FILE: join(dir, 'nowhere', 'receipt.pem'),
    RECEIPT_KEY_FILE: cert,
  });
  assert.deepEqual(problems.sort(), [
    `RECEIPT_CERT_FILE: ${join(dir, 'nowhere', 'receipt.pem')} does not exist`,
    `TLS_CLIENT_CA_FILE: ${dir} is not a file`,
    `TLS_KEY_FILE: ${join(dir, 'missing.key')} does not exist`,
  ]);
});

test('issue 16: a missing key file is left to the key loaders (generated in development), a directory is not', () => {
  assert.deepEqual(problemsOf({ STORAGE_KEY_FILE: join(dir, 'storage.key') }), []);
  mkdirSync(join(dir, 'audit.key'));
  assert.deepEqual(problemsOf({ AUDIT_KEY_FILE: join(dir, 'audit.key') }), [`AUDIT_KEY_FILE: ${join(dir, 'audit.key')} is not a file`]);
});

test("issue 16: a key the gateway's user cannot read is named with its variable, the user and what to do", () => {
  const key = join(dir, 'server.key');
  writeFileSync(key, 'secret');
  chmodSync(key, 0o600);
  const pem = join(dir, 'readable.pem');
  writeFileSync(pem, 'x');
  chmodSync(pem, 0o644);
  const env = { TLS_CERT_FILE: pem, TLS_KEY_FILE: key, TLS_CLIENT_CA_FILE: pem };
  let out: { problems: string[]; uid: number };
  if (process.getuid!() === 0) {
    // root reads everything: ask as another user, as the container's does (the file stays root's, 0600)
    const script =
      `import { assertConfiguredFilesReadable, loadConfig } from ${JSON.stringify(resolve('src/shared/config.ts'))};` +
      `let problems = [];` +
      `try { assertConfiguredFilesReadable(loadConfig(${JSON.stringify({ ...env, DATA_DIR: join(dir, 'data') })})); }` +
      ` catch (e) { problems = e.problems ?? [String(e)]; }` +
      `console.log(JSON.stringify({ problems, uid: process.getuid() }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: dir },
    });
    assert.equal(r.status, 0, r.stderr);
    out = JSON.parse(r.stdout.trim().split('\n').pop()!) as typeof out;
  } else {
    chmodSync(key, 0o000);
    out = { problems: problemsOf(env), uid: process.getuid!() };
  }
  assert.deepEqual(out.problems, [
    `TLS_KEY_FILE: ${key} cannot be read by the gateway's user (uid ${out.uid}): permission denied. ` +
      'Give that user read access (chown or chmod; the container image runs as uid 10001, docs/operations.md)',
  ]);
});

test('issue 16: the uid the message names is the image’s user', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  assert.match(dockerfile, /groupadd --gid 10001 postkasse/);
  assert.match(dockerfile, /useradd --uid 10001 --gid postkasse /);
});
