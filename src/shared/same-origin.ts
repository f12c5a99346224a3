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
 */
import type { Request, RequestHandler } from 'express';
import { forbidden } from './problem.js';

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

/** Why `req` is refused as a cross-site request, or undefined when it may proceed. */
export function crossSiteReason(req: Request, scheme = 'https'): string | undefined {
  if (!STATE_CHANGING.has(req.method)) return undefined;
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && FOREIGN_FETCH_SITES.has(site.trim().toLowerCase())) {
    return `the browser marked the request ${site.trim().toLowerCase()} (Sec-Fetch-Site)`;
  }
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  let theirs: string;
  try {
    theirs = new URL(origin).origin;
  } catch {
    return 'the request came from an opaque or malformed origin';
  }
  // `new URL('null').origin` throws; an opaque origin ("null") never equals ours
  if (theirs !== ownOrigin(req, scheme)) return 'the request came from a page of another origin';
  return undefined;
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
