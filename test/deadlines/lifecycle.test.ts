/**
 * The deadline lifecycle of a case (issue 3) on real SQLite and PostgreSQL:
 * §23 consultation, §22/§23 extension, §21 meeting, clock stop (met / missed
 * with days late), events in order, the clock recomputed from the events, and
 * the 422 / 404 problems the staff endpoints will answer with.
 *
 * Expected dates are written by hand (calendar of January–February 2027:
 * 1 Jan is a Friday, no other holidays until Easter).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/storage/db.js';
import { createLogger } from '../../src/shared/logger.js';
import { Problem } from '../../src/shared/problem.js';
import { computeClock } from '../../src/deadlines/engine.js';
import { toClockEvents } from '../../src/deadlines/events.js';
import { verifyAuditChain } from '../../src/audit/audit.js';
import type { Agreement, Service } from '../../src/deadlines/types.js';
import { createDeadlineService, type DeadlineService } from '../../src/deadlines/service.js';
import { DIALECTS, openTestDb } from '../storage/helpers.js';
import { clockContext, fieldsOf, openEventRow } from '../../src/storage/fields.js';
import { logCapture } from '../helpers/logs.js';
import { agreementsOf } from '../helpers/agreements.js';

const RECEIVED = '2027-01-04T09:00:00.000Z'; // Monday 4 January 2027, 10:00 local

const AGREEMENTS: Agreement[] = [
  {
    id: 'k101-2027',
    municipalityCode: '101',
    validFrom: '2027-01-01',
    validTo: null,
    deadlines: { urgent: 5, 'resource-course-conversation': 10 },
    rollForward: true,
    excludedStaff: [],
  },
  {
    id: 'spe-2027',
    partyId: 'spe',
    validFrom: '2027-01-01',
    validTo: null,
    deadlines: { 'senior-pension-assessment': 20 },
    rollForward: true,
    excludedStaff: [],
  },
];

interface CaseOpts {
  service: Service;
  urgent?: boolean;
  receivedAt?: string;
  complete?: boolean;
  agreementId?: string | null;
}

/** Inserts a case the way intake does: row with its computed clock, and the 'received' + 'clock-started' / 'awaiting-complete-case' events. */
async function insertCase(db: Db, o: CaseOpts): Promise<string> {
  const id = randomUUID();
  const receivedAt = o.receivedAt ?? RECEIVED;
  const complete = o.complete ?? true;
  const agreement = AGREEMENTS.find((a) => a.id === o.agreementId) ?? null;
  const { clock } = computeClock({
    service: o.service,
    urgent: !!o.urgent,
    receivedAt,
    startedAt: complete ? receivedAt : null,
    agreement,
  });
  await db.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('cases')
      .values({
        id,
        sender_party_id: 'kommune-101',
        municipality_code: '101',
        service: o.service,
        case_type: 'test',
        urgent: o.urgent ? 1 : 0,
        state: complete ? 'received' : 'awaiting-complete-case',
        complete: complete ? 1 : 0,
        received_at: receivedAt,
        clock_started_at: complete ? receivedAt : null,
        agreement_id: o.agreementId ?? null,
        citizen_ref: 'ref-test',
        gp_ydernummer: null,
        treating_clinicians: '[]',
        consents: '{}',
        manifest_enc: Buffer.from([1, 2, 3]),
        clock: JSON.stringify(clock),
        assigned_to: null,
        created_at: receivedAt,
        updated_at: receivedAt,
      })
      .execute();
    const events = [{ event: 'received', data: {} }];
    events.push(
      complete
        ? { event: 'clock-started', data: { at: receivedAt, deadlines: clock.deadlines } }
        : { event: 'awaiting-complete-case', data: {} },
    );
    await trx
      .insertInto('case_events')
      .values(events.map((e) => ({ case_id: id, at: receivedAt, event: e.event, actor: 'kommune-101', data: JSON.stringify(e.data) })))
      .execute();
  });
  return id;
}

/** The case's events as stored, their sealed free text opened (issue 15: sealed in the row). */
async function events(db: Db, caseId: string) {
  const rows = await db.db.selectFrom('case_events').selectAll().where('case_id', '=', caseId).orderBy('id').execute();
  return rows.map((r) => ({ ...r, data: JSON.parse(openEventRow(fieldsOf(db.db), caseId, r).data) as Record<string, unknown> }));
}

async function storedClock(db: Db, caseId: string): Promise<unknown> {
  const r = await db.db.selectFrom('cases').select('clock').where('id', '=', caseId).executeTakeFirstOrThrow();
  return JSON.parse(fieldsOf(db.db).openJson(clockContext(caseId), r.clock));
}

async function auditActions(db: Db, caseId: string): Promise<string[]> {
  const rows = await db.db.selectFrom('audit_log').select('action').where('case_id', '=', caseId).orderBy('seq').execute();
  return rows.map((r) => r.action);
}

/** Asserts a 422 Problem whose field errors have exactly these paths, each message matching. */
async function rejects422(p: Promise<unknown>, expected: Record<string, RegExp>): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof Problem, `expected a Problem, got ${String(e)}`);
    assert.equal(e.status, 422, e.message);
    assert.equal(e.type, 'https://postkasse.dk/problems/validation');
    const errs = e.errors ?? [];
    assert.deepEqual(errs.map((x) => x.path).sort(), Object.keys(expected).sort(), JSON.stringify(errs));
    for (const x of errs) assert.match(x.message, expected[x.path]!, `${x.path}: ${x.message}`);
    return true;
  });
}

async function rejects404(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof Problem && e.status === 404);
}

for (const d of DIALECTS) {
  describe(`deadline lifecycle (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    let svc: DeadlineService;
    let nowMs = Date.parse('2027-01-05T10:00:00.000Z');
    const setNow = (iso: string) => {
      nowMs = Date.parse(iso);
    };
    const cap = logCapture();
    const changed: string[] = [];
    let agreements: Agreement[] = [...AGREEMENTS];

    before(async () => {
      t = await openTestDb(d, 'lifecycle');
      svc = createDeadlineService({
        db: t,
        agreements: agreementsOf(() => agreements),
        log: createLogger({ destination: cap.stream, level: 'debug' }),
        now: () => new Date(nowMs),
        onChange: (id) => {
          changed.push(id);
        },
      });
    });
    after(async () => {
      await t?.dispose();
    });

    test('§23: a booked consultation recomputes the attest deadline — consultation leg, 30-day leg, and both warnings', async () => {
      const id = await insertCase(t, { service: 'clinical-assessment' });
      const start = await svc.clockOf(id);
      assert.deepEqual(
        start.clock.deadlines.map((x) => [x.kind, x.rule, x.dueDate]),
        [['attest', '§23', '2027-02-03']],
      );

      setNow('2027-01-05T10:00:00.000Z');
      // 10 Jan + 14 = Sunday 24 Jan → Monday 25 Jan, earlier than 3 Feb: the consultation leg governs.
      const r1 = await svc.bookConsultation(id, '2027-01-10', 'spec-1');
      assert.equal(r1.clock.status, 'running');
      assert.deepEqual(
        r1.clock.deadlines.map((x) => [x.kind, x.rule, x.dueDate, x.dueAt, x.source]),
        [['attest', '§23', '2027-01-25', '2027-01-25T22:59:59.999Z', 'default']],
      );
      assert.deepEqual(r1.warnings, []);
      assert.deepEqual(await storedClock(t, id), r1.clock);

      // Rebooked to 25 Jan: + 14 = 8 Feb is not earlier than 3 Feb → the 30-day leg governs, with a warning.
      setNow('2027-01-06T10:00:00.000Z');
      const r2 = await svc.bookConsultation(id, '2027-01-25', 'spec-1');
      assert.equal(r2.clock.deadlines[0]!.dueDate, '2027-02-03');
      assert.equal(r2.warnings.length, 1);
      assert.match(r2.warnings[0]!, /§23: the consultation on 2027-01-25 is booked so late .*2027-02-08.* 2027-02-03/);

      // Rebooked after the 30-day due date: the attest cannot be on time.
      setNow('2027-01-07T10:00:00.000Z');
      const r3 = await svc.bookConsultation(id, '2027-02-10', 'spec-1');
      assert.equal(r3.clock.deadlines[0]!.dueDate, '2027-02-03');
      assert.match(r3.warnings.join('\n'), /consultation on 2027-02-10 is after the 30-day due date 2027-02-03/);

      // The warnings are logged with the case id (and nothing else about the case).
      const warned = cap.lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.caseId === id && l.msg === 'deadline warning');
      assert.equal(warned.length, 2, JSON.stringify(warned));
      assert.match(String(warned[0]!.warning), /booked so late/);
      assert.match(String(warned[1]!.warning), /after the 30-day due date/);

      const evs = (await events(t, id)).filter((e) => e.event === 'consultation-booked');
      assert.deepEqual(
        evs.map((e) => [e.data.date, e.data.recomputedDueDate, e.actor]),
        [
          ['2027-01-10', '2027-01-25', 'spec-1'],
          ['2027-01-25', '2027-02-03', 'spec-1'],
          ['2027-02-10', '2027-02-03', 'spec-1'],
        ],
      );
      assert.deepEqual(await auditActions(t, id), ['consultation-booked', 'consultation-booked', 'consultation-booked']);
    });

    test('§29: a consultation in a senior-pension assessment is recorded; the agreed deadline does not move', async () => {
      const id = await insertCase(t, { service: 'senior-pension-assessment', agreementId: 'spe-2027' });
      setNow('2027-01-05T10:00:00.000Z');
      const r = await svc.bookConsultation(id, '2027-01-08', 'spec-2');
      // 4 Jan + 20 = Sunday 24 Jan → Monday 25 Jan, from the agreement.
      assert.deepEqual(
        r.clock.deadlines.map((x) => [x.kind, x.rule, x.dueDate, x.source]),
        [['attest', '§29', '2027-01-25', 'agreement:spe-2027']],
      );
      assert.equal((await events(t, id)).at(-1)!.event, 'consultation-booked');
    });

    test('a consultation is refused (422) outside §23/§27 services, before the clock starts, and with dates that are not real or precede receipt', async () => {
      const advice = await insertCase(t, { service: 'ongoing-case-advice' });
      await rejects422(svc.bookConsultation(advice, '2027-01-10', 'spec-1'), {
        service: /clinical-assessment and senior-pension-assessment/,
      });

      const waiting = await insertCase(t, { service: 'clinical-assessment', complete: false });
      await rejects422(svc.bookConsultation(waiting, '2027-01-10', 'spec-1'), { clock: /has not started.*§21 stk. 2/ });

      const ca = await insertCase(t, { service: 'clinical-assessment' });
      for (const bad of ['2027-1-10', '2027-02-29', '2027-13-01', 'next week', '', '2027-01-10T00:00:00Z']) {
        await rejects422(svc.bookConsultation(ca, bad, 'spec-1'), { date: /real date written YYYY-MM-DD/ });
      }
      await rejects422(svc.bookConsultation(ca, undefined as unknown as string, 'spec-1'), { date: /real date/ });
      // The receipt's local date is 4 Jan; 3 Jan is before it. Late on 3 Jan UTC is already 4 Jan locally, so 4 Jan itself is fine.
      await rejects422(svc.bookConsultation(ca, '2027-01-03', 'spec-1'), { date: /before the case was received \(2027-01-04\)/ });
      const lateEvening = await insertCase(t, { service: 'clinical-assessment', receivedAt: '2027-01-03T23:30:00.000Z' });
      await svc.bookConsultation(lateEvening, '2027-01-04', 'spec-1');
      await rejects422(svc.bookConsultation(lateEvening, '2027-01-03', 'spec-1'), { date: /before the case was received \(2027-01-04\)/ });

      // Nothing refused was recorded, audited, or announced.
      for (const id of [advice, waiting, ca]) {
        assert.deepEqual(
          (await events(t, id)).filter((e) => e.event === 'consultation-booked'),
          [],
        );
        assert.deepEqual(await auditActions(t, id), []);
        assert.ok(!changed.includes(id));
      }
    });

    test('§22: an extension needs a reason and who agreed, a real date not earlier than the current due date; a valid one moves the deadline', async () => {
      const id = await insertCase(t, { service: 'ongoing-case-advice' });
      assert.equal((await svc.clockOf(id)).clock.deadlines[0]!.dueDate, '2027-01-18');
      setNow('2027-01-12T08:00:00.000Z');

      await rejects422(svc.agreeExtension(id, { dueDate: '2027-02-01', reason: '  ', agreedWith: '' }, 'coord-1'), {
        reason: /required/,
        agreedWith: /required/,
      });
      await rejects422(svc.agreeExtension(id, { dueDate: '2027-02-01' } as never, 'coord-1'), {
        reason: /required/,
        agreedWith: /required/,
      });
      const ok = { reason: 'the citizen is in hospital until 25 January', agreedWith: 'case manager, Jobcenter 101' };
      await rejects422(svc.agreeExtension(id, { dueDate: '2027-01-15', ...ok }, 'coord-1'), {
        dueDate: /2027-01-15 is earlier than the current due date 2027-01-18/,
      });
      await rejects422(svc.agreeExtension(id, { dueDate: '2027-02-30', ...ok }, 'coord-1'), { dueDate: /real date/ });
      await rejects422(svc.agreeExtension(id, { dueDate: '2026-12-30', ...ok }, 'coord-1'), { dueDate: /before the case was received/ });
      await rejects422(svc.agreeExtension(id, { kind: 'attest', dueDate: '2027-02-01', ...ok }, 'coord-1'), {
        kind: /no deadline of kind "attest".*statement/,
      });
      await rejects422(svc.agreeExtension(id, { dueDate: 'soon', reason: '', agreedWith: 'x' }, 'coord-1'), {
        dueDate: /real date/,
        reason: /required/,
      });
      assert.deepEqual(await auditActions(t, id), [], 'refused extensions are not audited');

      const r = await svc.agreeExtension(id, { dueDate: '2027-02-01', ...ok }, 'coord-1');
      assert.equal(r.clock.status, 'running');
      assert.deepEqual(r.clock.deadlines, [
        {
          kind: 'statement',
          rule: '§22',
          dueDate: '2027-02-01',
          dueAt: '2027-02-01T22:59:59.999Z',
          source: 'default',
          originalDueDate: '2027-01-18',
          extension: { reason: ok.reason, agreedWith: ok.agreedWith },
        },
      ]);
      assert.deepEqual(await storedClock(t, id), r.clock);
      const ev = (await events(t, id)).at(-1)!;
      assert.equal(ev.event, 'extension-agreed');
      assert.equal(ev.actor, 'coord-1');
      assert.deepEqual(ev.data, {
        kind: 'statement',
        dueDate: '2027-02-01',
        reason: ok.reason,
        agreedWith: ok.agreedWith,
        previousDueDate: '2027-01-18',
        rule: '§22',
      });

      // The extended date is now the one an extension may not undercut.
      await rejects422(svc.agreeExtension(id, { dueDate: '2027-01-25', ...ok }, 'coord-1'), {
        dueDate: /earlier than the current due date 2027-02-01/,
      });
      // The audit entry names the dates, not the free text.
      const audit = await t.db.selectFrom('audit_log').select(['action', 'details']).where('case_id', '=', id).execute();
      assert.deepEqual(
        audit.map((a) => a.action),
        ['extension-agreed'],
      );
      assert.doesNotMatch(audit[0]!.details, /hospital|Jobcenter/);
      assert.match(audit[0]!.details, /"previousDueDate":"2027-01-18"/);
    });

    test('§21 has no "another deadline is agreed": an extension of a coordinator deadline is refused (422)', async () => {
      const id = await insertCase(t, { service: 'rehab-team-advice' });
      await rejects422(svc.agreeExtension(id, { dueDate: '2027-02-01', reason: 'r', agreedWith: 'a' }, 'coord-1'), {
        kind: /§21 stk. 1 has no provision/,
      });
    });

    test('§21 stk. 1: booking the coordinator for the meeting stops the clock — met by the meeting date, recorded with it', async () => {
      const id = await insertCase(t, { service: 'rehab-team-advice' });
      setNow('2027-01-11T12:00:00.000Z');
      const r = await svc.bookMeeting(id, '2027-01-14', 'coord-2');
      assert.equal(r.clock.status, 'stopped');
      assert.equal(r.clock.stoppedAt, '2027-01-11T12:00:00.000Z');
      assert.equal(r.clock.meetingDate, '2027-01-14');
      assert.equal(r.clock.outcome, 'met');
      assert.equal(r.clock.daysLate, 0);
      assert.equal(r.clock.deadlines[0]!.dueDate, '2027-01-18');
      assert.deepEqual(r.warnings, []);
      const evs = await events(t, id);
      assert.deepEqual(
        evs.map((e) => e.event),
        ['received', 'clock-started', 'meeting-booked'],
      );
      assert.deepEqual(evs[2]!.data, { date: '2027-01-14', dueDate: '2027-01-18', outcome: 'met', daysLate: 0 });
      assert.deepEqual(await auditActions(t, id), ['meeting-booked']);

      // A clock the meeting stopped takes no other lifecycle events.
      await rejects422(svc.agreeExtension(id, { dueDate: '2027-02-01', reason: 'r', agreedWith: 'a' }, 'coord-2'), { clock: /stopped/ });
      await rejects422(svc.stopClock(id, {}, 'coord-2'), { clock: /stopped/ });
    });

    test('§21 stk. 1: the meeting date counts, not the booking day: a meeting after the due date is missed by the days between', async () => {
      const id = await insertCase(t, { service: 'rehab-team-advice' });
      setNow('2027-01-11T10:00:00.000Z'); // booked a week before the due date (Monday 18 Jan) …
      const r = await svc.bookMeeting(id, '2027-01-20', 'coord-2'); // … for a meeting two days after it
      assert.equal(r.clock.outcome, 'missed');
      assert.equal(r.clock.daysLate, 2);
      assert.match(r.warnings.join('\n'), /§21 stk\. 1: the meeting on 2027-01-20 is after the due date 2027-01-18/);
    });

    test('§21 stk. 1: a moved meeting recomputes the outcome — the last booking counts', async () => {
      const id = await insertCase(t, { service: 'rehab-team-advice' });
      setNow('2027-01-11T10:00:00.000Z');
      assert.equal((await svc.bookMeeting(id, '2027-01-21', 'coord-2')).clock.outcome, 'missed');
      setNow('2027-01-12T10:00:00.000Z');
      const moved = await svc.bookMeeting(id, '2027-01-15', 'coord-2');
      assert.deepEqual([moved.clock.outcome, moved.clock.daysLate, moved.clock.meetingDate], ['met', 0, '2027-01-15']);
      assert.equal((await svc.clockOf(id)).clock.outcome, 'met');
      assert.deepEqual(await auditActions(t, id), ['meeting-booked', 'meeting-moved']);
      setNow('2027-01-14T10:00:00.000Z');
      const late = await svc.bookMeeting(id, '2027-01-26', 'coord-2');
      assert.deepEqual([late.clock.outcome, late.clock.daysLate], ['missed', 8]);
    });

    test('§21 stk. 1: a meeting needs a rehab-team case and a real date, not before the case was received', async () => {
      const ca = await insertCase(t, { service: 'clinical-assessment' });
      await rejects422(svc.bookMeeting(ca, '2027-01-14', 'coord-2'), { service: /rehab-team-advice/ });
      const rehab = await insertCase(t, { service: 'rehab-team-advice' });
      await rejects422(svc.bookMeeting(rehab, '14-01-2027', 'coord-2'), { date: /real date/ });
      await rejects422(svc.bookMeeting(rehab, '2027-01-02', 'coord-2'), { date: /before the case was received/ });
    });

    test('§21 stk. 3: an urgent case meets the 14 days but the warning says the agreed urgent target was missed', async () => {
      const id = await insertCase(t, { service: 'rehab-team-advice', urgent: true, agreementId: 'k101-2027' });
      const start = await svc.clockOf(id);
      // 4 Jan + 5 = Saturday 9 Jan → Monday 11 Jan.
      assert.deepEqual(
        start.clock.deadlines.map((x) => [x.kind, x.dueDate]),
        [
          ['coordinator-available', '2027-01-18'],
          ['urgent-target', '2027-01-11'],
        ],
      );
      setNow('2027-01-13T09:00:00.000Z');
      const r = await svc.bookMeeting(id, '2027-01-14', 'coord-3');
      assert.equal(r.clock.outcome, 'met');
      assert.match(r.warnings.join('\n'), /urgent target 2027-01-11 was missed/);
    });

    test('the clock stops when the statement is delivered: met before the (extended) due date, missed after it with days late', async () => {
      const met = await insertCase(t, { service: 'ongoing-case-advice' });
      setNow('2027-01-12T08:00:00.000Z');
      await svc.agreeExtension(met, { dueDate: '2027-01-25', reason: 'r', agreedWith: 'a' }, 'coord-1');
      setNow('2027-01-22T14:00:00.000Z'); // after the original 18 Jan, before the agreed 25 Jan
      const r1 = await svc.stopClock(met, {}, 'coord-1');
      assert.deepEqual(
        [r1.clock.status, r1.clock.outcome, r1.clock.daysLate, r1.clock.stoppedAt],
        ['stopped', 'met', 0, '2027-01-22T14:00:00.000Z'],
      );

      const missed = await insertCase(t, { service: 'ongoing-case-advice' });
      setNow('2027-01-25T12:00:00.000Z');
      // Delivered on 20 Jan at 00:30 local (= 19 Jan 23:30 UTC): 2 days after Monday 18 Jan.
      const r2 = await svc.stopClock(missed, { at: '2027-01-19T23:30:00.000Z', kind: 'statement' }, 'coord-1');
      assert.deepEqual([r2.clock.outcome, r2.clock.daysLate, r2.clock.stoppedAt], ['missed', 2, '2027-01-19T23:30:00.000Z']);
      const ev = (await events(t, missed)).at(-1)!;
      assert.equal(ev.event, 'clock-stopped');
      assert.equal(ev.at, '2027-01-25T12:00:00.000Z', 'the event row says when it was recorded');
      assert.deepEqual(ev.data, {
        at: '2027-01-19T23:30:00.000Z',
        kind: 'statement',
        dueDate: '2027-01-18',
        outcome: 'missed',
        daysLate: 2,
      });

      // A stop instant that is malformed, in the future, before the start or before the latest clock event is refused.
      const c = await insertCase(t, { service: 'ongoing-case-advice' });
      setNow('2027-01-12T08:00:00.000Z');
      await svc.agreeExtension(c, { dueDate: '2027-01-25', reason: 'r', agreedWith: 'a' }, 'coord-1');
      await rejects422(svc.stopClock(c, { at: 'yesterday' }, 'coord-1'), { at: /ISO 8601 instant/ });
      await rejects422(svc.stopClock(c, { at: '2027-01-12T08:00:01.000Z' }, 'coord-1'), { at: /in the future/ });
      await rejects422(svc.stopClock(c, { at: '2027-01-04T08:00:00.000Z' }, 'coord-1'), { at: /before the clock started/ });
      await rejects422(svc.stopClock(c, { at: '2027-01-10T08:00:00.000Z' }, 'coord-1'), { at: /before the latest recorded clock event/ });
      await rejects422(svc.stopClock(c, { kind: 'attest' }, 'coord-1'), { kind: /no deadline of kind "attest"/ });
      const waiting = await insertCase(t, { service: 'ongoing-case-advice', complete: false });
      await rejects422(svc.stopClock(waiting, {}, 'coord-1'), { clock: /has not started/ });
      const none = await insertCase(t, { service: 'resource-course-conversation' }); // no agreement: no deadline
      await rejects422(svc.stopClock(none, {}, 'coord-1'), { clock: /no deadline/ });
    });

    test('events appear in the history in order, and the clock is recomputed deterministically from them alone', async () => {
      const id = await insertCase(t, { service: 'clinical-assessment' });
      setNow('2027-01-05T10:00:00.000Z');
      await svc.bookConsultation(id, '2027-01-12', 'spec-1');
      setNow('2027-01-15T10:00:00.000Z');
      await svc.agreeExtension(id, { dueDate: '2027-02-05', reason: 'waiting for a scan', agreedWith: 'Jobcenter 101' }, 'spec-1');
      setNow('2027-02-04T10:00:00.000Z');
      const final = await svc.stopClock(id, {}, 'spec-1');
      assert.deepEqual(
        [final.clock.outcome, final.clock.deadlines[0]!.dueDate, final.clock.deadlines[0]!.originalDueDate],
        ['met', '2027-02-05', '2027-01-26'],
      );

      const evs = await events(t, id);
      assert.deepEqual(
        evs.map((e) => e.event),
        ['received', 'clock-started', 'consultation-booked', 'extension-agreed', 'clock-stopped'],
      );
      assert.deepEqual(
        evs.map((e) => e.at),
        [RECEIVED, RECEIVED, '2027-01-05T10:00:00.000Z', '2027-01-15T10:00:00.000Z', '2027-02-04T10:00:00.000Z'],
      );
      assert.deepEqual(await auditActions(t, id), ['consultation-booked', 'extension-agreed', 'clock-stopped']);

      // The stored column is a cache: wipe it and clockOf gives the same clock from the events; twice; and the engine agrees.
      const stored = await storedClock(t, id);
      assert.deepEqual(stored, final.clock);
      await t.db.updateTable('cases').set({ clock: '{}' }).where('id', '=', id).execute();
      const again1 = await svc.clockOf(id);
      const again2 = await svc.clockOf(id);
      assert.deepEqual(again1.clock, final.clock);
      assert.equal(JSON.stringify(again2.clock), JSON.stringify(again1.clock));
      const engine = computeClock({
        service: 'clinical-assessment',
        urgent: false,
        receivedAt: RECEIVED,
        startedAt: RECEIVED,
        agreement: null,
        events: toClockEvents(evs.map((e) => ({ ...e, data: JSON.stringify(e.data) }))),
      });
      assert.deepEqual(engine.clock, final.clock);
      assert.equal(again1.state, 'received');
    });

    test('concurrent changes of one case are serialised: an extension never lands below one committed before it', async () => {
      setNow('2027-01-06T10:00:00.000Z');
      const ids = await Promise.all(Array.from({ length: 6 }, () => insertCase(t, { service: 'ongoing-case-advice' })));
      const dates = ['2027-01-25', '2027-02-01', '2027-01-22', '2027-02-03', '2027-01-28'];
      await Promise.all(
        ids.flatMap((id) =>
          dates.map((dueDate) => svc.agreeExtension(id, { dueDate, reason: 'r', agreedWith: 'a' }, 'coord-1').catch((e: unknown) => e)),
        ),
      );
      for (const id of ids) {
        const recorded = (await events(t, id)).filter((e) => e.event === 'extension-agreed').map((e) => String(e.data.dueDate));
        assert.ok(recorded.length >= 1);
        assert.deepEqual(
          recorded,
          [...recorded].sort(),
          `extensions recorded in order of commit must never go back: ${recorded.join(', ')}`,
        );
        const stored = (await storedClock(t, id)) as { deadlines: { dueDate: string }[] };
        assert.equal(stored.deadlines[0]!.dueDate, recorded.at(-1));
        assert.deepEqual(stored, (await svc.clockOf(id)).clock);
      }
    });

    test('an unknown case is 404 for every operation', async () => {
      const id = randomUUID();
      await rejects404(svc.clockOf(id));
      await rejects404(svc.bookConsultation(id, '2027-01-10', 'x'));
      await rejects404(svc.agreeExtension(id, { dueDate: '2027-02-01', reason: 'r', agreedWith: 'a' }, 'x'));
      await rejects404(svc.bookMeeting(id, '2027-01-10', 'x'));
      await rejects404(svc.stopClock(id, {}, 'x'));
      assert.deepEqual(await svc.recordReminder(id, { type: 'overdue', kind: 'statement', dueAt: '2027-01-18T22:59:59.999Z' }), {
        outcome: 'case-gone',
      });
    });

    test('a governing agreement that disappeared from the file: statutory defaults and a warning on the clock', async () => {
      const id = await insertCase(t, { service: 'rehab-team-advice', urgent: true, agreementId: 'k101-2027' });
      agreements = AGREEMENTS.filter((a) => a.id !== 'k101-2027');
      try {
        const r1 = await svc.clockOf(id);
        const r2 = await svc.clockOf(id);
        assert.deepEqual(
          r1.clock.deadlines.map((x) => [x.kind, x.dueDate, x.source]),
          [['coordinator-available', '2027-01-18', 'default']],
        );
        assert.match(r1.warnings[0]!, /agreement k101-2027 governs this case but is no longer in the agreements file/);
        assert.deepEqual(r2, r1);
        // A change returns every warning but logs only those it brought: this one was there before.
        setNow('2027-01-08T10:00:00.000Z');
        const r3 = await svc.bookMeeting(id, '2027-01-12', 'coord-1');
        assert.match(r3.warnings.join('\n'), /no longer in the agreements file/);
        const warned = cap.lines.filter((l) => l.includes('"msg":"deadline warning"') && l.includes(id));
        assert.deepEqual(warned, []);
      } finally {
        agreements = [...AGREEMENTS];
      }
    });

    test('every change is announced after commit and audited in the hash chain', async () => {
      const id = await insertCase(t, { service: 'ongoing-case-advice' });
      const before = changed.length;
      setNow('2027-01-06T10:00:00.000Z');
      await svc.agreeExtension(id, { dueDate: '2027-01-20', reason: 'r', agreedWith: 'a' }, 'coord-1');
      await rejects422(svc.agreeExtension(id, { dueDate: '2027-01-19', reason: 'r', agreedWith: 'a' }, 'coord-1'), { dueDate: /earlier/ });
      await svc.stopClock(id, {}, 'coord-1');
      assert.deepEqual(changed.slice(before), [id, id]);
      const v = await verifyAuditChain(t.db);
      assert.ok(v.ok, JSON.stringify(v));
      // Log lines never carry the free text of an extension.
      assert.ok(!cap.lines.some((l) => l.includes('hospital') || l.includes('Jobcenter')));
    });
  });
}
