/**
 * The Express application, built from its dependencies (no listen here), so
 * tests drive it through a real mTLS server on an ephemeral port.
 */
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Db } from './storage/db.js';
import type { BlobStore } from './storage/blobs.js';
import type { Redis } from 'ioredis';
import { identify, notFoundHandler, problemHandler, type PartyLookup } from './shared/http.js';
import { createIntakeRouter } from './intake/routes.js';
import type { IntakeService } from './intake/service.js';
import type { UploadLimits } from './intake/upload.js';
import { createCaseViewRouter } from './worklist/case-view.js';
import { buildOpenApi } from './openapi.js';

export interface AppDeps {
  db: Db;
  blobs: BlobStore;
  parties: PartyLookup;
  intake: IntakeService;
  limits: UploadLimits;
  log: Logger;
  redis?: Pick<Redis, 'ping'>;
  /** true while the process is shutting down: /readyz answers 503 */
  draining?: () => boolean;
}

/** One log line per request: method, path, status, duration, party. Never bodies or headers. */
function requestLog(log: Logger): express.RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      log.info(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          partyId: req.party?.id,
        },
        'request',
      );
    });
    next();
  };
}

export type Check = { name: string; ok: boolean; error?: string };

export async function readiness(deps: Pick<AppDeps, 'db' | 'blobs' | 'redis' | 'draining'>): Promise<{ ok: boolean; checks: Check[] }> {
  const run = async (name: string, f: () => Promise<unknown>): Promise<Check> => {
    try {
      await Promise.race([f(), new Promise((_, rej) => setTimeout(() => rej(new Error('timed out after 2 s')), 2000).unref())]);
      return { name, ok: true };
    } catch (e) {
      return { name, ok: false, error: (e as Error).message };
    }
  };
  const checks = await Promise.all([
    run('database', () => deps.db.ping()),
    run('blob-store', () => deps.blobs.check()),
    ...(deps.redis ? [run('redis', () => deps.redis!.ping())] : []),
  ]);
  const draining = deps.draining?.() ?? false;
  if (draining) checks.push({ name: 'shutdown', ok: false, error: 'shutting down' });
  return { ok: checks.every((c) => c.ok), checks };
}

/** /healthz, /readyz for the plain health port (no certificate). */
export function createHealthApp(deps: Pick<AppDeps, 'db' | 'blobs' | 'redis' | 'draining'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await readiness(deps);
    res.status(r.ok ? 200 : 503).json({ status: r.ok ? 'ready' : 'not-ready', checks: r.checks });
  });
  return app;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestLog(deps.log));

  // Health endpoints need a verified certificate on this port, but no party role.
  const health = createHealthApp(deps);
  app.use(['/healthz', '/readyz'], identify(deps.parties, { allowUnknown: true }));
  app.use(health);

  app.use(identify(deps.parties));
  const openapi = buildOpenApi();
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(createIntakeRouter({ intake: deps.intake, blobs: deps.blobs, limits: deps.limits }));
  app.use(createCaseViewRouter({ db: deps.db.db }));
  app.use(notFoundHandler);
  app.use(problemHandler(deps.log));
  return app;
}
