/**
 * What protects the staff pages: security headers (helmet, a CSP without
 * 'unsafe-inline'), `Cache-Control: no-store`, cookies, the origin check
 * and the per-session CSRF token of every state-changing request.
 */
import type { RequestHandler, Response } from 'express';
import helmet from 'helmet';
import { sameToken, type Session } from './sessions.js';

/** CSP and the usual headers. `formOrigins`: where a form may lead besides ourselves (the IdP's logout). */
export function securityHeaders(formOrigins: string[]): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'", ...formOrigins],
        upgradeInsecureRequests: [],
      },
    },
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    crossOriginEmbedderPolicy: false,
  });
}

/** Pages hold personal data: nothing of them is cached, anywhere. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('cache-control', 'no-store');
  res.setHeader('pragma', 'no-cache');
  next();
};

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** A `__Host-` cookie: Secure, HttpOnly, Path=/, no Domain, SameSite=Lax. `maxAgeS` 0 deletes it. */
export function setHostCookie(res: Response, name: string, value: string, maxAgeS?: number): void {
  const attrs = ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Lax'];
  if (maxAgeS !== undefined) attrs.push(`Max-Age=${maxAgeS}`);
  res.append('set-cookie', `${name}=${value}; ${attrs.join('; ')}`);
}

/** A state-changing request from a page of another origin is refused (the browser names its origin). */
export function sameOrigin(origin: string): RequestHandler {
  return (req, _res, next) => {
    const o = req.headers.origin;
    if (req.method !== 'GET' && req.method !== 'HEAD' && o !== undefined && o !== origin) {
      return next(new CsrfError('the request came from another origin'));
    }
    next();
  };
}

export class CsrfError extends Error {
  readonly status = 403;
}

/** The form's `_csrf` field must be the session's token. */
export function checkCsrf(session: Session, submitted: unknown): void {
  if (typeof submitted !== 'string' || !sameToken(submitted, session.csrfToken)) {
    throw new CsrfError('the form carried no valid CSRF token');
  }
}
