/**
 * Issue 6: TLS_CRL_FILE — a revoked client certificate is refused (401,
 * CERT_REVOKED); a reload (SIGHUP) picks up a new CRL for new connections
 * without dropping the ones already open. The CRL is made with the real
 * `openssl ca`, as a CA operator would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { devPkiFor, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** Revokes `certFiles` with the dev CA and writes a CRL to `out`. */
function makeCrl(pkiDir: string, work: string, certFiles: string[], out: string): void {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'index.txt'), '');
  writeFileSync(join(work, 'crlnumber'), '01\n');
  writeFileSync(
    join(work, 'ca.cnf'),
    '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n',
  );
  const ca = ['-config', 'ca.cnf', '-keyfile', join(pkiDir, 'ca.key'), '-cert', join(pkiDir, 'ca.pem')];
  for (const f of certFiles) openssl(['ca', ...ca, '-revoke', f], work);
  openssl(['ca', ...ca, '-gencrl', '-out', out], work);
}

describe('certificate revocation (TLS_CRL_FILE)', () => {
  let dir: string;
  let g: TestGateway;
  let pkiDir: string;
  const crlFile = () => join(dir, 'crl.pem');
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-crl-'));
    const dataDir = join(dir, 'data');
    pkiDir = join(dataDir, 'pki');
    await devPkiFor(dataDir);
    makeCrl(pkiDir, join(dir, 'ca1'), [join(pkiDir, 'clients', 'kommune-147.pem')], crlFile());
    g = await startTestGateway({ dialect: 'sqlite', dataDir, env: { TLS_CRL_FILE: crlFile() } });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const worklist = (party: string) => {
    const c = g.creds(party);
    return request(g.url).get('/v1/worklist').ca(g.ca).cert(c.cert).key(c.key);
  };
  const send = (party: string) =>
    postPackage(g, party, manifest(), [{ name: 'plan', body: pdf('p'), contentType: 'application/pdf', filename: 'plan.pdf' }]);

  test('a revoked client certificate is refused with 401 problem+json; others are not affected', async () => {
    const refused = await send('kommune-147');
    assert.equal(refused.status, 401, refused.text);
    assert.match(refused.headers['content-type'] ?? '', /problem\+json/);
    assert.match(refused.body.detail, /CERT_REVOKED/);
    assert.equal((await send('kommune-101')).status, 201);
  });

  test('a reload picks up a new CRL for new connections and keeps open ones', async () => {
    const c = g.creds('kommune-101');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: g.ca, cert: c.cert, key: c.key });
    const get = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = https.get(`${g.url}/readyz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: (req as unknown as { reusedSocket: boolean }).reusedSocket }));
        });
        req.on('error', reject);
      });
    try {
      assert.equal((await get()).status, 200);
      makeCrl(
        pkiDir,
        join(dir, 'ca2'),
        [join(pkiDir, 'clients', 'kommune-147.pem'), join(pkiDir, 'clients', 'kommune-101.pem')],
        crlFile(),
      );
      const r = g.gw.reload();
      assert.equal(r.tls, 'ok');
      const onOpen = await get();
      assert.equal(onOpen.status, 200, 'the connection opened before the reload is not dropped');
      assert.equal(onOpen.reused, true);
      const fresh = await send('kommune-101');
      assert.equal(fresh.status, 401, 'a new connection with the now revoked certificate is refused');
      assert.equal((await worklist('coord-anna')).status, 200, 'other certificates still work on new connections');
    } finally {
      agent.destroy();
    }
    // a bad CRL file is refused and the old context stays
    writeFileSync(crlFile(), 'not a crl');
    assert.notEqual(g.gw.reload().tls, 'ok');
    assert.equal((await worklist('coord-anna')).status, 200);
    assert.equal((await send('kommune-101')).status, 401, 'the CRL in force is still the last good one');
  });
});
