/**
 * Assembles the gateway from configuration: PKI, database, blob store,
 * parties, agreements, Redis, the mTLS server and the optional plain health
 * port. Used by `npm start` (src/main.ts) and by end-to-end tests.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './shared/config.js';
import { createApp, createHealthApp } from './app.js';
import { openDatabase, type Db } from './storage/db.js';
import { createFileBlobStore } from './storage/blobs.js';
import { loadMasterKey } from './storage/crypto.js';
import { createPartyRegistry } from './parties/parties.js';
import { loadMunicipalities } from './parties/municipalities.js';
import { ensureDevPki } from './pki/devpki.js';
import { createSigner } from './receipts/cms.js';
import { createAgreementStore } from './deadlines/agreements.js';
import { createIntakeService } from './intake/service.js';
import { connectRedis, type RedisHandle } from './shared/redis.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  clientCa: string;
  receiptCert: string;
  receiptKey: string;
  /** set when the development PKI is in use */
  devPki?: Awaited<ReturnType<typeof ensureDevPki>>;
}

export interface Gateway {
  port: number;
  healthPort?: number;
  db: Db;
  redis?: RedisHandle;
  tls: TlsMaterial;
  /** Re-reads the parties and agreements files (SIGHUP). Old sets stay when a new file is bad. */
  reload(): { parties: string; agreements: string };
  /** Graceful shutdown: stop accepting, let in-flight requests finish up to the timeout, then close workers, database, Redis. */
  close(): Promise<void>;
}

export async function resolveTls(config: Config, parties: { all(): Parameters<typeof ensureDevPki>[1] }, log: Logger): Promise<TlsMaterial> {
  let devPki: TlsMaterial['devPki'];
  const needDev = !config.TLS_CERT_FILE || !config.RECEIPT_CERT_FILE;
  if (needDev) {
    devPki = await ensureDevPki(join(config.DATA_DIR, 'pki'), parties.all(), log);
    log.warn({ dir: devPki.dir }, 'using the development PKI: not for production');
  }
  const read = (p: string) => readFileSync(p, 'utf8');
  return {
    cert: read(config.TLS_CERT_FILE ?? devPki!.serverCert),
    key: read(config.TLS_KEY_FILE ?? devPki!.serverKey),
    clientCa: read(config.TLS_CLIENT_CA_FILE ?? devPki!.caCert),
    receiptCert: read(config.RECEIPT_CERT_FILE ?? devPki!.receiptCert),
    receiptKey: read(config.RECEIPT_KEY_FILE ?? devPki!.receiptKey),
    devPki,
  };
}

export async function startGateway(config: Config, log: Logger, opts: { dbSchema?: string; withRedis?: boolean } = {}): Promise<Gateway> {
  mkdirSync(config.DATA_DIR, { recursive: true, mode: 0o700 });
  const parties = createPartyRegistry(config.PARTIES_FILE, log);
  const agreements = createAgreementStore(config.AGREEMENTS_FILE, log);
  const municipalities = loadMunicipalities();
  const tls = await resolveTls(config, parties, log);
  const masterKey = loadMasterKey({ file: config.STORAGE_KEY_FILE, dataDir: config.DATA_DIR, createIfMissing: !config.STORAGE_KEY_FILE });
  const db = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, schema: opts.dbSchema, log });
  const blobs = createFileBlobStore({ dir: join(config.DATA_DIR, 'blobs'), masterKey });
  const swept = await blobs.sweepTemp(0);
  if (swept) log.warn({ swept }, 'removed temp files left by an earlier run');

  let redis: RedisHandle | undefined;
  if (opts.withRedis !== false) {
    try {
      redis = await connectRedis({ url: config.REDIS_URL, startPrivate: config.START_REDIS === 'auto', dataDir: config.DATA_DIR, log });
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  const signer = createSigner({ certPem: tls.receiptCert, keyPem: tls.receiptKey });
  const limits = {
    maxDocumentBytes: config.MAX_DOCUMENT_BYTES,
    maxDocuments: config.MAX_DOCUMENTS,
    maxPackageBytes: config.MAX_PACKAGE_BYTES,
    maxManifestBytes: config.MAX_MANIFEST_BYTES,
  };
  const intake = createIntakeService({
    db,
    blobs,
    masterKey,
    signer,
    agreements,
    municipalities,
    regionCode: config.REGION_CODE,
    log,
  });
  let draining = false;
  const deps = { db, blobs, parties, intake, limits, log, redis: redis?.client, draining: () => draining };
  const app = createApp(deps);

  const server = https.createServer(
    {
      cert: tls.cert,
      key: tls.key,
      ca: tls.clientCa,
      requestCert: true,
      rejectUnauthorized: false, // answered with a 401 problem instead of a bare TLS alert
      minVersion: 'TLSv1.2',
    },
    app,
  );
  server.headersTimeout = 60_000;
  server.requestTimeout = config.REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (err) => log.debug({ err }, 'TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  let healthServer: http.Server | undefined;
  let healthPort: number | undefined;
  if (config.HEALTH_PORT !== undefined) {
    healthServer = http.createServer(createHealthApp(deps));
    await new Promise<void>((resolve) => healthServer!.listen(config.HEALTH_PORT, config.HOST, () => resolve()));
    healthPort = (healthServer.address() as { port: number }).port;
  }
  log.info({ port, healthPort, database: db.dialect, region: config.REGION_CODE, redis: redis?.url }, 'Postkasse listening (mutual TLS)');

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      draining = true;
      log.info('shutting down: no new connections; waiting for in-flight requests');
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        log.warn({ open: sockets.size }, 'shutdown timeout: closing remaining connections');
        for (const s of sockets) s.destroy();
      }, config.SHUTDOWN_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
      if (healthServer) await new Promise<void>((r) => healthServer!.close(() => r()));
      // workers → database → Redis
      await db.close();
      if (redis) await redis.close();
      log.info('shut down');
    })();
    return closing;
  }

  return {
    port,
    healthPort,
    db,
    redis,
    tls,
    reload() {
      const p = parties.reload();
      let a = 'ok';
      try {
        agreements.reload();
      } catch (e) {
        a = (e as Error).message;
      }
      return { parties: p.ok ? 'ok' : p.error, agreements: a };
    },
    close,
  };
}
