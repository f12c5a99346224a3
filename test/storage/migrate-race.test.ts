/**
 * Several gateways (or test files) share one PostgreSQL database, each in its own schema. Kysely's own
 * introspector lists the tables of every schema, so a table or schema dropped elsewhere at that moment
 * failed a gateway's migration at start-up (3F000, and 42P01 "relation … does not exist": seen in CI).
 * The gateway's introspector (src/storage/introspector.ts) looks at its own schema only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import { OwnSchemaPostgresDialect } from '../../src/storage/introspector.js';
import { DIALECTS, openTestDb } from './helpers.js';

const url = DIALECTS.find((d) => d.url)!.url!;
const tag = randomBytes(4).toString('hex');

/** Another tenant of the database: creates a schema with tables, drops a table, drops the schema, over and over. */
function churn(): { stop(): Promise<void>; rounds(): number } {
  const client = new pg.Client({ connectionString: url });
  let stopping = false;
  let rounds = 0;
  const done = (async () => {
    await client.connect();
    while (!stopping) {
      const s = `t_churn_${tag}_${rounds++ % 3}`;
      await client.query(
        `create schema if not exists ${s}; create table ${s}.a (id serial primary key, x text); create table ${s}.b (id int)`,
      );
      await client.query(`drop table ${s}.a`);
      await client.query(`drop schema ${s} cascade`);
    }
    await client.end();
  })();
  return {
    async stop() {
      stopping = true;
      await done;
    },
    rounds: () => rounds,
  };
}

const poolFor = (schema: string) => new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` });

describe('migrations while other schemas of the same database come and go', () => {
  const schema = `t_introspect_${tag}`;
  let admin: pg.Client;
  before(async () => {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(
      `create schema ${schema}; create table ${schema}.things (id serial primary key, label text not null, n int default 3)`,
    );
    await admin.query(`comment on column ${schema}.things.label is 'what it is'`);
  });
  after(async () => {
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
  });

  test('the churn is real: Kysely’s own introspector fails on a table or schema dropped elsewhere', async () => {
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: poolFor(schema) }) });
    const other = churn();
    let failure: { code?: string } | undefined;
    const until = Date.now() + 15_000;
    try {
      while (!failure && Date.now() < until) await db.introspection.getTables().catch((e: { code?: string }) => (failure = e));
    } finally {
      await other.stop();
      await db.destroy();
    }
    assert.ok(failure, `no failure in 15 s of churn (${other.rounds()} rounds): this test would prove nothing`);
    assert.match(String(failure.code), /^(3F000|42P01)$/);
  });

  test('the gateway’s introspector sees its own schema only, and never fails on another’s', async () => {
    const db = new Kysely<unknown>({ dialect: new OwnSchemaPostgresDialect({ pool: poolFor(schema) }) });
    const other = churn();
    try {
      for (let i = 0; i < 150; i++) {
        const tables = await db.introspection.getTables();
        assert.deepEqual(
          tables.map((t) => [t.schema, t.name]),
          [[schema, 'things']],
        );
      }
      assert.ok(other.rounds() > 3, 'the other schema came and went meanwhile');
      const [things] = await db.introspection.getTables();
      assert.deepEqual(
        things!.columns.map((c) => [c.name, c.dataType, c.isNullable, c.hasDefaultValue, c.isAutoIncrementing, c.comment]),
        [
          ['id', 'int4', false, true, true, undefined],
          ['label', 'text', false, false, false, 'what it is'],
          ['n', 'int4', true, true, false, undefined],
        ],
      );
      assert.deepEqual(await db.introspection.getSchemas(), [{ name: schema }]);
    } finally {
      await other.stop();
      await db.destroy();
    }
  });

  test('gateways open and migrate their own schemas while another tenant drops tables and schemas', async () => {
    const other = churn();
    try {
      const opened = await Promise.all(
        [1, 2, 3].map(() =>
          openTestDb(
            DIALECTS.find((d) => d.url)!,
            'race',
          ),
        ),
      );
      for (const db of opened) {
        const tables = await db.db.introspection.getTables();
        assert.ok(tables.some((t) => t.name === 'cases' && t.schema === db.schema));
        assert.ok(!tables.some((t) => t.name === 'kysely_migration'), 'Kysely’s own tables only when asked for');
        await db.dispose();
      }
    } finally {
      await other.stop();
    }
  });
});
