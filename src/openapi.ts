/**
 * OpenAPI 3.1 description of the partner API, generated from the operations
 * the routes mount (src/shared/api.ts): the request schemas described here
 * are the objects the validation middleware enforces, not a second copy.
 */
import { z } from 'zod';
import { named, type Named, type Operation } from './shared/api.js';
import { problemSchema } from './receipts/schema.js';
import { operations as intake } from './intake/routes.js';
import { operations as worklist } from './worklist/routes.js';
import { operations as responses } from './responses/routes.js';
import { operations as delivery } from './delivery/routes.js';
import { operations as routing } from './routing/routes.js';
import { operations as consents } from './consents/routes.js';
import { operations as medcom } from './medcom/routes.js';
import { operations as statistics } from './statistics/routes.js';
import { operations as settlement } from './settlement/routes.js';
import { operations as retention } from './retention/routes.js';

/** Every operation the mTLS app mounts with `route()`. */
export const API_OPERATIONS: readonly Operation[] = [
  ...Object.values(intake),
  ...Object.values(worklist),
  ...Object.values(responses),
  ...Object.values(delivery),
  ...Object.values(routing),
  ...Object.values(consents),
  ...Object.values(medcom),
  ...Object.values(statistics),
  ...Object.values(settlement),
  ...Object.values(retention),
] as Operation[];

export function toJsonSchema(s: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
}

const PROBLEM = named('Problem', problemSchema);

/** Endpoints served beside the API (no request schema). */
const OTHER_PATHS = {
  '/admin/queues': {
    get: {
      summary: 'Team leads: the BullMQ dashboard (bull-board); read-only apart from retrying failed jobs',
      responses: { '200': { description: 'HTML' }, '403': { description: 'Not a team lead' } },
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
};

export function buildOpenApi(operations: readonly Operation[] = API_OPERATIONS): Record<string, unknown> {
  const schemas: Record<string, Record<string, unknown>> = {};
  const seen = new Map<string, z.ZodType>();
  const ref = (n: Named) => {
    const before = seen.get(n.id);
    if (before && before !== n.schema) throw new Error(`OpenAPI: two different schemas are named ${n.id}`);
    if (!before) {
      seen.set(n.id, n.schema);
      schemas[n.id] = toJsonSchema(n.schema);
    }
    return { $ref: `#/components/schemas/${n.id}` };
  };

  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters: Record<string, unknown>[] = Object.entries(op.params ?? {}).map(([name, description]) => ({
      name,
      in: 'path',
      required: true,
      description,
      schema: { type: 'string' },
    }));
    if (op.query) {
      const q = toJsonSchema(op.query) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        const { description, ...rest } = schema;
        parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, description, schema: rest });
      }
    }
    let requestBody: Record<string, unknown> | undefined;
    // A body schema that accepts no body (optional) is documented as such: the route lets a request without one through.
    if (op.body) {
      const required = !op.body.schema.safeParse(undefined).success;
      requestBody = { required, content: { 'application/json': { schema: ref(op.body) } } };
    }
    if (op.multipart) {
      const properties = Object.fromEntries(
        Object.entries(op.multipart.parts).map(([name, p]) => [
          name,
          p === 'binary' ? { type: 'string', format: 'binary' } : { ...ref(p), description: 'JSON, as a text field or a file part' },
        ]),
      );
      requestBody = {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: op.multipart.required,
              properties,
              ...(op.multipart.additionalBinaryParts
                ? { additionalProperties: { type: 'string', format: 'binary', description: op.multipart.additionalBinaryParts } }
                : {}),
            },
          },
        },
      };
    }
    const responses = Object.fromEntries(
      Object.entries(op.responses).map(([status, r]) => {
        const mediaType = Number(status) >= 400 ? 'application/problem+json' : 'application/json';
        return [
          status,
          {
            description: r.description,
            ...(r.headers
              ? {
                  headers: Object.fromEntries(
                    Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]),
                  ),
                }
              : {}),
            ...(r.body ? { content: { [mediaType]: { schema: ref(r.body) }, ...r.content } } : r.content ? { content: r.content } : {}),
          },
        ];
      }),
    );
    // issue 15: a JSON body must be sent as JSON (src/shared/validate.ts `requireJsonBody`)
    if (op.body && !('415' in responses)) {
      responses['415'] = {
        description: 'The body is not application/json (or a +json type)',
        content: { 'application/problem+json': { schema: ref(PROBLEM) } },
      };
    }
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Postkasse',
      version: '1.0.0',
      description:
        "The region's designated electronic mailbox for the clinical function (§24). Every call uses mutual TLS; " +
        'the client certificate identifies the calling party. Errors are RFC 9457 problem documents; a request that ' +
        'does not fit its schema is answered 422 with `errors` naming each field. A JSON body is sent as ' +
        '`application/json` (else 415). A POST that a browser marks as coming from another origin (an `Origin` header ' +
        "that is not the gateway's, or `Sec-Fetch-Site: cross-site`/`same-site`) is refused with 403 " +
        '`cross-site-request`; systems send neither header. Guides: docs/ in the repository.',
    },
    components: { schemas },
    paths: { ...paths, ...OTHER_PATHS },
  };
}
