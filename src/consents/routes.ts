/** Consents and agreements on a case, as recorded evidence (§13 stk. 3, §5 stk. 2, §10 stk. 3, §11 stk. 5). */
import { Router } from 'express';
import { named, operation, route } from '../shared/api.js';
import { problemSchema } from '../receipts/schema.js';
import type { ConsentService } from './service.js';
import { consentListSchema, consentRecordSchema, consentSchema } from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });
const caseParam = { caseId: 'the case id' };

export const operations = {
  record: operation({
    method: 'post',
    path: '/v1/cases/{caseId}/consents',
    summary: "Record a consent or agreement on the case: the case's sender or the staff member it is assigned to",
    description:
      'kind same-specialist-as-coordinator: the citizen agrees that the case’s coordinator does the assessment (§13 stk. 3); ' +
      'gp-discussion: the citizen’s written consent to discussing the case with the GP (§5 stk. 2, §11 stk. 5); ' +
      'municipality-agreement-citizen-contact: the municipality’s prior agreement to contact with the citizen (§5 stk. 2, §10 stk. 3, §11 stk. 5). ' +
      'A written one names the case document that holds it.',
    params: caseParam,
    body: named('ConsentRecord', consentRecordSchema),
    responses: {
      '201': { description: 'Recorded', body: named('Consent', consentSchema) },
      '404': problem('No such case for the caller to record on'),
      '422': problem('A field is invalid, the date is in the future, or the named document is not on the case'),
    },
  }),
  list: operation({
    method: 'get',
    path: '/v1/cases/{caseId}/consents',
    summary: 'The consents and agreements recorded on the case (sender, assignee, team leads)',
    params: caseParam,
    responses: {
      '200': { description: 'Consents, oldest first', body: named('ConsentList', consentListSchema) },
      '404': problem('No such case visible to the caller'),
    },
  }),
};

export function createConsentRouter(deps: { consents: ConsentService }): Router {
  const router = Router();
  route(router, operations.record, [], async (req, res) => {
    res.status(201).json(await deps.consents.record(req.party!, req.params.caseId!, req.body));
  });
  route(router, operations.list, [], async (req, res) => {
    res.json({ items: await deps.consents.list(req.party!, req.params.caseId!) });
  });
  return router;
}
