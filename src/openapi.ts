/**
 * OpenAPI 3.1 description, generated from the same zod schemas that validate
 * requests and describe responses (no second hand-kept copy).
 */
import { z } from 'zod';
import { manifestSchema } from './intake/manifest.js';
import { caseViewSchema, problemSchema, receiptSchema } from './receipts/schema.js';

const toSchema = (s: z.ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

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
            '200': { description: 'The signed bytes', content: { 'application/json': { schema: { $ref: '#/components/schemas/Receipt' } } } },
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
      '/healthz': { get: { summary: 'Liveness', responses: { '200': { description: 'alive' } } } },
      '/readyz': {
        get: { summary: 'Readiness: database, blob store, Redis', responses: { '200': { description: 'ready' }, '503': { description: 'not ready' } } },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
