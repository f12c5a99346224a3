/**
 * Redis for the queues. `npm start` on a fresh machine should just work: when
 * nothing answers at the configured URL and `redis-server` is on PATH, a
 * private one is started under DATA_DIR (unix socket, append-only file). When
 * neither works, the error says how to get one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisHandle {
  /** Connection options for BullMQ and other clients. */
  options: RedisOptions;
  url: string;
  /** A client for readiness checks and small commands. */
  client: Redis;
  /** Stops the private redis-server, if this process started one. */
  close(): Promise<void>;
}

export class RedisUnavailableError extends Error {
  constructor(url: string, why: string) {
    super(
      `Redis is not reachable at ${url} (${why}).\n` +
        'Postkasse needs Redis for its work queues. Either\n' +
        '  - install Redis so that `redis-server` is on PATH ' +
        '(Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) — npm start then runs a private one under DATA_DIR, or\n' +
        '  - start one yourself (redis-server --port 6379, or docker compose up redis), or\n' +
        '  - point REDIS_URL at an existing Redis (redis://host:6379).',
    );
    this.name = 'RedisUnavailableError';
  }
}

export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  const opts: RedisOptions = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    maxRetriesPerRequest: null, // required by BullMQ workers
    enableReadyCheck: true,
  };
  if (u.password) opts.password = decodeURIComponent(u.password);
  if (u.username) opts.username = decodeURIComponent(u.username);
  if (u.pathname && u.pathname.length > 1) opts.db = Number(u.pathname.slice(1));
  if (u.protocol === 'rediss:') opts.tls = {};
  return opts;
}

async function ping(options: RedisOptions, timeoutMs: number): Promise<string | null> {
  const c = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.ping();
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    // A refused connection has already ended; disconnecting it again leaves ioredis's 2 s destroy timer running.
    if (c.status !== 'end') c.disconnect();
  }
}

function onPath(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

export async function connectRedis(opts: { url: string; startPrivate: boolean; dataDir: string; log: Logger }): Promise<RedisHandle> {
  let options = redisOptionsFromUrl(opts.url);
  let url = opts.url;
  let child: ChildProcess | null = null;
  const why = await ping(options, 1500);
  if (why) {
    const bin = opts.startPrivate ? onPath('redis-server') : null;
    if (!bin) throw new RedisUnavailableError(opts.url, why);
    const dir = join(opts.dataDir, 'redis');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const socket = join(dir, 'redis.sock');
    opts.log.warn({ url: opts.url }, `Redis not reachable (${why}); starting a private redis-server (${bin}) on ${socket}`);
    child = spawn(
      bin,
      [
        '--port',
        '0',
        '--unixsocket',
        socket,
        '--unixsocketperm',
        '700',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--save',
        '',
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    options = { path: socket, maxRetriesPerRequest: null, enableReadyCheck: true };
    url = `unix://${socket}`;
    let err: string | null = 'not started';
    for (let i = 0; i < 50 && err; i++) {
      await new Promise((r) => setTimeout(r, 100));
      err = await ping(options, 500);
    }
    if (err) {
      child.kill('SIGTERM');
      throw new RedisUnavailableError(opts.url, `a private redis-server did not answer: ${err}`);
    }
  }
  const client = new Redis({ ...options, maxRetriesPerRequest: 1 });
  client.on('error', (e) => opts.log.warn({ err: e }, 'redis connection error'));
  return {
    options,
    url,
    client,
    async close() {
      await client.quit().catch(() => client.disconnect());
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child!.once('exit', r));
        child.kill('SIGTERM');
        // The fallback timer is cleared once the server exits: left running, it kept the process alive 5 s longer.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
      }
    },
  };
}
