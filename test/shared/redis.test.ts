/**
 * `npm start` on a fresh machine: when nothing answers at REDIS_URL, a private
 * redis-server from PATH is started; without one, the error says how to get Redis.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { connectRedis, RedisUnavailableError } from '../../src/shared/redis.js';
import { createLogger } from '../../src/shared/logger.js';
import { logCapture } from '../helpers/logs.js';

const dir = mkdtempSync(join(tmpdir(), 'pk-redis-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Timers that keep the process alive: a connect or close that leaves one makes every process using it linger at exit. */
const liveTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('a reachable Redis is used as configured', async () => {
  const cap = logCapture();
  const h = await connectRedis({
    url: 'redis://127.0.0.1:6379',
    startPrivate: true,
    dataDir: dir,
    log: createLogger({ destination: cap.stream }),
  });
  try {
    assert.equal(await h.client.ping(), 'PONG');
    assert.equal(h.url, 'redis://127.0.0.1:6379');
  } finally {
    await h.close();
  }
});

test('nothing answers and redis-server is on PATH: a private one is started, and stopped on close', async () => {
  const port = await freePort();
  const cap = logCapture();
  const timersBefore = liveTimers();
  const h = await connectRedis({
    url: `redis://127.0.0.1:${port}`,
    startPrivate: true,
    dataDir: dir,
    log: createLogger({ destination: cap.stream }),
  });
  try {
    assert.equal(await h.client.ping(), 'PONG');
    assert.match(h.url, /^unix:\/\/.*redis\.sock$/);
    assert.match(cap.lines.join('\n'), /starting a private redis-server/);
  } finally {
    await h.close();
  }
  assert.equal(existsSync(join(dir, 'redis', 'redis.sock')), false, 'the private redis-server has exited');
  assert.equal(liveTimers(), timersBefore, 'no timer is left running after close (the probe and the stop fallback are cleared)');
});

test('nothing answers and starting one is not allowed: the error says how to get Redis', async () => {
  const port = await freePort();
  const timersBefore = liveTimers();
  await assert.rejects(
    connectRedis({ url: `redis://127.0.0.1:${port}`, startPrivate: false, dataDir: dir, log: createLogger({ level: 'silent' }) }),
    (e: unknown) =>
      e instanceof RedisUnavailableError &&
      /apt-get install redis-server/.test(e.message) &&
      /REDIS_URL/.test(e.message) &&
      e.message.includes(`127.0.0.1:${port}`),
  );
  assert.equal(liveTimers(), timersBefore, 'the refused probe leaves no timer running');
});
