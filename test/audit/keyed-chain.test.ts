/**
 * Issue 15, "A keyed, anchored audit chain": whoever can write the database
 * rewrote history and recomputed the plain SHA-256 links, and `audit verify`
 * said OK. Now the links are HMACs under a key kept outside the database,
 * and the chain's head is timestamped by a TSA (here `openssl ts -reply`, an
 * independent TSA, through the gateway's RFC 3161 client):
 *
 * - a rewrite by someone without the key is caught by the HMAC (the mac);
 * - a rewrite by someone who recomputes the links and the macs (with the
 *   key), or on the plain part written before the key, is caught by the
 *   timestamp tokens, even when verify runs without the key.
 *
 * On SQLite and PostgreSQL, and through the SQLite writer thread.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import pino from 'pino';
import {
  appendAudit,
  auditHash,
  auditHmac,
  GENESIS_HASH,
  startKeyedChain,
  verifyAuditChain,
  type AuditVerifyOptions,
} from '../../src/audit/audit.js';
import { auditKeyFrom, loadAuditKey, type AuditKey } from '../../src/audit/key.js';
import { createAuditStamper, latestAnchor, type HeadTimestamper } from '../../src/audit/anchors.js';
import { headImprint, headStatement } from '../../src/audit/head.js';
import { auditCommand } from '../../src/cli/audit.js';
import { openDatabase } from '../../src/storage/db.js';
import { AUDIT_CHAIN_SEAL_MIGRATION, createMigrationProvider } from '../../src/storage/migrations.js';
import { chainedAuditRow } from '../../src/audit/chain.js';
import { createTimestamper, verifyTimestampToken } from '../../src/timestamps/client.js';
import { DIALECTS, openTestDb, tempDir } from '../storage/helpers.js';
import { startOpensslTsa, type OpensslTsa } from '../helpers/tsa.js';
import { logCapture, keepForScan } from '../helpers/logs.js';

let n = 0;
const at = () => new Date(Date.UTC(2027, 0, 18, 9, 0, 0, n++)).toISOString();
const quiet = pino({ level: 'silent' });

type TestDb = Awaited<ReturnType<typeof openTestDb>>;

/** Runs `fn` with the append-only triggers of the audit tables lifted: the tests play someone who can write the database. */
async function asAttacker(t: TestDb, fn: () => Promise<unknown>): Promise<void> {
  const tables = ['audit_log', 'audit_anchors', 'audit_chain', 'audit_chain_seal'];
  if (t.dialect === 'postgres') {
    for (const tb of tables) await sql`alter table ${sql.id(tb)} disable trigger user`.execute(t.db);
    try {
      await fn();
    } finally {
      for (const tb of tables) await sql`alter table ${sql.id(tb)} enable trigger user`.execute(t.db);
    }
    return;
  }
  const { rows } = await sql<{ name: string; sql: string }>`select name, sql from sqlite_master
    where type = 'trigger' and tbl_name in ('audit_log', 'audit_anchors', 'audit_chain', 'audit_chain_seal')`.execute(t.db);
  for (const r of rows) await sql`drop trigger ${sql.id(r.name)}`.execute(t.db);
  try {
    await fn();
  } finally {
    for (const r of rows) await sql.raw(r.sql).execute(t.db);
  }
}

/**
 * The attack of issue 15: change entry `seq`'s details and recompute its
 * SHA-256 link and every later one, and the hashes the anchors recorded;
 * with `key` (someone who also stole the key file) the macs too. Only the
 * TSA's tokens are beyond reach.
 */
async function rewrite(t: TestDb, seq: number, details: unknown, o: { key?: Buffer } = {}): Promise<void> {
  await asAttacker(t, async () => {
    const rows = await t.db.selectFrom('audit_log').selectAll().where('seq', '>=', seq).orderBy('seq').execute();
    let prev = rows[0]!.prev_hash;
    for (const r of rows) {
      const d = Number(r.seq) === seq ? details : (JSON.parse(r.details) as unknown);
      const fields = { at: r.at, actor: r.actor, action: r.action, caseId: r.case_id, details: d };
      const hash = auditHash(prev, fields);
      const mac = o.key && r.mac !== null ? auditHmac(o.key, prev, fields) : r.mac;
      await t.db
        .updateTable('audit_log')
        .set({ details: JSON.stringify(d), prev_hash: prev, hash, mac })
        .where('seq', '=', r.seq)
        .execute();
      await t.db.updateTable('audit_anchors').set({ hash }).where('seq', '=', r.seq).execute();
      prev = hash;
    }
  });
}

let tsa: OpensslTsa;
let stamper: HeadTimestamper;
const tokens = (): NonNullable<AuditVerifyOptions['tokens']> => ({ verify: verifyTimestampToken, trustedCaPems: [tsa.caPem] });

before(async () => {
  tsa = await startOpensslTsa();
  stamper = createTimestamper({ urls: [tsa.url], trustedCaPems: [tsa.caPem] });
});
after(async () => {
  await tsa?.close();
});

/** Anchors the current head with the real (openssl) TSA. */
async function anchorHead(t: TestDb): Promise<number> {
  const r = await createAuditStamper({ db: t.db, timestamper: stamper, log: quiet, intervalMs: 60_000 }).stampNow();
  assert.ok(r.stamped, JSON.stringify(r));
  return r.seq;
}

const entry = (i: number) => ({ at: at(), actor: 'coord-a', action: 'document-read', caseId: `case-${i}`, details: { part: 'plan', i } });

for (const d of DIALECTS) {
  describe(`issue 15: keyed, anchored audit chain (${d.name})`, () => {
    let t: TestDb;
    before(async () => {
      t = await openTestDb(d, 'akeyed');
    });
    after(async () => {
      await t?.dispose();
    });

    it('issue 15: a rewrite with recomputed plain SHA-256 links — once "OK" — is caught by the HMAC at its seq', async () => {
      const rs = [];
      for (let i = 1; i <= 5; i++) rs.push(await appendAudit(t.db, t, entry(i)));
      assert.ok((await verifyAuditChain(t.db, { key: t.auditKey! })).ok);

      await rewrite(t, rs[1]!.seq, { part: 'plan', i: 2, forged: true });
      // links alone are consistent again: this is what the old `audit verify` accepted
      const noKey = await verifyAuditChain(t.db);
      assert.ok(noKey.ok, 'the links are consistent: only the HMAC (or a token) can tell');
      assert.equal(noKey.checks.keyed?.hmac, 'not-checked');
      const v = await verifyAuditChain(t.db, { key: t.auditKey! });
      assert.ok(!v.ok);
      assert.equal(v.brokenAt, rs[1]!.seq);
      assert.match(v.reason, /HMAC does not match the entry/);
      assert.deepEqual(v.checks.keyed && [v.checks.keyed.from, v.checks.keyed.hmac], [rs[0]!.seq, 'checked']);
    });
  });

  describe(`issue 15: anchored heads (${d.name})`, () => {
    let t: TestDb;
    before(async () => {
      t = await openTestDb(d, 'aanchor');
    });
    after(async () => {
      await t?.dispose();
    });

    it('issue 15: a rewrite by someone holding the key is caught by the timestamp token of the head, with or without the key', async () => {
      const rs: { seq: number; hash: string }[] = [];
      for (let i = 1; i <= 4; i++) rs.push(await appendAudit(t.db, t, entry(i)));
      const anchored = await anchorHead(t);
      assert.equal(anchored, rs[3]!.seq);
      for (let i = 5; i <= 6; i++) rs.push(await appendAudit(t.db, t, entry(i)));

      const good = await verifyAuditChain(t.db, { key: t.auditKey!, tokens: tokens() });
      assert.ok(good.ok, JSON.stringify(good));
      assert.equal(good.checks.anchors.count, 1);
      assert.equal(good.checks.anchors.tokens, 'checked');
      assert.equal(good.checks.anchors.newest?.seq, anchored);
      // the stored token is a real RFC 3161 token over SHA-256 of the documented head statement
      const a = await latestAnchor(t.db);
      assert.equal(headStatement(a!.seq, a!.hash).toString('utf8'), `postkasse-audit-head\n${a!.seq}\n${a!.hash}`);
      assert.ok(verifyTimestampToken(a!.token, headImprint(a!.seq, a!.hash), [tsa.caPem]).ok);
      // … and with openssl alone, by the recipe of docs/operations.md
      const tokenFile = join(t.dataDir, 'head-token.der');
      writeFileSync(tokenFile, a!.token);
      const recipe = `DIGEST=$(printf 'postkasse-audit-head\\n%s\\n%s' "$SEQ" "$HASH" | openssl dgst -sha256 -r | cut -d' ' -f1)
        openssl ts -verify -digest "$DIGEST" -in head-token.der -token_in -CAfile "$CA"`;
      const out = execFileSync('sh', ['-c', recipe], {
        cwd: t.dataDir,
        env: { ...process.env, SEQ: String(a!.seq), HASH: a!.hash, CA: tsa.caFile },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      assert.match(out, /Verification: OK/);

      // the rewriter stole the key: every HMAC is valid again …
      await rewrite(t, rs[1]!.seq, { part: 'plan', i: 2, forged: true }, { key: t.auditKey!.key });
      const db = await verifyAuditChain(t.db, { key: t.auditKey! });
      assert.ok(db.ok, 'links, hashes, macs and the anchors as recorded in the database all agree again');
      assert.equal(db.checks.anchors.tokens, 'not-checked');
      // … but the token over the head no longer covers the entry at the anchored seq, with or without the key
      for (const key of [t.auditKey!, undefined]) {
        const v = await verifyAuditChain(t.db, { ...(key ? { key } : {}), tokens: tokens() });
        assert.ok(!v.ok);
        assert.equal(v.brokenAt, anchored);
        assert.match(v.reason, /timestamp token of the head anchored at seq \d+ .* does not verify .* rewritten at or before seq/);
      }
      const now = await t.db.selectFrom('audit_anchors').select('hash').where('seq', '=', anchored).executeTakeFirstOrThrow();
      assert.notEqual(now.hash, rs[3]!.hash, 'the anchor row was moved along; the token over the old hash was not');
    });

    it('issue 15: an anchored entry that is gone (a truncated tail) is caught', async () => {
      const anchored = (await latestAnchor(t.db))!.seq;
      await asAttacker(t, () =>
        t.db
          .deleteFrom('audit_log')
          .where('seq', '>=', anchored - 1)
          .execute(),
      );
      const v = await verifyAuditChain(t.db);
      assert.ok(!v.ok);
      assert.match(v.reason, /anchored entry at seq \d+ .* missing from the chain/);
    });
  });

  describe(`issue 15: a database written before the key (${d.name})`, () => {
    let t: TestDb;
    let key: AuditKey;
    before(async () => {
      t = await openTestDb(d, 'aplain', null);
      key = auditKeyFrom(randomBytes(32));
    });
    after(async () => {
      await t?.dispose();
    });

    it('issue 15: old entries keep verifying with plain SHA-256, the first keyed entry links to the last plain one', async () => {
      // what the gateway wrote before issue 15: plain SHA-256 links
      await assert.rejects(appendAudit(t.db, t, entry(0)), /without the audit key/);
      let prev = GENESIS_HASH;
      for (let i = 1; i <= 3; i++) {
        const e = entry(i);
        const hash = auditHash(prev, { ...e, caseId: e.caseId });
        await t.db
          .insertInto('audit_log')
          .values({
            at: e.at,
            actor: e.actor,
            action: e.action,
            case_id: e.caseId,
            details: JSON.stringify(e.details),
            prev_hash: prev,
            hash,
          })
          .execute();
        prev = hash;
      }
      const lastPlain = await t.db.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').executeTakeFirstOrThrow();
      assert.deepEqual(await startKeyedChain(t.db, t.dialect, key), { afterSeq: lastPlain.seq });
      const keyed = { dialect: t.dialect, auditKey: key };
      const k1 = await appendAudit(t.db, keyed, entry(4));
      await appendAudit(t.db, keyed, entry(5));
      const row = await t.db.selectFrom('audit_log').selectAll().where('seq', '=', k1.seq).executeTakeFirstOrThrow();
      assert.equal(row.prev_hash, lastPlain.hash);

      const v = await verifyAuditChain(t.db, { key });
      assert.ok(v.ok, JSON.stringify(v));
      assert.equal(v.count, 5);
      assert.deepEqual(v.checks.plain, { from: 1, to: lastPlain.seq });
      assert.deepEqual(v.checks.keyed, { from: k1.seq, to: k1.seq + 1, keyId: key.id, hmac: 'checked' });
      // a second start with the same key changes nothing; another key is refused, naming AUDIT_KEY_FILE
      assert.deepEqual(await startKeyedChain(t.db, t.dialect, key), { afterSeq: lastPlain.seq });
      const other = auditKeyFrom(randomBytes(32));
      await assert.rejects(
        startKeyedChain(t.db, t.dialect, other),
        new RegExp(`AUDIT_KEY_FILE: .*keyed with key ${key.id}.*holds key ${other.id}`),
      );
      const wrong = await verifyAuditChain(t.db, { key: other });
      assert.ok(!wrong.ok);
      assert.match(wrong.reason, /not the key the chain is keyed with/);
    });

    it('issue 15: a rewrite of the plain part with recomputed SHA-256 is caught by the token, without the key', async () => {
      const anchored = await anchorHead(t);
      // the attacker recomputes every SHA-256 link from entry 2 on, but cannot recompute the keyed entries' macs …
      await rewrite(t, 2, { part: 'plan', i: 2, forged: true });
      const withKey = await verifyAuditChain(t.db, { key });
      assert.ok(!withKey.ok);
      assert.equal(withKey.brokenAt, 4, 'the first keyed entry: its prev_hash moved, its mac did not');
      assert.match(withKey.reason, /HMAC/);
      // … without the key only the links and plain hashes are checked — and the token at the anchored head
      const links = await verifyAuditChain(t.db);
      assert.ok(links.ok, 'links, hashes and the anchor rows are consistent again');
      const v = await verifyAuditChain(t.db, { tokens: tokens() });
      assert.ok(!v.ok);
      assert.equal(v.brokenAt, anchored);
      assert.match(v.reason, /timestamp token/);
    });
  });
}

/**
 * The downgrade a review found: instead of forging macs, strip them, and move the keyed chain's start (audit_chain)
 * past the changed entries, or delete it: every entry up to the start then passed as written before the key. Returns
 * the rewritten log's length.
 */
async function downgrade(t: TestDb, seq: number, o: { start: 'delete' | 'move' }): Promise<void> {
  await asAttacker(t, async () => {
    const last = await t.db.selectFrom('audit_log').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    const chain = await t.db.selectFrom('audit_chain').selectAll().executeTakeFirstOrThrow();
    await t.db.deleteFrom('audit_chain').execute();
    if (o.start === 'move')
      await t.db
        .insertInto('audit_chain')
        .values({ ...chain, after_seq: last.seq })
        .execute();
    await t.db.updateTable('audit_log').set({ mac: null }).execute();
  });
  await rewrite(t, seq, { part: 'plan', i: seq, forged: true });
}

for (const d of DIALECTS) {
  describe(`issue 15: the keyed chain's start is sealed (${d.name})`, () => {
    it('issue 15: macs stripped and the start deleted, or moved past them: caught with the key, and the gateway does not start on it', async () => {
      for (const start of ['delete', 'move'] as const) {
        const t = await openTestDb(d, `adown${start}`);
        try {
          const rs = [];
          for (let i = 1; i <= 4; i++) rs.push(await appendAudit(t.db, t, entry(i)));
          assert.ok((await verifyAuditChain(t.db, { key: t.auditKey! })).ok);
          await downgrade(t, rs[1]!.seq, { start });
          const v = await verifyAuditChain(t.db, { key: t.auditKey! });
          assert.ok(!v.ok, `${start}: the stripped chain must not pass with the key`);
          assert.match(
            v.reason,
            start === 'delete' ? /records no keyed chain \(audit_chain removed/ : /does not match its seal: audit_chain was altered/,
          );
          await assert.rejects(
            startKeyedChain(t.db, t.dialect, t.auditKey!),
            start === 'delete'
              ? /tampered with: the record of where the keyed chain begins is gone, while its seal remains/
              : /tampered with: the keyed chain's start \(after seq \d+\) does not match its seal/,
          );
        } finally {
          await t.dispose();
        }
      }
    });

    it('issue 15: a start deleted while the macs stay is named without the key; a seal deleted is named with it', async () => {
      const t = await openTestDb(d, 'aseal');
      try {
        const rs = [];
        for (let i = 1; i <= 3; i++) rs.push(await appendAudit(t.db, t, entry(i)));
        await asAttacker(t, () => t.db.deleteFrom('audit_chain_seal').execute());
        const noSeal = await verifyAuditChain(t.db, { key: t.auditKey! });
        assert.ok(!noSeal.ok);
        assert.equal(noSeal.brokenAt, 1);
        assert.match(noSeal.reason, /seal of the keyed chain's start \(after seq 0\) is gone/);
        await assert.rejects(startKeyedChain(t.db, t.dialect, t.auditKey!), /tampered with: the seal .* is gone/);
        await asAttacker(t, () => t.db.deleteFrom('audit_chain').execute());
        const noStart = await verifyAuditChain(t.db);
        assert.ok(!noStart.ok, 'without the key: entries carry macs, yet no start is recorded');
        assert.equal(noStart.brokenAt, rs[0]!.seq);
        assert.match(noStart.reason, /carries a mac, but the record of where the keyed chain begins is gone/);
      } finally {
        await t.dispose();
      }
    });

    it('issue 15: anchors deleted to hide a rewrite from a check without the key: the stretch without a timestamp is named', async () => {
      const t = await openTestDb(d, 'aunanch');
      try {
        const hour = 3_600_000;
        const base = Date.UTC(2027, 1, 1, 8);
        const rs = [];
        for (let i = 0; i < 5; i++) {
          rs.push(await appendAudit(t.db, t, { ...entry(i), at: new Date(base + i * hour).toISOString() }));
          await anchorHead(t);
        }
        const allowed = { tokens: tokens(), maxUnanchoredMs: 30 * 60_000 };
        assert.ok((await verifyAuditChain(t.db, allowed)).ok, 'every head anchored');
        await rewrite(t, rs[1]!.seq, { part: 'plan', i: 1, forged: true });
        await asAttacker(t, () => t.db.deleteFrom('audit_anchors').execute());
        assert.ok((await verifyAuditChain(t.db, { tokens: tokens() })).ok, 'links consistent and no token left: only the stretch tells');
        const v = await verifyAuditChain(t.db, allowed);
        assert.ok(!v.ok);
        assert.equal(v.brokenAt, rs[0]!.seq);
        assert.match(v.reason, /covered by no timestamp: 240 minutes of entries without an anchored head, more than the 30 allowed/);
        // a stretch within the limit (entries since the newest anchor, written minutes apart) passes
        await anchorHead(t);
        await appendAudit(t.db, t, { ...entry(9), at: new Date(base + 4 * hour + 60_000).toISOString() });
        await appendAudit(t.db, t, { ...entry(10), at: new Date(base + 4 * hour + 10 * 60_000).toISOString() });
        assert.ok((await verifyAuditChain(t.db, allowed)).ok);
      } finally {
        await t.dispose();
      }
    });
  });
}

describe(`issue 15: ${AUDIT_CHAIN_SEAL_MIGRATION} seals a chain keyed before it`, () => {
  const tmp = tempDir('aseal-upgrade');
  after(() => tmp.remove());

  it('issue 15: the gateway (holding the key) seals the existing start; opened without the key it stops, saying so', async () => {
    const key = auditKeyFrom(randomBytes(32));
    // a database as a gateway keyed it before 0015: the start recorded, unsealed, and keyed entries after it
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(join(tmp.dir, 'postkasse.db')) }) });
    try {
      const provider = createMigrationProvider('sqlite');
      const names = Object.keys(await provider.getMigrations()).sort();
      const r = await new Migrator({ db: old, provider }).migrateTo(names[names.indexOf(AUDIT_CHAIN_SEAL_MIGRATION) - 1]!);
      if (r.error) throw r.error as Error;
      await old.insertInto('audit_chain').values({ id: 1, after_seq: 0, key_id: key.id, created_at: at() }).execute();
      let prev: string | undefined;
      for (let i = 1; i <= 2; i++) {
        const e = entry(i);
        const row = chainedAuditRow(prev, { ...e, detailsJson: JSON.stringify(e.details) }, key.key);
        await old.insertInto('audit_log').values(row).execute();
        prev = row.hash;
      }
    } finally {
      await old.destroy();
    }
    await assert.rejects(
      openDatabase({ dataDir: tmp.dir }),
      /0015_audit_chain_seal: this database's audit chain is keyed; sealing its start needs the audit key \(AUDIT_KEY_FILE\)/,
    );
    await assert.rejects(openDatabase({ dataDir: tmp.dir, auditKey: auditKeyFrom(randomBytes(32)) }), /keyed with key .* holds key/);
    const db = await openDatabase({ dataDir: tmp.dir, auditKey: key });
    try {
      const v = await verifyAuditChain(db.db, { key });
      assert.ok(v.ok, JSON.stringify(v));
      assert.deepEqual(v.checks.keyed && [v.checks.keyed.from, v.checks.keyed.to, v.checks.keyed.hmac], [1, 2, 'checked']);
      await appendAudit(db.db, db, entry(3));
      assert.ok((await verifyAuditChain(db.db, { key })).ok);
    } finally {
      await db.close();
    }
  });
});

// both writer threads: SQLite's, and PostgreSQL's (the gateway's, issue 16)
for (const d of DIALECTS) {
  describe(`issue 15: the ${d.name === 'sqlite' ? 'SQLite' : 'PostgreSQL'} writer thread links with the key`, () => {
    const thread = d.url ? { pgWriterThread: true } : {};
    let t: TestDb;
    before(async () => {
      t = await openTestDb(d, 'athread', undefined, thread);
    });
    after(async () => {
      await t?.dispose();
    });

    it('issue 15: entries committed by the writer thread are HMAC links; without the key a commit with an audit entry fails whole', async () => {
      await appendAudit(t.db, t, entry(1));
      await t.writer.commit([{ audit: entry(2) }, { audit: entry(3) }]);
      const v = await verifyAuditChain(t.db, { key: t.auditKey! });
      assert.ok(v.ok, JSON.stringify(v));
      assert.equal(v.count, 3);
      assert.equal(v.checks.keyed?.hmac, 'checked');
      const rows = await t.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
      const last = rows[2]!;
      assert.equal(
        last.mac,
        auditHmac(t.auditKey!.key, last.prev_hash, {
          at: last.at,
          actor: last.actor,
          action: last.action,
          caseId: last.case_id,
          details: JSON.parse(last.details) as unknown,
        }),
      );

      const readOnly = await openDatabase({ url: d.url, dataDir: t.dataDir, ...(t.schema ? { schema: t.schema } : {}), ...thread });
      try {
        await assert.rejects(readOnly.writer.commit([{ audit: entry(4) }]), /without the audit key \(AUDIT_KEY_FILE\)/);
        assert.equal((await verifyAuditChain(t.db, { key: t.auditKey! })).ok && 3, 3);
      } finally {
        await readOnly.close();
      }
    });
  });
}

describe('issue 15: stamping the head', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb({ name: 'sqlite' }, 'astamp');
  });
  after(async () => {
    await t?.dispose();
  });

  it('issue 15: skips a head that has not moved, logs and retries a failed stamp, stamps once more at stop', async () => {
    let calls = 0;
    let failNext = false;
    const fake: HeadTimestamper = {
      stamp(sha256) {
        calls++;
        if (failNext) return Promise.reject(new Error('TSA down'));
        return Promise.resolve({
          tsaUrl: 'fake:',
          genTime: new Date(),
          serialNumber: String(calls),
          token: Buffer.concat([Buffer.from('tok'), sha256]),
        });
      },
    };
    const cap = logCapture();
    const s = createAuditStamper({ db: t.db, timestamper: fake, log: pino(cap.stream), intervalMs: 25 });
    assert.deepEqual(await s.stampNow(), { stamped: false, reason: 'empty' });
    const r1 = await appendAudit(t.db, t, entry(1));
    const first = await s.stampNow();
    assert.ok(first.stamped && first.seq === r1.seq);
    assert.deepEqual(await s.stampNow(), { stamped: false, reason: 'unchanged' });
    assert.equal(calls, 1, 'an unmoved head is not sent to the TSA');

    failNext = true;
    const r2 = await appendAudit(t.db, t, entry(2));
    assert.deepEqual(await s.stampNow(), { stamped: false, reason: 'failed' });
    assert.ok(cap.lines.some((l) => /audit head could not be timestamped/.test(l) && /TSA down/.test(l)));
    // the interval retries it by itself
    failNext = false;
    s.start();
    for (let i = 0; i < 200 && (await latestAnchor(t.db))?.seq !== r2.seq; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await latestAnchor(t.db))?.seq, r2.seq);
    // shutdown: the last head is anchored before the database closes
    const r3 = await appendAudit(t.db, t, entry(3));
    const last = await s.stop();
    assert.ok(last.stamped && last.seq === r3.seq);
    const token = (await latestAnchor(t.db))!.token;
    assert.deepEqual(token.subarray(3), createHash('sha256').update(`postkasse-audit-head\n${r3.seq}\n${r3.hash}`).digest());
    keepForScan(cap.lines);
  });

  it('issue 15: starting stamps the head at once, so what a crash left unanchored does not wait an interval', async () => {
    const r = await appendAudit(t.db, t, entry(4));
    const s = createAuditStamper({ db: t.db, timestamper: stamper, log: quiet, intervalMs: 3_600_000 });
    s.start();
    try {
      for (let i = 0; i < 300 && (await latestAnchor(t.db))?.seq !== r.seq; i++) await new Promise((res) => setTimeout(res, 10));
      assert.equal((await latestAnchor(t.db))?.seq, r.seq, 'anchored without waiting the hour');
    } finally {
      await s.stop();
    }
  });
});

describe('issue 15: `audit verify` says what it checked', () => {
  const tmp = tempDir('acli');
  const dataDir = join(tmp.dir, 'data');
  const env = () => ({ DATA_DIR: dataDir, TSA_CA_FILE: tsa.caFile });
  const seqs: number[] = [];
  after(() => tmp.remove());

  before(async () => {
    const key = loadAuditKey({ dataDir, createIfMissing: true });
    assert.equal(statSync(join(dataDir, 'audit.key')).mode & 0o777, 0o600);
    const db = await openDatabase({ dataDir, auditKey: key });
    try {
      for (let i = 1; i <= 4; i++) seqs.push((await appendAudit(db.db, db, entry(i))).seq);
      const r = await createAuditStamper({ db: db.db, timestamper: stamper, log: quiet, intervalMs: 60_000 }).stampNow();
      assert.ok(r.stamped);
      seqs.push((await appendAudit(db.db, db, entry(5))).seq);
    } finally {
      await db.close();
    }
  });

  it('issue 15: reports links, HMACs and tokens checked, or which were not (--no-key)', async () => {
    const ok = await auditCommand(['audit', 'verify'], env());
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /^audit chain OK: 5 entries$/m);
    assert.match(ok.stdout, /links: 5 entries, each one's SHA-256 recomputed/);
    assert.match(ok.stdout, /HMAC: seq 1–5 recomputed with audit key [0-9a-f]{16}/);
    assert.match(ok.stdout, /anchored heads: 1 timestamp token\(s\) verified against .*ca\.pem; newest at seq 4/);
    assert.match(ok.stdout, /not anchored yet: entries after seq 4 \(up to 5\)/);
    const noKey = await auditCommand(['audit', 'verify', '--no-key'], env());
    assert.equal(noKey.code, 0);
    assert.match(noKey.stdout, /HMAC: seq 1–5 present but NOT recomputed \(no key: --no-key\)/);
    assert.match(noKey.stdout, /1 timestamp token\(s\) verified/);
  });

  it('issue 15: names the seq where it broke; a wrong key file is refused by the gateway and by verify', async () => {
    const db = await openDatabase({ dataDir });
    try {
      await sql`drop trigger audit_log_no_update`.execute(db.db);
      const row = await db.db.selectFrom('audit_log').selectAll().where('seq', '=', seqs[1]!).executeTakeFirstOrThrow();
      const forged = { at: row.at, actor: row.actor, action: row.action, caseId: row.case_id, details: { forged: true } };
      // the forger recomputes this entry's SHA-256 hash, and so moves the break to the next link …
      await db.db
        .updateTable('audit_log')
        .set({ details: '{"forged":true}', hash: auditHash(row.prev_hash, forged) })
        .where('seq', '=', seqs[1]!)
        .execute();
    } finally {
      await db.close();
    }
    const r = await auditCommand(['audit', 'verify'], env());
    assert.equal(r.code, 1);
    // … but not past the mac
    assert.match(r.stdout, new RegExp(`^audit chain BROKEN at seq ${seqs[1]}: HMAC does not match the entry`));
    assert.match(r.stdout, /checked before the break:\n {2}links: 1 entries/);
    const nk = await auditCommand(['audit', 'verify', '--no-key'], env());
    assert.equal(nk.code, 1);
    assert.match(nk.stdout, new RegExp(`^audit chain BROKEN at seq ${seqs[2]}: prev_hash does not match`));

    writeFileSync(join(dataDir, 'audit.key'), randomBytes(32).toString('base64') + '\n');
    const wrong = await auditCommand(['audit', 'verify'], env());
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /not the key the chain is keyed with/);
    await assert.rejects(
      openDatabase({ dataDir, auditKey: loadAuditKey({ dataDir, createIfMissing: false }) }),
      /AUDIT_KEY_FILE: this database's audit chain is keyed with key/,
    );
  });

  it('issue 15: under NODE_ENV=production a missing key file refuses, naming AUDIT_KEY_FILE', () => {
    assert.throws(
      () => loadAuditKey({ dataDir: join(tmp.dir, 'empty'), createIfMissing: false }),
      /AUDIT_KEY_FILE: .*audit\.key does not exist/,
    );
    assert.throws(
      () => loadAuditKey({ file: join(tmp.dir, 'nope.key'), dataDir, createIfMissing: true }),
      /AUDIT_KEY_FILE: .*nope\.key does not exist .*never generated/,
    );
  });
});
