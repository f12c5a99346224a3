import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sql } from 'kysely';
import { after, before, describe, it } from 'node:test';
import { appendAudit } from '../../src/audit/audit.js';
import { openDatabase } from '../../src/storage/db.js';
import { loadAuditKey } from '../../src/audit/key.js';
import { runCli, tempDir } from './helpers.js';

const tmp = tempDir('cli-audit');
after(() => tmp.remove());

describe('audit verify', () => {
  const dataDir = join(tmp.dir, 'data');
  let head: { seq: number; hash: string };

  before(async () => {
    // the gateway's default key file, DATA_DIR/audit.key, which the CLI reads
    const db = await openDatabase({ dataDir, auditKey: loadAuditKey({ dataDir, createIfMissing: true }) });
    try {
      for (let i = 1; i <= 3; i++) {
        head = await appendAudit(db.db, db, {
          at: `2026-12-18T09:41:0${i}.000Z`,
          actor: 'party:kommune-101',
          action: 'package.received',
          caseId: `case-${i}`,
          details: { packageId: `p-${i}` },
        });
      }
    } finally {
      await db.close();
    }
  });

  it('reports an intact chain with its length and head (exit 0)', async () => {
    const r = await runCli(['audit', 'verify'], { DATA_DIR: dataDir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^audit chain OK: 3 entries$/m);
    assert.ok(r.stdout.includes(`head: ${head.seq}:${head.hash}`));
    const withHead = await runCli(['audit', 'verify', '--expect-head', `${head.seq}:${head.hash}`], { DATA_DIR: dataDir });
    assert.equal(withHead.code, 0, withHead.stderr);
    const wrongHead = await runCli(['audit', 'verify', '--expect-head', `${head.seq}:${'0'.repeat(64)}`], { DATA_DIR: dataDir });
    assert.equal(wrongHead.code, 1);
    assert.match(wrongHead.stdout, new RegExp(`^audit chain BROKEN at seq ${head.seq}: `));
  });

  it('reports a modified entry as BROKEN at its seq (exit 1)', async () => {
    const db = await openDatabase({ dataDir });
    try {
      // An attacker with file access: lift the append-only trigger and rewrite entry 2.
      await sql`drop trigger audit_log_no_update`.execute(db.db);
      await db.db.updateTable('audit_log').set({ details: '{"packageId":"p-forged"}' }).where('seq', '=', 2).execute();
    } finally {
      await db.close();
    }
    const r = await runCli(['audit', 'verify'], { DATA_DIR: dataDir });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^audit chain BROKEN at seq 2: hash does not match the entry/);
  });

  it('issue 15: entries over more than 3 × AUDIT_STAMP_MINUTES with no anchored head are BROKEN (anchors removed, or no TSA that long)', async () => {
    const dir = join(tmp.dir, 'unanchored');
    const db = await openDatabase({ dataDir: dir, auditKey: loadAuditKey({ dataDir: dir, createIfMissing: true }) });
    try {
      for (const at of ['2026-12-18T08:00:00.000Z', '2026-12-18T08:20:00.000Z', '2026-12-18T08:40:00.000Z']) {
        await appendAudit(db.db, db, { at, actor: 'party:kommune-101', action: 'package.received', details: {} });
      }
    } finally {
      await db.close();
    }
    // 40 minutes of entries: more than 3 × 10 (the default AUDIT_STAMP_MINUTES), within 3 × 15
    const r = await runCli(['audit', 'verify'], { DATA_DIR: dir });
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stdout,
      /^audit chain BROKEN at seq 1: entries from seq 1 .* covered by no timestamp: 40 minutes .* more than the 30 allowed/m,
    );
    assert.equal((await runCli(['audit', 'verify'], { DATA_DIR: dir, AUDIT_STAMP_MINUTES: '15' })).code, 0);
    assert.equal((await runCli(['audit', 'verify', '--max-unanchored-minutes', '45'], { DATA_DIR: dir })).code, 0);
    const bad = await runCli(['audit', 'verify', '--max-unanchored-minutes', '0'], { DATA_DIR: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-unanchored-minutes must be a whole number of minutes, at least 1/);
  });

  it('does not create an empty database where there is none (exit 1), and rejects unknown subcommands (exit 2)', async () => {
    const r = await runCli(['audit', 'verify'], { DATA_DIR: join(tmp.dir, 'nothing-here') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no database at .*nothing-here/);
    const bad = await runCli(['audit', 'check'], { DATA_DIR: dataDir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown subcommand "check"/);
  });
});
