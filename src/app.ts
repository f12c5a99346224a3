/**
 * The Express application, built from its dependencies (no listen here), so
 * tests drive it through a real mTLS server on an ephemeral port.
 */
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Db } from './storage/db.js';
import type { BlobStore } from './storage/blobs.js';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { identify, notFoundHandler, problemHandler, requestLog, type PartyLookup } from './shared/http.js';
import { createIntakeRouter } from './intake/routes.js';
import type { IntakeService } from './intake/service.js';
import type { UploadLimits } from './intake/upload.js';
import { createStaffRouter } from './worklist/routes.js';
import type { WorklistService } from './worklist/service.js';
import { createResponsesRouter } from './responses/routes.js';
import type { ResponseService } from './responses/service.js';
import { createMailboxRouter } from './delivery/routes.js';
import { createRoutingRouter } from './routing/routes.js';
import { createConsentRouter } from './consents/routes.js';
import { createRetentionRouter } from './retention/routes.js';
import type { RetentionService } from './retention/service.js';
import type { ConsentService } from './consents/service.js';
import { createStatisticsRouter } from './statistics/routes.js';
import type { StatisticsService } from './statistics/service.js';
import { createSettlementRouter } from './settlement/routes.js';
import type { SettlementService } from './settlement/service.js';
import { createMedcomRouter } from './medcom/routes.js';
import type { MedcomService } from './medcom/service.js';
import type { DeliveryService } from './delivery/service.js';
import type { DeadlineService } from './deadlines/service.js';
import type { RoutingService } from './routing/service.js';
import type { Queue } from 'bullmq';
import { createQueueDashboard } from './shared/queue-dashboard.js';
import { refuseCrossSite } from './shared/same-origin.js';
import { requireTeamLead } from './parties/roles.js';
import { buildOpenApi } from './openapi.js';
import type { TimestampHealth } from './timestamps/service.js';

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
  deadlines: DeadlineService;
  routing: RoutingService;
  worklist: WorklistService;
  consents: ConsentService;
  /** issue 15: legal holds (the purge itself is queues/retention.ts) */
  retention: RetentionService;
  /** waiting times and §17 stk. 4 volumes */
  statistics: StatisticsService;
  settlement: SettlementService;
  responses: ResponseService;
  delivery: DeliveryService;
  medcom: MedcomService;
  /** push delivery (when Redis and a push client certificate are available): a lead's retry of a dead letter */
  push?: { retryDeadLetter(messageId: string, leadId: string): Promise<boolean> };
  /** notified of each party's client certificate expiry as it connects */
  onPeerCertificate?: (partyId: string, validTo: number) => void;
  /** issue 15: the receipts' timestamp gap, on /readyz (intake fails closed at TSA_MAX_GAP_MINUTES) */
  timestamps?: { health(): TimestampHealth };
  /** BullMQ queues shown to team leads at /admin/queues (when Redis is in use) */
  adminQueues?: Queue[];
}

export type Check = { name: string; ok: boolean; error?: string; detail?: Record<string, unknown> };

export async function readiness(
  deps: Pick<AppDeps, 'db' | 'blobs' | 'redis' | 'draining' | 'timestamps'>,
): Promise<{ ok: boolean; checks: Check[] }> {
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
  if (deps.timestamps) {
    // issue 15: the gap shows here long before intake refuses; not ready only once it does (as X-Road's health check)
    const h = deps.timestamps.health();
    const failing = h.status === 'failing-closed';
    checks.push({
      name: 'timestamps',
      ok: !failing,
      ...(failing ? { error: `no receipt timestamped for ${Math.floor(h.gapSeconds)} s: intake refuses packages` } : {}),
      detail: { ...h },
    });
  }
  const draining = deps.draining?.() ?? false;
  if (draining) checks.push({ name: 'shutdown', ok: false, error: 'shutting down' });
  return { ok: checks.every((c) => c.ok), checks };
}

/**
 * `f`, called at most once per `ttlMs` (issue 15: the unauthenticated /readyz must not fsync on every
 * request): callers while a call is in flight share it, and its result is answered for `ttlMs` after it settles.
 */
export function cachedFor<T>(ttlMs: number, f: () => Promise<T>, now: () => number = Date.now): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  let last: { at: number; value: T } | undefined;
  return () => {
    if (last && now() - last.at < ttlMs) return Promise.resolve(last.value);
    inFlight ??= f()
      .then((value) => {
        last = { at: now(), value };
        return value;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/**
 * /healthz and /readyz; with `metrics`, also /metrics — only ever on the plain
 * health port (HEALTH_PORT), which operators keep off the partner network.
 * /readyz checks at most once a second (a burst shares one check); while shutting down it answers at once.
 */
export function createHealthApp(deps: Pick<AppDeps, 'db' | 'blobs' | 'redis' | 'draining' | 'timestamps'>, metrics?: Registry): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const ready = cachedFor(1000, () => readiness(deps));
  app.get('/readyz', async (_req, res) => {
    const r = deps.draining?.() ? await readiness(deps) : await ready();
    res.status(r.ok ? 200 : 503).json({ status: r.ok ? 'ready' : 'not-ready', checks: r.checks });
  });
  if (metrics) {
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.contentType).send(await metrics.metrics());
    });
  }
  return app;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestLog(deps.log, 'request', 'partyId'));
  // issue 15: a browser's cross-site POST/PUT/PATCH/DELETE is refused before anything sees it (systems send no Origin)
  app.use(refuseCrossSite());

  // Health endpoints need a verified certificate on this port, but no party role.
  const health = createHealthApp(deps);
  app.use(['/healthz', '/readyz'], identify(deps.parties, { allowUnknown: true }));
  app.use(health);

  app.use(identify(deps.parties, { onPeer: deps.onPeerCertificate, log: deps.log }));
  const openapi = buildOpenApi();
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use(createIntakeRouter({ intake: deps.intake, blobs: deps.blobs, limits: deps.limits }));
  app.use(createStaffRouter({ worklist: deps.worklist, deadlines: deps.deadlines, routing: deps.routing, log: deps.log }));
  app.use(createResponsesRouter({ blobs: deps.blobs, responses: deps.responses, limits: deps.limits }));
  app.use(createMailboxRouter({ delivery: deps.delivery, log: deps.log, push: deps.push }));
  app.use(createRoutingRouter({ routing: deps.routing }));
  app.use(createConsentRouter({ consents: deps.consents }));
  app.use(createRetentionRouter({ retention: deps.retention }));
  app.use(createStatisticsRouter({ statistics: deps.statistics }));
  app.use(createSettlementRouter({ settlement: deps.settlement }));
  app.use(createMedcomRouter({ medcom: deps.medcom }));
  if (deps.adminQueues && deps.adminQueues.length > 0) {
    // bull-board: queue inspection for team leads only (read, and retry failed jobs; the database stays the record).
    app.use('/admin/queues', requireTeamLead('the queue dashboard is for team leads'), createQueueDashboard(deps.adminQueues));
  }
  app.use(notFoundHandler);
  app.use(problemHandler(deps.log));
  return app;
}
