/**
 * Configuration from the environment (API.md "Configuration"), validated once at
 * start-up. A wrong value stops the process with a message that names the
 * variable and says what is wrong.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';
import { isGln } from './identifiers.js';

const MB = 1_000_000;

const port = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a TCP port number` })
    .int(`${name} must be a whole number`)
    .min(0, `${name} must be between 0 and 65535 (0 = any free port)`)
    .max(65535, `${name} must be between 0 and 65535 (0 = any free port)`);

const positiveInt = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .positive(`${name} must be greater than 0`);

const optionalPath = z
  .string()
  .trim()
  .min(1)
  .optional()
  .transform((v) => (v ? resolve(v) : undefined));

/**
 * The clinical function as the sender of every MedCom message (the GP's copy of an attest, §15 stk. 2): development
 * values, which production refuses (productionProblems), each with what to set instead. A copy sent under them names a
 * sender no GP system, SOR or VANS provider knows, and the GPs' acknowledgements could not find their way back.
 */
const DEV_SENDER = [
  [
    'CLINICAL_FUNCTION_SOR',
    '1234561000016007',
    "the SOR id of the region's clinical function (its entry in the SOR register), the sender every GP's copy names",
  ],
  [
    'CLINICAL_FUNCTION_EAN',
    '5790000000005',
    "the EAN (GLN) location number the region's clinical function is registered under for VANS (in its SOR entry), " +
      "to which the GPs' acknowledgements are addressed",
  ],
  [
    'CLINICAL_FUNCTION_NAME',
    'Klinisk funktion, Region Hovedstaden (udvikling)',
    "the clinical function's name, as GPs are to read it as the sender",
  ],
  [
    'CLINICAL_FUNCTION_PHONE',
    '38000000',
    'the phone number at which GPs reach the clinical function (every CareCommunication carries it; MedCom requires one)',
  ],
  ['FHIR_BASE_URL', 'https://postkasse.invalid/fhir', "the region's own https:// base for the fullUrls of the Bundles the gateway sends"],
] as const satisfies readonly (readonly [string, string, string])[];
const devSender = (name: (typeof DEV_SENDER)[number][0]): string => DEV_SENDER.find(([n]) => n === name)![1];

const envSchema = z
  .object({
    NODE_ENV: z.string().optional(),
    PORT: port('PORT').default(8443),
    HEALTH_PORT: port('HEALTH_PORT').optional(),
    /** issue 15: the unauthenticated health port listens on loopback unless an operator says otherwise */
    HEALTH_HOST: z.string().trim().min(1, 'HEALTH_HOST must be a listen address (e.g. 127.0.0.1, 0.0.0.0)').default('127.0.0.1'),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATA_DIR: z
      .string()
      .trim()
      .min(1)
      .default('./data')
      .transform((v) => resolve(v)),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgres:// or postgresql:// URL (leave it unset for the embedded database)')
      .optional(),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'REDIS_URL must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    TLS_CERT_FILE: optionalPath,
    TLS_KEY_FILE: optionalPath,
    TLS_CLIENT_CA_FILE: optionalPath,
    TLS_CRL_FILE: optionalPath,
    /** issue 16: names the development PKI's server certificate carries besides loopback (e.g. a trial host's), comma-separated */
    DEV_PKI_SERVER_NAMES: z
      .string()
      .optional()
      .transform((v) =>
        (v ?? '')
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z
            .string()
            .refine(
              (n) =>
                isIP(n) !== 0 ||
                /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(n),
              'DEV_PKI_SERVER_NAMES must list host names or IP addresses, separated by commas',
            ),
        ),
      ),
    RECEIPT_CERT_FILE: optionalPath,
    RECEIPT_KEY_FILE: optionalPath,
    PARTIES_FILE: z
      .string()
      .default('config/parties.dev.json')
      .transform((v) => resolve(v)),
    AGREEMENTS_FILE: z
      .string()
      .default('config/agreements.json')
      .transform((v) => resolve(v)),
    /** §18 stk. 2: yearly index factors of the price of medical certificates (the price cap is DKK 14 000 at 2011 level) */
    PRICE_INDEX_FILE: z
      .string()
      .default('config/price-index.dev.json')
      .transform((v) => resolve(v)),
    STORAGE_KEY_FILE: optionalPath,
    /** issue 15: the audit chain's HMAC key, outside the database; unset = DATA_DIR/audit.key (generated in development) */
    AUDIT_KEY_FILE: optionalPath,
    /** issue 16: where documents are stored: `file` = DATA_DIR/blobs; `s3` = an S3-compatible object store (S3_*), shared by instances */
    BLOB_STORE: z.enum(['file', 's3'], 'BLOB_STORE is file or s3').default('file'),
    S3_BUCKET: z
      .string()
      .trim()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'S3_BUCKET must be a bucket name (3–63 lower-case letters, digits, "." or "-")')
      .optional(),
    /** every object key starts with it; the orphan sweep lists and removes only under it */
    S3_PREFIX: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)+$/, 'S3_PREFIX must be a key prefix of letters, digits, ".", "_" or "-" ending in "/" (e.g. postkasse/)')
      .default('postkasse/'),
    /** a non-AWS store (MinIO, Ceph, ...); unset = AWS */
    S3_ENDPOINT: z
      .string()
      .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), 'S3_ENDPOINT must be an http:// or https:// URL')
      .optional(),
    S3_REGION: z
      .string()
      .regex(/^[a-z0-9-]{2,40}$/, 'S3_REGION must be a region name such as eu-north-1')
      .default('eu-north-1'),
    S3_FORCE_PATH_STYLE: z
      .enum(['true', 'false'], 'S3_FORCE_PATH_STYLE is true or false')
      .default('false')
      .transform((v) => v === 'true'),
    /** issue 15: days after a case is closed until the daily purge deletes its documents and personal data */
    RETENTION_DAYS_AFTER_CLOSE: positiveInt('RETENTION_DAYS_AFTER_CLOSE')
      .max(36500, 'RETENTION_DAYS_AFTER_CLOSE must be at most 36500')
      .default(365),
    /** issue 15: the hour (Copenhagen time) of the daily purge */
    RETENTION_PURGE_HOUR: z.coerce
      .number({ error: 'RETENTION_PURGE_HOUR must be a number' })
      .int('RETENTION_PURGE_HOUR must be a whole hour')
      .min(0, 'RETENTION_PURGE_HOUR must be 0–23')
      .max(23, 'RETENTION_PURGE_HOUR must be 0–23')
      .default(2),
    /** issue 15: how often the audit chain's head is timestamped by the TSA (and at shutdown) */
    AUDIT_STAMP_MINUTES: positiveInt('AUDIT_STAMP_MINUTES').max(1440, 'AUDIT_STAMP_MINUTES must be at most 1440 (a day)').default(10),
    /** issue 15: audited reads (case, document, mailbox message) a minute per party; 0 = no limit */
    AUDITED_READS_PER_MINUTE: z.coerce
      .number({ error: 'AUDITED_READS_PER_MINUTE must be a number' })
      .int('AUDITED_READS_PER_MINUTE must be a whole number')
      .min(0, 'AUDITED_READS_PER_MINUTE must be 0 (off) or more')
      .default(600),
    /** issue 15: repeated reads of one object by one party within this many seconds are one audit entry with a count; 0 = off */
    READ_AUDIT_WINDOW_SECONDS: z.coerce
      .number({ error: 'READ_AUDIT_WINDOW_SECONDS must be a number of seconds' })
      .int('READ_AUDIT_WINDOW_SECONDS must be a whole number of seconds')
      .min(0, 'READ_AUDIT_WINDOW_SECONDS must be 0 (off) or more')
      .max(3600, 'READ_AUDIT_WINDOW_SECONDS must be at most 3600')
      .default(60),
    /** issue 15: RFC 3161 TSAs for the receipts' timestamps, tried in order; unset = the development TSA (not in production) */
    TSA_URLS: z
      .string()
      .optional()
      .transform((v, ctx) => {
        const urls = (v ?? '')
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u !== '');
        for (const u of urls) {
          if (!URL.canParse(u) || !['http:', 'https:'].includes(new URL(u).protocol)) {
            ctx.addIssue({
              code: 'custom',
              message: `TSA_URLS must be comma-separated http:// or https:// URLs (${JSON.stringify(u)} is not)`,
            });
          }
        }
        return urls.length > 0 ? urls : undefined;
      }),
    /** issue 15: trust anchors (PEM) for the TSAs' tokens; with the development TSA, the development CA */
    TSA_CA_FILE: optionalPath,
    /** issue 15: intake refuses packages when no receipt was timestamped for this long while receipts wait (decimals allowed) */
    TSA_MAX_GAP_MINUTES: z.coerce
      .number({ error: 'TSA_MAX_GAP_MINUTES must be a number of minutes' })
      .positive('TSA_MAX_GAP_MINUTES must be greater than 0')
      .max(7 * 24 * 60, 'TSA_MAX_GAP_MINUTES must be at most 10080 (a week)')
      .default(240),
    /** issue 15: the longest wait between two attempts to timestamp one receipt */
    TSA_RETRY_MAX_SECONDS: positiveInt('TSA_RETRY_MAX_SECONDS').max(3600, 'TSA_RETRY_MAX_SECONDS must be at most 3600').default(300),
    /** issue 15: the development TSA's loopback port (0 = any free port) */
    DEV_TSA_PORT: port('DEV_TSA_PORT').default(0),
    REGION_CODE: z
      .string()
      .default('1084')
      .refine((v) => ['1081', '1082', '1083', '1084', '1085'].includes(v), 'REGION_CODE must be one of 1081, 1082, 1083, 1084, 1085'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    MAX_DOCUMENT_BYTES: positiveInt('MAX_DOCUMENT_BYTES').default(50 * MB),
    MAX_DOCUMENTS: positiveInt('MAX_DOCUMENTS').default(20),
    MAX_PACKAGE_BYTES: positiveInt('MAX_PACKAGE_BYTES').default(200 * MB),
    MAX_MANIFEST_BYTES: positiveInt('MAX_MANIFEST_BYTES').default(256 * 1024),
    SHUTDOWN_TIMEOUT_MS: positiveInt('SHUTDOWN_TIMEOUT_MS').default(30_000),
    REQUEST_TIMEOUT_MS: positiveInt('REQUEST_TIMEOUT_MS').default(30 * 60_000),
    /** `auto`: start a private redis-server when none answers (development); production's default is `never` */
    START_REDIS: z.enum(['auto', 'never']).default('auto'),
    QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, 'QUEUE_PREFIX is 1–40 letters, digits, "_" or "-"')
      .default('postkasse'),
    ROUTING_RECONCILE_INTERVAL_MS: z.coerce
      .number({ error: 'ROUTING_RECONCILE_INTERVAL_MS must be a number of milliseconds' })
      .int('ROUTING_RECONCILE_INTERVAL_MS must be a whole number of milliseconds')
      .min(1000, 'ROUTING_RECONCILE_INTERVAL_MS must be at least 1000')
      .max(30_000, 'ROUTING_RECONCILE_INTERVAL_MS must be at most 30000 (issue 4: at least every 30 s)')
      .default(30_000),
    PUSH_CLIENT_CERT_FILE: z.string().min(1).optional(),
    PUSH_CLIENT_KEY_FILE: z.string().min(1).optional(),
    PUSH_CA_FILE: z.string().min(1).optional(),
    DELIVERY_RETRY_BASE_MS: positiveInt('DELIVERY_RETRY_BASE_MS').default(60_000),
    DELIVERY_RETRY_MAX_MS: positiveInt('DELIVERY_RETRY_MAX_MS').default(4 * 3600_000),
    DELIVERY_GIVE_UP_AFTER_MS: positiveInt('DELIVERY_GIVE_UP_AFTER_MS').default(72 * 3600_000),
    MAX_CONCURRENT_UPLOADS: positiveInt('MAX_CONCURRENT_UPLOADS').default(256),
    MAX_CONCURRENT_UPLOADS_PER_PARTY: positiveInt('MAX_CONCURRENT_UPLOADS_PER_PARTY').default(64),
    RATE_LIMIT_PER_MINUTE: z.coerce
      .number({ error: 'RATE_LIMIT_PER_MINUTE must be a number' })
      .int('RATE_LIMIT_PER_MINUTE must be a whole number')
      .min(0, 'RATE_LIMIT_PER_MINUTE must be 0 (off) or more')
      .default(6000),
    IDLE_TIMEOUT_MS: positiveInt('IDLE_TIMEOUT_MS').default(60_000),
    /** issue 15: an upload's body slower than this, averaged over UPLOAD_RATE_WINDOW_SECONDS, is refused with 408 (0 = off) */
    UPLOAD_MIN_BYTES_PER_SECOND: z.coerce
      .number({ error: 'UPLOAD_MIN_BYTES_PER_SECOND must be a number of bytes per second' })
      .int('UPLOAD_MIN_BYTES_PER_SECOND must be a whole number')
      .min(0, 'UPLOAD_MIN_BYTES_PER_SECOND must be 0 (off) or more')
      .default(1024),
    UPLOAD_RATE_WINDOW_SECONDS: positiveInt('UPLOAD_RATE_WINDOW_SECONDS')
      .max(3600, 'UPLOAD_RATE_WINDOW_SECONDS must be at most 3600 (an hour)')
      .default(30),
    HEADERS_TIMEOUT_MS: positiveInt('HEADERS_TIMEOUT_MS').default(20_000),
    // Issue 15: connection bounds on both listeners (mTLS API and staff pages).
    MAX_CONNECTIONS: positiveInt('MAX_CONNECTIONS').default(2048),
    MAX_HANDSHAKES_PER_ADDRESS: positiveInt('MAX_HANDSHAKES_PER_ADDRESS').default(128),
    HANDSHAKE_TIMEOUT_MS: positiveInt('HANDSHAKE_TIMEOUT_MS').default(10_000),
    ROUTING_FAST_PATH: z.enum(['on', 'off'], 'ROUTING_FAST_PATH is on or off').default('on'),
    GP_DIRECTORY_FILE: optionalPath,
    CLINICAL_FUNCTION_NAME: z.string().trim().min(1).default(devSender('CLINICAL_FUNCTION_NAME')),
    CLINICAL_FUNCTION_SOR: z
      .string()
      .regex(/^\d{6,18}$/, "CLINICAL_FUNCTION_SOR must be the clinical function's SOR id (digits)")
      .default(devSender('CLINICAL_FUNCTION_SOR')),
    CLINICAL_FUNCTION_EAN: z
      .string()
      .regex(/^\d{13}$/, "CLINICAL_FUNCTION_EAN must be the clinical function's 13-digit EAN (GLN) location number")
      // the GS1 check digit at start-up, not first when a VANSEnvelope is built (and every GP copy fails for 72 h)
      .refine(
        (v) => !/^\d{13}$/.test(v) || isGln(v),
        'CLINICAL_FUNCTION_EAN must be a valid EAN (GLN) location number: its GS1 check digit is wrong (a mistyped digit?)',
      )
      .default(devSender('CLINICAL_FUNCTION_EAN')),
    CLINICAL_FUNCTION_PHONE: z
      .string()
      .regex(/^\+?[0-9 ]{8,16}$/, 'CLINICAL_FUNCTION_PHONE must be a phone number (digits, spaces, optional +)')
      .default(devSender('CLINICAL_FUNCTION_PHONE')),
    FHIR_BASE_URL: z
      .string()
      .url('FHIR_BASE_URL must be an https:// URL')
      .regex(/^https:\/\/[^?#]*[^/?#]$/, 'FHIR_BASE_URL must be an https:// URL without a trailing slash, query or fragment')
      .default(devSender('FHIR_BASE_URL')),
    MEDCOM_PACKAGES_DIR: z
      .string()
      .trim()
      .min(1)
      .default('../shared/medcom')
      .transform((v) => resolve(v)),
    VANS_OUTBOX_DIR: optionalPath,
    VANS_INBOX_DIR: optionalPath,
    VANS_ENDPOINT_URL: z
      .string()
      .regex(/^https:\/\//, 'VANS_ENDPOINT_URL must be an https:// URL')
      .optional(),
    VANS_INBOX_POLL_MS: positiveInt('VANS_INBOX_POLL_MS').default(10_000),
    MEDCOM_ACK_TIMEOUT_MS: positiveInt('MEDCOM_ACK_TIMEOUT_MS').default(30 * 60_000),
    MEDCOM_MAX_RESENDS: z.coerce
      .number({ error: 'MEDCOM_MAX_RESENDS must be a number' })
      .int('MEDCOM_MAX_RESENDS must be a whole number')
      .min(0, 'MEDCOM_MAX_RESENDS must be 0 or more')
      .max(2, 'MEDCOM_MAX_RESENDS must be at most 2 (MedCom reliable messaging: never more than 2 resends)')
      .default(2),
    STAFF_PORT: port('STAFF_PORT').default(8444),
    STAFF_BASE_URL: z
      .string()
      .regex(/^https:\/\/[^/?#]+$/, 'STAFF_BASE_URL must be https://host[:port] as staff reach the pages (no path, no trailing slash)')
      .optional(),
    OIDC_ISSUER: z
      .string()
      .refine((v) => {
        try {
          const u = new URL(v);
          return u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname));
        } catch {
          return false;
        }
      }, 'OIDC_ISSUER must be the https:// URL of the identity provider (http:// only on loopback, for trials)')
      .optional(),
    OIDC_CLIENT_ID: z.string().trim().min(1).optional(),
    OIDC_CLIENT_SECRET: z.string().min(1).optional(),
    OIDC_STAFF_CLAIM: z
      .string()
      .regex(/^[A-Za-z0-9_:./-]{1,100}$/, 'OIDC_STAFF_CLAIM must be the name of an ID token claim')
      .default('sub'),
    /**
     * The scopes the staff login asks for, space-separated. A provider releases a claim only under its scope:
     * the one that carries OIDC_STAFF_CLAIM (`email`, a vendor's employee-number scope) must be among them.
     */
    OIDC_SCOPES: z
      .string()
      .default('openid profile')
      .transform((v, ctx) => {
        const scopes = [...new Set(v.split(' ').filter((s) => s !== ''))];
        // RFC 6749 §3.3: a scope token is printable ASCII without space, '"' and '\'
        const bad = scopes.find((s) => !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s));
        if (bad !== undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `OIDC_SCOPES must be scope names separated by spaces, e.g. "openid profile email" (${JSON.stringify(bad)} is not one)`,
          });
        } else if (!scopes.includes('openid')) {
          ctx.addIssue({
            code: 'custom',
            message: 'OIDC_SCOPES must contain openid, space-separated from the other scopes (without it no ID token comes back)',
          });
        }
        return scopes.join(' ');
      }),
    OIDC_REQUIRED_ACR: z.string().trim().min(1).optional(),
    DEV_IDP_PORT: port('DEV_IDP_PORT').default(8445),
    SESSION_IDLE_MINUTES: positiveInt('SESSION_IDLE_MINUTES').default(30),
    SESSION_MAX_HOURS: positiveInt('SESSION_MAX_HOURS').default(10),
    AT_RISK_WORKING_DAYS: z.coerce
      .number({ error: 'AT_RISK_WORKING_DAYS must be a number' })
      .int('AT_RISK_WORKING_DAYS must be a whole number')
      .min(0, 'AT_RISK_WORKING_DAYS must be 0 or more')
      .max(30, 'AT_RISK_WORKING_DAYS must be at most 30')
      .default(3),
    /** §17 stk. 4: an agreement is in alert when its cases deviate from the pro-rated expectation by more than this, in percent */
    VOLUME_DEVIATION_ALERT_PCT: z.coerce
      .number({ error: 'VOLUME_DEVIATION_ALERT_PCT must be a number (percent)' })
      .positive('VOLUME_DEVIATION_ALERT_PCT must be greater than 0')
      .max(1000, 'VOLUME_DEVIATION_ALERT_PCT must be at most 1000')
      .default(15),
  })
  .superRefine((c, ctx) => {
    const pairs: Array<[keyof typeof c, keyof typeof c]> = [
      ['TLS_CERT_FILE', 'TLS_KEY_FILE'],
      ['RECEIPT_CERT_FILE', 'RECEIPT_KEY_FILE'],
      ['PUSH_CLIENT_CERT_FILE', 'PUSH_CLIENT_KEY_FILE'],
    ];
    for (const [a, b] of pairs) {
      if (Boolean(c[a]) !== Boolean(c[b])) {
        ctx.addIssue({ code: 'custom', path: [c[a] ? b : a], message: `${a} and ${b} must be set together` });
      }
    }
    if (c.TLS_CERT_FILE && !c.TLS_CLIENT_CA_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['TLS_CLIENT_CA_FILE'],
        message: 'TLS_CLIENT_CA_FILE must be set when TLS_CERT_FILE is set (the trust anchors for client certificates)',
      });
    }
    if (c.NODE_ENV === 'production' && !c.GP_DIRECTORY_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['GP_DIRECTORY_FILE'],
        message:
          "GP_DIRECTORY_FILE must be set in production: the GP directory decides where a GP's copy goes (§15 stk. 2), never a party's own claim",
      });
    }
    if (c.NODE_ENV === 'production' && !c.OIDC_ISSUER) {
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_ISSUER'],
        message:
          "OIDC_ISSUER must be set in production: staff log in to the pages through the region's identity provider " +
          '(the development identity provider runs only outside production)',
      });
    }
    if (c.NODE_ENV === 'production' && !c.TSA_URLS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TSA_URLS'],
        message:
          'TSA_URLS must be set in production: every receipt is timestamped by an RFC 3161 time-stamping authority ' +
          '(the development TSA runs only outside production)',
      });
    }
    if (c.TSA_URLS && !c.TSA_CA_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['TSA_CA_FILE'],
        message: "TSA_CA_FILE must be set with TSA_URLS: the CA certificate(s) (PEM) that the TSAs' certificates chain to",
      });
    }
    if (c.OIDC_ISSUER && !c.OIDC_CLIENT_ID) {
      ctx.addIssue({ code: 'custom', path: ['OIDC_CLIENT_ID'], message: 'OIDC_CLIENT_ID must be set with OIDC_ISSUER' });
    }
    if (c.SESSION_IDLE_MINUTES > c.SESSION_MAX_HOURS * 60) {
      ctx.addIssue({
        code: 'custom',
        path: ['SESSION_IDLE_MINUTES'],
        message: 'SESSION_IDLE_MINUTES must not exceed SESSION_MAX_HOURS (the absolute limit)',
      });
    }
    if (c.VANS_OUTBOX_DIR && c.VANS_ENDPOINT_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['VANS_ENDPOINT_URL'],
        message: 'VANS_OUTBOX_DIR and VANS_ENDPOINT_URL are two ways to hand envelopes to the VANS provider: set one, not both',
      });
    }
    if (c.MAX_DOCUMENT_BYTES > c.MAX_PACKAGE_BYTES) {
      ctx.addIssue({ code: 'custom', path: ['MAX_DOCUMENT_BYTES'], message: 'MAX_DOCUMENT_BYTES must not exceed MAX_PACKAGE_BYTES' });
    }
    if (c.BLOB_STORE === 's3' && !c.S3_BUCKET) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3_BUCKET'],
        message: 'S3_BUCKET must be set with BLOB_STORE=s3 (the bucket that holds the documents)',
      });
    }
  });

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') input[k] = v;
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = String(i.path[0] ?? '');
        const value = name && input[name] !== undefined ? ` (got "${input[name]}")` : '';
        return i.message.includes(name) && name ? `${i.message}${value}` : `${name}: ${i.message}${value}`;
      }),
    );
  }
  const config = parsed.data;
  if (config.NODE_ENV === 'production') {
    const problems = productionProblems(config, input);
    if (problems.length > 0) throw new ConfigError(problems);
    // Redis is a service of its own in production; no private redis-server is started
    config.START_REDIS = 'never';
  }
  // The development parties come with the development GP directory; a parties file of one's own
  // (tests, a trial) without a directory falls back to the gp-system parties' ydernumre.
  if (input.PARTIES_FILE === undefined && config.NODE_ENV !== 'production') {
    config.GP_DIRECTORY_FILE ??= resolve(DEV_GP_DIRECTORY_FILE);
    // ... and a VANS provider that is two directories in DATA_DIR: envelopes out, acknowledgements in.
    if (!config.VANS_OUTBOX_DIR && !config.VANS_ENDPOINT_URL) config.VANS_OUTBOX_DIR = resolve(config.DATA_DIR, 'vans', 'outbox');
    config.VANS_INBOX_DIR ??= resolve(config.DATA_DIR, 'vans', 'inbox');
  }
  return config;
}

export const DEV_GP_DIRECTORY_FILE = 'config/gp-directory.dev.json';

/** The files the configuration names, which the gateway reads at start-up (the key files: src/shared/key-file.ts). */
const READ_FILES = [
  'PARTIES_FILE',
  'AGREEMENTS_FILE',
  'PRICE_INDEX_FILE',
  'GP_DIRECTORY_FILE',
  'TLS_CERT_FILE',
  'TLS_KEY_FILE',
  'TLS_CLIENT_CA_FILE',
  'TLS_CRL_FILE',
  'RECEIPT_CERT_FILE',
  'RECEIPT_KEY_FILE',
  'PUSH_CLIENT_CERT_FILE',
  'PUSH_CLIENT_KEY_FILE',
  'PUSH_CA_FILE',
  'TSA_CA_FILE',
] as const satisfies readonly (keyof Config)[];
/** Key files a development start generates when missing; an existing one must still be readable. */
const KEY_FILES = ['STORAGE_KEY_FILE', 'AUDIT_KEY_FILE'] as const satisfies readonly (keyof Config)[];

/**
 * Every file and directory the configuration names, checked before the gateway reads any of them, so that a
 * deployment learns at once and in one list which variable points at something this process cannot read (a key
 * mounted for root into a container that runs as another user, a typing error in a path), rather than one bare
 * EACCES after another. Throws ConfigError.
 */
export function assertConfiguredFilesReadable(c: Config): void {
  const who = typeof process.getuid === 'function' ? `the gateway's user (uid ${process.getuid()})` : 'the gateway';
  const problems: string[] = [];
  const check = (name: string, path: string | undefined, kind: 'file' | 'directory', missingOk = false) => {
    if (!path) return;
    try {
      const st = statSync(path);
      if (kind === 'file' && !st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      if (kind === 'directory' && !st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      accessSync(path, kind === 'file' ? constants.R_OK : constants.R_OK | constants.X_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && missingOk) return;
      if (code === 'EACCES' || code === 'EPERM') {
        problems.push(
          `${name}: ${path} cannot be read by ${who}: permission denied. Give that user read access (chown or chmod; ` +
            'the container image runs as uid 10001, docs/operations.md)',
        );
      } else if (code === 'ENOENT') problems.push(`${name}: ${path} does not exist`);
      else if (code === 'EISDIR' || code === 'ENOTDIR') problems.push(`${name}: ${path} is not a ${kind}`);
      else problems.push(`${name}: ${path} cannot be read: ${(err as Error).message}`);
    }
  };
  for (const name of READ_FILES) check(name, c[name], 'file');
  // a missing key file is the key loaders' to judge (generated in development, refused in production, each with its reason)
  for (const name of KEY_FILES) check(name, c[name], 'file', true);
  check('MEDCOM_PACKAGES_DIR', c.MEDCOM_PACKAGES_DIR, 'directory', true);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The development files of this repository, with the variable that names the region's own in production. */
const DEV_FILES: readonly [keyof Config, string, string][] = [
  ['PARTIES_FILE', 'config/parties.dev.json', 'parties (who may connect)'],
  ['AGREEMENTS_FILE', 'config/agreements.json', 'cooperation agreements'],
  ['PRICE_INDEX_FILE', 'config/price-index.dev.json', 'price index (§18 stk. 2)'],
  ['GP_DIRECTORY_FILE', DEV_GP_DIRECTORY_FILE, 'GP directory'],
];

const inside = (file: string, dir: string): boolean => {
  const rel = relative(dir, resolve(file));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * Issue 16: what a production start refuses, each naming its variable. The gateway would otherwise run quietly on
 * the development PKI, parties, agreements or price index, the development sender of the GP's copies, with keys
 * generated beside the data they protect, or with a private redis-server; the staff pages' IdP, the TSA and the GP
 * directory are checked with the schema.
 */
function productionProblems(c: Config, input: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [name, dev, what] of DEV_FILES) {
    if (c[name] === resolve(dev)) out.push(`${name} must name the region's own ${what} in production, not the development file ${dev}`);
  }
  for (const name of ['TLS_CERT_FILE', 'RECEIPT_CERT_FILE'] as const) {
    if (!c[name]) {
      out.push(
        `${name} must be set in production: without it the gateway would run on the development PKI, ` +
          'whose CA key lies in DATA_DIR and which no partner should trust',
      );
    }
  }
  for (const [name, file] of [
    ['STORAGE_KEY_FILE', c.STORAGE_KEY_FILE],
    ['AUDIT_KEY_FILE', c.AUDIT_KEY_FILE],
  ] as const) {
    if (!file) {
      out.push(
        `${name} must be set in production: a key generated into DATA_DIR is backed up, copied and lost together with ` +
          'the data it protects',
      );
    } else if (inside(file, c.DATA_DIR)) {
      out.push(`${name} must lie outside DATA_DIR in production (${file} is inside ${c.DATA_DIR}): keep the key apart from the data`);
    }
  }
  // §15 stk. 2: the GP's copy goes out under the region's own clinical function, never under the development one
  for (const [name, dev, what] of DEV_SENDER) {
    if (c[name] === dev) {
      out.push(
        `${name} must be set in production to ${what}: ${input[name] === undefined ? 'unset, it is' : 'it is'} ` +
          `the development value "${dev}"`,
      );
    }
  }
  if (input.START_REDIS === 'auto') {
    out.push(
      'START_REDIS=auto starts a private redis-server, for development: in production Redis is a service of its own (leave it unset)',
    );
  }
  return out;
}
