/**
 * HTTP plumbing shared by every feature: mTLS identity, authorisation by party
 * kind, and the one error handler that turns everything into problem+json.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { TLSSocket } from 'node:tls';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Party } from '../parties/parties.js';
import { connectionIdentity } from '../parties/identity.js';
import { isBlobIntegrityError } from '../storage/blobs.js';
import { forbidden, notFound, Problem, unauthorized } from './problem.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      party?: Party;
    }
  }
}

export interface PartyLookup {
  byCertificate(cert: { subjectSerialNumber?: string; fingerprint256: string }): Party | undefined;
}

/**
 * Requires a client certificate that verifies against the configured trust
 * anchors; `req.party` is the party it maps to. A verified certificate of no
 * party is refused with 403 unless `allowUnknown` (health endpoints), and so
 * is one that does not fit a party's profile (issue 15: a leaf with the
 * clientAuth extended key usage). With `log`, every refused certificate is
 * logged at info level with its SHA-256 fingerprint, subject and the reason.
 */
export function identify(
  parties: PartyLookup,
  opts: { allowUnknown?: boolean; onPeer?: (partyId: string, validTo: number) => void; log?: Logger } = {},
): RequestHandler {
  return (req, _res, next) => {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') {
      return next(unauthorized('this endpoint is served over mutual TLS only'));
    }
    const id = connectionIdentity(socket);
    const refused = (reason: string) =>
      opts.log?.info({ fingerprint256: id.fingerprint256, subject: id.subject, reason, path: req.path }, 'client certificate refused');
    if (!id.authorized || !id.fingerprint256) {
      if (id.fingerprint256) refused(`not trusted: ${id.authorizationError ?? 'unknown reason'}`);
      return next(
        unauthorized(
          id.fingerprint256
            ? `the client certificate is not trusted (${id.authorizationError ?? 'unknown reason'})`
            : 'a client certificate is required',
        ),
      );
    }
    const party = id.profileError
      ? undefined
      : parties.byCertificate({ subjectSerialNumber: id.subjectSerialNumber, fingerprint256: id.fingerprint256 });
    if (!party) {
      if (opts.allowUnknown) return next();
      if (id.profileError) {
        refused(id.profileError);
        return next(
          forbidden(
            `the client certificate does not fit the client-certificate profile: ${id.profileError}. ` +
              'A party authenticates with a leaf certificate whose extended key usage includes clientAuth.',
            'certificate-profile',
          ),
        );
      }
      refused('belongs to no registered party');
      return next(forbidden('the client certificate is valid but belongs to no registered party', 'unknown-party'));
    }
    req.party = party;
    if (opts.onPeer && id.validTo !== undefined) opts.onPeer(party.id, id.validTo);
    next();
  };
}

/**
 * One log line per request: method, path (never the query string), status, duration and
 * who asked (`idField`: partyId on the API, staffId on the staff pages). Never bodies or headers.
 */
export function requestLog(log: Logger, msg: string, idField: string): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.info({ method: req.method, path: req.path, status: res.statusCode, ms, [idField]: req.party?.id }, msg);
    });
    next();
  };
}

/**
 * Streams a stored document's plaintext (or a message holding one) as the response body, headers already set. A
 * blob that fails its integrity check (the store has raised the alarm; this names what it belongs to) or a client
 * gone away cuts the response short: it is never completed with bad bytes. `what` names the read in the log
 * ("document", "message"); `ids` are the record's identifiers, never personal data.
 */
export async function streamStored(res: Response, body: Readable, log: Logger, what: string, ids: Record<string, string>): Promise<void> {
  try {
    await pipeline(body, res);
  } catch (err) {
    if (isBlobIntegrityError(err)) log.error({ blobKey: err.blobKey, ...ids }, `${what} read cut off: it failed its integrity check`);
    else log.warn({ err, ...ids }, `${what} stream ended early`);
    res.destroy();
  }
}

export function sendProblem(res: Response, p: Problem): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (p.headers) res.set(p.headers);
  res.status(p.status).type('application/problem+json').send(JSON.stringify(p.toJSON()));
}

/** Turns any error into problem+json. Unknown errors are logged and answered 500 without internals. */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const p = toProblem(err);
    if (p.status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    else log.info({ status: p.status, type: p.type, method: req.method, path: req.path, partyId: req.party?.id }, 'request refused');
    sendProblem(res, p);
  };
}

export function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string; expose?: boolean };
  // body-parser errors (express.json)
  if (e?.type === 'entity.parse.failed')
    return new Problem({ status: 400, title: 'Bad request', type: 'invalid-json', detail: 'the body is not valid JSON' });
  if (e?.type === 'entity.too.large')
    return new Problem({ status: 413, title: 'Content too large', type: 'too-large', detail: 'the body is too large' });
  const status = e?.status ?? e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new Problem({ status, title: 'Bad request', type: 'bad-request', detail: e.expose ? e.message : undefined });
  }
  return new Problem({
    status: 500,
    title: 'Internal server error',
    type: 'internal',
    detail: 'an unexpected error occurred; it has been logged',
  });
}

export const notFoundHandler: RequestHandler = (req, _res, next) => next(notFound(`no such endpoint: ${req.method} ${req.path}`));
