/**
 * Postkasse benchmark: `npm run bench [-- options]`.
 *
 *   intake       1 MiB packages (one PDF document each), 16 concurrent mTLS
 *                keep-alive clients, N packages after a warm-up; alternated
 *                with a bare HTTPS baseline that does the same durable work
 *                (SHA-256 + AES-256-GCM + fsync + rename + dir fsync) and
 *                nothing else. Medians over the rounds. Targets (issue 16): throughput
 *                ≥ 0.75 × the baseline's on SQLite, ≥ 0.5 × on PostgreSQL (--postgres);
 *                receipt p99 ≤ 1.5 × the baseline's p99 (file store; none is set on S3).
 *   intake-full  the same gateway as npm start runs it, with Redis: the per-sender rate and
 *                uploads in flight counted in Redis, and after each receipt the work it
 *                queues on the same CPUs (the outbox relay, the receipt's RFC 3161 timestamp
 *                from the in-process development TSA, routing the case to a coordinator).
 *                The baseline and the ratio as for intake; issue 16's targets are defined on
 *                the receipt path alone (intake), so none is checked here.
 *   intake-s3    the same with the documents in an S3-compatible store on both sides:
 *                s3rver on loopback in a child of its own (bench/s3-child.ts), the
 *                gateway with BLOB_STORE=s3, the baseline uploading its ciphertext to the
 *                same bucket as the S3 blob store does (lib-storage Upload). Target:
 *                throughput ≥ 0.5 × the baseline's. The S3 server's CPU is not counted
 *                as foreign load.
 *   largeUpload  first the idle gateway: a child without the development IdP (OIDC_ISSUER
 *                set; production shape but for the development PKI and TSA) left alone
 *                for 75 s, until its RSS has settled (V8's memory reducer, after 30-45 s). Then one 1 GiB
 *                document generated on the fly by the client, 5 runs, each into a fresh
 *                gateway child (development configuration) left idle 2 s first: the idle
 *                RSS, the peak RSS (VmHWM) and MB/s. Targets (issue 16): peak − idle ≤ 48 MB
 *                in every run; settled idle RSS ≤ 110 MB (met on PostgreSQL; on SQLite, with its
 *                writer thread, the README breaks it down).
 *   routing      time from receipt to the case appearing in a worklist: a gateway
 *                child connected to Redis (outbox → relay → BullMQ routing queue →
 *                worker), 200 complete cases (4 KiB PDF) posted at once by
 *                kommune-101 after 10 warm-up cases, while the worklists of
 *                coord-anna and coord-carl are polled back to back; per case
 *                first seen in a worklist − the receipt's receivedAt (so it
 *                includes up to one poll round trip); p50, p99 (target ≤ 1 s), max.
 *                Needs Redis (BENCH_REDIS_URL); uses its own key prefix
 *                (bench-<hex>), whose keys are deleted at the end.
 *   delivery     time from an accepted response to the message being readable in
 *                both mailboxes: a fresh gateway child connected to Redis (own data
 *                directory and key prefix), 205 clinical-assessment cases from
 *                kommune-101 (4 KiB PDF, GP ydernummer 057584) posted 16 at a time
 *                and awaited in the worklists of spec-bo and spec-eva (the
 *                assignees); 5 warm-up responses, then 200 specialist attests
 *                (64 KiB PDF each) posted at once by their assignees (64 in flight,
 *                a fresh keep-alive agent per specialist), while the mailboxes of
 *                kommune-101 (the addressee) and gp-057584 (the GP's copy) are
 *                polled back to back; per response the later first appearance of
 *                its two messages in a mailbox list − the client's arrival of the
 *                201 (clamped at 0 when a poll saw them before the 201 arrived; how
 *                many were is shown in the row when any were), so it includes up to one poll round
 *                trip; p50, p99 (target ≤ 1 s), max. The same from the 201's sentAt
 *                is printed too. Every 10th response's two envelopes are read
 *                (GET /v1/mailbox/{id}) as soon as they are listed and checked
 *                (200, Message-Signature, JSON naming the message, case, sentAt
 *                and recipient, the PDF's SHA-256 in document.data; the GP's copy
 *                is a MedCom CareCommunication, built and validated against
 *                MedCom's profiles in the response's request: its
 *                MessageHeader.id, Communication.sent and the attachment's
 *                SHA-256). Needs Redis
 *                like routing; its keys (prefix bench-<hex>) are deleted at the end.
 *   web          the staff pages' server time with 10 000 open cases, 200 of them the
 *                signed-in coordinator's (bench/web.ts): a fresh gateway child without
 *                Redis (own data directory, or its own PostgreSQL schema; nothing routes
 *                or reassigns behind the benchmark), 50 real packages posted over mTLS by
 *                kommune-101 and kommune-147 (4 KiB PDF; rehab-team-advice, some urgent,
 *                early-pension-statement, ongoing-case-advice, clinical-assessment) and
 *                assigned by SQL as routing would, 30 of them to coord-anna; then their
 *                case rows cloned by SQL from this process (new ids and citizens, received
 *                over the last 120 days, deadlines moved along) to 10 000 open cases,
 *                exactly 200 coord-anna's, the rest coord-carl's, coord-x's, spec-bo's and
 *                spec-eva's. Login as coord-anna through the real OIDC flow (the development
 *                IdP's login page, subject dev-anna-holm; HTTPS trusting the dev CA); 20
 *                warm-up GETs of each page, then N sequential GETs (one keep-alive
 *                connection) of `/` (Arbejdsliste) and N of `/sager/{caseId}` cycling over
 *                her 30 posted cases (N 300, quick 100). Server time = `ms` of the gateway's
 *                'staff page' log line for exactly those requests (request in → response
 *                finished); p50, p95 (target < 100 ms), max, and the client round trip.
 *                Page weight of `/`: HTML + /static/app.css + /static/app.js (target
 *                < 100 KB). Does not need Redis.
 *
 *   numbers      the region's reports on a year of records (bench/numbers.ts): 20 000
 *                cases seeded by SQL for the 98 municipalities, then the month's
 *                settlement statements, the §18 stk. 2 price cap, the waiting-time
 *                statistics (every clock recomputed from its events) and the §17
 *                stk. 4 volumes, in process, 5 runs each.
 *
 * The parts run in this order: intake, intake-full, intake-s3, largeUpload, routing, delivery, web, numbers.
 *
 * Options:
 *   --json              stdout carries only the JSON line (the table goes to stderr)
 *   --only intake|intake-full|intake-s3|large|routing|delivery|web|numbers
 *                       run one part
 *   --quick             fewer packages and rounds, a 256 MiB large upload, 100 page
 *                       requests of each staff page instead of 300 (routing and delivery
 *                       keep their 200, web its 10 000 / 200 cases: the targets are
 *                       defined for those)
 *   --postgres          gateway on PostgreSQL (127.0.0.1:5432, a throw-away schema) instead of SQLite
 *   --rounds N          intake rounds per side (default 3, quick 1)
 *   --count N           measured packages per round (default 400, quick 100)
 *   --large-mb N        size of the large document in MiB (default 1024, quick 256)
 *   --large-runs N      large uploads, each into a fresh gateway child (default 5, quick 1)
 *   --profile DIR       main-thread CPU profiles of the gateway child over the measured
 *                       requests only (inspector; no start-up, no warm-up), written to
 *                       DIR/intake-round<N>.cpuprofile, DIR/large-<run>.cpuprofile, DIR/routing.cpuprofile
 *                       (the 200-case burst), DIR/delivery.cpuprofile (the 200-response
 *                       burst, until every sampled envelope was read) and DIR/web.cpuprofile
 *                       (the measured page requests); summarise with
 *                       `node --import tsx bench/profile-summary.ts DIR/intake-round1.cpuprofile`
 *   --tsx               run the gateway child from the TypeScript sources through the tsx
 *                       loader instead of the esbuild bundle that `npm start` runs (the
 *                       loader adds ~45 MB of RSS)
 *   --node-arg=OPT      pass a node option to the gateway child (repeatable), e.g.
 *                       --node-arg=--perf-basic-prof to read JS frames in `perf record -t <pid>`
 *   --keep              keep the temp directory (gateway log, database) for inspection
 *
 * Table columns (intake, per measured package unless noted): server CPU = all threads
 * of the server child (/proc); event-loop CPU = its main thread only; "event loop
 * on CPU / run queue" = share of wall time the main thread ran / was runnable but
 * waiting for a CPU (schedstat; the two together near 100% = saturated event loop);
 * client CPU = this load generator; other load = CPUs kept busy by processes outside
 * the bench during the round (a warning is printed when it is significant).
 * Profiling helpers: bench/profile-summary.ts (inspector profiles), bench/perf-categories.ts
 * (Linux perf, on-CPU time by component).
 *
 * Routing table rows: "receipt → in a worklist" is the measure; "receipt → assigned"
 * (time of the gateway's "case assigned" log line) and "assigned → seen in a worklist"
 * split it; "receipt → 201 at the client" is when the sender had its receipt.
 *
 * Delivery table rows: "201 → in both mailboxes" is the measure, split by mailbox;
 * "sentAt → in both mailboxes" measures from the gateway's sentAt instead (taken before
 * the envelopes are signed and the transaction commits); "sentAt → committed" is the
 * gateway's "response dispatched" log line, logged right after the commit, and
 * "committed → in both mailboxes" the rest; "201 → envelope read" is the sampled reads.
 *
 * Web table rows: per page, the server time (the gateway's 'staff page' log line: from the
 * staff app's first middleware to the response finished, so it includes the session lookup
 * and, for a case page, the access-log entry written before it is shown) and the client
 * round trip; gateway CPU per page (all threads / the event loop) over each series.
 *
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) for --postgres;
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379) for routing and delivery.
 *
 * The gateway and the baseline run as child processes (bench/gateway-child.ts,
 * bench/baseline-child.ts) on 127.0.0.1 ephemeral ports, in a temp directory
 * that is removed at the end, also on error and Ctrl-C. "MB" here is MiB
 * (2^20 bytes). The routing and delivery parts' Redis keys (and, with --postgres,
 * their own schemas) are removed at the end too. The last line of stdout is one
 * JSON object: { machine, intake, intakeFull, intakeS3, largeUpload, routing: { p99MsToWorklist,
 * p50MsToWorklist, cases }, delivery: { p99MsToMailboxes, p50MsToMailboxes,
 * responses }, web: { p95MsWorklist, p50MsWorklist, p95MsCasePage, p50MsCasePage,
 * pageKb, openCases, staffCases, requests } } (null for a part that did not run).
 * The exit code is non-zero only on errors; a missed target prints a MISSED line.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMultipart } from '../src/cli/multipart.js';
import { localDate } from '../src/deadlines/calendar.js';
import {
  cpuSeconds,
  generatedPdfMultipart,
  liveChildren,
  machineBusySeconds,
  median,
  memory,
  MiB,
  percentile,
  post,
  postPackage,
  round,
  startChild,
  waitForQuiet,
  type Child,
  type HttpResult,
} from './lib.js';
import { assignedFromLog, dropQueueKeys, measureRouting, redisProblem, type PostedCase, type RoutedCase } from './routing.js';
import { dispatchedFromLog, measureDelivery, type DeliveredResponse, type EnvelopeRead } from './delivery.js';
import { measureWeb, pgSeedDb, sqliteSeedDb, staffPageTimes, type SeedDb, type WebMeasurement } from './web.js';
import { measureNumbers, type NumbersResult } from './numbers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PARTY = 'kommune-101';
const CONCURRENCY = 16;
const PACKAGE_BYTES = 1 * MiB;
/** intake (issue 16): gateway pkg/s ÷ baseline pkg/s, by store; receipt p99 at most this multiple of the baseline's */
const TARGET_RATIO = { sqlite: 0.75, postgres: 0.5, s3: 0.5 } as const;
const TARGET_P99_FACTOR = 1.5;
/** largeUpload (issue 16): peak RSS above the idle gateway in every run; the idle gateway's RSS */
const TARGET_LARGE_GROWTH_MB = 48;
const TARGET_IDLE_RSS_MB = 110;
const IDLE_SETTLE_S = 75;
/** routing: cases posted at once, warm-up cases, staff whose worklists are polled (coord-x is excluded for 101 by the agreement) */
const ROUTING_CASES = 200;
const ROUTING_WARMUP = 10;
const ROUTING_SOCKETS = 64;
const ROUTING_STAFF = ['coord-anna', 'coord-carl'] as const;
const ROUTING_LEAD = 'lead-1';
const ROUTING_TIMEOUT_MS = 60_000;
const TARGET_ROUTING_P99_MS = 1000;
const ROUTING_PDF_BYTES = 4096;
/** delivery: measured responses (as many cases + the warm-up ones), their concurrency, the parties involved */
const DELIVERY_RESPONSES = 200;
const DELIVERY_WARMUP = 5;
const DELIVERY_CASE_CONCURRENCY = 16;
const DELIVERY_CONCURRENCY = 64;
const DELIVERY_SPECIALISTS = ['spec-bo', 'spec-eva'] as const;
const DELIVERY_GP = 'gp-057584';
const DELIVERY_GP_YDERNUMMER = '057584';
const DELIVERY_VERIFY_EVERY = 10;
const DELIVERY_PDF_BYTES = 64 * 1024;
const DELIVERY_TIMEOUT_MS = 60_000;
const TARGET_DELIVERY_P99_MS = 1000;
/** web: open cases in the database, those of the signed-in coordinator, real packages posted (so many of them hers), requests */
const WEB_OPEN_CASES = 10_000;
const WEB_STAFF_CASES = 200;
const WEB_STAFF = 'coord-anna';
const WEB_SUBJECT = 'dev-anna-holm';
const WEB_POSTED = 50;
const WEB_REAL_FOR_STAFF = 30;
const WEB_WARMUP = 20;
const TARGET_WEB_P95_MS = 100;
const TARGET_WEB_PAGE_KB = 100;
/** numbers: a year of cases for the region's reports (settlement, statistics), measured runs of each report */
const NUMBERS_CASES = 20_000;
const NUMBERS_RUNS = 5;

// ---------------------------------------------------------------- options

interface Options {
  json: boolean;
  only?: 'intake' | 'intake-full' | 'intake-s3' | 'large' | 'routing' | 'delivery' | 'web' | 'numbers';
  quick: boolean;
  postgres: boolean;
  rounds: number;
  count: number;
  warmup: number;
  largeMb: number;
  /** largeUpload: runs, each with a fresh gateway child */
  largeRuns: number;
  /** web: measured GETs of each page */
  webCount: number;
  profileDir?: string;
  keep: boolean;
  tsx: boolean;
  /** extra node options for the gateway child (e.g. --perf-basic-prof) */
  nodeArgs: string[];
}

function usage(msg: string): never {
  process.stderr.write(
    `bench: ${msg}\n` +
      'usage: npm run bench -- [--json] [--only intake|intake-full|intake-s3|large|routing|delivery|web|numbers] [--quick] [--postgres] [--rounds N] ' +
      '[--count N] [--large-mb N] [--large-runs N] [--profile DIR] [--tsx] [--node-arg=OPT] [--keep]\n',
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Partial<Options> & { json: boolean; quick: boolean; postgres: boolean; keep: boolean; tsx: boolean } = {
    json: false,
    quick: false,
    postgres: false,
    keep: false,
    tsx: false,
  };
  const nodeArgs: string[] = [];
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) usage(`${name} needs a whole number between ${min} and ${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--json':
        o.json = true;
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--postgres':
        o.postgres = true;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--tsx':
        o.tsx = true;
        break;
      case '--node-arg': {
        const v = value();
        if (!v || !v.startsWith('--')) usage('--node-arg takes a node option, e.g. --node-arg=--perf-basic-prof');
        nodeArgs.push(v);
        break;
      }
      case '--only': {
        const v = value();
        const parts = ['intake', 'intake-full', 'intake-s3', 'large', 'routing', 'delivery', 'web', 'numbers'] as const;
        const part = parts.find((p) => p === v);
        if (!part) usage(`--only takes one of ${parts.join(', ')}`);
        o.only = part;
        break;
      }
      case '--rounds':
        o.rounds = int('--rounds', value(), 1, 9);
        break;
      case '--count':
        o.count = int('--count', value(), 16, 5000);
        break;
      case '--large-mb':
        o.largeMb = int('--large-mb', value(), 1, 4096);
        break;
      case '--large-runs':
        o.largeRuns = int('--large-runs', value(), 1, 20);
        break;
      case '--profile': {
        const v = value();
        if (!v) usage('--profile needs a directory');
        o.profileDir = resolve(v);
        break;
      }
      default:
        usage(`unknown option ${a}`);
    }
  }
  const count = o.count ?? (o.quick ? 100 : 400);
  return {
    json: o.json,
    only: o.only,
    quick: o.quick,
    postgres: o.postgres,
    rounds: o.rounds ?? (o.quick ? 1 : 3),
    count,
    warmup: Math.max(CONCURRENCY, Math.round(count / 10)),
    largeMb: o.largeMb ?? (o.quick ? 256 : 1024),
    largeRuns: o.largeRuns ?? (o.quick ? 1 : 5),
    webCount: o.quick ? 100 : 300,
    profileDir: o.profileDir,
    keep: o.keep,
    tsx: o.tsx,
    nodeArgs,
  };
}

const opts = parseArgs(process.argv.slice(2));
/** Human-readable output: stdout, or stderr with --json (stdout then carries only the JSON line). */
const out = (s = '') => (opts.json ? process.stderr : process.stdout).write(s + '\n');
const progress = (s: string) => process.stderr.write(`· ${s}\n`);

// ---------------------------------------------------------------- resources and cleanup

const tmpRoot = mkdtempSync(join(os.tmpdir(), 'postkasse-bench-'));
const children = new Set<Child<unknown>>();
const agents = new Set<https.Agent>();
const pgSchema = opts.postgres ? `bench_${randomBytes(6).toString('hex')}` : undefined;
/** routing runs on a database of its own (case counts start at zero; no outbox rows left by intake) */
const routingPgSchema = pgSchema ? `${pgSchema}_routing` : undefined;
/** and so does delivery */
const deliveryPgSchema = pgSchema ? `${pgSchema}_delivery` : undefined;
/** and intake-full */
const fullPgSchema = pgSchema ? `${pgSchema}_full` : undefined;
/** and web */
const webPgSchema = pgSchema ? `${pgSchema}_web` : undefined;
/** BullMQ key prefixes of the routing and delivery children in the shared Redis; their keys are deleted at the end */
const routingQueuePrefix = `bench-${randomBytes(6).toString('hex')}`;
const deliveryQueuePrefix = `bench-${randomBytes(6).toString('hex')}`;
/** prefix → part, for each prefix a child may have written to, until its keys are deleted */
const queueKeysToDrop = new Map<string, string>();
let cleaning: Promise<void> | undefined;

async function dropKeys(prefix: string): Promise<void> {
  const part = queueKeysToDrop.get(prefix);
  if (part === undefined) return;
  const n = await dropQueueKeys(REDIS_URL, prefix);
  queueKeysToDrop.delete(prefix);
  progress(`${part}: deleted ${n} Redis keys under ${prefix}:`);
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const a of agents) a.destroy();
    await Promise.allSettled([...liveChildren].map((c) => c.stop()));
    // After the children: a running BullMQ worker would write keys again.
    for (const prefix of [...queueKeysToDrop.keys()]) {
      await dropKeys(prefix).catch((e: unknown) =>
        process.stderr.write(`bench: could not delete the Redis keys under ${prefix}: at ${REDIS_URL}: ${(e as Error).message}\n`),
      );
    }
    if (pgSchema) {
      const c = new pg.Client({ connectionString: PG_URL });
      const schemas = [pgSchema, fullPgSchema, routingPgSchema, deliveryPgSchema, webPgSchema];
      try {
        await c.connect();
        for (const schema of schemas) {
          await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        }
      } catch (e) {
        process.stderr.write(`bench: could not drop PostgreSQL schemas ${schemas.join(', ')}: ${(e as Error).message}\n`);
      } finally {
        await c.end().catch(() => {});
      }
    }
    if (opts.keep) process.stderr.write(`bench: kept ${tmpRoot}\n`);
    else rmSync(tmpRoot, { recursive: true, force: true });
  })();
  return cleaning;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    const keys = [...queueKeysToDrop.keys()].map((p) => `${p}:`).join(', ');
    process.stderr.write(`\nbench: ${sig}: stopping children, removing ${tmpRoot}${keys ? ` and the Redis keys under ${keys}` : ''}\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------- children

interface GatewayInfo {
  pid: number;
  port: number;
  /** the staff pages' HTTPS listener and origin */
  staffPort: number;
  staffBaseUrl: string;
  /** the development identity provider's issuer (null when OIDC_ISSUER is set) */
  devIdpIssuer: string | null;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clients: Record<string, { cert: string; key: string }>;
}

const gatewayDir = join(tmpRoot, 'gateway');
const baselineDir = join(tmpRoot, 'baseline');

let compiledScript: string | undefined;

/**
 * The gateway child runs as `npm start` runs the gateway: bundled by esbuild
 * (src/ inlined, npm packages external) and executed by plain node. The bundle
 * goes to dist/bench/ inside the repository so that node resolves the
 * packages from node_modules/ and src/shared/paths.ts finds config/.
 * With --tsx it runs from the TypeScript sources through the tsx loader.
 */
function compiledGatewayChild(): string {
  if (compiledScript) return compiledScript;
  const outfile = join(ROOT, 'dist', 'bench', 'gateway-child.js');
  // Split as `npm run build` splits: what the gateway imports only on demand (the S3 store with the AWS SDK) stays
  // out of the idle process, as under `npm start`.
  rmSync(join(ROOT, 'dist', 'bench', 'chunks'), { recursive: true, force: true });
  const r = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'esbuild'),
    [
      'bench/gateway-child.ts',
      '--bundle',
      '--splitting',
      '--chunk-names=chunks/[name]-[hash]',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      '--packages=external',
      '--log-level=warning',
      `--outdir=${join(ROOT, 'dist', 'bench')}`,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`esbuild failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  // The bundle starts the SQLite writer and blob writer threads from dist/storage/, which `npm run build` makes.
  const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`npm run build failed (${b.status ?? b.signal}): ${b.stderr || b.error?.message}`);
  progress(`gateway child bundled to ${outfile}`);
  return (compiledScript = outfile);
}

async function startGatewayChild(phase: string, extraEnv: Record<string, string> = {}): Promise<Child<GatewayInfo>> {
  const child = await startChild<GatewayInfo>({
    name: `gateway child (${phase})`,
    script: opts.tsx ? 'bench/gateway-child.ts' : compiledGatewayChild(),
    nodeArgs: opts.nodeArgs,
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: gatewayDir,
      PORT: '0',
      STAFF_PORT: '0',
      DEV_IDP_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', // as in production: one line per request and per receipt
      START_REDIS: 'never',
      SHUTDOWN_TIMEOUT_MS: '3000',
      BENCH_LOG_FILE: join(tmpRoot, `gateway-${phase}.log`),
      ...(pgSchema ? { DATABASE_URL: PG_URL, BENCH_DB_SCHEMA: pgSchema } : {}),
      ...extraEnv,
    },
  });
  children.add(child as Child<unknown>);
  return child;
}

interface S3Info {
  pid: number;
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The S3-compatible server of the intake-s3 part (bench/s3-child.ts: s3rver on loopback, a process of its own). */
async function startS3Child(): Promise<Child<S3Info>> {
  const child = await startChild<S3Info>({
    name: 's3 child',
    script: 'bench/s3-child.ts',
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  children.add(child as Child<unknown>);
  return child;
}

const awsEnv = (s3: S3Info) => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey });

async function startBaselineChild(g: GatewayInfo, s3?: S3Info): Promise<Child<{ pid: number; port: number }>> {
  const child = await startChild<{ pid: number; port: number }>({
    name: 'baseline child',
    script: 'bench/baseline-child.ts',
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      BASELINE_DIR: baselineDir,
      TLS_CERT_FILE: g.serverCert,
      TLS_KEY_FILE: g.serverKey,
      TLS_CLIENT_CA_FILE: g.caCert,
      ...(s3 ? { BASELINE_S3_ENDPOINT: s3.endpoint, BASELINE_S3_BUCKET: s3.bucket, BASELINE_S3_REGION: s3.region, ...awsEnv(s3) } : {}),
    },
  });
  children.add(child as Child<unknown>);
  return child;
}

function clientCreds(g: GatewayInfo): { cert: string; key: string; ca: string } {
  const c = g.clients[PARTY];
  if (!c) throw new Error(`the dev PKI has no client certificate for ${PARTY}`);
  return { cert: readFileSync(c.cert, 'utf8'), key: readFileSync(c.key, 'utf8'), ca: readFileSync(g.caCert, 'utf8') };
}

// ---------------------------------------------------------------- packages

function manifest(): Record<string, unknown> {
  return {
    packageId: randomUUID(),
    service: 'rehab-team-advice',
    caseType: 'ressourceforloeb',
    citizen: { cpr: '0101801234', name: 'Testa Borgersen' },
    gp: { ydernummer: '057584', name: 'Lægehuset' },
    caseworker: { name: 'Sara Sagsbehandler', email: 'sara@kk.dk' },
    documents: [{ part: 'plan', type: 'rehab-plan-preparatory', mediaType: 'application/pdf', title: 'Forberedende del' }],
  };
}

/** One 1 MiB PDF (header + random bytes), shared by all intake requests; each request has its own manifest. */
const PDF_1MB = Buffer.concat([Buffer.from('%PDF-1.4\n', 'latin1'), randomBytes(PACKAGE_BYTES - 9)]);

function intakeRequest(agent: https.Agent, port: number): Promise<HttpResult> {
  return postPackage({ agent, port, manifest: manifest(), pdf: PDF_1MB, timeoutMs: 120_000 });
}

/** A small PDF for routing: the measure is routing latency, not upload speed. */
const PDF_SMALL = Buffer.concat([Buffer.from('%PDF-1.4\n', 'latin1'), randomBytes(ROUTING_PDF_BYTES - 9)]);

/** Posts one complete case (its own packageId) with the small PDF; the 201 receipt's caseId and receivedAt. */
async function routingCase(agent: https.Agent, port: number): Promise<PostedCase> {
  const r = await postPackage({ agent, port, manifest: manifest(), pdf: PDF_SMALL, timeoutMs: 60_000 });
  checkGatewayAnswer(r);
  const body = JSON.parse(r.body.toString('utf8')) as { caseId?: unknown; receivedAt?: unknown };
  if (typeof body.caseId !== 'string' || typeof body.receivedAt !== 'string') {
    throw new Error(`gateway receipt without caseId or receivedAt: ${r.body.toString('utf8').slice(0, 300)}`);
  }
  return { caseId: body.caseId, receivedAt: body.receivedAt };
}

let deliveryCitizens = 0;

/**
 * A citizen of its own per case: a second attest for the same citizen needs an overall assessment (§14 stk. 4),
 * which is not what this benchmark measures. Valid CPR dates 1960–1999, one per case.
 */
function deliveryCitizen(): { cpr: string; name: string } {
  const n = deliveryCitizens++;
  const two = (x: number) => String(x).padStart(2, '0');
  return {
    cpr: `${two(1 + (n % 28))}${two(1 + (Math.floor(n / 28) % 12))}${two(60 + (Math.floor(n / 336) % 40))}1234`,
    name: 'Bench Borger',
  };
}

/** Posts one complete clinical-assessment case (a specialist's work; the GP with a registered system); its caseId. */
async function deliveryCase(agent: https.Agent, port: number): Promise<string> {
  const m = {
    ...manifest(),
    citizen: deliveryCitizen(),
    service: 'clinical-assessment',
    caseType: 'ressourceforloeb',
    gp: { ydernummer: DELIVERY_GP_YDERNUMMER, name: 'Lægehuset' },
    documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf', title: 'Anmodning om klinisk vurdering' }],
  };
  const r = await postPackage({ agent, port, manifest: m, pdf: PDF_SMALL, timeoutMs: 60_000 });
  checkGatewayAnswer(r);
  const body = JSON.parse(r.body.toString('utf8')) as { caseId?: unknown };
  if (typeof body.caseId !== 'string') throw new Error(`gateway receipt without caseId: ${r.body.toString('utf8').slice(0, 300)}`);
  return body.caseId;
}

/** The signed-off PDF of every delivery response (header + random bytes) and its SHA-256, which the envelopes must carry. */
const PDF_RESPONSE = Buffer.concat([Buffer.from('%PDF-1.4\n', 'latin1'), randomBytes(DELIVERY_PDF_BYTES - 9)]);
const PDF_RESPONSE_SHA256 = createHash('sha256').update(PDF_RESPONSE).digest('hex');
const ATTEST = Buffer.from(
  JSON.stringify({
    kind: 'specialist-attest',
    content: {
      municipalityRequest: 'r',
      objectiveExamination: 'o',
      functionalCapacity: 'a',
      healthConditions: 'b',
      citizenAssessment: 'c',
      physicianAssessment: 'd',
    },
  }),
);

/**
 * Posts a specialist attest to `caseId`: first the consultation held today (§13 stk. 2: no attest without
 * one), then the `response` JSON as a form field (no file name) and the PDF as `document`.
 */
async function deliveryResponse(agent: https.Agent, port: number, caseId: string): Promise<HttpResult> {
  const consultation = Buffer.from(JSON.stringify({ date: localDate(new Date().toISOString()) }));
  const held = await post({
    agent,
    port,
    path: `/v1/cases/${encodeURIComponent(caseId)}/consultation`,
    headers: { 'content-type': 'application/json', 'content-length': consultation.length },
    body: Readable.from([consultation]),
    timeoutMs: 60_000,
  });
  if (held.status !== 200) return held;
  const mp = createMultipart([
    { name: 'response', contentType: 'application/json', body: ATTEST },
    { name: 'document', filename: 'attest.pdf', contentType: 'application/pdf', body: PDF_RESPONSE },
  ]);
  return post({
    agent,
    port,
    path: `/v1/cases/${encodeURIComponent(caseId)}/responses`,
    headers: { 'content-type': mp.contentType, 'content-length': mp.length },
    body: mp.stream(),
    timeoutMs: 60_000,
  });
}

function checkGatewayAnswer(r: HttpResult): void {
  if (r.status !== 201) throw new Error(`gateway answered ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`);
  if (!r.headers['receipt-signature']) throw new Error('gateway answered 201 without Receipt-Signature');
  const body = JSON.parse(r.body.toString('utf8')) as { receiptId?: string };
  if (!body.receiptId) throw new Error(`gateway receipt without receiptId: ${r.body.toString('utf8').slice(0, 300)}`);
}

function checkBaselineAnswer(r: HttpResult): void {
  if (r.status !== 201) throw new Error(`baseline answered ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`);
}

// ---------------------------------------------------------------- intake

interface RoundResult {
  side: 'gateway' | 'baseline';
  round: number;
  count: number;
  wallMs: number;
  packagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuMsPerPackage: number;
  /** CPU of the server's event-loop thread only */
  serverMainThreadCpuMsPerPackage: number;
  /** share of wall time the event-loop thread was on a CPU (1 = saturated) */
  serverMainThreadBusy: number;
  /** share of wall time the event-loop thread was runnable but waiting for a CPU */
  serverMainThreadRunQueue: number;
  clientCpuMsPerPackage: number;
  /** CPUs kept busy by anything but the bench's own processes (other users, PostgreSQL, kernel threads) */
  foreignCores: number;
  /** gateway only: GC pauses on the event loop per package, and the number of major (mark-compact) and minor collections in the round */
  gcPauseMsPerPackage: number;
  majorGcs: number;
  minorGcs: number;
}

/** `n` requests over `concurrency` workers; stops at the first failure. */
async function load(
  n: number,
  send: () => Promise<HttpResult>,
  check: (r: HttpResult) => void,
): Promise<{ latencies: number[]; wallMs: number }> {
  let next = 0;
  let failed = false;
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (!failed && !interrupted) {
      if (next >= n) return;
      next++;
      try {
        const r = await send();
        check(r);
        latencies.push(r.ms);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
  if (interrupted) throw new Error('interrupted');
  return { latencies, wallMs: Number(process.hrtime.bigint() - started) / 1e6 };
}

/** The gateway child whose main thread is profiled (--profile). */
let profiled: Child<GatewayInfo> | undefined;

async function startProfile(c: Child<GatewayInfo>): Promise<true> {
  const r = await c.command('profile-start');
  if (!r.ok) throw new Error(`profile-start failed: ${String(r.error)}`);
  return true;
}

async function stopProfile(c: Child<GatewayInfo>, name: string): Promise<void> {
  mkdirSync(opts.profileDir!, { recursive: true });
  const file = join(opts.profileDir!, `${name}.cpuprofile`);
  const r = await c.command(`profile-stop ${file}`);
  if (!r.ok) throw new Error(`profile-stop failed: ${String(r.error)}`);
  progress(`profile written: ${file}`);
}

type GcStats = Record<string, { count: number; ms: number }>;

async function gcPauses(c: Child<GatewayInfo>): Promise<GcStats> {
  const r = await c.command('gc');
  return (r.gc ?? {}) as GcStats;
}

async function measureRound(
  side: RoundResult['side'],
  roundNo: number,
  pid: number,
  /** the other bench children (the other side, idle during this round; the S3 server), whose CPU is not foreign load */
  otherPids: number[],
  /** the gateway child, to read its GC pauses */
  gcChild: Child<GatewayInfo> | undefined,
  send: () => Promise<HttpResult>,
  check: (r: HttpResult) => void,
): Promise<RoundResult> {
  await load(opts.warmup, send, check);
  const profile = side === 'gateway' && profiled ? await startProfile(profiled) : undefined;
  const gc0 = gcChild ? await gcPauses(gcChild) : undefined;
  const cpu0 = cpuSeconds(pid);
  const othersCpu = () => otherPids.reduce((sum, p) => sum + cpuSeconds(p).total, 0);
  const other0 = othersCpu();
  const machine0 = machineBusySeconds();
  const client0 = process.cpuUsage();
  const { latencies, wallMs } = await load(opts.count, send, check);
  const machine1 = machineBusySeconds();
  const cpu1 = cpuSeconds(pid);
  const other1 = othersCpu();
  const wallS = wallMs / 1000;
  const client1 = process.cpuUsage(client0);
  if (profile) await stopProfile(profiled!, `intake-round${roundNo}`);
  const gc1 = gcChild ? await gcPauses(gcChild) : undefined;
  const gcDelta = (kind: string) => (gc1 && gc0 ? (gc1[kind]?.ms ?? 0) - (gc0[kind]?.ms ?? 0) : NaN);
  const gcCount = (kind: string) => (gc1 && gc0 ? (gc1[kind]?.count ?? 0) - (gc0[kind]?.count ?? 0) : NaN);
  const r: RoundResult = {
    side,
    round: roundNo,
    count: opts.count,
    wallMs,
    packagesPerSecond: opts.count / (wallMs / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    serverCpuMsPerPackage: ((cpu1.total - cpu0.total) * 1000) / opts.count,
    serverMainThreadCpuMsPerPackage: ((cpu1.main - cpu0.main) * 1000) / opts.count,
    serverMainThreadBusy: (cpu1.main - cpu0.main) / wallS,
    serverMainThreadRunQueue: (cpu1.mainRunQueue - cpu0.mainRunQueue) / wallS,
    clientCpuMsPerPackage: (client1.user + client1.system) / 1000 / opts.count,
    gcPauseMsPerPackage: (gcDelta('minor') + gcDelta('major') + gcDelta('incremental') + gcDelta('weakcb')) / opts.count,
    majorGcs: gcCount('major'),
    minorGcs: gcCount('minor'),
    foreignCores: (machine1 - machine0 - (cpu1.total - cpu0.total) - (other1 - other0) - (client1.user + client1.system) / 1e6) / wallS,
  };
  progress(
    `${side} round ${roundNo}: ${round1(r.packagesPerSecond)} pkg/s, p50 ${round1(r.p50Ms)} ms, p99 ${round1(r.p99Ms)} ms, ` +
      `server CPU ${round1(r.serverCpuMsPerPackage)} ms/pkg (event loop ${round1(r.serverMainThreadCpuMsPerPackage)} ms/pkg, ` +
      `on CPU ${Math.round(100 * r.serverMainThreadBusy)}%, waiting for a CPU ${Math.round(100 * r.serverMainThreadRunQueue)}%); ` +
      `other load ${round(r.foreignCores, 2)} CPUs` +
      (gcChild ? `; GC pauses ${round(r.gcPauseMsPerPackage, 2)} ms/pkg, ${r.majorGcs} major + ${r.minorGcs} minor GCs` : ''),
  );
  return r;
}

const round1 = (n: number) => round(n, 1);

interface IntakeResult {
  /** where the documents went: the file store on this machine's disk, or the S3 store (both sides alike) */
  store: 'file' | 's3';
  /** intake-full: the gateway with Redis, doing the work queued after each receipt as well */
  full: boolean;
  target: number;
  rounds: RoundResult[];
  json: {
    packagesPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    baselinePackagesPerSecond: number;
    baselineP99Ms: number;
    ratioToBaseline: number;
    /** the gateway's receipt p99 ÷ the baseline's p99 (target ≤ TARGET_P99_FACTOR) */
    p99RatioToBaseline: number;
    concurrency: number;
    packageMb: number;
    count: number;
  };
  gatewayRssMb: number;
}

async function runIntake(store: IntakeResult['store'], full = false): Promise<IntakeResult> {
  const part = store === 's3' ? 'intake-s3' : full ? 'intake-full' : 'intake';
  const queuePrefix = `bench-${randomBytes(6).toString('hex')}`;
  if (full) queueKeysToDrop.set(queuePrefix, part);
  const s3 = store === 's3' ? await startS3Child() : undefined;
  progress(
    `${part}: starting the gateway child (${pgSchema ? `PostgreSQL schema ${pgSchema}` : 'embedded SQLite'}` +
      `${s3 ? `, documents in the S3 store ${s3.info.endpoint}` : ''}) and the baseline child`,
  );
  const gw = await startGatewayChild(
    part,
    s3
      ? {
          BLOB_STORE: 's3',
          S3_BUCKET: s3.info.bucket,
          S3_PREFIX: 'postkasse/',
          S3_ENDPOINT: s3.info.endpoint,
          S3_REGION: s3.info.region,
          S3_FORCE_PATH_STYLE: 'true',
          ...awsEnv(s3.info),
        }
      : full
        ? {
            // a data directory (and schema) of its own: intake's unrouted cases would otherwise be routed now
            DATA_DIR: join(tmpRoot, part),
            ...(fullPgSchema ? { BENCH_DB_SCHEMA: fullPgSchema } : {}),
            BENCH_WITH_REDIS: '1',
            REDIS_URL,
            START_REDIS: 'never',
            QUEUE_PREFIX: queuePrefix,
          }
        : {},
  );
  if (opts.profileDir && !s3) profiled = gw;
  const base = await startBaselineChild(gw.info, s3?.info);
  const creds = clientCreds(gw.info);
  // A fresh keep-alive agent per round and side: an agent left idle during the
  // other side's round would find its sockets closed by the server's
  // keep-alive timeout (5 s) and could race a write against that close (EPIPE).
  const withAgent = async <T>(fn: (agent: https.Agent) => Promise<T>): Promise<T> => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ...creds });
    agents.add(agent);
    try {
      return await fn(agent);
    } finally {
      agent.destroy();
      agents.delete(agent);
    }
  };

  const settled = await waitForQuiet();
  progress(`${part}: ${settled.quiet ? 'machine quiet' : 'machine still busy'} ${round1(settled.seconds)} s after the children started`);
  const others = (pid: number) => (s3 ? [pid, s3.pid] : [pid]);
  const rounds: RoundResult[] = [];
  for (let i = 1; i <= opts.rounds; i++) {
    rounds.push(
      await withAgent((a) =>
        measureRound('gateway', i, gw.pid, others(base.pid), gw, () => intakeRequest(a, gw.info.port), checkGatewayAnswer),
      ),
    );
    rounds.push(
      await withAgent((a) =>
        measureRound('baseline', i, base.pid, others(gw.pid), undefined, () => intakeRequest(a, base.info.port), checkBaselineAnswer),
      ),
    );
  }
  const gatewayRssMb = memory(gw.pid).hwmMb;
  await gw.stop();
  await base.stop();
  if (gw.proc.exitCode !== 0) throw new Error(`gateway child exited with ${gw.proc.exitCode ?? gw.proc.signalCode}\n${gw.stderrTail()}`);
  children.delete(gw as Child<unknown>);
  children.delete(base as Child<unknown>);
  if (s3) {
    await s3.stop();
    children.delete(s3 as Child<unknown>);
  }
  if (full) await dropKeys(queuePrefix);
  rmSync(baselineDir, { recursive: true, force: true });

  const g = rounds.filter((r) => r.side === 'gateway');
  const b = rounds.filter((r) => r.side === 'baseline');
  const pps = median(g.map((r) => r.packagesPerSecond));
  const basePps = median(b.map((r) => r.packagesPerSecond));
  const p99 = median(g.map((r) => r.p99Ms));
  const baseP99 = median(b.map((r) => r.p99Ms));
  return {
    store,
    full,
    target: store === 's3' ? TARGET_RATIO.s3 : pgSchema ? TARGET_RATIO.postgres : TARGET_RATIO.sqlite,
    rounds,
    gatewayRssMb,
    json: {
      packagesPerSecond: round(pps, 1),
      p50Ms: round(median(g.map((r) => r.p50Ms)), 1),
      p99Ms: round(p99, 1),
      baselinePackagesPerSecond: round(basePps, 1),
      baselineP99Ms: round(baseP99, 1),
      ratioToBaseline: round(pps / basePps, 2),
      p99RatioToBaseline: round(p99 / baseP99, 2),
      concurrency: CONCURRENCY,
      packageMb: PACKAGE_BYTES / MiB,
      count: opts.count,
    },
  };
}

// ---------------------------------------------------------------- large upload

interface LargeRun {
  json: { sizeMb: number; peakRssMb: number; mbPerSecond: number };
  idleRssMb: number;
  sampledMaxRssMb: number;
  seconds: number;
  serverCpuSeconds: number;
  /** process.memoryUsage() of the gateway child before and right after the upload */
  memBefore: Record<string, unknown>;
  memAfter: Record<string, unknown>;
  /** maxima of the child's process.memoryUsage() sampled during the upload */
  memMax: Record<string, number>;
}

interface IdleResult {
  /** RSS 2 s after start-up, and once it has settled (V8's memory reducer shrinks the heap after ~30-40 s idle) */
  afterStartRssMb: number;
  settledRssMb: number;
  settledAfterS: number;
  mem: Record<string, unknown>;
}

/**
 * The idle gateway as production runs it, apart from the development PKI and TSA: staff login through an external
 * identity provider (OIDC_ISSUER set, never contacted while idle), so the development IdP is not loaded; left alone
 * for IDLE_SETTLE_S.
 */
async function measureIdle(): Promise<IdleResult> {
  progress('idle: starting a gateway child without the development IdP and leaving it alone until its RSS settles');
  const gw = await startGatewayChild('idle', {
    OIDC_ISSUER: 'https://idp.invalid',
    OIDC_CLIENT_ID: 'bench',
    OIDC_CLIENT_SECRET: 'bench',
  });
  const t0 = Date.now();
  await sleep(2_000);
  const afterStartRssMb = memory(gw.pid).rssMb;
  // V8's memory reducer shrinks the heap once the process has been idle a while (seen after 30-45 s): sample until
  // IDLE_SETTLE_S and report the last sample.
  let settledRssMb = afterStartRssMb;
  while ((Date.now() - t0) / 1000 < IDLE_SETTLE_S) {
    await sleep(5_000);
    settledRssMb = memory(gw.pid).rssMb;
  }
  const mem = await gw.command('memory');
  await gw.stop();
  children.delete(gw as Child<unknown>);
  const settledAfterS = Math.round((Date.now() - t0) / 1000);
  progress(`idle: ${round1(afterStartRssMb)} MB 2 s after start-up, ${round1(settledRssMb)} MB settled (after ${settledAfterS} s)`);
  return { afterStartRssMb, settledRssMb, settledAfterS, mem };
}

interface LargeResult {
  runs: LargeRun[];
  idle: IdleResult;
  json: {
    sizeMb: number;
    runs: number;
    /** the idle gateway without the development IdP, settled (target ≤ TARGET_IDLE_RSS_MB) */
    settledIdleRssMb: number;
    /** each run's VmHWM − the idle gateway's RSS before its upload (target ≤ TARGET_LARGE_GROWTH_MB in every run) */
    growthMb: number[];
    maxGrowthMb: number;
    /** the idle gateway's RSS 2 s after start-up, before the upload, median over the runs */
    idleRssMb: number;
    peakRssMb: number;
    mbPerSecond: number;
  };
}

/** opts.largeRuns uploads, each into a fresh gateway child: the growth target holds in every run, not on average. */
async function runLarge(): Promise<LargeResult> {
  // First the idle gateway, left alone until it settles. This start also prepares the data directory, so that every
  // measured run starts on an existing one, as a production restart does: the first start's one-off work (the
  // development PKI's keys, the migrations) would otherwise inflate run 1's heap alone.
  const idle = await measureIdle();
  const runs: LargeRun[] = [];
  for (let i = 1; i <= opts.largeRuns; i++) runs.push(await largeRun(i));
  const growthMb = runs.map((r) => round(r.json.peakRssMb - r.idleRssMb, 1));
  return {
    runs,
    idle,
    json: {
      sizeMb: opts.largeMb,
      runs: runs.length,
      settledIdleRssMb: round(idle.settledRssMb, 1),
      growthMb,
      maxGrowthMb: Math.max(...growthMb),
      idleRssMb: round(median(runs.map((r) => r.idleRssMb)), 1),
      peakRssMb: Math.max(...runs.map((r) => r.json.peakRssMb)),
      mbPerSecond: round(median(runs.map((r) => r.json.mbPerSecond)), 1),
    },
  };
}

async function largeRun(n: number): Promise<LargeRun> {
  const size = opts.largeMb * MiB;
  const limit = String(size + 16 * MiB);
  progress(`largeUpload run ${n}/${opts.largeRuns}: starting a fresh gateway child (MAX_DOCUMENT_BYTES = MAX_PACKAGE_BYTES = ${limit})`);
  const gw = await startGatewayChild('large', { MAX_DOCUMENT_BYTES: limit, MAX_PACKAGE_BYTES: limit });
  const creds = clientCreds(gw.info);
  const agent = new https.Agent({ keepAlive: false, maxSockets: 1, ...creds });
  agents.add(agent);

  // The idle gateway: started, then left alone for a moment (start-up's own garbage, the dev IdP's first keys).
  await sleep(2_000);
  const idleRssMb = memory(gw.pid).rssMb;
  const memBefore = await gw.command('memory');
  let sampledMaxRssMb = idleRssMb;
  // Every 100 ms: VmRSS from /proc, and the child's own process.memoryUsage() (V8 heap vs Buffers) for the breakdown.
  const heapMax: Record<string, number> = {};
  let asking = false;
  const sampler = setInterval(() => {
    try {
      sampledMaxRssMb = Math.max(sampledMaxRssMb, memory(gw.pid).rssMb);
    } catch {
      /* exited */
    }
    if (asking) return;
    asking = true;
    gw.command('memory', 5_000).then(
      (m) => {
        asking = false;
        for (const k of ['heapTotalMb', 'heapUsedMb', 'externalMb', 'arrayBuffersMb']) heapMax[k] = Math.max(heapMax[k] ?? 0, Number(m[k]));
      },
      () => {
        asking = false;
      },
    );
  }, 100);
  if (opts.profileDir) await startProfile(gw);
  const cpu0 = cpuSeconds(gw.pid);
  const mp = generatedPdfMultipart(manifest(), 'plan', size);
  progress(`largeUpload: posting a ${opts.largeMb} MiB document (generated on the fly)`);
  let r: HttpResult;
  try {
    r = await post({
      agent,
      port: gw.info.port,
      path: '/v1/packages',
      headers: { 'content-type': mp.contentType, 'content-length': mp.length },
      body: mp.stream(),
      timeoutMs: 10 * 60_000,
    });
  } finally {
    clearInterval(sampler);
  }
  const serverCpuSeconds = cpuSeconds(gw.pid).total - cpu0.total;
  const { hwmMb, rssMb } = memory(gw.pid);
  const memAfter = await gw.command('memory');
  if (opts.profileDir) await stopProfile(gw, `large-${n}`);
  sampledMaxRssMb = Math.max(sampledMaxRssMb, rssMb);
  checkGatewayAnswer(r);
  const receipt = JSON.parse(r.body.toString('utf8')) as { documents?: { size: number }[] };
  if (receipt.documents?.[0]?.size !== size) throw new Error(`receipt names ${receipt.documents?.[0]?.size} bytes, sent ${size}`);
  agent.destroy();
  agents.delete(agent);
  await gw.stop();
  children.delete(gw as Child<unknown>);
  const seconds = r.ms / 1000;
  const result: LargeRun = {
    json: { sizeMb: opts.largeMb, peakRssMb: round(hwmMb, 1), mbPerSecond: round(opts.largeMb / seconds, 1) },
    idleRssMb,
    sampledMaxRssMb,
    seconds,
    serverCpuSeconds,
    memBefore,
    memAfter,
    memMax: heapMax,
  };
  progress(
    `largeUpload run ${n}: ${round1(seconds)} s, ${result.json.mbPerSecond} MB/s, idle RSS ${round1(idleRssMb)} MB, ` +
      `peak RSS ${result.json.peakRssMb} MB (+${round1(result.json.peakRssMb - idleRssMb)} MB)`,
  );
  return result;
}

// ---------------------------------------------------------------- routing

interface RoutingResult {
  json: { p99MsToWorklist: number; p50MsToWorklist: number; cases: number };
  cases: RoutedCase[];
  /** receipt → first seen in a worklist, ms */
  toWorklistMs: number[];
  /** receipt → the gateway's "case assigned" log line, and from there to first seen (cases with such a line) */
  toAssignedMs: number[];
  assignedToSeenMs: number[];
  /** receipt → the 201 answer at the client */
  toAnswerMs: number[];
  pollMs: number[];
  /** first → last receivedAt of the burst */
  receiptSpanMs: number;
  wallMs: number;
  perStaff: Record<string, number>;
  /** over the burst (first request → last case seen): gateway CPU seconds, and the share of wall time its event loop ran / waited for a CPU */
  serverCpuSeconds: number;
  serverMainThreadBusy: number;
  serverMainThreadRunQueue: number;
  clientCpuSeconds: number;
  /** CPUs kept busy by anything but the gateway child and this process (Redis, other users) */
  otherCores: number;
}

/**
 * CPU and scheduling of the gateway child (and of this client and the rest of
 * the machine) over a burst, and the burst's CPU profile with --profile.
 */
function burstMeter(gw: Child<GatewayInfo>, profileName: string) {
  let cpu0 = { total: 0, main: 0, mainRunQueue: 0 };
  let machine0 = 0;
  let client0 = process.cpuUsage();
  let t0 = 0;
  const burst = { serverCpuSeconds: NaN, serverMainThreadBusy: NaN, serverMainThreadRunQueue: NaN, clientCpuSeconds: NaN, otherCores: NaN };
  const hooks = {
    onBurstStart: async () => {
      if (opts.profileDir) await startProfile(gw);
      cpu0 = cpuSeconds(gw.pid);
      machine0 = machineBusySeconds();
      client0 = process.cpuUsage();
      t0 = performance.now();
    },
    onBurstEnd: async () => {
      const wallS = (performance.now() - t0) / 1000;
      const cpu1 = cpuSeconds(gw.pid);
      const client = process.cpuUsage(client0);
      burst.serverCpuSeconds = cpu1.total - cpu0.total;
      burst.serverMainThreadBusy = (cpu1.main - cpu0.main) / wallS;
      burst.serverMainThreadRunQueue = (cpu1.mainRunQueue - cpu0.mainRunQueue) / wallS;
      burst.clientCpuSeconds = (client.user + client.system) / 1e6;
      burst.otherCores = (machineBusySeconds() - machine0 - burst.serverCpuSeconds - burst.clientCpuSeconds) / wallS;
      if (opts.profileDir) await stopProfile(gw, profileName);
    },
  };
  return { burst, hooks };
}

/** Stops a gateway child that used Redis, checks it exited cleanly, and removes its queue keys. */
/** A fresh gateway child with Redis (own data dir, queue prefix, log and, with --postgres, schema) for a queue-driven part. */
async function startQueueChild(phase: 'routing' | 'delivery', queuePrefix: string, pgSchemaForPart: string | undefined) {
  progress(
    `${phase}: starting a fresh gateway child with Redis (${REDIS_URL}, queue prefix ${queuePrefix}; ` +
      `${pgSchemaForPart ? `PostgreSQL schema ${pgSchemaForPart}` : 'embedded SQLite'})`,
  );
  const logFile = join(tmpRoot, `gateway-${phase}.log`);
  queueKeysToDrop.set(queuePrefix, phase);
  const gw = await startGatewayChild(phase, {
    DATA_DIR: join(tmpRoot, phase),
    BENCH_WITH_REDIS: '1',
    REDIS_URL,
    START_REDIS: 'never',
    QUEUE_PREFIX: queuePrefix,
    BENCH_LOG_FILE: logFile,
    ...(pgSchemaForPart ? { BENCH_DB_SCHEMA: pgSchemaForPart } : {}),
  });
  const creds = (partyId: string) => {
    const c = gw.info.clients[partyId];
    if (!c) throw new Error(`the dev PKI has no client certificate for ${partyId}`);
    return { cert: readFileSync(c.cert, 'utf8'), key: readFileSync(c.key, 'utf8'), ca: readFileSync(gw.info.caCert, 'utf8') };
  };
  return { gw, logFile, creds };
}

async function stopQueueChild(gw: Child<GatewayInfo>, queuePrefix: string): Promise<void> {
  await gw.stop();
  if (gw.proc.exitCode !== 0) throw new Error(`gateway child exited with ${gw.proc.exitCode ?? gw.proc.signalCode}\n${gw.stderrTail()}`);
  children.delete(gw as Child<unknown>);
  await dropKeys(queuePrefix);
}

async function runRouting(): Promise<RoutingResult> {
  const { gw, logFile, creds } = await startQueueChild('routing', routingQueuePrefix, routingPgSchema);
  const staff = Object.fromEntries(ROUTING_STAFF.map((id) => [id, creds(id)]));
  const meter = burstMeter(gw, 'routing');
  const burst = meter.burst;
  const m = await measureRouting({
    port: gw.info.port,
    postCase: (agent) => routingCase(agent, gw.info.port),
    senderCreds: clientCreds(gw.info),
    staff,
    lead: gw.info.clients[ROUTING_LEAD] ? creds(ROUTING_LEAD) : undefined,
    cases: ROUTING_CASES,
    warmup: ROUTING_WARMUP,
    maxSockets: ROUTING_SOCKETS,
    timeoutMs: ROUTING_TIMEOUT_MS,
    track: (a) => agents.add(a),
    untrack: (a) => agents.delete(a),
    progress,
    interrupted: () => interrupted,
    ...meter.hooks,
  });
  await stopQueueChild(gw, routingQueuePrefix);

  // The child has flushed its log on exit: when did the worker assign each case?
  const assigned = assignedFromLog(logFile);
  const toWorklistMs = m.cases.map((c) => c.seenAt - c.receivedAt);
  const toAssignedMs: number[] = [];
  const assignedToSeenMs: number[] = [];
  for (const c of m.cases) {
    const a = assigned.get(c.caseId);
    if (a === undefined) continue;
    toAssignedMs.push(a - c.receivedAt);
    assignedToSeenMs.push(c.seenAt - a);
  }
  const perStaff: Record<string, number> = {};
  for (const c of m.cases) perStaff[c.seenBy] = (perStaff[c.seenBy] ?? 0) + 1;
  const received = m.cases.map((c) => c.receivedAt);
  const result: RoutingResult = {
    json: {
      p99MsToWorklist: round(percentile(toWorklistMs, 99), 1),
      p50MsToWorklist: round(percentile(toWorklistMs, 50), 1),
      cases: m.cases.length,
    },
    cases: m.cases,
    toWorklistMs,
    toAssignedMs,
    assignedToSeenMs,
    toAnswerMs: m.cases.map((c) => c.answeredAt - c.receivedAt),
    pollMs: m.pollMs,
    receiptSpanMs: Math.max(...received) - Math.min(...received),
    wallMs: m.wallMs,
    perStaff,
    ...burst,
  };
  progress(
    `routing: ${m.cases.length} cases, receipt → worklist p50 ${result.json.p50MsToWorklist} ms, p99 ${result.json.p99MsToWorklist} ms`,
  );
  return result;
}

// ---------------------------------------------------------------- delivery

interface DeliveryResult {
  json: { p99MsToMailboxes: number; p50MsToMailboxes: number; responses: number };
  responses: DeliveredResponse[];
  /** 201 at the client → in both mailbox lists (the later of the two), clamped at 0; and how many were clamped */
  toMailboxesMs: number[];
  clamped: number;
  /** 201 → in the recipient's / the copy recipient's list, clamped at 0 */
  toRecipientMs: number[];
  toCopyMs: number[];
  /** the 201's sentAt → in both lists; sentAt → 201 at the client */
  sentAtToMailboxesMs: number[];
  sentAtToAnswerMs: number[];
  /** sentAt → the gateway's "response dispatched" log line (after the commit), and from there to both lists (responses with such a line) */
  toCommittedMs: number[];
  committedToMailboxesMs: number[];
  /** request start → 201 at the client */
  requestMs: number[];
  /** sampled envelope reads: 201 → envelope read whole, and the GET round trip */
  reads: EnvelopeRead[];
  pollMs: Record<string, number[]>;
  /** first → last sentAt of the burst */
  sentSpanMs: number;
  wallMs: number;
  perSpecialist: Record<string, number>;
  /** messages by state in the 201s */
  states: Record<string, number>;
  casesMs: number;
  assignedMs: number;
  serverCpuSeconds: number;
  serverMainThreadBusy: number;
  serverMainThreadRunQueue: number;
  clientCpuSeconds: number;
  otherCores: number;
}

async function runDelivery(): Promise<DeliveryResult> {
  const { gw, logFile, creds } = await startQueueChild('delivery', deliveryQueuePrefix, deliveryPgSchema);
  const meter = burstMeter(gw, 'delivery');
  const burst = meter.burst;
  const m = await measureDelivery({
    port: gw.info.port,
    postCase: (agent) => deliveryCase(agent, gw.info.port),
    postResponse: (agent, caseId) => deliveryResponse(agent, gw.info.port, caseId),
    documentSha256: PDF_RESPONSE_SHA256,
    senderCreds: clientCreds(gw.info),
    specialists: Object.fromEntries(DELIVERY_SPECIALISTS.map((id) => [id, creds(id)])),
    lead: gw.info.clients[ROUTING_LEAD] ? creds(ROUTING_LEAD) : undefined,
    recipient: { id: PARTY, creds: clientCreds(gw.info) },
    copyRecipient: { id: DELIVERY_GP, creds: creds(DELIVERY_GP) },
    responses: DELIVERY_RESPONSES,
    warmup: DELIVERY_WARMUP,
    caseConcurrency: DELIVERY_CASE_CONCURRENCY,
    concurrency: DELIVERY_CONCURRENCY,
    verifyEvery: DELIVERY_VERIFY_EVERY,
    timeoutMs: DELIVERY_TIMEOUT_MS,
    track: (a) => agents.add(a),
    untrack: (a) => agents.delete(a),
    progress,
    interrupted: () => interrupted,
    ...meter.hooks,
  });
  await stopQueueChild(gw, deliveryQueuePrefix);

  const rs = m.responses;
  const inBoth = (r: DeliveredResponse) => Math.max(r.recipientSeenAt, r.copySeenAt);
  const raw = rs.map((r) => inBoth(r) - r.answeredAt);
  // The child has flushed its log on exit: when did each response's transaction commit?
  const dispatched = dispatchedFromLog(logFile);
  const toCommittedMs: number[] = [];
  const committedToMailboxesMs: number[] = [];
  for (const r of rs) {
    const d = dispatched.get(r.responseId);
    if (d === undefined) continue;
    toCommittedMs.push(d - r.sentAt);
    committedToMailboxesMs.push(inBoth(r) - d);
  }
  const states: Record<string, number> = {};
  for (const r of rs) for (const s of r.states) states[s] = (states[s] ?? 0) + 1;
  const toMailboxesMs = raw.map((x) => Math.max(0, x));
  const sent = rs.map((r) => r.sentAt);
  const result: DeliveryResult = {
    json: {
      p99MsToMailboxes: round(percentile(toMailboxesMs, 99), 1),
      p50MsToMailboxes: round(percentile(toMailboxesMs, 50), 1),
      responses: rs.length,
    },
    responses: rs,
    toMailboxesMs,
    clamped: raw.filter((x) => x < 0).length,
    toRecipientMs: rs.map((r) => Math.max(0, r.recipientSeenAt - r.answeredAt)),
    toCopyMs: rs.map((r) => Math.max(0, r.copySeenAt - r.answeredAt)),
    sentAtToMailboxesMs: rs.map((r) => inBoth(r) - r.sentAt),
    sentAtToAnswerMs: rs.map((r) => r.answeredAt - r.sentAt),
    toCommittedMs,
    committedToMailboxesMs,
    requestMs: rs.map((r) => r.answeredAt - r.startedAt),
    reads: m.reads,
    pollMs: m.pollMs,
    sentSpanMs: Math.max(...sent) - Math.min(...sent),
    wallMs: m.wallMs,
    perSpecialist: m.perSpecialist,
    states,
    casesMs: m.casesMs,
    assignedMs: m.assignedMs,
    ...burst,
  };
  progress(
    `delivery: ${rs.length} responses, 201 → both mailboxes p50 ${result.json.p50MsToMailboxes} ms, p99 ${result.json.p99MsToMailboxes} ms`,
  );
  return result;
}

// ---------------------------------------------------------------- web

interface WebResult {
  json: {
    p95MsWorklist: number;
    p50MsWorklist: number;
    p95MsCasePage: number;
    p50MsCasePage: number;
    pageKb: number;
    openCases: number;
    staffCases: number;
    requests: number;
  };
  m: WebMeasurement;
  /** server time per request from the gateway's log ('staff page' lines), and how many of those were not 200 */
  worklistServerMs: number[];
  caseServerMs: number[];
  non200: number;
  rssMb: number;
}

async function runWeb(): Promise<WebResult> {
  const dataDir = join(tmpRoot, 'web');
  const logFile = join(tmpRoot, 'gateway-web.log');
  progress(
    `web: starting a fresh gateway child without Redis (${webPgSchema ? `PostgreSQL schema ${webPgSchema}` : 'embedded SQLite'}), ` +
      `staff pages and the development IdP on loopback`,
  );
  const gw = await startGatewayChild('web', {
    DATA_DIR: dataDir,
    BENCH_LOG_FILE: logFile,
    ...(webPgSchema ? { BENCH_DB_SCHEMA: webPgSchema } : {}),
  });
  if (!gw.info.devIdpIssuer) throw new Error('web: the gateway child runs no development IdP (is OIDC_ISSUER set?)');
  const creds = (partyId: string) => {
    const c = gw.info.clients[partyId];
    if (!c) throw new Error(`the dev PKI has no client certificate for ${partyId}`);
    return { cert: readFileSync(c.cert, 'utf8'), key: readFileSync(c.key, 'utf8'), ca: readFileSync(gw.info.caCert, 'utf8') };
  };
  // The same database as the child: its SQLite file (WAL; one writer at a time across processes) or its schema.
  const db: SeedDb = webPgSchema ? await pgSeedDb(PG_URL, webPgSchema) : sqliteSeedDb(join(dataDir, 'postkasse.db'));
  let m: WebMeasurement;
  try {
    m = await measureWeb({
      port: gw.info.port,
      pid: gw.pid,
      staffBaseUrl: gw.info.staffBaseUrl,
      ca: readFileSync(gw.info.caCert, 'utf8'),
      creds,
      db,
      staffId: WEB_STAFF,
      subject: WEB_SUBJECT,
      openCases: WEB_OPEN_CASES,
      staffCases: WEB_STAFF_CASES,
      posted: WEB_POSTED,
      realForStaff: WEB_REAL_FOR_STAFF,
      warmup: WEB_WARMUP,
      count: opts.webCount,
      track: (a) => agents.add(a as https.Agent),
      untrack: (a) => agents.delete(a as https.Agent),
      progress,
      interrupted: () => interrupted,
      onMeasureStart: async () => (opts.profileDir ? startProfile(gw) : undefined),
      onMeasureEnd: async () => (opts.profileDir ? stopProfile(gw, 'web') : undefined),
    });
  } finally {
    await db.close();
  }
  const rssMb = memory(gw.pid).hwmMb;
  await gw.stop();
  if (gw.proc.exitCode !== 0) throw new Error(`gateway child exited with ${gw.proc.exitCode ?? gw.proc.signalCode}\n${gw.stderrTail()}`);
  children.delete(gw as Child<unknown>);

  // The child has flushed its log on exit: the server time of exactly the measured requests.
  const w = staffPageTimes(logFile, m.worklist);
  const c = staffPageTimes(logFile, m.casePage);
  for (const [name, got] of [
    ['worklist', w.ms.length],
    ['case page', c.ms.length],
  ] as const) {
    if (got < opts.webCount) throw new Error(`web: ${got} 'staff page' log lines for the ${opts.webCount} measured ${name} requests`);
  }
  if (!opts.keep) rmSync(dataDir, { recursive: true, force: true });
  const kb = (m.weight.htmlBytes + m.weight.cssBytes + m.weight.jsBytes) / 1024;
  const result: WebResult = {
    json: {
      p95MsWorklist: round(percentile(w.ms, 95), 1),
      p50MsWorklist: round(percentile(w.ms, 50), 1),
      p95MsCasePage: round(percentile(c.ms, 95), 1),
      p50MsCasePage: round(percentile(c.ms, 50), 1),
      pageKb: round(kb, 1),
      openCases: m.seed.openCases,
      staffCases: m.seed.staffCases,
      requests: opts.webCount,
    },
    m,
    worklistServerMs: w.ms,
    caseServerMs: c.ms,
    non200: w.non200 + c.non200,
    rssMb,
  };
  progress(
    `web: worklist p50 ${result.json.p50MsWorklist} ms, p95 ${result.json.p95MsWorklist} ms; ` +
      `case page p50 ${result.json.p50MsCasePage} ms, p95 ${result.json.p95MsCasePage} ms (server time)`,
  );
  return result;
}

// ---------------------------------------------------------------- report

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

function reportNumbers(n: NumbersResult): void {
  out();
  out(
    `numbers: ${n.cases} cases received over the last 365 days for ${n.agreements} municipalities' agreements (seeded by SQL in ` +
      `${round(n.seedMs / 1000, 1)} s), each report in process, ${NUMBERS_RUNS} runs after one warm-up; no target is set (issue 14 names none)`,
  );
  out(table([['', 'p50 ms', 'max ms', 'report'], ...n.timings.map((t) => [t.name, `${t.p50Ms}`, `${t.maxMs}`, t.size])]));
}

/** The intake table (file or S3 store) and its targets. */
function reportIntake(intake: IntakeResult, missed: string[]): void {
  const j = intake.json;
  // issue 16 sets the receipt p99 target for the embedded database and PostgreSQL, and only a throughput ratio on S3
  const p99Target = intake.store === 'file' && !intake.full;
  const part =
    intake.store === 's3'
      ? 'intake-s3 (documents in the S3 store, on both sides)'
      : intake.full
        ? 'intake-full (as npm start runs it, with Redis: limits counted there, and the relay, timestamp and routing after each receipt)'
        : 'intake';
  out();
  out(
    `${part}: ${j.packageMb} MB packages, ${j.concurrency} concurrent mTLS keep-alive clients, ` +
      `${j.count} packages per round after ${opts.warmup} warm-up, ${opts.rounds} round(s) per side, alternated`,
  );
  const rows = [
    [
      'run',
      'pkg/s',
      'p50 ms',
      'p99 ms',
      'server CPU ms/pkg',
      'event-loop CPU ms/pkg',
      'event loop on CPU / run queue',
      'client CPU ms/pkg',
      'other load CPUs',
    ],
  ];
  const pct = (x: number) => `${Math.round(100 * x)}%`;
  for (const r of intake.rounds) {
    rows.push([
      `${r.side} #${r.round}`,
      `${round1(r.packagesPerSecond)}`,
      `${round1(r.p50Ms)}`,
      `${round1(r.p99Ms)}`,
      `${round1(r.serverCpuMsPerPackage)}`,
      `${round1(r.serverMainThreadCpuMsPerPackage)}`,
      `${pct(r.serverMainThreadBusy)} / ${pct(r.serverMainThreadRunQueue)}`,
      `${round1(r.clientCpuMsPerPackage)}`,
      `${round(r.foreignCores, 2)}`,
    ]);
  }
  const med = (side: string, k: keyof RoundResult) => median(intake.rounds.filter((r) => r.side === side).map((r) => r[k] as number));
  for (const side of ['gateway', 'baseline']) {
    rows.push([
      `${side} median`,
      `${round1(med(side, 'packagesPerSecond'))}`,
      `${round1(med(side, 'p50Ms'))}`,
      `${round1(med(side, 'p99Ms'))}`,
      `${round1(med(side, 'serverCpuMsPerPackage'))}`,
      `${round1(med(side, 'serverMainThreadCpuMsPerPackage'))}`,
      `${pct(med(side, 'serverMainThreadBusy'))} / ${pct(med(side, 'serverMainThreadRunQueue'))}`,
      `${round1(med(side, 'clientCpuMsPerPackage'))}`,
      `${round(med(side, 'foreignCores'), 2)}`,
    ]);
  }
  out(table(rows));
  const foreign = median(intake.rounds.map((r) => r.foreignCores));
  if (foreign > 0.25) {
    out(
      `WARNING: other processes kept ~${round(foreign, 1)} of ${os.cpus().length} CPUs busy during the measurements` +
        `${pgSchema ? ' (this includes the PostgreSQL server)' : ''}; ` +
        'absolute figures are depressed (the ratio less so: rounds alternate). Re-run on a quiet machine for reference figures.',
    );
  }
  out(
    `ratioToBaseline (gateway pkg/s ÷ baseline pkg/s): ${j.ratioToBaseline}  ` +
      `${intake.full ? '(no target: issue 16 sets them on the receipt path, intake)' : `(target ≥ ${intake.target})`}; ` +
      `receipt p99 ÷ baseline p99: ${j.p99RatioToBaseline} ${p99Target ? `(target ≤ ${TARGET_P99_FACTOR})` : '(no target)'}; ` +
      `gateway peak RSS during intake ${round1(intake.gatewayRssMb)} MB`,
  );
  if (!intake.full && !(j.ratioToBaseline >= intake.target))
    missed.push(
      `MISSED ${part}: ratioToBaseline ${j.ratioToBaseline} < ${intake.target} ` +
        `(gateway ${j.packagesPerSecond} pkg/s, baseline ${j.baselinePackagesPerSecond} pkg/s)`,
    );
  if (p99Target && !(j.p99RatioToBaseline <= TARGET_P99_FACTOR))
    missed.push(
      `MISSED ${part}: receipt p99 ${j.p99Ms} ms is ${j.p99RatioToBaseline} × the baseline's ${j.baselineP99Ms} ms (target ≤ ${TARGET_P99_FACTOR} ×)`,
    );
}

async function main(): Promise<void> {
  const budgetMs = (opts.quick ? 6 : 20) * 60_000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: time budget of ${budgetMs / 60_000} min exceeded\n`);
    void cleanup().finally(() => process.exit(1));
  }, budgetMs);
  watchdog.unref();

  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length,
    model: cpus[0]?.model.trim() ?? 'unknown',
    memGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
  };
  progress(`temp dir ${tmpRoot}; ${machine.cpus} × ${machine.model}, ${machine.memGb} GB, node ${machine.node}`);

  const runs = (part: NonNullable<Options['only']>) => opts.only === undefined || opts.only === part;
  if (runs('intake-full') || runs('routing') || runs('delivery')) {
    // Fail now rather than after the other parts.
    const why = await redisProblem(REDIS_URL);
    if (why)
      throw new Error(
        `intake-full, routing and delivery need Redis at ${REDIS_URL} (set BENCH_REDIS_URL, or run --only intake / --only large): ${why}`,
      );
  }
  const intake = runs('intake') ? await runIntake('file') : undefined;
  const intakeFull = runs('intake-full') ? await runIntake('file', true) : undefined;
  const intakeS3 = runs('intake-s3') ? await runIntake('s3') : undefined;
  const large = runs('large') ? await runLarge() : undefined;
  const routing = runs('routing') ? await runRouting() : undefined;
  const delivery = runs('delivery') ? await runDelivery() : undefined;
  const web = runs('web') ? await runWeb() : undefined;
  const numbers = runs('numbers')
    ? await measureNumbers({
        dataDir: join(tmpRoot, 'numbers'),
        ...(pgSchema ? { pg: { url: PG_URL, schema: `${pgSchema}_numbers` } } : {}),
        cases: opts.quick ? NUMBERS_CASES / 4 : NUMBERS_CASES,
        runs: NUMBERS_RUNS,
        progress,
      })
    : undefined;

  out();
  out(
    `Postkasse bench — ${machine.cpus} × ${machine.model}, ${machine.memGb} GB, node ${machine.node}; database ${pgSchema ? 'PostgreSQL' : 'SQLite'}; ` +
      `gateway ${opts.tsx ? 'under node --import tsx (--tsx)' : 'as the esbuild bundle under plain node (as npm start)'}; MB = MiB`,
  );
  out("(load generator, gateway and baseline share this machine's CPUs)");
  const missed: string[] = [];
  if (intake) reportIntake(intake, missed);
  if (intakeFull) reportIntake(intakeFull, missed);
  if (intakeS3) reportIntake(intakeS3, missed);
  if (large) {
    const j = large.json;
    out();
    out(`largeUpload: one ${j.sizeMb} MB document, generated by the client while sending; ${j.runs} run(s), each a fresh gateway child`);
    const rows = [['run', 'MB/s', 'idle RSS MB', 'peak RSS (VmHWM) MB', 'growth MB', 'max sampled RSS MB (100 ms)', 'CPU s']];
    for (const [i, r] of large.runs.entries()) {
      rows.push([
        `#${i + 1}`,
        `${r.json.mbPerSecond}`,
        `${round1(r.idleRssMb)}`,
        `${r.json.peakRssMb}`,
        `${j.growthMb[i]}`,
        `${round1(r.sampledMaxRssMb)}`,
        `${round1(r.serverCpuSeconds)}`,
      ]);
    }
    out(table(rows));
    // Where the memory of the run with the largest growth went.
    const worst = large.runs[j.growthMb.indexOf(j.maxGrowthMb)]!;
    out(
      table([
        ['run with the largest growth', 'value'],
        ['V8 heap used / total MB, before', `${String(worst.memBefore.heapUsedMb)} / ${String(worst.memBefore.heapTotalMb)}`],
        ['V8 heap used / total MB, max during upload', `${worst.memMax.heapUsedMb} / ${worst.memMax.heapTotalMb}`],
        ['V8 heap used / total MB, after', `${String(worst.memAfter.heapUsedMb)} / ${String(worst.memAfter.heapTotalMb)}`],
        ['external (of which Buffers) MB, max during upload', `${worst.memMax.externalMb} (${worst.memMax.arrayBuffersMb})`],
      ]),
    );
    const heap = (mem: Record<string, unknown>) => {
      const spaces = (mem.spacesMb ?? {}) as Record<string, number>;
      const committed = Object.values(spaces).reduce((a, b) => a + b, 0);
      return `V8 heap committed ${round1(committed)} MB (${Object.entries(spaces)
        .filter(([, v]) => v >= 0.5)
        .map(([k, v]) => `${k.replace(/_space$/, '')} ${v}`)
        .join(', ')}), used ${String(mem.heapUsedMb)} MB; external ${String(mem.externalMb)} MB`;
    };
    out(
      `idle gateway, development IdP and all, 2 s after start-up (run #1): RSS ${round1(large.runs[0]!.idleRssMb)} MB; ${heap(large.runs[0]!.memBefore)}`,
    );
    out(
      `idle gateway without the development IdP (OIDC_ISSUER set), settled after ${large.idle.settledAfterS} s: ` +
        `RSS ${round1(large.idle.settledRssMb)} MB (${round1(large.idle.afterStartRssMb)} MB 2 s after start-up); ${heap(large.idle.mem)}`,
    );
    out(
      `targets: growth ≤ ${TARGET_LARGE_GROWTH_MB} MB in every run; settled idle RSS ≤ ${TARGET_IDLE_RSS_MB} MB (or the README's breakdown)`,
    );
    if (!(j.maxGrowthMb <= TARGET_LARGE_GROWTH_MB))
      missed.push(
        `MISSED largeUpload: peak RSS grew by ${j.maxGrowthMb} MB > ${TARGET_LARGE_GROWTH_MB} MB (runs: ${j.growthMb.join(', ')})`,
      );
    if (!(j.settledIdleRssMb <= TARGET_IDLE_RSS_MB))
      missed.push(`MISSED idle RSS: ${j.settledIdleRssMb} MB settled > ${TARGET_IDLE_RSS_MB} MB (the README breaks it down)`);
  }
  if (routing) {
    const j = routing.json;
    out();
    out(
      `routing: ${j.cases} complete cases (${ROUTING_PDF_BYTES / 1024} KB PDF) posted at once by ${PARTY} ` +
        `over ${ROUTING_SOCKETS} mTLS connections after ${ROUTING_WARMUP} warm-up cases; ` +
        `worklists of ${ROUTING_STAFF.join(' and ')} polled back to back; time from the receipt's receivedAt to the case first seen in a worklist ` +
        '(latency includes up to one worklist poll round trip)',
    );
    const ms = (v: readonly number[]) => [`${round1(percentile(v, 50))}`, `${round1(percentile(v, 99))}`, `${round1(Math.max(...v))}`];
    const logged = routing.toAssignedMs.length;
    out(
      table([
        ['', 'p50 ms', 'p99 ms', 'max ms'],
        ['receipt → in a worklist', ...ms(routing.toWorklistMs)],
        ...(logged > 0
          ? [
              [`  receipt → assigned (gateway log${logged < j.cases ? `, ${logged} cases` : ''})`, ...ms(routing.toAssignedMs)],
              ['  assigned → seen in a worklist', ...ms(routing.assignedToSeenMs)],
            ]
          : []),
        ['receipt → 201 at the client', ...ms(routing.toAnswerMs)],
        [`worklist poll round trip (${routing.pollMs.length} polls)`, ...ms(routing.pollMs)],
      ]),
    );
    out(
      `receipts spread over ${round1(routing.receiptSpanMs)} ms (first → last receivedAt); ` +
        `all ${j.cases} in worklists ${round1(routing.wallMs)} ms after the first request; ` +
        `cases per worklist: ${Object.entries(routing.perStaff)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
    );
    const pct = (x: number) => `${Math.round(100 * x)}%`;
    out(
      `during the burst: gateway CPU ${round(routing.serverCpuSeconds, 2)} s ` +
        `(event loop on CPU ${pct(routing.serverMainThreadBusy)}, waiting for a CPU ${pct(routing.serverMainThreadRunQueue)}), ` +
        `client CPU ${round(routing.clientCpuSeconds, 2)} s, other load (Redis, other processes) ${round(routing.otherCores, 2)} of ${os.cpus().length} CPUs`,
    );
    out(`p99 target ≤ ${TARGET_ROUTING_P99_MS} ms with ${ROUTING_CASES} cases arriving at once`);
    if (!(j.p99MsToWorklist <= TARGET_ROUTING_P99_MS)) {
      missed.push(
        `MISSED routing: p99 receipt → worklist ${j.p99MsToWorklist} ms > ${TARGET_ROUTING_P99_MS} ms (${j.cases} cases at once)`,
      );
    }
  }
  if (delivery) {
    const d = delivery;
    const j = d.json;
    out();
    out(
      `delivery: ${j.responses} specialist attests (${DELIVERY_PDF_BYTES / 1024} KB PDF) posted at once by ${DELIVERY_SPECIALISTS.join(' and ')} ` +
        `(${DELIVERY_CONCURRENCY} in flight, a keep-alive agent each) after ${DELIVERY_WARMUP} warm-up responses, ` +
        `on ${j.responses + DELIVERY_WARMUP} clinical-assessment cases from ${PARTY}; ` +
        `mailboxes of ${PARTY} and ${DELIVERY_GP} (the GP's copy) polled back to back; time from the 201 at the client to both messages first listed ` +
        '(latency includes up to one mailbox poll round trip)',
    );
    const ms = (v: readonly number[]) =>
      v.length ? [`${round1(percentile(v, 50))}`, `${round1(percentile(v, 99))}`, `${round1(Math.max(...v))}`] : ['–', '–', '–'];
    const logged = d.toCommittedMs.length;
    const readsBy = (party: string) => d.reads.filter((r) => r.party === party);
    const polls = Object.entries(d.pollMs);
    out(
      table([
        ['', 'p50 ms', 'p99 ms', 'max ms'],
        [`201 → in both mailboxes${d.clamped ? ` (${d.clamped} clamped at 0)` : ''}`, ...ms(d.toMailboxesMs)],
        [`  201 → in ${PARTY}'s mailbox`, ...ms(d.toRecipientMs)],
        [`  201 → in ${DELIVERY_GP}'s mailbox`, ...ms(d.toCopyMs)],
        ['sentAt → in both mailboxes', ...ms(d.sentAtToMailboxesMs)],
        ...(logged > 0
          ? [
              [`  sentAt → committed (gateway log${logged < j.responses ? `, ${logged} responses` : ''})`, ...ms(d.toCommittedMs)],
              ['  committed → in both mailboxes', ...ms(d.committedToMailboxesMs)],
            ]
          : []),
        ['sentAt → 201 at the client', ...ms(d.sentAtToAnswerMs)],
        ['response POST → 201 at the client', ...ms(d.requestMs)],
        ...[PARTY, DELIVERY_GP].map((p) => [
          `201 → envelope read, ${p} (${readsBy(p).length} sampled)`,
          ...ms(readsBy(p).map((r) => r.readAt - r.answeredAt)),
        ]),
        [
          `envelope GET round trip (${d.reads.length}, ${d.reads[0] ? `${round1(d.reads[0].bytes / 1024)} KB each` : '–'})`,
          ...ms(d.reads.map((r) => r.ms)),
        ],
        ...polls.map(([p, v]) => [`mailbox poll round trip, ${p} (${v.length} polls)`, ...ms(v)]),
      ]),
    );
    out(
      `sentAt spread over ${round1(d.sentSpanMs)} ms (first → last); all ${j.responses} in both mailboxes ${round1(d.wallMs)} ms after the first request; ` +
        `responses per specialist (with warm-up): ${Object.entries(d.perSpecialist)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}; ` +
        `message states in the 201s: ${Object.entries(d.states)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}; ` +
        `set-up: ${j.responses + DELIVERY_WARMUP} cases posted in ${round1(d.casesMs / 1000)} s, all assigned after ${round1(d.assignedMs / 1000)} s`,
    );
    out(
      `all ${d.reads.length} sampled envelopes read and checked (200, Message-Signature, messageId, caseId, sentAt, recipient, document SHA-256)`,
    );
    const pct = (x: number) => `${Math.round(100 * x)}%`;
    out(
      `during the burst: gateway CPU ${round(d.serverCpuSeconds, 2)} s ` +
        `(event loop on CPU ${pct(d.serverMainThreadBusy)}, waiting for a CPU ${pct(d.serverMainThreadRunQueue)}), ` +
        `client CPU ${round(d.clientCpuSeconds, 2)} s, other load (Redis, other processes) ${round(d.otherCores, 2)} of ${os.cpus().length} CPUs`,
    );
    out(
      `p99 target ≤ ${TARGET_DELIVERY_P99_MS} ms from an accepted response to readable in both mailboxes, ${DELIVERY_RESPONSES} responses at once`,
    );
    if (!(j.p99MsToMailboxes <= TARGET_DELIVERY_P99_MS)) {
      missed.push(
        `MISSED delivery: p99 201 → both mailboxes ${j.p99MsToMailboxes} ms > ${TARGET_DELIVERY_P99_MS} ms (${j.responses} responses at once)`,
      );
    }
  }
  if (web) {
    const { m, json: j } = web;
    out();
    out(
      `web: ${j.openCases} open cases, ${j.staffCases} of them ${WEB_STAFF}'s (${m.seed.realForStaff} posted over mTLS, the rest cloned rows); ` +
        `signed in as ${WEB_STAFF} through the development IdP; ${WEB_WARMUP} warm-up GETs of each page, then ${j.requests} sequential GETs ` +
        `of / and ${j.requests} of /sager/{caseId} over ${m.casePage.cases} of her cases (one keep-alive connection); ` +
        "server time = the gateway's 'staff page' log line",
    );
    const ms = (v: readonly number[]) => [`${round1(percentile(v, 50))}`, `${round1(percentile(v, 95))}`, `${round1(Math.max(...v))}`];
    const size = (b: number) => `${round1(b / 1024)} KB`;
    out(
      table([
        ['', 'p50 ms', 'p95 ms', 'max ms', 'HTML', 'gateway CPU ms/page (event loop)'],
        [
          '/ (Arbejdsliste), server time',
          ...ms(web.worklistServerMs),
          size(m.worklist.bytes),
          `${round1(m.worklist.serverCpuMs)} (${round1(m.worklist.eventLoopCpuMs)})`,
        ],
        ['/ (Arbejdsliste), client round trip', ...ms(m.worklist.clientMs), '', ''],
        [
          '/sager/{caseId}, server time',
          ...ms(web.caseServerMs),
          size(m.casePage.bytes),
          `${round1(m.casePage.serverCpuMs)} (${round1(m.casePage.eventLoopCpuMs)})`,
        ],
        ['/sager/{caseId}, client round trip', ...ms(m.casePage.clientMs), '', ''],
      ]),
    );
    out(
      `page weight of /: HTML ${size(m.weight.htmlBytes)} + app.css ${size(m.weight.cssBytes)} + app.js ${size(m.weight.jsBytes)} = ` +
        `${j.pageKb} KB (uncompressed; target < ${TARGET_WEB_PAGE_KB} KB)`,
    );
    out(
      `set-up: ${WEB_POSTED} packages posted in ${round1(m.seed.postedMs / 1000)} s, ` +
        `${m.seed.cloned} case rows cloned in ${round1(m.seed.clonedMs / 1000)} s; ` +
        `login ${Math.round(m.login.ms)} ms (${m.login.steps} requests); gateway peak RSS ${round1(web.rssMb)} MB; ` +
        `worklist query plan: ${m.seed.worklistPlan}`,
    );
    out(
      `p95 target < ${TARGET_WEB_P95_MS} ms (server time) for each page with ${WEB_OPEN_CASES} open cases and ${WEB_STAFF_CASES} for the coordinator`,
    );
    if (web.non200 > 0) missed.push(`MISSED web: ${web.non200} measured requests did not answer 200`);
    if (!(j.p95MsWorklist < TARGET_WEB_P95_MS)) missed.push(`MISSED web: worklist p95 ${j.p95MsWorklist} ms ≥ ${TARGET_WEB_P95_MS} ms`);
    if (!(j.p95MsCasePage < TARGET_WEB_P95_MS)) missed.push(`MISSED web: case page p95 ${j.p95MsCasePage} ms ≥ ${TARGET_WEB_P95_MS} ms`);
    if (!(j.pageKb < TARGET_WEB_PAGE_KB)) missed.push(`MISSED web: page weight of / ${j.pageKb} KB ≥ ${TARGET_WEB_PAGE_KB} KB`);
  }
  if (numbers) reportNumbers(numbers);
  out();
  for (const m of missed) out(m);
  if (missed.length === 0) out('all targets met');

  const result = {
    machine,
    intake: intake?.json ?? null,
    intakeFull: intakeFull?.json ?? null,
    intakeS3: intakeS3?.json ?? null,
    largeUpload: large?.json ?? null,
    routing: routing?.json ?? null,
    delivery: delivery?.json ?? null,
    web: web?.json ?? null,
    numbers: numbers ?? null,
  };
  await cleanup();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  async (e: unknown) => {
    if (interrupted) return; // the signal handler cleans up and exits
    process.stderr.write(`bench: error: ${(e as Error)?.stack ?? String(e)}\n`);
    for (const c of children) {
      const t = c.stderrTail().trim();
      if (t) process.stderr.write(`--- child ${c.pid} stderr ---\n${t}\n`);
    }
    await cleanup();
    process.exit(1);
  },
);
