/**
 * Issue 15, "cross-site requests on the JSON API": a browser that holds a
 * staff member's client certificate must not be made to change anything by a
 * page of another site. Browsers name where a request comes from (`Origin`,
 * `Sec-Fetch-Site`); systems (municipal systems, GP systems, curl, the CLI)
 * send neither, so this check never touches them.
 *
 * A state-changing request (POST, PUT, PATCH, DELETE) is refused with 403
 * problem+json when
 * - its `Origin` is present and is not this gateway's own origin (`https://` and
 *   the `Host` the browser addressed; `Origin: null` is never ours), or
 * - its `Sec-Fetch-Site` is `cross-site` or `same-site`. Same-site is refused too:
 *   no page of the region (not even the staff pages on STAFF_PORT, which call the
 *   services directly) posts to this API, and another host or port of the same
 *   site is a different origin whose pages we do not control.
 * `same-origin` and `none` (typed by the user) pass, as does a request without either header.
 *
 * `requireSameOrigin` is the stricter rule for what only a page of our own calls (the staff
 * listener's queue dashboard): a state-changing request must show that it comes from that
 * origin, and one that names no origin at all is refused too.
 */
import type { Logger } from 'pino';
import type { Request, RequestHandler } from 'express';
import { forbidden } from './problem.js';
import { sendProblem } from './http.js';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FOREIGN_FETCH_SITES = new Set(['cross-site', 'same-site']);

/** This request's own origin, as a browser would write it (`https://host[:port]`, default port left out). */
function ownOrigin(req: Request, scheme: string): string | undefined {
  const host = req.headers.host;
  if (!host) return undefined;
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    return undefined;
  }
}

/** The request's `Sec-Fetch-Site`, lower case; undefined when the browser sent none. */
function fetchSite(req: Request): string | undefined {
  const site = req.headers['sec-fetch-site'];
  return typeof site === 'string' ? site.trim().toLowerCase() : undefined;
}

/** The request's `Origin` as a URL origin: undefined when absent, null when opaque ("null") or malformed. */
function namedOrigin(req: Request): string | null | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  try {
    // `new URL('null').origin` throws; an opaque origin ("null") never equals ours
    return new URL(origin).origin;
  } catch {
    return null;
  }
}

const OPAQUE_ORIGIN = 'the request came from an opaque or malformed origin';
const OTHER_ORIGIN = 'the request came from a page of another origin';

/** Why `req` is refused as a cross-site request, or undefined when it may proceed. */
export function crossSiteReason(req: Request, scheme = 'https'): string | undefined {
  if (!STATE_CHANGING.has(req.method)) return undefined;
  const site = fetchSite(req);
  if (site !== undefined && FOREIGN_FETCH_SITES.has(site)) return `the browser marked the request ${site} (Sec-Fetch-Site)`;
  const theirs = namedOrigin(req);
  if (theirs === undefined) return undefined;
  if (theirs === null) return OPAQUE_ORIGIN;
  if (theirs !== ownOrigin(req, scheme)) return OTHER_ORIGIN;
  return undefined;
}

/**
 * Why a request that only a page of `origin` may send is refused, or undefined when it may proceed.
 * GET and HEAD pass. Anything else passes only when the browser marked it `Sec-Fetch-Site: same-origin`,
 * or, from a browser without Fetch Metadata (no `Sec-Fetch-Site`), when its `Origin` is `origin`.
 * `same-site`, `cross-site`, `none` and a request naming no origin at all are refused.
 */
export function sameOriginReason(req: Request, origin: string): string | undefined {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const site = fetchSite(req);
  if (site !== undefined) return site === 'same-origin' ? undefined : `the browser marked the request ${site} (Sec-Fetch-Site)`;
  const theirs = namedOrigin(req);
  if (theirs === undefined) return 'the request named no origin (neither Sec-Fetch-Site nor Origin)';
  if (theirs === null) return OPAQUE_ORIGIN;
  return theirs === new URL(origin).origin ? undefined : OTHER_ORIGIN;
}

/**
 * Refuses cross-site state-changing requests (403, type `cross-site-request`) before anything
 * else sees them. Mount once, ahead of every router.
 */
export function refuseCrossSite(opts: { scheme?: string } = {}): RequestHandler {
  const scheme = opts.scheme ?? 'https';
  return (req, _res, next) => {
    const reason = crossSiteReason(req, scheme);
    if (reason === undefined) return next();
    next(
      forbidden(
        `${reason}: the API does not take state-changing requests from web pages of other origins; ` +
          'systems send no Origin or Sec-Fetch-Site header',
        'cross-site-request',
      ),
    );
  };
}

/**
 * Refuses (403 problem+json, type `cross-site-request`, answered here: nothing behind it sees the
 * request) every request but GET and HEAD that does not come from a page of `origin`
 * (`sameOriginReason`). Logged at warn with the method, path and reason only.
 */
export function requireSameOrigin(origin: string, log: Pick<Logger, 'warn'>): RequestHandler {
  return (req, res, next) => {
    const reason = sameOriginReason(req, origin);
    if (reason === undefined) return next();
    const path = req.baseUrl + req.path;
    log.warn({ method: req.method, path, reason, type: 'cross-site-request' }, 'request refused: not from a page of this origin');
    sendProblem(res, forbidden(`${reason}: only pages of ${origin} may send this request`, 'cross-site-request'));
  };
}
