/**
 * Issue 15, "Personal data in clear in the database": the sealed fields
 * (src/storage/fields.ts) and migration 0012_sealed_fields, which seals what
 * an older database holds in clear. Both dialects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { openDatabase, type Db } from '../../src/storage/db.js';
import { OwnSchemaPostgresDialect } from '../../src/storage/introspector.js';
import { createMigrationProvider } from '../../src/storage/migrations.js';
import { SEALED_TEXT_PREFIX, clockContext, createFieldSealer, eventContext, fieldsOf } from '../../src/storage/fields.js';
import { SEALED_FIELDS_MIGRATION } from '../../src/storage/sealed-fields-migration.js';
import { createWorklistStore } from '../../src/worklist/store.js';
import { createRoutingStore } from '../../src/routing/store.js';
import { createConsentStore } from '../../src/consents/store.js';
import { createDeadlineStore } from '../../src/deadlines/store.js';
import { DIALECTS, newCase, tempDir, type DialectCase } from './helpers.js';
import { pgRowsAsText, sqliteBytes } from './sealed-fields-helpers.js';

const key = randomBytes(32);

describe('issue 15: sealed personal fields (unit)', () => {
  const f = createFieldSealer(key);

  test('a text value is sealed with a marker, opens to itself, and never holds the clear text', () => {
    const sealed = f.sealText('documents', 'title', 'doc-1', 'Journalnotat fra psykiater');
    assert.ok(sealed.startsWith(SEALED_TEXT_PREFIX));
    assert.ok(!sealed.includes('Journalnotat'));
    assert.notEqual(sealed, f.sealText('documents', 'title', 'doc-1', 'Journalnotat fra psykiater'), 'a fresh IV every time');
    assert.equal(f.openText('documents', 'title', 'doc-1', sealed), 'Journalnotat fra psykiater');
  });

  test('a sealed value moved to another row, column or key does not open (AAD binds it to its place)', () => {
    const sealed = f.sealText('documents', 'title', 'doc-1', 'x');
    assert.throws(() => f.openText('documents', 'title', 'doc-2', sealed), /documents\.title of row doc-2 does not open/);
    assert.throws(() => f.openText('consents', 'given_by', 'doc-1', sealed), /does not open/);
    const a = f.sealJson(eventContext('c1', 'conflict-declared', '2026-12-01T10:00:00.000Z'), JSON.stringify({ reason: 'r', round: 2 }));
    assert.throws(
      () => f.openJson(eventContext('c2', 'conflict-declared', '2026-12-01T10:00:00.000Z'), a),
      /"reason" in case_events\.data/,
    );
    // the sealed reason put under another personal key of the same row
    const swapped = JSON.stringify({ agreedWith: (JSON.parse(a) as { reason: unknown }).reason, round: 2 });
    assert.throws(() => f.openJson(eventContext('c1', 'conflict-declared', '2026-12-01T10:00:00.000Z'), swapped), /does not open/);
    const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.throws(() => f.openText('documents', 'title', 'doc-1', tampered), /does not open/);
    assert.throws(() => createFieldSealer(randomBytes(32)).openText('documents', 'title', 'doc-1', sealed), /does not open/);
  });

  test('JSON: only the personal keys are sealed, anywhere in the tree; the rest keeps its shape and order; opening gives the same text', () => {
    const clock = JSON.stringify({
      status: 'running',
      deadlines: [{ kind: 'statement', dueDate: '2027-02-01', extension: { reason: 'venter på journal', agreedWith: 'Sara, KK' } }],
    });
    const sealed = f.sealJson(clockContext('case-1'), clock);
    assert.ok(!sealed.includes('venter') && !sealed.includes('Sara'));
    const parsed = JSON.parse(sealed) as { status: string; deadlines: { dueDate: string; extension: Record<string, unknown> }[] };
    assert.equal(parsed.status, 'running');
    assert.equal(parsed.deadlines[0]!.dueDate, '2027-02-01');
    assert.deepEqual(Object.keys(parsed.deadlines[0]!.extension), ['reason', 'agreedWith']);
    assert.equal(f.openJson(clockContext('case-1'), sealed), clock);
    assert.equal(f.sealJson(clockContext('case-1'), sealed), sealed, 'sealing twice changes nothing');
    const plain = JSON.stringify({ date: '2027-01-04' });
    assert.equal(f.sealJson(eventContext('c', 'meeting-booked', 'x'), plain), plain, 'no personal key: stored as it is');
  });

  test('a clear value from before 0012 is read as it is; a handle without the key refuses to write or open a personal field', () => {
    assert.equal(f.openText('consents', 'given_by', 'id', 'borgeren'), 'borgeren');
    const keyless = fieldsOf({});
    assert.equal(keyless.openText('consents', 'given_by', 'id', 'borgeren'), 'borgeren');
    assert.throws(() => keyless.sealText('consents', 'given_by', 'id', 'borgeren'), /without the storage master key/);
    assert.throws(() => keyless.openText('consents', 'given_by', 'id', f.sealText('consents', 'given_by', 'id', 'x')), /master key/);
    assert.throws(() => keyless.sealJson(eventContext('c', 'e', 'a'), '{"reason":"x"}'), /master key/);
  });
});

/** A database as the gateway left it before 0012: every migration up to the one before, and personal fields in clear. */
async function openOldDatabase(d: DialectCase, dataDir: string, schema: string | undefined): Promise<Kysely<any>> {
  let db: Kysely<any>;
  if (d.name === 'sqlite') {
    db = new Kysely<any>({ dialect: new SqliteDialect({ database: new BetterSqlite3(join(dataDir, 'postkasse.db')) }) });
    await sql`pragma journal_mode = WAL`.execute(db);
  } else {
    const admin = new pg.Client({ connectionString: d.url });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    db = new Kysely<any>({
      dialect: new OwnSchemaPostgresDialect({
        pool: new pg.Pool({ connectionString: d.url, max: 2, options: `-c search_path=${schema}` }),
      }),
    });
  }
  const provider = createMigrationProvider(d.name);
  const names = Object.keys(await provider.getMigrations()).sort();
  const before = names[names.indexOf(SEALED_FIELDS_MIGRATION) - 1]!;
  const migrator = new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  const r = await migrator.migrateTo(before);
  if (r.error) throw r.error as Error;
  return db;
}

const marks = () => {
  const m = (what: string) => `${what}${randomBytes(6).toString('hex')}`;
  return {
    title: m('Titel-'),
    clinician: m('AUT'),
    consentGiver: m('Giver-'),
    municipalityReason: m('Kommunegrund-'),
    conflictReason: m('Konfliktgrund-'),
    extensionReason: m('Forlaengelse-'),
    agreedWith: m('Aftalt-med-'),
    legacyConsents: m('Gammelt-samtykke-'),
  };
};

for (const d of DIALECTS) {
  describe(`issue 15: migration ${SEALED_FIELDS_MIGRATION} seals what an older database holds in clear (${d.name})`, () => {
    const tmp = tempDir(`sealed-${d.name}`);
    const schema = d.url ? `t_sealed_${randomBytes(5).toString('hex')}` : undefined;
    const m = marks();
    const caseId = randomUUID();
    const ids = { pkg: randomUUID(), doc: randomUUID(), consent: randomUUID(), change: randomUUID() };
    const at = '2026-12-01T09:41:07.123Z';
    let db: Db | undefined;

    before(async () => {
      const old = await openOldDatabase(d, tmp.dir, schema);
      try {
        const clock = {
          status: 'running',
          deadlines: [{ kind: 'statement', extension: { reason: m.extensionReason, agreedWith: m.agreedWith } }],
        };
        await old
          .insertInto('cases')
          .values({
            ...newCase(caseId),
            treating_clinicians: JSON.stringify([{ authorisationId: m.clinician }]),
            consents: JSON.stringify({ gpDiscussion: { givenBy: m.legacyConsents } }),
            clock: JSON.stringify(clock),
          })
          .execute();
        await old
          .insertInto('packages')
          .values({
            id: ids.pkg,
            sender_party_id: 's',
            package_id: 'p',
            case_id: caseId,
            content_sha256: 'x',
            manifest_sha256: 'x',
            is_supplement: 0,
            received_at: at,
          })
          .execute();
        const doc = {
          case_id: caseId,
          package_row_id: ids.pkg,
          type: 'other',
          media_type: 'application/pdf',
          size: 1,
          sha256: 'x',
          blob_key: 'k',
          created_at: at,
        };
        await old
          .insertInto('documents')
          .values([
            { ...doc, id: ids.doc, part: 'a', title: m.title },
            { ...doc, id: randomUUID(), part: 'b', title: null },
          ])
          .execute();
        await old
          .insertInto('consents')
          .values({
            id: ids.consent,
            case_id: caseId,
            kind: 'gp-discussion',
            given_by: m.consentGiver,
            given_on: '2026-11-30',
            how: 'oral',
            document_part: null,
            recorded_by: 'coord-1',
            recorded_at: at,
          })
          .execute();
        await old
          .insertInto('coordinator_changes')
          .values({
            id: ids.change,
            municipality_code: '0101',
            requested_by: 'kommune-101',
            staff_id: 'coord-1',
            reason: m.municipalityReason,
            requested_at: at,
          })
          .execute();
        await old
          .insertInto('case_events')
          .values([
            {
              case_id: caseId,
              at,
              event: 'conflict-declared',
              actor: 'coord-1',
              data: JSON.stringify({ staffId: 'coord-1', reason: m.conflictReason, round: 1 }),
            },
            {
              case_id: caseId,
              at,
              event: 'extension-agreed',
              actor: 'coord-1',
              data: JSON.stringify({ kind: 'statement', dueDate: '2027-02-01', reason: m.extensionReason, agreedWith: m.agreedWith }),
            },
            { case_id: caseId, at, event: 'meeting-booked', actor: 'coord-1', data: JSON.stringify({ date: '2027-01-04' }) },
          ])
          .execute();
      } finally {
        await old.destroy();
      }
    });
    after(async () => {
      try {
        if (schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db!.db);
      } finally {
        await db?.close();
        tmp.remove();
      }
    });

    test('without the master key the migration stops and says why, and is not recorded as done', async () => {
      await assert.rejects(
        openDatabase({ url: d.url, dataDir: tmp.dir, schema }),
        /0012_sealed_fields: documents\.title holds personal data in clear.*master key/,
      );
    });

    test('with the key every personal field is sealed in its row, in clear nowhere (rows, SQLite file), and the stores read it back', async () => {
      db = await openDatabase({ url: d.url, dataDir: tmp.dir, schema, masterKey: key });
      const q = db.db;
      const c = await q.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
      assert.ok(c.treating_clinicians.startsWith(SEALED_TEXT_PREFIX));
      assert.ok(c.consents.startsWith(SEALED_TEXT_PREFIX));
      const docs = await q.selectFrom('documents').select(['id', 'title']).where('case_id', '=', caseId).execute();
      assert.ok(docs.find((x) => x.id === ids.doc)!.title!.startsWith(SEALED_TEXT_PREFIX));
      assert.equal(docs.find((x) => x.id !== ids.doc)!.title, null, 'no title stays null');
      const consent = await q.selectFrom('consents').select('given_by').where('id', '=', ids.consent).executeTakeFirstOrThrow();
      assert.ok(consent.given_by.startsWith(SEALED_TEXT_PREFIX));
      const change = await q.selectFrom('coordinator_changes').select('reason').where('id', '=', ids.change).executeTakeFirstOrThrow();
      assert.ok(change.reason.startsWith(SEALED_TEXT_PREFIX));
      const rows = await q.selectFrom('case_events').select(['event', 'data']).where('case_id', '=', caseId).orderBy('id').execute();
      assert.deepEqual(JSON.parse(rows[2]!.data), { date: '2027-01-04' }, 'an event without free text is left as it was');

      // Nothing of it in clear: every row of every table as text (PostgreSQL), or the file's bytes after the migration (SQLite).
      const haystack = d.name === 'sqlite' ? sqliteBytes(tmp.dir) : await pgRowsAsText(db, schema!);
      for (const [what, value] of Object.entries(m)) assert.ok(!haystack.includes(value), `${what} (${value}) is in clear in the database`);

      // ... and every read path gives it back
      const worklist = createWorklistStore(q);
      const details = await worklist.details(caseId);
      assert.deepEqual(details.documents.map((x) => x.title).sort(), [m.title, null].sort());
      const events = details.events.map((e) => JSON.parse(e.data) as Record<string, unknown>);
      assert.equal(events[0]!.reason, m.conflictReason);
      assert.deepEqual([events[1]!.reason, events[1]!.agreedWith], [m.extensionReason, m.agreedWith]);
      assert.equal((await worklist.latestDocument(caseId, 'a'))!.title, m.title);
      assert.equal(JSON.parse((await worklist.extensionEvents(caseId))[0]!.data).agreedWith, m.agreedWith);
      assert.equal((await worklist.consents(caseId))[0]!.given_by, m.consentGiver);
      assert.equal((await createConsentStore(q).list(caseId))[0]!.given_by, m.consentGiver);
      const routing = createRoutingStore(db);
      assert.deepEqual(JSON.parse((await routing.caseById(q, caseId))!.treating_clinicians), [{ authorisationId: m.clinician }]);
      assert.equal((await routing.coordinatorChanges('0101'))[0]!.reason, m.municipalityReason);
      const clock = JSON.parse((await createDeadlineStore(db).caseFields(q, caseId, false))!.clock);
      assert.deepEqual(clock.deadlines[0].extension, { reason: m.extensionReason, agreedWith: m.agreedWith });
      const opened = JSON.parse(fieldsOf(q).openText('cases', 'consents', caseId, c.consents));
      assert.equal(opened.gpDiscussion.givenBy, m.legacyConsents);
    });

    test('re-opened, the migration does not run again and the values stay sealed (exactly once)', async () => {
      const again = await openDatabase({ url: d.url, dataDir: tmp.dir, schema, masterKey: key });
      try {
        const names = (await sql<{ name: string }>`select name from kysely_migration`.execute(again.db)).rows.map((r) => r.name);
        assert.equal(names.filter((n) => n === SEALED_FIELDS_MIGRATION).length, 1);
        const t = await again.db.selectFrom('documents').select('title').where('id', '=', ids.doc).executeTakeFirstOrThrow();
        assert.equal(createFieldSealer(key).openText('documents', 'title', ids.doc, t.title!), m.title);
      } finally {
        await again.close();
      }
    });
  });
}
