/**
 * Routing end to end (issue 4): real gateway, real database, real Redis/BullMQ.
 * Complete cases reach one eligible person; the law's exclusions hold;
 * urgent cases go first; nobody eligible → unassigned for team leads;
 * a lost Redis is repaired by the reconciler; two instances assign once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dropQueueKeys, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { as, caseRow, events, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { stayFor, waitFor } from '../helpers/wait.js';

const assessment = (over: Record<string, unknown> = {}) => ({
  service: 'clinical-assessment',
  caseType: 'ressourceforloeb',
  documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
  ...over,
});
const cpr = () => `0101${String(50 + Math.floor(Math.random() * 49)).padStart(2, '0')}${String(1000 + Math.floor(Math.random() * 8999))}`;

describe('routing on one gateway (sqlite)', () => {
  let dir: string;
  let g: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-routing-'));
    g = await startTestGateway({
      dialect: 'sqlite',
      env: { PARTIES_FILE: writeRoutingParties(dir), HEALTH_PORT: '0', ROUTING_RECONCILE_INTERVAL_MS: '1000' },
    });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('routing: a complete case is assigned within seconds to an eligible coordinator and is in that worklist only', async () => {
    const { caseId } = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'A' } });
    const row = await settled(g, caseId, 5_000);
    assert.equal(row.state, 'assigned');
    assert.ok(['coord-anna', 'coord-bo'].includes(row.assigned_to!), `assigned to ${row.assigned_to}`);
    const mine = await as(g, row.assigned_to!).get('/v1/worklist');
    assert.equal(mine.status, 200);
    assert.ok(mine.body.items.some((i: { caseId: string }) => i.caseId === caseId));
    const other = row.assigned_to === 'coord-anna' ? 'coord-bo' : 'coord-anna';
    const theirs = await as(g, other).get('/v1/worklist');
    assert.ok(!theirs.body.items.some((i: { caseId: string }) => i.caseId === caseId));
    assert.equal((await events(g, caseId, 'assigned')).length, 1);
  });

  test('§21 stk. 2: an incomplete case is not routed; the completing supplement routes it', async () => {
    const citizen = { cpr: cpr(), name: 'B' };
    const first = await send(g, 'kommune-101', {
      citizen,
      documents: [{ part: 'cert', type: 'medical-certificate', mediaType: 'application/pdf' }],
    });
    await stayFor('routing of the incomplete case', 300, {
      happened: async () => {
        const r = await caseRow(g, first.caseId);
        return r.state !== 'awaiting-complete-case' || r.assigned_to !== null ? r : undefined;
      },
    });
    const before = await caseRow(g, first.caseId);
    assert.equal(before.state, 'awaiting-complete-case');
    assert.equal(before.assigned_to, null);
    await send(g, 'kommune-101', { supplementTo: first.caseId, citizen });
    const row = await settled(g, first.caseId);
    assert.equal(row.state, 'assigned');
  });

  test('§12 stk. 2: never to a coordinator whose ydernumre include the citizen’s GP', async () => {
    for (let i = 0; i < 4; i++) {
      const { caseId } = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'C' }, gp: { ydernummer: '012345' } });
      const row = await settled(g, caseId);
      assert.equal(row.assigned_to, 'coord-bo');
    }
  });

  test('§12 stk. 2: never to a coordinator among the treating clinicians', async () => {
    const { caseId } = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'D' }, treatingClinicians: [{ ydernummer: '012345' }] });
    assert.equal((await settled(g, caseId)).assigned_to, 'coord-bo');
  });

  test('§25 stk. 3: never to staff the agreement in force excludes (kbh-2026 excludes coord-x for 101)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'E' } })).caseId);
    for (const id of ids) assert.notEqual((await settled(g, id)).assigned_to, 'coord-x');
  });

  test('role: assessments go to specialists, coordinator services to coordinators of the municipality', async () => {
    const a = await send(g, 'kommune-147', assessment({ citizen: { cpr: cpr(), name: 'F' } }));
    assert.ok(['spec-eva', 'dual-dan'].includes((await settled(g, a.caseId)).assigned_to!));
    const c = await send(g, 'kommune-147', { citizen: { cpr: cpr(), name: 'G' } });
    assert.ok(['coord-x', 'dual-dan'].includes((await settled(g, c.caseId)).assigned_to!), 'coordinator serving 147');
  });

  test('§13 stk. 3: an assessment never goes to the citizen’s coordinator, unless the citizen’s consent is recorded', async () => {
    // Make dual-dan the coordinator of this citizen: a 147 coordinator case assigned to dan by the team lead.
    const citizen = { cpr: cpr(), name: 'H' };
    const coordCase = await send(g, 'kommune-147', { citizen });
    await settled(g, coordCase.caseId);
    const assigned = await as(g, 'lead-1').post(`/v1/cases/${coordCase.caseId}/assign`, { staffId: 'dual-dan' });
    assert.equal(assigned.status, 200, assigned.text);
    // Many assessments for the same citizen: none may go to dan (eva is the only other specialist).
    for (let i = 0; i < 3; i++) {
      const a = await send(g, 'kommune-147', assessment({ citizen }));
      assert.equal((await settled(g, a.caseId)).assigned_to, 'spec-eva');
    }
    // With the citizen's consent recorded (who, when, how) dan is eligible again: with eva loaded, dan gets one.
    const consent = { kind: 'same-specialist-as-coordinator', givenBy: 'the citizen', date: '2026-01-05', how: 'oral' };
    const got = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const a = await send(g, 'kommune-147', assessment({ citizen, consents: [consent] }));
      got.add((await settled(g, a.caseId)).assigned_to!);
    }
    assert.ok(got.has('dual-dan'), `with consent dan is eligible (got ${[...got].join(', ')})`);
  });

  test('nobody eligible: state unassigned, shown to team leads with the rules, logged and counted', async () => {
    // For 101: anna holds the GP's ydernummer (§12 stk. 2), coord-x is excluded by agreement (§25 stk. 3), so bo gets it.
    const { caseId } = await send(g, 'kommune-101', {
      citizen: { cpr: cpr(), name: 'I' },
      gp: { ydernummer: '012345' },
    });
    // make bo ineligible by a declared conflict after assignment
    const row = await settled(g, caseId);
    assert.equal(row.assigned_to, 'coord-bo');
    const conflict = await as(g, 'coord-bo').post(`/v1/cases/${caseId}/conflict`, { reason: 'I treat this citizen' });
    assert.equal(conflict.status, 202, conflict.text);
    const after = await waitFor('unassigned', async () => {
      const r = await caseRow(g, caseId);
      return r.state === 'unassigned' ? r : undefined;
    });
    assert.equal(after.assigned_to, null);
    const list = await as(g, 'lead-1').get('/v1/cases?state=unassigned');
    assert.equal(list.status, 200);
    const item = list.body.items.find((i: { caseId: string }) => i.caseId === caseId);
    assert.ok(item, 'team lead sees the unassigned case');
    const rules = new Set(item.routing.excluded.flatMap((x: { rules: { rule: string }[] }) => x.rules.map((r) => r.rule)));
    for (const r of ['§12 stk. 2', '§25 stk. 3', 'conflict']) assert.ok(rules.has(r), `rule ${r} reported`);
    assert.ok(g.logs.some((l) => l.includes('nobody is eligible') && l.includes(caseId)));
    const metrics = await (await fetch(`http://127.0.0.1:${g.gw.healthPort}/metrics`)).text();
    assert.match(metrics, /^postkasse_routing_unassigned_total [1-9]/m);
    assert.match(metrics, /^postkasse_cases_unassigned [1-9]/m);
    assert.match(metrics, /^postkasse_routing_assignment_seconds_count\{urgent="false"\} [1-9]/m);
    assert.match(metrics, /^postkasse_routing_queue_jobs\{state="wait"\} \d+/m);
    // a non-eligible person → 409 naming the rule (§12 stk. 2 is absolute)
    const refused = await as(g, 'lead-1').post(`/v1/cases/${caseId}/assign`, { staffId: 'coord-anna' });
    assert.equal(refused.status, 409);
    assert.match(refused.headers['content-type']!, /application\/problem\+json/);
    assert.deepEqual(refused.body.rules, ['§12 stk. 2']);
    // Nobody sets a rule aside: an override reason is no longer part of the API (422 naming it).
    const withReason = await as(g, 'lead-1').post(`/v1/cases/${caseId}/assign`, {
      staffId: 'coord-anna',
      overrideReason: 'GP is a colleague in the practice, not Anna',
    });
    assert.equal(withReason.status, 422, withReason.text);
    assert.equal(withReason.body.errors[0].path, '(root)');
    assert.match(withReason.body.errors[0].message, /overrideReason/);
    const conflictRefused = await as(g, 'lead-1').post(`/v1/cases/${caseId}/assign`, { staffId: 'coord-bo' });
    assert.equal(conflictRefused.status, 409, 'a declared conflict binds');
    assert.ok(conflictRefused.body.rules.includes('conflict'));
    assert.equal((await caseRow(g, caseId)).assigned_to, null);
  });

  test('§12 stk. 2 conflict: the case goes back to routing and never returns to the person who declared it', async () => {
    const { caseId } = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'J' } });
    const first = (await settled(g, caseId)).assigned_to!;
    const r = await as(g, first).post(`/v1/cases/${caseId}/conflict`, { reason: 'my neighbour' });
    assert.equal(r.status, 202, r.text);
    const second = await waitFor('reassignment', async () => {
      const row = await caseRow(g, caseId);
      return row.assigned_to !== null ? row : undefined;
    });
    assert.notEqual(second.assigned_to, first);
    assert.equal(second.routing_round, 1);
    const history = (await events(g, caseId)).map((e) => e.event);
    assert.deepEqual(
      history.filter((e) => e === 'assigned' || e === 'conflict-declared'),
      ['assigned', 'conflict-declared', 'assigned'],
    );
    // the first person no longer sees it
    assert.equal((await as(g, first).get(`/v1/cases/${caseId}`)).status, 404);
  });

  test('§21 stk. 3: urgent cases get BullMQ priority ahead of all others', async () => {
    const rq = g.gw.routingQueue!;
    await rq.worker.pause();
    try {
      const normal = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'K' } });
      const urgent = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'L' }, urgent: { reason: 'terminal' } });
      const normal2 = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'M' } });
      const jobs = await waitFor('three prioritised jobs', async () => {
        const j = await rq.queue.getJobs(['prioritized']);
        const mine = j.filter((x) => [normal.caseId, urgent.caseId, normal2.caseId].includes(x.data.caseId));
        return mine.length === 3 ? mine : undefined;
      });
      const prio = Object.fromEntries(jobs.map((j) => [j.data.caseId, j.opts.priority]));
      assert.equal(prio[urgent.caseId], 1);
      assert.equal(prio[normal.caseId], 2);
      assert.equal(prio[normal2.caseId], 2);
    } finally {
      void rq.worker.resume();
    }
  });

  test('bad input on routing endpoints: conflict without reason 422; assign to unknown staff 422; unknown state filter 422', async () => {
    const { caseId } = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'O' } });
    const who = (await settled(g, caseId)).assigned_to!;
    const noReason = await as(g, who).post(`/v1/cases/${caseId}/conflict`, { reason: '  ' });
    assert.equal(noReason.status, 422);
    assert.equal(noReason.body.errors[0].path, 'reason');
    const unknown = await as(g, 'lead-1').post(`/v1/cases/${caseId}/assign`, { staffId: 'nobody' });
    assert.equal(unknown.status, 422);
    const bad = await as(g, 'lead-1').get('/v1/cases?state=everything');
    assert.equal(bad.status, 422);
    assert.equal((await caseRow(g, caseId)).assigned_to, who, 'nothing changed');
  });
});

describe('routing without the fast path: only the outbox → BullMQ path (sqlite)', () => {
  let dir: string;
  let g: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-routing-slow-'));
    g = await startTestGateway({
      dialect: 'sqlite',
      env: { PARTIES_FILE: writeRoutingParties(dir), ROUTING_RECONCILE_INTERVAL_MS: '1000', ROUTING_FAST_PATH: 'off' },
    });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the routing job alone assigns a complete case', async () => {
    const { caseId } = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'S' } });
    assert.equal((await settled(g, caseId)).state, 'assigned');
  });

  test('Redis is not the truth: routing jobs flushed right after intake are re-created by the reconciler', async () => {
    const rq = g.gw.routingQueue!;
    await rq.worker.pause();
    const ids: string[] = [];
    try {
      for (let i = 0; i < 5; i++) ids.push((await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'N' } })).caseId);
      await waitFor('outbox relayed', async () => (await g.gw.db.db.selectFrom('outbox').select('id').execute()).length === 0);
      // The whole queue vanishes (as after a Redis restart without persistence).
      await dropQueueKeys(g.queuePrefix);
      assert.equal((await rq.queue.getJobs(['prioritized', 'wait'])).length, 0);
    } finally {
      void rq.worker.resume();
    }
    // Without the fast path only a job assigns; after the flush only the reconciler can have made them.
    for (const id of ids) assert.equal((await settled(g, id, 10_000)).state, 'assigned');
  });
});

describe('routing with two gateway instances on one PostgreSQL and one Redis', () => {
  let dir: string;
  let a: TestGateway;
  let b: TestGateway;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const queuePrefix = `t-${randomBytes(6).toString('hex')}`;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-routing2-'));
    const env = { PARTIES_FILE: writeRoutingParties(dir), QUEUE_PREFIX: queuePrefix };
    a = await startTestGateway({ dialect: 'postgres', schema, dataDir: join(dir, 'data'), env });
    // a routes its own receipts at once (fast path) as well; b only through the shared queue
    b = await startTestGateway({ dialect: 'postgres', schema, dataDir: join(dir, 'data'), env: { ...env, ROUTING_FAST_PATH: 'off' } });
  });
  after(async () => {
    await b?.gw.close();
    await a?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('exactly once: 40 cases posted to both instances are each assigned once', async () => {
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        send(i % 2 ? a : b, 'kommune-101', { citizen: { cpr: cpr(), name: 'P' } }).then((r) => r.caseId),
      ),
    );
    for (const id of ids) assert.equal((await settled(a, id, 15_000)).state, 'assigned');
    for (const id of ids) assert.equal((await events(a, id, 'assigned')).length, 1, `case ${id} assigned once`);
  });

  test('exactly once: both instances routing the same cases at the same moment assign each once (conditional update)', async () => {
    await Promise.all([a.gw.routingQueue!.worker.pause(), b.gw.routingQueue!.worker.pause()]);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 10; i++) ids.push((await send(b, 'kommune-101', { citizen: { cpr: cpr(), name: 'Q' } })).caseId);
      const outcomes = await Promise.all(ids.flatMap((id) => [a.gw.routing.route(id), b.gw.routing.route(id), a.gw.routing.route(id)]));
      assert.equal(outcomes.filter((o) => o.outcome === 'assigned').length, ids.length);
    } finally {
      void a.gw.routingQueue!.worker.resume();
      void b.gw.routingQueue!.worker.resume();
    }
    for (const id of ids) assert.equal((await events(a, id, 'assigned')).length, 1);
  });
});
