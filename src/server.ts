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
import { constants as cryptoConstants } from 'node:crypto';
import type { Logger } from 'pino';
import { assertConfiguredFilesReadable, type Config } from './shared/config.js';
import { createApp, createHealthApp } from './app.js';
import { openDatabase, restrictDataDir, type Db } from './storage/db.js';
import type { Writer } from './storage/writer.js';
import type { BlobIntegrityFailure, BlobStore } from './storage/blobs.js';
import { createThreadedFileBlobStore } from './storage/blob-thread.js';
import { loadMasterKey } from './storage/crypto.js';
import { loadAuditKey } from './audit/key.js';
import { createAuditStamper, type AuditStamper } from './audit/anchors.js';
import { createReadAudit } from './audit/reads.js';
import { createPartyRegistry } from './parties/parties.js';
import { loadMunicipalities } from './parties/municipalities.js';
import { ensureDevPki } from './pki/devpki.js';
import { createSigner } from './receipts/cms.js';
import { createAgreementStore } from './deadlines/agreements.js';
import { loadPriceIndex } from './settlement/price-index.js';
import { createSettlementService } from './settlement/service.js';
import { createIntakeService } from './intake/service.js';
import { connectRedis, type RedisHandle } from './shared/redis.js';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';
import { createDeadlineService, type DeadlineService } from './deadlines/service.js';
import { createDeadlineMetrics } from './deadlines/metrics.js';
import { createDeadlineReminders, type DeadlineReminders } from '../queues/deadline-reminders.js';
import { createRoutingQueue, type RoutingQueue } from '../queues/routing.js';
import { createRoutingService, type RoutingService } from './routing/service.js';
import { createRoutingMetrics } from './routing/metrics.js';
import { createOutboxRelay, type OutboxRelay } from './outbox/relay.js';
import { ROUTING_TOPIC } from './routing/types.js';
import { DELIVERY_TOPIC } from './delivery/types.js';
import { createDeliveryService } from './delivery/service.js';
import { createWorklistService } from './worklist/service.js';
import { createConsentService } from './consents/service.js';
import { createStatisticsService } from './statistics/service.js';
import { createVolumeMonitor } from './statistics/monitor.js';
import { createResponseService } from './responses/service.js';
import { sweep } from './storage/sweep.js';
import { createCertExpiryMonitor } from './pki/expiry.js';
import { createDeliveryQueue, type DeliveryQueue } from '../queues/delivery.js';
import type { PushTls } from './delivery/push.js';
import { deliveryJob } from './delivery/types.js';
import { createGpDirectory } from './parties/gp-directory.js';
import { startMedcomValidator, type AsyncMedcomValidator } from './medcom/validator-client.js';
import { createMedcomService, type MedcomService } from './medcom/service.js';
import { parseVansInbound } from './medcom/vans.js';
import { createInboxDirPoller, InboxRetryLater, InboxSetAside } from './medcom/vans-transport.js';
import { Problem } from './shared/problem.js';
import { createMedcomAckQueue, type MedcomAckQueue } from '../queues/medcom-acks.js';
import { startStaffServer, type StaffServer } from './web/server.js';
import { boundConnections } from './shared/connections.js';
import { createTimestamper, type Timestamper } from './timestamps/client.js';
import { startDevTsa, type DevTsa } from './timestamps/dev-tsa.js';
import { createTimestampService, type TimestampService } from './timestamps/service.js';
import { TIMESTAMP_TOPIC } from './timestamps/types.js';
import { createTimestampQueue, type TimestampQueue } from '../queues/timestamps.js';
import { createRetentionQueue, type RetentionQueue } from '../queues/retention.js';
import { createRetentionService, type RetentionService } from './retention/service.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  clientCa: string;
  receiptCert: string;
  receiptKey: string;
  /** set when the development PKI is in use */
  devPki?: Awaited<ReturnType<typeof ensureDevPki>>;
  crl?: string;
  /** client certificate for pushes to parties' push.url; undefined = pushes are not possible (pull only) */
  push?: PushTls;
}

export interface Gateway {
  port: number;
  /** the staff pages' HTTPS port (STAFF_PORT) */
  staffPort: number;
  /** where staff reach the pages (STAFF_BASE_URL, or https://localhost:<staffPort>) */
  staffBaseUrl: string;
  /** the development identity provider's issuer, when it runs */
  devIdpIssuer?: string;
  healthPort?: number;
  /** the address the health port listens on (HEALTH_HOST; 127.0.0.1 unless configured) */
  healthHost?: string;
  db: Db;
  redis?: RedisHandle;
  tls: TlsMaterial;
  deadlines: DeadlineService;
  reminders?: DeadlineReminders;
  routing: RoutingService;
  routingQueue?: RoutingQueue;
  relay?: OutboxRelay;
  delivery?: DeliveryQueue;
  medcom: MedcomService;
  medcomAcks?: MedcomAckQueue;
  /** issue 15: the receipts' RFC 3161 timestamps, their queue, and the TSAs in use (the development TSA's URL when it runs) */
  timestamps: TimestampService;
  timestampQueue?: TimestampQueue;
  /** issue 15: the retention purge and legal holds; the daily run's queue (with Redis) */
  retention: RetentionService;
  retentionQueue?: RetentionQueue;
  /** issue 15: anchors the audit chain's head with the TSA every AUDIT_STAMP_MINUTES and at shutdown */
  auditStamper: AuditStamper;
  tsa: { urls: string[]; trustedCaPems: string[]; dev?: DevTsa };
  metrics: Registry;
  /** Re-reads the parties, agreements and GP directory files (SIGHUP). Old sets stay when a new file is bad. */
  reload(): { parties: string; agreements: string; gpDirectory: string; priceIndex: string; tls: string };
  /** Graceful shutdown: stop accepting, let in-flight requests finish up to the timeout, then close workers, database, Redis. */
  close(): Promise<void>;
}

export async function resolveTls(
  config: Config,
  parties: { all(): Parameters<typeof ensureDevPki>[1] },
  log: Logger,
): Promise<TlsMaterial> {
  let devPki: TlsMaterial['devPki'];
  const needDev = !config.TLS_CERT_FILE || !config.RECEIPT_CERT_FILE;
  if (needDev) {
    devPki = await ensureDevPki(join(config.DATA_DIR, 'pki'), parties.all(), log, { serverNames: config.DEV_PKI_SERVER_NAMES });
    log.warn({ dir: devPki.dir }, 'using the development PKI: not for production');
  }
  const read = (p: string) => readFileSync(p, 'utf8');
  return {
    cert: read(config.TLS_CERT_FILE ?? devPki!.serverCert),
    key: read(config.TLS_KEY_FILE ?? devPki!.serverKey),
    clientCa: read(config.TLS_CLIENT_CA_FILE ?? devPki!.caCert),
    // Revoked client certificates (PEM CRLs): such a client gets 401 (CERT_REVOKED).
    crl: config.TLS_CRL_FILE ? read(config.TLS_CRL_FILE) : undefined,
    receiptCert: read(config.RECEIPT_CERT_FILE ?? devPki!.receiptCert),
    receiptKey: read(config.RECEIPT_KEY_FILE ?? devPki!.receiptKey),
    // The gateway's client certificate for pushes; without its own files, the dev PKI's (when in use).
    push: config.PUSH_CLIENT_CERT_FILE
      ? {
          cert: read(config.PUSH_CLIENT_CERT_FILE),
          key: read(config.PUSH_CLIENT_KEY_FILE!),
          ca: config.PUSH_CA_FILE ? read(config.PUSH_CA_FILE) : undefined,
        }
      : devPki
        ? {
            cert: read(devPki.gatewayClientCert),
            key: read(devPki.gatewayClientKey),
            ca: config.PUSH_CA_FILE ? read(config.PUSH_CA_FILE) : read(devPki.caCert),
          }
        : undefined,
    devPki,
  };
}

/**
 * issue 15: the TSAs for the receipts' timestamps. TSA_URLS with TSA_CA_FILE as configured; otherwise (never in
 * production: config refuses it) the development TSA in-process on loopback, signing with the development PKI's
 * TSA certificate, its tokens trusted through the development CA.
 */
async function resolveTsa(
  config: Config,
  tls: TlsMaterial,
  parties: { all(): Parameters<typeof ensureDevPki>[1] },
  log: Logger,
): Promise<{ urls: string[]; trustedCaPems: string[]; dev?: DevTsa }> {
  const extraCa = config.TSA_CA_FILE ? [readFileSync(config.TSA_CA_FILE, 'utf8')] : [];
  if (config.TSA_URLS) return { urls: config.TSA_URLS, trustedCaPems: extraCa };
  const pki =
    tls.devPki ?? (await ensureDevPki(join(config.DATA_DIR, 'pki'), parties.all(), log, { serverNames: config.DEV_PKI_SERVER_NAMES }));
  const dev = await startDevTsa({
    certPem: readFileSync(pki.tsaCert, 'utf8'),
    keyPem: readFileSync(pki.tsaKey, 'utf8'),
    port: config.DEV_TSA_PORT,
    log,
  });
  log.warn({ url: dev.url }, 'no TSA_URLS: receipts are timestamped by the development TSA (not for production)');
  return { urls: [dev.url], trustedCaPems: [readFileSync(pki.caCert, 'utf8'), ...extraCa], dev };
}

export interface StartOptions {
  /** PostgreSQL schema (tests, benchmarks) */
  dbSchema?: string;
  /** false: no Redis, no queues (benchmarks of intake alone) */
  withRedis?: boolean;
  /** wraps the blob store (tests inject faults such as a full disk) */
  wrapBlobStore?: (store: BlobStore) => BlobStore;
  /** wraps the database writer (tests inject faults such as a lost writer thread) */
  wrapWriter?: (writer: Writer) => Writer;
  /**
   * A MedCom validator the caller started and keeps (tests share one per process: loading
   * MedCom's packages costs ~2 s of CPU); the gateway uses it and does not close it.
   */
  medcomValidator?: AsyncMedcomValidator;
}

export async function startGateway(config: Config, log: Logger, opts: StartOptions = {}): Promise<Gateway> {
  mkdirSync(config.DATA_DIR, { recursive: true, mode: 0o700 });
  // issue 15: DATA_DIR 0700, the database's files and the keys 0600, also when they exist already
  restrictDataDir(config.DATA_DIR);
  // issue 16: every configured file readable, or one list naming each variable that is not
  assertConfiguredFilesReadable(config);
  const parties = createPartyRegistry(config.PARTIES_FILE, log);
  const agreements = createAgreementStore(config.AGREEMENTS_FILE, log);
  let priceIndex = loadPriceIndex(config.PRICE_INDEX_FILE);
  const municipalities = loadMunicipalities();
  const gpDirectory = createGpDirectory(config.GP_DIRECTORY_FILE, parties, log);
  const tls = await resolveTls(config, parties, log);
  if (config.VANS_ENDPOINT_URL && !tls.push) {
    throw new Error(
      'VANS_ENDPOINT_URL needs the gateway’s client certificate to authenticate to the VANS provider: set PUSH_CLIENT_CERT_FILE and PUSH_CLIENT_KEY_FILE',
    );
  }
  // MedCom's profiles, in a validator process of their own (every message to a GP is validated before it is
  // sent); it loads while the database opens, and a start-up that fails later stops it again.
  const ownValidator = opts.medcomValidator === undefined;
  const validatorStarting = opts.medcomValidator
    ? Promise.resolve(opts.medcomValidator)
    : startMedcomValidator(config.MEDCOM_PACKAGES_DIR, log);
  validatorStarting.catch(() => undefined); // its failure is reported where it is awaited, below
  const stopValidator = () =>
    validatorStarting.then(
      (v) => (ownValidator ? v.close() : undefined),
      () => undefined,
    );
  const masterKey = loadMasterKey({ file: config.STORAGE_KEY_FILE, dataDir: config.DATA_DIR, createIfMissing: !config.STORAGE_KEY_FILE });
  // issue 15: the audit chain's HMAC key, outside the database; generated in development only
  const auditKey = loadAuditKey({
    file: config.AUDIT_KEY_FILE,
    dataDir: config.DATA_DIR,
    createIfMissing: config.NODE_ENV !== 'production',
  });
  const opened = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    schema: opts.dbSchema,
    log,
    masterKey,
    auditKey,
    // PostgreSQL: receipts and the other writes commit in the writer thread, grouped, on a connection of its own (issue 16)
    pgWriterThread: true,
  }).catch(async (e: unknown) => {
    await stopValidator();
    throw e;
  });
  const db = opts.wrapWriter ? { ...opened, writer: opts.wrapWriter(opened.writer) } : opened;
  // The first receipt should not wait for the SQLite writer thread to start.
  await db.writer.start();
  // Issue 15: a blob that fails its integrity check is an alarm (never document bytes or CPR in it), counted below.
  const integrityFailures = new Counter({
    name: 'postkasse_blob_integrity_failures_total',
    help: 'reads of a stored document that failed its integrity check (AES-GCM tag or header): an alarm',
    registers: [], // registered with the gateway's registry below
  });
  const onIntegrityFailure = ({ key, reason }: BlobIntegrityFailure) => {
    integrityFailures.inc();
    log.error(
      { alarm: 'blob-integrity', blobKey: key, reason },
      'INTEGRITY ALARM: a stored document failed its integrity check; the read was cut off (see docs/operations.md, Integrity)',
    );
  };
  // issue 16: documents in DATA_DIR/blobs, or (BLOB_STORE=s3) on an S3-compatible store that the instances share
  const storedBlobs: BlobStore & { close?(): void | Promise<void> } =
    config.BLOB_STORE === 's3'
      ? (await import('./storage/s3-blobs.js')).createS3BlobStore({
          bucket: config.S3_BUCKET!,
          prefix: config.S3_PREFIX,
          endpoint: config.S3_ENDPOINT,
          region: config.S3_REGION,
          forcePathStyle: config.S3_FORCE_PATH_STYLE,
          masterKey,
          onIntegrityFailure,
        })
      : createThreadedFileBlobStore({ dir: join(config.DATA_DIR, 'blobs'), masterKey, onIntegrityFailure, log });
  const blobs = opts.wrapBlobStore ? opts.wrapBlobStore(storedBlobs) : storedBlobs;
  // Leftovers of an interrupted run (kill -9 mid-upload). With the embedded database this
  // process is alone on DATA_DIR and nothing is in flight yet; with PostgreSQL other
  // instances may be mid-upload, so only what is older than any live request goes.
  const leftoverAge = config.DATABASE_URL ? config.REQUEST_TIMEOUT_MS + 60_000 : 0;
  await sweep(db, blobs, leftoverAge, log, 'start-up');
  const sweeper = setInterval(
    () =>
      void sweep(db, blobs, config.REQUEST_TIMEOUT_MS + 60_000, log, 'interval').catch((err: unknown) =>
        log.warn({ err }, 'leftover sweep failed (retried)'),
      ),
    10 * 60_000,
  );
  sweeper.unref();

  let redis: RedisHandle | undefined;
  if (opts.withRedis !== false) {
    try {
      redis = await connectRedis({ url: config.REDIS_URL, startPrivate: config.START_REDIS === 'auto', dataDir: config.DATA_DIR, log });
    } catch (e) {
      await db.close();
      await storedBlobs.close?.();
      await stopValidator();
      throw e;
    }
  }
  let medcomValidator: Awaited<typeof validatorStarting>;
  try {
    medcomValidator = await validatorStarting;
  } catch (e) {
    await db.close();
    await storedBlobs.close?.();
    if (redis) await redis.close();
    throw e;
  }

  const metrics = new Registry();
  // Default metrics already start with process_ or nodejs_: the prefix is only ours (postkasse_process_cpu_user_seconds_total).
  collectDefaultMetrics({ register: metrics, prefix: 'postkasse_' });
  metrics.registerMetric(integrityFailures);
  // issue 15: the TSAs (TSA_URLS, or the development TSA of the development PKI outside production) and the
  // receipts' timestamp state (the fail-closed gap is read from the database at start and every few seconds).
  const tsa = await resolveTsa(config, tls, parties, log);
  const timestamper: Timestamper = createTimestamper({ urls: tsa.urls, trustedCaPems: tsa.trustedCaPems });
  const timestamps = createTimestampService({ db, timestamper, maxGapMs: config.TSA_MAX_GAP_MINUTES * 60_000, log, metrics });
  await timestamps.start();
  // issue 15: the audit chain's head, timestamped by the same TSAs every AUDIT_STAMP_MINUTES and once more at shutdown
  const auditStamper = createAuditStamper({ db: db.db, timestamper, log, intervalMs: config.AUDIT_STAMP_MINUTES * 60_000 });
  auditStamper.start();
  let timestampQueue: TimestampQueue | undefined;
  let reminders: DeadlineReminders | undefined;
  const scheduleReminders = async (caseId: string): Promise<void> => {
    await reminders?.schedule(caseId);
  };
  const deadlines = createDeadlineService({
    db,
    agreements,
    log,
    atRiskWorkingDays: config.AT_RISK_WORKING_DAYS,
    onChange: scheduleReminders,
  });
  if (redis) {
    reminders = createDeadlineReminders({
      connection: redis.options,
      prefix: config.QUEUE_PREFIX,
      deadlines,
      log,
      metrics: createDeadlineMetrics(metrics),
      atRiskWorkingDays: config.AT_RISK_WORKING_DAYS,
    });
  }

  // issue 15: audited reads limited per party (429), repeated reads of one object counted in one entry per window
  const reads = createReadAudit({
    db,
    limits: { ratePerMinute: config.AUDITED_READS_PER_MINUTE, windowMs: config.READ_AUDIT_WINDOW_SECONDS * 1000 },
    log,
    // issue 16: one allowance per party across the instances
    ...(redis ? { shared: { redis: redis.client, prefix: config.QUEUE_PREFIX } } : {}),
  });
  reads.start();
  const deliveryService = createDeliveryService({ db, blobs, masterKey, reads });
  const medcom = createMedcomService({
    db,
    masterKey,
    validator: medcomValidator,
    directory: gpDirectory,
    clinicalFunction: {
      name: config.CLINICAL_FUNCTION_NAME,
      sor: config.CLINICAL_FUNCTION_SOR,
      ean: config.CLINICAL_FUNCTION_EAN,
      phone: config.CLINICAL_FUNCTION_PHONE,
    },
    fhirBaseUrl: config.FHIR_BASE_URL,
    log,
    metrics,
    ackTimeoutMs: config.MEDCOM_ACK_TIMEOUT_MS,
    maxResends: config.MEDCOM_MAX_RESENDS,
  });
  let medcomAcks: MedcomAckQueue | undefined;
  let vansInbox: ReturnType<typeof createInboxDirPoller> | undefined;
  // Routing (issue 4): service (database), queue + worker + reconciler (Redis), outbox relay.
  let routingQueue: RoutingQueue | undefined;
  let relay: OutboxRelay | undefined;
  let delivery: DeliveryQueue | undefined;
  const kickRelay = () => relay?.kick();
  const routing = createRoutingService({
    db,
    parties,
    agreements,
    log,
    onRoutingRequested: kickRelay,
    metrics: createRoutingMetrics(metrics, {
      queueCounts: async () => (routingQueue ? routingQueue.queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed') : {}),
      unassignedCases: () => routing.countUnassigned(),
    }),
  });
  if (redis) {
    routingQueue = createRoutingQueue({
      connection: redis.options,
      prefix: config.QUEUE_PREFIX,
      routing,
      log,
      reconcileIntervalMs: config.ROUTING_RECONCILE_INTERVAL_MS,
    });
    if (!tls.push) log.warn('no PUSH_CLIENT_CERT_FILE: messages are delivered through the mailbox only, never pushed');
    if (!config.VANS_OUTBOX_DIR && !config.VANS_ENDPOINT_URL) {
      log.warn(
        'no VANS_OUTBOX_DIR or VANS_ENDPOINT_URL: messages to practices reached through VANS wait (and are retried) until one is set',
      );
    }
    delivery = createDeliveryQueue({
      connection: redis.options,
      prefix: config.QUEUE_PREFIX,
      delivery: deliveryService,
      parties,
      tls: tls.push,
      medcom: {
        service: medcom,
        vans: { outboxDir: config.VANS_OUTBOX_DIR, endpointUrl: config.VANS_ENDPOINT_URL },
        onSent: async (messageId, send, ackDueAt) => {
          await medcomAcks?.schedule(messageId, send, ackDueAt);
        },
      },
      log,
      metrics,
      retry: {
        baseMs: config.DELIVERY_RETRY_BASE_MS,
        maxMs: config.DELIVERY_RETRY_MAX_MS,
        giveUpAfterMs: config.DELIVERY_GIVE_UP_AFTER_MS,
      },
    });
    const deliveryTarget = delivery.target;
    medcomAcks = createMedcomAckQueue({
      connection: redis.options,
      prefix: config.QUEUE_PREFIX,
      medcom,
      resend: (messageId) => deliveryTarget.addBulk([deliveryJob(messageId)]),
      log,
    });
    timestampQueue = createTimestampQueue({
      connection: redis.options,
      prefix: config.QUEUE_PREFIX,
      timestamps,
      log,
      retryMaxMs: config.TSA_RETRY_MAX_SECONDS * 1000,
    });
    relay = createOutboxRelay({
      db,
      log,
      targets: { [ROUTING_TOPIC]: routingQueue.target, [DELIVERY_TOPIC]: delivery.target, [TIMESTAMP_TOPIC]: timestampQueue.target },
    });
    relay.kick();
  }

  const signer = createSigner({ certPem: tls.receiptCert, keyPem: tls.receiptKey });
  const limits = {
    maxDocumentBytes: config.MAX_DOCUMENT_BYTES,
    maxDocuments: config.MAX_DOCUMENTS,
    maxPackageBytes: config.MAX_PACKAGE_BYTES,
    maxManifestBytes: config.MAX_MANIFEST_BYTES,
    // issue 15: the least data rate of an upload's body (packages and responses)
    minRate: { bytesPerSecond: config.UPLOAD_MIN_BYTES_PER_SECOND, windowSeconds: config.UPLOAD_RATE_WINDOW_SECONDS },
    admission: {
      maxConcurrent: config.MAX_CONCURRENT_UPLOADS,
      maxConcurrentPerParty: config.MAX_CONCURRENT_UPLOADS_PER_PARTY,
      ratePerMinute: config.RATE_LIMIT_PER_MINUTE,
      // issue 16: a sender's rate and uploads in flight are counted in Redis, across the deployment's instances
      ...(redis ? { shared: { redis: redis.client, prefix: config.QUEUE_PREFIX, leaseMs: config.REQUEST_TIMEOUT_MS + 60_000, log } } : {}),
    },
  };
  const intake = createIntakeService({
    db,
    blobs,
    masterKey,
    signer,
    deadlines,
    municipalities,
    regionCode: config.REGION_CODE,
    log,
    timestamps,
    onCommitted: async (caseId) => {
      kickRelay();
      if (config.ROUTING_FAST_PATH === 'on') routingQueue?.routeNow(caseId);
      await scheduleReminders(caseId);
    },
  });
  const certs = createCertExpiryMonitor({ registry: metrics, log });
  const checkOwnCerts = () => {
    for (const [use, pem] of [
      ['server', tls.cert],
      ['receipt-signing', tls.receiptCert],
      ...(tls.push ? [['push-client', tls.push.cert]] : []),
    ] as [string, string][]) {
      try {
        certs.checkOwn(use, pem);
      } catch (err) {
        log.error({ err, certificate: use }, 'certificate could not be read for its expiry');
      }
    }
  };
  checkOwnCerts();
  const certTimer = setInterval(checkOwnCerts, 86_400_000);
  certTimer.unref();
  const responses = createResponseService({
    db,
    blobs,
    masterKey,
    signer,
    parties,
    medcom,
    deadlines,
    log,
    onDispatched: () => kickRelay(),
  });
  for (const d of [config.VANS_OUTBOX_DIR, config.VANS_INBOX_DIR]) if (d) mkdirSync(d, { recursive: true, mode: 0o750 });
  if (config.VANS_INBOX_DIR) {
    // What the VANS provider drops as files, one VANSEnvelope per file: MedCom acknowledgements (a Message), and the
    // network's receipts of our `reliable` envelopes (a Receipt, 032_Reliable_Messaging-VANSEnvelope.md).
    vansInbox = createInboxDirPoller({
      dir: config.VANS_INBOX_DIR,
      intervalMs: config.VANS_INBOX_POLL_MS,
      log,
      handle: async (file) => {
        const inbound = parseVansInbound(file.bytes);
        if (inbound.kind === 'receipt') {
          const r = await medcom.receiveVansReceipt(inbound.receipt);
          if (r.outcome === 'unknown') throw new InboxSetAside('a VANS receipt for no envelope the gateway sent through VANS');
          return;
        }
        const env = inbound.message;
        try {
          await medcom.receiveAcknowledgement({ id: 'vans-inbox', kind: 'vans-inbox' }, JSON.parse(env.data.toString('utf8')));
        } catch (err) {
          // The validator is restarting: not the file's fault, so it waits for the next poll.
          if (err instanceof Problem && err.status === 503) throw new InboxRetryLater(err.detail ?? err.message);
          throw err;
        }
      },
    });
    vansInbox.start();
  }
  const retention = createRetentionService({ db, blobs, log, retentionDays: config.RETENTION_DAYS_AFTER_CLOSE, metrics });
  let retentionQueue: RetentionQueue | undefined;
  if (redis) {
    retentionQueue = createRetentionQueue({
      connection: redis.options,
      prefix: config.QUEUE_PREFIX,
      retention,
      log,
      hour: config.RETENTION_PURGE_HOUR,
    });
    await retentionQueue.schedule();
  }
  const worklist = createWorklistService({ db, blobs, deadlines, masterKey, reads, retention });
  const statistics = createStatisticsService({
    db,
    agreements,
    municipalityName: (code) => parties.all().find((p) => p.kind === 'municipality' && p.municipalityCode === code)?.name,
    volumeAlertPct: config.VOLUME_DEVIATION_ALERT_PCT,
  });
  // §17 stk. 4: the volume check runs at start and every hour (started once the gateway listens).
  const volumeMonitor = createVolumeMonitor({ statistics, registry: metrics, log });
  let draining = false;
  const deps = {
    responses,
    onPeerCertificate: certs.observePeer,
    db,
    blobs,
    parties,
    intake,
    limits,
    log,
    redis: redis?.client,
    draining: () => draining,
    deadlines,
    routing,
    worklist,
    consents: createConsentService({ db, visibleCase: worklist.visibleCase }),
    retention,
    statistics,
    settlement: createSettlementService({ db, agreements, parties, priceIndex: () => priceIndex, log }),
    delivery: deliveryService,
    push: delivery,
    medcom,
    timestamps,
    adminQueues: [
      routingQueue?.queue,
      delivery?.queue,
      medcomAcks?.queue,
      reminders?.queue,
      timestampQueue?.queue,
      retentionQueue?.queue,
    ].filter((q): q is NonNullable<typeof q> => q !== undefined) as Queue[],
  };
  const app = createApp(deps);

  const server = https.createServer(
    {
      cert: tls.cert,
      key: tls.key,
      ca: tls.clientCa,
      ...(tls.crl ? { crl: tls.crl } : {}),
      requestCert: true,
      rejectUnauthorized: false, // answered with a 401 problem instead of a bare TLS alert
      minVersion: 'TLSv1.2',
      // No TLS 1.2 renegotiation: a connection keeps the certificate it presented (its identity is read once,
      // src/parties/identity.ts connectionIdentity), and a client cannot make the server redo handshakes at will.
      secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
      handshakeTimeout: config.HANDSHAKE_TIMEOUT_MS,
    },
    app,
  );
  boundConnections(
    server,
    { maxConnections: config.MAX_CONNECTIONS, maxHandshakesPerAddress: config.MAX_HANDSHAKES_PER_ADDRESS },
    log,
    'api',
  );
  // A client that is slow with its headers, its whole request, or goes silent mid-body is cut off.
  server.headersTimeout = config.HEADERS_TIMEOUT_MS;
  server.requestTimeout = config.REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = 5_000;
  server.timeout = config.IDLE_TIMEOUT_MS; // no byte in either direction for this long: the socket is destroyed
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

  let closing: Promise<void> | undefined;
  let staff: StaffServer | undefined;
  try {
    staff = await startStaffServer({
      config,
      tls: { cert: tls.cert, key: tls.key },
      db,
      masterKey,
      parties,
      services: {
        worklist,
        consents: deps.consents,
        retention,
        settlement: deps.settlement,
        statistics,
        responses,
        delivery: deliveryService,
        medcom,
        routing,
        deadlines,
        push: delivery,
        blobs,
        limits,
      },
      adminQueues: deps.adminQueues,
      log,
    });
  } catch (e) {
    await close();
    throw e;
  }

  let healthServer: http.Server | undefined;
  let healthPort: number | undefined;
  let healthHost: string | undefined;
  if (config.HEALTH_PORT !== undefined) {
    healthServer = http.createServer(createHealthApp(deps, metrics));
    // issue 15: loopback unless HEALTH_HOST says otherwise (the port has no authentication)
    await new Promise<void>((resolve) => healthServer!.listen(config.HEALTH_PORT, config.HEALTH_HOST, () => resolve()));
    ({ port: healthPort, address: healthHost } = healthServer.address() as { port: number; address: string });
  }
  volumeMonitor.start();
  log.info({ port, healthPort, database: db.dialect, region: config.REGION_CODE, redis: redis?.url }, 'Postkasse listening (mutual TLS)');

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
      await staff?.close();
      if (healthServer) await new Promise<void>((r) => healthServer!.close(() => r()));
      clearInterval(sweeper);
      clearInterval(certTimer);
      await volumeMonitor.stop();
      // workers → database → Redis
      if (vansInbox) await vansInbox.stop();
      if (relay) await relay.close();
      if (routingQueue) await routingQueue.close();
      if (delivery) await delivery.close();
      if (medcomAcks) await medcomAcks.close();
      if (reminders) await reminders.close();
      if (timestampQueue) await timestampQueue.close();
      if (retentionQueue) await retentionQueue.close();
      timestamps.stop();
      // the counts of repeated reads, then the audit head as it is at shutdown, before the database closes
      await reads.stop().catch((err: unknown) => log.error({ err }, 'repeated reads could not be audited at shutdown'));
      await auditStamper.stop();
      await db.close();
      await storedBlobs.close?.(); // the S3 client's connections, or the file store's writer thread
      if (redis) await redis.close();
      // the development TSA last: a worker's stamp in flight above could still need it
      if (tsa.dev) await tsa.dev.close();
      if (ownValidator) await medcomValidator.close();
      log.info('shut down');
    })();
    return closing;
  }

  return {
    port,
    staffPort: staff.port,
    staffBaseUrl: staff.baseUrl,
    devIdpIssuer: staff.devIdpIssuer,
    healthPort,
    healthHost,
    db,
    redis,
    tls,
    deadlines,
    reminders,
    routing,
    routingQueue,
    relay,
    delivery,
    medcom,
    medcomAcks,
    timestamps,
    timestampQueue,
    retention,
    retentionQueue,
    auditStamper,
    tsa,
    metrics,
    reload() {
      const p = parties.reload();
      const g = gpDirectory.reload();
      let a = 'ok';
      try {
        agreements.reload();
      } catch (e) {
        a = (e as Error).message;
      }
      let pi = 'ok';
      try {
        priceIndex = loadPriceIndex(config.PRICE_INDEX_FILE);
      } catch (e) {
        pi = (e as Error).message;
        log.error({ err: e }, 'the price index file was refused; the previous one stays in force');
      }
      // Server certificate, client trust anchors and CRL are re-read for NEW connections;
      // connections already open keep theirs (nothing is dropped). A bad file keeps the old ones.
      let t = 'ok';
      try {
        const read = (f: string) => readFileSync(f, 'utf8');
        const next = {
          cert: config.TLS_CERT_FILE ? read(config.TLS_CERT_FILE) : tls.cert,
          key: config.TLS_KEY_FILE ? read(config.TLS_KEY_FILE) : tls.key,
          ca: config.TLS_CLIENT_CA_FILE ? read(config.TLS_CLIENT_CA_FILE) : tls.clientCa,
          ...(config.TLS_CRL_FILE ? { crl: read(config.TLS_CRL_FILE) } : {}),
        };
        server.setSecureContext({ ...next, minVersion: 'TLSv1.2' });
        Object.assign(tls, { cert: next.cert, key: next.key, clientCa: next.ca, crl: next.crl });
        checkOwnCerts();
      } catch (e) {
        t = (e as Error).message;
        log.error({ err: e }, 'TLS files could not be reloaded; the old ones stay in force');
      }
      return { parties: p.ok ? 'ok' : p.error, agreements: a, gpDirectory: g.ok ? 'ok' : g.error, priceIndex: pi, tls: t };
    },
    close,
  };
}
