/** Shared by the CLI tests: running the real CLI (in this process, or as a child process), parsing multipart bodies with busboy. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { runCli as cli } from '../../src/cli/main.js';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment a CLI run sees: the test's own, without the gateway's variables (a developer's settings cannot leak in), plus `env`. */
function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DATA_DIR', 'DATABASE_URL', 'PARTIES_FILE', 'AGREEMENTS_FILE', 'NODE_TEST_CONTEXT', 'POSTKASSE_URL', 'PORT'])
    delete base[k];
  return { ...base, ...env };
}

/**
 * Runs the CLI's `runCli(args, env)` in this process, as `npm run cli -- …args`
 * would with `env` (see cliEnv): the same function the entry point calls,
 * without the ~1 s a new Node process with tsx costs. Output is what the
 * entry point prints (each stream ending in a newline). The entry point itself
 * (exit codes, printing) is tested as a real process with `spawnCli`.
 */
export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cli ${args.join(' ')}: no answer in ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const r = await Promise.race([cli(args, cliEnv(env)), timeout]);
    const line = (t: string) => (t && !t.endsWith('\n') ? `${t}\n` : t);
    return { code: r.code, stdout: line(r.stdout), stderr: line(r.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `node --import tsx src/cli/main.ts …args` from the repository root, as a child process (see cliEnv). */
export function spawnCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: REPO_ROOT, env: cliEnv(env), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(Object.assign(err, { stdout, stderr }));
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
  });
}

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `postkasse-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ParsedPart {
  name: string;
  /** undefined for a plain field (no filename) */
  filename: string | undefined;
  mimeType: string;
  size: number;
  sha256: string;
  /** the bytes, unless the part was parsed with keepBytes = false */
  bytes?: Buffer;
}

/** Parses a multipart/form-data stream with busboy, the parser multer uses. */
export function parseMultipart(source: Readable, contentType: string, opts: { keepBytes?: boolean } = {}): Promise<ParsedPart[]> {
  const keep = opts.keepBytes !== false;
  return new Promise((resolve, reject) => {
    const parts: ParsedPart[] = [];
    const pending: Promise<void>[] = [];
    const bb = busboy({ headers: { 'content-type': contentType }, defParamCharset: 'utf8' });
    bb.on('file', (name, stream, info) => {
      // The slot is taken now so parts stay in body order even when a file's 'end' comes late.
      const index = parts.push({ name, filename: info.filename, mimeType: info.mimeType, size: 0, sha256: '' }) - 1;
      pending.push(
        new Promise<void>((done, fail) => {
          const hash = createHash('sha256');
          const chunks: Buffer[] = [];
          let size = 0;
          stream.on('data', (c: Buffer) => {
            size += c.length;
            hash.update(c);
            if (keep) chunks.push(c);
          });
          stream.on('error', fail);
          stream.on('end', () => {
            const part = parts[index]!;
            part.size = size;
            part.sha256 = hash.digest('hex');
            if (keep) part.bytes = Buffer.concat(chunks);
            done();
          });
        }),
      );
    });
    bb.on('field', (name, value, info) => {
      const bytes = Buffer.from(value, 'utf8');
      parts.push({
        name,
        filename: undefined,
        mimeType: info.mimeType,
        size: bytes.length,
        sha256: sha256(bytes),
        ...(keep ? { bytes } : {}),
      });
    });
    bb.on('error', reject);
    bb.on('close', () => Promise.all(pending).then(() => resolve(parts), reject));
    source.on('error', (e) => {
      bb.destroy(e);
      reject(e);
    });
    source.pipe(bb);
  });
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
