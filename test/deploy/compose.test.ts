/**
 * Issue 16: the compose file's production profile — two gateway instances
 * behind one port with PostgreSQL, Redis and an S3-compatible store — checked
 * without Docker: its gateways' environment (as compose interpolates it) is a
 * configuration the gateway accepts under NODE_ENV=production, the two
 * instances share what must be shared and keep apart what must not, and the
 * load balancer passes TLS through to both and asks their /readyz.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

interface Service {
  profiles?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, Service> };
const haproxy = readFileSync('config/haproxy.cfg', 'utf8');

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?message} (an unset VAR then stops compose). */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (op === '?') throw new Error(`compose stops: ${name}: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

/** What the operator sets (docs/operations.md, "The production profile"). */
const OPERATOR: Record<string, string> = {
  POSTGRES_PASSWORD: 'a-long-random-password',
  S3_SECRET_KEY: 'another-long-random-secret',
  STAFF_BASE_URL: 'https://postkasse.region.example:8444',
  TSA_URLS: 'https://tsa.example/tsr',
  OIDC_ISSUER: 'https://idp.region.example',
  OIDC_CLIENT_ID: 'postkasse',
  OIDC_CLIENT_SECRET: 'secret',
  CLINICAL_FUNCTION_SOR: '987654321012345',
  CLINICAL_FUNCTION_EAN: '5790002345678',
  CLINICAL_FUNCTION_NAME: 'Klinisk funktion, Region Eksempel',
  CLINICAL_FUNCTION_PHONE: '70102030',
  FHIR_BASE_URL: 'https://postkasse.region.example/fhir',
};

const gatewayEnv = (name: string, env: Record<string, string> = OPERATOR): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), env)]));

test('issue 16: the production profile has two gateways, a TCP load balancer, PostgreSQL, Redis and an S3 store', () => {
  for (const s of ['gateway-a', 'gateway-b', 'lb', 'objects', 'bucket']) {
    assert.deepEqual(compose.services[s]?.profiles, ['production'], `${s} belongs to the production profile`);
  }
  assert.ok(compose.services.postgres && compose.services.redis, 'PostgreSQL and Redis serve both profiles');
  assert.equal(compose.services.gateway?.profiles, undefined, 'the development trial is the default');
  assert.deepEqual(compose.services.lb!.ports, ['8443:8443', '8444:8444'], 'one port for the partners, one for staff');
  for (const g of ['gateway-a', 'gateway-b'])
    assert.equal(compose.services[g]!.ports, undefined, `${g} is reached through the balancer only`);
});

test('issue 16: each production gateway starts under NODE_ENV=production with what the operator sets; without it, it names what is missing', () => {
  for (const g of ['gateway-a', 'gateway-b']) {
    const env = gatewayEnv(g);
    assert.equal(env.NODE_ENV, 'production');
    const c = loadConfig(env);
    assert.equal(c.BLOB_STORE, 's3');
    assert.equal(c.START_REDIS, 'never');
    assert.equal(c.HEALTH_HOST, '0.0.0.0', 'the balancer reaches the health port inside the compose network');
    // §15 stk. 2: without the region's own clinical function the GP's copies would name the development sender
    const sender = ['CLINICAL_FUNCTION_SOR', 'CLINICAL_FUNCTION_EAN', 'CLINICAL_FUNCTION_NAME', 'CLINICAL_FUNCTION_PHONE', 'FHIR_BASE_URL'];
    for (const missing of ['TSA_URLS', 'OIDC_ISSUER', ...sender]) {
      const { [missing]: _drop, ...rest } = OPERATOR;
      assert.throws(
        () => loadConfig(gatewayEnv(g, rest)),
        (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith(`${missing} must be set in production`)),
        `${g} without ${missing}`,
      );
    }
  }
});

test('issue 16: the two instances share database, queues and documents, and keep their own data directory', () => {
  const a = gatewayEnv('gateway-a');
  const b = gatewayEnv('gateway-b');
  for (const k of [
    'DATABASE_URL',
    'REDIS_URL',
    'QUEUE_PREFIX',
    'BLOB_STORE',
    'S3_BUCKET',
    'S3_PREFIX',
    'S3_ENDPOINT',
    'STORAGE_KEY_FILE',
    'AUDIT_KEY_FILE',
  ]) {
    assert.equal(a[k], b[k], `${k} is the same for both`);
  }
  const dataVolume = (g: string) => compose.services[g]!.volumes!.find((v) => v.endsWith(':/var/lib/postkasse'));
  assert.ok(dataVolume('gateway-a') && dataVolume('gateway-b'));
  assert.notEqual(dataVolume('gateway-a'), dataVolume('gateway-b'), 'each instance has its own DATA_DIR');
  // the keys are mounted read-only, apart from the data
  for (const g of ['gateway-a', 'gateway-b']) assert.ok(compose.services[g]!.volumes!.some((v) => v.endsWith(':/run/postkasse-keys:ro')));
});

test('issue 16: the load balancer passes TLS through to both instances and takes out one whose /readyz is not 200', () => {
  assert.match(haproxy, /^\s*mode tcp$/m, 'TCP pass-through: the gateway sees the client certificate');
  const health = gatewayEnv('gateway-a').HEALTH_PORT;
  for (const [port, backend] of [
    ['8443', 'gateways'],
    ['8444', 'staff-pages'],
  ] as const) {
    assert.match(haproxy, new RegExp(`bind :${port}\\s+default_backend ${backend}`));
    const section = haproxy.slice(haproxy.indexOf(`backend ${backend}`));
    assert.match(section, /option httpchk GET \/readyz/);
    assert.match(section, new RegExp(`check port ${health}`));
    for (const g of ['gateway-a', 'gateway-b']) assert.match(section, new RegExp(`server \\w ${g}:${port}`));
  }
  const timeout = /timeout client (\d+)m/.exec(haproxy);
  assert.ok(
    timeout && Number(timeout[1]) * 60_000 > loadConfig(gatewayEnv('gateway-a')).REQUEST_TIMEOUT_MS,
    'the balancer outlasts the longest upload',
  );
});

test('issue 16: no mount lies inside a read-only mount (Docker cannot make its mount point there), and the MedCom packages are where the image looks', () => {
  // found bringing the profile up: MedCom's packages at /etc/postkasse/medcom, inside the read-only /etc/postkasse,
  // stopped both gateways with "mkdir …/etc/postkasse/medcom: read-only file system"
  const imageMedcom = /MEDCOM_PACKAGES_DIR=(\S+)/.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
  assert.ok(imageMedcom, 'the image names MEDCOM_PACKAGES_DIR');
  for (const [name, service] of Object.entries(compose.services)) {
    const mounts = (service.volumes ?? []).map((v) => {
      const [, target, mode] = v.replace(/\$\{[^}]*\}/g, 'HOST').split(':');
      return { target: target!, readOnly: mode === 'ro' };
    });
    for (const outer of mounts.filter((m) => m.readOnly)) {
      for (const inner of mounts) {
        assert.ok(!inner.target.startsWith(`${outer.target}/`), `${name}: ${inner.target} lies inside the read-only ${outer.target}`);
      }
    }
    if (name.startsWith('gateway')) {
      assert.ok(
        mounts.some((m) => m.target === imageMedcom && m.readOnly),
        `${name} mounts MedCom's packages read-only at ${imageMedcom}`,
      );
    }
  }
});
