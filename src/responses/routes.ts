/**
 * POST /v1/cases/{caseId}/responses — multipart: part `response` (JSON, as a
 * field or a JSON file part) and part `document` (the signed-off PDF),
 * streamed into the encrypted blob store like intake documents. Only the
 * staff member the case is assigned to may respond; anyone else gets the
 * answer a missing case gets. A refused response keeps nothing.
 */
import { Router } from 'express';
import type { BlobStore } from '../storage/blobs.js';
import { badRequest } from '../shared/problem.js';
import type { UploadProblemLimits } from '../shared/uploads.js';
import { named, operation, route } from '../shared/api.js';
import { parseWith } from '../shared/validate.js';
import { requireStaff, requireTeamLead, staffOf } from '../parties/roles.js';
import { problemSchema } from '../receipts/schema.js';
import type { ResponseService } from './service.js';
import { createResponseUpload } from './upload.js';
import {
  conversationAnswerSchema,
  conversationBodySchema,
  resolveAnswerSchema,
  resolveBodySchema,
  responseAnswerSchema,
  responseRequestSchema,
} from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });

export const operations = {
  resolve: operation({
    method: 'post',
    path: '/v1/messages/{messageId}/resolve',
    summary:
      'Team leads: send a GP message kept as no-recipient-system, now that the GP directory knows the practice, or one that failed ' +
      'MedCom validation, now that its cause is corrected',
    description:
      'The CareCommunication is built now with the response instant as its clinical timestamps (§15 stk. 2), validated against ' +
      'the MedCom profiles, signed and queued for the practice the GP directory names. A message without a ydernummer (the ' +
      "municipality's manifest named no GP) needs the GP's `ydernummer` in the body; it must be one the GP directory knows, and " +
      'who gave it is recorded. An `invalid` message is rebuilt the same way from the GP directory, configuration and parties as ' +
      'they are now: `queued` when it validates, else `invalid` again with the new findings (GET /v1/medcom/messages/{id}). ' +
      'Audited. No body (or `{}`) for a message that has its ydernummer.',
    params: { messageId: 'the message id (from GET /v1/messages?state=no-recipient-system)' },
    body: named('ResolveBody', resolveBodySchema),
    responses: {
      '200': {
        description: 'Resolved: queued (or invalid, when the Bundle fails validation)',
        body: named('ResolveAnswer', resolveAnswerSchema),
      },
      '403': problem('Not a team lead'),
      '404': problem('No such message'),
      '409': problem(
        'The message has a recipient already, the GP directory still has no practice for its ydernummer, or a ydernummer was ' +
          'given for a message that has one',
      ),
      '422': problem(
        'ydernummer: not 6 digits, missing for a message without one, or not in the GP directory (`errors` names the field); ' +
          'nothing was changed',
      ),
    },
  }),
  conversation: operation({
    method: 'post',
    path: '/v1/cases/{caseId}/citizen-conversation',
    summary: '§11 stk. 3: the assigned coordinator records the conversation held with the citizen (before the statement)',
    params: { caseId: 'the case id' },
    body: named('ConversationBody', conversationBodySchema),
    responses: {
      '200': { description: 'Recorded', body: named('ConversationAnswer', conversationAnswerSchema) },
      '403': problem('Not a staff member'),
      '404': problem('No such case assigned to the caller'),
      '409': problem('The case is not open'),
      '422': problem('The date is not a real date between the receipt and today'),
    },
  }),
  respond: operation({
    method: 'post',
    path: '/v1/cases/{caseId}/responses',
    summary: 'The assigned staff member returns a statement, attest, advice, recommendation or GP notice with its signed-off PDF',
    params: { caseId: 'the case id' },
    multipart: {
      parts: { response: named('ResponseRequest', responseRequestSchema), document: 'binary' },
      required: ['response', 'document'],
    },
    responses: {
      '201': { description: 'Checked, signed and dispatched in one transaction', body: named('ResponseAnswer', responseAnswerSchema) },
      '400': problem('A part is missing, or the response part is not JSON'),
      '403': problem('Not a staff member'),
      '404': problem('No such case assigned to the caller'),
      '409': problem('The case is not open'),
      '413': problem('The document is too large'),
      '415': problem('The document is not a PDF'),
      '422': problem('The response does not fit its schema, or content the rules require is missing; `errors` names each field'),
    },
  }),
};

export function createResponsesRouter(deps: { blobs: BlobStore; responses: ResponseService; limits: UploadProblemLimits }): Router {
  const router = Router();
  const receive = createResponseUpload({ blobs: deps.blobs, limits: deps.limits });

  route(router, operations.resolve, [requireTeamLead('resolving GP messages is for team leads')], async (req, res) => {
    res.json(await deps.responses.resolveGpMessage(staffOf(req), req.params.messageId!, req.body ?? {}));
  });

  route(router, operations.conversation, [requireStaff()], async (req, res) => {
    res.json(await deps.responses.recordConversation(staffOf(req), req.params.caseId!, req.body.date));
  });

  route(router, operations.respond, [requireStaff('responses are returned by regional staff')], async (req, res) => {
    const staff = staffOf(req);
    const caseId = String(req.params.caseId);
    // Before reading the body: only the assignee may respond.
    await deps.responses.assertAssignee(staff, caseId);

    const upload = await receive(req, res);
    try {
      const rawField = upload.fields.response;
      const raw = upload.responseJson ?? (typeof rawField === 'string' ? Buffer.from(rawField, 'utf8') : undefined);
      if (!raw) throw badRequest('the "response" part (JSON) is missing', [{ path: 'response', message: 'required' }], 'response-missing');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest('the "response" part is not valid JSON', [{ path: 'response', message: 'not valid JSON' }], 'invalid-json');
      }
      const response = parseWith(responseRequestSchema, json, { what: 'the "response" part' });
      if (!upload.document)
        throw badRequest(
          'the "document" part (the signed-off PDF) is missing',
          [{ path: 'document', message: 'required' }],
          'document-missing',
        );
      const out = await deps.responses.submit(staff, caseId, response, upload.document);
      res.status(201).json(out);
    } catch (err) {
      await upload.discard();
      throw err;
    }
  });
  return router;
}
