#!/usr/bin/env node
// Smoke test of the built bundle (run after `npm run build`, see .ci/run):
// starts `node dist/main.js` on a fresh DATA_DIR (embedded database, dev PKI)
// with any free ports, waits for /readyz, sends one demo package with the
// built CLI (`node dist/cli/main.js send --demo`), checks the receipt's
// signature with the real `openssl cms -verify`, then stops the gateway with
// SIGTERM and expects a clean exit (code 0, 'shut down' logged).
//
// Always: kills what it started, removes its temp dir and the Redis keys of
// its own QUEUE_PREFIX. Plain Node; ioredis comes from the project's
// dependencies. Needs Redis at REDIS_URL (default redis://127.0.0.1:6379).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REDIS_URL = 'redis://127.0.0.1:6379';
const READY_TIMEOUT_MS = 60_000;
const SEND_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const KEEP_LOG_LINES = 40;

// Gateway variables that must not leak in from the caller's environment: the
// smoke test runs on its own DATA_DIR with the embedded database and dev PKI.
const GATEWAY_VARS = [
  'DATABASE_URL',
  'TLS_CERT_FILE',
  'TLS_KEY_FILE',
  'TLS_CLIENT_CA_FILE',
  'TLS_CRL_FILE',
  'RECEIPT_CERT_FILE',
  'RECEIPT_KEY_FILE',
  'PUSH_CLIENT_CERT_FILE',
  'PUSH_CLIENT_KEY_FILE',
  'PUSH_CA_FILE',
  'STORAGE_KEY_FILE',
  'PARTIES_FILE',
  'AGREEMENTS_FILE',
];

const started = Date.now();
const since = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const say = (msg) => console.log(`[smoke] ${msg} (${since()})`);

class SmokeError extends Error {}
const fail = (msg) => {
  throw new SmokeError(msg);
};

const tmp = mkdtempSync(join(tmpdir(), 'postkasse-smoke-'));
const dataDir = join(tmp, 'data');
const receiptsDir = join(tmp, 'receipts');
const prefix = `smoke-${randomBytes(6).toString('hex')}`;

const env = { ...process.env };
for (const k of GATEWAY_VARS) delete env[k];
Object.assign(env, {
  DATA_DIR: dataDir,
  HOST: '127.0.0.1',
  PORT: '0',
  HEALTH_PORT: '0',
  STAFF_PORT: '0',
  DEV_IDP_PORT: '0',
  START_REDIS: 'never',
  REDIS_URL,
  QUEUE_PREFIX: prefix,
  LOG_LEVEL: 'info',
});

/** The gateway's last output lines (stdout JSON and stderr), for the failure report. */
const gatewayLines = [];
const keep = (line) => {
  gatewayLines.push(line);
  if (gatewayLines.length > KEEP_LOG_LINES) gatewayLines.shift();
};
/** Parsed JSON log records, with waiters for a given msg. */
const records = [];
const waiters = new Set();
let gateway;
let gatewayExit; // Promise<{ code, signal }>
let gatewayClosed; // Promise<void>: exited and its output fully read
let exited;
let cliChild;
const exitListeners = new Set();

function onRecord(rec) {
  records.push(rec);
  for (const w of [...waiters]) if (w.match(rec)) w.resolve(rec);
}

/** Resolves with the first log record whose msg starts with `msg`; rejects on timeout or gateway exit. */
function waitForLog(msg, timeoutMs) {
  const match = (r) => typeof r.msg === 'string' && r.msg.startsWith(msg);
  const seen = records.find(match);
  if (seen) return Promise.resolve(seen);
  if (exited)
    return Promise.reject(new SmokeError(`gateway exited (code ${exited.code}, signal ${exited.signal}) before logging '${msg}'`));
  return new Promise((resolve, reject) => {
    const w = {
      match,
      resolve: (r) => {
        cleanup();
        resolve(r);
      },
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new SmokeError(`no '${msg}' log line within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onExit = ({ code, signal }) => {
      cleanup();
      reject(new SmokeError(`gateway exited (code ${code}, signal ${signal}) before logging '${msg}'`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      waiters.delete(w);
      exitListeners.delete(onExit);
    };
    waiters.add(w);
    exitListeners.add(onExit);
  });
}

function startGateway() {
  gateway = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  gatewayExit = new Promise((resolve) => {
    gateway.on('exit', (code, signal) => {
      exited = { code, signal };
      for (const l of [...exitListeners]) l(exited);
      resolve(exited);
    });
  });
  gatewayClosed = new Promise((resolve) => gateway.on('close', () => resolve()));
  gateway.on('error', (err) => keep(`[spawn error] ${err.message}`));
  createInterface({ input: gateway.stdout }).on('line', (line) => {
    keep(line);
    try {
      const rec = JSON.parse(line);
      if (rec && typeof rec === 'object') onRecord(rec);
    } catch {
      // not a JSON log line: kept for the report only
    }
  });
  createInterface({ input: gateway.stderr }).on('line', (line) => keep(`[stderr] ${line}`));
}

function getStatus(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
  });
}

async function waitReady(healthPort, deadline) {
  const url = `http://127.0.0.1:${healthPort}/readyz`;
  let last;
  while (Date.now() < deadline) {
    if (exited) fail(`gateway exited (code ${exited.code}, signal ${exited.signal}) before it was ready`);
    last = await getStatus(url);
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(`${url} did not answer 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last ?? 'no answer'})`);
}

/** Runs a command to completion; resolves with { code, signal, stdout, stderr }. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (opts.track) cliChild = child;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? SEND_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SmokeError(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (opts.track) cliChild = undefined;
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const indent = (s) =>
  s
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');

/**
 * The PostgreSQL writer thread's bundle (the gateway on PostgreSQL commits through it; the gateway below runs on the
 * embedded database): loads, connects, commits one statement, and ends on `close`.
 */
async function pgWriterThread() {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const w = new Worker(join(ROOT, 'dist/storage/pg-writer.js'), {
    workerData: { pool: { url, max: 1, applicationName: 'postkasse smoke' }, auditKey: null },
  });
  const exited = new Promise((resolve) => w.once('exit', resolve));
  const replies = [];
  const settled = new Promise((resolve, reject) => {
    w.on('error', reject);
    w.on('message', (m) => {
      if (m.ready) {
        w.postMessage({ id: 1, ops: [{ sql: 'select 1', params: [] }] });
        return;
      }
      replies.push(m);
      resolve();
    });
  });
  const timer = setTimeout(() => w.terminate(), SEND_TIMEOUT_MS);
  try {
    await Promise.race([settled, exited.then((code) => fail(`dist/storage/pg-writer.js exited (code ${code}) before it answered`))]);
  } finally {
    clearTimeout(timer);
  }
  if (!replies[0]?.ok) fail(`dist/storage/pg-writer.js: the commit failed: ${JSON.stringify(replies[0])}`);
  w.postMessage({ close: true });
  const code = await exited;
  if (code !== 0) fail(`dist/storage/pg-writer.js ended with code ${code} on close`);
  say('dist/storage/pg-writer.js committed on PostgreSQL and closed');
}

async function smoke() {
  for (const f of [
    'dist/main.js',
    'dist/cli/main.js',
    'dist/storage/sqlite-writer.js',
    'dist/storage/blob-writer-thread.js',
    'dist/storage/pg-writer.js',
    'dist/medcom/validator-process.js',
  ]) {
    if (!existsSync(join(ROOT, f))) fail(`${f} is missing: run \`npm run build\` first`);
  }
  // The S3 store's AWS SDK is imported on demand (BLOB_STORE=s3): the split build keeps it out of the entry, so a
  // gateway on the file store never loads it (~6 MB of an idle gateway, issue 16).
  const loadedAtStart = (file, seen = new Set()) => {
    if (seen.has(file)) return seen;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^import\b[^;]*?"(\.[^"]+)";/gms)) loadedAtStart(join(dirname(file), m[1]), seen);
    return seen;
  };
  for (const f of loadedAtStart(join(ROOT, 'dist/main.js'))) {
    if (/^import\b[^;]*?"@aws-sdk\//m.test(readFileSync(f, 'utf8'))) {
      fail(`${f} imports the AWS SDK when the gateway starts: is the build split (--splitting)?`);
    }
  }
  await pgWriterThread();
  say(`starting node dist/main.js (DATA_DIR ${dataDir}, QUEUE_PREFIX ${prefix})`);
  startGateway();
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const listening = await waitForLog('Postkasse listening (mutual TLS)', READY_TIMEOUT_MS);
  const { port, healthPort } = listening;
  if (!Number.isInteger(port) || port <= 0) fail(`the listening line carries no port: ${JSON.stringify(listening)}`);
  if (!Number.isInteger(healthPort) || healthPort <= 0) fail(`the listening line carries no healthPort: ${JSON.stringify(listening)}`);
  say(`listening on ${port} (mTLS), health on ${healthPort}`);
  await waitReady(healthPort, deadline);
  say('GET /readyz: 200');

  const send = await run(
    process.execPath,
    ['dist/cli/main.js', 'send', '--demo', '--url', `https://127.0.0.1:${port}`, '--out', receiptsDir],
    { track: true, timeoutMs: SEND_TIMEOUT_MS },
  );
  if (send.code !== 0) {
    fail(
      `send --demo exited with ${send.code ?? send.signal}` +
        `\n  stdout:\n${indent(send.stdout || '(empty)')}\n  stderr:\n${indent(send.stderr || '(empty)')}`,
    );
  }
  const receipts = existsSync(receiptsDir) ? readdirSync(receiptsDir).filter((f) => /^receipt-.+\.json$/.test(f)) : [];
  if (receipts.length !== 1) fail(`expected one receipt file in ${receiptsDir}, found ${receipts.length}\n${indent(send.stdout)}`);
  const receiptFile = join(receiptsDir, receipts[0]);
  const sigFile = receiptFile.replace(/\.json$/, '.sig.der');
  if (!existsSync(sigFile)) fail(`receipt ${receipts[0]} has no signature file ${sigFile}`);
  let receipt;
  try {
    receipt = JSON.parse(readFileSync(receiptFile, 'utf8'));
  } catch (err) {
    fail(`receipt ${receiptFile} is not JSON: ${err.message}`);
  }
  say(`send --demo: exit 0, receipt ${receipt.receiptId ?? receipts[0]} (case ${receipt.caseId ?? '?'})`);

  const caFile = join(dataDir, 'pki', 'ca.pem');
  const verify = await run(
    'openssl',
    ['cms', '-verify', '-binary', '-inform', 'DER', '-in', sigFile, '-content', receiptFile, '-CAfile', caFile, '-out', '/dev/null'],
    { timeoutMs: 30_000 },
  );
  if (verify.code !== 0) {
    fail(`openssl cms -verify exited with ${verify.code ?? verify.signal}\n${indent(`${verify.stdout}${verify.stderr}`)}`);
  }
  say(`openssl cms -verify: ${(verify.stderr.trim() || 'ok').split('\n').pop()}`);

  say('SIGTERM');
  const stopAt = Date.now();
  gateway.kill('SIGTERM');
  const result = await Promise.race([gatewayExit, new Promise((r) => setTimeout(() => r(undefined), STOP_TIMEOUT_MS))]);
  if (!result) fail(`gateway still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM`);
  if (result.code !== 0) fail(`gateway exited with code ${result.code}, signal ${result.signal} after SIGTERM (expected 0)`);
  // stdout may still be draining after 'exit': read it to the end first
  await Promise.race([gatewayClosed, new Promise((r) => setTimeout(r, 5000))]);
  if (!records.some((r) => r.msg === 'shut down')) fail(`gateway exited 0 but logged no 'shut down' line`);
  say(`exit 0 after ${Date.now() - stopAt} ms, 'shut down' logged`);
}

async function deleteRedisKeys() {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await redis.del(...keys);
    } while (cursor !== '0');
    return n;
  } finally {
    redis.disconnect();
  }
}

async function cleanup() {
  if (cliChild && cliChild.exitCode === null && cliChild.signalCode === null) cliChild.kill('SIGKILL');
  if (gateway && !exited) {
    gateway.kill('SIGKILL');
    await Promise.race([gatewayExit, new Promise((r) => setTimeout(r, 5000))]);
  }
  try {
    const n = await deleteRedisKeys();
    say(`removed ${n} Redis key(s) ${prefix}:*`);
  } catch (err) {
    console.error(`[smoke] warning: could not remove the Redis keys ${prefix}:*: ${err.message}`);
  }
  rmSync(tmp, { recursive: true, force: true });
}

let ok = false;
try {
  await smoke();
  ok = true;
} catch (err) {
  console.error(`[smoke] FAILED: ${err instanceof SmokeError ? err.message : (err?.stack ?? err)}`);
  console.error(`[smoke] last ${gatewayLines.length} gateway log line(s):`);
  for (const l of gatewayLines) console.error(`  ${l}`);
} finally {
  await cleanup();
}
console.log(`smoke: ${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed (${since()})`);
process.exit(ok ? 0 : 1);
