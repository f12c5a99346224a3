/**
 * Operations of the partner API: one declaration per endpoint holds its
 * method, path, documentation and request schemas. `route()` mounts it with
 * the validation middleware made from those schemas, and src/openapi.ts
 * describes it from the very same declaration, so what OpenAPI documents is
 * what the gateway enforces (test/shared/openapi-enforced.test.ts walks the
 * served document to prove it).
 */
import express, { type RequestHandler, type Router } from 'express';
import type { z } from 'zod';
import { isJsonMediaType, mediaType, refuseFormBody, requireJsonBody, validateBody, validateQuery } from './validate.js';

/** A schema with the name it has under `components.schemas`. */
export interface Named<S extends z.ZodType = z.ZodType> {
  id: string;
  schema: S;
}

export function named<S extends z.ZodType>(id: string, schema: S): Named<S> {
  return { id, schema };
}

export interface ResponseDoc {
  description: string;
  /** JSON body (application/json, or application/problem+json for 4xx/5xx) */
  body?: Named;
  /** a body of another media type (e.g. a document download, or CSV beside the JSON `body`), as OpenAPI `content` */
  content?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface Operation<B extends z.ZodType = z.ZodAny, Q extends z.ZodType = z.ZodAny> {
  method: 'get' | 'post';
  /** OpenAPI path, e.g. `/v1/cases/{caseId}` */
  path: string;
  summary: string;
  description?: string;
  /** path parameters, in order, with their description */
  params?: Record<string, string>;
  /** JSON request body, validated before the handler runs */
  body?: Named<B>;
  /** query string, validated before the handler runs */
  query?: Q;
  /**
   * multipart/form-data request: each part's schema (a JSON part, parsed by
   * the handler with `parseWith` and the same schema) or 'binary'.
   */
  multipart?: { parts: Record<string, Named | 'binary'>; required: string[]; additionalBinaryParts?: string };
  responses: Record<string, ResponseDoc>;
}

/** Declares an operation (typed, so a handler sees its parsed body and query). */
export function operation<B extends z.ZodType = z.ZodAny, Q extends z.ZodType = z.ZodAny>(op: Operation<B, Q>): Operation<B, Q> {
  return op;
}

/** JSON bodies of the staff actions are small; only a JSON media type is read (`requireJsonBody` refuses others with 415). */
const jsonBody = express.json({
  limit: '16kb',
  strict: true,
  type: (req) => isJsonMediaType(mediaType(req)),
});

/** `/v1/cases/{caseId}` → `/v1/cases/:caseId` */
export function expressPath(openApiPath: string): string {
  return openApiPath.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
}

/**
 * Mounts `op` on `router`: `before` (authorisation that needs no body, e.g.
 * the party kind), then the query and body validation made from `op`'s
 * schemas, then `handler` with the parsed values in `req.query` and `req.body`.
 */
export function route<B extends z.ZodType, Q extends z.ZodType>(
  router: Router,
  op: Operation<B, Q>,
  before: RequestHandler[],
  handler: RequestHandler<Record<string, string>, unknown, z.output<B>, z.output<Q>>,
): void {
  const chain: RequestHandler[] = [...before];
  if (op.query) {
    const parse = validateQuery(op.query);
    chain.push((req, res, next) => {
      parse(req, res, (err?: unknown) => {
        if (err) return next(err);
        // Express 5's req.query is a getter; the parsed value shadows it for this request.
        Object.defineProperty(req, 'query', { value: res.locals.query, configurable: true, enumerable: true });
        next();
      });
    });
  }
  // issue 15: a JSON body only as JSON; an endpoint without a body refuses an HTML form's encodings (multipart ones read their own)
  if (op.body) chain.push(requireJsonBody, jsonBody, validateBody(op.body.schema));
  else if (op.method !== 'get' && !op.multipart) chain.push(refuseFormBody);
  router[op.method](expressPath(op.path), ...chain, handler as unknown as RequestHandler);
}
