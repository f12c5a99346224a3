/**
 * The one error type of the gateway. Every error that reaches a client is an
 * RFC 9457 problem document (`application/problem+json`).
 */
export interface FieldError {
  path: string;
  message: string;
  /** the Danish message, for the staff pages; never part of the problem document (`toJSON`) */
  da?: string;
}

export interface ProblemInit {
  status: number;
  title: string;
  detail?: string;
  /** Short slug; becomes `type` = `https://postkasse.dk/problems/<slug>` */
  type?: string;
  errors?: FieldError[];
  /** Extra response headers (e.g. Retry-After). */
  headers?: Record<string, string>;
  /** RFC 9457 extension members (e.g. `rules` naming the legal rules behind a refusal). */
  extensions?: Record<string, unknown>;
}

export const PROBLEM_BASE = 'https://postkasse.dk/problems/';

export class Problem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly type: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly extensions: Record<string, unknown> | undefined;

  constructor(init: ProblemInit) {
    super(init.detail ?? init.title);
    this.name = 'Problem';
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail;
    this.type = PROBLEM_BASE + (init.type ?? slug(init.title));
    this.errors = init.errors;
    this.headers = init.headers;
    this.extensions = init.extensions;
  }

  toJSON(): Record<string, unknown> {
    const body: Record<string, unknown> = { ...this.extensions, type: this.type, title: this.title, status: this.status };
    if (this.detail !== undefined) body.detail = this.detail;
    if (this.errors !== undefined) body.errors = this.errors.map(({ path, message }) => ({ path, message }));
    return body;
  }
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

export const badRequest = (detail: string, errors?: FieldError[], type = 'bad-request') =>
  new Problem({ status: 400, title: 'Bad request', detail, errors, type });
export const unauthorized = (detail: string) =>
  new Problem({ status: 401, title: 'Client certificate required', detail, type: 'client-certificate-required' });
export const forbidden = (detail: string, type = 'forbidden') => new Problem({ status: 403, title: 'Forbidden', detail, type });
export const notFound = (detail: string) => new Problem({ status: 404, title: 'Not found', detail, type: 'not-found' });
export const conflict = (detail: string, type = 'conflict', extensions?: Record<string, unknown>) =>
  new Problem({ status: 409, title: 'Conflict', detail, type, extensions });
/** issue 15: what the retention purge deleted (the case's documents and personal data) is gone for good: 410 `case-purged`. */
export const purged = (detail: string) => new Problem({ status: 410, title: 'Gone', detail, type: 'case-purged' });
export const tooLarge = (detail: string, type = 'too-large') => new Problem({ status: 413, title: 'Content too large', detail, type });
export const unsupportedMediaType = (detail: string) =>
  new Problem({ status: 415, title: 'Unsupported media type', detail, type: 'unsupported-media-type' });
export const unprocessable = (detail: string, errors?: FieldError[]) =>
  new Problem({ status: 422, title: 'Unprocessable content', detail, errors, type: 'validation' });
export const insufficientStorage = (detail: string) =>
  new Problem({ status: 507, title: 'Insufficient storage', detail, type: 'insufficient-storage', headers: { 'Retry-After': '300' } });
export const unavailable = (detail: string) =>
  new Problem({
    status: 503,
    title: 'Service unavailable',
    detail,
    type: 'unavailable',
    headers: { 'Retry-After': '30' },
  });
