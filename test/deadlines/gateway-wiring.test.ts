/**
 * The deadline lifecycle wired into the running gateway: a receipted package
 * gets its at-risk and overdue reminder jobs in the real BullMQ queue, and the
 * deadline metrics are served on the plain health port's /metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { waitFor } from '../helpers/wait.js';
import { planReminders } from '../../queues/deadline-reminders.js';
import { receiptSchema } from '../../src/receipts/schema.js';

describe('deadline reminders in the gateway', () => {
  let g: TestGateway;
  before(async () => {
    g = await startTestGateway({ dialect: 'sqlite', env: { HEALTH_PORT: '0' } });
  });
  after(async () => {
    await g?.close();
  });

  test('§21 stk. 1: a receipted case has delayed at-risk and overdue jobs for its deadline, with deterministic ids', async () => {
    const res = await postPackage(g, 'kommune-101', manifest(), [
      { name: 'plan', body: pdf('plan'), contentType: 'application/pdf', filename: 'plan.pdf' },
    ]);
    assert.equal(res.status, 201, res.text);
    const receipt = receiptSchema.parse(JSON.parse(res.text));
    assert.equal(receipt.clock.status, 'running');
    const expected = planReminders(receipt.caseId, receipt.clock, Date.now()).map((p) => p.jobId);
    assert.ok(expected.length >= 2, 'at-risk and overdue are planned');
    const queue = g.gw.reminders!.queue;
    // scheduled right after the commit (asynchronously)
    const ids = await waitFor(
      'the case’s reminder jobs',
      async () => {
        const jobs = await queue.getJobs(['delayed', 'waiting']);
        const ids = jobs.filter((j) => j.data.caseId === receipt.caseId).map((j) => j.id!);
        assert.ok(
          expected.every((id) => ids.includes(id)),
          `jobs so far: ${ids.join(', ') || 'none'}`,
        );
        return ids;
      },
      { timeoutMs: 5_000, everyMs: 50 },
    );
    assert.deepEqual([...ids].sort(), [...expected].sort());
  });

  test('/metrics on the health port carries the deadline gauges and process metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${g.gw.healthPort}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^# TYPE postkasse_cases_at_risk gauge$/m);
    assert.match(text, /^# TYPE postkasse_cases_overdue gauge$/m);
    // Process metrics carry our prefix once: postkasse_process_…, never postkasse_process_process_….
    assert.match(text, /^# TYPE postkasse_process_cpu_user_seconds_total counter$/m);
    assert.match(text, /^# TYPE postkasse_nodejs_heap_size_used_bytes gauge$/m);
    assert.doesNotMatch(text, /process_process_|process_nodejs_/);
  });
});
