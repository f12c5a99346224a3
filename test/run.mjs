#!/usr/bin/env node
// Runs every test file with node's test runner (TAP). Node 20 does not glob .ts
// files itself, so the list is made here and passed explicitly.
// Usage: node test/run.mjs [substring filters...]
import { readdirSync, statSync } from 'node:fs';
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

const filters = process.argv.slice(2);
const files = filters.length ? found.filter((f) => filters.some((x) => f.includes(x))) : found;
if (files.length === 0) {
  console.error('test/run.mjs: no test files matched');
  process.exit(1);
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
