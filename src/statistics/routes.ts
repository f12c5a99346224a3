/** Statistics: waiting times (JSON or CSV) and the §17 stk. 4 volume monitoring. */
import { Router, type RequestHandler } from 'express';
import { named, operation, route } from '../shared/api.js';
import { problemSchema } from '../receipts/schema.js';
import { forbidden } from '../shared/problem.js';
import { STATISTICS_FORBIDDEN, statisticsScope, type StatisticsService } from './service.js';
import { volumeReportSchema, waitingTimesQuerySchema, waitingTimesSchema } from './schema.js';
import { waitingTimesCsv } from './waiting-times.js';
import { wantsCsv } from '../shared/csv.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });

export const operations = {
  waitingTimes: operation({
    method: 'get',
    path: '/v1/statistics/waiting-times',
    summary: 'Waiting times (§21–§23): received, delivered, met and missed by § rule, median and p90 days, open cases by age, extensions',
    description:
      'Team leads and finance staff: every case; a municipality or the senior-pension unit: the cases it sent. Computed from the ' +
      'cases and their stored events: each clock is recomputed by the deadline engine, so the figures match the case histories. ' +
      'Dates are local dates in Europe/Copenhagen, inclusive. `Accept: text/csv` or `format=csv` returns the same rows as CSV ' +
      '(one line per row, then the total; columns such as met:§22, missed:§22, open:0-7).',
    query: waitingTimesQuerySchema,
    responses: {
      '200': {
        description: 'The rows (groupBy) and the total',
        body: named('WaitingTimes', waitingTimesSchema),
        content: { 'text/csv': { schema: { type: 'string' } } },
        headers: { 'Content-Disposition': 'CSV only: attachment; filename=waiting-times_<from>_<to>.csv' },
      },
      '403': problem('Not a team lead, finance staff, municipality or the senior-pension unit'),
      '422': problem('A date is missing or not a real date, to is before from, or the period is longer than 3 years'),
    },
  }),
  volumes: operation({
    method: 'get',
    path: '/v1/statistics/volumes',
    summary: '§17 stk. 4: the cases received this agreement year against the expected number, per agreement in force today',
    description:
      'Team leads and finance staff: every agreement with expectedYearlyCases; a municipality or the senior-pension unit: its own. ' +
      'The expectation is pro-rated to today; an alert when the deviation is above VOLUME_DEVIATION_ALERT_PCT either way.',
    responses: {
      '200': { description: 'One item per agreement', body: named('VolumeReport', volumeReportSchema) },
      '403': problem('Not a team lead, finance staff, municipality or the senior-pension unit'),
    },
  }),
};

/** Refused before the query is read: who may not see statistics learns nothing else. */
const allowed: RequestHandler = (req, _res, next) =>
  next(statisticsScope(req.party) ? undefined : forbidden(STATISTICS_FORBIDDEN, 'wrong-party-kind'));

export function createStatisticsRouter(deps: { statistics: StatisticsService }): Router {
  const router = Router();
  route(router, operations.waitingTimes, [allowed], async (req, res) => {
    const report = await deps.statistics.waitingTimes(req.party!, req.query);
    res.vary('Accept');
    if (!wantsCsv(req)) {
      res.json(report);
      return;
    }
    res.type('text/csv; charset=utf-8').attachment(`waiting-times_${report.from}_${report.to}.csv`).send(waitingTimesCsv(report));
  });
  route(router, operations.volumes, [allowed], async (req, res) => {
    res.json(await deps.statistics.volumes(req.party!));
  });
  return router;
}
