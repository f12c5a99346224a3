#!/usr/bin/env node
// Runs every test file with node's test runner (TAP). Node 20 does not glob .ts
// files itself, so the list is made here and passed explicitly.
// Usage: node test/run.mjs [substring filters...]
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const found = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) found.push(relative(root, p));
  }
})(join(root, 'test'));

// The longest files start first, so that the two lanes finish together instead of one
// waiting on a long file that started last (seconds on a 2-core machine, measured 2026-12-02 in a fresh-clone CI run).
const LONGEST_FIRST = [
  'test/web/staff-pages.test.ts', // ~78 s: real Chromium
  'test/stress/crash.test.ts', // ~57 s: kill -9, on the file store and on S3
  'test/docs/docs.test.ts', // ~39 s: every doc's commands, as written, against a gateway
  'test/stress/hostile.test.ts', // ~28 s
  'test/medcom/gp-copy.test.ts', // ~23 s
  'test/delivery/push.test.ts', // ~18 s
];
const rank = (f) => (LONGEST_FIRST.includes(f) ? LONGEST_FIRST.indexOf(f) : LONGEST_FIRST.length);
found.sort((a, b) => rank(a) - rank(b));

const filters = process.argv.slice(2);
const files = filters.length ? found.filter((f) => filters.some((x) => f.includes(x))) : found;
if (files.length === 0) {
  console.error('test/run.mjs: no test files matched');
  process.exit(1);
}
// Every captured log line of the run goes here; test/logs.check.ts scans them all at the end.
// The PKI templates of the tests' own parties files (test/helpers/gateway.ts) live for one run.
for (const name of existsSync(join(root, '.tmp')) ? readdirSync(join(root, '.tmp')) : []) {
  if (/^test-pki-[0-9a-f]{16}/.test(name)) rmSync(join(root, '.tmp', name), { recursive: true, force: true });
}
const logDir = join(root, '.tmp', 'test-logs');
rmSync(logDir, { recursive: true, force: true });
const env = { ...process.env, NODE_ENV: 'test', POSTKASSE_TEST_LOG_DIR: logDir };

function run(list) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=2', ...list], {
      cwd: root,
      stdio: 'inherit',
      env,
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const code = await run(files);
// The log scan needs the whole suite; with a filter it only runs when asked for by name.
const scan = filters.length === 0 || filters.some((x) => 'test/logs.check.ts'.includes(x)) ? await run(['test/logs.check.ts']) : 0;
process.exit(code || scan);
