/**
 * The receipt's inserts are compiled by Kysely once per shape and reused (src/storage/inserts.ts). A reused
 * statement must be exactly what Kysely compiles for the same rows, on both dialects, and must write them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql, type Insertable } from 'kysely';
import { createInsertCompiler } from '../../src/storage/inserts.js';
import type { OutboxTable } from '../../src/storage/schema.js';
import { DIALECTS, openTestDb } from './helpers.js';

const row = (i: number, extra: Partial<Insertable<OutboxTable>> = {}): Insertable<OutboxTable> => ({
  id: randomUUID(),
  topic: `topic-${i}`,
  job_id: `job-${i}`,
  payload: JSON.stringify({ i }),
  priority: i % 3,
  created_at: new Date(Date.UTC(2027, 0, 1, 0, 0, i)).toISOString(),
  ...extra,
});

for (const d of DIALECTS) {
  describe(`inserts compiled once per shape (${d.name})`, () => {
    let db: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      db = await openTestDb(d, 'inserts');
    });
    after(async () => {
      await db.dispose();
    });

    test('a reused statement is what Kysely compiles for the same rows: text and parameters', () => {
      const insert = createInsertCompiler(db.db);
      const batches = [
        [row(1)],
        [row(2)], // same shape: reused
        [row(3), row(4), row(5)], // three rows: a shape of its own
        [row(6), row(7), row(8)],
        [{ ...row(9), priority: undefined }], // an undefined column is left out, as Kysely leaves it out
        [{ ...row(10), priority: undefined }],
      ];
      for (const rows of batches) {
        const ours = insert('outbox', rows);
        const kysely = db.db.insertInto('outbox').values(rows).compile();
        assert.equal(ours.sql, kysely.sql);
        assert.deepEqual(ours.parameters, kysely.parameters);
      }
      // Buffers are plain values too (the receipt's body and signature)
      const receipt = { id: randomUUID(), body: Buffer.from('{"a":1}'), signature: Buffer.from([1, 2, 3]) };
      const r1 = insert('receipts', [{ ...receipt, package_row_id: 'p', case_id: 'c', sender_party_id: 's', created_at: 'now' }]);
      const r2 = insert('receipts', [{ ...receipt, package_row_id: 'q', case_id: 'd', sender_party_id: 't', created_at: 'later' }]);
      assert.equal(r1.sql, r2.sql);
      assert.deepEqual(r2.parameters, [receipt.id, receipt.body, receipt.signature, 'q', 'd', 't', 'later']);
    });

    test('rows of different columns, or a value Kysely compiles itself, are compiled by Kysely every time', () => {
      const insert = createInsertCompiler(db.db);
      const ragged = [row(1), { ...row(2), priority: undefined }];
      const ours = insert('outbox', ragged);
      const kysely = db.db.insertInto('outbox').values(ragged).compile();
      assert.equal(ours.sql, kysely.sql);
      assert.deepEqual(ours.parameters, kysely.parameters);
      // a Kysely expression as a value becomes SQL text, not a parameter
      const expr = { ...row(3), created_at: sql<string>`'2027-01-01'` };
      const withExpr = insert('outbox', [expr] as never);
      assert.match(withExpr.sql, /'2027-01-01'/);
      assert.equal(insert('outbox', [row(4)]).sql.includes("'2027-01-01'"), false, 'the expression did not become the shape’s text');
      assert.throws(() => insert('outbox', []), /no rows/);
    });

    test('what the reused statements write is what was given', async () => {
      const insert = createInsertCompiler(db.db);
      const rows = [row(11), row(12), row(13)];
      await db.db.executeQuery(insert('outbox', [rows[0]!]));
      await db.db.executeQuery(insert('outbox', [rows[1]!])); // the reused text
      await db.db.executeQuery(insert('outbox', [rows[2]!]));
      const stored = await db.db
        .selectFrom('outbox')
        .select(['id', 'topic', 'job_id', 'payload', 'priority', 'created_at'])
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .orderBy('topic')
        .execute();
      assert.deepEqual(stored, rows);
    });
  });
}
