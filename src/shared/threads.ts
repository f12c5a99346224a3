/**
 * Worker threads running one of the gateway's own modules: from the bundle (`npm start`, the Dockerfile) the
 * module's own entry in dist/ (built beside dist/main.js by `npm run build`); from the TypeScript sources (tests,
 * `npm run cli`) the module under src/ loaded through tsx.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { PACKAGE_ROOT } from './paths.js';

/** A worker thread running `entry`, a module path under src/ without its extension (e.g. 'storage/sqlite-writer'). */
export function spawnModuleThread(entry: string, workerData: unknown): Worker {
  if (import.meta.url.endsWith('.ts')) {
    const url = new URL(`../${entry}.ts`, import.meta.url).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    return new Worker(`import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url)}); });`, {
      eval: true,
      workerData,
    });
  }
  return new Worker(join(PACKAGE_ROOT, 'dist', `${entry}.js`), { workerData });
}

/**
 * Ends a thread started by spawnModuleThread once it has handled what was posted to it before: posts `{ close: true }`
 * (the thread closes its port, finishes its work in flight and exits) and waits for its exit. A thread that never
 * started is no matter.
 */
export async function closeModuleThread(thread: Promise<Worker> | undefined): Promise<void> {
  const w = await thread?.catch(() => undefined);
  if (!w) return;
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  w.ref();
  // Messages are handled in order: what was posted before this one finishes first.
  w.postMessage({ close: true });
  await exited;
}
