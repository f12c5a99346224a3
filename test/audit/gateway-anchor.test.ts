/**
 * Issue 15, the keyed, anchored audit chain in the running gateway: the
 * database handle carries the audit key from DATA_DIR/audit.key (generated
 * 0600 in development), the intake's writer thread links its entries with it,
 * the head is anchored by the gateway's TSA (the development TSA here) on its
 * interval and once more at shutdown, and `audit verify` afterwards checks
 * links, macs and tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { accessLog } from '../../src/audit/audit.js';
import { latestAnchor } from '../../src/audit/anchors.js';
import { auditCommand } from '../../src/cli/audit.js';
import { openDatabase } from '../../src/storage/db.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { keepForScan } from '../helpers/logs.js';

describe('issue 15: the gateway anchors its audit chain', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'postkasse-audit-gw-'));
  let g: TestGateway | undefined;
  before(async () => {
    // issue 15 hardening: 3 audited reads a minute per party, repeats within 60 s counted in one entry
    g = await startTestGateway({ dialect: 'sqlite', dataDir, env: { AUDITED_READS_PER_MINUTE: '3', READ_AUDIT_WINDOW_SECONDS: '60' } });
  });
  after(async () => {
    if (g) keepForScan(g.logs);
    await g?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const send = async (): Promise<string> => {
    const r = await postPackage(g!, 'kommune-101', manifest(), [
      { name: 'plan', body: pdf('a'), contentType: 'application/pdf', filename: 'plan.pdf' },
    ]);
    assert.equal(r.status, 201, r.text);
    return (JSON.parse(r.text) as { caseId: string }).caseId;
  };
  let caseId = '';
  let readCase = '';

  it('issue 15 (hardening): audited reads beyond the per-party limit get 429; repeats are one entry with a count', async () => {
    caseId = await send();
    readCase = caseId;
    const lead = g!.creds('lead-1');
    const readDoc = () => request(g!.url).get(`/v1/cases/${caseId}/documents/plan`).ca(g!.ca).cert(lead.cert).key(lead.key).buffer(true);
    for (let i = 0; i < 3; i++) assert.equal((await readDoc()).status, 200);
    const refused = await readDoc();
    assert.equal(refused.status, 429);
    assert.match(refused.headers['content-type'] ?? '', /application\/problem\+json/);
    assert.match(refused.headers['retry-after'] ?? '', /^\d+$/);
    assert.match((refused.body as { type: string }).type, /read-rate-limited/);
    const log = await accessLog(g!.gw.db.db, { caseId });
    assert.deepEqual(
      log.map((e) => [e.actor, e.action, e.count]),
      [['lead-1', 'document-read', 1]],
      'one entry for the first read; the two repeats wait for the window',
    );
  });

  it('issue 15: stamps the head on its interval and at shutdown; `audit verify` checks links, macs and tokens', async () => {
    assert.equal(statSync(join(dataDir, 'audit.key')).mode & 0o777, 0o600, 'the development key is generated 0600');
    assert.ok(g!.gw.db.auditKey, 'the database handle carries the key');
    caseId = await send();
    const first = await g!.gw.auditStamper.stampNow();
    assert.ok(first.stamped, JSON.stringify(first));
    assert.deepEqual(await g!.gw.auditStamper.stampNow(), { stamped: false, reason: 'unchanged' });
    const second = await send();
    // routing audits its assignment right after the receipt, in a commit of its own: the head read below comes after it
    await waitFor('the second case’s routing in the audit log', () =>
      g!.gw.db.db
        .selectFrom('audit_log')
        .select('seq')
        .where('case_id', '=', second)
        .where('action', 'in', ['case-assigned', 'case-unassigned'])
        .executeTakeFirst(),
    );
    const head = await g!.gw.db.db.selectFrom('audit_log').select(['seq', 'mac']).orderBy('seq', 'desc').executeTakeFirstOrThrow();
    assert.match(head.mac ?? '', /^[0-9a-f]{64}$/, 'the writer thread wrote a mac');

    await g!.gw.close(); // the shutdown anchors the head before the database closes
    const v = await auditCommand(['audit', 'verify'], { DATA_DIR: dataDir });
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /HMAC: seq 1–\d+ recomputed with audit key/);
    // the shutdown wrote the pending count of repeated reads, then anchored that head
    const finalHead = Number(/^head: (\d+):/m.exec(v.stdout)?.[1]);
    assert.equal(finalHead, head.seq + 1);
    assert.match(
      v.stdout,
      new RegExp(
        `anchored heads: 2 timestamp token\\(s\\) verified against .*pki/ca\\.pem \\(development PKI\\); newest at seq ${finalHead},`,
      ),
    );
    assert.doesNotMatch(v.stdout, /not anchored yet/);
    const db = await openDatabase({ dataDir });
    try {
      assert.deepEqual(
        (await accessLog(db.db, { caseId: readCase })).map((e) => e.count),
        [2, 1],
      );
      const a = await latestAnchor(db.db);
      assert.equal(a?.seq, finalHead);
      assert.match(a!.tsaUrl, /^http:\/\/127\.0\.0\.1:\d+/, 'the development TSA of npm start');
    } finally {
      await db.close();
    }
  });
});
