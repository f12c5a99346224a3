/**
 * §25 stk. 3: a municipality's right to another health coordinator. The
 * request excludes the coordinator from the municipality's new cases, routes
 * its open cases again unless their meeting has been held, and no team lead
 * can set it aside.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { as, caseRow, events, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { waitFor } from '../helpers/wait.js';
import { localDate } from '../../src/deadlines/calendar.js';

let n = 0;
const citizen = () => ({
  cpr: `0404${String(60 + (n++ % 39)).padStart(2, '0')}${String(1000 + Math.floor(Math.random() * 8999))}`,
  name: 'Skift Koordinator',
});

describe('§25 stk. 3: coordinator changes', () => {
  let dir: string;
  let g: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-coordchange-'));
    g = await startTestGateway({ dialect: 'sqlite', env: { PARTIES_FILE: writeRoutingParties(dir) } });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the request reroutes open cases without a held meeting, excludes the coordinator from new cases, and binds team leads', async () => {
    // GP 012345 keeps coord-anna off (§12 stk. 2) and kbh-2026 keeps coord-x off: 101's cases go to coord-bo.
    const open = await send(g, 'kommune-101', { citizen: citizen(), gp: { ydernummer: '012345' } });
    const held = await send(g, 'kommune-101', { citizen: citizen(), gp: { ydernummer: '012345' } });
    assert.equal((await settled(g, open.caseId)).assigned_to, 'coord-bo');
    assert.equal((await settled(g, held.caseId)).assigned_to, 'coord-bo');
    const today = localDate(new Date().toISOString());
    assert.equal((await as(g, 'coord-bo').post(`/v1/cases/${held.caseId}/meeting`, { date: today })).status, 200);

    const res = await as(g, 'kommune-101').post('/v1/coordinator-changes', { staffId: 'coord-bo', reason: 'Samarbejdet fungerer ikke.' });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.body.rerouted, [open.caseId], 'the case whose meeting was held stays');
    assert.equal((await caseRow(g, held.caseId)).assigned_to, 'coord-bo');

    // Nobody else is eligible for the rerouted case: it waits for a team lead, who cannot give it back to coord-bo.
    const rerouted = await waitFor('the rerouted case to settle', async () => {
      const c = await caseRow(g, open.caseId);
      return c.state === 'unassigned' ? c : undefined;
    });
    assert.equal(rerouted.assigned_to, null);
    assert.ok((await events(g, open.caseId, 'coordinator-change')).length === 1);
    const override = await as(g, 'lead-1').post(`/v1/cases/${open.caseId}/assign`, { staffId: 'coord-bo' });
    assert.equal(override.status, 409, override.text);
    assert.deepEqual(override.body.rules, ['§25 stk. 3']);

    // A new case of the municipality goes to someone else.
    const fresh = await send(g, 'kommune-101', { citizen: citizen() });
    assert.equal((await settled(g, fresh.caseId)).assigned_to, 'coord-anna');
  });

  test('team leads see every request, a municipality its own; others may not look; a non-coordinator is 422', async () => {
    assert.equal((await as(g, 'kommune-101').post('/v1/coordinator-changes', { staffId: 'spec-eva', reason: 'x' })).status, 422);
    assert.equal((await as(g, 'lead-1').post('/v1/coordinator-changes', { staffId: 'coord-bo', reason: 'x' })).status, 403);
    const lead = await as(g, 'lead-1').get('/v1/coordinator-changes');
    assert.equal(lead.status, 200);
    assert.ok(
      lead.body.items.some((i: { municipalityCode: string; staffId: string }) => i.municipalityCode === '101' && i.staffId === 'coord-bo'),
    );
    assert.deepEqual((await as(g, 'kommune-147').get('/v1/coordinator-changes')).body.items, []);
    assert.equal((await as(g, 'kommune-101').get('/v1/coordinator-changes')).body.items.length, 1);
    assert.equal((await as(g, 'coord-anna').get('/v1/coordinator-changes')).status, 403);
  });
});
