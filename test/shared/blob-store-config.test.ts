/**
 * Issue 16: BLOB_STORE and the S3_* variables — defaults, and a wrong value
 * stops start-up with a message naming the variable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

test('blob store config: the file store by default; S3 defaults when BLOB_STORE=s3', () => {
  assert.equal(loadConfig({}).BLOB_STORE, 'file');
  const c = loadConfig({ BLOB_STORE: 's3', S3_BUCKET: 'region-docs' });
  assert.equal(c.BLOB_STORE, 's3');
  assert.equal(c.S3_BUCKET, 'region-docs');
  assert.equal(c.S3_PREFIX, 'postkasse/');
  assert.equal(c.S3_REGION, 'eu-north-1');
  assert.equal(c.S3_ENDPOINT, undefined);
  assert.equal(c.S3_FORCE_PATH_STYLE, false);
  const d = loadConfig({
    BLOB_STORE: 's3',
    S3_BUCKET: 'b-1',
    S3_PREFIX: 'prod/docs/',
    S3_ENDPOINT: 'http://127.0.0.1:9000',
    S3_REGION: 'us-east-1',
    S3_FORCE_PATH_STYLE: 'true',
  });
  assert.deepEqual(
    [d.S3_PREFIX, d.S3_ENDPOINT, d.S3_REGION, d.S3_FORCE_PATH_STYLE],
    ['prod/docs/', 'http://127.0.0.1:9000', 'us-east-1', true],
  );
});

const bad: Array<[string, Record<string, string>, RegExp]> = [
  ['an unknown store', { BLOB_STORE: 'ftp' }, /BLOB_STORE is file or s3/],
  ['s3 without a bucket', { BLOB_STORE: 's3' }, /S3_BUCKET must be set with BLOB_STORE=s3/],
  ['a bucket name with upper case', { BLOB_STORE: 's3', S3_BUCKET: 'Docs' }, /S3_BUCKET must be a bucket name/],
  ['a prefix without its slash', { BLOB_STORE: 's3', S3_BUCKET: 'docs', S3_PREFIX: 'postkasse' }, /S3_PREFIX must be a key prefix/],
  ['an endpoint that is no URL', { BLOB_STORE: 's3', S3_BUCKET: 'docs', S3_ENDPOINT: 'minio:9000' }, /S3_ENDPOINT must be an http/],
  [
    'path style neither true nor false',
    { BLOB_STORE: 's3', S3_BUCKET: 'docs', S3_FORCE_PATH_STYLE: 'yes' },
    /S3_FORCE_PATH_STYLE is true or false/,
  ],
  ['a region with spaces', { BLOB_STORE: 's3', S3_BUCKET: 'docs', S3_REGION: 'eu north' }, /S3_REGION must be a region name/],
];
for (const [name, env, re] of bad) {
  test(`blob store config: ${name} stops start-up with a message naming the variable`, () => {
    assert.throws(
      () => loadConfig(env),
      (e) => e instanceof ConfigError && e.problems.some((p) => re.test(p)),
    );
  });
}
