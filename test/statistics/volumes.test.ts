/**
 * §17 stk. 4: the agreement year, the pro-rated expectation, the deviation and
 * the alert threshold (figures worked out by hand), the hourly monitor's
 * gauges and its one warning per alert, and VOLUME_DEVIATION_ALERT_PCT.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, type Gauge } from 'prom-client';
import type { Agreement } from '../../src/deadlines/types.js';
import { startOfLocalDay } from '../../src/deadlines/calendar.js';
import { agreementYear, deviationPct, isVolumeAlert, round1, volumeRows, type VolumeCase } from '../../src/statistics/volumes.js';
import { createVolumeMonitor, VOLUME_METRICS } from '../../src/statistics/monitor.js';
import type { VolumeReport, VolumeRow } from '../../src/statistics/schema.js';
import { ConfigError, loadConfig } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { logCapture } from '../helpers/logs.js';

const agreement = (over: Partial<Agreement>): Agreement => ({
  id: 'a',
  municipalityCode: '101',
  validFrom: '2027-01-01',
  validTo: null,
  deadlines: {},
  rollForward: true,
  excludedStaff: [],
  ...over,
});

/** `n` cases received at 10:00 local on `date`. */
const cases = (agreementId: string, service: string, date: string, n: number): VolumeCase[] =>
  Array.from({ length: n }, () => ({
    agreementId,
    service,
    receivedAt: new Date(Date.parse(startOfLocalDay(date)) + 10 * 3_600_000).toISOString(),
  }));

describe('§17 stk. 4: deviation from the expected number of cases', () => {
  test('§17 stk. 4: agreement years start on validFrom’s month and day (29 February: 28 February in common years)', () => {
    assert.deepEqual(agreementYear('2025-07-01', '2026-06-30'), { start: '2025-07-01', end: '2026-06-30', days: 365 });
    assert.deepEqual(agreementYear('2025-07-01', '2026-07-01'), { start: '2026-07-01', end: '2027-06-30', days: 365 });
    assert.deepEqual(agreementYear('2027-04-01', '2027-04-10'), { start: '2027-04-01', end: '2028-03-31', days: 366 });
    assert.deepEqual(agreementYear('2024-02-29', '2025-03-01'), { start: '2025-02-28', end: '2026-02-27', days: 365 });
    assert.deepEqual(agreementYear('2024-02-29', '2028-02-29'), { start: '2028-02-29', end: '2029-02-27', days: 365 });
  });

  test('§17 stk. 4: the expectation is pro-rated by the days elapsed (year start through today) over the days of the agreement year', () => {
    // year 1 Apr 2027 – 31 Mar 2028 (366 days: 29 Feb 2028); today 10 Apr = 10 days elapsed;
    // expected 365 × 10 / 366 = 9.9727; actual 12: (12 − 9.9727) / 9.9727 = +20.33 % → 20.3, above 15: alert
    const a = agreement({ id: 'k', validFrom: '2026-04-01', expectedYearlyCases: 365 });
    const [row] = volumeRows([a], cases('k', 'rehab-team-advice', '2027-04-03', 12), '2027-04-10', 15);
    assert.deepEqual(row, {
      agreementId: 'k',
      municipalityCode: '101',
      partyId: null,
      yearStart: '2027-04-01',
      yearEnd: '2028-03-31',
      daysInYear: 366,
      countedFrom: '2027-04-01',
      elapsedDays: 10,
      expectedYearly: 365,
      expectedToDate: 10,
      actual: 12,
      deviationPct: 20.3,
      alert: true,
    });
  });

  test('§17 stk. 4: a deviation of exactly the threshold is no alert; one decimal above it is, either way', () => {
    assert.equal(deviationPct(23, 20), 15);
    assert.equal(isVolumeAlert(15, 15), false);
    assert.equal(isVolumeAlert(15.1, 15), true);
    assert.equal(isVolumeAlert(-15, 15), false);
    assert.equal(isVolumeAlert(-15.1, 15), true);
    assert.equal(isVolumeAlert(null, 15), false);
    // 17 of an expected 20: −15 %, no alert; 16: −20 %, alert
    assert.equal(deviationPct(17, 20), -15);
    assert.equal(deviationPct(16, 20), -20);
  });

  test('§17 stk. 4: the deviation is rounded to one decimal, half away from zero; null when nothing is expected yet', () => {
    assert.equal(round1(20.25), 20.3);
    assert.equal(round1(-20.25), -20.3);
    assert.equal(round1(0.04), 0);
    assert.equal(deviationPct(1, 3), -66.7); // (1 − 3) / 3 = −66.67 %
    assert.equal(deviationPct(5, 0), null);
    assert.equal(deviationPct(0, 0), null);
    assert.equal(deviationPct(0, 2), -100);
  });

  test('§17 stk. 4: per-service rows when the agreement sets the expected cases per service; only this agreement year counts', () => {
    // 2027: 365 days; today 10 Jan = 10 days; total 365 → 10.0; rehab 300 → 8.219 → 8.2; ongoing 65 → 1.781 → 1.8
    const a = agreement({ id: 'k', expectedYearlyCases: { 'rehab-team-advice': 300, 'ongoing-case-advice': 65 } });
    const list = [
      ...cases('k', 'rehab-team-advice', '2027-01-04', 8),
      ...cases('k', 'ongoing-case-advice', '2027-01-05', 3),
      // 23:59 local on today counts; 23:30 local on 31 Dec 2026 (22:30 UTC) does not (another agreement year)
      { agreementId: 'k', service: 'ongoing-case-advice', receivedAt: '2027-01-10T22:59:00.000Z' },
      { agreementId: 'k', service: 'ongoing-case-advice', receivedAt: '2026-12-31T22:30:00.000Z' },
      ...cases('other', 'ongoing-case-advice', '2027-01-05', 50),
      // a service the agreement expects none of: not counted against the expectation of the others
      ...cases('k', 'clinical-assessment', '2027-01-06', 5),
    ];
    const [row] = volumeRows([a], list, '2027-01-10', 15) as [VolumeRow];
    // total 12 vs 10.0: +20.0 % alert; rehab 8 vs 8.219: −2.7 %; ongoing 4 vs 1.781: +124.6 % alert
    assert.deepEqual([row.expectedYearly, row.expectedToDate, row.actual, row.deviationPct, row.alert], [365, 10, 12, 20, true]);
    assert.deepEqual(row.services, [
      { service: 'ongoing-case-advice', expectedYearly: 65, expectedToDate: 1.8, actual: 4, deviationPct: 124.6, alert: true },
      { service: 'rehab-team-advice', expectedYearly: 300, expectedToDate: 8.2, actual: 8, deviationPct: -2.7, alert: false },
    ]);
  });

  test("§17 stk. 4: a gateway taken into use mid-year counts from its first receipt, not against the whole year's share", () => {
    // agreement year 2027 (365 days); the gateway's records begin 1 Dec 2027; today 10 Dec: 10 days counted;
    // expected 365 × 10 / 365 = 10; actual 9 (one case received on 30 Nov elsewhere cannot be here, and is not counted)
    const a = agreement({ id: 'k', expectedYearlyCases: 365 });
    const list = [
      ...cases('k', 'rehab-team-advice', '2027-12-01', 4),
      ...cases('k', 'rehab-team-advice', '2027-12-09', 5),
      ...cases('k', 'rehab-team-advice', '2027-11-30', 1),
    ];
    const [row] = volumeRows([a], list, '2027-12-10', 15, '2027-12-01') as [VolumeRow];
    assert.deepEqual(
      [row.yearStart, row.countedFrom, row.elapsedDays, row.expectedToDate, row.actual, row.deviationPct, row.alert],
      ['2027-01-01', '2027-12-01', 10, 10, 9, -10, false],
    );
    // without that, 9 against 344 × 365 / 365 = 344 expected: −97.4 %, an alert all December
    const [whole] = volumeRows([a], list, '2027-12-10', 15) as [VolumeRow];
    assert.deepEqual(
      [whole.countedFrom, whole.elapsedDays, whole.actual, whole.deviationPct, whole.alert],
      ['2027-01-01', 344, 10, -97.1, true],
    );
    // records older than the agreement year: the year counts whole; records beginning today: one day
    assert.equal((volumeRows([a], list, '2027-12-10', 15, '2025-03-01')[0] as VolumeRow).countedFrom, '2027-01-01');
    assert.equal((volumeRows([a], [], '2027-12-10', 15, '2027-12-10')[0] as VolumeRow).elapsedDays, 1);
  });

  test('§17 stk. 4: agreements not in force today, or without expected cases, are not monitored', () => {
    const rows = volumeRows(
      [
        agreement({ id: 'ended', validTo: '2027-01-09', expectedYearlyCases: 100 }),
        agreement({ id: 'future', validFrom: '2027-02-01', expectedYearlyCases: 100 }),
        agreement({ id: 'none' }),
        agreement({ id: 'spe', municipalityCode: undefined, partyId: 'spe', expectedYearlyCases: 0 }),
      ],
      [],
      '2027-01-10',
      15,
    );
    assert.deepEqual(
      rows.map((r) => [r.agreementId, r.partyId, r.expectedToDate, r.deviationPct, r.alert]),
      [['spe', 'spe', 0, null, false]],
    );
  });
});

describe('§17 stk. 4: the monitor', () => {
  const rowOf = (agreementId: string, deviation: number | null, alert: boolean): VolumeRow => ({
    agreementId,
    municipalityCode: '101',
    partyId: null,
    yearStart: '2027-01-01',
    yearEnd: '2027-12-31',
    daysInYear: 365,
    countedFrom: '2027-01-01',
    elapsedDays: 10,
    expectedYearly: 365,
    expectedToDate: 10,
    actual: 0,
    deviationPct: deviation,
    alert,
  });
  const reportOf = (...items: VolumeRow[]): VolumeReport => ({ asOf: '2027-01-10', rule: '§17 stk. 4', alertThresholdPct: 15, items });

  test('§17 stk. 4: aggregate gauges (no agreement named, issue 15), one warning naming the agreement when it goes into alert', async () => {
    const registry = new Registry();
    const cap = logCapture();
    const log = createLogger({ level: 'info', destination: cap.stream });
    let next = reportOf(rowOf('k', -100, true), rowOf('f', 3.2, false));
    const monitor = createVolumeMonitor({ statistics: { allVolumes: async () => next }, registry, log });
    const value = async (name: string) => {
      const { values } = await (registry.getSingleMetric(name) as Gauge).get();
      assert.ok(
        values.every((v) => Object.keys(v.labels).length === 0),
        'no label names an agreement',
      );
      return values[0]?.value;
    };
    const warnings = () => cap.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);

    await monitor.check();
    assert.equal(await value(VOLUME_METRICS.maxDeviation), 100);
    assert.equal(await value(VOLUME_METRICS.inAlert), 1);
    assert.equal(warnings().length, 1);
    const w = warnings()[0]!;
    assert.match(String(w.msg), /§17 stk\. 4/);
    assert.deepEqual([w.agreementId, w.deviationPct, w.thresholdPct, w.rule], ['k', -100, 15, '§17 stk. 4']);

    await monitor.check(); // still in alert: no second warning
    assert.equal(warnings().length, 1);

    next = reportOf(rowOf('k', 2, false), rowOf('f', 16, true)); // k recovers, f goes into alert
    await monitor.check();
    assert.equal(await value(VOLUME_METRICS.inAlert), 1);
    assert.equal(await value(VOLUME_METRICS.maxDeviation), 16);
    assert.deepEqual(
      warnings().map((x) => x.agreementId),
      ['k', 'f'],
    );

    next = reportOf(rowOf('f', null, false)); // k no longer monitored; a null deviation counts as none
    await monitor.check();
    assert.equal(await value(VOLUME_METRICS.maxDeviation), 0);
    assert.equal(await value(VOLUME_METRICS.inAlert), 0);
  });

  test('§17 stk. 4: start checks at once and then on a timer that does not hold the process; stop waits for a check in flight', async () => {
    const registry = new Registry();
    const log = createLogger({ level: 'silent' });
    let calls = 0;
    const monitor = createVolumeMonitor({
      statistics: {
        allVolumes: async () => {
          calls++;
          return reportOf();
        },
      },
      registry,
      log,
      intervalMs: 3_600_000,
    });
    monitor.start();
    monitor.start(); // a second start is ignored
    await monitor.stop();
    assert.equal(calls, 1);
  });
});

describe('VOLUME_DEVIATION_ALERT_PCT', () => {
  test('§17 stk. 4: defaults to 15 and takes a positive percentage', () => {
    assert.equal(loadConfig({}).VOLUME_DEVIATION_ALERT_PCT, 15);
    assert.equal(loadConfig({ VOLUME_DEVIATION_ALERT_PCT: '7.5' }).VOLUME_DEVIATION_ALERT_PCT, 7.5);
    for (const bad of ['abc', '0', '-5']) {
      assert.throws(
        () => loadConfig({ VOLUME_DEVIATION_ALERT_PCT: bad }),
        (e: unknown) => e instanceof ConfigError && /VOLUME_DEVIATION_ALERT_PCT must be/.test(e.message),
        bad,
      );
    }
  });
});
