/**
 * §17 stk. 4: continuous monitoring of the deviations from the expected
 * number of cases. Checks at start and every hour: sets the gauges
 * postkasse_volume_deviation_percent{agreement} and
 * postkasse_volume_deviation_alert{agreement} (0/1) on the registry the caller
 * passes in, and logs one warning when an agreement goes into alert (ids and
 * numbers only, never personal data).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { StatisticsService, VolumeReport } from './service.js';
import { VOLUME_RULE } from './volumes.js';

export const VOLUME_METRICS = {
  deviation: 'postkasse_volume_deviation_percent',
  alert: 'postkasse_volume_deviation_alert',
} as const;

export const VOLUME_CHECK_INTERVAL_MS = 3_600_000;

export interface VolumeMonitor {
  /** checks now, then every intervalMs (the timer does not keep the process alive) */
  start(): void;
  /** stops the timer and waits for a check in flight (call before the database closes) */
  stop(): Promise<void>;
  /** one check: gauges set, transitions into alert logged */
  check(): Promise<VolumeReport>;
}

function gauge(registry: Registry, name: string, help: string): Gauge<'agreement'> {
  return (
    (registry.getSingleMetric(name) as Gauge<'agreement'> | undefined) ??
    new Gauge({ name, help, labelNames: ['agreement'] as const, registers: [registry] })
  );
}

export function createVolumeMonitor(deps: {
  statistics: Pick<StatisticsService, 'allVolumes'>;
  registry: Registry;
  log: Logger;
  intervalMs?: number;
}): VolumeMonitor {
  const { log } = deps;
  const deviation = gauge(
    deps.registry,
    VOLUME_METRICS.deviation,
    '§17 stk. 4: cases received this agreement year against the expectation pro-rated to today, in percent',
  );
  const alert = gauge(
    deps.registry,
    VOLUME_METRICS.alert,
    '§17 stk. 4: 1 when the deviation from the expected number of cases is above VOLUME_DEVIATION_ALERT_PCT',
  );
  const inAlert = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<VolumeReport> | undefined;

  async function run(): Promise<VolumeReport> {
    const report = await deps.statistics.allVolumes();
    deviation.reset();
    alert.reset();
    for (const r of report.items) {
      if (r.deviationPct !== null) deviation.set({ agreement: r.agreementId }, r.deviationPct);
      alert.set({ agreement: r.agreementId }, r.alert ? 1 : 0);
      if (r.alert && !inAlert.has(r.agreementId)) {
        log.warn(
          {
            rule: VOLUME_RULE,
            agreementId: r.agreementId,
            municipalityCode: r.municipalityCode,
            partyId: r.partyId,
            yearStart: r.yearStart,
            actual: r.actual,
            expectedToDate: r.expectedToDate,
            deviationPct: r.deviationPct,
            thresholdPct: report.alertThresholdPct,
          },
          `${VOLUME_RULE}: the number of cases deviates from the agreement's expected number by more than the threshold`,
        );
      } else if (!r.alert && inAlert.has(r.agreementId)) {
        log.info(
          { rule: VOLUME_RULE, agreementId: r.agreementId, deviationPct: r.deviationPct },
          `${VOLUME_RULE}: deviation back within the threshold`,
        );
      }
    }
    inAlert.clear();
    for (const r of report.items) if (r.alert) inAlert.add(r.agreementId);
    return report;
  }

  function check(): Promise<VolumeReport> {
    // One check at a time: a slow one is joined, not doubled.
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  }

  const tick = () => {
    check().catch((err: unknown) => log.error({ err }, `${VOLUME_RULE}: the volume check failed`));
  };

  return {
    start() {
      if (timer) return;
      tick();
      timer = setInterval(tick, deps.intervalMs ?? VOLUME_CHECK_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
    check,
  };
}
