/**
 * On-CPU breakdown of the gateway's event-loop thread by component, from a
 * Linux `perf` call-graph recording. Unlike the inspector profile
 * (--profile), perf samples only while the thread is on a CPU, so time spent
 * preempted on a busy 2-core machine is not charged to whatever native call
 * happened to be running.
 *
 *   npm run bench -- --only intake --rounds 1 --count 1500 --node-arg=--perf-basic-prof &
 *   # once the gateway round runs (the child's pid = its event-loop thread id):
 *   perf record -e cpu-clock -F 999 -g -t <gateway-child pid> -o /tmp/gw.data -- sleep 10
 *   perf script -i /tmp/gw.data -F comm,tid,ip,sym,dso > /tmp/gw.txt
 *   node --import tsx bench/perf-categories.ts /tmp/gw.txt [event-loop CPU ms per package]
 *
 * Each sample is charged to the first frame, from the leaf up, that names a
 * known component. AES-GCM assembly has no frame information: those samples
 * (TLS decryption and blob encryption alike) are reported on their own line.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const RULES: Array<[string, RegExp]> = [
  ['AES-GCM assembly (TLS decryption + blob encryption; no call chain)', /^_aesni_ctr32_ghash|^aesni_gcm|^gcm_ghash/],
  ['receipt signing (RSA-2048 private key + node-forge PKCS#7)', /RSA_|rsa_|\bbn_|BN_|mulx4x|__bn_|node-forge|receipts\/cms\.ts/],
  ['TLS record decryption (OpenSSL read path)', /SSL_read|ssl3_read|tls13_enc|EVP_Decrypt/],
  ['document SHA-256 + AES-256-GCM calls (blob store)', /Hash::HashUpdate|CipherBase::Update|sha256_block/],
  ['database (better-sqlite3 + kysely)', /better_sqlite3|sqlite3|kysely/],
  ['blob store plumbing (storage/blobs.ts writer, Buffer.concat, fs promises)', /storage\/blobs\.ts|node::fs::|FileHandle/],
  ['multipart parsing (busboy, streamsearch, multer)', /busboy|streamsearch|multer/],
  ['media-type sniffer (intake/sniff.ts)', /intake\/sniff\.ts/],
  ['logging (pino)', /pino|sonic-boom/],
  ['manifest validation (zod, intake/manifest.ts)', /\/zod\/|intake\/manifest\.ts/],
  [
    'intake bookkeeping (deadline clock, audit chain, canonical JSON, intake/service.ts)',
    /deadlines\/|audit\/audit\.ts|canonical-json|intake\/service\.ts/,
  ],
  [
    'express / router / middleware (app.ts, shared/http.ts, intake/routes.ts, upload.ts)',
    /\/express\/|\/router\/|src\/app\.ts|shared\/http\.ts|intake\/routes\.ts|intake\/upload\.ts|\/type-is\/|\/on-finished\//,
  ],
  ['node HTTP parser + streams + events', /node:_http|node:internal\/streams|node:events|Parser::|llhttp/],
  ['garbage collection', /v8::internal::(Heap|MarkCompact|Scavenger|ConcurrentMarking|MinorMC|IncrementalMarking|GCTracer|ScavengeJob)/],
  ['kernel (syscalls, page faults)', /\[kernel/],
];

export function categorise(perfScript: string): { total: number; rows: Array<{ name: string; samples: number }> } {
  const counts = new Map<string, number>();
  let total = 0;
  const charge = (frames: string[]) => {
    if (frames.length === 0) return;
    total++;
    // frame lines look like "<address> <symbol> (<dso>)"
    const syms = frames.map((f) => f.replace(/^[0-9a-f]+\s+/, ''));
    for (const f of syms) {
      for (const [name, re] of RULES) {
        if (re.test(f)) {
          counts.set(name, (counts.get(name) ?? 0) + 1);
          return;
        }
      }
    }
    counts.set('other (V8 runtime, libc, unattributed)', (counts.get('other (V8 runtime, libc, unattributed)') ?? 0) + 1);
  };
  let frames: string[] = [];
  for (const line of perfScript.split('\n')) {
    if (!line.trim()) {
      charge(frames);
      frames = [];
    } else if (line[0] === '\t' || line[0] === ' ') {
      frames.push(line.trim());
    }
  }
  charge(frames);
  return { total, rows: [...counts.entries()].map(([name, samples]) => ({ name, samples })).sort((a, b) => b.samples - a.samples) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, msArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/perf-categories.ts PERF_SCRIPT.txt [event-loop CPU ms per package]\n');
    process.exit(2);
  }
  const { total, rows } = categorise(readFileSync(file, 'utf8'));
  const msPerPkg = msArg ? Number(msArg) : undefined;
  process.stdout.write(`${total} on-CPU samples of the event-loop thread\n`);
  for (const r of rows) {
    const share = r.samples / total;
    const ms = msPerPkg ? `  ${(share * msPerPkg).toFixed(2).padStart(5)} ms/pkg` : '';
    process.stdout.write(`${(100 * share).toFixed(1).padStart(5)}%${ms}  ${r.name}\n`);
  }
}
