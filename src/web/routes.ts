/**
 * The staff pages: each handler calls the services the JSON API calls
 * (worklist, case actions, consents, responses, routing, delivery), never the
 * HTTP API, so authorisation, the § rules, auditing and validation are the
 * same. A case the signed-in person may not see answers 404, like a missing
 * one. Forms post back here; a refusal shows the form again with the Danish
 * message beside each field, and a success redirects (303) to the page with a
 * confirmation.
 */
import express, { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { Party, StaffParty } from '../parties/parties.js';
import { isTeamLead, staffOf } from '../parties/roles.js';
import { forbidden, notFound, Problem, unprocessable, type FieldError } from '../shared/problem.js';
import { checkWith, parseWith } from '../shared/validate.js';
import { localDate } from '../deadlines/calendar.js';
import type { BlobStore } from '../storage/blobs.js';
import { streamStored } from '../shared/http.js';
import type { UploadProblemLimits } from '../shared/uploads.js';
import type { WorklistService, DeadlineStatus } from '../worklist/service.js';
import type { CaseRow } from '../storage/schema.js';
import { DEADLINE_STATUSES } from '../worklist/service.js';
import type { CaseActions } from '../worklist/actions.js';
import { isMonth, type SettlementService } from '../settlement/service.js';
import { statementsCsv } from '../settlement/routes.js';
import type { StatisticsService } from '../statistics/service.js';
import { waitingTimesQuerySchema, type WaitingTimesQuery } from '../statistics/schema.js';
import { waitingTimesCsv } from '../statistics/waiting-times.js';
import type { ConsentService } from '../consents/service.js';
import type { ResponseService } from '../responses/service.js';
import { createResponseUpload } from '../responses/upload.js';
import { contentSchemaFor, type ResponseKind } from '../responses/content.js';
import type { DeliveryService } from '../delivery/service.js';
import type { MedcomService } from '../medcom/service.js';
import { retryDeadLetter, type DeadLetterRetrier } from '../delivery/retry.js';
import type { RoutingService } from '../routing/service.js';
import { assignBodySchema } from '../worklist/schema.js';
import { resolveFieldsSchema } from '../responses/schema.js';
import { hasWorklist, layout, seesFigures, type PageContext } from './layout.js';
import type { Html } from './html.js';
import { parseForm } from './forms.js';
import { checkCsrf } from './security.js';
import { ACTION_FORMS, problemDa, type ActionFormId } from './actions.js';
import type { RetentionService } from '../retention/service.js';
import { worklistPage, type WorklistFilters } from './pages/worklist.js';
import { casePage, type CaseResponse, type FormState } from './pages/case.js';
import { respondPage, sentPage } from './pages/respond.js';
import { overviewPage, type AccessEntry } from './pages/overview.js';
import { GROUPINGS, statisticsPage, type Grouping, type StatisticsFilters } from './pages/statistics.js';
import { addMonths, settlementPage } from './pages/settlement.js';

export interface PageDeps {
  parties: { get(id: string): Party | undefined; all(): readonly Party[] };
  worklist: Pick<WorklistService, 'worklistPage' | 'caseFile' | 'readDocument' | 'overview' | 'visibleCase' | 'serviceOf'>;
  actions: CaseActions;
  consents: Pick<ConsentService, 'record'>;
  retention: Pick<RetentionService, 'placeHold' | 'liftHold'>;
  settlement: Pick<SettlementService, 'statements' | 'agreements' | 'close' | 'isClosed'>;
  statistics: Pick<StatisticsService, 'waitingTimes' | 'volumes' | 'volumeAlerts'>;
  responses: Pick<ResponseService, 'assertAssignee' | 'submit' | 'recordConversation' | 'resolveGpMessage'>;
  delivery: Pick<DeliveryService, 'undelivered' | 'message'>;
  /** an invalid GP message's validation findings, for the overview */
  medcom: Pick<MedcomService, 'show'>;
  routing: Pick<RoutingService, 'staffLoad'>;
  push?: DeadLetterRetrier;
  accessLog(opts: { limit: number }): Promise<AccessEntry[]>;
  blobs: BlobStore;
  limits: UploadProblemLimits;
  /** the queue dashboard is mounted (Redis in use) */
  queues: boolean;
  log: Logger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const FLASH: Record<string, string> = Object.fromEntries(Object.entries(ACTION_FORMS).map(([id, f]) => [id, f.done]));
FLASH.tildelt = 'Sagen er tildelt.';
FLASH.genforsoeg = 'Beskeden er sat i kø igen.';
FLASH.sendt = 'Beskeden er sendt til lægepraksissen.';
FLASH.ugyldig = 'Beskeden fejler stadig MedComs validering og er ikke sendt: se årsagen under «Ugyldige».';
FLASH.lukket = 'Måneden er lukket, og opgørelserne er gemt.';

/** The confirmation a redirect names with `?ok=<id>`: one of the fixed texts above, never text from the address. */
const flashOf = (req: Request, status: number): string | undefined => {
  const id = req.query.ok;
  return status === 200 && typeof id === 'string' && Object.hasOwn(FLASH, id) ? FLASH[id] : undefined;
};

/** The response upload (POST /sager/{caseId}/svar) reads its CSRF token from its own multipart body. */
const UPLOAD_PATH = /^\/sager\/[^/]+\/svar\/?$/i;

export function createPageRouter(deps: PageDeps): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 100 });
  const receiveResponse = createResponseUpload({ blobs: deps.blobs, limits: deps.limits, maxFields: 40 });

  /** Display names: parties by id, municipalities by `municipality:<code>`. */
  const municipalityNames = () => {
    const m = new Map<string, string>();
    for (const p of deps.parties.all()) if (p.kind === 'municipality') m.set(p.municipalityCode, p.name);
    return m;
  };
  const namer = () => {
    const munis = municipalityNames();
    return (id: string): string => {
      if (id.startsWith('municipality:')) {
        const code = id.slice('municipality:'.length);
        return munis.get(code) ?? `Kommune ${code}`;
      }
      if (id.startsWith('system:') || ['routing', 'delivery', 'medcom'].includes(id)) return 'Systemet';
      return deps.parties.get(id)?.name ?? id;
    };
  };
  /** §16 stk. 3–4: the name an agreement gives its supplementary service (null: a statutory service). */
  const serviceName = (agreementId: string, service: string) => deps.worklist.serviceOf(agreementId, service).name;
  const assignable = (): StaffParty[] =>
    deps.parties.all().filter((p): p is StaffParty => p.kind === 'staff' && p.roles.some((r) => r !== 'team-lead'));
  const ctx = (res: Response): PageContext => res.locals.page!;
  const send = (res: Response, status: number, title: string, body: Html) =>
    res
      .status(status)
      .type('html')
      .send(layout(title, body, ctx(res)));
  const caseIdOf = (req: Request): string => {
    const id = String(req.params.caseId);
    if (!UUID.test(id)) throw notFound(`no case ${id}`);
    return id;
  };

  // Every POST carries the session's CSRF token, whatever its content type. Only the response upload is multipart:
  // it checks the token before a byte of the document is stored (below). Any other body holds no token this
  // reads (multipart, JSON, text), so its POST is refused here, before its route runs.
  router.post(/.*/, (req, res, next) => {
    if (req.is('multipart/form-data') && UPLOAD_PATH.test(req.path)) return next();
    form(req, res, (err?: unknown) => {
      if (err) return next(err);
      try {
        checkCsrf(res.locals.session!, (req.body as Record<string, unknown> | undefined)?._csrf);
        next();
      } catch (e) {
        next(e);
      }
    });
  });

  // ---- Arbejdsliste
  router.get('/', async (req, res) => {
    // finance staff work no cases: their start page is the settlement
    if (!hasWorklist(staffOf(req))) return res.redirect(303, '/afregning');
    const q = req.query as Record<string, string | undefined>;
    const filters: WorklistFilters = {
      service: q.tjeneste || undefined,
      municipality: q.kommune || undefined,
      status: q.status && (DEADLINE_STATUSES as readonly string[]).includes(q.status) ? q.status : undefined,
    };
    const page = await deps.worklist.worklistPage(staffOf(req), {
      ...filters,
      status: filters.status as DeadlineStatus | undefined,
      page: Number(q.side) || 1,
    });
    const name = namer();
    send(
      res,
      200,
      'Arbejdsliste',
      worklistPage(page, filters, (code) => name(`municipality:${code}`), flashOf(req, 200)),
    );
  });

  // ---- the case
  async function renderCase(req: Request, res: Response, status: number, formState?: FormState): Promise<void> {
    const staff = staffOf(req);
    const file = await deps.worklist.caseFile(staff, caseIdOf(req));
    send(
      res,
      status,
      `Sag ${file.caseId.slice(0, 8).toUpperCase()}`,
      casePage({
        file,
        service: deps.worklist.serviceOf(file.agreementId, file.service),
        staff,
        csrfToken: ctx(res).csrfToken,
        name: namer(),
        assignable: assignable(),
        flash: flashOf(req, status),
        formState,
      }),
    );
  }
  router.get('/sager/:caseId', (req, res) => renderCase(req, res, 200));

  router.get('/sager/:caseId/dokumenter/:part', async (req, res) => {
    const { doc, stream, fileName } = await deps.worklist.readDocument(staffOf(req), caseIdOf(req), String(req.params.part));
    res.status(200);
    res.setHeader('content-type', doc.media_type);
    res.setHeader('content-length', String(doc.size));
    // inline: it opens in the browser's PDF viewer
    res.setHeader('content-disposition', `inline; filename="${fileName}"`);
    await streamStored(res, stream, deps.log, 'document', { caseId: doc.case_id, documentId: doc.id });
  });

  /** Whether the case page still shows the case to this person (its assignee or a team lead), as caseFile decides. */
  const stillSees = async (staff: StaffParty, caseId: string): Promise<boolean> => {
    try {
      await deps.worklist.visibleCase(staff, caseId, ['assignee', 'team-lead']);
      return true;
    } catch (err) {
      if (err instanceof Problem && err.status === 404) return false;
      throw err;
    }
  };

  for (const [id, f] of Object.entries(ACTION_FORMS) as [ActionFormId, (typeof ACTION_FORMS)[ActionFormId]][]) {
    router.post(`/sager/:caseId/${f.path}`, async (req, res) => {
      const staff = staffOf(req);
      const caseId = caseIdOf(req);
      const values = parseForm(f.schema, req.body as Record<string, unknown>);
      try {
        const body = parseWith(f.schema, values, { what: 'the form' });
        await (f.run as (s: unknown, staff: StaffParty, caseId: string, body: unknown) => Promise<unknown>)(deps, staff, caseId, body);
      } catch (err) {
        if (err instanceof Problem && (err.status === 422 || err.status === 409)) {
          return renderCase(req, res, err.status, { form: id, values, errors: err.errors ?? [], message: problemDa(err) });
        }
        throw err;
      }
      // §12 stk. 2: a declared conflict unassigns its declarer, and the case page no longer shows them the case
      // (a team lead still sees it): the confirmation then waits on the worklist, not behind a 404.
      res.redirect(303, (await stillSees(staff, caseId)) ? `/sager/${caseId}?ok=${id}` : `/?ok=${id}`);
    });
  }

  // ---- responses
  /** The kind `?type=` names, when the case returns it: the law's kinds, or those the agreement gives a supplementary service (§16 stk. 3–4). */
  const kindOf = (req: Request, c: Pick<CaseRow, 'service' | 'agreement_id'>): ResponseKind => {
    const k = String(req.query.type ?? '');
    if (!deps.worklist.serviceOf(c.agreement_id, c.service).responseKinds.includes(k as ResponseKind)) {
      throw notFound(`no response form ${k} for ${c.service}`);
    }
    return k as ResponseKind;
  };

  router.get('/sager/:caseId/svar/ny', async (req, res) => {
    const staff = staffOf(req);
    const caseId = caseIdOf(req);
    const c = await deps.worklist.visibleCase(staff, caseId, ['assignee']);
    const kind = kindOf(req, c);
    const { name } = deps.worklist.serviceOf(c.agreement_id, c.service);
    send(res, 200, 'Send svar', respondPage({ caseId, service: c.service, serviceName: name, kind, csrfToken: ctx(res).csrfToken }));
  });

  router.post('/sager/:caseId/svar', async (req, res) => {
    const staff = staffOf(req);
    const caseId = caseIdOf(req);
    // Before reading the body: only the assignee may respond (anyone else: 404, like a missing case).
    await deps.responses.assertAssignee(staff, caseId);
    const file = await deps.worklist.visibleCase(staff, caseId, ['assignee']);
    const kind = kindOf(req, file);
    const schema = contentSchemaFor(kind, file.service);
    // The CSRF token is the form's first field: checked before a byte of the document is stored. The upload turns
    // an error thrown there into a plain 403 problem; the refusal is rethrown as itself (the CSRF page and its log line).
    let refused: unknown;
    const upload = await receiveResponse(req, res, (fields) => {
      try {
        checkCsrf(res.locals.session!, fields._csrf);
      } catch (err) {
        refused = err;
        throw err;
      }
    }).catch((err: unknown) => {
      throw refused ?? err;
    });
    checkCsrf(res.locals.session!, upload.fields._csrf);
    const values = parseForm(schema, upload.fields);
    try {
      if (!upload.document) {
        throw new Problem({
          status: 422,
          title: 'Unprocessable content',
          type: 'validation',
          errors: [{ path: 'document', message: 'required', da: 'Vælg det underskrevne PDF-dokument' }],
        });
      }
      const out = await deps.responses.submit(staff, caseId, { kind, content: values }, upload.document);
      res.redirect(303, `/sager/${caseId}/svar/${out.responseId}`);
    } catch (err) {
      await upload.discard();
      if (err instanceof Problem && (err.status === 422 || err.status === 409 || err.status === 415 || err.status === 413)) {
        const errors =
          err.status === 415 || err.status === 413
            ? [{ path: 'document', message: err.detail ?? '', da: 'Dokumentet skal være en PDF (højst den tilladte størrelse)' }]
            : (err.errors ?? []);
        return send(
          res,
          err.status,
          'Send svar',
          respondPage({
            caseId,
            service: file.service,
            serviceName: deps.worklist.serviceOf(file.agreement_id, file.service).name,
            kind,
            csrfToken: ctx(res).csrfToken,
            values,
            errors,
            message: problemDa(err),
          }),
        );
      }
      throw err;
    }
  });

  router.get('/sager/:caseId/svar/:responseId', async (req, res) => {
    const file = await deps.worklist.caseFile(staffOf(req), caseIdOf(req));
    const r = (file.responses as CaseResponse[]).find((x) => x.responseId === req.params.responseId);
    if (!r) throw notFound('no such response');
    send(res, 200, 'Svaret er sendt', sentPage(file.caseId, r, namer()));
  });

  // ---- team leads
  const leadOnly = (req: Request): StaffParty => {
    const s = staffOf(req);
    if (!isTeamLead(s)) throw forbidden('the overview is for team leads');
    return s;
  };

  async function renderOverview(req: Request, res: Response, status: number, formState?: FormState): Promise<void> {
    leadOnly(req);
    const [lists, load, dead, none, invalid, access, volumeAlerts] = await Promise.all([
      deps.worklist.overview(),
      deps.routing.staffLoad(),
      deps.delivery.undelivered('dead-lettered'),
      deps.delivery.undelivered('no-recipient-system'),
      deps.delivery.undelivered('invalid'),
      deps.accessLog({ limit: 50 }),
      deps.statistics.volumeAlerts(),
    ]);
    send(
      res,
      status,
      'Overblik',
      overviewPage({
        lists,
        load,
        messages: {
          'dead-lettered': dead,
          'no-recipient-system': none,
          // what failed MedCom's validation, for the reason the page gives (invalid messages are few: one read each)
          invalid: await Promise.all(
            invalid.map(async (m) => ({ ...m, validationIssues: (await deps.medcom.show(m.messageId)).validationIssues })),
          ),
        },
        access,
        assignable: assignable(),
        csrfToken: ctx(res).csrfToken,
        name: namer(),
        flash: flashOf(req, status),
        formState,
        queues: deps.queues,
        volumeAlerts,
        serviceName,
      }),
    );
  }
  router.get('/overblik', (req, res) => renderOverview(req, res, 200));

  router.post('/sager/:caseId/tildel', async (req, res) => {
    const lead = leadOnly(req);
    const caseId = caseIdOf(req);
    const returnTo = (req.body as Record<string, unknown>).returnTo === '/overblik' ? '/overblik' : `/sager/${caseId}`;
    const values = parseForm(assignBodySchema, req.body as Record<string, unknown>);
    try {
      await deps.actions.assign(lead, caseId, parseWith(assignBodySchema, values, { what: 'the form' }));
    } catch (err) {
      if (err instanceof Problem && (err.status === 422 || err.status === 409)) {
        const state = { form: `assign-${caseId}`, values, errors: err.errors ?? [], message: problemDa(err) };
        return returnTo === '/overblik' ? renderOverview(req, res, err.status, state) : renderCase(req, res, err.status, state);
      }
      throw err;
    }
    res.redirect(303, `${returnTo}?ok=tildelt`);
  });

  router.post('/overblik/beskeder/:messageId/:action', async (req, res) => {
    const lead = leadOnly(req);
    const id = String(req.params.messageId);
    if (!UUID.test(id)) throw notFound('no such message');
    // "Send nu" of a GP message without a ydernummer carries the one the lead gives (the same schema as the API's body).
    const values = req.params.action === 'send' ? parseForm(resolveFieldsSchema, req.body as Record<string, unknown>) : {};
    let done = req.params.action === 'genforsoeg' ? 'genforsoeg' : 'sendt';
    try {
      if (req.params.action === 'genforsoeg') await retryDeadLetter(deps.delivery, deps.push, id, lead.id);
      else if (req.params.action === 'send') {
        const r = await deps.responses.resolveGpMessage(lead, id, parseWith(resolveFieldsSchema, values, { what: 'the form' }));
        if (r.state === 'invalid') done = 'ugyldig';
      } else throw notFound('no such action');
    } catch (err) {
      if (err instanceof Problem && (err.status === 409 || err.status === 422)) {
        return renderOverview(req, res, err.status, { form: `message-${id}`, values, errors: err.errors ?? [], message: problemDa(err) });
      }
      throw err;
    }
    res.redirect(303, `/overblik?ok=${done}`);
  });

  // ---- team leads and finance: statistics and settlement
  const figuresOnly = (req: Request): StaffParty => {
    const s = staffOf(req);
    if (!seesFigures(s)) throw forbidden('the statistics and the settlement are for team leads and finance staff');
    return s;
  };
  const today = () => localDate(new Date());

  /** The page's query: the last 12 months (from the first of the month 11 months back) by month, unless asked otherwise. */
  const statisticsFilters = (req: Request): { filters: StatisticsFilters; query: WaitingTimesQuery; errors: FieldError[] } => {
    const q = req.query as Record<string, string | undefined>;
    const t = today();
    const gruppering: Grouping = q.gruppering && Object.hasOwn(GROUPINGS, q.gruppering) ? (q.gruppering as Grouping) : 'maaned';
    const filters = { fra: q.fra || `${addMonths(t.slice(0, 7), -11)}-01`, til: q.til || t, gruppering };
    const query = { from: filters.fra, to: filters.til, groupBy: GROUPINGS[gruppering] };
    return { filters, query, errors: checkWith(waitingTimesQuerySchema, query) };
  };

  router.get('/statistik', async (req, res) => {
    const staff = figuresOnly(req);
    const { filters, query, errors } = statisticsFilters(req);
    const [report, volumes] = await Promise.all([
      errors.length === 0 ? deps.statistics.waitingTimes(staff, query) : undefined,
      deps.statistics.volumes(staff),
    ]);
    send(
      res,
      errors.length === 0 ? 200 : 422,
      'Statistik',
      statisticsPage({ filters, errors, report, volumes, name: namer(), serviceName }),
    );
  });

  // The same CSV as GET /v1/statistics/waiting-times?format=csv (the API's port needs a client certificate).
  router.get('/statistik.csv', async (req, res) => {
    const staff = figuresOnly(req);
    const { query } = statisticsFilters(req);
    const report = await deps.statistics.waitingTimes(staff, parseWith(waitingTimesQuerySchema, query, { what: 'the query' }));
    res.type('text/csv; charset=utf-8').attachment(`waiting-times_${report.from}_${report.to}.csv`).send(waitingTimesCsv(report));
  });

  const monthError = (month: string): FieldError[] =>
    isMonth(month) ? [] : [{ path: 'month', message: 'must be a month written YYYY-MM', da: 'Vælg en måned (ÅÅÅÅ-MM)' }];

  async function renderSettlement(req: Request, res: Response, status: number, month: string, message?: string): Promise<void> {
    const staff = figuresOnly(req);
    const errors = monthError(month);
    const [statements, closed] =
      errors.length === 0 ? await Promise.all([deps.settlement.statements(staff, month), deps.settlement.isClosed(month)]) : [[], false];
    const nextFirst = `${addMonths(month, 1)}-01`;
    send(
      res,
      errors.length > 0 ? 422 : status,
      'Afregning',
      settlementPage({
        month,
        errors,
        statements,
        closed,
        ended: errors.length === 0 && nextFirst <= today(),
        closableFrom: errors.length === 0 ? nextFirst : undefined,
        csrfToken: ctx(res).csrfToken,
        flash: flashOf(req, status),
        message,
      }),
    );
  }

  /** The month before this one (local time): the one due for settlement. */
  const previousMonth = () => addMonths(today().slice(0, 7), -1);

  router.get('/afregning', (req, res) => {
    const q = typeof req.query.maaned === 'string' && req.query.maaned !== '' ? req.query.maaned : previousMonth();
    return renderSettlement(req, res, 200, q.slice(0, 20));
  });

  // The same CSV as GET /v1/settlements?month=…&format=csv.
  router.get('/afregning.csv', async (req, res) => {
    const staff = figuresOnly(req);
    const month = typeof req.query.maaned === 'string' ? req.query.maaned : '';
    const errors = monthError(month);
    if (errors.length > 0) throw unprocessable('maaned must be a month written YYYY-MM', errors);
    const list = await deps.settlement.statements(staff, month);
    res.type('text/csv; charset=utf-8').attachment(`afregning-${month}.csv`).send(statementsCsv(list));
  });

  router.post('/afregning/:maaned/luk', async (req, res) => {
    const staff = figuresOnly(req);
    const month = String(req.params.maaned);
    if (!isMonth(month)) throw notFound('no such month');
    try {
      await deps.settlement.close(staff, month);
    } catch (err) {
      if (err instanceof Problem && err.status === 409) return renderSettlement(req, res, 409, month, problemDa(err));
      throw err;
    }
    res.redirect(303, `/afregning?maaned=${month}&ok=lukket`);
  });

  return router;
}
