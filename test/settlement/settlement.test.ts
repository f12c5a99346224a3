/**
 * Monthly settlement per payer (§17–19, §28, S§4, Bilag 1) and the §18 stk. 2
 * price cap, against tables computed by hand (the arithmetic is in the
 * comments). The service runs on a real database of each dialect; deliveries
 * are written as the responses feature writes them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/shared/logger.js';
import { createSettlementService, agreementView, type SettlementService, type Statement } from '../../src/settlement/service.js';
import { coordinatorAnnualPrice, coordinatorLine, monthlyShare, terminationDate } from '../../src/settlement/money.js';
import { statementsCsv } from '../../src/settlement/routes.js';
import type { Agreement } from '../../src/deadlines/types.js';
import type { Party } from '../../src/parties/parties.js';
import { DIALECTS, newCase, openTestDb } from '../storage/helpers.js';
import { agreementsOf } from '../helpers/agreements.js';

const cert = [{ subjectSerialNumber: 'UI:DK-O:G:00000000-0000-0000-0000-000000000000' }];
const PARTIES: Party[] = [
  { id: 'kommune-101', kind: 'municipality', municipalityCode: '101', name: 'Københavns Kommune', certificates: cert },
  { id: 'kommune-147', kind: 'municipality', municipalityCode: '147', name: 'Frederiksberg Kommune', certificates: cert },
  { id: 'spe', kind: 'senior-pension-unit', name: 'Seniorpensionsenheden', certificates: cert },
  {
    id: 'fin-1',
    kind: 'staff',
    roles: ['finance'],
    name: 'Freja Bach',
    certificates: cert,
    municipalities: [],
    ydernumre: [],
    capacityPerDay: 3,
  },
  {
    id: 'coord-anna',
    kind: 'staff',
    roles: ['coordinator'],
    name: 'Anna Holm',
    certificates: cert,
    municipalities: [],
    ydernumre: [],
    capacityPerDay: 3,
  },
] as Party[];
const party = (id: string) => PARTIES.find((p) => p.id === id)!;

function kbh(servicePrices: Record<string, number> = { 'clinical-assessment': 13750, 'ongoing-case-advice': 2100 }): Agreement {
  return {
    id: 'kbh-2027',
    municipalityCode: '101',
    validFrom: '2027-01-01',
    validTo: '2027-12-31',
    deadlines: {},
    rollForward: true,
    excludedStaff: [],
    expectedYearlyCases: 1000,
    prices: { coordinatorFunction: { fteAnnualPriceDkk: 731234 }, services: servicePrices },
  };
}
const FRB: Agreement = {
  id: 'frb-2027',
  municipalityCode: '147',
  validFrom: '2027-03-10',
  validTo: null,
  deadlines: {},
  rollForward: true,
  excludedStaff: [],
  prices: { coordinatorFunction: { annualPriceDkk: 600000 } },
  settlement: { paymentDaysAfterInvoice: 30, invoiceDayOfMonth: 5 },
};
const SPE: Agreement = {
  id: 'spe-2027',
  partyId: 'spe',
  validFrom: '2027-01-01',
  validTo: null,
  deadlines: {},
  rollForward: true,
  excludedStaff: [],
  prices: { services: { 'senior-pension-assessment': 12000, 'senior-pension-advice': 3000 } },
};

describe('settlement arithmetic (§17 stk. 2, §19 stk. 2, Bilag 1)', () => {
  test('Bilag 1 default: round(1000 × 731 234 DKK × 100 / (202 × 3)) = 120 665 677 øre a year (§17 stk. 2)', () => {
    assert.equal(coordinatorAnnualPrice(kbh())!.ore, 120_665_677);
  });
  test('an agreed annual price is taken as it is (§17 stk. 1)', () => {
    assert.equal(coordinatorAnnualPrice(FRB)!.ore, 60_000_000);
  });
  test('a profession mix weights the FTE price by the shares (§17 stk. 3): 900 × (60 % × 650 000 + 40 % × 820 000) / 606', () => {
    const a = {
      expectedYearlyCases: { 'rehab-team-advice': 600, 'ongoing-case-advice': 300 },
      prices: {
        coordinatorFunction: {
          professionMix: [
            { profession: 'sygeplejerske', sharePct: 60, fteAnnualPriceDkk: 650000 },
            { profession: 'læge', sharePct: 40, fteAnnualPriceDkk: 820000 },
          ],
        },
      },
    };
    // 718 000 DKK per FTE; 900 × 71 800 000 øre / 606 = 106 633 663.4 → 106 633 663
    assert.equal(coordinatorAnnualPrice(a)!.ore, 106_633_663);
  });
  test('January–November carry round(annual / 12) and December the remainder, so a year sums exactly (§19 stk. 2)', () => {
    // 120 665 677 / 12 = 10 055 473.08 → 10 055 473; December 120 665 677 − 11 × 10 055 473 = 10 055 474
    assert.equal(monthlyShare(120_665_677, 1), 10_055_473);
    assert.equal(monthlyShare(120_665_677, 12), 10_055_474);
    // 1 000,07 DKK: 100 007 / 12 = 8 333.9 → 8 334; December 100 007 − 91 674 = 8 333
    assert.equal(monthlyShare(100_007, 11), 8_334);
    assert.equal(monthlyShare(100_007, 12), 8_333);
    let sum = 0;
    for (let m = 1; m <= 12; m++) sum += monthlyShare(100_007, m);
    assert.equal(sum, 100_007);
  });
  test('a partial month is pro-rated by days, a month outside the agreement carries nothing', () => {
    // in force 10–31 March: 22 of 31 days; 5 000 000 × 22 / 31 = 3 548 387.1 → 3 548 387
    assert.equal(coordinatorLine(FRB, '2027-03')!.amountOre, 3_548_387);
    assert.equal(coordinatorLine(FRB, '2027-02'), null);
    assert.equal(coordinatorLine(FRB, '2027-04')!.amountOre, 5_000_000);
  });
  test('§25 stk. 2: notice given today ends the agreement 9 months later at the earliest, or at validTo when that is earlier', () => {
    assert.equal(terminationDate('2026-12-01', 9), '2027-09-01');
    assert.equal(terminationDate('2027-05-31', 9), '2028-02-29');
    const v = agreementView({ ...kbh(), validTo: '2027-06-30' }, '2026-12-01');
    assert.equal(v.termination.noticeMonths, 9);
    assert.equal(v.termination.noticeSource, '§25 stk. 2');
    assert.equal(v.termination.earliestEndDate, '2027-06-30');
    assert.equal(agreementView({ ...kbh(), noticeMonths: 3 }, '2026-12-01').termination.earliestEndDate, '2027-03-01');
  });
});

for (const d of DIALECTS) {
  describe(`settlement statements (${d.name})`, () => {
    let db: Awaited<ReturnType<typeof openTestDb>>;
    let svc: SettlementService;
    let agreements: Agreement[];
    let today = new Date('2027-02-05T10:00:00Z');
    const fin = party('fin-1');
    const cases: Record<string, string> = {};

    async function addCase(name: string, sender: string, service: string, agreementId: string | null) {
      const id = randomUUID();
      cases[name] = id;
      await db.db
        .insertInto('cases')
        .values({ ...newCase(id), sender_party_id: sender, service, agreement_id: agreementId, municipality_code: '101' })
        .execute();
      return id;
    }
    async function deliver(caseId: string, kind: string, at: string, further?: { priceDkk?: number }) {
      const id = randomUUID();
      await db.db
        .insertInto('responses')
        .values({
          id,
          case_id: caseId,
          kind,
          author: 'spec-bo',
          content_enc: Buffer.from([1]),
          media_type: 'application/pdf',
          size: 1,
          sha256: '0'.repeat(64),
          blob_key: `k-${id}`,
          created_at: at,
        })
        .execute();
      if (further) {
        await db.db
          .insertInto('case_events')
          .values({
            case_id: caseId,
            at,
            event: 'further-assessment-requested',
            actor: 'spec-bo',
            data: JSON.stringify({ rule: '§14 stk. 2', responseId: id, ...further }),
          })
          .execute();
      }
      return id;
    }
    const of = (list: Statement[], payer: string) => list.find((s) => s.payer === payer)!;

    before(async () => {
      db = await openTestDb(d, 'settle');
      agreements = [kbh(), FRB, SPE];
      svc = createSettlementService({
        db,
        agreements: agreementsOf(() => agreements),
        parties: { all: () => PARTIES },
        priceIndex: () => ({ baseYear: 2011, factors: { '2011': 100, '2027': 133.6 } }),
        log: createLogger({ level: 'silent' }),
        now: () => today,
      });
      const attestCase = await addCase('attest', 'kommune-101', 'clinical-assessment', 'kbh-2027');
      // 31 Jan 23:30 Copenhagen = 22:30 UTC: a January delivery
      await deliver(attestCase, 'specialist-attest', '2027-01-31T22:30:00.000Z', { priceDkk: 4500 });
      // the overall assessment after the further assessment, delivered 1 Feb 00:10 Copenhagen
      await deliver(attestCase, 'specialist-attest', '2027-01-31T23:10:00.000Z');
      await deliver(await addCase('ongoing', 'kommune-101', 'ongoing-case-advice', 'kbh-2027'), 'statement', '2027-01-12T09:00:00.000Z');
      await deliver(await addCase('early', 'kommune-101', 'early-pension-statement', 'kbh-2027'), 'statement', '2027-01-13T09:00:00.000Z');
      await deliver(await addCase('rehab', 'kommune-101', 'rehab-team-advice', 'kbh-2027'), 'recommendation', '2027-01-14T09:00:00.000Z');
      await deliver(await addCase('spe', 'spe', 'senior-pension-assessment', 'spe-2027'), 'specialist-attest', '2027-01-20T09:00:00.000Z');
      await deliver(
        await addCase('frbAttest', 'kommune-147', 'clinical-assessment', null),
        'specialist-attest',
        '2027-01-21T09:00:00.000Z',
      );
    });
    after(async () => {
      await db.dispose();
    });

    test('January: the coordinator function, the first attest per case (§18) and the statements at the agreed prices', async () => {
      const jan = of(await svc.statements(fin, '2027-01'), 'kommune-101');
      const byKind = (k: string) => jan.lines.filter((l) => l.kind === k);
      assert.deepEqual(
        byKind('coordinator-function').map((l) => l.amountOre),
        [10_055_473],
      );
      assert.deepEqual(
        byKind('attest').map((l) => [l.caseId, l.amountOre]),
        [[cases.attest, 1_375_000]],
      );
      // 2 100 DKK per ongoing-case-advice; the §10 statement has no price of its own but is chapter 3 work, covered by the
      // coordinator function's price (§17 stk. 2); the §6 recommendation is not a priced service
      assert.deepEqual(
        byKind('statement').map((l) => [l.service, l.amountOre]),
        [
          ['ongoing-case-advice', 210_000],
          ['early-pension-statement', 0],
        ],
      );
      assert.match(byKind('statement')[1]!.basis, /§17 stk\. 2/);
      assert.equal(jan.totalOre, 10_055_473 + 1_375_000 + 210_000);
      assert.equal(jan.unpricedLines, 0);
      // §19 stk. 3: invoiced the 1st of the following month, due 14 days after
      assert.equal(jan.invoiceDate, '2027-02-01');
      assert.equal(jan.dueDate, '2027-02-15');
      assert.equal(jan.closed, false);
    });

    test('§28: Seniorpensionsenheden pays for the senior-pension attest it requested', async () => {
      const spe = of(await svc.statements(fin, '2027-01'), 'spe');
      assert.deepEqual(
        spe.lines.map((l) => [l.kind, l.amountOre]),
        [['attest', 1_200_000]],
      );
      assert.equal(spe.totalOre, 1_200_000);
    });

    test('a service with no agreed price is a line with amountOre null and a reason, never a silent zero (§16 stk. 2 nr. 4)', async () => {
      const frb = of(await svc.statements(fin, '2027-01'), 'kommune-147');
      assert.equal(frb.lines.length, 1);
      assert.equal(frb.lines[0]!.amountOre, null);
      assert.match(frb.lines[0]!.basis, /no cooperation agreement/);
      assert.equal(frb.totalOre, 0);
      assert.equal(frb.unpricedLines, 1);
    });

    test('§14 stk. 2: the further assessment priced in the attest is a line of its own when the overall assessment is delivered', async () => {
      const feb = of(await svc.statements(fin, '2027-02'), 'kommune-101');
      const further = feb.lines.filter((l) => l.kind === 'further-assessment');
      assert.deepEqual(
        further.map((l) => [l.caseId, l.amountOre]),
        [[cases.attest, 450_000]],
      );
      assert.equal(feb.lines.filter((l) => l.kind === 'attest').length, 0, 'the second attest of a case is not a second §18 line');
    });

    test('a partial month is pro-rated, with the agreement’s settlement terms', async () => {
      const mar = of(await svc.statements(fin, '2027-03'), 'kommune-147');
      assert.deepEqual(
        mar.lines.map((l) => [l.kind, l.amountOre]),
        [['coordinator-function', 3_548_387]],
      );
      assert.equal(mar.invoiceDate, '2027-04-05');
      assert.equal(mar.dueDate, '2027-05-05');
    });

    test('only finance, team leads and the payer itself read statements', async () => {
      await assert.rejects(svc.statements(party('coord-anna'), '2027-01'), { status: 403 });
      await assert.rejects(svc.statements(party('kommune-101'), '2027-01', 'spe'), { status: 403 });
      const own = await svc.statements(party('kommune-101'), '2027-01');
      assert.deepEqual(
        own.map((s) => s.payer),
        ['kommune-101'],
      );
    });

    test('closing freezes a month; a price corrected later is an adjustment in the next open month (§19)', async () => {
      await assert.rejects(svc.close(fin, '2027-02'), { status: 409, type: /month-not-ended/ });
      await assert.rejects(svc.close(party('coord-anna'), '2027-01'), { status: 403 });
      // The first close may not skip a month with deliveries on record: they would never be invoiced.
      const was = today;
      today = new Date('2027-04-02T10:00:00Z');
      await assert.rejects(svc.close(fin, '2027-03'), (e: Error & { status?: number; type?: string }) => {
        assert.equal(e.status, 409);
        assert.match(e.message, /first month to close is 2027-01 or earlier: deliveries on record from 2027-01/);
        return true;
      });
      today = was;
      assert.equal(await svc.isClosed('2027-03'), false);
      const closed = await svc.close(fin, '2027-01');
      const jan = of(closed, 'kommune-101');
      assert.equal(jan.closed, true);
      // §19 stk. 3: closed (and invoiced) on 5 February, later than the agreed 1st: due 14 days after the invoice
      assert.deepEqual([jan.invoiceDate, jan.dueDate], ['2027-02-05', '2027-02-19']);
      assert.match(jan.sha256!, /^[0-9a-f]{64}$/);
      const audit = await db.db.selectFrom('audit_log').selectAll().where('action', '=', 'settlement-closed').execute();
      assert.equal(audit.length, 1);
      assert.ok(audit[0]!.details.includes(jan.sha256!), 'the statement’s hash is in the audit chain');
      await assert.rejects(svc.close(fin, '2027-01'), { status: 409, type: /month-closed/ });

      // The attest price is corrected from 13 750 to 14 000 DKK after January was closed.
      agreements = [kbh({ 'clinical-assessment': 14000, 'ongoing-case-advice': 2100 }), FRB, SPE];
      const janAgain = of(await svc.statements(fin, '2027-01'), 'kommune-101');
      assert.deepEqual(janAgain, { ...jan }, 'a closed statement is never rewritten');
      today = new Date('2027-03-02T10:00:00Z');
      const feb = of(await svc.statements(fin, '2027-02'), 'kommune-101');
      const adj = feb.lines.filter((l) => l.kind === 'adjustment');
      assert.deepEqual(
        adj.map((l) => [l.caseId, l.amountOre, l.adjusts]),
        [[cases.attest, 25_000, { month: '2027-01', key: `attest:${cases.attest}`, billedOre: 1_375_000, dueOre: 1_400_000 }]],
      );
      assert.equal(feb.totalOre, 10_055_473 + 450_000 + 25_000);
      // Once February is closed with the adjustment, March does not bill it again.
      await svc.close(fin, '2027-02');
      // a payer with nothing in a closed month reads an empty statement of a closed month, not an open one
      const speFeb = of(await svc.statements(fin, '2027-02', 'spe'), 'spe');
      assert.deepEqual([speFeb.lines.length, speFeb.totalOre, speFeb.closed], [0, 0, true]);
      const mar = of(await svc.statements(fin, '2027-03'), 'kommune-101');
      assert.equal(mar.lines.filter((l) => l.kind === 'adjustment').length, 0);
      await assert.rejects(svc.close(fin, '2027-01'), { status: 409 });
    });

    test('the statement as CSV for the finance system: one row per line, øre and basis', async () => {
      const csv = statementsCsv(await svc.statements(fin, '2027-01'));
      const rows = csv.trimEnd().split('\r\n');
      assert.equal(rows[0], 'month,payer,payerName,kind,caseId,service,deliveredAt,amountOre,basis,invoiceDate,dueDate,closed');
      assert.ok(rows.some((r) => r.startsWith(`2027-01,kommune-101,Københavns Kommune,attest,${cases.attest},clinical-assessment,`)));
      assert.ok(rows.some((r) => r.includes(',spe,') && r.includes(',1200000,')));
    });

    test('§18 stk. 2: the average price per assessed case against DKK 14 000 at 2011 level, indexed', async () => {
      const rows = await svc.priceCap(fin, 2027);
      const k = rows.find((r) => r.payer === 'kommune-101')!;
      // one assessed case: attest 14 000 DKK (corrected price) + further assessment 4 500 DKK = 18 500 DKK;
      // cap 14 000 × 133.6 / 100 = 18 704 DKK
      assert.equal(k.assessedCases, 1);
      assert.equal(k.averageOre, 1_850_000);
      assert.equal(k.capOre, 1_870_400);
      assert.equal(k.exceeded, false);
      const f = rows.find((r) => r.payer === 'kommune-147')!;
      assert.equal(f.unpricedLines, 1);
      assert.equal(f.averageOre, null, 'an attest without a price is not averaged in as 0');
      assert.equal(f.exceeded, null);
      // §18 stk. 2 caps the §13 assessment: Seniorpensionsenheden's §27 attest (priced 12 000 DKK above) is no row of it
      assert.deepEqual(
        rows.map((r) => r.payer),
        ['kommune-101', 'kommune-147'],
      );
    });

    test('§17 stk. 3: a yearly regulation prices the months from its date, and re-prices no closed month', async () => {
      // January and February are closed (above). From March the FTE price is 750 000 DKK and advice 2 200 DKK.
      agreements = [
        {
          ...kbh({ 'clinical-assessment': 14000, 'ongoing-case-advice': 2100 }),
          priceRegulations: [
            {
              from: '2027-03-01',
              prices: {
                coordinatorFunction: { fteAnnualPriceDkk: 750000 },
                services: { 'clinical-assessment': 14500, 'ongoing-case-advice': 2200 },
              },
            },
          ],
        },
        FRB,
        SPE,
      ];
      await deliver(
        await addCase('marchAdvice', 'kommune-101', 'ongoing-case-advice', 'kbh-2027'),
        'statement',
        '2027-03-03T09:00:00.000Z',
      );
      today = new Date('2027-04-02T10:00:00Z');
      const mar = of(await svc.statements(fin, '2027-03'), 'kommune-101');
      // 1000 × 75 000 000 øre / 606 = 123 762 376.2 → 123 762 376 a year; / 12 = 10 313 531.3 → 10 313 531
      assert.deepEqual(
        mar.lines.map((l) => [l.kind, l.amountOre]),
        [
          ['coordinator-function', 10_313_531],
          ['statement', 220_000],
        ],
        'no adjustment: January and February keep the prices of their own dates',
      );
      assert.match(mar.lines[1]!.basis, /as regulated from 2027-03-01 \(§17 stk\. 3\)/);
      const feb = of(await svc.statements(fin, '2027-02'), 'kommune-101');
      assert.equal(feb.lines.find((l) => l.kind === 'coordinator-function')!.amountOre, 10_055_473, 'February as closed');
    });

    test('an agreement taken out of the agreements file leaves what its closed months billed as billed, not credited', async () => {
      agreements = [FRB, SPE];
      const mar = of(await svc.statements(fin, '2027-03'), 'kommune-101');
      assert.deepEqual(
        mar.lines.filter((l) => l.kind === 'adjustment'),
        [],
        'no credit of the closed coordinator-function and service lines',
      );
    });
  });
}
