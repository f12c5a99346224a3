/**
 * The staff pages' listener: HTTPS on STAFF_PORT with the gateway's server
 * certificate and no client certificate, the identity provider (the region's,
 * or the development one on loopback outside production), sessions, and the
 * pages' application.
 */
import https from 'node:https';
import type { RequestListener } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Queue } from 'bullmq';
import type { Config } from '../shared/config.js';
import type { Db } from '../storage/db.js';
import type { PartyRegistry, StaffParty } from '../parties/parties.js';
import { accessLog } from '../audit/audit.js';
import { createCaseActions } from '../worklist/actions.js';
import type { DeadlineService } from '../deadlines/service.js';
import type { RoutingService } from '../routing/service.js';
import { createSessions } from './sessions.js';
import { createOidc } from './oidc.js';
import { startDevIdp, type DevIdp } from './dev-idp.js';
import { createStaffApp } from './app.js';
import { boundConnections } from '../shared/connections.js';
import type { PageDeps } from './routes.js';

export interface StaffServer {
  port: number;
  baseUrl: string;
  devIdpIssuer?: string;
  close(): Promise<void>;
}

export interface StaffServerOptions {
  config: Config;
  tls: { cert: string; key: string };
  db: Db;
  masterKey: Buffer;
  parties: PartyRegistry;
  services: Omit<PageDeps, 'actions' | 'accessLog' | 'parties' | 'log' | 'queues' | 'routing'> & {
    routing: PageDeps['routing'] & Pick<RoutingService, 'declareConflict' | 'assignManually'>;
    deadlines: Pick<DeadlineService, 'bookMeeting' | 'bookConsultation' | 'agreeExtension'>;
    worklist: PageDeps['worklist'] & Parameters<typeof createCaseActions>[0]['worklist'];
  };
  adminQueues?: Queue[];
  log: Logger;
}

const SWEEP_EVERY_MS = 5 * 60_000;

export async function startStaffServer(opts: StaffServerOptions): Promise<StaffServer> {
  const { config, log } = opts;
  let handler: RequestListener = (_req, res) => res.writeHead(503).end();
  const server = https.createServer(
    { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2', handshakeTimeout: config.HANDSHAKE_TIMEOUT_MS },
    (req, res) => handler(req, res),
  );
  // Issue 15: the same connection bounds as the mTLS listener (no client certificates here).
  boundConnections(
    server,
    { maxConnections: config.MAX_CONNECTIONS, maxHandshakesPerAddress: config.MAX_HANDSHAKES_PER_ADDRESS },
    log,
    'staff-pages',
  );
  server.headersTimeout = config.HEADERS_TIMEOUT_MS;
  server.requestTimeout = config.REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.STAFF_PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const baseUrl = config.STAFF_BASE_URL ?? `https://localhost:${port}`;
  const redirectUri = `${baseUrl}/auth/callback`;
  const postLogoutRedirectUri = `${baseUrl}/logget-ud`;

  let devIdp: DevIdp | undefined;
  let issuer = config.OIDC_ISSUER;
  let clientId = config.OIDC_CLIENT_ID;
  let clientSecret = config.OIDC_CLIENT_SECRET;
  if (!issuer) {
    // config refuses production without OIDC_ISSUER; elsewhere the development IdP stands in.
    clientId = 'postkasse-staff-pages';
    clientSecret = randomBytes(24).toString('base64url');
    try {
      devIdp = await startDevIdp({
        host: '127.0.0.1',
        port: config.DEV_IDP_PORT,
        staff: () => opts.parties.all().filter((p): p is StaffParty => p.kind === 'staff'),
        clientId,
        clientSecret,
        redirectUri,
        postLogoutRedirectUri,
        log,
      });
    } catch (e) {
      server.close();
      throw new Error(`the development identity provider could not start on DEV_IDP_PORT ${config.DEV_IDP_PORT}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    issuer = devIdp.issuer;
  }
  const oidc = createOidc({
    issuer,
    clientId: clientId!,
    clientSecret,
    redirectUri,
    postLogoutRedirectUri,
    staffClaim: config.OIDC_STAFF_CLAIM,
    scopes: config.OIDC_SCOPES,
    requiredAcr: config.OIDC_REQUIRED_ACR,
    masterKey: opts.masterKey,
    log,
    allowHttp: new URL(issuer).protocol === 'http:',
  });
  const sessions = createSessions({
    db: opts.db,
    masterKey: opts.masterKey,
    idleMs: config.SESSION_IDLE_MINUTES * 60_000,
    maxMs: config.SESSION_MAX_HOURS * 3600_000,
  });
  const sweeper = setInterval(
    () => void sessions.sweep().catch((err: unknown) => log.warn({ err }, 'expired staff sessions could not be swept (retried)')),
    SWEEP_EVERY_MS,
  );
  sweeper.unref();
  const s = opts.services;
  handler = createStaffApp({
    ...s,
    db: opts.db,
    parties: opts.parties,
    sessions,
    oidc,
    baseUrl,
    log,
    actions: createCaseActions({ worklist: s.worklist, deadlines: s.deadlines, routing: s.routing }),
    accessLog: (q) => accessLog(opts.db.db, q),
    queues: (opts.adminQueues?.length ?? 0) > 0,
    adminQueues: opts.adminQueues,
  });
  log.info({ port, baseUrl, issuer }, 'staff pages listening (HTTPS, login through the identity provider)');

  return {
    port,
    baseUrl,
    devIdpIssuer: devIdp?.issuer,
    async close() {
      clearInterval(sweeper);
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const sock of sockets) sock.destroy();
      }, config.SHUTDOWN_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
      await devIdp?.close();
    },
  };
}
