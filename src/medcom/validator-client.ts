/**
 * The gateway's handle on the MedCom validator process
 * (src/medcom/validator-process.ts): `validate` sends a resource and resolves
 * with its issues. Start-up fails, naming the reason, when the packages
 * cannot be loaded (no MedCom packages, no gateway). If the process stops,
 * what was in flight is rejected and the next call starts a new one; a
 * validation that does not answer in time is rejected too. A rejected
 * validation never passes a message: the caller refuses to send it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Socket } from 'node:net';
import { PACKAGE_ROOT } from '../shared/paths.js';
import type { ValidationIssue } from './validator.js';

export interface AsyncMedcomValidator {
  validate(resource: unknown): Promise<ValidationIssue[]>;
  /** the validator process's pid while it runs (operations and tests) */
  pid(): number | undefined;
  close(): Promise<void>;
}

type Reply = { ready: true } | { failed: string } | { id: number; issues: ValidationIssue[] };

function spawnValidator(packagesDir: string): ChildProcess {
  const stdio: ('ignore' | 'pipe' | 'ipc')[] = ['ignore', 'ignore', 'pipe', 'ipc'];
  if (import.meta.url.endsWith('.ts')) {
    // From the TypeScript sources (tests, `npm run cli`): through tsx.
    return fork(new URL('./validator-process.ts', import.meta.url), [packagesDir], { execArgv: ['--import', 'tsx'], stdio });
  }
  // From the bundle (`npm start`, the Dockerfile): built next to it by `npm run build`.
  return fork(join(PACKAGE_ROOT, 'dist', 'medcom', 'validator-process.js'), [packagesDir], { execArgv: [], stdio });
}

export async function startMedcomValidator(
  packagesDir: string,
  log: Pick<Logger, 'info' | 'warn' | 'error'>,
  opts: { timeoutMs?: number } = {},
): Promise<AsyncMedcomValidator> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let child: ChildProcess | undefined;
  let starting: Promise<ChildProcess> | undefined;
  let closed = false;
  let nextId = 1;
  const pending = new Map<number, { resolve: (i: ValidationIssue[]) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  const failAll = (why: string) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
      pending.delete(id);
    }
  };

  function start(): Promise<ChildProcess> {
    starting ??= new Promise<ChildProcess>((resolve, reject) => {
      const c = spawnValidator(packagesDir);
      // Nothing of the child keeps this process alive (below); while it starts, a timer does.
      const hold = setInterval(() => undefined, 60_000);
      c.once('message', () => clearInterval(hold));
      c.once('exit', () => clearInterval(hold));
      let stderr = '';
      c.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-4000);
      });
      // The gateway's server keeps the process alive, not this child (a CLI or a failed start-up can end);
      // a validation in flight does, by its timeout timer.
      c.unref();
      c.channel?.unref();
      (c.stderr as Socket | null)?.unref();
      c.on('message', (m: Reply) => {
        if ('ready' in m) {
          child = c;
          resolve(c);
        } else if ('failed' in m) reject(new Error(m.failed));
        else {
          const p = pending.get(m.id);
          if (!p) return;
          clearTimeout(p.timer);
          pending.delete(m.id);
          p.resolve(m.issues);
        }
      });
      c.on('exit', (code, signal) => {
        if (child === c) child = undefined;
        starting = undefined;
        reject(
          new Error(
            `the MedCom validator process exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim() || 'no output'}`,
          ),
        );
        failAll('the MedCom validator process stopped');
        if (!closed) log.warn({ code, signal }, 'MedCom validator process stopped; the next validation starts a new one');
      });
    });
    return starting;
  }

  await start();
  log.info({ packagesDir }, 'MedCom validator ready (own process)');

  return {
    async validate(resource) {
      if (closed) throw new Error('the MedCom validator is closed');
      const c = child ?? (await start());
      const id = nextId++;
      return new Promise<ValidationIssue[]>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`the MedCom validator did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        c.send({ id, resource }, (err) => {
          if (!err) return;
          clearTimeout(timer);
          pending.delete(id);
          reject(err);
        });
      });
    },
    pid: () => child?.pid,
    async close() {
      closed = true;
      const c = child;
      failAll('the MedCom validator is closed');
      if (!c || c.exitCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.disconnect();
      const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
