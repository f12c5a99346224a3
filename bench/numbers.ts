/**
 * Money and numbers benchmark for bench/run.ts (issue 14): how long the
 * region's reports take on a year of records, in process against a real
 * database (SQLite in a temp dir, or a PostgreSQL schema of its own):
 *
 * 1. seed: one agreement per municipality (the 98 of config/municipalities.json;
 *    Bilag 1 coordinator price and service prices, expected yearly cases) and
 *    `cases` cases received over the last 365 days across them and the
 *    services, with the events the clocks and statistics read (meeting or
 *    consultation booked, extensions for 5 %, the clock stopped at delivery
 *    for 90 %) and one response per delivered case (statement, advice or
 *    attest; §14 stk. 2 further assessment in 5 % of the attests);
 * 2. measure, each `runs` times after one warm-up: the settlement statements
 *    of the last full month for every payer (§17–19), the §18 stk. 2 price cap
 *    over the calendar year (12 months of statements), the waiting-time
 *    statistics over the last 12 months grouped by month and by municipality
 *    (every case's clock recomputed from its events), and the §17 stk. 4
 *    volumes.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { openDatabase, type Db } from '../src/storage/db.js';
import { addDays, localDate } from '../src/deadlines/calendar.js';
import type { Agreement } from '../src/deadlines/types.js';
import type { Party } from '../src/parties/parties.js';
import { loadMunicipalities } from '../src/parties/municipalities.js';
import { createSettlementService } from '../src/settlement/service.js';
import { createStatisticsService } from '../src/statistics/service.js';
import { createLogger } from '../src/shared/logger.js';

export interface NumbersOptions {
  dataDir: string;
  pg?: { url: string; schema: string };
  cases: number;
  runs: number;
  progress: (s: string) => void;
}

export interface NumbersTiming {
  name: string;
  p50Ms: number;
  maxMs: number;
  /** what the report holds, e.g. statements or rows */
  size: string;
}

export interface NumbersResult {
  cases: number;
  agreements: number;
  seedMs: number;
  timings: NumbersTiming[];
}

const SERVICES = ['rehab-team-advice', 'ongoing-case-advice', 'early-pension-statement', 'clinical-assessment'] as const;
const KIND: Record<(typeof SERVICES)[number], string> = {
  'rehab-team-advice': 'pre-meeting-advice',
  'ongoing-case-advice': 'statement',
  'early-pension-statement': 'statement',
  'clinical-assessment': 'specialist-attest',
};
const BATCH = 400;

const cert = [{ subjectSerialNumber: 'UI:DK-E:G:00000000-0000-0000-0000-000000000000' }];
const FINANCE = {
  id: 'fin-bench',
  kind: 'staff',
  roles: ['finance'],
  name: 'Bench',
  certificates: cert,
  municipalities: [],
  ydernumre: [],
  capacityPerDay: 3,
} as unknown as Party;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

async function seed(db: Db, o: NumbersOptions, agreements: Agreement[]): Promise<void> {
  const now = Date.now();
  const codes = agreements.map((a) => a.municipalityCode!);
  let rand = 42;
  const next = () => {
    rand = (rand * 1103515245 + 12345) % 2 ** 31;
    return rand / 2 ** 31;
  };
  type Row = Record<string, unknown>;
  let cases: Row[] = [];
  let events: Row[] = [];
  let responses: Row[] = [];
  const flush = async () => {
    if (cases.length)
      await db.db
        .insertInto('cases')
        .values(cases as never)
        .execute();
    for (let i = 0; i < events.length; i += BATCH)
      await db.db
        .insertInto('case_events')
        .values(events.slice(i, i + BATCH) as never)
        .execute();
    if (responses.length)
      await db.db
        .insertInto('responses')
        .values(responses as never)
        .execute();
    cases = [];
    events = [];
    responses = [];
  };
  for (let i = 0; i < o.cases; i++) {
    const id = randomUUID();
    const code = codes[i % codes.length]!;
    const service = SERVICES[Math.floor(next() * SERVICES.length)]!;
    const receivedMs = now - Math.floor(next() * 365 * 86_400_000);
    const receivedAt = iso(receivedMs);
    const receivedDate = localDate(receivedAt);
    const delivered = next() < 0.9;
    const days = 3 + Math.floor(next() * 25);
    const deliveredMs = Math.min(receivedMs + days * 86_400_000, now - 60_000);
    const deliveredAt = iso(deliveredMs);
    const agreementId = `bench-${code}`;
    cases.push({
      id,
      sender_party_id: `kommune-${code}`,
      municipality_code: code,
      service,
      case_type: 'bench',
      urgent: 0,
      state: delivered ? 'closed' : 'assigned',
      complete: 1,
      received_at: receivedAt,
      clock_started_at: receivedAt,
      agreement_id: agreementId,
      citizen_ref: `ref-${i}`,
      gp_ydernummer: null,
      treating_clinicians: '[]',
      consents: '{}',
      manifest_enc: Buffer.from([0]),
      clock: '{}',
      assigned_to: 'coord-bench',
      created_at: receivedAt,
      updated_at: delivered ? deliveredAt : receivedAt,
      requests: '{}',
    });
    const ev = (at: string, event: string, data: Record<string, unknown>) =>
      events.push({ case_id: id, at, event, actor: 'bench', data: JSON.stringify(data) });
    ev(receivedAt, 'received', {});
    if (next() < 0.05) {
      ev(iso(receivedMs + 86_400_000), 'extension-agreed', {
        kind: service === 'clinical-assessment' ? 'attest' : 'statement',
        dueDate: addDays(receivedDate, 40),
        reason: 'bench',
        agreedWith: 'bench',
      });
    }
    if (service === 'rehab-team-advice') ev(iso(receivedMs + 3_600_000), 'meeting-booked', { date: addDays(receivedDate, days) });
    if (service === 'clinical-assessment')
      ev(iso(receivedMs + 3_600_000), 'consultation-booked', { date: addDays(receivedDate, Math.max(1, days - 2)) });
    if (!delivered) continue;
    const responseId = randomUUID();
    responses.push({
      id: responseId,
      case_id: id,
      kind: KIND[service],
      author: 'coord-bench',
      content_enc: Buffer.from([0]),
      media_type: 'application/pdf',
      size: 1,
      sha256: '0'.repeat(64),
      blob_key: `bench-${responseId}`,
      created_at: deliveredAt,
    });
    ev(deliveredAt, 'response-submitted', { responseId, kind: KIND[service] });
    if (service !== 'rehab-team-advice') ev(deliveredAt, 'clock-stopped', { at: deliveredAt });
    if (service === 'clinical-assessment' && next() < 0.05) {
      ev(deliveredAt, 'further-assessment-requested', { rule: '§14 stk. 2', responseId, priceDkk: 4500 });
    }
    if (cases.length >= BATCH) await flush();
  }
  await flush();
}

async function time<T>(runs: number, f: () => Promise<T>, size: (t: T) => string): Promise<{ ms: number[]; size: string }> {
  let last = await f(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    last = await f();
    ms.push(performance.now() - t0);
  }
  return { ms, size: size(last) };
}

export async function measureNumbers(o: NumbersOptions): Promise<NumbersResult> {
  const db = await openDatabase({ url: o.pg?.url, dataDir: o.dataDir, schema: o.pg?.schema });
  try {
    const codes = loadMunicipalities().codes().sort();
    const year = localDate(new Date()).slice(0, 4);
    const agreements: Agreement[] = codes.map((code) => ({
      id: `bench-${code}`,
      municipalityCode: code,
      validFrom: `${Number(year) - 1}-01-01`,
      validTo: null,
      deadlines: {},
      rollForward: true,
      excludedStaff: [],
      expectedYearlyCases: Math.round(o.cases / codes.length),
      prices: {
        coordinatorFunction: { fteAnnualPriceDkk: 731234 },
        services: { 'clinical-assessment': 13750, 'ongoing-case-advice': 2100, 'early-pension-statement': 2100 },
      },
    }));
    const parties = codes.map((code) => ({
      id: `kommune-${code}`,
      kind: 'municipality',
      municipalityCode: code,
      name: `Kommune ${code}`,
      certificates: cert,
    }));
    const lookup = {
      current: () => agreements,
      byId: (id: string | null) => agreements.find((a) => a.id === id) ?? null,
      inForce: () => null,
    };
    o.progress(`numbers: seeding ${o.cases} cases over the last 365 days for ${codes.length} municipalities`);
    const t0 = performance.now();
    await seed(db, o, agreements);
    const seedMs = performance.now() - t0;
    if (db.dialect === 'sqlite') await sql`analyze`.execute(db.db);
    const log = createLogger({ level: 'silent' });
    const settlement = createSettlementService({
      db,
      agreements: lookup,
      parties: { all: () => parties as unknown as Party[] },
      priceIndex: () => ({ baseYear: 2011, factors: { '2011': 100, [year]: 133.6 } }),
      log,
    });
    const statistics = createStatisticsService({ db, agreements: lookup });
    const today = localDate(new Date());
    const first = `${today.slice(0, 7)}-01`;
    const lastMonth = addDays(first, -1).slice(0, 7);
    const from = addDays(today, -364);
    const timings: NumbersTiming[] = [];
    const add = (name: string, r: { ms: number[]; size: string }) => {
      const sorted = [...r.ms].sort((a, b) => a - b);
      timings.push({
        name,
        p50Ms: Math.round(sorted[Math.floor((sorted.length - 1) / 2)]! * 10) / 10,
        maxMs: Math.round(sorted.at(-1)! * 10) / 10,
        size: r.size,
      });
      o.progress(`numbers: ${name}: p50 ${timings.at(-1)!.p50Ms} ms (${r.size})`);
    };
    add(
      `settlement statements of ${lastMonth}, every payer`,
      await time(
        o.runs,
        () => settlement.statements(FINANCE, lastMonth),
        (s) => `${s.length} statements, ${s.reduce((n, x) => n + x.lines.length, 0)} lines`,
      ),
    );
    add(
      `§18 stk. 2 price cap, ${year}`,
      await time(
        o.runs,
        () => settlement.priceCap(FINANCE, Number(year)),
        (r) => `${r.length} payers`,
      ),
    );
    add(
      'waiting times, 12 months by month',
      await time(
        o.runs,
        () => statistics.waitingTimes(FINANCE, { from, to: today, groupBy: 'month' }),
        (r) => `${r.rows.length} rows, ${r.total.received} received`,
      ),
    );
    add(
      'waiting times, 12 months by municipality',
      await time(
        o.runs,
        () => statistics.waitingTimes(FINANCE, { from, to: today, groupBy: 'municipality' }),
        (r) => `${r.rows.length} rows`,
      ),
    );
    add(
      '§17 stk. 4 volumes',
      await time(
        o.runs,
        () => statistics.volumes(FINANCE),
        (r) => `${r.items.length} agreements`,
      ),
    );
    return { cases: o.cases, agreements: agreements.length, seedMs: Math.round(seedMs), timings };
  } finally {
    if (o.pg) await sql`drop schema if exists ${sql.id(o.pg.schema)} cascade`.execute(db.db);
    await db.close();
  }
}
