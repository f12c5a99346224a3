/** Retention routes (issue 15): a team lead's legal hold on a case. */
import { Router } from 'express';
import { named, operation, route } from '../shared/api.js';
import { problemSchema } from '../receipts/schema.js';
import { requireTeamLead, staffOf } from '../parties/roles.js';
import type { RetentionService } from './service.js';
import { legalHoldBodySchema, retentionViewSchema } from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });
const caseParam = { caseId: 'the case id' };
const Body = named('LegalHoldBody', legalHoldBodySchema);
const View = named('Retention', retentionViewSchema);
const refusals = {
  '403': problem('Not a team lead'),
  '404': problem('No such case'),
  '409': problem('The case is (not) on legal hold already'),
  '410': problem('The case was purged: there is nothing left to hold'),
  '422': problem('The reason is missing'),
};

export const operations = {
  placeHold: operation({
    method: 'post',
    path: '/v1/cases/{caseId}/legal-hold',
    summary: 'Team leads: keep the case from the retention purge (legal hold), with a reason; audited',
    params: caseParam,
    body: Body,
    responses: { '200': { description: 'On hold', body: View }, ...refusals },
  }),
  liftHold: operation({
    method: 'post',
    path: '/v1/cases/{caseId}/legal-hold/lift',
    summary: 'Team leads: lift the legal hold, with a reason; audited. The purge takes the case once it is due',
    params: caseParam,
    body: Body,
    responses: { '200': { description: 'Lifted', body: View }, ...refusals },
  }),
};

export function createRetentionRouter(deps: { retention: RetentionService }): Router {
  const router = Router();
  const lead = [requireTeamLead('a legal hold is placed and lifted by team leads')];
  route(router, operations.placeHold, lead, async (req, res) => {
    res.json(await deps.retention.placeHold(staffOf(req), req.params.caseId!, req.body.reason));
  });
  route(router, operations.liftHold, lead, async (req, res) => {
    res.json(await deps.retention.liftHold(staffOf(req), req.params.caseId!, req.body.reason));
  });
  return router;
}
