/**
 * Helpers for bench/run.ts: child processes, /proc sampling, HTTPS requests
 * (POST and GET), a streaming multipart body for documents that are never
 * held in memory, and small statistics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { createMultipart } from '../src/cli/multipart.js';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export const MiB = 1 << 20;

// ---------------------------------------------------------------- child processes

export interface Child<I> {
  proc: ChildProcess;
  pid: number;
  info: I;
  /** last ~64 KiB of the child's stderr */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** Writes one command line to the child's stdin and resolves with the next JSON line it prints. */
  command(line: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Every child process started by startChild that has not exited yet (for cleanup on errors and signals). */
export const liveChildren = new Set<{ pid: number; stop(graceMs?: number): Promise<void> }>();

/**
 * Starts `node [--import tsx] <script>` (tsx for a .ts script; plus
 * `nodeArgs`) and waits for the one JSON line with `"ready": true` it prints
 * on stdout.
 */
export function startChild<I>(opts: {
  script: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  name: string;
  timeoutMs?: number;
}): Promise<Child<I>> {
  const loader = /\.[cm]?ts$/.test(opts.script) ? ['--import', 'tsx'] : [];
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...loader, opts.script], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let tail = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => {
    tail = (tail + d).slice(-65536);
  });
  proc.stdin!.on('error', () => {});
  let exited = proc.exitCode !== null;
  const exitedP = new Promise<void>((resolve) => {
    proc.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 12_000): Promise<void> => {
    stopping ??= (async () => {
      if (exited) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => {
        if (!exited) proc.kill('SIGKILL');
      }, graceMs);
      await exitedP;
      clearTimeout(t);
      proc.stdin?.destroy();
    })();
    return stopping;
  };
  const live = { pid: proc.pid ?? -1, stop };
  liveChildren.add(live);
  void exitedP.then(() => liveChildren.delete(live));

  const waiters: Array<(line: string) => void> = [];
  const command = (line: string, timeoutMs = 60_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${opts.name}: no answer to "${line}" within ${timeoutMs} ms`)), timeoutMs);
      waiters.push((answer) => {
        clearTimeout(t);
        try {
          resolve(JSON.parse(answer) as Record<string, unknown>);
        } catch {
          reject(new Error(`${opts.name}: unexpected answer ${answer.slice(0, 200)}`));
        }
      });
      proc.stdin!.write(line + '\n');
    });

  return new Promise<Child<I>>((resolve, reject) => {
    let out = '';
    let done = false;
    const timer = setTimeout(
      () => fail(new Error(`${opts.name}: not ready after ${(opts.timeoutMs ?? 120_000) / 1000} s`)),
      opts.timeoutMs ?? 120_000,
    );
    function fail(e: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void stop(2_000).then(() => reject(new Error(`${e.message}\n--- ${opts.name} stderr ---\n${tail.trim()}`)));
    }
    proc.once('error', (e) => fail(e));
    proc.once('exit', (code, signal) => fail(new Error(`${opts.name} exited before it was ready (code ${code}, signal ${signal})`)));
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      out += d;
      if (done) {
        // after the ready line: answers to command()
        for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          waiters.shift()?.(line);
        }
        return;
      }
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      let info: I & { ready?: boolean };
      try {
        info = JSON.parse(out.slice(0, nl)) as I & { ready?: boolean };
      } catch {
        return fail(new Error(`${opts.name} printed something other than its ready line: ${out.slice(0, 200)}`));
      }
      if (!info.ready) return fail(new Error(`${opts.name}: unexpected first line ${out.slice(0, 200)}`));
      done = true;
      clearTimeout(timer);
      out = out.slice(nl + 1);
      resolve({ proc, pid: proc.pid!, info, stderrTail: () => tail, stop, command });
    });
  });
}

// ---------------------------------------------------------------- /proc

const CLK_TCK = 100; // Linux USER_HZ

function statCpu(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // fields after "(comm)"; comm may contain spaces
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14, stime field 15
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/**
 * User + system CPU seconds of a process (Linux /proc), in total and of its
 * main thread (the JavaScript event loop; the rest is libuv's thread pool —
 * fs, fsync, some crypto —, V8's GC helpers and loader threads). Threads that
 * exited are counted in `total` only.
 */
export function cpuSeconds(pid: number): { total: number; main: number; mainRunQueue: number } {
  // schedstat: on-CPU ns, run-queue wait ns (runnable but not running: CPU contention), timeslices
  const sched = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
  return { total: statCpu(`/proc/${pid}/stat`), main: statCpu(`/proc/${pid}/task/${pid}/stat`), mainRunQueue: (sched[1] ?? NaN) / 1e9 };
}

/** Machine-wide CPU seconds spent busy (everything but idle and iowait), summed over all CPUs (/proc/stat). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLK_TCK;
}

/**
 * Waits until the machine is quiet (under `maxCpus` busy over a 500 ms window; at most `timeoutMs`): a child's
 * start-up work (the gateway's MedCom validator process loading the FHIR definitions, several seconds of CPU) must
 * not fall into a measured round. Returns the seconds waited and whether it became quiet.
 */
export async function waitForQuiet(maxCpus = 0.2, timeoutMs = 30_000): Promise<{ seconds: number; quiet: boolean }> {
  const t0 = Date.now();
  for (;;) {
    const b0 = machineBusySeconds();
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    const busy = (machineBusySeconds() - b0) / ((Date.now() - w0) / 1000);
    const seconds = (Date.now() - t0) / 1000;
    if (busy < maxCpus) return { seconds, quiet: true };
    if (Date.now() - t0 >= timeoutMs) return { seconds, quiet: false };
  }
}

/** VmRSS and VmHWM (peak RSS) in MiB. */
export function memory(pid: number): { rssMb: number; hwmMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

// ---------------------------------------------------------------- HTTPS

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** Reads an answer whole, keeping at most `maxBytes` of its body; latency = `started` → its last byte. */
export function readAnswer(res: IncomingMessage, started: bigint, maxBytes: number): Promise<HttpResult> {
  return new Promise<HttpResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= maxBytes) chunks.push(c);
    });
    res.on('end', () =>
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: Buffer.concat(chunks),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      }),
    );
    res.on('error', reject);
  });
}

/** POSTs a package as a municipal system does: its manifest, then one PDF part (the manifest's first document). */
export function postPackage(opts: {
  agent: https.Agent;
  port: number;
  /** its first document names the PDF part */
  manifest: Record<string, unknown>;
  pdf: Buffer;
  timeoutMs: number;
}): Promise<HttpResult> {
  const part = (opts.manifest.documents as { part: string }[])[0]!.part;
  const mp = createMultipart([
    { name: 'manifest', filename: 'manifest.json', contentType: 'application/json', body: Buffer.from(JSON.stringify(opts.manifest)) },
    { name: part, filename: `${part}.pdf`, contentType: 'application/pdf', body: opts.pdf },
  ]);
  return post({
    agent: opts.agent,
    port: opts.port,
    path: '/v1/packages',
    headers: { 'content-type': mp.contentType, 'content-length': mp.length },
    body: mp.stream(),
    timeoutMs: opts.timeoutMs,
  });
}

/** POSTs `body` to https://127.0.0.1:port/path and reads the whole answer. Latency = request start → last answer byte. */
export function post(opts: {
  agent: https.Agent;
  port: number;
  path: string;
  headers: Record<string, string | number>;
  body: Readable;
  timeoutMs: number;
}): Promise<HttpResult> {
  const started = process.hrtime.bigint();
  return new Promise<HttpResult>((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: opts.port,
        method: 'POST',
        path: opts.path,
        agent: opts.agent,
        headers: opts.headers,
        timeout: opts.timeoutMs,
      },
      (res) => void readAnswer(res, started, 1 << 20).then(resolve, reject), // answers are small; never keep more than 1 MiB
    );
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${opts.timeoutMs} ms`)));
    req.on('error', (e) => {
      opts.body.destroy();
      reject(e);
    });
    opts.body.on('error', (e) => req.destroy(e));
    opts.body.pipe(req);
  });
}

/** GETs https://127.0.0.1:port/path and reads the whole answer (at most 16 MiB kept). Latency = request start → last answer byte. */
export function get(opts: { agent: https.Agent; port: number; path: string; timeoutMs: number }): Promise<HttpResult> {
  const started = process.hrtime.bigint();
  return new Promise<HttpResult>((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: opts.port, method: 'GET', path: opts.path, agent: opts.agent, timeout: opts.timeoutMs },
      (res) => void readAnswer(res, started, 16 << 20).then(resolve, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- multipart with a generated document

const CRLF = '\r\n';

/**
 * A multipart/form-data body of a JSON `manifest` part and one document part
 * whose `size` bytes are generated on the fly: `%PDF-1.4\n`, then 1 MiB chunks
 * of one random buffer (incompressible; the same buffer object is pushed each
 * time, so the client never holds more than ~1 MiB of it). `length` is exact,
 * for Content-Length.
 */
export function generatedPdfMultipart(
  manifest: unknown,
  part: string,
  size: number,
): { contentType: string; length: number; stream(): Readable } {
  const boundary = `----postkasse-bench-${randomBytes(16).toString('hex')}`;
  const manifestHead = Buffer.from(
    `--${boundary}${CRLF}Content-Disposition: form-data; name="manifest"; filename="manifest.json"${CRLF}Content-Type: application/json${CRLF}${CRLF}`,
  );
  const manifestBody = Buffer.from(JSON.stringify(manifest));
  const docHead = Buffer.from(
    `${CRLF}--${boundary}${CRLF}Content-Disposition: form-data; name="${part}"; filename="${part}.pdf"${CRLF}Content-Type: application/pdf${CRLF}${CRLF}`,
  );
  const tail = Buffer.from(`${CRLF}--${boundary}--${CRLF}`);
  const header = Buffer.from('%PDF-1.4\n', 'latin1');
  if (size < header.length) throw new RangeError('document size must be at least the PDF header');
  const filler = randomBytes(MiB);
  const length = manifestHead.length + manifestBody.length + docHead.length + size + tail.length;

  async function* generate(): AsyncGenerator<Buffer> {
    yield manifestHead;
    yield manifestBody;
    yield docHead;
    yield header;
    let left = size - header.length;
    while (left > 0) {
      const n = Math.min(left, MiB);
      yield n === MiB ? filler : filler.subarray(0, n);
      left -= n;
    }
    yield tail;
  }
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    stream: () => Readable.from(generate(), { objectMode: false, highWaterMark: 64 * 1024 }),
  };
}

// ---------------------------------------------------------------- statistics

/** Nearest-rank percentile of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

/** Median (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(n: number, digits = 1): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Epoch ms (pino's `time`) of the first JSON log line with message `msg`, per
 * value of its `idField`, from a JSON-lines log file (missing file: empty).
 */
export function logTimes(logFile: string, msg: string, idField: string): Map<string, number> {
  const out = new Map<string, number>();
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.includes(`"${msg}"`)) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      const id = o[idField];
      if (o.msg === msg && typeof id === 'string' && typeof o.time === 'number' && !out.has(id)) out.set(id, o.time);
    } catch {
      /* not a JSON line */
    }
  }
  return out;
}
