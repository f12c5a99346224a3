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
  const prod = loadConfig({
    NODE_ENV: 'production',
    GP_DIRECTORY_FILE: '/etc/gp.json',
    OIDC_ISSUER: 'https://idp.region.example',
    OIDC_CLIENT_ID: 'postkasse',
    TSA_URLS: 'https://tsa.example',
    TSA_CA_FILE: '/etc/tsa-ca.pem',
  });
  assert.equal(prod.VANS_OUTBOX_DIR, undefined);
  assert.equal(prod.MEDCOM_ACK_TIMEOUT_MS, 30 * 60_000);
  assert.equal(prod.MEDCOM_MAX_RESENDS, 2);
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
    () => loadConfig({ NODE_ENV: 'production', GP_DIRECTORY_FILE: '/etc/gp.json' }),
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
  assert.throws(
    () => loadConfig({ SESSION_IDLE_MINUTES: '700', SESSION_MAX_HOURS: '10' }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => /SESSION_IDLE_MINUTES must not exceed/.test(p)),
  );
});
