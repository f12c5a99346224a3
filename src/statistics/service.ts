/**
 * Statistics for team leads, finance and the senders: waiting times computed
 * from the case events (§21–§23), and the §17 stk. 4 monitoring of the number
 * of cases against each agreement's expectation.
 *
 * Who sees what: staff with the role team-lead or finance see every case; a
 * municipality or the senior-pension unit sees the cases it sent (waiting
 * times) and its own agreements (volumes); anyone else is refused (403).
 */
import type { Db } from '../storage/db.js';
import type { Party } from '../parties/parties.js';
import { hasRole } from '../parties/roles.js';
import { forbidden } from '../shared/problem.js';
import { endOfLocalDay, localDate, startOfLocalDay } from '../deadlines/calendar.js';
import type { Agreement, AgreementLookup } from '../deadlines/types.js';
import { createStatisticsStore, type StatsEventRow } from './store.js';
import { waitingTimes as computeWaitingTimes, type StatsCase } from './waiting-times.js';
import { earliestYearStart, volumeRows, VOLUME_RULE } from './volumes.js';
import type { VolumeReport, VolumeRow, WaitingTimesQuery, WaitingTimesReport } from './schema.js';

export type { VolumeReport, VolumeRow, WaitingTimesQuery, WaitingTimesReport };

/** The default of VOLUME_DEVIATION_ALERT_PCT. */
export const DEFAULT_VOLUME_ALERT_PCT = 15;

export const STATISTICS_FORBIDDEN =
  'the statistics are for team leads and finance staff, and for municipalities and the senior-pension unit (their own cases)';

/** Whose figures a party may see: all (null) or only those of the cases it sent (its id); undefined = none. */
export function statisticsScope(party: Party | undefined): { senderPartyId: string | null } | undefined {
  if (hasRole(party, 'team-lead', 'finance')) return { senderPartyId: null };
  if (party && (party.kind === 'municipality' || party.kind === 'senior-pension-unit')) return { senderPartyId: party.id };
  return undefined;
}

function scopeOrForbidden(party: Party | undefined): { senderPartyId: string | null } {
  const scope = statisticsScope(party);
  if (!scope) throw forbidden(STATISTICS_FORBIDDEN, 'wrong-party-kind');
  return scope;
}

export interface StatisticsServiceDeps {
  db: Db;
  /** the gateway's agreements: `byId` for a case's deadlines, `current` for §17 stk. 4 */
  agreements: Pick<AgreementLookup, 'byId'> & { current(): Agreement[] };
  /** a municipality's name by its code (the parties file), if known */
  municipalityName?: (code: string) => string | undefined;
  /** VOLUME_DEVIATION_ALERT_PCT (default 15) */
  volumeAlertPct?: number;
  now?: () => Date;
}

export function createStatisticsService(deps: StatisticsServiceDeps) {
  const store = createStatisticsStore(deps.db.db);
  const now = deps.now ?? (() => new Date());
  const volumeAlertPct = deps.volumeAlertPct ?? DEFAULT_VOLUME_ALERT_PCT;

  /** Waiting times over [from, to] (local dates, inclusive), recomputed from each case's stored events. */
  async function waitingTimes(party: Party, query: WaitingTimesQuery): Promise<WaitingTimesReport> {
    const { senderPartyId } = scopeOrForbidden(party);
    const at = now();
    const rows = await store.cases({
      receivedBefore: endOfLocalDay(query.to),
      activeSince: startOfLocalDay(query.from),
      senderPartyId,
    });
    const byCase = new Map<string, StatsEventRow[]>();
    for (const e of await store.events(rows.map((r) => r.id))) {
      const list = byCase.get(e.case_id);
      if (list) list.push(e);
      else byCase.set(e.case_id, [e]);
    }
    const cases: StatsCase[] = rows.map((r) => ({
      id: r.id,
      municipalityCode: r.municipality_code,
      service: r.service,
      urgent: r.urgent === 1,
      receivedAt: r.received_at,
      clockStartedAt: r.clock_started_at,
      agreementId: r.agreement_id,
      events: byCase.get(r.id) ?? [],
    }));
    return computeWaitingTimes(cases, {
      from: query.from,
      to: query.to,
      groupBy: query.groupBy ?? null,
      today: localDate(at),
      generatedAt: at.toISOString(),
      senderPartyId,
      agreementOf: (id) => deps.agreements.byId(id),
      municipalityName: deps.municipalityName,
    });
  }

  /** §17 stk. 4 for every agreement in force today that sets an expected number of cases. */
  async function allVolumes(): Promise<VolumeReport> {
    const today = localDate(now());
    const agreements = deps.agreements.current();
    const since = earliestYearStart(agreements, today);
    const rows =
      since === null
        ? []
        : await store.receivedUnder(
            agreements.map((a) => a.id),
            startOfLocalDay(since),
          );
    const cases = rows.map((r) => ({ agreementId: r.agreement_id, service: r.service, receivedAt: r.received_at }));
    // The gateway's records begin with its first receipt (today, before any): a gateway taken into use mid-year
    // counts from then, not against a whole year of cases it never saw.
    const first = since === null ? null : await store.firstReceivedAt();
    return {
      asOf: today,
      rule: VOLUME_RULE,
      alertThresholdPct: volumeAlertPct,
      items: volumeRows(agreements, cases, today, volumeAlertPct, first === null ? today : localDate(first)),
    };
  }

  /** §17 stk. 4 as `party` may see it: team leads and finance every agreement, a sender its own agreements. */
  async function volumes(party: Party): Promise<VolumeReport> {
    const { senderPartyId } = scopeOrForbidden(party);
    const report = await allVolumes();
    if (senderPartyId === null) return report;
    const own = (r: VolumeRow) =>
      party.kind === 'municipality' ? r.municipalityCode === party.municipalityCode && r.partyId === null : r.partyId === party.id;
    return { ...report, items: report.items.filter(own) };
  }

  /** The agreements in alert now (|deviation| above the threshold): for the team leads' overview. */
  async function volumeAlerts(): Promise<VolumeRow[]> {
    return (await allVolumes()).items.filter((r) => r.alert);
  }

  return { waitingTimes, volumes, allVolumes, volumeAlerts, volumeAlertPct };
}

export type StatisticsService = ReturnType<typeof createStatisticsService>;
