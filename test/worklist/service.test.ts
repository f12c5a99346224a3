/**
 * The worklist service over an in-memory fake store (the SQL is covered by
 * staff-api.test.ts against real databases): ordering (§21 stk. 3), the team
 * leads' filters and what an incomplete case is missing (§21 stk. 2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorklistService, downloadName } from '../../src/worklist/service.js';
import type { ListRow, WorklistStore } from '../../src/worklist/store.js';
import type { CaseRow } from '../../src/storage/schema.js';
import type { Clock } from '../../src/deadlines/types.js';
import type { Db } from '../../src/storage/db.js';
import type { BlobStore } from '../../src/storage/blobs.js';

const clock = (dueAt: string | null): string =>
  JSON.stringify(
    dueAt
      ? {
          status: 'running',
          startedAt: '2026-03-01T08:00:00.000Z',
          deadlines: [{ kind: 'k', rule: '§22', dueDate: dueAt.slice(0, 10), dueAt, source: 'default' }],
        }
      : { status: 'no-deadline-agreed', startedAt: null, deadlines: [] },
  );

function row(id: string, urgent: boolean, dueAt: string | null, over: Partial<ListRow> = {}): ListRow {
  return {
    id,
    service: 'ongoing-case-advice',
    case_type: 'ressourceforloeb',
    urgent: urgent ? 1 : 0,
    municipality_code: '101',
    received_at: '2026-03-01T08:00:00.000Z',
    state: 'assigned',
    clock: clock(dueAt),
    assigned_to: 'coord-bo',
    routing_note: null,
    agreement_id: null,
    ...over,
  };
}

function fakeStore(rows: ListRow[], documents: Record<string, string[]> = {}): WorklistStore {
  return {
    caseById: async (id) => rows.find((r) => r.id === id) as CaseRow | undefined,
    assignedTo: async (staffId) => rows.filter((r) => r.assigned_to === staffId && r.state === 'assigned'),
    inStates: async (states) => rows.filter((r) => states.includes(r.state)),
    details: async () => ({ documents: [], events: [], responses: [], messages: [] }),
    latestDocument: async () => undefined,
    extensionEvents: async () => [],
    documentTypes: async (ids) => new Map(ids.map((id) => [id, documents[id] ?? []])),
    consents: async () => [],
  };
}

const staff = { kind: 'staff', id: 'coord-bo', roles: ['coordinator'] } as never;

function service(
  rows: ListRow[],
  alert: (c: Clock | null) => 'overdue' | 'at-risk' | null = () => null,
  documents?: Record<string, string[]>,
) {
  return createWorklistService({
    db: {} as Db,
    blobs: {} as BlobStore,
    deadlines: { alertOf: alert, supplementaryService: () => undefined },
    store: fakeStore(rows, documents),
  });
}

test('§21 stk. 3 work queue order: urgent first, then the earliest due instant, no deadline last', async () => {
  const rows = [
    row('normal-late', false, '2026-04-01T21:59:59.999Z'),
    row('urgent-late', true, '2026-03-20T22:59:59.999Z'),
    row('normal-none', false, null),
    row('normal-early', false, '2026-03-03T22:59:59.999Z'),
    row('urgent-early', true, '2026-03-05T22:59:59.999Z'),
    row('urgent-none', true, null),
  ];
  const items = await service(rows).worklist(staff);
  assert.deepEqual(
    items.map((i) => i.caseId),
    ['urgent-early', 'urgent-late', 'urgent-none', 'normal-early', 'normal-late', 'normal-none'],
  );
});

test('§21 stk. 3 order compares instants, not their spelling', async () => {
  const rows = [row('b', false, '2026-03-05T22:30:00Z'), row('a', false, '2026-03-05T23:00:00+01:00')];
  assert.deepEqual(
    (await service(rows).worklist(staff)).map((i) => i.caseId),
    ['a', 'b'],
  );
});

test('team leads: overdue and at-risk come from the deadline service, over the open cases only', async () => {
  const rows = [
    row('late', false, '2026-03-02T22:59:59.999Z'),
    row('soon', false, '2026-03-09T22:59:59.999Z'),
    row('fine', false, '2026-04-09T22:59:59.999Z'),
    row('closed-late', false, '2026-03-02T22:59:59.999Z', { state: 'closed' }),
  ];
  const alert = (c: Clock | null) => {
    const due = c?.deadlines[0]?.dueDate;
    return due === '2026-03-02' ? 'overdue' : due === '2026-03-09' ? 'at-risk' : null;
  };
  const s = service(rows, alert);
  assert.deepEqual(
    (await s.leadList('overdue')).map((i) => i.caseId),
    ['late'],
  );
  assert.deepEqual(
    (await s.leadList('at-risk')).map((i) => i.caseId),
    ['soon'],
  );
});

test('§22/§23: the overdue list tells an extended deadline from a plainly late one', async () => {
  const extendedClock = JSON.stringify({
    status: 'running',
    startedAt: '2026-03-01T08:00:00.000Z',
    deadlines: [
      {
        kind: 'k',
        rule: '§22',
        dueDate: '2026-03-02',
        dueAt: '2026-03-02T22:59:59.999Z',
        source: 'extension',
        originalDueDate: '2026-02-27',
        extension: { reason: 'venter på journal', agreedWith: 'Sara, KK' },
      },
    ],
  });
  const rows = [row('late', false, '2026-03-02T22:59:59.999Z'), row('extended', false, null, { clock: extendedClock })];
  const items = await service(rows, (c) => (c?.deadlines.length ? 'overdue' : null)).leadList('overdue');
  assert.deepEqual(Object.fromEntries(items.map((i) => [i.caseId, i.extended])), { late: false, extended: true });
});

test('§21 stk. 2: the awaiting-complete-case list names the document types each case still lacks', async () => {
  const rows = [
    row('no-plan', false, null, { state: 'awaiting-complete-case', service: 'rehab-team-advice', assigned_to: null }),
    row('no-request', false, null, { state: 'awaiting-complete-case', service: 'clinical-assessment', assigned_to: null }),
  ];
  const items = await service(rows, () => null, { 'no-plan': ['journal'], 'no-request': ['medical-certificate'] }).leadList(
    'awaiting-complete-case',
  );
  assert.deepEqual(Object.fromEntries(items.map((i) => [i.caseId, i.missingDocuments])), {
    'no-plan': ['rehab-plan-preparatory'],
    'no-request': ['request'],
  });
});

test('a download is named after its part with the extension of its media type', () => {
  assert.equal(downloadName('plan', 'application/pdf'), 'plan.pdf');
  assert.equal(downloadName('scan.PDF', 'application/pdf'), 'scan.PDF');
  assert.equal(downloadName('notat', 'text/plain'), 'notat.txt');
  assert.equal(downloadName('a b/c', 'image/jpeg'), 'a_b_c.jpg');
});
