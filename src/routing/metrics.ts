/**
 * Routing metrics (Prometheus, served on HEALTH_PORT's /metrics): routing
 * queue depth, unassigned cases, time from receipt to assignment.
 * Gauges that describe state are read at scrape time from their source (the
 * queue, the database), so they are right after a restart too.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RoutingMetricsSink } from './service.js';

export interface RoutingMetricSources {
  /** BullMQ job counts of the routing queue by state */
  queueCounts(): Promise<Record<string, number>>;
  /** number of cases in state 'unassigned' (nobody eligible) */
  unassignedCases(): Promise<number>;
}

export function createRoutingMetrics(registry: Registry, sources: RoutingMetricSources): RoutingMetricsSink {
  const queueState = ['wait', 'prioritized', 'active', 'delayed', 'failed'] as const;
  new Gauge({
    name: 'postkasse_routing_queue_jobs',
    help: 'Jobs in the routing queue by state (read from Redis at scrape time)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await sources.queueCounts();
        for (const s of queueState) this.set({ state: s }, counts[s] ?? 0);
      } catch {
        // Redis unreachable: leave the last values; /readyz reports Redis.
      }
    },
  });
  new Gauge({
    name: 'postkasse_cases_unassigned',
    help: 'Complete cases for which nobody is eligible (state unassigned), shown to team leads',
    registers: [registry],
    async collect() {
      try {
        this.set(await sources.unassignedCases());
      } catch {
        /* database unreachable: /readyz reports it */
      }
    },
  });
  const assignment = new Histogram({
    name: 'postkasse_routing_assignment_seconds',
    help: 'Time from the receipt that completed a case to its first assignment',
    labelNames: ['urgent'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const unassigned = new Counter({
    name: 'postkasse_routing_unassigned_total',
    help: 'Cases that found nobody eligible when routed',
    registers: [registry],
  });
  return {
    observeAssignment(seconds, urgent) {
      assignment.observe({ urgent: urgent ? 'true' : 'false' }, seconds);
    },
    unassigned() {
      unassigned.inc();
    },
  };
}
