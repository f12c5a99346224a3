/**
 * Kysely's Migrator lists the tables of every schema; a schema dropped by someone else at that moment
 * (another test file, another deployment) answered `3F000` and stopped a gateway's start (seen in CI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migrateRetryingForeignSchemaRace } from '../../src/storage/db.js';

const missing = (schema: string) => Object.assign(new Error(`schema "${schema}" does not exist`), { code: '3F000' });

test('a schema someone else dropped mid-migration is asked about again; our own missing schema is an error', async () => {
  let calls = 0;
  const applied = await migrateRetryingForeignSchemaRace(() => {
    calls++;
    return calls < 3 ? Promise.reject(missing('t_other_0123')) : Promise.resolve(['0001_initial']);
  }, 't_mine_4567');
  assert.deepEqual(applied, ['0001_initial']);
  assert.equal(calls, 3);

  calls = 0;
  await assert.rejects(
    migrateRetryingForeignSchemaRace(() => {
      calls++;
      return Promise.reject(missing('t_mine_4567'));
    }, 't_mine_4567'),
    /t_mine_4567/,
  );
  assert.equal(calls, 1, 'our own schema missing is not retried');
  await assert.rejects(
    migrateRetryingForeignSchemaRace(() => Promise.reject(Object.assign(new Error('syntax'), { code: '42601' })), undefined),
    /syntax/,
  );
  calls = 0;
  await assert.rejects(
    migrateRetryingForeignSchemaRace(() => {
      calls++;
      return Promise.reject(missing('t_other_0123'));
    }, 't_mine_4567'),
  );
  assert.equal(calls, 5, 'at most five attempts');
});
