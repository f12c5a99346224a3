/**
 * The service layer of the staff pages on real SQLite and PostgreSQL: the
 * worklist page (order §21 stk. 3, deadline status, filters before paging),
 * the case file (citizen, GP and caseworker from the sealed manifest,
 * consents, deadlines with the days left, one `case-read` access-log entry per
 * call), the team leads' overview from one read of the open cases, and the
 * staff actions the JSON API and the pages share (§12 stk. 2, §21, §22).
 *
 * Every service runs at NOW, Monday 18 January 2027, 10:00 local time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../../src/storage/db.js';
import type { BlobStore } from '../../src/storage/blobs.js';
import { sealSmall } from '../../src/storage/crypto.js';
import { createLogger } from '../../src/shared/logger.js';
import { Problem } from '../../src/shared/problem.js';
import type { StaffParty } from '../../src/parties/parties.js';
import { accessLog } from '../../src/audit/audit.js';
import { computeClock } from '../../src/deadlines/engine.js';
import { daysBetween, endOfLocalDay, localDate } from '../../src/deadlines/calendar.js';
import type { Agreement, Clock, Service } from '../../src/deadlines/types.js';
import { createDeadlineService } from '../../src/deadlines/service.js';
import { createRoutingService } from '../../src/routing/service.js';
import { createConsentService } from '../../src/consents/service.js';
import { createWorklistService, type WorklistService } from '../../src/worklist/service.js';
import { createWorklistStore, type WorklistStore } from '../../src/worklist/store.js';
import { createCaseActions, type CaseActions } from '../../src/worklist/actions.js';
import { LEAD_FILTERS, type LeadListItem } from '../../src/worklist/schema.js';
import { DIALECTS, openTestDb } from '../storage/helpers.js';
import { logCapture } from '../helpers/logs.js';
import { agreementsOf } from '../helpers/agreements.js';

const NOW = new Date('2027-01-18T09:00:00.000Z');
const TODAY = localDate(NOW);
const RECEIVED = '2027-01-04T09:00:00.000Z';

const AGREEMENTS: Agreement[] = [
  {
    id: 'k101-2027',
    municipalityCode: '101',
    validFrom: '2027-01-01',
    validTo: null,
    deadlines: { 'ongoing-case-advice': 20 },
    rollForward: true,
    excludedStaff: [],
  },
];

const staffMember = (id: string, roles: StaffParty['roles'], capacityPerDay = 3): StaffParty => ({
  id,
  kind: 'staff',
  name: `Name of ${id}`,
  certificates: [],
  roles,
  municipalities: ['101', '147'],
  ydernumre: [],
  capacityPerDay,
});
const coordA = staffMember('coord-a', ['coordinator']);
const coordB = staffMember('coord-b', ['coordinator']);
const coordC = staffMember('coord-c', ['coordinator']);
const coordD = staffMember('coord-d', ['coordinator']);
const coordE = staffMember('coord-e', ['coordinator']);
const lead = staffMember('lead-1', ['team-lead']);
const PARTIES = [coordA, coordB, coordC, coordD, coordE, lead];

/** A running clock with one deadline per due date (the first is the main one). */
function running(...due: string[]): Clock {
  return {
    status: 'running',
    startedAt: RECEIVED,
    deadlines: due.map((d, i) => ({
      kind: i === 0 ? 'statement' : `k${i}`,
      rule: '§22',
      dueDate: d,
      dueAt: endOfLocalDay(d),
      source: 'default',
    })),
  };
}
/** A running clock whose deadline was moved to `due` by an agreed extension (§22). */
function extended(due: string): Clock {
  const c = running(due);
  c.deadlines[0] = {
    ...c.deadlines[0]!,
    originalDueDate: '2027-01-08',
    extension: { reason: 'waiting for records', agreedWith: 'Sara, KK' },
  };
  return c;
}
const STOPPED: Clock = {
  status: 'stopped',
  startedAt: RECEIVED,
  deadlines: running('2027-01-18').deadlines,
  stoppedAt: RECEIVED,
  outcome: 'met',
};
const NO_DEADLINE: Clock = { status: 'no-deadline-agreed', startedAt: RECEIVED, deadlines: [] };
const AWAITING: Clock = { status: 'awaiting-complete-case', startedAt: null, deadlines: [] };

interface CaseOpts {
  service?: string;
  urgent?: boolean;
  municipality?: string;
  state?: string;
  assignedTo?: string | null;
  receivedAt?: string;
  /** default: computed by the engine from the other fields (so the deadline service can act on the case) */
  clock?: Clock;
  agreementId?: string | null;
  routingNote?: unknown;
  manifest?: Record<string, unknown>;
}

const CITIZEN = { cpr: '0101701234', name: 'Test Borger' };

async function insertCase(db: Db, key: Buffer, o: CaseOpts = {}): Promise<string> {
  const id = randomUUID();
  const receivedAt = o.receivedAt ?? RECEIVED;
  const state = o.state ?? 'assigned';
  const complete = state !== 'awaiting-complete-case';
  const service = o.service ?? 'ongoing-case-advice';
  const clock =
    o.clock ??
    computeClock({
      service: service as Service,
      urgent: !!o.urgent,
      receivedAt,
      startedAt: complete ? receivedAt : null,
      agreement: AGREEMENTS.find((a) => a.id === o.agreementId) ?? null,
    }).clock;
  const manifest = o.manifest ?? { citizen: CITIZEN };
  await db.db
    .insertInto('cases')
    .values({
      id,
      sender_party_id: 'kommune-101',
      municipality_code: o.municipality ?? '101',
      service,
      case_type: 'ressourceforloeb',
      urgent: o.urgent ? 1 : 0,
      state,
      complete: complete ? 1 : 0,
      received_at: receivedAt,
      clock_started_at: complete ? receivedAt : null,
      agreement_id: o.agreementId ?? null,
      citizen_ref: randomUUID(),
      gp_ydernummer: null,
      treating_clinicians: '[]',
      consents: '{}',
      manifest_enc: sealSmall(key, Buffer.from(JSON.stringify(manifest), 'utf8')),
      clock: JSON.stringify(clock),
      assigned_to: o.assignedTo === undefined ? (state === 'assigned' ? 'coord-a' : null) : o.assignedTo,
      created_at: receivedAt,
      updated_at: receivedAt,
      routing_note: o.routingNote === undefined ? null : JSON.stringify(o.routingNote),
    })
    .execute();
  return id;
}

async function caseReads(db: Db, caseId: string) {
  return db.db.selectFrom('audit_log').selectAll().where('action', '=', 'case-read').where('case_id', '=', caseId).orderBy('seq').execute();
}

async function rejectsWith(p: Promise<unknown>, status: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof Problem && e.status === status);
}

for (const d of DIALECTS) {
  describe(`staff pages' service layer (${d.name})`, () => {
    let db: Awaited<ReturnType<typeof openTestDb>>;
    let worklist: WorklistService;
    let actions: CaseActions;
    let store: WorklistStore;
    const calls = { inStates: 0, documentTypes: 0 };
    const key = randomBytes(32);
    const logs = logCapture();

    before(async () => {
      db = await openTestDb(d, 'pages');
      const log = createLogger({ level: 'debug', destination: logs.stream });
      const agreements = agreementsOf(() => AGREEMENTS);
      const now = () => NOW;
      const deadlines = createDeadlineService({ db, agreements, log, now });
      const real = createWorklistStore(db.db);
      // The real store, counting how often the overview reads the cases.
      store = {
        ...real,
        inStates: (states) => {
          calls.inStates++;
          return real.inStates(states);
        },
        documentTypes: (ids) => {
          calls.documentTypes++;
          return real.documentTypes(ids);
        },
      };
      worklist = createWorklistService({ db, blobs: {} as BlobStore, deadlines, masterKey: key, store, now });
      const routing = createRoutingService({
        db,
        parties: { all: () => PARTIES, get: (id) => PARTIES.find((p) => p.id === id) },
        agreements,
        log,
        now,
      });
      actions = createCaseActions({ worklist, deadlines, routing });
    });
    after(async () => {
      await db?.dispose();
    });

    describe('worklist page', () => {
      const ids: Record<string, string> = {};
      const names = (items: { caseId: string }[]) => items.map((i) => Object.keys(ids).find((k) => ids[k] === i.caseId) ?? i.caseId);

      before(async () => {
        const add = async (name: string, o: CaseOpts) => {
          ids[name] = await insertCase(db, key, o);
        };
        await add('u-over', { urgent: true, service: 'rehab-team-advice', clock: running('2027-01-15') });
        await add('u-run', { urgent: true, service: 'rehab-team-advice', municipality: '147', clock: running('2027-03-01') });
        await add('n-risk', { clock: running('2027-01-19') });
        await add('n-run1', { clock: running('2027-02-01') });
        await add('n-run2', { service: 'early-pension-statement', municipality: '147', clock: running('2027-02-10') });
        await add('n-stop', { service: 'rehab-team-advice', clock: STOPPED, receivedAt: '2027-01-03T09:00:00.000Z' });
        await add('n-none', { service: 'kontanthjaelp-advice', municipality: '147', clock: NO_DEADLINE });
        // not coord-a's open cases
        await insertCase(db, key, { assignedTo: 'coord-b', clock: running('2027-01-10') });
        await insertCase(db, key, { state: 'closed', clock: running('2027-01-10') });
      });

      test('§21 stk. 3: urgent first, then the earliest due, cases without a running deadline last; the same order as worklist()', async () => {
        const page = await worklist.worklistPage(coordA, {});
        const order = ['u-over', 'u-run', 'n-risk', 'n-run1', 'n-run2', 'n-stop', 'n-none'];
        assert.deepEqual(names(page.items), order);
        assert.deepEqual(names(await worklist.worklist(coordA)), order);
        assert.deepEqual([page.total, page.page, page.pages, page.pageSize], [7, 1, 1, 50]);
        assert.ok(!('status' in (await worklist.worklist(coordA))[0]!), 'the API worklist keeps its shape');
      });

      test('§21–23: each case carries its deadline status (overdue, at-risk, running, stopped, no deadline)', async () => {
        const page = await worklist.worklistPage(coordA);
        assert.deepEqual(Object.fromEntries(page.items.map((i, n) => [names(page.items)[n], i.status])), {
          'u-over': 'overdue',
          'u-run': 'running',
          'n-risk': 'at-risk',
          'n-run1': 'running',
          'n-run2': 'running',
          'n-stop': 'stopped',
          'n-none': 'no-deadline-agreed',
        });
        assert.deepEqual(page.facets, {
          services: ['early-pension-statement', 'kontanthjaelp-advice', 'ongoing-case-advice', 'rehab-team-advice'],
          municipalities: ['101', '147'],
          statuses: ['overdue', 'at-risk', 'running', 'stopped', 'no-deadline-agreed'],
        });
      });

      test('filters apply before paging; the facets stay those of every open case', async () => {
        const byStatus = await worklist.worklistPage(coordA, { status: 'running' });
        assert.deepEqual(names(byStatus.items), ['u-run', 'n-run1', 'n-run2']);
        assert.equal(byStatus.total, 3);
        assert.equal(byStatus.facets.statuses.length, 5);
        const byMunicipality = await worklist.worklistPage(coordA, { municipality: '147' });
        assert.deepEqual(names(byMunicipality.items), ['u-run', 'n-run2', 'n-none']);
        const both = await worklist.worklistPage(coordA, { service: 'rehab-team-advice', status: 'running' });
        assert.deepEqual(names(both.items), ['u-run']);
        const none = await worklist.worklistPage(coordA, { service: 'no-such-service' });
        assert.deepEqual([none.items, none.total, none.page, none.pages], [[], 0, 1, 1]);
        const paged = await worklist.worklistPage(coordA, { status: 'running', pageSize: 2, page: 2 });
        assert.deepEqual(names(paged.items), ['n-run2']);
        assert.deepEqual([paged.total, paged.page, paged.pages], [3, 2, 2]);
      });

      test('paging: pages of pageSize, the page clamped to those there are, pageSize 1–200 (default 50)', async () => {
        const p1 = await worklist.worklistPage(coordA, { pageSize: 3 });
        assert.deepEqual(names(p1.items), ['u-over', 'u-run', 'n-risk']);
        assert.deepEqual([p1.total, p1.page, p1.pages], [7, 1, 3]);
        const p3 = await worklist.worklistPage(coordA, { pageSize: 3, page: 3 });
        assert.deepEqual(names(p3.items), ['n-none']);
        const beyond = await worklist.worklistPage(coordA, { pageSize: 3, page: 99 });
        assert.deepEqual([beyond.page, names(beyond.items)], [3, ['n-none']]);
        const before = await worklist.worklistPage(coordA, { pageSize: 3, page: 0 });
        assert.equal(before.page, 1);
        assert.equal((await worklist.worklistPage(coordA, { pageSize: 0 })).pageSize, 1);
        assert.equal((await worklist.worklistPage(coordA, { pageSize: 1000 })).pageSize, 200);
        assert.equal((await worklist.worklistPage(coordA, { pageSize: Number.NaN, page: Number.NaN })).pageSize, 50);
        assert.equal((await worklist.worklistPage(coordA, { pageSize: 2.7 })).pageSize, 2);
      });

      test('another staff member sees only their own open cases', async () => {
        const page = await worklist.worklistPage(coordB);
        assert.equal(page.total, 1);
        assert.equal(page.items[0]!.status, 'overdue');
        assert.deepEqual((await worklist.worklistPage(coordE)).items, []);
      });
    });

    describe('case file', () => {
      let id: string;
      let bare: string;
      const later = '2027-02-26';
      let dueBefore: string;

      before(async () => {
        id = await insertCase(db, key, {
          assignedTo: 'coord-e',
          agreementId: 'k101-2027',
          manifest: {
            citizen: CITIZEN,
            gp: { ydernummer: '012345', name: 'Lægehuset' },
            caseworker: { name: 'Sara Sagsbehandler', email: 'sara@kk.dk', phone: '33 66 33 66' },
          },
        });
        bare = await insertCase(db, key, { assignedTo: 'coord-e' });
        dueBefore = (await worklist.caseView(lead, id)).clock.deadlines[0]!.dueDate;
        await actions.agreeExtension(coordE, id, { dueDate: later, reason: 'waiting for records', agreedWith: 'Sara, KK' });
        for (const [kind, how, part] of [
          ['gp-discussion', 'written', 'plan'],
          ['municipality-agreement-citizen-contact', 'oral', null],
        ] as const) {
          await db.db
            .insertInto('consents')
            .values({
              id: randomUUID(),
              case_id: id,
              kind,
              given_by: 'the citizen',
              given_on: '2027-01-05',
              how,
              document_part: part,
              recorded_by: 'kommune-101',
              recorded_at: `2027-01-0${part ? 5 : 6}T10:00:00.000Z`,
            })
            .execute();
        }
      });

      test('§22: the case file gives the citizen, GP, caseworker, consents, the governing agreement and each deadline with its days left', async () => {
        const file = await worklist.caseFile(coordE, id);
        const { agreementId, citizen, gp, caseworker, consents, deadlines, ...view } = file;
        assert.deepEqual(view, await worklist.caseView(coordE, id), 'the case view, unchanged');
        assert.equal(agreementId, 'k101-2027');
        assert.deepEqual(citizen, { name: 'Test Borger', cpr: '0101701234' });
        assert.deepEqual(gp, { ydernummer: '012345', name: 'Lægehuset' });
        assert.deepEqual(caseworker, { name: 'Sara Sagsbehandler', email: 'sara@kk.dk', phone: '33 66 33 66' });
        const consentService = createConsentService({ db, visibleCase: worklist.visibleCase, now: () => NOW });
        assert.deepEqual(consents, await consentService.list(lead, id), 'the same items as the consents list');
        assert.deepEqual(
          consents.map((c) => c.kind),
          ['gp-discussion', 'municipality-agreement-citizen-contact'],
        );
        assert.deepEqual(deadlines, [
          {
            kind: 'statement',
            rule: '§22',
            dueDate: later,
            daysLeft: daysBetween(TODAY, later),
            source: 'agreement:k101-2027',
            agreementId: 'k101-2027',
            extension: { reason: 'waiting for records', agreedWith: 'Sara, KK', originalDueDate: dueBefore },
          },
        ]);
        assert.equal(deadlines[0]!.daysLeft, 39);
      });

      test('§21–23: days left are negative once a deadline has passed', async () => {
        const late = await insertCase(db, key, { assignedTo: 'coord-e', clock: running('2027-01-15', '2027-01-18') });
        const file = await worklist.caseFile(coordE, late);
        assert.deepEqual(
          file.deadlines.map((x) => [x.dueDate, x.daysLeft, x.source, 'agreementId' in x, 'extension' in x]),
          [
            ['2027-01-15', -3, 'default', false, false],
            ['2027-01-18', 0, 'default', false, false],
          ],
        );
        assert.equal(file.agreementId, null);
      });

      test('a manifest without GP or caseworker: both null, no consents', async () => {
        const file = await worklist.caseFile(lead, bare);
        assert.deepEqual([file.gp, file.caseworker, file.consents], [null, null, []]);
        assert.deepEqual(file.citizen, CITIZEN);
      });

      test('for the assignee and team leads only: another coordinator gets 404, as for a missing case, and nothing is logged', async () => {
        const n = (await caseReads(db, id)).length;
        await rejectsWith(worklist.caseFile(coordB, id), 404);
        await rejectsWith(worklist.caseFile(coordE, randomUUID()), 404);
        assert.equal((await caseReads(db, id)).length, n);
        assert.equal((await worklist.caseFile(lead, id)).caseId, id);
      });

      test('every call writes exactly one case-read entry to the access log (who, when, which case; never the citizen)', async () => {
        const n = (await caseReads(db, id)).length;
        await worklist.caseFile(coordE, id);
        const one = await caseReads(db, id);
        assert.equal(one.length, n + 1);
        await worklist.caseFile(lead, id);
        const two = await caseReads(db, id);
        assert.equal(two.length, n + 2);
        const [first, second] = two.slice(-2);
        assert.deepEqual([first!.actor, first!.at, first!.details], ['coord-e', NOW.toISOString(), '{}']);
        assert.equal(second!.actor, 'lead-1');
        for (const e of two) {
          assert.ok(
            !JSON.stringify(e).includes(CITIZEN.cpr) && !JSON.stringify(e).includes(CITIZEN.name),
            'no CPR or name in the audit log',
          );
        }
        assert.ok(!logs.lines.some((l) => l.includes(CITIZEN.cpr) || l.includes(CITIZEN.name)), 'no CPR or name in the logs');
        const log = await accessLog(db.db, { caseId: id });
        assert.deepEqual(
          log.slice(0, 2).map((e) => [e.action, e.actor, e.caseId]),
          [
            ['case-read', 'lead-1', id],
            ['case-read', 'coord-e', id],
          ],
          'newest first in the access log',
        );
      });

      test('without the master key the case file is refused with a clear error', async () => {
        const keyless = createWorklistService({
          db,
          blobs: {} as BlobStore,
          deadlines: { alertOf: () => null, supplementaryService: () => undefined },
        });
        await assert.rejects(keyless.caseFile(coordE, id), /masterKey/);
      });
    });

    describe('team leads: overview and lists', () => {
      const ids: Record<string, string> = {};
      const only = (items: LeadListItem[]) =>
        items.filter((i) => Object.values(ids).includes(i.caseId)).map((i) => Object.keys(ids).find((k) => ids[k] === i.caseId));

      before(async () => {
        const add = async (name: string, o: CaseOpts) => {
          ids[name] = await insertCase(db, key, { assignedTo: 'coord-z', ...o });
        };
        const note = { at: RECEIVED, excluded: [{ staffId: 'coord-a', rules: [{ rule: '§12 stk. 2', reason: 'the GP' }] }] };
        await add('unassigned', { state: 'unassigned', assignedTo: null, routingNote: note, clock: running('2027-03-02') });
        await add('awaiting', { state: 'awaiting-complete-case', assignedTo: null, service: 'rehab-team-advice', clock: AWAITING });
        await add('risk', { clock: running('2027-01-19') });
        await add('over', { clock: running('2027-01-14') });
        await add('received-over', { state: 'received', assignedTo: null, clock: running('2027-01-13') });
        await add('ext', { clock: extended('2027-03-01') });
        await add('ext-over', { clock: extended('2027-01-15') });
        await add('ext-closed', { state: 'closed', clock: extended('2027-01-12') });
      });

      test('§22/§23: the overview sorts the open cases into unassigned, awaiting, at risk, overdue and extended', async () => {
        const o = await worklist.overview();
        assert.deepEqual(only(o.unassigned), ['unassigned']);
        assert.deepEqual(o.unassigned.find((i) => i.caseId === ids.unassigned)!.routing?.excluded[0]!.rules[0]!.rule, '§12 stk. 2');
        assert.deepEqual(only(o.awaitingCompleteCase), ['awaiting']);
        assert.deepEqual(o.awaitingCompleteCase.find((i) => i.caseId === ids.awaiting)!.missingDocuments, ['rehab-plan-preparatory']);
        assert.deepEqual(only(o.atRisk), ['risk']);
        assert.deepEqual(only(o.overdue), ['received-over', 'over', 'ext-over']);
        assert.deepEqual(only(o.extended), ['ext-over', 'ext']);
        const flag = (items: LeadListItem[]) =>
          Object.fromEntries(items.filter((i) => Object.values(ids).includes(i.caseId)).map((i) => [i.caseId, i.extended]));
        assert.deepEqual(flag(o.overdue), { [ids['received-over']!]: false, [ids.over!]: false, [ids['ext-over']!]: true });
        assert.deepEqual(flag(o.extended), { [ids.ext!]: true, [ids['ext-over']!]: true });
        assert.equal(flag(o.unassigned)[ids.unassigned!], undefined, 'the flag belongs to the deadline lists');
      });

      test('the overview reads the open cases once (not once per list)', async () => {
        calls.inStates = 0;
        calls.documentTypes = 0;
        await worklist.overview();
        assert.deepEqual(calls, { inStates: 1, documentTypes: 1 });
      });

      test('leadList gives exactly the overview’s lists, for every filter (one classification)', async () => {
        const o = await worklist.overview();
        const keyOf: Record<(typeof LEAD_FILTERS)[number], keyof typeof o> = {
          unassigned: 'unassigned',
          'awaiting-complete-case': 'awaitingCompleteCase',
          'at-risk': 'atRisk',
          overdue: 'overdue',
          extended: 'extended',
        };
        for (const f of LEAD_FILTERS) assert.deepEqual(await worklist.leadList(f), o[keyOf[f]], f);
      });
    });

    describe('staff actions (shared by the API and the pages)', () => {
      let id: string;
      before(async () => {
        id = await insertCase(db, key, { assignedTo: 'coord-c', service: 'rehab-team-advice', receivedAt: '2027-01-11T09:00:00.000Z' });
      });

      test('§21 stk. 1: booking the meeting is for the assignee (404 for anyone else); it stops the clock', async () => {
        await rejectsWith(actions.bookMeeting(coordB, id, TODAY), 404);
        await rejectsWith(actions.bookMeeting(lead, id, TODAY), 404);
        const r = await actions.bookMeeting(coordC, id, TODAY);
        assert.equal(r.caseId, id);
        assert.deepEqual([r.clock.status, r.clock.outcome, r.clock.meetingDate], ['stopped', 'met', TODAY]);
        const page = await worklist.worklistPage(coordC);
        assert.deepEqual(
          page.items.map((i) => [i.caseId, i.status]),
          [[id, 'stopped']],
        );
      });

      test('§23: a consultation in a service without one is 422 through the same action', async () => {
        await rejectsWith(actions.bookConsultation(coordC, id, TODAY), 422);
        await rejectsWith(actions.bookConsultation(coordB, id, TODAY), 404);
      });

      test('§12 stk. 2: only the assignee declares a conflict; the case goes back to routing', async () => {
        await rejectsWith(actions.declareConflict(lead, id, 'not mine'), 404);
        assert.deepEqual(await actions.declareConflict(coordC, id, 'the citizen is my neighbour'), {
          caseId: id,
          state: 'received',
          routingRound: 1,
        });
        assert.deepEqual((await worklist.worklistPage(coordC)).items, []);
      });

      test('§12 stk. 2: assigning by hand is for team leads; the coordinator who declared the conflict stays excluded', async () => {
        await rejectsWith(actions.assign(coordD, id, { staffId: 'coord-d' }), 404);
        await rejectsWith(actions.assign(lead, id, { staffId: 'coord-c' }), 409);
        assert.deepEqual(await actions.assign(lead, id, { staffId: 'coord-d' }), { caseId: id, assignedTo: 'coord-d' });
        assert.deepEqual(
          (await worklist.worklist(coordD)).map((i) => i.caseId),
          [id],
        );
      });
    });
  });
}
