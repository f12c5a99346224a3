/**
 * The staff pages' Express application (STAFF_PORT): HTTPS without client
 * certificates, login through the identity provider (OIDC), sessions in the
 * database, and pages that call the same services as the JSON API.
 *
 * Order: security headers → static assets (no session, no personal data) →
 * the queue dashboard's same-origin rule → login/logout → session (else the login page) → CSRF on every POST → pages.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Queue } from 'bullmq';
import { createQueueDashboard } from '../shared/queue-dashboard.js';
import type { StaffParty } from '../parties/parties.js';
import { isStaff, isTeamLead } from '../parties/roles.js';
import { shippedFile } from '../shared/paths.js';
import { Problem } from '../shared/problem.js';
import { requireSameOrigin } from '../shared/same-origin.js';
import { requestLog } from '../shared/http.js';
import { appendAudit } from '../audit/audit.js';
import type { Db } from '../storage/db.js';
import { SESSION_COOKIE, type Session, type Sessions } from './sessions.js';
import { LOGIN_COOKIE, type Oidc } from './oidc.js';
import { checkCsrf, CsrfError, noStore, readCookie, sameOrigin, securityHeaders, setHostCookie } from './security.js';
import { layout, type PageContext } from './layout.js';
import { html } from './html.js';
import { createPageRouter, type PageDeps } from './routes.js';

export interface StaffAppDeps extends Omit<PageDeps, 'log'> {
  db: Db;
  parties: PageDeps['parties'] & { staffByOidcSubject(subject: string): StaffParty | undefined };
  sessions: Sessions;
  oidc: Oidc;
  /** STAFF_BASE_URL: the origin staff reach the pages at */
  baseUrl: string;
  log: Logger;
  /** BullMQ queues for the team leads' dashboard */
  adminQueues?: Queue[];
}

declare module 'express-serve-static-core' {
  interface Locals {
    session?: Session;
    page?: PageContext;
  }
}

/** "/sager/x?y=1" → itself; anything that could leave the site → "/" */
export function safeReturnTo(v: unknown): string {
  return typeof v === 'string' && /^\/(?![/\\])[^\s]*$/.test(v) ? v : '/';
}

function simplePage(res: Response, status: number, title: string, body: ReturnType<typeof html>, ctx?: PageContext): void {
  res
    .status(status)
    .type('html')
    .send(layout(title, body, ctx));
}

export function createStaffApp(deps: StaffAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const origin = new URL(deps.baseUrl).origin;

  // The path only: case ids, never a query string, a CPR or a name.
  app.use(requestLog(deps.log, 'staff page', 'staffId'));
  app.use(securityHeaders([deps.oidc.issuerOrigin]));
  app.use('/static', express.static(shippedFile('src', 'web', 'static'), { maxAge: '1h', index: false, fallthrough: false }));
  app.use(noStore);
  if (deps.adminQueues && deps.adminQueues.length > 0) {
    // The queue dashboard's writes (bull-board's own fetch calls, no CSRF token): only from a page of STAFF_BASE_URL,
    // answered 403 problem+json before the session, the team-lead check or bull-board see them (the mTLS listener has no such rule).
    app.use('/admin/queues', requireSameOrigin(origin, deps.log));
  }
  app.use(sameOrigin(origin));

  // ---- login and logout
  app.get('/login', (req, res) => {
    const expired = req.query.udloebet === '1';
    const returnTo = safeReturnTo(req.query.returnTo);
    simplePage(
      res,
      200,
      'Log ind',
      html`<h1>Log ind</h1>
        ${expired ? html`<p class="notice" role="status">Din session er udløbet. Log ind igen.</p>` : ''}
        <p>Postkasse er den kliniske funktions arbejdsplads: arbejdsliste, sager og svar til kommunerne.</p>
        <p><a class="button" href="/login/start?returnTo=${encodeURIComponent(returnTo)}">Log ind med regionens login</a></p>`,
    );
  });

  app.get('/login/start', async (req, res) => {
    try {
      const { url, cookie } = await deps.oidc.start(safeReturnTo(req.query.returnTo));
      setHostCookie(res, LOGIN_COOKIE, cookie, 600);
      res.redirect(303, url.href);
    } catch (err) {
      deps.log.error({ err }, 'identity provider unreachable: login not possible');
      simplePage(
        res,
        503,
        'Login ikke muligt',
        html`<h1>Login er ikke muligt lige nu</h1>
          <p>Regionens login svarer ikke. Prøv igen om lidt.</p>`,
      );
    }
  });

  app.get('/auth/callback', async (req, res) => {
    const pending = deps.oidc.pendingOf(readCookie(req.headers.cookie, LOGIN_COOKIE));
    setHostCookie(res, LOGIN_COOKIE, '', 0);
    if (!pending) return res.redirect(303, '/login?udloebet=1');
    if (typeof req.query.error === 'string') {
      deps.log.warn({ error: req.query.error }, 'staff login: the identity provider answered with an error');
      return res.redirect(303, '/login');
    }
    let result;
    try {
      result = await deps.oidc.finish(new URL(req.originalUrl, deps.baseUrl), pending);
    } catch (err) {
      deps.log.warn({ err }, 'staff login failed at the token exchange');
      return simplePage(
        res,
        400,
        'Login mislykkedes',
        html`<h1>Login mislykkedes</h1>
          <p><a href="/login">Prøv igen</a></p>`,
      );
    }
    if (!result.ok && result.reason === 'acr') {
      deps.log.warn({ acr: result.acr ?? null, subject: result.subject }, 'staff login refused: assurance level too low');
      return simplePage(
        res,
        403,
        'Ingen adgang',
        html`<h1>Ingen adgang</h1>
          <p>Dit login har ikke det sikringsniveau, som Postkasse kræver. Log ind med et login på et højere niveau.</p>`,
      );
    }
    const staff = result.ok ? deps.parties.staffByOidcSubject(result.subject) : undefined;
    if (!result.ok || !staff) {
      deps.log.warn({ subject: result.ok ? result.subject : null }, 'staff login refused: the identity maps to no staff member');
      return simplePage(
        res,
        403,
        'Ingen adgang',
        html`<h1>Ingen adgang</h1>
          <p>
            Du er logget ind hos regionen, men du er ikke oprettet som medarbejder i Postkasse. Kontakt din teamleder, hvis du skal have
            adgang.
          </p>`,
      );
    }
    const { token } = await deps.sessions.create(staff.id, result.idToken);
    await appendAudit(deps.db.db, deps.db, { at: new Date().toISOString(), actor: staff.id, action: 'staff-login', details: {} });
    setHostCookie(res, SESSION_COOKIE, token);
    res.redirect(303, pending.returnTo);
  });

  app.get('/logget-ud', (_req, res) => {
    simplePage(
      res,
      200,
      'Logget ud',
      html`<h1>Du er logget ud</h1>
        <p><a href="/login">Log ind igen</a></p>`,
    );
  });

  // ---- everything below needs a session
  app.use(async (req, res, next) => {
    try {
      const token = readCookie(req.headers.cookie, SESSION_COOKIE);
      const session = await deps.sessions.lookup(token);
      const staff = session ? deps.parties.get(session.staffId) : undefined;
      if (!session || !isStaff(staff)) {
        if (session) await deps.sessions.destroy(session.tokenHash);
        if (token) setHostCookie(res, SESSION_COOKIE, '', 0);
        const returnTo = req.method === 'GET' ? req.originalUrl : '/';
        return res.redirect(303, `/login?${token ? 'udloebet=1&' : ''}returnTo=${encodeURIComponent(returnTo)}`);
      }
      req.party = staff;
      res.locals.session = session;
      res.locals.page = { staff, csrfToken: session.csrfToken, path: req.path };
      next();
    } catch (err) {
      next(err);
    }
  });

  app.post('/logout', express.urlencoded({ extended: false, limit: '4kb' }), async (req, res) => {
    const session = res.locals.session!;
    // a body that is not a urlencoded form (multipart, JSON) holds no token: refused like a wrong one (403)
    checkCsrf(session, (req.body as Record<string, unknown> | undefined)?._csrf);
    const { idToken } = await deps.sessions.destroy(session.tokenHash);
    setHostCookie(res, SESSION_COOKIE, '', 0);
    const url = await deps.oidc.logoutUrl(idToken);
    res.redirect(303, url ? url.href : '/logget-ud');
  });

  if (deps.adminQueues && deps.adminQueues.length > 0) {
    // The queue dashboard: team leads only; read-only except retrying failed jobs (the database stays the record).
    app.use(
      '/admin/queues',
      (req, res, next) => {
        if (!isTeamLead(req.party)) return next(new Problem({ status: 404, title: 'Not found' }));
        // bull-board's page resolves its own scripts and styles against <base href>; everything else of the CSP stays
        // (scripts from 'self' only; its web font from Google and its inline loading styles are refused).
        const csp = res.getHeader('content-security-policy');
        if (typeof csp === 'string') res.setHeader('content-security-policy', csp.replace("base-uri 'none'", "base-uri 'self'"));
        next();
      },
      createQueueDashboard(deps.adminQueues),
    );
  }

  app.use(createPageRouter({ ...deps }));

  const notFoundPage = (res: Response) =>
    simplePage(
      res,
      404,
      'Siden findes ikke',
      html`<h1>Siden findes ikke</h1>
        <p><a href="/">Til arbejdslisten</a></p>`,
      res.locals.page,
    );
  app.use((_req, res) => notFoundPage(res));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.destroy();
    if (err instanceof CsrfError) {
      deps.log.warn({ path: req.path, staffId: req.party?.id, reason: err.message }, 'staff form refused: CSRF');
      const text = 'Formularen var udløbet eller kom ikke fra Postkasse. Gå tilbage, genindlæs siden og prøv igen.';
      return simplePage(
        res,
        403,
        'Formularen blev afvist',
        html`<h1>Formularen blev afvist</h1>
          <p>${text}</p>`,
        res.locals.page,
      );
    }
    // a Problem from a service, or an http-error (a missing static file, a body too large)
    const raw = err instanceof Problem ? err.status : (err as { status?: unknown }).status;
    const status = typeof raw === 'number' && raw >= 400 && raw < 600 ? raw : 500;
    if (status === 404) return notFoundPage(res);
    if (status === 403) {
      return simplePage(
        res,
        403,
        'Ingen adgang',
        html`<h1>Ingen adgang</h1>
          <p>Siden er ikke for din rolle.</p>`,
        res.locals.page,
      );
    }
    if (status === 410) {
      // issue 15: the retention purge deleted the case's documents and personal data
      return simplePage(
        res,
        410,
        'Sagen er slettet',
        html`<h1>Sagen er slettet</h1>
          <p>
            Sagens dokumenter og personoplysninger er slettet, fordi opbevaringsperioden efter sagens afslutning er udløbet. Kvitteringer,
            dokumenternes fingeraftryk (SHA-256) og revisionssporet er bevaret.
          </p>
          <p><a href="/">Til arbejdslisten</a></p>`,
        res.locals.page,
      );
    }
    if (status < 500) {
      const back = html`<h1>Forespørgslen kunne ikke behandles</h1>
        <p><a href="/">Til arbejdslisten</a></p>`;
      return simplePage(res, status, 'Ugyldig forespørgsel', back, res.locals.page);
    }
    deps.log.error({ err, method: req.method, path: req.path }, 'staff page failed');
    simplePage(
      res,
      500,
      'Fejl',
      html`<h1>Der opstod en fejl</h1>
        <p>Fejlen er logget. Prøv igen.</p>`,
      res.locals.page,
    );
  });
  return app;
}
