/**
 * Getting VANSEnvelopes (src/medcom/vans.ts) to and from a VANS provider.
 * Providers offer either a directory pair (an outbox the provider's client
 * picks files up from, an inbox it drops received envelopes into) or an HTTPS
 * endpoint behind mutual TLS; this module does both, always streaming the
 * outbound envelope (up to 100 MB, 030_Governance-for-Network-Layer.md §3).
 *
 * - `writeEnvelopeToOutbox`: atomic publication. The envelope is written to a
 *   temp file in the same directory whose name the provider ignores
 *   (`.<id>.<random>.tmp`: a dotfile, not `*.xml`), fsynced, renamed to
 *   `<envelopeId>.xml`, and the directory is fsynced, so the provider sees
 *   either nothing or the whole file, also after a crash. A retry of the same
 *   transmission (same EnvelopeIdentifier, same bytes) replaces the file:
 *   idempotent. A resend in the sense of MedCom's reliable messaging
 *   (032_Reliable_Messaging-VANSEnvelope.md, scenario #3) is a new envelope
 *   with a new EnvelopeIdentifier, so a new file. The id must be a UUID (the
 *   EnvelopeIdentifier type), which also keeps paths inside the directory.
 * - `postEnvelope`: HTTPS POST over mutual TLS with `content-type:
 *   application/xml` and the exact content-length (`vansEnvelopeSize`),
 *   through the same mTLS helper as our own push delivery
 *   (src/delivery/push.ts `mtlsPost`).
 * - `createInboxDirPoller`: picks up `*.xml` files from the inbox directory in
 *   name order (dotfiles and temp files are ignored), hands each to `handle`,
 *   then moves it to `processed/` or, when `handle` throws, to `failed/`
 *   (logged as an error). A handler that throws `InboxSetAside` (a well-formed
 *   file that concerns nothing of ours, e.g. a VANS receipt for an unknown
 *   envelope) has the file moved to `unmatched/` with a warning instead:
 *   kept for a person to look at, but not the gateway's failure.
 *   Several gateway instances may poll the same directory: an instance first
 *   claims a file by renaming it to `.claimed-<random>-<name>` (rename is
 *   atomic, so exactly one instance wins; the others get ENOENT and skip it
 *   silently). While `handle` runs, the claim's mtime is refreshed; a claim
 *   not refreshed for `staleClaimMs` (its instance died mid-file) is taken
 *   over by re-claiming it, so after a crash a file is handled again rather
 *   than stuck: exactly once while instances live, at least once across
 *   crashes. Inbound handling must therefore be idempotent, which MedCom's
 *   reliable messaging demands anyway (duplicates SHALL be recognised by
 *   EnvelopeIdentifier and MessageIdentifier, 032_Reliable_Messaging-
 *   VANSEnvelope.md). Logs carry only the file name and a (CPR-scrubbed)
 *   error message, never file contents.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { mtlsPost, type PushTls } from '../shared/mtls.js';
import { scrubCpr } from '../shared/logger.js';
import { VANS_INBOUND_MAX_BYTES, VANS_MAX_ENVELOPE_BYTES } from './vans.js';

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;
const message = (err: unknown): string => scrubCpr(err instanceof Error ? err.message : String(err));

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

/**
 * Atomically publish an envelope as `<dir>/<envelopeId>.xml` (see the module
 * comment). Resolves with the final path and the number of bytes written;
 * on any error (the body stream's included) no file of this call remains.
 */
export async function writeEnvelopeToOutbox(dir: string, envelopeId: string, body: Readable): Promise<{ path: string; size: number }> {
  if (typeof envelopeId !== 'string' || !UUID_RE.test(envelopeId)) {
    body.destroy();
    throw new Error('outbox: envelopeId must be a UUID');
  }
  const final = path.join(dir, `${envelopeId}.xml`);
  const tmp = path.join(dir, `.${envelopeId}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  let size = 0;
  try {
    fh = await open(tmp, 'wx', 0o640);
    for await (const chunk of body) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
      await writeAll(fh, buf);
      size += buf.length;
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, final);
    await fsyncDir(dir);
    return { path: final, size };
  } catch (err) {
    body.destroy();
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * POST an envelope to a VANS provider's HTTPS endpoint over mutual TLS,
 * streaming `body` (exactly `size` bytes: `vansEnvelopeSize`). Resolves with
 * the HTTP status; the caller decides what counts as accepted.
 */
export async function postEnvelope(
  tls: PushTls,
  url: string,
  body: Readable,
  size: number,
  timeoutMs?: number,
): Promise<{ status: number }> {
  if (!Number.isSafeInteger(size) || size < 0) {
    body.destroy();
    throw new Error('postEnvelope: size must be a non-negative integer');
  }
  if (size > VANS_MAX_ENVELOPE_BYTES) {
    body.destroy();
    throw new Error(`postEnvelope: ${size} bytes exceeds the VANS maximum of ${VANS_MAX_ENVELOPE_BYTES} bytes`);
  }
  return mtlsPost(tls, {
    url,
    headers: { 'content-type': 'application/xml', 'content-length': String(size) },
    body,
    timeoutMs,
  });
}

export interface InboxLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface InboxFile {
  /** the file's name in the inbox directory (not a path) */
  name: string;
  bytes: Buffer;
}

/** Thrown by an inbox handler that cannot handle a file now (e.g. the validator is restarting): the file stays for the next poll. */
export class InboxRetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InboxRetryLater';
  }
}

/**
 * Thrown by an inbox handler for a file that is well-formed but concerns nothing of ours (a VANS receipt for an
 * envelope the gateway never sent): the file is kept aside in `unmatched/` with a warning, not failed with an error.
 */
export class InboxSetAside extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InboxSetAside';
  }
}

export interface InboxDirPollerOptions {
  dir: string;
  /** pause between the end of one poll and the start of the next */
  intervalMs: number;
  /** handles one file; a throw moves the file to failed/, an InboxSetAside to unmatched/, an InboxRetryLater leaves it for the next poll */
  handle: (file: InboxFile) => Promise<void>;
  log: InboxLog;
  /** bigger files go to failed/ unread; default 10 MB (VANS_INBOUND_MAX_BYTES) */
  maxBytes?: number;
  /** a claim not refreshed for this long belongs to a dead instance and is taken over; default 10 minutes */
  staleClaimMs?: number;
}

export interface InboxDirPoller {
  /** polls now, then every `intervalMs` after each poll ends, until stop() */
  start(): void;
  /** stops polling; resolves once a running poll has ended (a timer poll stops after its current file) */
  stop(): Promise<void>;
  /** one poll (queued behind a running one); `processed`/`failed` count the files this poll moved there (not those set aside) */
  pollOnce(): Promise<{ processed: number; failed: number }>;
}

const CLAIM_RE = /^\.claimed-([0-9a-f]{16})-(.+)$/;
const isInboxName = (name: string): boolean => !name.startsWith('.') && /\.xml$/i.test(name);
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function createInboxDirPoller(opts: InboxDirPollerOptions): InboxDirPoller {
  const { dir, log } = opts;
  const maxBytes = opts.maxBytes ?? VANS_INBOUND_MAX_BYTES;
  const staleClaimMs = opts.staleClaimMs ?? 10 * 60_000;
  const heartbeatMs = Math.max(25, Math.floor(staleClaimMs / 4));
  const processedDir = path.join(dir, 'processed');
  const failedDir = path.join(dir, 'failed');
  const unmatchedDir = path.join(dir, 'unmatched');
  /** claims this instance holds right now (never taken over by itself) */
  const mine = new Set<string>();
  let chain: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let stopped = false;

  const newToken = () => randomBytes(8).toString('hex');

  /** Move a claimed file to `destDir` under its original name (a suffix if that is taken). False if the claim was lost. */
  async function moveClaim(claim: string, destDir: string, name: string, token: string): Promise<boolean> {
    let target = path.join(destDir, name);
    const taken = await access(target, fsConstants.F_OK).then(
      () => true,
      () => false,
    );
    if (taken) target = path.join(destDir, `${name.replace(/\.xml$/i, '')}.${token}.xml`);
    try {
      await rename(claim, target);
      return true;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /** Handle a file this instance has claimed, then move it. */
  async function processClaim(
    claim: string,
    name: string,
    token: string,
  ): Promise<'processed' | 'failed' | 'set-aside' | 'lost' | 'deferred'> {
    mine.add(claim);
    const beat = () => {
      const now = new Date();
      utimes(claim, now, now).catch(() => undefined);
    };
    beat();
    const heartbeat = setInterval(beat, heartbeatMs);
    heartbeat.unref();
    let outcome: 'processed' | 'failed' | 'set-aside';
    let asideWhy = '';
    try {
      try {
        const st = await stat(claim);
        if (st.size > maxBytes) throw new Error(`file of ${st.size} bytes exceeds the limit of ${maxBytes} bytes`);
        const bytes = await readFile(claim);
        await opts.handle({ name, bytes });
        outcome = 'processed';
      } catch (err) {
        if (errCode(err) === 'ENOENT') {
          log.warn({ file: name }, 'inbox file claim lost to another instance');
          return 'lost';
        }
        if (err instanceof InboxRetryLater) {
          // Back under its own name: the next poll (of any instance) tries again.
          await rename(claim, path.join(dir, name)).catch(() => undefined);
          log.warn({ file: name, err: message(err) }, 'inbox file left for the next poll');
          return 'deferred';
        }
        if (err instanceof InboxSetAside) {
          outcome = 'set-aside';
          asideWhy = message(err);
          // Created on first use: most inboxes never need it.
          await mkdir(unmatchedDir, { recursive: true });
        } else {
          outcome = 'failed';
          log.error({ file: name, err: message(err) }, 'inbox file failed');
        }
      } finally {
        clearInterval(heartbeat);
      }
      const destDir = outcome === 'processed' ? processedDir : outcome === 'failed' ? failedDir : unmatchedDir;
      const moved = await moveClaim(claim, destDir, name, token);
      if (!moved) {
        log.warn({ file: name }, 'inbox file claim lost to another instance');
        return 'lost';
      }
      if (outcome === 'processed') log.info({ file: name }, 'inbox file processed');
      else if (outcome === 'set-aside') log.warn({ file: name, err: asideWhy }, 'inbox file kept aside in unmatched/');
      return outcome;
    } finally {
      mine.delete(claim);
    }
  }

  /** Claim `name` (a file in the inbox, or a stale claim) by renaming it; null if another instance got it first. */
  async function claim(from: string): Promise<{ path: string; token: string } | null> {
    const token = newToken();
    const name = CLAIM_RE.exec(from)?.[2] ?? from;
    const to = path.join(dir, `.claimed-${token}-${name}`);
    try {
      await rename(path.join(dir, from), to);
      return { path: to, token };
    } catch (err) {
      if (errCode(err) === 'ENOENT') return null;
      throw err;
    }
  }

  async function poll(interruptible: boolean): Promise<{ processed: number; failed: number }> {
    await mkdir(processedDir, { recursive: true });
    await mkdir(failedDir, { recursive: true });
    const result = { processed: 0, failed: 0 };
    const entries = await readdir(dir, { withFileTypes: true });
    const work: { from: string; name: string }[] = [];
    const now = Date.now();
    for (const e of entries) {
      if (!e.isFile()) continue;
      const m = CLAIM_RE.exec(e.name);
      if (m && isInboxName(m[2]!)) {
        const p = path.join(dir, e.name);
        if (mine.has(p)) continue;
        const st = await stat(p).catch(() => null);
        if (st && now - Math.max(st.mtimeMs, st.ctimeMs) > staleClaimMs) work.push({ from: e.name, name: m[2]! });
      } else if (isInboxName(e.name)) {
        work.push({ from: e.name, name: e.name });
      }
    }
    work.sort((a, b) => byName(a.name, b.name) || byName(a.from, b.from));
    for (const w of work) {
      if (interruptible && stopped) break;
      const c = await claim(w.from);
      if (!c) continue; // another instance has it
      if (w.from !== w.name) log.warn({ file: w.name }, 'inbox file: taking over a stale claim');
      const outcome = await processClaim(c.path, w.name, c.token);
      if (outcome === 'processed') result.processed++;
      else if (outcome === 'failed') result.failed++;
    }
    return result;
  }

  function enqueue(interruptible: boolean): Promise<{ processed: number; failed: number }> {
    const p = chain.then(() => poll(interruptible));
    chain = p.catch(() => undefined);
    return p;
  }

  function tick(): void {
    timer = undefined;
    enqueue(true)
      .catch((err: unknown) => log.error({ err: message(err) }, 'inbox poll failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, opts.intervalMs);
      });
  }

  return {
    start() {
      if (started || stopped) return;
      started = true;
      timer = setTimeout(tick, 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await chain;
    },
    pollOnce() {
      return enqueue(false);
    },
  };
}
