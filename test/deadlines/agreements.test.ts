import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  agreementInForce,
  createAgreementStore,
  loadAgreementsFile,
  parseAgreements,
  type AgreementStoreLogger,
} from '../../src/deadlines/agreements.js';
import { localDate } from '../../src/deadlines/calendar.js';

// Compile-time check: a pino logger can be handed to the store.
export const pinoFits = (l: Logger): AgreementStoreLogger => l;

const kbh = {
  id: 'kbh-2026',
  municipalityCode: '101',
  validFrom: '2026-01-01',
  validTo: '2027-12-31',
  deadlines: { 'ongoing-case-advice': 10, 'resource-course-conversation': 21, urgent: 3 },
  rollForward: true,
  excludedStaff: ['coord-x'],
};
const spe = {
  id: 'spe-region',
  partyId: 'spe',
  validFrom: '2026-01-01',
  validTo: null,
  deadlines: { 'senior-pension-advice': 10, 'senior-pension-assessment': 30 },
};
const file = (...agreements: unknown[]) => ({ agreements });

describe('agreements: parsing the agreements file (§20, §29, S§4; API.md)', () => {
  test('§20 a valid file parses with defaults filled in (rollForward true, excludedStaff [])', () => {
    const parsed = parseAgreements(file(kbh, spe));
    assert.deepEqual(parsed, [kbh, { ...spe, rollForward: true, excludedStaff: [] }]);
  });

  test('§20 an empty list is valid', () => {
    assert.deepEqual(parseAgreements({ agreements: [] }), []);
  });

  const bad: { name: string; json: unknown; expect: RegExp[] }[] = [
    {
      name: 'deadline of 0 days',
      json: file({ ...kbh, deadlines: { 'ongoing-case-advice': 0 } }),
      expect: [
        /agreement "kbh-2026" \(agreements\[0\]\), field deadlines\.ongoing-case-advice: must be a whole number of days from 1 to 365 \(got 0\)/,
      ],
    },
    {
      name: 'deadline of 366 days',
      json: file({ ...kbh, deadlines: { urgent: 366 } }),
      expect: [/"kbh-2026".*deadlines\.urgent.*1 to 365 \(got 366\)/],
    },
    {
      name: 'fractional deadline',
      json: file({ ...kbh, deadlines: { urgent: 2.5 } }),
      expect: [/"kbh-2026".*deadlines\.urgent.*whole number.*\(got 2\.5\)/],
    },
    {
      name: 'deadline as a string',
      json: file({ ...kbh, deadlines: { urgent: '3' } }),
      expect: [/"kbh-2026".*deadlines\.urgent.*\(got "3"\)/],
    },
    {
      name: 'unknown service key',
      json: file({ ...kbh, deadlines: { 'clinical-assesment': 20 } }),
      expect: [/"kbh-2026".*field deadlines: unknown service "clinical-assesment"; allowed keys are .*clinical-assessment/],
    },
    {
      name: 'misspelt field (rollforward) is not silently ignored',
      json: file({ ...kbh, rollforward: false }),
      expect: [/"kbh-2026".*unknown field "rollforward"; allowed fields are .*rollForward/],
    },
    {
      name: 'both municipalityCode and partyId',
      json: file({ ...kbh, partyId: 'spe' }),
      expect: [/"kbh-2026".*exactly one of municipalityCode .* or partyId.*not both/],
    },
    {
      name: 'neither municipalityCode nor partyId',
      json: file({ id: 'x', validFrom: '2026-01-01', validTo: null }),
      expect: [/agreement "x" \(agreements\[0\]\): give exactly one of municipalityCode/],
    },
    {
      name: 'municipality code as a number',
      json: file({ ...kbh, municipalityCode: 101 }),
      expect: [/"kbh-2026".*field municipalityCode: must be a 3-digit municipality code in quotes.*\(got 101\)/],
    },
    {
      name: 'impossible date',
      json: file({ ...kbh, validFrom: '2026-02-30' }),
      expect: [/"kbh-2026".*field validFrom: must be a real date written YYYY-MM-DD \(got "2026-02-30"\)/],
    },
    {
      name: 'date in another format',
      json: file({ ...kbh, validTo: '31-12-2027' }),
      expect: [/"kbh-2026".*field validTo: .*YYYY-MM-DD, or null.*\(got "31-12-2027"\)/],
    },
    {
      name: 'validTo before validFrom',
      json: file({ ...kbh, validTo: '2025-12-31' }),
      expect: [/"kbh-2026".*field validTo: 2025-12-31 is before validFrom 2026-01-01/],
    },
    {
      name: 'missing validTo (null must be explicit)',
      json: file({ ...spe, validTo: undefined }),
      expect: [/"spe-region".*field validTo: missing/],
    },
    {
      name: 'missing id is named by index',
      json: file(kbh, { ...spe, id: undefined }),
      expect: [/agreements\[1\], field id: missing/],
    },
    {
      name: 'duplicate ids',
      json: file(kbh, { ...kbh, municipalityCode: '147' }),
      expect: [/agreements\[0\] and agreements\[1\] both have id "kbh-2026"/],
    },
    {
      name: 'overlapping periods for the same municipality name both ids',
      json: file(kbh, { ...kbh, id: 'kbh-2027', validFrom: '2027-12-31', validTo: null }),
      expect: [
        /agreements "kbh-2026" \(2026-01-01 to 2027-12-31\) and "kbh-2027" \(2027-12-31 to open-ended\) overlap for municipality 101/,
      ],
    },
    {
      name: 'overlapping open-ended periods for the same party name both ids',
      json: file(spe, { ...spe, id: 'spe-2030', validFrom: '2030-01-01' }),
      expect: [/agreements "spe-region" .* and "spe-2030" .* overlap for party "spe"/],
    },
    {
      name: 'rollForward not a boolean, excludedStaff not a list',
      json: file({ ...kbh, rollForward: 'no', excludedStaff: 'coord-x' }),
      expect: [/field rollForward: must be true or false \(got "no"\)/, /field excludedStaff: must be a list of staff ids/],
    },
    { name: 'top level is a list', json: [kbh], expect: [/must be a JSON object \{ "agreements": \[ \.\.\. \] \}/] },
    { name: 'agreements is not a list', json: { agreements: {} }, expect: [/field agreements: must be a list of agreements/] },
    { name: 'unknown top-level field', json: { agreements: [], agreement: [] }, expect: [/unknown field "agreement"/] },
  ];
  for (const b of bad) {
    test(`§20 agreements file refused: ${b.name}`, () => {
      assert.throws(
        () => parseAgreements(b.json),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          for (const re of b.expect) assert.match(err.message, re);
          return true;
        },
      );
    });
  }

  test('§16 stk. 2: the agreement carries the expected cases, background, meeting terms, prices, settlement, notice', () => {
    const full = {
      ...kbh,
      expectedYearlyCases: 1000,
      coordinatorBackground: 'sygeplejerske med erfaring fra socialmedicin',
      meetingTerms: 'rehabiliteringsteamet mødes tirsdage kl. 9-12',
      attestProcedure: 'yderligere undersøgelser bestilles af klinisk funktion til prisen i bilag 2',
      prices: {
        coordinatorFunction: { fteAnnualPriceDkk: 731234 },
        services: { 'clinical-assessment': 13750, 'ongoing-case-advice': 2100.5 },
      },
      settlement: { paymentDaysAfterInvoice: 14 },
      noticeMonths: 9,
      renegotiation: 'genforhandles hvert år i oktober',
    };
    assert.deepEqual(parseAgreements(file(full)), [full]);
    const mix = {
      ...kbh,
      expectedYearlyCases: { 'rehab-team-advice': 600 },
      prices: {
        coordinatorFunction: {
          professionMix: [
            { profession: 'sygeplejerske', sharePct: 60, fteAnnualPriceDkk: 650000 },
            { profession: 'læge', sharePct: 40, fteAnnualPriceDkk: 820000 },
          ],
        },
      },
    };
    assert.equal(parseAgreements(file(mix)).length, 1);
  });

  const badMoney: { name: string; json: unknown; expect: RegExp }[] = [
    {
      name: 'a coordinator price in two forms at once (§17)',
      json: file({ ...kbh, expectedYearlyCases: 10, prices: { coordinatorFunction: { annualPriceDkk: 1, fteAnnualPriceDkk: 2 } } }),
      expect: /"kbh-2026".*field prices\.coordinatorFunction: must be one of \{ "annualPriceDkk": N \}/,
    },
    {
      name: 'the Bilag 1 price without the expected yearly cases (§17 stk. 2)',
      json: file({ ...kbh, prices: { coordinatorFunction: { fteAnnualPriceDkk: 731234 } } }),
      expect: /field expectedYearlyCases: missing \(the Bilag 1 price/,
    },
    {
      name: 'profession shares that do not add up to 100 (§17 stk. 3)',
      json: file({
        ...kbh,
        expectedYearlyCases: 10,
        prices: { coordinatorFunction: { professionMix: [{ profession: 'læge', sharePct: 50, fteAnnualPriceDkk: 1 }] } },
      }),
      expect: /professionMix: the professions' sharePct must add up to 100/,
    },
    {
      name: 'a price for a service nobody delivers (§16 stk. 2 nr. 4)',
      json: file({ ...kbh, prices: { services: { 'kontanthjaelp-advice': 100 } } }),
      expect: /field prices\.services\.kontanthjaelp-advice: not a statutory service nor one of the agreement's services/,
    },
    {
      name: 'a price with fractions of an øre',
      json: file({ ...kbh, prices: { services: { 'clinical-assessment': 13750.123 } } }),
      expect: /prices\.services\.clinical-assessment: must have at most two decimals \(øre\)/,
    },
    {
      name: 'a supplementary service that returns no statement: nothing would close its case or be priced (§16 stk. 3–4)',
      json: file({ ...kbh, services: [{ id: 'kontanthjaelp-advice', name: 'Rådgivning', responseKinds: ['recommendation'] }] }),
      expect: /field services\.0\.responseKinds: must include "statement": the written answer that delivers the service/,
    },
    {
      name: "a supplementary service returning §6's advice before the rehabilitation-team meeting",
      json: file({
        ...kbh,
        services: [{ id: 'kontanthjaelp-advice', name: 'Rådgivning', responseKinds: ['statement', 'pre-meeting-advice'] }],
      }),
      expect: /field services\.0\.responseKinds\.1: must be one of statement, recommendation, gp-notice/,
    },
    {
      name: "another attest procedure in Seniorpensionsenheden's agreement (§14 stk. 4 is the municipality's and the region's)",
      json: file({ ...spe, attestProcedure: 'noget andet' }),
      expect: /"spe-region".*field attestProcedure: only a municipality's agreement/,
    },
    {
      name: 'a price regulation from the middle of a month (§17 stk. 3; settlement is monthly)',
      json: file({ ...kbh, priceRegulations: [{ from: '2026-07-15', prices: { services: { 'clinical-assessment': 14000 } } }] }),
      expect: /field priceRegulations\[0\]\.from: 2026-07-15 is not the first day of a month/,
    },
    {
      name: 'price regulations out of date order, or from before the agreement (§17 stk. 3)',
      json: file({
        ...kbh,
        priceRegulations: [
          { from: '2027-01-01', prices: {} },
          { from: '2026-07-01', prices: {} },
          { from: '2025-01-01', prices: {} },
        ],
      }),
      expect:
        /priceRegulations\[1\]\.from: 2026-07-01 is not after 2027-01-01[\s\S]*priceRegulations\[2\]\.from: 2025-01-01 is not after validFrom/,
    },
    {
      name: 'a regulated price for a service nobody delivers (§16 stk. 2 nr. 4)',
      json: file({ ...kbh, priceRegulations: [{ from: '2027-01-01', prices: { services: { 'kontanthjaelp-advice': 100 } } }] }),
      expect: /field priceRegulations\[0\]\.prices\.services\.kontanthjaelp-advice: not a statutory service/,
    },
    {
      name: 'a negative notice (§25)',
      json: file({ ...kbh, noticeMonths: -1 }),
      expect: /field noticeMonths: must be a whole number of months from 0 to 60 \(got -1\)/,
    },
    {
      name: 'expected cases as a text (§16 stk. 2 nr. 1)',
      json: file({ ...kbh, expectedYearlyCases: 'many' }),
      expect: /field expectedYearlyCases: must be a whole number of cases, or an object/,
    },
  ];
  for (const b of badMoney) {
    test(`§16 agreements file refused: ${b.name}`, () => {
      assert.throws(
        () => parseAgreements(b.json),
        (err: Error) => {
          assert.match(err.message, b.expect);
          return true;
        },
      );
    });
  }

  test('§20 adjacent periods for the same municipality do not overlap', () => {
    const next = { ...kbh, id: 'kbh-2028', validFrom: '2028-01-01', validTo: null };
    assert.equal(parseAgreements(file(kbh, next)).length, 2);
  });

  test('§20 every problem in a file is reported, not just the first', () => {
    assert.throws(
      () => parseAgreements(file({ ...kbh, deadlines: { urgent: 0 } }, { ...spe, validFrom: 'soon' })),
      (err: Error) => err.message.includes('"kbh-2026"') && err.message.includes('"spe-region"'),
    );
  });
});

describe('agreements: which agreement governs a package (§20, §29 stk. 2–4)', () => {
  const all = parseAgreements(
    file(kbh, spe, {
      id: 'frb-2026',
      municipalityCode: '147',
      validFrom: '2026-01-01',
      validTo: '2026-12-31',
      deadlines: { 'resource-course-conversation': 14 },
      rollForward: false,
    }),
  );
  const rows: { name: string; sel: { municipalityCode?: string; partyId?: string }; receivedAt: string; want: string | null }[] = [
    {
      name: 'municipality 101 on its first day (local date)',
      sel: { municipalityCode: '101' },
      receivedAt: '2025-12-31T23:00:00Z',
      want: 'kbh-2026',
    },
    {
      name: 'municipality 101 the evening before (still 2025 locally)',
      sel: { municipalityCode: '101' },
      receivedAt: '2025-12-31T22:59:59Z',
      want: null,
    },
    { name: 'municipality 101 on its last day', sel: { municipalityCode: '101' }, receivedAt: '2027-12-31T22:59:59Z', want: 'kbh-2026' },
    { name: 'municipality 101 after validTo', sel: { municipalityCode: '101' }, receivedAt: '2027-12-31T23:00:00Z', want: null },
    {
      name: 'municipality party id does not hide its municipality agreement',
      sel: { municipalityCode: '101', partyId: 'kommune-101' },
      receivedAt: '2026-05-01T10:00:00Z',
      want: 'kbh-2026',
    },
    { name: 'municipality 147', sel: { municipalityCode: '147' }, receivedAt: '2026-05-01T10:00:00Z', want: 'frb-2026' },
    { name: 'municipality without an agreement', sel: { municipalityCode: '151' }, receivedAt: '2026-05-01T10:00:00Z', want: null },
    {
      name: 'senior-pension unit uses its own agreement, not the municipality one',
      sel: { municipalityCode: '101', partyId: 'spe' },
      receivedAt: '2026-05-01T10:00:00Z',
      want: 'spe-region',
    },
    {
      name: 'senior-pension unit open-ended agreement far in the future',
      sel: { partyId: 'spe' },
      receivedAt: '2040-05-01T10:00:00Z',
      want: 'spe-region',
    },
    {
      name: 'senior-pension unit before its agreement: none, never the municipality one',
      sel: { municipalityCode: '101', partyId: 'spe' },
      receivedAt: '2025-06-01T10:00:00Z',
      want: null,
    },
    { name: 'no selector', sel: {}, receivedAt: '2026-05-01T10:00:00Z', want: null },
  ];
  test('§29 senior-pension unit whose agreement has not started yet gets no agreement, not the municipality one in force', () => {
    const later = parseAgreements(file(kbh, { ...spe, id: 'spe-2027', validFrom: '2027-01-01' }));
    assert.equal(agreementInForce(later, { municipalityCode: '101', partyId: 'spe' }, '2026-05-01'), null);
    assert.equal(agreementInForce(later, { municipalityCode: '101' }, '2026-05-01')?.id, 'kbh-2026');
  });

  for (const r of rows) {
    test(`§20/§29 ${r.name} → ${r.want ?? 'no agreement'}`, () => {
      assert.equal(agreementInForce(all, r.sel, localDate(r.receivedAt))?.id ?? null, r.want);
    });
  }
});

describe('agreements: files and reload (API.md: a malformed file is refused, the old one stays)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'agreements-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('§20 config/agreements.json is a valid development file with the documented agreements', () => {
    const all = loadAgreementsFile('config/agreements.json');
    const byId = new Map(all.map((a) => [a.id, a]));
    const k = byId.get('kbh-2026');
    assert.equal(k?.municipalityCode, '101');
    assert.deepEqual(k?.deadlines, { 'ongoing-case-advice': 10, 'resource-course-conversation': 21, urgent: 3 });
    assert.deepEqual(k?.excludedStaff, ['coord-x']);
    assert.equal(k?.expectedYearlyCases, 1000);
    assert.deepEqual(k?.prices?.coordinatorFunction, { fteAnnualPriceDkk: 731234 });
    const f = all.find((a) => a.municipalityCode === '147');
    assert.equal(f?.rollForward, false);
    assert.equal(f?.deadlines['resource-course-conversation'], 14);
    const s = byId.get('spe-region');
    assert.equal(s?.partyId, 'spe');
    assert.equal(s?.validTo, null);
    assert.deepEqual(s?.deadlines, { 'senior-pension-advice': 10, 'senior-pension-assessment': 30 });
  });

  test('§20 loadAgreementsFile names the file for unreadable and non-JSON files', () => {
    const missing = join(dir, 'missing.json');
    assert.throws(() => loadAgreementsFile(missing), new RegExp(`cannot read agreements file .*missing\\.json`));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ "agreements": [ ');
    assert.throws(() => loadAgreementsFile(broken), /agreements file .*broken\.json is not valid JSON/);
    const invalid = join(dir, 'invalid.json');
    writeFileSync(invalid, JSON.stringify(file({ ...kbh, validTo: '2025-01-01' })));
    assert.throws(() => loadAgreementsFile(invalid), /agreements file .*invalid\.json is invalid:[\s\S]*"kbh-2026".*validTo/);
  });

  test('store.byId: the one lookup by id; a missing agreement is null and logged once per id (statutory defaults apply)', () => {
    const p = join(dir, 'byid.json');
    writeFileSync(p, JSON.stringify(file(kbh)));
    const warnings: object[] = [];
    const store = createAgreementStore(p, { info: () => {}, warn: (obj) => warnings.push(obj), error: () => {} });
    assert.equal(store.byId('kbh-2026')?.id, 'kbh-2026');
    assert.equal(store.byId(null), null);
    assert.equal(store.byId('gone-2025'), null);
    assert.equal(store.byId('gone-2025'), null);
    assert.deepEqual(warnings, [{ agreementId: 'gone-2025' }]);
  });

  test('§20 store: reload keeps the old set when the new file is bad, and takes a good one', () => {
    const p = join(dir, 'store.json');
    writeFileSync(p, JSON.stringify(file(kbh)));
    const logs: { level: string; obj: object; msg?: string }[] = [];
    const logger: AgreementStoreLogger = {
      info: (obj, msg) => logs.push({ level: 'info', obj, ...(msg ? { msg } : {}) }),
      warn: (obj, msg) => logs.push({ level: 'warn', obj, ...(msg ? { msg } : {}) }),
      error: (obj, msg) => logs.push({ level: 'error', obj, ...(msg ? { msg } : {}) }),
    };
    const store = createAgreementStore(p, logger);
    assert.deepEqual(
      store.current().map((a) => a.id),
      ['kbh-2026'],
    );

    writeFileSync(p, JSON.stringify(file(kbh, { ...kbh, id: 'kbh-bis' })));
    assert.throws(() => store.reload(), /store\.json is invalid:[\s\S]*"kbh-2026".*"kbh-bis".*overlap/);
    assert.deepEqual(
      store.current().map((a) => a.id),
      ['kbh-2026'],
    );
    assert.equal(logs.at(-1)?.level, 'error');

    writeFileSync(p, 'not json');
    assert.throws(() => store.reload(), /not valid JSON/);
    assert.deepEqual(
      store.current().map((a) => a.id),
      ['kbh-2026'],
    );

    writeFileSync(p, JSON.stringify(file(kbh, spe)));
    assert.deepEqual(store.reload(), { ok: true, count: 2 });
    assert.deepEqual(
      store.current().map((a) => a.id),
      ['kbh-2026', 'spe-region'],
    );
    assert.equal(store.inForce({ partyId: 'spe' }, '2026-02-01')?.id, 'spe-region');
    assert.equal(logs.at(-1)?.level, 'info');

    // current() hands out a copy: a caller cannot change the set in force.
    store.current().pop();
    assert.equal(store.current().length, 2);
  });

  test('§20 store: a bad file at start-up throws', () => {
    const p = join(dir, 'startup.json');
    writeFileSync(p, JSON.stringify(file({ ...kbh, deadlines: { bogus: 1 } })));
    assert.throws(() => createAgreementStore(p), /unknown service "bogus"/);
  });
});
