/**
 * Staff load for team leads: every staff member of the parties file with
 * their open (assigned) cases and capacity per day; on SQLite and PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Party, StaffParty } from '../../src/parties/parties.js';
import { createLogger } from '../../src/shared/logger.js';
import { createRoutingService } from '../../src/routing/service.js';
import { DIALECTS, newCase, openTestDb } from '../storage/helpers.js';
import { logCapture } from '../helpers/logs.js';

const staff = (id: string, name: string, roles: StaffParty['roles'], capacityPerDay: number): StaffParty => ({
  id,
  kind: 'staff',
  name,
  certificates: [],
  roles,
  municipalities: ['101'],
  ydernumre: [],
  capacityPerDay,
});
const PARTIES: Party[] = [
  { id: 'kommune-101', kind: 'municipality', municipalityCode: '101', name: 'Københavns Kommune', certificates: [] },
  staff('coord-a', 'Anna', ['coordinator'], 3),
  staff('dual-dan', 'Dan', ['coordinator', 'specialist'], 5),
  staff('lead-1', 'Lene', ['team-lead'], 2),
];

for (const d of DIALECTS) {
  describe(`staff load (${d.name})`, () => {
    let t: Awaited<ReturnType<typeof openTestDb>>;
    before(async () => {
      t = await openTestDb(d, 'load');
      const cases = [
        { state: 'assigned', assigned_to: 'coord-a' },
        { state: 'assigned', assigned_to: 'coord-a' },
        { state: 'assigned', assigned_to: 'dual-dan' },
        { state: 'closed', assigned_to: 'dual-dan' },
        { state: 'received', assigned_to: null },
        { state: 'assigned', assigned_to: 'someone-gone' },
      ];
      for (const c of cases)
        await t.db
          .insertInto('cases')
          .values({ ...newCase(), ...c })
          .execute();
    });
    after(async () => {
      await t?.dispose();
    });

    test('every staff member, in the parties file’s order, with open cases and capacity per day; nobody else', async () => {
      const routing = createRoutingService({
        db: t,
        parties: { all: () => PARTIES, get: (id) => PARTIES.find((p) => p.id === id) },
        agreements: { byId: () => null },
        log: createLogger({ destination: logCapture().stream }),
      });
      assert.deepEqual(await routing.staffLoad(), [
        { staffId: 'coord-a', name: 'Anna', roles: ['coordinator'], openCases: 2, capacityPerDay: 3 },
        { staffId: 'dual-dan', name: 'Dan', roles: ['coordinator', 'specialist'], openCases: 1, capacityPerDay: 5 },
        { staffId: 'lead-1', name: 'Lene', roles: ['team-lead'], openCases: 0, capacityPerDay: 2 },
      ]);
    });
  });
}
