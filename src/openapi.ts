/**
 * OpenAPI 3.1 description, generated from the same zod schemas that validate
 * requests and describe responses (no second hand-kept copy).
 */
import { z } from 'zod';
import { manifestSchema } from './intake/manifest.js';
import { caseViewSchema, problemSchema, receiptSchema } from './receipts/schema.js';
import {
  assignAnswerSchema,
  assignBodySchema,
  clockActionSchema,
  conflictAnswerSchema,
  conflictBodySchema,
  consultationBodySchema,
  extensionBodySchema,
  leadListSchema,
  meetingBodySchema,
  worklistSchema,
} from './worklist/schema.js';
import {
  ackAnswerSchema,
  envelopeSchema,
  mailboxListSchema,
  responseAnswerSchema,
  responseRequestSchema,
  undeliveredListSchema,
} from './delivery/schema.js';

const toSchema = (s: z.ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};

const caseIdParam = { name: 'caseId', in: 'path', required: true, schema: { type: 'string' } };
const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

/** A staff action on a case: JSON body, JSON answer, the usual refusals. */
const staffAction = (summary: string, body: string, answer: string, status = '200') => ({
  post: {
    summary,
    parameters: [caseIdParam],
    requestBody: { required: true, content: json(body) },
    responses: {
      [status]: { description: 'Recorded', content: json(answer) },
      '400': problem('The body is not a JSON object'),
      '403': problem('Not a staff member'),
      '404': problem('No such case assigned to the caller'),
      '409': problem('The case is not in a state that allows this'),
      '422': problem('A field is invalid; `errors` names each one'),
    },
  },
});

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

export function buildOpenApi(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Postkasse',
      version: '1.0.0',
      description:
        "The region's designated electronic mailbox for the clinical function (§24). Every call uses mutual TLS; " +
        'the client certificate identifies the calling party. Errors are RFC 9457 problem documents.',
    },
    components: {
      schemas: {
        Manifest: toSchema(manifestSchema),
        Receipt: toSchema(receiptSchema),
        Problem: toSchema(problemSchema),
        Case: toSchema(caseViewSchema),
        Worklist: toSchema(worklistSchema),
        LeadList: toSchema(leadListSchema),
        MeetingBody: toSchema(meetingBodySchema),
        ConsultationBody: toSchema(consultationBodySchema),
        ExtensionBody: toSchema(extensionBodySchema),
        ConflictBody: toSchema(conflictBodySchema),
        AssignBody: toSchema(assignBodySchema),
        ClockAction: toSchema(clockActionSchema),
        ConflictAnswer: toSchema(conflictAnswerSchema),
        AssignAnswer: toSchema(assignAnswerSchema),
        ResponseRequest: toSchema(responseRequestSchema),
        ResponseAnswer: toSchema(responseAnswerSchema),
        Mailbox: toSchema(mailboxListSchema),
        Envelope: toSchema(envelopeSchema),
        AckAnswer: toSchema(ackAnswerSchema),
        Undelivered: toSchema(undeliveredListSchema),
      },
    },
    paths: {
      '/v1/packages': {
        post: {
          summary: 'Send a case package (municipalities, the senior-pension unit)',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['manifest'],
                  properties: { manifest: { $ref: '#/components/schemas/Manifest' } },
                  additionalProperties: { type: 'string', format: 'binary', description: 'one part per document, named by its `part`' },
                },
              },
            },
          },
          responses: {
            '201': {
              description: 'Receipted. The body is exactly the signed bytes.',
              headers: {
                'Receipt-Signature': { description: 'base64 DER CMS SignedData, detached, over the body', schema: { type: 'string' } },
                Location: { schema: { type: 'string' } },
              },
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Receipt' } } },
            },
            '200': {
              description: 'The same package was received before: the byte-identical receipt and signature',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Receipt' } } },
            },
            '400': problem('Malformed package or manifest'),
            '401': problem('No valid client certificate'),
            '403': problem('Not allowed for this party (other municipality, other region — §29 stk. 4)'),
            '404': problem('supplementTo names no case of the sender'),
            '409': problem('packageId reused with different content'),
            '413': problem('A size or count limit was exceeded'),
            '415': problem('Media type not accepted, or the bytes do not match it'),
            '422': problem('A supplement that does not fit its case'),
            '503': problem('The package could not be stored durably; nothing was receipted'),
          },
        },
      },
      '/v1/receipts/{receiptId}': {
        get: {
          summary: 'Fetch a receipt again (its sender only)',
          parameters: [{ name: 'receiptId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The signed bytes',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Receipt' } } },
            },
            '404': problem('No such receipt for this party'),
          },
        },
      },
      '/v1/cases/{caseId}': {
        get: {
          summary: 'The case: state, deadlines, documents, history',
          parameters: [{ name: 'caseId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The case', content: { 'application/json': { schema: { $ref: '#/components/schemas/Case' } } } },
            '404': problem('No such case visible to this party'),
          },
        },
      },
      '/v1/worklist': {
        get: {
          summary: "The calling staff member's open cases, urgent first, then the earliest due",
          responses: { '200': { description: 'Worklist', content: json('Worklist') }, '403': problem('Not a staff member') },
        },
      },
      '/v1/cases': {
        get: {
          summary: 'Team leads: unassigned, overdue or at-risk cases of the region',
          parameters: [
            { name: 'state', in: 'query', required: true, schema: { type: 'string', enum: ['unassigned', 'overdue', 'at-risk'] } },
          ],
          responses: {
            '200': { description: 'Cases', content: json('LeadList') },
            '400': problem('Unknown state filter'),
            '403': problem('Not a team lead'),
          },
        },
      },
      '/v1/cases/{caseId}/documents/{part}': {
        get: {
          summary: 'A document of the case, decrypted (assigned staff member and team leads); every read is written to the access log',
          parameters: [caseIdParam, { name: 'part', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The document bytes; Repr-Digest carries its SHA-256',
              headers: { 'Repr-Digest': { schema: { type: 'string' } } },
              content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
            },
            '404': problem('No such case or document visible to the caller'),
          },
        },
      },
      '/v1/cases/{caseId}/meeting': staffAction(
        '§21: the coordinator is booked for the rehabilitation-team meeting (stops the clock)',
        'MeetingBody',
        'ClockAction',
      ),
      '/v1/cases/{caseId}/consultation': staffAction('§23: the consultation is booked', 'ConsultationBody', 'ClockAction'),
      '/v1/cases/{caseId}/extension': staffAction('§22/§23: another deadline agreed in this case', 'ExtensionBody', 'ClockAction'),
      '/v1/cases/{caseId}/conflict': staffAction(
        '§12 stk. 2: the assignee cannot work the case; it goes back to routing without them',
        'ConflictBody',
        'ConflictAnswer',
        '202',
      ),
      '/v1/cases/{caseId}/assign': staffAction(
        'Team leads: assign the case by hand (exclusions apply; overrideReason is audited)',
        'AssignBody',
        'AssignAnswer',
      ),
      '/v1/cases/{caseId}/responses': {
        post: {
          summary: 'The assigned staff member returns a statement, attest, advice, recommendation or GP notice with its signed-off PDF',
          parameters: [caseIdParam],
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['response', 'document'],
                  properties: {
                    response: { $ref: '#/components/schemas/ResponseRequest' },
                    document: { type: 'string', format: 'binary', description: 'application/pdf' },
                  },
                },
              },
            },
          },
          responses: {
            '201': { description: 'Checked, signed and dispatched in one transaction', content: json('ResponseAnswer') },
            '400': problem('A part is missing or malformed'),
            '403': problem('Not a staff member'),
            '404': problem('No such case assigned to the caller'),
            '409': problem('The case is not open'),
            '413': problem('The document is too large'),
            '415': problem('The document is not a PDF'),
            '422': problem('Content the rules require is missing; `errors` names each field'),
          },
        },
      },
      '/v1/mailbox': {
        get: {
          summary: "The caller's unacknowledged messages",
          responses: { '200': { description: 'Messages', content: json('Mailbox') } },
        },
      },
      '/v1/mailbox/{messageId}': {
        get: {
          summary: 'One message: the envelope as the exact signed bytes (addressee only)',
          parameters: [{ name: 'messageId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'The envelope',
              headers: {
                'Message-Signature': { description: 'base64 DER CMS SignedData, detached, over the body', schema: { type: 'string' } },
              },
              content: json('Envelope'),
            },
            '404': problem('No such message for the caller'),
          },
        },
      },
      '/v1/mailbox/{messageId}/ack': {
        post: {
          summary: 'The addressee confirms receipt; the message leaves the list',
          parameters: [{ name: 'messageId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'Acknowledged (idempotent)', content: json('AckAnswer') },
            '404': problem('No such message for the caller'),
          },
        },
      },
      '/v1/messages': {
        get: {
          summary: 'Team leads: messages that did not reach their recipient',
          parameters: [
            { name: 'state', in: 'query', required: true, schema: { type: 'string', enum: ['no-recipient-system', 'dead-lettered'] } },
          ],
          responses: {
            '200': { description: 'Messages', content: json('Undelivered') },
            '400': problem('Unknown state'),
            '403': problem('Not a team lead'),
          },
        },
      },
      '/v1/messages/{messageId}/retry': {
        post: {
          summary: 'Team leads: push a dead-lettered message again (a new retry period starts)',
          parameters: [{ name: 'messageId', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '202': { description: 'Queued again' },
            '403': problem('Not a team lead'),
            '404': problem('No such message'),
            '409': problem('Not dead-lettered'),
          },
        },
      },
      '/admin/queues': {
        get: {
          summary: 'Team leads: the BullMQ dashboard (bull-board)',
          responses: { '200': { description: 'HTML' }, '403': problem('Not a team lead') },
        },
      },
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'alive' } } } },
      '/readyz': {
        get: {
          summary: 'Readiness: database, blob store, Redis',
          responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } },
        },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
