import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeClock } from '../../src/deadlines/engine.js';
import { spawnCli as runCli } from './helpers.js';

describe('cli main', () => {
  it('answers an unknown command with the usage on stderr and exit code 2', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /unknown command "frobnicate"/);
    assert.match(r.stderr, /usage: npm run cli -- <command>/);
  });

  it('answers no command at all with the usage and exit code 2; help with exit code 0', async () => {
    const none = await runCli([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /usage:/);
    const help = await runCli(['help']);
    assert.equal(help.code, 0);
    for (const c of ['deadline', 'send', 'verify-receipt', 'audit verify']) assert.ok(help.stdout.includes(c), `help mentions ${c}`);
    const sendHelp = await runCli(['help', 'send']);
    assert.equal(sendHelp.code, 0);
    assert.match(sendHelp.stdout, /--manifest FILE/);
  });

  it('deadline: prints the clock a receipt would carry, as the engine computes it', async () => {
    const received = '2026-12-18T09:41:07.123Z';
    const r = await runCli(['deadline', '--service', 'ongoing-case-advice', '--received', received]);
    assert.equal(r.code, 0, r.stderr);
    const clock = JSON.parse(r.stdout) as { status: string; deadlines: Array<{ dueDate: string }> };
    // Received Friday 18 Dec 2026. The statutory 14 days end on 1 Jan 2027,
    // New Year's Day (a holiday) → the next day, 2 Jan, is a Saturday → the
    // first open day is Monday 4 Jan 2027.
    assert.equal(clock.status, 'running');
    assert.equal(clock.deadlines.length, 1);
    assert.equal(clock.deadlines[0]!.dueDate, '2027-01-04');
    // The CLI adds nothing of its own: no municipality given → no agreement.
    const engine = computeClock({
      service: 'ongoing-case-advice',
      urgent: false,
      receivedAt: received,
      startedAt: received,
      agreement: null,
    });
    assert.deepEqual(clock, engine.clock);
  });

  it('deadline: a bad argument is a usage error (exit 2)', async () => {
    const r = await runCli(['deadline', '--service', 'ongoing-case-advice', '--received', 'yesterday']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--received must be an ISO 8601 instant/);
  });
});
