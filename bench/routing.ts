/**
 * Routing benchmark for bench/run.ts: time from receipt to the case appearing
 * in a staff member's worklist, with many cases arriving at once.
 *
 * The caller starts a gateway child connected to Redis (routing runs through
 * the transactional outbox, the relay, the BullMQ `routing` queue and its
 * worker) and hands over how to post one complete case. Here:
 *
 * 1. the worklists of the given staff members are polled back to back
 *    (`GET /v1/worklist`, one keep-alive connection each) for the whole run;
 *    each case id gets the client's Date.now() of the first answer that lists it;
 * 2. a few warm-up cases are posted and awaited (not measured);
 * 3. `cases` packages are posted at once (all requests opened together over a
 *    fresh keep-alive agent) and awaited in the worklists;
 * 4. latency per case = first seen in a worklist − the receipt's `receivedAt`
 *    (the gateway's timestamp; same host, same clock). It includes up to one
 *    worklist poll round trip.
 *
 * `assignedFromLog` adds a breakdown from the gateway's JSON log (the time of
 * its "case assigned" line per case), and `dropQueueKeys` removes a queue
 * prefix's keys from Redis afterwards.
 */
import https from 'node:https';
import { Redis } from 'ioredis';
import { get, logTimes } from './lib.js';

export interface TlsCreds {
  cert: string;
  key: string;
  ca: string;
}

export interface PostedCase {
  caseId: string;
  /** the receipt's receivedAt (ISO 8601) */
  receivedAt: string;
}

export interface RoutingRunOptions {
  port: number;
  /** posts one complete case over `agent` and returns its receipt (throws on anything but a valid 201) */
  postCase(agent: https.Agent): Promise<PostedCase>;
  senderCreds: TlsCreds;
  /** staff members (party id → client credentials) whose worklists are polled */
  staff: Record<string, TlsCreds>;
  /** a team lead, only to explain cases that never appeared */
  lead?: TlsCreds;
  cases: number;
  warmup: number;
  /** sockets for the burst */
  maxSockets: number;
  /** give up this long after the burst started */
  timeoutMs: number;
  /** agents are registered so that the caller's cleanup can destroy them */
  track(agent: https.Agent): void;
  untrack(agent: https.Agent): void;
  progress(s: string): void;
  interrupted(): boolean;
  /** around the measured burst (e.g. CPU profile of the gateway) */
  onBurstStart?(): Promise<unknown>;
  onBurstEnd?(): Promise<unknown>;
}

export interface RoutedCase {
  caseId: string;
  /** epoch ms of the receipt's receivedAt */
  receivedAt: number;
  /** epoch ms when the 201 answer had arrived at the client */
  answeredAt: number;
  /** epoch ms of the first worklist answer that listed the case */
  seenAt: number;
  seenBy: string;
}

export interface RoutingMeasurement {
  cases: RoutedCase[];
  /** burst start → last case seen, ms */
  wallMs: number;
  /** worklist poll round trips during the burst, ms */
  pollMs: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Back-to-back worklist polls, one loop (and one keep-alive connection) per staff member. */
function startPolling(opts: RoutingRunOptions, seen: Map<string, { at: number; by: string }>) {
  let stopped = false;
  let failure: Error | undefined;
  let pollMs: number[] = [];
  const agents: https.Agent[] = [];
  const loop = async (staffId: string, creds: TlsCreds) => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...creds });
    agents.push(agent);
    opts.track(agent);
    try {
      while (!stopped && !opts.interrupted()) {
        const r = await get({ agent, port: opts.port, path: '/v1/worklist', timeoutMs: 30_000 });
        const at = Date.now();
        if (r.status !== 200)
          throw new Error(`GET /v1/worklist as ${staffId} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
        const body = JSON.parse(r.body.toString('utf8')) as { items?: { caseId?: unknown }[] };
        if (!Array.isArray(body.items))
          throw new Error(`GET /v1/worklist as ${staffId}: no items array in ${r.body.toString('utf8').slice(0, 300)}`);
        for (const it of body.items) if (typeof it.caseId === 'string' && !seen.has(it.caseId)) seen.set(it.caseId, { at, by: staffId });
        pollMs.push(r.ms);
      }
    } catch (e) {
      if (!stopped) failure ??= e as Error;
    }
  };
  const loops = Promise.all(Object.entries(opts.staff).map(([id, c]) => loop(id, c)));
  return {
    failure: () => failure,
    /** round trips since the last call */
    takePollMs(): number[] {
      const p = pollMs;
      pollMs = [];
      return p;
    },
    async stop(): Promise<void> {
      stopped = true;
      await loops;
      for (const a of agents) {
        a.destroy();
        opts.untrack(a);
      }
    },
  };
}

/** Posts `n` cases at once over a fresh keep-alive agent; resolves when every 201 has arrived. */
async function postAll(opts: RoutingRunOptions, n: number): Promise<{ caseId: string; receivedAt: number; answeredAt: number }[]> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets, ...opts.senderCreds });
  opts.track(agent);
  try {
    return await Promise.all(
      Array.from({ length: n }, async () => {
        const r = await opts.postCase(agent);
        const answeredAt = Date.now();
        const receivedAt = Date.parse(r.receivedAt);
        if (!Number.isFinite(receivedAt))
          throw new Error(`receipt for case ${r.caseId} has an unreadable receivedAt ${JSON.stringify(r.receivedAt)}`);
        return { caseId: r.caseId, receivedAt, answeredAt };
      }),
    );
  } finally {
    agent.destroy();
    opts.untrack(agent);
  }
}

/** Best effort: why cases never appeared (their state as a team lead sees it). */
export async function explainMissing(
  opts: Pick<RoutingRunOptions, 'lead' | 'port' | 'track' | 'untrack'>,
  missing: string[],
): Promise<string> {
  if (!opts.lead || missing.length === 0) return '';
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...opts.lead });
  opts.track(agent);
  try {
    const states = new Map<string, number>();
    for (const id of missing.slice(0, 20)) {
      const r = await get({ agent, port: opts.port, path: `/v1/cases/${encodeURIComponent(id)}`, timeoutMs: 10_000 });
      const b = r.status === 200 ? (JSON.parse(r.body.toString('utf8')) as { state?: unknown; assignedTo?: unknown }) : {};
      const key =
        r.status === 200 ? `${String(b.state)}${b.assignedTo ? ` (assigned to ${String(b.assignedTo)})` : ''}` : `HTTP ${r.status}`;
      states.set(key, (states.get(key) ?? 0) + 1);
    }
    return ` States of ${Math.min(20, missing.length)} of them as team lead sees them: ${[...states].map(([k, v]) => `${v} × ${k}`).join(', ')}.`;
  } catch (e) {
    return ` (could not ask for their state: ${(e as Error).message})`;
  } finally {
    agent.destroy();
    opts.untrack(agent);
  }
}

async function awaitSeen(
  opts: RoutingRunOptions,
  poller: ReturnType<typeof startPolling>,
  seen: Map<string, unknown>,
  ids: string[],
  deadline: number,
  what: string,
): Promise<void> {
  for (;;) {
    const f = poller.failure();
    if (f) throw f;
    if (opts.interrupted()) throw new Error('interrupted');
    const missing = ids.filter((id) => !seen.has(id));
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `routing: ${missing.length} of ${ids.length} ${what} cases did not appear in the worklist of ${Object.keys(opts.staff).join(' or ')} ` +
          `within ${Math.round(opts.timeoutMs / 1000)} s.` +
          (await explainMissing(opts, missing)),
      );
    }
    await sleep(5);
  }
}

export async function measureRouting(opts: RoutingRunOptions): Promise<RoutingMeasurement> {
  const seen = new Map<string, { at: number; by: string }>();
  const poller = startPolling(opts, seen);
  try {
    opts.progress(`routing: ${opts.warmup} warm-up cases`);
    const w0 = Date.now();
    const warm = await postAll(opts, opts.warmup);
    await awaitSeen(
      opts,
      poller,
      seen,
      warm.map((c) => c.caseId),
      w0 + opts.timeoutMs,
      'warm-up',
    );

    // Let the gateway settle (deadline reminders, relay) before the burst.
    await sleep(500);
    await opts.onBurstStart?.();
    opts.progress(`routing: posting ${opts.cases} cases at once`);
    poller.takePollMs();
    const t0 = Date.now();
    const posted = await postAll(opts, opts.cases);
    const ids = posted.map((c) => c.caseId);
    if (new Set(ids).size !== ids.length) throw new Error('routing: two receipts named the same case');
    await awaitSeen(opts, poller, seen, ids, t0 + opts.timeoutMs, 'measured');
    const wallMs = Date.now() - t0;
    const pollMs = poller.takePollMs();
    await opts.onBurstEnd?.();
    return {
      cases: posted.map((c) => {
        const s = seen.get(c.caseId)!;
        return { ...c, seenAt: s.at, seenBy: s.by };
      }),
      wallMs,
      pollMs,
    };
  } finally {
    await poller.stop();
  }
}

/** Epoch ms of the gateway's "case assigned" log line per case id (pino's `time`); cases without one are absent. */
export const assignedFromLog = (logFile: string): Map<string, number> => logTimes(logFile, 'case assigned', 'caseId');

/** Is Redis answering at `url`? Resolves to null, or to why not. */
export async function redisProblem(url: string): Promise<string | null> {
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 });
  let cause: string | undefined; // the socket error ("connect ECONNREFUSED …") says more than the rejection ("Connection is closed.")
  c.on('error', (e: Error) => (cause ??= e.message));
  try {
    await c.connect();
    await c.ping();
    return null;
  } catch (e) {
    return cause ?? (e as Error).message;
  } finally {
    c.disconnect();
  }
}

/** Deletes every key under `${prefix}:` (SCAN + DEL); resolves to the number deleted. */
export async function dropQueueKeys(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 3_000 });
  redis.on('error', () => {});
  let n = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) n += await redis.del(...keys);
    } while (cursor !== '0');
    return n;
  } finally {
    redis.disconnect();
  }
}
