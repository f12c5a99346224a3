/**
 * Prometheus metrics of the deadline reminders, registered on a Registry the
 * caller passes in (never the global one), so tests and several gateways in
 * one process do not collide. Registering twice on one registry reuses the
 * metrics already there.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface DeadlineMetrics {
  /** cases whose running clock is flagged at risk (and not yet overdue) */
  atRisk: Gauge;
  /** cases whose running clock is flagged overdue */
  overdue: Gauge;
  /** reminders recorded on a case, by type (at-risk | overdue) */
  reminders: Counter<'type'>;
}

export const METRIC_NAMES = {
  atRisk: 'postkasse_cases_at_risk',
  overdue: 'postkasse_cases_overdue',
  reminders: 'postkasse_deadline_reminders_total',
} as const;

export function createDeadlineMetrics(registry: Registry): DeadlineMetrics {
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
  const atRisk =
    existing<Gauge>(METRIC_NAMES.atRisk) ??
    new Gauge({
      name: METRIC_NAMES.atRisk,
      help: 'Cases with a running clock flagged at risk (a deadline is near) and not yet overdue',
      registers: [registry],
    });
  const overdue =
    existing<Gauge>(METRIC_NAMES.overdue) ??
    new Gauge({
      name: METRIC_NAMES.overdue,
      help: 'Cases with a running clock flagged overdue (a deadline has passed)',
      registers: [registry],
    });
  const reminders =
    existing<Counter<'type'>>(METRIC_NAMES.reminders) ??
    new Counter({
      name: METRIC_NAMES.reminders,
      help: 'Deadline reminders recorded on cases, by type',
      labelNames: ['type'] as const,
      registers: [registry],
    });
  // Both series exist from the start (0), so a dashboard never sees "no data".
  reminders.inc({ type: 'at-risk' }, 0);
  reminders.inc({ type: 'overdue' }, 0);
  return { atRisk, overdue, reminders };
}
