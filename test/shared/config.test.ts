import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

test('config: defaults from API.md when nothing is set', () => {
  const c = loadConfig({});
  assert.equal(c.PORT, 8443);
  assert.equal(c.REDIS_URL, 'redis://127.0.0.1:6379');
  assert.equal(c.REGION_CODE, '1084');
  assert.equal(c.DATABASE_URL, undefined);
  assert.equal(c.MAX_DOCUMENT_BYTES, 50_000_000);
  assert.equal(c.MAX_DOCUMENTS, 20);
  assert.equal(c.MAX_PACKAGE_BYTES, 200_000_000);
  assert.equal(c.MAX_MANIFEST_BYTES, 256 * 1024);
  assert.ok(c.DATA_DIR.endsWith('/data'));
  assert.ok(c.PARTIES_FILE.endsWith('config/parties.dev.json'));
});

const bad: Array<[string, Record<string, string>, RegExp]> = [
  ['PORT not a number', { PORT: 'eighty' }, /PORT/],
  ['PORT out of range', { PORT: '70000' }, /PORT must be between/],
  ['REGION_CODE outside 1081–1085', { REGION_CODE: '1090' }, /REGION_CODE must be one of/],
  ['DATABASE_URL not postgres', { DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgres/],
  ['REDIS_URL not redis', { REDIS_URL: 'http://x' }, /REDIS_URL must be a redis/],
  [
    'TLS cert without key',
    { TLS_CERT_FILE: '/x.pem', TLS_CLIENT_CA_FILE: '/ca.pem' },
    /TLS_CERT_FILE and TLS_KEY_FILE must be set together/,
  ],
  ['TLS cert without client CA', { TLS_CERT_FILE: '/x.pem', TLS_KEY_FILE: '/k.pem' }, /TLS_CLIENT_CA_FILE must be set/],
  ['receipt key without cert', { RECEIPT_KEY_FILE: '/k.pem' }, /RECEIPT_CERT_FILE and RECEIPT_KEY_FILE must be set together/],
  ['negative limit', { MAX_DOCUMENTS: '-1' }, /MAX_DOCUMENTS must be greater than 0/],
  ['document limit above package limit', { MAX_DOCUMENT_BYTES: '300000000' }, /MAX_DOCUMENT_BYTES must not exceed MAX_PACKAGE_BYTES/],
  ['§15 stk. 2: production without a GP directory', { NODE_ENV: 'production' }, /GP_DIRECTORY_FILE must be set in production/],
  ['two VANS transports at once', { VANS_OUTBOX_DIR: '/o', VANS_ENDPOINT_URL: 'https://vans.example' }, /set one, not both/],
  ['MedCom: more than 2 resends', { MEDCOM_MAX_RESENDS: '3' }, /MEDCOM_MAX_RESENDS must be at most 2/],
  ['an EAN that is not 13 digits', { CLINICAL_FUNCTION_EAN: '57900' }, /CLINICAL_FUNCTION_EAN must be/],
  [
    '§15 stk. 2: an EAN with a wrong GS1 check digit (refused at start-up, not first when a GP copy is enveloped)',
    { CLINICAL_FUNCTION_EAN: '5790000000006' },
    /CLINICAL_FUNCTION_EAN must be a valid EAN \(GLN\) location number: its GS1 check digit is wrong .*"5790000000006"/,
  ],
];
for (const [name, env, re] of bad) {
  test(`config: ${name} stops start-up with a message naming the variable`, () => {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  });
}

test('config: the development parties come with the development GP directory and a VANS provider of two directories in DATA_DIR', () => {
  const dev = loadConfig({ DATA_DIR: '/tmp/pk' });
  assert.ok(dev.GP_DIRECTORY_FILE?.endsWith('config/gp-directory.dev.json'));
  assert.equal(dev.VANS_OUTBOX_DIR, '/tmp/pk/vans/outbox');
  assert.equal(dev.VANS_INBOX_DIR, '/tmp/pk/vans/inbox');
  // a parties file of one's own: no directory (the development fallback), no VANS directories
  const own = loadConfig({ PARTIES_FILE: '/x/parties.json' });
  assert.equal(own.GP_DIRECTORY_FILE, undefined);
  assert.equal(own.VANS_OUTBOX_DIR, undefined);
  // production: nothing is filled in
  const prod = loadConfig(PRODUCTION);
  assert.equal(prod.VANS_OUTBOX_DIR, undefined);
  assert.equal(prod.MEDCOM_ACK_TIMEOUT_MS, 30 * 60_000);
  assert.equal(prod.MEDCOM_MAX_RESENDS, 2);
});

/** A production configuration with everything of the region's own (issue 16). */
const PRODUCTION: Record<string, string> = {
  NODE_ENV: 'production',
  DATA_DIR: '/var/lib/postkasse',
  PARTIES_FILE: '/etc/postkasse/parties.json',
  AGREEMENTS_FILE: '/etc/postkasse/agreements.json',
  PRICE_INDEX_FILE: '/etc/postkasse/price-index.json',
  GP_DIRECTORY_FILE: '/etc/postkasse/gp-directory.json',
  TLS_CERT_FILE: '/etc/postkasse/tls/server.pem',
  TLS_KEY_FILE: '/etc/postkasse/tls/server.key',
  TLS_CLIENT_CA_FILE: '/etc/postkasse/tls/clients-ca.pem',
  RECEIPT_CERT_FILE: '/etc/postkasse/tls/receipt.pem',
  RECEIPT_KEY_FILE: '/etc/postkasse/tls/receipt.key',
  STORAGE_KEY_FILE: '/run/secrets/postkasse-storage.key',
  AUDIT_KEY_FILE: '/run/secrets/postkasse-audit.key',
  OIDC_ISSUER: 'https://idp.region.example',
  OIDC_CLIENT_ID: 'postkasse',
  TSA_URLS: 'https://tsa.example',
  TSA_CA_FILE: '/etc/postkasse/tsa-ca.pem',
  CLINICAL_FUNCTION_SOR: '987654321012345',
  CLINICAL_FUNCTION_EAN: '5790002345678',
  CLINICAL_FUNCTION_NAME: 'Klinisk funktion, Region Eksempel',
  CLINICAL_FUNCTION_PHONE: '+45 70 10 20 30',
  FHIR_BASE_URL: 'https://postkasse.region.example/fhir',
};

test("issue 16: a production configuration of the region's own starts; Redis is never started privately there", () => {
  const c = loadConfig(PRODUCTION);
  assert.equal(c.START_REDIS, 'never');
  assert.equal(c.HEALTH_HOST, '127.0.0.1', 'the unauthenticated health port stays on loopback unless HEALTH_HOST says otherwise');
  assert.equal(loadConfig({}).START_REDIS, 'auto', 'development starts a private redis-server when none answers');
});

const productionRefusals: Array<[string, Record<string, string | undefined>, RegExp]> = [
  ['the development parties', { PARTIES_FILE: undefined }, /^PARTIES_FILE must name the region's own parties .*config\/parties\.dev\.json/],
  ['the development parties, named', { PARTIES_FILE: 'config/parties.dev.json' }, /^PARTIES_FILE must name/],
  ['the development agreements', { AGREEMENTS_FILE: undefined }, /^AGREEMENTS_FILE must name the region's own cooperation agreements/],
  ['the development price index', { PRICE_INDEX_FILE: undefined }, /^PRICE_INDEX_FILE must name/],
  ['the development GP directory', { GP_DIRECTORY_FILE: 'config/gp-directory.dev.json' }, /^GP_DIRECTORY_FILE must name/],
  [
    'the development PKI (server)',
    { TLS_CERT_FILE: undefined, TLS_KEY_FILE: undefined },
    /^TLS_CERT_FILE must be set in production: .*development PKI/,
  ],
  [
    'the development PKI (receipts)',
    { RECEIPT_CERT_FILE: undefined, RECEIPT_KEY_FILE: undefined },
    /^RECEIPT_CERT_FILE must be set in production/,
  ],
  ['a storage key generated into DATA_DIR', { STORAGE_KEY_FILE: undefined }, /^STORAGE_KEY_FILE must be set in production/],
  [
    'a storage key file inside DATA_DIR',
    { STORAGE_KEY_FILE: '/var/lib/postkasse/master.key' },
    /^STORAGE_KEY_FILE must lie outside DATA_DIR/,
  ],
  [
    'an audit key file inside DATA_DIR',
    { AUDIT_KEY_FILE: '/var/lib/postkasse/keys/audit.key' },
    /^AUDIT_KEY_FILE must lie outside DATA_DIR/,
  ],
  ['no audit key file', { AUDIT_KEY_FILE: undefined }, /^AUDIT_KEY_FILE must be set in production/],
  ['START_REDIS=auto', { START_REDIS: 'auto' }, /^START_REDIS=auto starts a private redis-server/],
  ['the development IdP', { OIDC_ISSUER: undefined }, /^OIDC_ISSUER must be set in production/],
  ['no TSA', { TSA_URLS: undefined, TSA_CA_FILE: undefined }, /^TSA_URLS must be set in production/],
  // §15 stk. 2: the GP's copy would go out under the development clinical function
  [
    'the development SOR id of the clinical function (unset)',
    { CLINICAL_FUNCTION_SOR: undefined },
    /^CLINICAL_FUNCTION_SOR must be set in production to the SOR id of the region's clinical function .*unset, it is the development value "1234561000016007"/,
  ],
  [
    'the development SOR id of the clinical function (set to it)',
    { CLINICAL_FUNCTION_SOR: '1234561000016007' },
    /^CLINICAL_FUNCTION_SOR must be set in production to .*: it is the development value/,
  ],
  [
    'the development EAN of the clinical function',
    { CLINICAL_FUNCTION_EAN: undefined },
    /^CLINICAL_FUNCTION_EAN must be set in production to the EAN \(GLN\) location number .* registered under for VANS/,
  ],
  ['the development EAN, set to it', { CLINICAL_FUNCTION_EAN: '5790000000005' }, /^CLINICAL_FUNCTION_EAN must be set in production/],
  [
    'the development name of the clinical function',
    { CLINICAL_FUNCTION_NAME: undefined },
    /^CLINICAL_FUNCTION_NAME must be set in production/,
  ],
  [
    'the development name, set to it',
    { CLINICAL_FUNCTION_NAME: 'Klinisk funktion, Region Hovedstaden (udvikling)' },
    /^CLINICAL_FUNCTION_NAME must be set in production/,
  ],
  [
    'the development phone',
    { CLINICAL_FUNCTION_PHONE: undefined },
    /^CLINICAL_FUNCTION_PHONE must be set in production to the phone number/,
  ],
  ['the development phone, set to it', { CLINICAL_FUNCTION_PHONE: '38000000' }, /^CLINICAL_FUNCTION_PHONE must be set in production/],
  [
    'the development FHIR base URL',
    { FHIR_BASE_URL: undefined },
    /^FHIR_BASE_URL must be set in production to the region's own https:\/\/ base/,
  ],
  [
    'the development FHIR base URL, set to it',
    { FHIR_BASE_URL: 'https://postkasse.invalid/fhir' },
    /^FHIR_BASE_URL must be set in production to .*: it is the development value "https:\/\/postkasse\.invalid\/fhir"/,
  ],
];
for (const [name, change, re] of productionRefusals) {
  test(`issue 16: under NODE_ENV=production, ${name} refuses start-up with a message naming the variable`, () => {
    const env = { ...PRODUCTION, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete env[k];
    assert.throws(
      () => loadConfig(env as Record<string, string>),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => re.test(p)),
    );
    assert.doesNotThrow(() => loadConfig({ ...env, NODE_ENV: 'development' } as Record<string, string>), 'development allows it');
  });
}

test('issue 16: DEV_PKI_SERVER_NAMES lists host names and IP addresses for the development server certificate', () => {
  assert.deepEqual(loadConfig({ DEV_PKI_SERVER_NAMES: ' postkasse.trial.example, 10.0.0.5 ,::1' }).DEV_PKI_SERVER_NAMES, [
    'postkasse.trial.example',
    '10.0.0.5',
    '::1',
  ]);
  assert.deepEqual(loadConfig({}).DEV_PKI_SERVER_NAMES, []);
  assert.throws(
    () => loadConfig({ DEV_PKI_SERVER_NAMES: 'ok.example, not a name' }),
    (e: unknown) => e instanceof ConfigError && /DEV_PKI_SERVER_NAMES must list host names or IP addresses/.test(e.message),
  );
});

test('config: every problem is listed at once', () => {
  try {
    loadConfig({ PORT: 'x', REGION_CODE: '9' });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.problems.length, 2);
  }
});

test("config: production needs the region's identity provider for the staff pages; the development IdP never runs there", () => {
  assert.throws(
    () => loadConfig({ ...PRODUCTION, OIDC_ISSUER: '' }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /^OIDC_ISSUER must be set in production/.test(p)),
  );
  assert.throws(
    () => loadConfig({ OIDC_ISSUER: 'https://idp.region.example' }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /OIDC_CLIENT_ID must be set with OIDC_ISSUER/.test(p)),
  );
  assert.throws(
    () => loadConfig({ OIDC_ISSUER: 'http://idp.region.example', OIDC_CLIENT_ID: 'x' }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /OIDC_ISSUER must be the https:\/\/ URL/.test(p)),
  );
  const c = loadConfig({});
  assert.equal(c.STAFF_PORT, 8444);
  assert.equal(c.DEV_IDP_PORT, 8445);
  assert.equal(c.SESSION_IDLE_MINUTES, 30);
  assert.equal(c.SESSION_MAX_HOURS, 10);
  assert.equal(c.OIDC_STAFF_CLAIM, 'sub');
  assert.equal(c.OIDC_SCOPES, 'openid profile');
  assert.throws(
    () => loadConfig({ SESSION_IDLE_MINUTES: '700', SESSION_MAX_HOURS: '10' }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /SESSION_IDLE_MINUTES must not exceed/.test(p)),
  );
});

test('config: OIDC_SCOPES, the scopes the staff login asks for, must contain openid and be scope names separated by spaces', () => {
  assert.equal(loadConfig({ OIDC_SCOPES: '  openid   profile email profile ' }).OIDC_SCOPES, 'openid profile email');
  assert.equal(
    loadConfig({ OIDC_SCOPES: 'openid https://region.example/scopes/employee' }).OIDC_SCOPES,
    'openid https://region.example/scopes/employee',
  );
  for (const [value, message] of [
    ['profile email', /^OIDC_SCOPES must contain openid.*\(got "profile email"\)$/],
    ['   ', /^OIDC_SCOPES must contain openid/],
    ['openid,profile', /^OIDC_SCOPES must contain openid, space-separated/],
    ['openid profile\\x', /^OIDC_SCOPES must be scope names separated by spaces.*"profile\\\\x" is not one/],
    ['openid\tprofile', /^OIDC_SCOPES must be scope names separated by spaces/],
    ['openid "email"', /^OIDC_SCOPES must be scope names separated by spaces/],
  ] as const) {
    assert.throws(
      () => loadConfig({ OIDC_SCOPES: value }),
      (e: unknown) => e instanceof ConfigError && e.problems.length === 1 && message.test(e.problems[0]!),
      value,
    );
  }
});
