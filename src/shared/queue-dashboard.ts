/**
 * The team leads' queue dashboard (bull-board), for the mTLS app and the staff
 * pages alike. Issue 15, "the queue dashboard is writable": it is read-only
 * apart from retrying failed jobs. bull-board's own `readOnlyMode` refuses
 * retries too (and its `allowRetries` only hides buttons), so the rule is kept
 * here, in front of bull-board's API:
 * - GET (the page, its assets, the queue and job views) passes;
 * - `PUT /api/queues/{queue}/{jobId}/retry` passes when that job has failed;
 * - `PUT /api/queues/{queue}/retry/failed` (every failed job of the queue) passes;
 * - everything else (pause, resume, clean, empty, obliterate, promote, add, update data,
 *   concurrency, retrying completed jobs) is refused with 403 `queue-dashboard-read-only`.
 * The dashboard may not be framed (`frame-ancestors 'none'`) and names no framework (`X-Powered-By`).
 */
import { Router, type Express, type RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import { forbidden } from './problem.js';

const readOnly = (detail: string) => forbidden(detail, 'queue-dashboard-read-only');

/** Whether a non-GET request to the dashboard is the retry of failed jobs (the one write it allows). */
export async function isRetryOfFailed(queues: readonly Queue[], method: string, path: string): Promise<boolean> {
  if (method !== 'PUT') return false;
  let seg: string[];
  try {
    seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return false;
  }
  if (seg.length !== 5 || seg[0] !== 'api' || seg[1] !== 'queues') return false;
  const [, , name, a, b] = seg as [string, string, string, string, string];
  // bull-board routes `/:queue/retry/:status` ahead of `/:queue/:jobId/retry`
  if (a === 'retry') return b === 'failed';
  if (b !== 'retry') return false;
  const queue = queues.find((q) => q.name === name);
  const job = queue ? await queue.getJob(a) : undefined;
  return job ? (await job.getState()) === 'failed' : false;
}

/** Frame and framework headers of the dashboard: a CSP already set (the staff pages' own) is kept. */
const dashboardHeaders: RequestHandler = (_req, res, next) => {
  if (!res.getHeader('content-security-policy')) res.setHeader('content-security-policy', "frame-ancestors 'none'");
  res.setHeader('x-frame-options', 'DENY');
  res.removeHeader('x-powered-by');
  next();
};

/** bull-board's own Express router for these queues (bull-board is loaded on the first request: most processes never open the dashboard). */
async function boardRouter(queues: readonly Queue[], basePath: string): Promise<Express> {
  const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/express'),
  ]);
  const board = new ExpressAdapter();
  board.setBasePath(basePath);
  createBullBoard({
    // allowCompletedRetries (a runtime option its typings lack) hides the retry of completed jobs, which is refused below
    queues: queues.map((q) => new BullMQAdapter(q, { allowRetries: true, allowCompletedRetries: false } as { allowRetries: boolean })),
    serverAdapter: board,
  });
  // bull-board serves from an Express app of its own, which would announce itself
  const inner = board.getRouter() as Express;
  inner.disable('x-powered-by');
  return inner;
}

/** The dashboard's router, to be mounted at `basePath` behind the caller's team-lead check. */
export function createQueueDashboard(queues: readonly Queue[], basePath = '/admin/queues'): Router {
  let inner: Promise<Express> | undefined;
  const router = Router();
  router.use(dashboardHeaders);
  router.use((req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    isRetryOfFailed(queues, req.method, req.path).then(
      (ok) => next(ok ? undefined : readOnly('the queue dashboard is read-only: only failed jobs may be retried')),
      next,
    );
  });
  router.use((req, res, next) => {
    inner ??= boardRouter(queues, basePath);
    inner.then(
      (app) => app(req, res, next),
      (err: unknown) => {
        inner = undefined;
        next(err);
      },
    );
  });
  return router;
}
