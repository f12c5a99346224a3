/**
 * §17 stk. 4: continuous monitoring of the deviations from the expected
 * number of cases. Checks at start and every hour: sets the gauges
 * postkasse_volume_agreements_in_alert (how many agreements deviate above the
 * threshold) and postkasse_volume_deviation_max_abs_percent on the registry the
 * caller passes in, and logs one warning naming the agreement when one goes into
 * alert (ids and numbers only, never personal data). Issue 15: /metrics is
 * unauthenticated, so no series names an agreement (and with it a municipality);
 * which one deviates is in the log and in GET /v1/statistics/volumes.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { StatisticsService, VolumeReport } from './service.js';
import { VOLUME_RULE } from './volumes.js';

export const VOLUME_METRICS = {
  maxDeviation: 'postkasse_volume_deviation_max_abs_percent',
  inAlert: 'postkasse_volume_agreements_in_alert',
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

function gauge(registry: Registry, name: string, help: string): Gauge {
  return (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] });
}

export function createVolumeMonitor(deps: {
  statistics: Pick<StatisticsService, 'allVolumes'>;
  registry: Registry;
  log: Logger;
  intervalMs?: number;
}): VolumeMonitor {
  const { log } = deps;
  const maxDeviation = gauge(
    deps.registry,
    VOLUME_METRICS.maxDeviation,
    '§17 stk. 4: the largest deviation, either way, of any agreement from its expected cases pro-rated to today, in percent',
  );
  const alerting = gauge(
    deps.registry,
    VOLUME_METRICS.inAlert,
    '§17 stk. 4: agreements whose deviation from the expected number of cases is above VOLUME_DEVIATION_ALERT_PCT',
  );
  const inAlert = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<VolumeReport> | undefined;

  async function run(): Promise<VolumeReport> {
    const report = await deps.statistics.allVolumes();
    const deviations = report.items.flatMap((r) => (r.deviationPct === null ? [] : [Math.abs(r.deviationPct)]));
    maxDeviation.set(deviations.length > 0 ? Math.max(...deviations) : 0);
    alerting.set(new Set(report.items.filter((r) => r.alert).map((r) => r.agreementId)).size);
    for (const r of report.items) {
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
