/**
 * The one validation path: every request body, query and JSON part is parsed
 * by the zod schema that also generates its OpenAPI entry (src/openapi.ts),
 * and a value that does not fit answers 422 with the path of each bad field.
 *
 * Messages say what is wrong: a missing field is "required", a field of the
 * wrong JSON type says which type it must be and which it was. Each field error
 * also carries a Danish message (`da`) for the staff pages; problem+json leaves it out.
 */
import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import { Problem, unsupportedMediaType, type FieldError } from './problem.js';

/** The JSON type of a value, as a partner would name it. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

const EXPECTED: Record<string, string> = {
  string: 'a text (JSON string)',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list (JSON array)',
};

/** Per-parse error map: messages for the issues a schema does not word itself. */
export const messages: z.core.$ZodErrorMap = (iss) => {
  if (iss.code === 'invalid_type') {
    if (iss.input === undefined) return 'required';
    return `must be ${EXPECTED[iss.expected] ?? iss.expected}, not ${jsonType(iss.input)}`;
  }
  if (iss.code === 'unrecognized_keys') return `unknown field${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => `"${k}"`).join(', ')}`;
  if (iss.code === 'invalid_value' && iss.values.length > 1) return `must be one of ${iss.values.map((v) => String(v)).join(', ')}`;
  return undefined;
};

/**
 * The message for a field whose schema words its own: `what is required` when
 * it is missing, `what must be <type>, not <type>` when its JSON type is wrong.
 */
export function requiredOr(what: string): (iss: z.core.$ZodRawIssue) => string | undefined {
  return (iss) => {
    if (iss.code !== 'invalid_type') return undefined;
    if (iss.input === undefined) return `${what} is required`;
    return `${what} must be ${EXPECTED[iss.expected] ?? iss.expected}, not ${jsonType(iss.input)}`;
  };
}

const n = (v: number | bigint) => (typeof v === 'number' ? v.toLocaleString('da-DK') : String(v));

/**
 * The Danish message of an issue, for the staff pages (`FieldError.da`). A custom rule words its
 * own in `params.da` (`.refine(fn, { message, params: { da } })`, `ctx.addIssue({ …, params: { da } })`).
 * Whether a value was missing is read from the issue's input (parsed with `reportInput`), else from
 * the English message ("required").
 */
export function danishMessage(i: z.core.$ZodIssue): string {
  switch (i.code) {
    case 'invalid_type': {
      const missing = 'input' in i ? i.input === undefined : /\brequired$/.test(i.message);
      return missing ? 'Skal udfyldes' : 'Ugyldig værdi';
    }
    case 'too_small':
      if (i.origin === 'string') return Number(i.minimum) <= 1 ? 'Skal udfyldes' : `Skriv mindst ${n(i.minimum)} tegn`;
      if (i.origin === 'array' || i.origin === 'set') return `Angiv mindst ${n(i.minimum)}`;
      return i.inclusive === false ? `Skal være større end ${n(i.minimum)}` : `Skal være ${n(i.minimum)} eller mere`;
    case 'too_big':
      if (i.origin === 'string') return `Højst ${n(i.maximum)} tegn`;
      if (i.origin === 'array' || i.origin === 'set') return `Højst ${n(i.maximum)}`;
      return i.inclusive === false ? `Skal være mindre end ${n(i.maximum)}` : `Højst ${n(i.maximum)}`;
    case 'invalid_value':
      return 'Vælg en af mulighederne';
    case 'invalid_format':
      return 'Ugyldigt format';
    case 'unrecognized_keys':
      return `Ukendt felt: ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'custom': {
      const da: unknown = i.params?.da;
      return typeof da === 'string' ? da : 'Ugyldig værdi';
    }
    default:
      return 'Ugyldig værdi';
  }
}

/** zod issues → problem+json `errors` (`documents[0].part`, `content.reasons`, `(root)`), each with its Danish `da`. */
export function fieldErrors(error: z.ZodError, prefix = ''): FieldError[] {
  return error.issues.map((i) => {
    const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    const full = `${prefix}${path}`.replace(/^\./, '');
    return { path: full || '(root)', message: i.message, da: danishMessage(i) };
  });
}

/** Parse options of the one validation path: the error map, and the input on each issue (missing vs wrong for `da`). */
const PARSE = { error: messages, reportInput: true } as const;

export interface ValidationOptions {
  /** what is validated, for the problem's detail: "the request body", "the manifest" */
  what: string;
  /** problem type slug (default `validation`) */
  type?: string;
  /** prefix of every error path (e.g. `content`) */
  prefix?: string;
}

/** The 422 problem for field errors. */
export function validationProblem(errors: FieldError[], opts: ValidationOptions): Problem {
  return new Problem({
    status: 422,
    title: 'Unprocessable content',
    type: opts.type ?? 'validation',
    detail: `${opts.what} is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    errors,
  });
}

/** Parses `value` with `schema`, or throws the 422 problem naming every bad field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, opts: ValidationOptions): z.output<S> {
  const r = schema.safeParse(value, PARSE);
  if (!r.success) throw validationProblem(fieldErrors(r.error, opts.prefix), opts);
  return r.data;
}

/** The field errors of `value` against `schema` (empty = valid). */
export function checkWith(schema: z.ZodType, value: unknown, prefix = ''): FieldError[] {
  const r = schema.safeParse(value, PARSE);
  return r.success ? [] : fieldErrors(r.error, prefix);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The path (`citizen.name`, `documents[0].title`) of the first string or member name in a parsed JSON value that
 * holds a lone UTF-16 surrogate (a `\ud800` escape without its pair), or undefined. Such a string has no UTF-8
 * form: it cannot be hashed, signed, sealed or stored (RFC 7493 I-JSON forbids it).
 */
export function loneSurrogateAt(value: unknown): string | undefined {
  // Iterative, in document order: a manifest nested 100 000 arrays deep must not overflow the stack (a 500).
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return path || '(root)';
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      for (const [k] of entries) {
        if (LONE_SURROGATE.test(k)) return `${path ? `${path}.` : ''}${JSON.stringify(k).slice(1, -1)}`;
      }
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], path ? `${path}.${entries[i]![0]}` : entries[i]![0]]);
    }
  }
  return undefined;
}

/** Express middleware: `req.body` parsed by `schema` (replaced by the parsed value), else 422. */
export function validateBody(schema: z.ZodType): RequestHandler {
  return (req, _res, next) => {
    try {
      // issue 15: a string with a lone surrogate would be stored mangled (UTF-8 has no form for it) or fail later as a 500
      const at = loneSurrogateAt(req.body);
      if (at !== undefined) {
        throw validationProblem(
          [{ path: at, message: 'holds a lone UTF-16 surrogate (a \\uD800–\\uDFFF escape without its pair): no character, no UTF-8 form' }],
          { what: 'the request body' },
        );
      }
      req.body = parseWith(schema, req.body, { what: 'the request body' });
      next();
    } catch (e) {
      next(e);
    }
  };
}

/** Express middleware: the query string parsed by `schema` (kept in `res.locals.query`), else 422. */
export function validateQuery(schema: z.ZodType): RequestHandler {
  return (req, res, next) => {
    try {
      res.locals.query = parseWith(schema, req.query, { what: 'the query' });
      next();
    } catch (e) {
      next(e);
    }
  };
}

/** The media type of `req` without parameters, lower case (`''` when there is none). */
export function mediaType(req: Pick<Request, 'headers'>): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** `application/json` or a `+json` type (`application/fhir+json`, `application/merge-patch+json`). */
export function isJsonMediaType(type: string): boolean {
  return /^application\/(?:[a-z0-9!#$&^_.-]+\+)?json$/.test(type);
}

/** Whether `req` carries a body (a non-zero Content-Length, or Transfer-Encoding). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}

/** The form encodings a web page can post across sites without asking (CORS "simple" requests). */
const FORM_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

/**
 * Issue 15 (cross-site requests): a JSON body must say so. A request with a body, or with a
 * Content-Type, is 415 unless it is `application/json` or `+json`; so a `text/plain` form of
 * another site never reaches the schema. A request with neither goes on to the schema (422 "required").
 */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const type = mediaType(req);
  if ((type !== '' || hasBody(req)) && !isJsonMediaType(type)) {
    return next(unsupportedMediaType(`send the body as application/json, not ${type || 'without a Content-Type'}`));
  }
  next();
};

/**
 * Issue 15: an endpoint that takes no body (acknowledge, retry, close) refuses the encodings
 * of an HTML form (`text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data`)
 * with 415. Send no body; a JSON body is accepted and ignored.
 */
export const refuseFormBody: RequestHandler = (req, _res, next) => {
  const type = mediaType(req);
  if (FORM_TYPES.has(type)) return next(unsupportedMediaType(`this endpoint takes no body; send none (not ${type})`));
  next();
};
