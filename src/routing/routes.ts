/**
 * §25 stk. 3: a municipality's right to another health coordinator. The
 * municipality asks; team leads see every request, a municipality its own.
 */
import { Router } from 'express';
import { named, operation, route } from '../shared/api.js';
import { forbidden } from '../shared/problem.js';
import { isTeamLead, requireKind } from '../parties/roles.js';
import { problemSchema } from '../receipts/schema.js';
import type { RoutingService } from './service.js';
import { coordinatorChangeBodySchema, coordinatorChangeListSchema, coordinatorChangeSchema } from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });

export const operations = {
  requestChange: operation({
    method: 'post',
    path: '/v1/coordinator-changes',
    summary: '§25 stk. 3: a municipality asks for another health coordinator',
    description:
      "From then on the coordinator is excluded from the municipality's new cases, and its open cases they hold are routed again " +
      'unless their meeting has been held. Nobody overrides the request.',
    body: named('CoordinatorChangeBody', coordinatorChangeBodySchema),
    responses: {
      '201': { description: 'Recorded; the listed cases were routed again', body: named('CoordinatorChange', coordinatorChangeSchema) },
      '403': problem('Not a municipality'),
      '422': problem('staffId is no health coordinator, or a field is invalid'),
    },
  }),
  listChanges: operation({
    method: 'get',
    path: '/v1/coordinator-changes',
    summary: '§25 stk. 3 requests: every one for team leads, its own for a municipality',
    responses: {
      '200': { description: 'Requests, newest first', body: named('CoordinatorChangeList', coordinatorChangeListSchema) },
      '403': problem('Neither a team lead nor a municipality'),
    },
  }),
};

export function createRoutingRouter(deps: { routing: Pick<RoutingService, 'requestCoordinatorChange' | 'coordinatorChanges'> }): Router {
  const router = Router();
  route(router, operations.requestChange, [requireKind('municipality')], async (req, res) => {
    res.status(201).json(await deps.routing.requestCoordinatorChange(req.party!, req.body));
  });
  route(router, operations.listChanges, [], async (req, res) => {
    if (req.party?.kind !== 'municipality' && !isTeamLead(req.party)) {
      throw forbidden('coordinator changes are seen by team leads and by the municipality that asked', 'wrong-party-kind');
    }
    res.json({ items: await deps.routing.coordinatorChanges(req.party!) });
  });
  return router;
}
