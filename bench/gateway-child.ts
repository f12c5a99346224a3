/**
 * Benchmark child: runs one real gateway (startGateway) in its own process so
 * that its RSS and CPU are measured apart from the load generator.
 *
 * Configuration is the gateway's own environment (DATA_DIR, PORT=0, HOST,
 * MAX_DOCUMENT_BYTES, MAX_PACKAGE_BYTES, DATABASE_URL, …, see
 * src/shared/config.ts) plus:
 *   BENCH_LOG_FILE   where the gateway's JSON log goes (default: /dev/null)
 *   BENCH_DB_SCHEMA  PostgreSQL schema (with DATABASE_URL)
 *   BENCH_WITH_REDIS "1" to connect to Redis as `npm start` does (intake does not use it)
 *
 * Prints one JSON line on stdout when listening:
 *   { "ready": true, "pid", "port", "staffPort", "staffBaseUrl", "devIdpIssuer", "caCert", "serverCert",
 *     "serverKey", "clients": { partyId: { cert, key } } }
 * (PEM file paths; staffPort and staffBaseUrl are the staff pages' HTTPS listener (STAFF_PORT),
 * devIdpIssuer the development identity provider's issuer when it runs, else null). Stops gracefully on SIGTERM, SIGINT or when stdin
 * closes (the parent died). On stdin it takes "profile-start",
 * "profile-stop <file>" (main-thread CPU profile of a chosen window),
 * "memory" (process.memoryUsage() in MiB) and "gc" (cumulative GC pauses by kind).
 */
import { openSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import v8 from 'node:v8';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { startGateway, type Gateway } from '../src/server.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // Asynchronous like pino's default stdout destination; the file is opened here so the stream is ready at once.
  const dest = pino.destination({ fd: openSync(process.env.BENCH_LOG_FILE || '/dev/null', 'a'), sync: false });
  const log = createLogger({ level: config.LOG_LEVEL, destination: dest, name: 'postkasse-bench' });

  let gw: Gateway | undefined; // eslint-disable-line prefer-const -- assigned after the signal handlers exist
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    const hard = setTimeout(() => process.exit(3), 10_000);
    hard.unref();
    void (async () => {
      try {
        await gw?.close();
      } catch (e) {
        process.stderr.write(`gateway-child: close failed (${why}): ${(e as Error).message}\n`);
      }
      try {
        dest.flushSync();
      } catch {
        /* not yet open, or already closed */
      }
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.stdin.on('end', () => stop('stdin closed'));
  process.stdin.on('error', () => stop('stdin error'));
  // Commands from the parent, one per line: "profile-start", "profile-stop <file>", "memory", "gc".
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) void command(line);
    }
  });

  gw = await startGateway(config, log, {
    dbSchema: process.env.BENCH_DB_SCHEMA || undefined,
    withRedis: process.env.BENCH_WITH_REDIS === '1',
  });
  if (stopping) {
    await gw.close();
    return;
  }
  const pki = gw.tls.devPki;
  if (!pki) throw new Error('the benchmark expects the development PKI (no TLS_CERT_FILE / RECEIPT_CERT_FILE)');
  process.stdout.write(
    JSON.stringify({
      ready: true,
      pid: process.pid,
      port: gw.port,
      staffPort: gw.staffPort,
      staffBaseUrl: gw.staffBaseUrl,
      devIdpIssuer: gw.devIdpIssuer ?? null,
      caCert: pki.caCert,
      serverCert: pki.serverCert,
      serverKey: pki.serverKey,
      clients: pki.clients,
    }) + '\n',
  );
}

/** Cumulative garbage-collection pauses on the event loop, by kind (perf_hooks 'gc' entries). */
const gcStats: Record<string, { count: number; ms: number }> = {};
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = GC_KINDS[(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
    const s = (gcStats[kind] ??= { count: 0, ms: 0 });
    s.count++;
    s.ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

/**
 * Main-thread CPU profile of a window chosen by the parent (the measured
 * requests only, without start-up and warm-up), via the inspector. Answers
 * each command with one JSON line on stdout.
 */
let session: Session | undefined;
async function command(line: string): Promise<void> {
  const reply = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) => session!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
  try {
    const [cmd, arg] = [line.split(' ')[0], line.slice(line.indexOf(' ') + 1)];
    if (cmd === 'profile-start') {
      session ??= new Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
      reply({ ok: true });
    } else if (cmd === 'profile-stop' && session) {
      const { profile } = await post<{ profile: unknown }>('Profiler.stop');
      session.disconnect();
      session = undefined;
      writeFileSync(arg, JSON.stringify(profile));
      reply({ ok: true, file: arg });
    } else if (cmd === 'gc') {
      reply({ ok: true, gc: gcStats });
    } else if (cmd === 'memory') {
      const mb = (n: number) => Math.round((n / 1048576) * 10) / 10;
      const m = process.memoryUsage();
      reply({
        ok: true,
        rssMb: mb(m.rss),
        heapTotalMb: mb(m.heapTotal),
        heapUsedMb: mb(m.heapUsed),
        externalMb: mb(m.external),
        arrayBuffersMb: mb(m.arrayBuffers),
        // V8's spaces, committed (what of the heap is resident): new space is what --max-semi-space-size bounds
        spacesMb: Object.fromEntries(v8.getHeapSpaceStatistics().map((sp) => [sp.space_name, mb(sp.physical_space_size)])),
      });
    } else {
      reply({ ok: false, error: `unknown command ${line}` });
    }
  } catch (e) {
    reply({ ok: false, error: (e as Error).message });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`gateway-child: start-up failed: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
