/**
 * Deadline reminders (issue 3) on real Redis (BullMQ, own key prefix per run)
 * and real SQLite / PostgreSQL: the plan (pure), at-risk and overdue jobs that
 * fire and mark the case, jobs that find their reminder no longer applies,
 * reconcile after Redis lost its data, idempotent scheduling, and a close()
 * that leaves no Redis connection behind.
 *
 * Time: the service and the reminders share a fake clock that runs at real
 * speed from a chosen instant, so a job due "in 400 ms" really fires then.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import type { Db } from '../../src/storage/db.js';
import { createLogger } from '../../src/shared/logger.js';
import { computeClock } from '../../src/deadlines/engine.js';
import type { Service } from '../../src/deadlines/types.js';
import { createDeadlineService, type CaseClock, type DeadlineService } from '../../src/deadlines/service.js';
import { createDeadlineMetrics, type DeadlineMetrics } from '../../src/deadlines/metrics.js';
import {
  atRiskInstant,
  createDeadlineReminders,
  planReminders,
  reminderJobId,
  type DeadlineReminders,
  type ProcessResult,
} from '../../queues/deadline-reminders.js';
import { DIALECTS, openTestDb } from '../storage/helpers.js';
import { logCapture } from '../helpers/logs.js';
import { stayFor, waitFor } from '../helpers/wait.js';
import { agreementsOf } from '../helpers/agreements.js';

const REDIS = { host: process.env.TEST_REDIS_HOST ?? '127.0.0.1', port: Number(process.env.TEST_REDIS_PORT ?? 6379) };
const RECEIVED = '2027-01-04T09:00:00.000Z'; // Monday 4 January 2027
// ongoing-case-advice (§22): due Monday 18 January 2027, 23:59:59.999 local.
const DUE_AT = '2027-01-18T22:59:59.999Z';
// 3 working days before Monday 18 Jan is Wednesday 13 Jan; 00:00 local (CET) is 23:00 UTC the day before.
const AT_RISK = '2027-01-12T23:00:00.000Z';

async function insertCase(db: Db, service: Service = 'ongoing-case-advice', receivedAt = RECEIVED): Promise<string> {
  const id = randomUUID();
  const { clock } = computeClock({ service, urgent: false, receivedAt, startedAt: receivedAt, agreement: null });
  await db.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('cases')
      .values({
        id,
        sender_party_id: 'kommune-101',
        municipality_code: '101',
        service,
        case_type: 'test',
        urgent: 0,
        state: 'received',
        complete: 1,
        received_at: receivedAt,
        clock_started_at: receivedAt,
        agreement_id: null,
        citizen_ref: 'ref-test',
        gp_ydernummer: null,
        treating_clinicians: '[]',
        consents: '{}',
        manifest_enc: Buffer.from([1]),
        clock: JSON.stringify(clock),
        assigned_to: null,
        created_at: receivedAt,
        updated_at: receivedAt,
      })
      .execute();
    await trx
      .insertInto('case_events')
      .values([
        { case_id: id, at: receivedAt, event: 'received', actor: 'kommune-101', data: '{}' },
        {
          case_id: id,
          at: receivedAt,
          event: 'clock-started',
          actor: 'kommune-101',
          data: JSON.stringify({ at: receivedAt, deadlines: clock.deadlines }),
        },
      ])
      .execute();
  });
  return id;
}

/** Removes every key of a test queue, whatever state its users left it in. */
async function purge(prefix: string): Promise<void> {
  const q = new Queue('deadline-reminders', { connection: { ...REDIS, maxRetriesPerRequest: null }, prefix });
  try {
    await q.obliterate({ force: true });
  } finally {
    await q.close();
  }
}

const runningClock = (deadlines: { kind: string; dueDate: string; dueAt: string }[], flags?: CaseClock['flags']): CaseClock => ({
  status: 'running',
  startedAt: RECEIVED,
  deadlines: deadlines.map((d) => ({ ...d, rule: '§22', source: 'default' })),
  ...(flags ? { flags } : {}),
});

describe('reminder plan (pure)', () => {
  const st = [{ kind: 'statement', dueDate: '2027-01-18', dueAt: DUE_AT }];
  const id = 'c0ffee00-0000-4000-8000-000000000001';

  test('at-risk at 00:00 local 3 working days before the due date, overdue 1 ms after dueAt; ids carry case, kind, type and due instant without ":"', () => {
    const now = Date.parse('2027-01-05T12:00:00.000Z');
    const plan = planReminders(id, runningClock(st), now);
    assert.deepEqual(
      plan.map((p) => [p.jobId, new Date(p.runAt).toISOString(), p.delay, p.data]),
      [
        [
          `${id}|statement|at-risk|2027-01-18T225959.999Z`,
          AT_RISK,
          Date.parse(AT_RISK) - now,
          { caseId: id, kind: 'statement', type: 'at-risk', dueAt: DUE_AT },
        ],
        [
          `${id}|statement|overdue|2027-01-18T225959.999Z`,
          '2027-01-18T23:00:00.000Z',
          Date.parse('2027-01-18T23:00:00.000Z') - now,
          { caseId: id, kind: 'statement', type: 'overdue', dueAt: DUE_AT },
        ],
      ],
    );
    for (const p of plan) assert.ok(!p.jobId.includes(':'), p.jobId);
    assert.equal(reminderJobId(id, 'attest', 'overdue', '2027-04-12T21:59:59.999Z'), `${id}|attest|overdue|2027-04-12T215959.999Z`);
  });

  test('working days skip weekends and Easter; summer time shifts local midnight to 22:00 UTC; the number of days is configurable', () => {
    // Tue 30 Mar 2027: Easter Monday 29, Good Friday 26 and Maundy Thursday 25 are closed → Wed 24, Tue 23, Mon 22 (CET).
    assert.equal(new Date(atRiskInstant('2027-03-30', 3)).toISOString(), '2027-03-21T23:00:00.000Z');
    // Mon 12 Apr 2027 (CEST): Fri 9, Thu 8, Wed 7 → 00:00 CEST on 7 April.
    assert.equal(new Date(atRiskInstant('2027-04-12', 3)).toISOString(), '2027-04-06T22:00:00.000Z');
    // 1 working day before Mon 18 Jan is Fri 15 Jan.
    assert.equal(new Date(atRiskInstant('2027-01-18', 1)).toISOString(), '2027-01-14T23:00:00.000Z');
    const plan = planReminders(id, runningClock(st), Date.parse('2027-01-05T12:00:00.000Z'), 1);
    assert.equal(new Date(plan[0]!.runAt).toISOString(), '2027-01-14T23:00:00.000Z');
  });

  test('past instants run now; no at-risk once the deadline passed; recorded reminders and stopped clocks plan nothing', () => {
    const between = Date.parse('2027-01-14T10:00:00.000Z');
    assert.deepEqual(
      planReminders(id, runningClock(st), between).map((p) => [p.data.type, p.delay]),
      [
        ['at-risk', 0],
        ['overdue', Date.parse('2027-01-18T23:00:00.000Z') - between],
      ],
    );
    const late = Date.parse('2027-01-20T10:00:00.000Z');
    assert.deepEqual(
      planReminders(id, runningClock(st), late).map((p) => [p.data.type, p.delay]),
      [['overdue', 0]],
    );
    const atRiskFlag = { type: 'at-risk' as const, kind: 'statement', dueAt: DUE_AT, at: AT_RISK };
    assert.deepEqual(
      planReminders(id, runningClock(st, [atRiskFlag]), between).map((p) => p.data.type),
      ['overdue'],
    );
    assert.deepEqual(planReminders(id, runningClock(st, [{ ...atRiskFlag, type: 'overdue' }]), late), []);
    assert.deepEqual(planReminders(id, { ...runningClock(st), status: 'stopped', outcome: 'met', daysLate: 0 }, between), []);
    // A flag for another due instant (before an extension) does not suppress the new deadline's reminders.
    const extended = [{ kind: 'statement', dueDate: '2027-02-01', dueAt: '2027-02-01T22:59:59.999Z' }];
    assert.deepEqual(
      planReminders(id, runningClock(extended, [atRiskFlag]), between).map((p) => p.data.type),
      ['at-risk', 'overdue'],
    );
  });
});

for (const d of DIALECTS) {
  describe(`deadline reminders (${d.name}, BullMQ on Redis)`, () => {
    const prefix = `t-rem-${randomBytes(5).toString('hex')}`;
    let t: Awaited<ReturnType<typeof openTestDb>>;
    let svc: DeadlineService;
    let rem: DeadlineReminders;
    let metrics: DeadlineMetrics;
    let registry: Registry;
    let offset = 0;
    const now = () => new Date(Date.now() + offset);
    /** The fake clock reads `iso` now and then runs on at real speed. */
    const setNow = (iso: string) => {
      offset = Date.parse(iso) - Date.now();
    };
    const cap = logCapture();
    const outcomes: { id: string; result: ProcessResult }[] = [];
    const log = createLogger({ destination: cap.stream, level: 'debug' });

    const outcomeOf = (jobId: string) => waitFor(`job ${jobId}`, () => outcomes.find((o) => o.id === jobId)?.result);
    const eventsOf = async (caseId: string) =>
      (
        await t.db.selectFrom('case_events').select(['event', 'at', 'actor', 'data']).where('case_id', '=', caseId).orderBy('id').execute()
      ).map((e) => ({
        ...e,
        data: JSON.parse(e.data) as Record<string, unknown>,
      }));
    const clockColumn = async (caseId: string) =>
      JSON.parse((await t.db.selectFrom('cases').select('clock').where('id', '=', caseId).executeTakeFirstOrThrow()).clock) as CaseClock;
    const delayedIds = async (caseId?: string) =>
      (await rem.queue.getDelayed(0, -1))
        .map((j) => j.id!)
        .filter((id) => !caseId || id.startsWith(caseId))
        .sort();
    const counter = async (type: string) => (await metrics.reminders.get()).values.find((v) => v.labels.type === type)?.value ?? 0;
    const gauge = async (g: 'atRisk' | 'overdue') => (await metrics[g].get()).values[0]?.value ?? 0;

    before(async () => {
      t = await openTestDb(d, 'reminders');
      registry = new Registry();
      metrics = createDeadlineMetrics(registry);
      svc = createDeadlineService({
        db: t,
        agreements: agreementsOf(() => []),
        log,
        now,
        onChange: (caseId) => rem.schedule(caseId).then(() => undefined),
      });
      rem = createDeadlineReminders({
        connection: REDIS,
        prefix,
        deadlines: svc,
        log,
        metrics,
        now,
        reconcileOnStart: false,
        reconcileIntervalMs: 0,
      });
      rem.worker.on('completed', (job, result) => outcomes.push({ id: job.id!, result }));
      await rem.worker.waitUntilReady();
    });
    after(async () => {
      await rem?.close();
      await purge(prefix);
      await purge(`${prefix}b`);
      await t?.dispose();
    });

    let atRiskCase = '';
    test('an at-risk job fires at its instant and marks the case: event, flag on the clock, log, metrics', async () => {
      atRiskCase = await insertCase(t);
      setNow(new Date(Date.parse(AT_RISK) - 400).toISOString());
      const ids = await rem.schedule(atRiskCase);
      const jAtRisk = reminderJobId(atRiskCase, 'statement', 'at-risk', DUE_AT);
      const jOverdue = reminderJobId(atRiskCase, 'statement', 'overdue', DUE_AT);
      assert.deepEqual(ids, [jAtRisk, jOverdue]);
      assert.deepEqual(await delayedIds(atRiskCase), [jAtRisk, jOverdue].sort());
      const job = await rem.queue.getJob(jAtRisk);
      assert.deepEqual(job!.data, { caseId: atRiskCase, kind: 'statement', type: 'at-risk', dueAt: DUE_AT }, 'job data carries ids only');

      assert.equal(await outcomeOf(jAtRisk), 'recorded');
      const evs = await eventsOf(atRiskCase);
      const ev = evs.at(-1)!;
      assert.equal(ev.event, 'deadline-at-risk');
      assert.equal(ev.actor, 'system:deadline-reminders');
      assert.ok(Date.parse(ev.at) >= Date.parse(AT_RISK), `recorded at ${ev.at}, not before ${AT_RISK}`);
      assert.deepEqual(ev.data, { kind: 'statement', rule: '§22', dueDate: '2027-01-18', dueAt: DUE_AT });
      const clock = await clockColumn(atRiskCase);
      assert.deepEqual(clock.flags, [{ type: 'at-risk', kind: 'statement', dueAt: DUE_AT, at: ev.at }]);
      assert.deepEqual((await svc.clockOf(atRiskCase)).clock, clock, 'the flag is recomputed from the events too');
      const line = cap.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'deadline at risk' && l.caseId === atRiskCase);
      assert.ok(line, 'logged');
      assert.equal(line.dueDate, '2027-01-18');
      assert.equal(await counter('at-risk'), 1);
      assert.equal(await gauge('atRisk'), 1);
      assert.equal(await gauge('overdue'), 0);
      // The overdue job waits; scheduling again plans only it.
      assert.deepEqual(await delayedIds(atRiskCase), [jOverdue]);
      assert.deepEqual(await rem.schedule(atRiskCase), [jOverdue]);
      const audit = await t.db.selectFrom('audit_log').select('action').where('case_id', '=', atRiskCase).execute();
      assert.deepEqual(
        audit.map((a) => a.action),
        ['deadline-at-risk'],
      );

      // Recording it again changes nothing, but repairs a clock column rewritten without the flag (e.g. by a writer that recomputes from the engine alone).
      const { flags: _f, ...bare } = clock;
      await t.db
        .updateTable('cases')
        .set({ clock: JSON.stringify(bare) })
        .where('id', '=', atRiskCase)
        .execute();
      const again = await svc.recordReminder(atRiskCase, { type: 'at-risk', kind: 'statement', dueAt: DUE_AT });
      assert.equal(again.outcome, 'already-recorded');
      assert.deepEqual(await clockColumn(atRiskCase), clock);
      assert.equal((await eventsOf(atRiskCase)).filter((e) => e.event === 'deadline-at-risk').length, 1);
    });

    let overdueCase = '';
    test('an overdue job fires 1 ms after dueAt (the at-risk one right away, being past its instant) and marks the case overdue', async () => {
      overdueCase = await insertCase(t);
      setNow(new Date(Date.parse(DUE_AT) - 300).toISOString());
      await rem.schedule(overdueCase);
      const jOverdue = reminderJobId(overdueCase, 'statement', 'overdue', DUE_AT);
      assert.equal(await outcomeOf(jOverdue), 'recorded');
      assert.equal(await outcomeOf(reminderJobId(overdueCase, 'statement', 'at-risk', DUE_AT)), 'recorded');
      const evs = await eventsOf(overdueCase);
      assert.deepEqual(
        evs.map((e) => e.event),
        ['received', 'clock-started', 'deadline-at-risk', 'deadline-overdue'],
      );
      assert.ok(Date.parse(evs[3]!.at) > Date.parse(DUE_AT), `overdue recorded at ${evs[3]!.at}, after ${DUE_AT}`);
      const clock = await clockColumn(overdueCase);
      assert.deepEqual(
        clock.flags?.map((f) => f.type),
        ['overdue'],
        'overdue supersedes at-risk',
      );
      assert.ok(cap.lines.some((l) => l.includes('"msg":"deadline overdue"') && l.includes(overdueCase) && l.includes('"level":40')));
      assert.equal(await counter('overdue'), 1);
      assert.equal(await counter('at-risk'), 2);
      assert.equal(await gauge('overdue'), 1);
      assert.equal(await gauge('atRisk'), 1, 'only the first case is at risk now');
      assert.deepEqual(await rem.schedule(overdueCase), [], 'nothing left to remind');
      const text = await registry.metrics();
      assert.match(text, /postkasse_deadline_reminders_total\{type="overdue"\} 1/);
      assert.match(text, /postkasse_cases_overdue 1/);
    });

    let extendedCase = '';
    test('an extension agreed before the job fires: the old job does nothing, the new due date gets its own jobs', async () => {
      extendedCase = await insertCase(t);
      setNow(new Date(Date.parse(AT_RISK) - 700).toISOString());
      await rem.schedule(extendedCase);
      const oldAtRisk = reminderJobId(extendedCase, 'statement', 'at-risk', DUE_AT);
      assert.ok((await delayedIds(extendedCase)).includes(oldAtRisk));
      const before = await counter('at-risk');
      await svc.agreeExtension(extendedCase, { dueDate: '2027-02-01', reason: 'scan pending', agreedWith: 'Jobcenter 101' }, 'coord-1');
      assert.equal(await outcomeOf(oldAtRisk), 'due-date-changed');
      assert.ok(!(await eventsOf(extendedCase)).some((e) => e.event.startsWith('deadline-')), 'no reminder recorded');
      assert.equal((await clockColumn(extendedCase)).flags, undefined);
      assert.equal(await counter('at-risk'), before);
      const newDue = '2027-02-01T22:59:59.999Z';
      // onChange rescheduled: jobs for the new due date exist next to the old overdue job (which will do nothing either).
      assert.deepEqual(
        await delayedIds(extendedCase),
        [
          reminderJobId(extendedCase, 'statement', 'at-risk', newDue),
          reminderJobId(extendedCase, 'statement', 'overdue', DUE_AT),
          reminderJobId(extendedCase, 'statement', 'overdue', newDue),
        ].sort(),
      );
    });

    let stoppedCase = '';
    test('a stopped clock or a case that is gone: the job does nothing', async () => {
      stoppedCase = await insertCase(t);
      setNow(new Date(Date.parse(AT_RISK) - 700).toISOString());
      await rem.schedule(stoppedCase);
      await svc.stopClock(stoppedCase, {}, 'coord-1');
      assert.equal(await outcomeOf(reminderJobId(stoppedCase, 'statement', 'at-risk', DUE_AT)), 'clock-not-running');
      assert.deepEqual(
        (await eventsOf(stoppedCase)).map((e) => e.event),
        ['received', 'clock-started', 'clock-stopped'],
      );

      const ghost = randomUUID();
      await rem.queue.add(
        'overdue',
        { caseId: ghost, kind: 'statement', type: 'overdue', dueAt: DUE_AT },
        { jobId: reminderJobId(ghost, 'statement', 'overdue', DUE_AT) },
      );
      assert.equal(await outcomeOf(reminderJobId(ghost, 'statement', 'overdue', DUE_AT)), 'case-gone');
      assert.deepEqual(await rem.schedule(ghost), []);

      // A closed case is not reminded.
      const closed = await insertCase(t);
      await t.db.updateTable('cases').set({ state: 'closed' }).where('id', '=', closed).execute();
      assert.deepEqual(await rem.schedule(closed), []);
      await rem.queue.add(
        'overdue',
        { caseId: closed, kind: 'statement', type: 'overdue', dueAt: DUE_AT },
        { jobId: reminderJobId(closed, 'statement', 'overdue', DUE_AT) },
      );
      assert.equal(await outcomeOf(reminderJobId(closed, 'statement', 'overdue', DUE_AT)), 'case-closed');

      // An at-risk job that runs only after the deadline passed (worker was down) leaves it to the overdue one.
      const late = await insertCase(t);
      setNow('2027-01-19T08:00:00.000Z');
      await rem.queue.add(
        'at-risk',
        { caseId: late, kind: 'statement', type: 'at-risk', dueAt: DUE_AT },
        { jobId: reminderJobId(late, 'statement', 'at-risk', DUE_AT) },
      );
      assert.equal(await outcomeOf(reminderJobId(late, 'statement', 'at-risk', DUE_AT)), 'superseded-by-overdue');
      assert.deepEqual(
        (await eventsOf(late)).map((e) => e.event),
        ['received', 'clock-started'],
      );
      await svc.stopClock(late, {}, 'coord-1'); // out of the way of the reconcile test below
      for (const id of [closed, late]) assert.ok(!(await eventsOf(id)).some((e) => e.event.startsWith('deadline-')));
    });

    test('an extension after the at-risk mark clears it: the flag belongs to the old due date', async () => {
      const id = await insertCase(t);
      setNow(new Date(Date.parse(AT_RISK) - 200).toISOString());
      await rem.schedule(id);
      assert.equal(await outcomeOf(reminderJobId(id, 'statement', 'at-risk', DUE_AT)), 'recorded');
      assert.equal(await gauge('atRisk'), 2);
      const r = await svc.agreeExtension(id, { dueDate: '2027-02-01', reason: 'r', agreedWith: 'a' }, 'coord-1');
      assert.equal(r.clock.flags, undefined);
      assert.equal((await clockColumn(id)).flags, undefined);
      assert.equal((await svc.clockOf(id)).clock.flags, undefined);
      await waitFor('the at-risk gauge to drop', async () => (await gauge('atRisk')) === 1);
      // The history keeps the reminder; the stopped clock takes this case out of the reconcile below.
      await svc.stopClock(id, {}, 'coord-1');
      assert.deepEqual(
        (await eventsOf(id)).map((e) => e.event),
        ['received', 'clock-started', 'deadline-at-risk', 'extension-agreed', 'clock-stopped'],
      );
    });

    test('the same schedule twice gives one job per reminder; a changed due date gives new ids', async () => {
      const id = await insertCase(t);
      setNow('2027-01-05T12:00:00.000Z');
      const a = await rem.schedule(id);
      const b = await rem.schedule(id);
      assert.deepEqual(a, b);
      assert.deepEqual(await delayedIds(id), [...a].sort());
      assert.equal((await rem.queue.getJobCounts('delayed', 'waiting')).waiting, 0);
      await svc.agreeExtension(id, { dueDate: '2027-01-29', reason: 'r', agreedWith: 'a' }, 'coord-1');
      await rem.schedule(id);
      const ids = await delayedIds(id);
      assert.equal(ids.length, 4, ids.join('\n'));
      assert.equal(new Set(ids).size, 4);
      assert.equal(ids.filter((x) => x.endsWith('2027-01-29T225959.999Z')).length, 2);
    });

    test('Redis lost its data: reconcile() re-creates the missing jobs from the database, idempotently, and resets the gauges', async () => {
      const fresh = await insertCase(t); // never scheduled
      setNow('2027-01-05T12:00:00.000Z');
      await rem.queue.obliterate({ force: true });
      assert.deepEqual(await delayedIds(), []);
      metrics.atRisk.set(42);
      const first = await rem.reconcile();
      const newDue = '2027-02-01T22:59:59.999Z';
      const expected = [
        reminderJobId(atRiskCase, 'statement', 'overdue', DUE_AT), // at-risk already recorded
        reminderJobId(extendedCase, 'statement', 'at-risk', newDue),
        reminderJobId(extendedCase, 'statement', 'overdue', newDue),
        reminderJobId(fresh, 'statement', 'at-risk', DUE_AT),
        reminderJobId(fresh, 'statement', 'overdue', DUE_AT),
      ];
      const all = await delayedIds();
      for (const id of expected) assert.ok(all.includes(id), `missing ${id}`);
      // No job for the overdue-flagged case, the stopped one, or the old due date of the extended one.
      assert.ok(!all.some((x) => x.startsWith(overdueCase) || x.startsWith(stoppedCase)), all.join('\n'));
      assert.ok(!all.includes(reminderJobId(extendedCase, 'statement', 'overdue', DUE_AT)));
      assert.equal(first.jobs, all.length);
      const second = await rem.reconcile();
      assert.deepEqual(second, first);
      assert.deepEqual(await delayedIds(), all, 'reconciling again adds nothing');
      assert.equal(await gauge('atRisk'), 1);
      assert.equal(await gauge('overdue'), 1);
      assert.ok(cap.lines.some((l) => l.includes('deadline reminders reconciled with the database')));
    });

    test('start-up and interval reconcile; close() stops the interval and closes every Redis connection it opened', async () => {
      const prefix2 = `${prefix}b`;
      const cap2 = logCapture();
      const r2 = createDeadlineReminders({
        connection: REDIS,
        prefix: prefix2,
        deadlines: svc,
        log: createLogger({ destination: cap2.stream }),
        now,
        reconcileIntervalMs: 60,
      });
      const spy = new Redis(REDIS);
      const names = async (p: string) =>
        String(await spy.client('LIST'))
          .split('\n')
          .map((l) => /name=(\S*)/.exec(l)?.[1] ?? '')
          .filter((n) => n.startsWith(`${p}:`));
      try {
        const runs = () => cap2.lines.filter((l) => l.includes('reconciled with the database')).length;
        const attempts = () => cap2.lines.filter((l) => /reconcile/i.test(l)).length;
        await waitFor('start-up reconcile and two more', () => runs() >= 3);
        assert.ok((await r2.queue.getDelayed()).length > 0, 'the start-up reconcile filled an empty queue');
        await r2.worker.waitUntilReady();
        assert.ok((await names(prefix2)).length >= 2, 'queue and worker connections are named after the prefix');
        await r2.close();
        await r2.close(); // idempotent
        const after = attempts();
        // four reconcile intervals of 60 ms
        await stayFor('a reconcile (or attempt) after close', 250, { happened: () => attempts() > after && cap2.lines.slice(-1) });
        assert.equal(attempts(), after, 'no reconcile (nor attempt) after close');
        await waitFor('connections of the closed instance to go', async () => (await names(prefix2)).length === 0, { timeoutMs: 3000 });

        assert.ok((await names(prefix)).length >= 2);
        await rem.close();
        await waitFor('connections of the test instance to go', async () => (await names(prefix)).length === 0, { timeoutMs: 3000 });
      } finally {
        await r2.close();
        spy.disconnect();
      }
    });
  });
}
