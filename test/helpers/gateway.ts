/**
 * Starts a real gateway for a test file: its own temp DATA_DIR, its own
 * PostgreSQL schema (or embedded SQLite), real mTLS on an ephemeral port, the
 * shared Redis at 127.0.0.1:6379, and captured log lines.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { logCapture } from './logs.js';
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { startGateway, type Gateway, type StartOptions } from '../../src/server.js';
import { ensureDevPki, type DevPki } from '../../src/pki/devpki.js';
import { loadPartiesFile } from '../../src/parties/parties.js';
import { startMedcomValidator, type AsyncMedcomValidator } from '../../src/medcom/validator-client.js';
import { MEDCOM_DIR } from './medcom.js';

/**
 * The development PKI's RSA keys cost ~3 s of CPU per gateway start, and the suite starts
 * well over a hundred gateways. Each test gateway therefore starts from a copy of one PKI
 * (CA, server, receipt-signing and gateway-client certificates, and the development
 * parties' client certificates) made once per checkout; the gateway's own ensureDevPki
 * then adds what its parties file needs beyond it. Tests of the PKI itself do not use it.
 */
const PKI_TEMPLATE = join(process.cwd(), '.tmp', 'test-pki-template');

/**
 * Likewise MedCom's validator costs ~3 s of CPU to start (a process of its own that loads the
 * packages): the gateways of one test file share one, started on the first message it is asked
 * to validate (most test files build no MedCom message), and it ends with the file's process.
 * A test that configures other packages, or stops the validator, gets its own through
 * `start.medcomValidator`/the env. The gateway itself starts its validator eagerly, so that a
 * broken package set stops it at start-up.
 */
let sharedValidator: Promise<AsyncMedcomValidator> | undefined;
let startedValidator: AsyncMedcomValidator | undefined;
const sharedMedcomValidator: AsyncMedcomValidator = {
  async validate(resource) {
    sharedValidator ??= startMedcomValidator(MEDCOM_DIR, createLogger({ level: 'silent' })).then((v) => (startedValidator = v));
    return (await sharedValidator).validate(resource);
  },
  pid: () => startedValidator?.pid(),
  // shared by the file's gateways: it ends with the file's process
  close: async () => undefined,
};
let template: Promise<void> | undefined;
function pkiTemplate(): Promise<void> {
  template ??= ensureDevPki(PKI_TEMPLATE, loadPartiesFile('config/parties.dev.json')).then(() => undefined);
  return template;
}

/**
 * A template for a parties file of a test's own (e.g. writeRoutingParties, whose serials are fixed): the
 * development template plus that file's client certificates, made once per test run (test/run.mjs clears
 * them) and shared by every file whose parties get the same certificates. It is keyed by what the certificates
 * hold (each party's id, name and subject serialNumber), not by the whole file: push URLs with a test's own
 * ports would otherwise make a new template, with new RSA keys, for every file. Built aside and renamed into
 * place, so two test processes never see half of one.
 */
const keyedTemplates = new Map<string, Promise<string>>();
function partiesTemplate(partiesFile: string): Promise<string> {
  const certified = loadPartiesFile(partiesFile)
    .map((p) => [p.id, p.name, p.certificates.map((c) => c.subjectSerialNumber ?? '')])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const key = createHash('sha256').update(JSON.stringify(certified)).digest('hex').slice(0, 16);
  const dir = join(process.cwd(), '.tmp', `test-pki-${key}`);
  let made = keyedTemplates.get(dir);
  if (!made) {
    made = (async () => {
      if (existsSync(dir)) return dir;
      await pkiTemplate();
      const aside = mkdtempSync(`${dir}.building-`);
      cpSync(PKI_TEMPLATE, aside, { recursive: true, filter: (src) => !src.endsWith('.lock') });
      await ensureDevPki(aside, loadPartiesFile(partiesFile));
      try {
        renameSync(aside, dir);
      } catch {
        rmSync(aside, { recursive: true, force: true }); // another process was first: use its template
      }
      return dir;
    })();
    keyedTemplates.set(dir, made);
  }
  return made;
}

/** Gives `dataDir` the development PKI from the shared template (for gateways started here or as child processes). */
export async function seedDevPki(dataDir: string, partiesFile?: string): Promise<void> {
  if (existsSync(join(dataDir, 'pki'))) return;
  const dev = resolve('config/parties.dev.json');
  const from = partiesFile && resolve(partiesFile) !== dev ? await partiesTemplate(partiesFile) : (await pkiTemplate(), PKI_TEMPLATE);
  cpSync(from, join(dataDir, 'pki'), { recursive: true, filter: (src) => !src.endsWith('.lock') });
}

/**
 * `DATA_DIR/pki` as the gateway will find it, for a test that needs the PKI's files before the gateway starts (a
 * receiver trusting the gateway's client certificate, a CRL): seeded from the template, so no key is made here.
 */
export async function devPkiFor(dataDir: string, partiesFile = 'config/parties.dev.json'): Promise<DevPki> {
  await seedDevPki(dataDir, partiesFile);
  return ensureDevPki(join(dataDir, 'pki'), loadPartiesFile(partiesFile));
}

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type Dialect = 'sqlite' | 'postgres';

export interface TestGateway {
  gw: Gateway;
  url: string;
  dataDir: string;
  schema?: string;
  ca: string;
  logs: string[];
  /** this gateway's BullMQ key prefix in the shared Redis */
  queuePrefix: string;
  creds(partyId: string): { cert: string; key: string };
  close(): Promise<void>;
}

/**
 * The staff pages' login needs an identity provider. `npm start` runs the development one (oidc-provider, an RSA key
 * made at each start: ~0.3 s of CPU per gateway and ~0.4 s to load, per test process); only the browser tests log in
 * through it, so the other test gateways name an issuer that is never contacted (discovery is lazy) unless `devIdp`.
 */
export const UNUSED_IDP = {
  OIDC_ISSUER: 'https://idp.invalid',
  OIDC_CLIENT_ID: 'postkasse-test',
  OIDC_CLIENT_SECRET: 'not-used-0123456789',
};

export async function startTestGateway(opts: {
  dialect: Dialect;
  env?: Record<string, string>;
  dataDir?: string;
  schema?: string;
  start?: StartOptions;
  /** run the development identity provider, as `npm start` does (tests that log in through it) */
  devIdp?: boolean;
}): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'postkasse-test-'));
  const schema = opts.dialect === 'postgres' ? (opts.schema ?? `t_${randomBytes(6).toString('hex')}`) : undefined;
  const queuePrefix = `t-${randomBytes(6).toString('hex')}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: '0',
    STAFF_PORT: '0',
    DEV_IDP_PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL,
    START_REDIS: 'never',
    QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: 'debug',
    ...(opts.dialect === 'postgres' ? { DATABASE_URL: PG_URL } : {}),
    ...(opts.devIdp || opts.env?.OIDC_ISSUER ? {} : UNUSED_IDP),
    ...opts.env,
  });
  const cap = logCapture();
  const log = createLogger({ level: 'debug', destination: cap.stream });
  if (!config.TLS_CERT_FILE) await seedDevPki(dataDir, config.PARTIES_FILE);
  const shareValidator = opts.start?.medcomValidator === undefined && resolve(config.MEDCOM_PACKAGES_DIR) === resolve(MEDCOM_DIR);
  const gw = await startGateway(config, log, {
    ...opts.start,
    dbSchema: schema,
    ...(shareValidator ? { medcomValidator: sharedMedcomValidator } : {}),
  });
  const pki = gw.tls.devPki!;
  return {
    gw,
    url: `https://127.0.0.1:${gw.port}`,
    dataDir,
    schema,
    ca: readFileSync(pki.caCert, 'utf8'),
    logs: cap.lines,
    queuePrefix: config.QUEUE_PREFIX,
    creds(partyId) {
      const c = pki.clients[partyId];
      if (!c) throw new Error(`no dev certificate for ${partyId}`);
      return { cert: readFileSync(c.cert, 'utf8'), key: readFileSync(c.key, 'utf8') };
    },
    async close() {
      await gw.close();
      if (schema) await dropSchema(schema);
      await dropQueueKeys(config.QUEUE_PREFIX);
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** Removes this test gateway's BullMQ keys from the shared Redis. */
export async function dropQueueKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    // quit waits for the server to close the connection; disconnect() left ioredis's 2 s destroy timer keeping the process alive
    await redis.quit().catch(() => redis.disconnect());
  }
}
