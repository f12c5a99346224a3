/**
 * Benchmark child: the S3-compatible server of the `intakeS3` part, in a process of its own so that its CPU is
 * neither the load generator's nor the gateway's. It is the test suite's s3rver on loopback (test/helpers/s3.ts:
 * an ephemeral port, a temp directory, a fresh bucket, s3rver's own credentials), shared by the gateway child
 * (BLOB_STORE=s3) and the baseline child (BASELINE_S3_*), which write to the same bucket under different prefixes.
 *
 * Prints `{ "ready": true, "pid", "endpoint", "bucket", "region", "accessKeyId", "secretAccessKey" }` on stdout;
 * stops (removing its directory) on SIGTERM, SIGINT or when stdin closes.
 */
import { S3_CREDENTIALS, S3_REGION, startTestS3 } from '../test/helpers/s3.js';

const s3 = await startTestS3();
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), 3_000).unref();
  void s3.close().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.stdout.write(
  JSON.stringify({ ready: true, pid: process.pid, endpoint: s3.endpoint, bucket: s3.bucket, region: S3_REGION, ...S3_CREDENTIALS }) + '\n',
);
