/**
 * MedCom acknowledgements in, and what team leads see of MedCom messages.
 *
 * `POST /v1/medcom/inbox` takes a MedCom Acknowledgement over mutual TLS
 * from the region's VANS provider (a `vans-provider` party) or from a
 * gp-system party: the Bundle as `application/fhir+json`, or the VANSEnvelope
 * that carries it (`application/xml`). Bad input is a 4xx problem and nothing
 * of it is kept; an acknowledgement that matches no message of ours is kept
 * and reported, and answered 202 like any other — never a 5xx.
 */
import express, { Router, type RequestHandler } from 'express';
import { named, operation, route } from '../shared/api.js';
import { badRequest, unsupportedMediaType } from '../shared/problem.js';
import { requireKind, requireTeamLead } from '../parties/roles.js';
import { problemSchema } from '../receipts/schema.js';
import { parseVansEnvelope } from './vans.js';
import type { MedcomService } from './service.js';
import { inboxAnswerSchema, medcomMessageSchema, unmatchedAcksSchema } from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });

/** Acknowledgements are small; a VANSEnvelope around one stays far below this. */
export const MAX_INBOX_BYTES = 1_000_000;
const FHIR_JSON = ['application/fhir+json', 'application/json'];
const XML = ['application/xml', 'text/xml'];

export const operations = {
  inbox: operation({
    method: 'post',
    path: '/v1/medcom/inbox',
    summary: 'A MedCom Acknowledgement of a message the gateway sent (VANS provider or gp-system)',
    description:
      'The body is the Acknowledgement Bundle (application/fhir+json) or the VANSEnvelope that carries it (application/xml, ' +
      'Data = base64 of the Bundle, ServiceTag MCM:MIME application/fhir+json). It is validated against the MedCom Acknowledgement ' +
      'profile and correlated through MessageHeader.response.identifier (the MessageHeader.id of our message). A gp-system may ' +
      'acknowledge only messages addressed to it; the VANS provider only messages sent through VANS.',
    responses: {
      '202': { description: 'Received', body: named('MedcomInboxAnswer', inboxAnswerSchema) },
      '400': problem('The body is not JSON, or not a VANSEnvelope'),
      '403': problem('Not a vans-provider or gp-system party'),
      '413': problem(`The body is larger than ${MAX_INBOX_BYTES} bytes`),
      '415': problem('Neither application/fhir+json nor application/xml'),
      '422': problem('Not a valid MedCom Acknowledgement (each issue with its FHIRPath location); nothing was recorded'),
    },
  }),
  show: operation({
    method: 'get',
    path: '/v1/medcom/messages/{messageId}',
    summary: 'Team leads: a MedCom message to a GP — what was sent, its transmissions and acknowledgements',
    params: { messageId: 'the message id (MessageHeader.id)' },
    responses: {
      '200': { description: 'The message', body: named('MedcomMessage', medcomMessageSchema) },
      '403': problem('Not a team lead'),
      '404': problem('No such MedCom message'),
    },
  }),
  unmatched: operation({
    method: 'get',
    path: '/v1/medcom/acknowledgements',
    summary: 'Team leads: acknowledgements that matched no message of ours (kept and reported)',
    responses: {
      '200': { description: 'Unmatched acknowledgements, oldest first', body: named('UnmatchedAcknowledgements', unmatchedAcksSchema) },
      '403': problem('Not a team lead'),
    },
  }),
};

const rawBody = express.raw({ type: () => true, limit: MAX_INBOX_BYTES });

/** The Acknowledgement Bundle from the body: JSON as it is, or out of its VANSEnvelope. */
function bundleOf(contentType: string, body: Buffer): unknown {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  let json: Buffer;
  if (FHIR_JSON.includes(type)) json = body;
  else if (XML.includes(type)) {
    let env: ReturnType<typeof parseVansEnvelope>;
    try {
      env = parseVansEnvelope(body, MAX_INBOX_BYTES);
    } catch (e) {
      throw badRequest(`not a VANSEnvelope: ${(e as Error).message}`, undefined, 'not-a-vans-envelope');
    }
    if (env.mime !== null && env.mime !== 'application/fhir+json') {
      throw unsupportedMediaType(`the envelope carries ${env.mime}; the gateway reads MedCom messages as application/fhir+json`);
    }
    json = env.data;
  } else throw unsupportedMediaType(`send ${FHIR_JSON[0]} (the Bundle) or ${XML[0]} (its VANSEnvelope), not ${type || 'no content type'}`);
  try {
    return JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw badRequest(`the acknowledgement is not JSON: ${(e as Error).message}`, undefined, 'not-json');
  }
}

export function createMedcomRouter(deps: { medcom: MedcomService }): Router {
  const router = Router();
  const body: RequestHandler = (req, res, next) => rawBody(req, res, next);
  route(router, operations.inbox, [requireKind('vans-provider', 'gp-system'), body], async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const bundle = bundleOf(req.get('content-type') ?? '', raw);
    const party = req.party!;
    res.status(202).json(await deps.medcom.receiveAcknowledgement({ id: party.id, kind: party.kind }, bundle));
  });
  route(router, operations.show, [requireTeamLead('MedCom messages are shown to team leads')], async (req, res) => {
    res.json(await deps.medcom.show(req.params.messageId!));
  });
  route(router, operations.unmatched, [requireTeamLead('unmatched acknowledgements are for team leads')], async (_req, res) => {
    res.json({ items: await deps.medcom.unmatchedAcknowledgements() });
  });
  return router;
}
