#!/usr/bin/env node
// `npm run check`: type check, lint, format, module boundaries and unused code. The steps are
// independent, so they run two at a time (the CI machine has two cores): ~30 s instead of ~60 s.
// Each step's output is printed whole when it ends; any failing step fails the check.
import { spawn } from 'node:child_process';

const STEPS = [
  ['typecheck', 'npm run --silent typecheck'],
  ['eslint', 'npx eslint -c .ci/eslint.config.js --max-warnings 0 src queues test bench .ci'],
  ['prettier', 'npx prettier --check --log-level warn src queues test bench .ci'],
  ['deps', 'npm run --silent deps'],
  ['knip', 'npm run --silent knip'],
];
const LANES = 2;

function run([name, cmd]) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, { shell: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    child.on('close', (code) => {
      const text = Buffer.concat(out).toString('utf8').trim();
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`[check] ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${secs} s${text ? `\n${text}` : ''}`);
      resolve(code === 0);
    });
  });
}

const queue = [...STEPS];
const results = [];
await Promise.all(
  Array.from({ length: LANES }, async () => {
    while (queue.length) results.push(await run(queue.shift()));
  }),
);
process.exit(results.every(Boolean) ? 0 : 1);
