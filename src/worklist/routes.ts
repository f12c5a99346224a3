/**
 * Staff API routes (API.md "Staff: work queues"): each operation is declared
 * once (path, documentation, request schemas), mounted with its validation,
 * and described in OpenAPI from the same declaration.
 */
import { Router } from 'express';
import { streamStored } from '../shared/http.js';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { named, operation, route, type Named } from '../shared/api.js';
import { problemSchema } from '../receipts/schema.js';
import { requireStaff, requireTeamLead, staffOf } from '../parties/roles.js';
import type { DeadlineService } from '../deadlines/service.js';
import type { RoutingService } from '../routing/service.js';
import type { WorklistService } from './service.js';
import { createCaseActions, type CaseActions } from './actions.js';
import {
  assignAnswerSchema,
  assignBodySchema,
  caseViewSchema,
  clockActionSchema,
  conflictAnswerSchema,
  conflictBodySchema,
  consultationBodySchema,
  extensionBodySchema,
  extensionsSchema,
  leadListQuerySchema,
  leadListSchema,
  meetingBodySchema,
  worklistSchema,
} from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });
const caseParam = { caseId: 'the case id (from the receipt or a list)' };

/** A staff action on a case: JSON body, JSON answer, the usual refusals. */
function staffAction<B extends z.ZodType>(path: string, summary: string, body: Named<B>, answer: Named, status = '200') {
  return operation({
    method: 'post',
    path,
    summary,
    params: caseParam,
    body,
    responses: {
      [status]: { description: 'Recorded', body: answer },
      '400': problem('The body is not JSON'),
      '403': problem('Not allowed for this party'),
      '404': problem('No such case assigned to the caller'),
      '409': problem('The case is not in a state that allows this'),
      '422': problem('A field is invalid; `errors` names each one'),
    },
  });
}

const ClockAction = named('ClockAction', clockActionSchema);

export const operations = {
  worklist: operation({
    method: 'get',
    path: '/v1/worklist',
    summary: "The calling staff member's open cases, urgent first, then the earliest due",
    responses: { '200': { description: 'Worklist', body: named('Worklist', worklistSchema) }, '403': problem('Not a staff member') },
  }),
  leadList: operation({
    method: 'get',
    path: '/v1/cases',
    summary: 'Team leads: unassigned, awaiting-complete-case, overdue, at-risk or extended (§22, §23) cases of the region',
    query: leadListQuerySchema,
    responses: {
      '200': { description: 'Cases', body: named('LeadList', leadListSchema) },
      '403': problem('Not a team lead'),
      '422': problem('Unknown state filter'),
    },
  }),
  case: operation({
    method: 'get',
    path: '/v1/cases/{caseId}',
    summary: 'The case: state, deadlines, missing documents, documents, responses, history',
    params: caseParam,
    responses: {
      '200': { description: 'The case', body: named('Case', caseViewSchema) },
      '404': problem('No such case visible to this party'),
    },
  }),
  document: operation({
    method: 'get',
    path: '/v1/cases/{caseId}/documents/{part}',
    summary: 'A document of the case, decrypted (assigned staff member and team leads); every read is written to the access log',
    params: { ...caseParam, part: 'the document part name from the manifest' },
    responses: {
      '200': {
        description: 'The document bytes; Repr-Digest carries its SHA-256, Content-Disposition a file name with the extension of its type',
        headers: { 'Repr-Digest': 'sha-256=:<base64>:', 'Content-Disposition': 'attachment; filename="<part>.<ext>"' },
        content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
      },
      '403': problem('The sender of the case: it holds its documents already'),
      '404': problem('No such case or document visible to the caller'),
    },
  }),
  extensions: operation({
    method: 'get',
    path: '/v1/cases/{caseId}/extensions',
    summary:
      '§22/§23: the deadlines agreed moved in this case, with who at the requester agreed — for the requester, the assignee, team leads',
    params: caseParam,
    responses: {
      '200': { description: 'Extensions, oldest first', body: named('Extensions', extensionsSchema) },
      '404': problem('No such case visible to this party'),
    },
  }),
  meeting: staffAction(
    '/v1/cases/{caseId}/meeting',
    '§21: the coordinator is booked for the rehabilitation-team meeting (stops the clock)',
    named('MeetingBody', meetingBodySchema),
    ClockAction,
  ),
  consultation: staffAction(
    '/v1/cases/{caseId}/consultation',
    '§23: the consultation is booked',
    named('ConsultationBody', consultationBodySchema),
    ClockAction,
  ),
  extension: staffAction(
    '/v1/cases/{caseId}/extension',
    '§22/§23: another deadline agreed in this case',
    named('ExtensionBody', extensionBodySchema),
    ClockAction,
  ),
  conflict: staffAction(
    '/v1/cases/{caseId}/conflict',
    '§12 stk. 2: the assignee cannot work the case; it goes back to routing without them',
    named('ConflictBody', conflictBodySchema),
    named('ConflictAnswer', conflictAnswerSchema),
    '202',
  ),
  assign: staffAction(
    '/v1/cases/{caseId}/assign',
    'Team leads: assign the case by hand (every exclusion applies; nobody sets one aside)',
    named('AssignBody', assignBodySchema),
    named('AssignAnswer', assignAnswerSchema),
  ),
};

export interface StaffRouterDeps {
  worklist: WorklistService;
  deadlines: Pick<DeadlineService, 'bookMeeting' | 'bookConsultation' | 'agreeExtension'>;
  routing: Pick<RoutingService, 'declareConflict' | 'assignManually'>;
  log: Logger;
}

export function createStaffRouter(deps: StaffRouterDeps): Router {
  const router = Router();
  const { worklist } = deps;
  // The staff actions: the same code the staff pages call (who may act is checked there).
  const actions: CaseActions = createCaseActions(deps);
  const staff = [requireStaff()];

  route(router, operations.worklist, staff, async (req, res) => {
    res.json({ items: await worklist.worklist(staffOf(req)) });
  });

  route(router, operations.leadList, [requireTeamLead('listing cases is for team leads')], async (req, res) => {
    res.json({ items: await worklist.leadList(req.query.state) });
  });

  route(router, operations.case, [], async (req, res) => {
    res.json(await worklist.caseView(req.party!, req.params.caseId!));
  });

  route(router, operations.document, [], async (req, res) => {
    const { doc, stream, fileName } = await worklist.readDocument(req.party!, req.params.caseId!, req.params.part!);
    res.status(200);
    res.setHeader('content-type', doc.media_type);
    res.setHeader('content-length', String(doc.size));
    res.setHeader('content-disposition', `attachment; filename="${fileName}"`);
    res.setHeader('repr-digest', `sha-256=:${Buffer.from(doc.sha256, 'hex').toString('base64')}:`);
    res.setHeader('cache-control', 'no-store');
    await streamStored(res, stream, deps.log, 'document', { caseId: doc.case_id, documentId: doc.id });
  });

  route(router, operations.extensions, [], async (req, res) => {
    res.json({ items: await worklist.extensions(req.party!, req.params.caseId!) });
  });

  route(router, operations.meeting, staff, async (req, res) => {
    res.json(await actions.bookMeeting(staffOf(req), req.params.caseId!, req.body.date));
  });

  route(router, operations.consultation, staff, async (req, res) => {
    res.json(await actions.bookConsultation(staffOf(req), req.params.caseId!, req.body.date));
  });

  route(router, operations.extension, staff, async (req, res) => {
    res.json(await actions.agreeExtension(staffOf(req), req.params.caseId!, req.body));
  });

  route(router, operations.conflict, staff, async (req, res) => {
    res.status(202).json(await actions.declareConflict(staffOf(req), req.params.caseId!, req.body.reason));
  });

  route(router, operations.assign, [requireTeamLead('assigning cases is for team leads')], async (req, res) => {
    res.json(await actions.assign(staffOf(req), req.params.caseId!, req.body));
  });

  return router;
}
