/**
 * Issue 15, "staff reasons shown to senders": free-text reasons a staff member
 * records (a §12 stk. 2 conflict, a §22/§23 extension) appeared word for word in
 * the municipality's case history. The sender now sees that something happened
 * (the event, when, the §, the dates), never the reason and never who at the
 * region did it; staff and team leads still see everything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { as, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { REGION_ACTOR, senderCaseView, senderExtension, senderHistoryEntry } from '../../src/worklist/audience.js';
import type { CaseView } from '../../src/worklist/schema.js';

type Entry = CaseView['history'][number];

describe('issue 15: what a sender sees of the region’s work (pure rules)', () => {
  test('issue 15: the region’s events keep kind, time, § and structured data; reasons, names and unknown fields go', () => {
    const conflict: Entry = {
      at: '2027-01-04T10:00:00.000Z',
      event: 'conflict-declared',
      actor: 'coord-bo',
      data: { staffId: 'coord-bo', rule: '§12 stk. 2', reason: 'Jeg er borgerens egen læge', round: 2 },
    };
    assert.deepEqual(senderHistoryEntry(conflict, 'kommune-101'), {
      at: conflict.at,
      event: 'conflict-declared',
      actor: REGION_ACTOR,
      data: { rule: '§12 stk. 2', round: 2 },
    });
    const override: Entry = {
      at: 'x',
      event: 'assigned',
      actor: 'lead-1',
      data: { staffId: 'spec-eva', round: 3, by: 'lead-1', previous: 'coord-bo' },
    };
    assert.deepEqual(
      senderHistoryEntry(override, 'kommune-101').data,
      { staffId: 'spec-eva', round: 3 },
      'the new assignee is meant for the sender',
    );
    const future: Entry = { at: 'x', event: 'something-new', actor: 'coord-bo', data: { note: 'fri tekst', date: '2027-01-05' } };
    assert.deepEqual(senderHistoryEntry(future, 'kommune-101').data, { date: '2027-01-05' }, 'an unknown field is not shown (allow-list)');
    const own: Entry = {
      at: 'x',
      event: 'coordinator-change',
      actor: 'kommune-101',
      data: { staffId: 'coord-bo', rule: '§25 stk. 3', round: 2 },
    };
    assert.deepEqual(senderHistoryEntry(own, 'kommune-101'), own, 'the sender’s own events as recorded');
    const started: Entry = {
      at: 'x',
      event: 'clock-started',
      actor: 'kommune-101x',
      data: { at: 'y', deadlines: [{ kind: 'main', dueDate: '2027-02-01', extension: { reason: 'r', agreedWith: 'a' } }] },
    };
    assert.deepEqual(senderHistoryEntry(started, 'kommune-101').data, { at: 'y', deadlines: [{ kind: 'main', dueDate: '2027-02-01' }] });
    assert.deepEqual(
      senderExtension({
        agreedAt: 'x',
        recordedBy: 'coord-bo',
        kind: 'main',
        rule: '§22',
        previousDueDate: 'a',
        dueDate: 'b',
        reason: 'r',
        agreedWith: 'Sara, KK',
      }),
      { agreedAt: 'x', kind: 'main', rule: '§22', previousDueDate: 'a', dueDate: 'b', agreedWith: 'Sara, KK' },
    );
    const view = senderCaseView(
      {
        clock: {
          status: 'running',
          startedAt: 'x',
          deadlines: [
            {
              kind: 'main',
              rule: '§22',
              dueDate: 'b',
              dueAt: 'b',
              source: 'extension',
              originalDueDate: 'a',
              extension: { reason: 'r', agreedWith: 'w' },
            },
          ],
        },
        history: [],
      } as unknown as CaseView,
      'kommune-101',
    );
    assert.deepEqual(view.clock.deadlines[0], {
      kind: 'main',
      rule: '§22',
      dueDate: 'b',
      dueAt: 'b',
      source: 'extension',
      originalDueDate: 'a',
    });
  });
});

describe('issue 15: the municipality’s view of a case with a conflict and an extension', () => {
  let dir: string;
  let g: TestGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-sender-view-'));
    g = await startTestGateway({ dialect: 'sqlite', env: { PARTIES_FILE: writeRoutingParties(dir) } });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('issue 15: the extension and conflict reasons a coordinator records are in the staff view, never in the municipality’s', async () => {
    // gp 012345 excludes coord-anna (§12 stk. 2) and kbh-2026 excludes coord-x (§25 stk. 3): the case goes to coord-bo
    const { caseId } = await send(g, 'kommune-101', {
      citizen: { cpr: '0202801235', name: 'Z' },
      gp: { ydernummer: '012345' },
      service: 'ongoing-case-advice',
      documents: [{ part: 'x', type: 'other', mediaType: 'application/pdf' }],
    });
    assert.equal((await settled(g, caseId)).assigned_to, 'coord-bo');
    const extensionReason = `Afventer journaloplysninger fra psykiatrien ${randomUUID()}`;
    const conflictReason = `Jeg behandlede borgeren i 2024 ${randomUUID()}`;
    const due = (await as(g, 'coord-bo').get(`/v1/cases/${caseId}`)).body.clock.deadlines[0].dueDate as string;
    const later = new Date(Date.parse(`${due}T12:00:00Z`) + 7 * 86400_000).toISOString().slice(0, 10);
    const ext = await as(g, 'coord-bo').post(`/v1/cases/${caseId}/extension`, {
      dueDate: later,
      reason: extensionReason,
      agreedWith: 'Sara, KK',
    });
    assert.equal(ext.status, 200, ext.text);
    const conflict = await as(g, 'coord-bo').post(`/v1/cases/${caseId}/conflict`, { reason: conflictReason });
    assert.equal(conflict.status, 202, conflict.text);
    // A supplement's signed receipt shows the moved deadline, not the reason (the case's stored clock keeps it).
    const supplement = manifest({
      supplementTo: caseId,
      citizen: { cpr: '0202801235', name: 'Z' },
      gp: { ydernummer: '012345' },
      service: 'ongoing-case-advice',
      documents: [{ part: 'y', type: 'other', mediaType: 'application/pdf' }],
    });
    const receipt = await postPackage(g, 'kommune-101', supplement, [{ name: 'y', body: pdf('y') }]);
    assert.equal(receipt.status, 201, receipt.text);
    assert.ok(!receipt.text.includes(extensionReason), 'no extension reason in the receipt of a supplement');
    assert.equal(JSON.parse(receipt.text).clock.deadlines[0].dueDate, later);

    const lead = await as(g, 'lead-1').get(`/v1/cases/${caseId}`);
    assert.equal(lead.status, 200);
    assert.ok(lead.text.includes(extensionReason) && lead.text.includes(conflictReason), 'the team lead sees both reasons');
    const leadConflict = (lead.body as CaseView).history.find((h) => h.event === 'conflict-declared')!;
    assert.equal(leadConflict.actor, 'coord-bo');

    const mine = await as(g, 'kommune-101').get(`/v1/cases/${caseId}`);
    assert.equal(mine.status, 200);
    assert.ok(!mine.text.includes(extensionReason), 'no extension reason for the municipality');
    assert.ok(!mine.text.includes(conflictReason), 'no conflict reason for the municipality');
    const history = (mine.body as CaseView).history;
    const seen = history.find((h) => h.event === 'conflict-declared')!;
    assert.equal(seen.actor, REGION_ACTOR);
    assert.deepEqual(
      Object.keys(seen.data as object).sort(),
      ['round', 'rule'],
      'that it happened, when and under which §: no reason, no name',
    );
    assert.equal((seen.data as Record<string, unknown>).rule, '§12 stk. 2');
    const extended = history.find((h) => h.event === 'extension-agreed')!;
    assert.equal(extended.actor, REGION_ACTOR);
    assert.equal((extended.data as Record<string, unknown>).dueDate, later);
    assert.equal(mine.body.clock.deadlines[0].dueDate, later, 'the moved deadline itself is shown');
    assert.equal(mine.body.clock.deadlines[0].originalDueDate, due, 'and that it was moved');
    assert.equal(mine.body.clock.deadlines[0].extension, undefined);
    assert.ok(lead.body.clock.deadlines[0].extension, 'staff see the extension on the clock');
    assert.ok(
      history.some((h) => h.event === 'received' && h.actor === 'kommune-101'),
      'its own events as recorded',
    );

    const list = await as(g, 'kommune-101').get(`/v1/cases/${caseId}/extensions`);
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(extensionReason));
    assert.equal(list.body.items[0].recordedBy, undefined);
    assert.deepEqual([list.body.items[0].dueDate, list.body.items[0].agreedWith], [later, 'Sara, KK']);
    const leadList = await as(g, 'lead-1').get(`/v1/cases/${caseId}/extensions`);
    assert.deepEqual([leadList.body.items[0].reason, leadList.body.items[0].recordedBy], [extensionReason, 'coord-bo']);
  });
});
