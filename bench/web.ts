/**
 * Staff pages benchmark for bench/run.ts: the server time of the worklist
 * (`GET /`, Arbejdsliste) and of a case page (`GET /sager/{caseId}`) with
 * 10 000 open cases in the database, 200 of them assigned to the signed-in
 * coordinator (the issue's requirement: each renders in under 100 ms at p95).
 *
 * The caller starts a fresh gateway child (own data directory; SQLite, or its
 * own PostgreSQL schema; no Redis, so nothing routes or reassigns the cases
 * behind the benchmark's back) and hands over the staff pages' origin, the
 * development IdP's issuer, the parties' client credentials and a handle on
 * the same database (`sqliteSeedDb` / `pgSeedDb`). Here:
 *
 * 1. seed: `posted` real packages are posted over mTLS (kommune-101 and
 *    kommune-147; rehab-team-advice, some urgent, early-pension-statement,
 *    ongoing-case-advice and clinical-assessment; a 4 KiB PDF each), so
 *    those cases have a sealed manifest, a document, a receipt, events and a
 *    running clock. They are assigned by SQL as routing would (state
 *    'assigned', assigned_to, an 'assigned' case event): `realForStaff` of
 *    them to the measured coordinator, the rest to colleagues. Then their case
 *    rows are cloned by SQL (new ids, a random citizen_ref, received_at spread
 *    over the last 120 days, the clock's deadlines moved with it, so the lists
 *    hold overdue, at-risk and running cases) until there are `openCases` open
 *    cases, exactly `staffCases` of them assigned to the coordinator and the
 *    rest spread over coord-carl, coord-x (147 only: 101's agreement excludes
 *    her), spec-bo and spec-eva (clinical assessments to the specialists);
 * 2. login: as the coordinator through the real OIDC flow of the staff pages
 *    and the development IdP (/login/start → the IdP's login page → POST
 *    /interaction/{uid}/login with the subject → /auth/callback), with a
 *    cookie jar per origin, over HTTPS trusting the dev CA; the session is the
 *    `__Host-postkasse-session` cookie;
 * 3. warm-up: `warmup` GETs of each page (not measured);
 * 4. measure: `count` sequential GETs of `/` (one keep-alive connection), then
 *    `count` of `/sager/{id}` cycling over the coordinator's posted cases; the
 *    client's round trip per request, and when each series began, so that
 *    `staffPageTimes` can take the server time of exactly those requests
 *    from the gateway's log ('staff page' lines: `ms` is request in → response
 *    finished, in the staff app's first middleware);
 * 5. page weight of `/`: its HTML plus /static/app.css and /static/app.js.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { addDays, daysBetween, endOfLocalDay, localDate } from '../src/deadlines/calendar.js';
import { cpuSeconds, postPackage, readAnswer } from './lib.js';
import type { TlsCreds } from './routing.js';

export const WEB_SESSION_COOKIE = '__Host-postkasse-session';

// ---------------------------------------------------------------- the database, from the bench process

type Row = Record<string, unknown>;

/** What seeding needs of the gateway's database (the same file or schema the child uses). */
export interface SeedDb {
  dialect: 'sqlite' | 'postgres';
  /** case rows by id, every column */
  cases(ids: readonly string[]): Promise<Row[]>;
  /** inserts case rows (every column given) */
  insertCases(rows: readonly Row[]): Promise<void>;
  /** assigns cases as routing does: state, assignee, an 'assigned' case event */
  assign(list: readonly { id: string; staffId: string; at: string; round: number }[]): Promise<void>;
  /** open cases (state ≠ 'closed') by assignee ('' = nobody) */
  openByAssignee(): Promise<Record<string, number>>;
  /** after seeding: what a steady database would have (PostgreSQL: the ANALYZE autovacuum would run; SQLite: a WAL checkpoint) */
  settle(): Promise<void>;
  /** the plan of the worklist's query (src/worklist/store.ts assignedTo), one line */
  worklistPlan(staffId: string): Promise<string>;
  close(): Promise<void>;
}

const WORKLIST_SQL =
  'select "id", "service", "case_type", "urgent", "municipality_code", "received_at", "state", "clock", "assigned_to", "routing_note" ' +
  'from "cases" where "assigned_to" = $1 and "state" = $2';

/** The gateway's SQLite file, opened alongside the gateway (WAL: readers and one writer at a time, across processes). */
export function sqliteSeedDb(file: string): SeedDb {
  const db = new BetterSqlite3(file);
  db.pragma('busy_timeout = 10000');
  const columns = (db.prepare('PRAGMA table_info(cases)').all() as { name: string }[]).map((c) => c.name);
  const insert = db.prepare(`INSERT INTO cases (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
  const update = db.prepare(
    `UPDATE cases SET state = 'assigned', assigned_to = ?, assigned_at = ?, routing_note = NULL, updated_at = ? WHERE id = ?`,
  );
  const event = db.prepare(`INSERT INTO case_events (case_id, at, event, actor, data) VALUES (?, ?, 'assigned', 'routing', ?)`);
  return {
    dialect: 'sqlite',
    async cases(ids) {
      const stmt = db.prepare(`SELECT * FROM cases WHERE id IN (${ids.map(() => '?').join(', ')})`);
      return stmt.all(...ids) as Row[];
    },
    async insertCases(rows) {
      db.transaction(() => {
        for (const r of rows) insert.run(columns.map((c) => r[c] ?? null));
      })();
    },
    async assign(list) {
      db.transaction(() => {
        for (const a of list) {
          update.run(a.staffId, a.at, a.at, a.id);
          event.run(a.id, a.at, JSON.stringify({ staffId: a.staffId, round: a.round, by: 'routing' }));
        }
      })();
    },
    async openByAssignee() {
      const rows = db
        .prepare(`SELECT coalesce(assigned_to, '') AS who, count(*) AS n FROM cases WHERE state <> 'closed' GROUP BY 1`)
        .all() as {
        who: string;
        n: number;
      }[];
      return Object.fromEntries(rows.map((r) => [r.who, Number(r.n)]));
    },
    async settle() {
      db.pragma('wal_checkpoint(PASSIVE)');
    },
    async worklistPlan(staffId) {
      const rows = db.prepare(`EXPLAIN QUERY PLAN ${WORKLIST_SQL.replace('$1', '?').replace('$2', '?')}`).all(staffId, 'assigned') as {
        detail: string;
      }[];
      return rows.map((r) => r.detail).join('; ');
    },
    async close() {
      db.close();
    },
  };
}

/** The gateway's PostgreSQL schema. */
export async function pgSeedDb(url: string, schema: string): Promise<SeedDb> {
  const c = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await c.connect();
  const { rows: cols } = await c.query<{ column_name: string }>(
    'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [schema, 'cases'],
  );
  const columns = cols.map((r) => r.column_name);
  if (columns.length === 0) throw new Error(`PostgreSQL schema ${schema} has no cases table`);
  return {
    dialect: 'postgres',
    async cases(ids) {
      return (await c.query<Row>('SELECT * FROM cases WHERE id = ANY($1)', [ids])).rows;
    },
    async insertCases(rows) {
      // A few hundred rows per statement: well under PostgreSQL's 65 535 parameters.
      const per = Math.floor(60_000 / columns.length);
      await c.query('BEGIN');
      try {
        for (let i = 0; i < rows.length; i += per) {
          const batch = rows.slice(i, i + per);
          const params: unknown[] = [];
          const values = batch.map((r) => `(${columns.map((col) => `$${params.push(r[col] ?? null)}`).join(', ')})`);
          await c.query(`INSERT INTO cases (${columns.map((col) => `"${col}"`).join(', ')}) VALUES ${values.join(', ')}`, params);
        }
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    },
    async assign(list) {
      await c.query('BEGIN');
      try {
        for (const a of list) {
          await c.query(
            `UPDATE cases SET state = 'assigned', assigned_to = $1, assigned_at = $2, routing_note = NULL, updated_at = $2 WHERE id = $3`,
            [a.staffId, a.at, a.id],
          );
          await c.query(`INSERT INTO case_events (case_id, at, event, actor, data) VALUES ($1, $2, 'assigned', 'routing', $3)`, [
            a.id,
            a.at,
            JSON.stringify({ staffId: a.staffId, round: a.round, by: 'routing' }),
          ]);
        }
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    },
    async openByAssignee() {
      const { rows } = await c.query<{ who: string; n: string }>(
        `SELECT coalesce(assigned_to, '') AS who, count(*) AS n FROM cases WHERE state <> 'closed' GROUP BY 1`,
      );
      return Object.fromEntries(rows.map((r) => [r.who, Number(r.n)]));
    },
    async settle() {
      await c.query('ANALYZE cases');
    },
    async worklistPlan(staffId) {
      const { rows } = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${WORKLIST_SQL}`, [staffId, 'assigned']);
      return rows.map((r) => r['QUERY PLAN'].trim()).join('; ');
    },
    async close() {
      await c.end();
    },
  };
}

// ---------------------------------------------------------------- HTTP(S) with cookies

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

/** Cookies by origin; paths and expiry are ignored (one short login), Max-Age=0 deletes. */
class CookieJar {
  private readonly byOrigin = new Map<string, Map<string, string>>();

  store(origin: string, setCookie: string[] | undefined): void {
    if (!setCookie) return;
    const jar = this.byOrigin.get(origin) ?? new Map<string, string>();
    this.byOrigin.set(origin, jar);
    for (const line of setCookie) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === '';
      if (gone) jar.delete(name);
      else jar.set(name, value);
    }
  }

  header(origin: string): string | undefined {
    const jar = this.byOrigin.get(origin);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(origin: string, name: string): string | undefined {
    return this.byOrigin.get(origin)?.get(name);
  }
}

/**
 * One request to `url`. HTTPS goes to 127.0.0.1 with the URL's host name for
 * SNI, certificate check and Host (the staff pages' origin is
 * https://localhost:<port>; the listener is on 127.0.0.1). Latency = request
 * start → last answer byte.
 */
function send(
  url: URL,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer; agent: http.Agent; timeoutMs?: number },
): Promise<Answer> {
  const started = process.hrtime.bigint();
  const secure = url.protocol === 'https:';
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
  return new Promise<Answer>((resolve, reject) => {
    const options: https.RequestOptions = {
      host,
      port: url.port,
      method: o.method ?? 'GET',
      path: url.pathname + url.search,
      agent: o.agent,
      headers: { host: url.host, ...(o.body ? { 'content-length': String(o.body.length) } : {}), ...o.headers },
      timeout: o.timeoutMs ?? 30_000,
      ...(secure ? { servername: url.hostname } : {}),
    };
    const req = (secure ? https : http).request(options, (res) => void readAnswer(res, started, Infinity).then(resolve, reject));
    req.on('timeout', () => req.destroy(new Error(`${o.method ?? 'GET'} ${url.href} timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/**
 * Logs in as the staff member whose IdP subject is `subject`, through the
 * staff pages' OIDC flow and the development IdP's login page, as a browser
 * would. Returns the session cookie's value.
 */
async function login(
  base: URL,
  subject: string,
  agents: { staff: https.Agent; idp: http.Agent },
): Promise<{ session: string; steps: number; ms: number }> {
  const jar = new CookieJar();
  const t0 = performance.now();
  let url = new URL('/login/start?returnTo=%2F', base);
  let method = 'GET';
  let body: Buffer | undefined;
  let postedLogin = false;
  for (let step = 1; step <= 20; step++) {
    const cookie = jar.header(url.origin);
    const r = await send(url, {
      method,
      body,
      agent: url.protocol === 'https:' ? agents.staff : agents.idp,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded', origin: url.origin } : {}),
      },
    });
    jar.store(url.origin, r.headers['set-cookie']);
    const where = `${method} ${url.origin}${url.pathname}`;
    if (r.status >= 300 && r.status < 400 && r.headers.location) {
      const next = new URL(r.headers.location, url);
      if (url.origin === base.origin && url.pathname === '/auth/callback') {
        const session = jar.get(base.origin, WEB_SESSION_COOKIE);
        if (!session) throw new Error(`login: the callback redirected to ${next.pathname} without a session cookie`);
        return { session, steps: step, ms: performance.now() - t0 };
      }
      url = next;
      method = 'GET';
      body = undefined;
    } else if (r.status === 200 && !postedLogin && /^\/interaction\/[A-Za-z0-9_-]+$/.test(url.pathname)) {
      // The development IdP's login page: one button per staff member, all in one form.
      const page = r.body.toString('utf8');
      const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1];
      if (!action || !page.includes(`value="${subject}"`)) throw new Error(`login: the IdP's login page offers no button for ${subject}`);
      url = new URL(action.replace(/&amp;/g, '&'), url);
      method = 'POST';
      body = Buffer.from(new URLSearchParams({ subject }).toString());
      postedLogin = true;
    } else {
      throw new Error(`login: ${where} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    }
  }
  throw new Error('login: more than 20 steps');
}

// ---------------------------------------------------------------- seeding

const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n', 'latin1'), randomBytes(4096 - 9)]);

interface PackageSpec {
  party: 'kommune-101' | 'kommune-147';
  service: string;
  caseType: string;
  docType: string;
  urgent: boolean;
  gp: string;
}

/** The i-th real package: the two municipalities of the coordinator, her services (and clinical assessments for the specialists). */
function packageSpec(i: number): PackageSpec {
  const party = i % 2 === 0 ? 'kommune-101' : 'kommune-147';
  switch (i % 5) {
    case 0:
    case 3:
      return {
        party,
        service: 'rehab-team-advice',
        caseType: 'ressourceforloeb',
        docType: 'rehab-plan-preparatory',
        urgent: i % 15 === 0,
        gp: '012345',
      };
    case 1:
      return {
        party,
        service: 'early-pension-statement',
        caseType: 'foertidspension',
        docType: 'rehab-plan-preparatory',
        urgent: false,
        gp: '012345',
      };
    case 2:
      return { party, service: 'ongoing-case-advice', caseType: 'jobafklaringsforloeb', docType: 'journal', urgent: false, gp: '012345' };
    default:
      return { party, service: 'clinical-assessment', caseType: 'ressourceforloeb', docType: 'request', urgent: false, gp: '057584' };
  }
}

/** A valid CPR number per package (dates 1960–1999). */
function cpr(n: number): string {
  const two = (x: number) => String(x).padStart(2, '0');
  return `${two(1 + (n % 28))}${two(1 + (Math.floor(n / 28) % 12))}${two(60 + (Math.floor(n / 336) % 40))}4321`;
}

async function seedPackage(port: number, agent: https.Agent, i: number): Promise<string> {
  const s = packageSpec(i);
  const m = {
    packageId: randomUUID(),
    service: s.service,
    caseType: s.caseType,
    ...(s.urgent ? { urgent: { reason: 'other' } } : {}),
    citizen: { cpr: cpr(i), name: `Bench Borger ${i + 1}` },
    gp: { ydernummer: s.gp, name: 'Lægehuset' },
    caseworker: { name: 'Sara Sagsbehandler', email: 'sara@kommune.dk', phone: '33 66 33 66' },
    documents: [{ part: 'doc1', type: s.docType, mediaType: 'application/pdf', title: 'Sagens dokument' }],
  };
  const r = await postPackage({ agent, port, manifest: m, pdf: PDF, timeoutMs: 60_000 });
  if (r.status !== 201) throw new Error(`seed package ${i}: gateway answered ${r.status}: ${r.body.toString('utf8').slice(0, 500)}`);
  const body = JSON.parse(r.body.toString('utf8')) as { caseId?: unknown };
  if (typeof body.caseId !== 'string') throw new Error(`seed package ${i}: receipt without caseId`);
  return body.caseId;
}

interface ClockLike {
  status: string;
  startedAt: string | null;
  deadlines: { dueDate: string; dueAt: string; originalDueDate?: string }[];
}

const DAY_MS = 86_400_000;

/**
 * A copy of a real case row received `ageMs` before now, for `staffId`: new
 * id and citizen, the clock's deadlines as many days after the new receipt as
 * the template's were after its own.
 */
function cloneRow(t: Row, staffId: string, receivedMs: number): Row {
  const receivedAt = new Date(receivedMs).toISOString();
  const shift = daysBetween(localDate(String(t.received_at)), localDate(receivedAt));
  const clock = JSON.parse(String(t.clock)) as ClockLike;
  const moved: ClockLike = {
    ...clock,
    startedAt: clock.startedAt ? receivedAt : null,
    deadlines: clock.deadlines.map((d) => {
      const dueDate = addDays(d.dueDate, shift);
      return {
        ...d,
        dueDate,
        dueAt: endOfLocalDay(dueDate),
        ...(d.originalDueDate ? { originalDueDate: addDays(d.originalDueDate, shift) } : {}),
      };
    }),
  };
  const assignedAt = new Date(receivedMs + 60_000 + Math.floor(Math.random() * 3_600_000)).toISOString();
  return {
    ...t,
    id: randomUUID(),
    citizen_ref: createHash('sha256').update(randomBytes(16)).digest('hex'),
    received_at: receivedAt,
    clock_started_at: t.clock_started_at ? receivedAt : null,
    clock: JSON.stringify(moved),
    state: 'assigned',
    assigned_to: staffId,
    assigned_at: assignedAt,
    routing_note: null,
    created_at: receivedAt,
    updated_at: assignedAt,
  };
}

/** Who besides the coordinator works a case like `t`: specialists the clinical assessments, coordinators the rest (coord-x not for 101). */
function colleagueFor(t: Row, n: number): string {
  if (t.service === 'clinical-assessment') return n % 2 === 0 ? 'spec-bo' : 'spec-eva';
  if (t.municipality_code === '147') return ['coord-carl', 'coord-x'][n % 2]!;
  return 'coord-carl';
}

// ---------------------------------------------------------------- the run

export interface WebRunOptions {
  /** the gateway's mTLS API port (packages) and its pid (CPU) */
  port: number;
  pid: number;
  staffBaseUrl: string;
  /** the dev CA (PEM) the staff listener's certificate chains to */
  ca: string;
  creds(partyId: string): TlsCreds;
  db: SeedDb;
  /** the measured staff member and their IdP subject */
  staffId: string;
  subject: string;
  openCases: number;
  staffCases: number;
  posted: number;
  /** how many of the posted cases are the measured staff member's */
  realForStaff: number;
  warmup: number;
  count: number;
  track(agent: http.Agent): void;
  untrack(agent: http.Agent): void;
  progress(s: string): void;
  interrupted(): boolean;
  /** around the measured requests (e.g. a CPU profile of the gateway) */
  onMeasureStart?(): Promise<unknown>;
  onMeasureEnd?(): Promise<unknown>;
}

export interface PageSeries {
  path: string;
  /** client round trips, ms */
  clientMs: number[];
  /** requests in the series */
  count: number;
  /** epoch ms: just before the first request (its log lines are the first of the path from then on) */
  from: number;
  bytes: number;
  /** gateway CPU over the series, ms per request: all threads, and the event loop's */
  serverCpuMs: number;
  eventLoopCpuMs: number;
}

export interface WebMeasurement {
  seed: {
    postedMs: number;
    clonedMs: number;
    cloned: number;
    openByAssignee: Record<string, number>;
    openCases: number;
    staffCases: number;
    realForStaff: number;
    worklistPlan: string;
  };
  login: { ms: number; steps: number };
  worklist: PageSeries;
  casePage: PageSeries & { cases: number };
  weight: { htmlBytes: number; cssBytes: number; jsBytes: number };
}

export async function measureWeb(o: WebRunOptions): Promise<WebMeasurement> {
  if (o.realForStaff > o.posted || o.realForStaff > o.staffCases)
    throw new Error('web: realForStaff must fit the posted and the staff cases');
  // ---- 1. seed: real packages over mTLS, assigned by SQL
  const t0 = performance.now();
  const agents: Record<string, https.Agent> = {};
  for (const party of ['kommune-101', 'kommune-147']) {
    agents[party] = new https.Agent({ keepAlive: true, maxSockets: 4, ...o.creds(party) });
    o.track(agents[party]);
  }
  const posted: string[] = new Array<string>(o.posted);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < o.posted && !o.interrupted()) {
        const i = next++;
        posted[i] = await seedPackage(o.port, agents[packageSpec(i).party]!, i);
      }
    }),
  );
  for (const a of Object.values(agents)) {
    a.destroy();
    o.untrack(a);
  }
  if (o.interrupted()) throw new Error('interrupted');
  const postedMs = performance.now() - t0;

  const t1 = performance.now();
  const real = await o.db.cases(posted);
  if (real.length !== o.posted) throw new Error(`web: ${real.length} of ${o.posted} posted cases found in the database`);
  const notOpen = real.filter((r) => r.state !== 'received');
  if (notOpen.length > 0)
    throw new Error(
      `web: posted cases not in state 'received' (complete, not routed): ${notOpen.map((r) => `${String(r.id)} ${String(r.state)}`).join(', ')}`,
    );
  // The coordinator's: her municipalities' cases of her services (not the clinical assessments).
  const hers = real.filter((r) => r.service !== 'clinical-assessment').slice(0, o.realForStaff);
  if (hers.length < o.realForStaff) throw new Error(`web: only ${hers.length} posted cases fit ${o.staffId}`);
  const herIds = new Set(hers.map((r) => String(r.id)));
  const now = Date.now();
  await o.db.assign(
    real.map((r, n) => ({
      id: String(r.id),
      staffId: herIds.has(String(r.id)) ? o.staffId : colleagueFor(r, n),
      at: new Date(now - 60_000 + n).toISOString(),
      round: Number(r.routing_round ?? 0),
    })),
  );
  // ---- clones up to openCases, staffCases of them hers
  const rows: Row[] = [];
  const age = () => now - Math.floor(Math.random() * 120 * DAY_MS) - 3_600_000;
  for (let n = 0; rows.length < o.staffCases - hers.length; n++) rows.push(cloneRow(hers[n % hers.length]!, o.staffId, age()));
  const othersNeeded = o.openCases - o.posted - rows.length;
  for (let n = 0; n < othersNeeded; n++) {
    const t = real[n % real.length]!;
    rows.push(cloneRow(t, colleagueFor(t, Math.floor(n / real.length)), age()));
  }
  await o.db.insertCases(rows);
  await o.db.settle();
  const clonedMs = performance.now() - t1;
  const openByAssignee = await o.db.openByAssignee();
  const openCases = Object.values(openByAssignee).reduce((a, b) => a + b, 0);
  const staffCases = openByAssignee[o.staffId] ?? 0;
  if (openCases !== o.openCases || staffCases !== o.staffCases) {
    throw new Error(`web: seeded ${openCases} open cases, ${staffCases} of them ${o.staffId}'s; wanted ${o.openCases} and ${o.staffCases}`);
  }
  const worklistPlan = await o.db.worklistPlan(o.staffId);
  o.progress(
    `web: ${o.posted} packages posted in ${(postedMs / 1000).toFixed(1)} s, ${rows.length} case rows cloned in ${(clonedMs / 1000).toFixed(1)} s; ` +
      `open cases by assignee: ${Object.entries(openByAssignee)
        .map(([k, v]) => `${k || '(none)'} ${v}`)
        .join(', ')}`,
  );

  // ---- 2. login
  const base = new URL(o.staffBaseUrl);
  const staffAgent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: o.ca });
  const idpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  o.track(staffAgent);
  o.track(idpAgent);
  try {
    const signedIn = await login(base, o.subject, { staff: staffAgent, idp: idpAgent });
    o.progress(
      `web: signed in as ${o.staffId} (${o.subject}) through the development IdP in ${signedIn.steps} requests, ${Math.round(signedIn.ms)} ms`,
    );
    const cookie = `${WEB_SESSION_COOKIE}=${signedIn.session}`;
    const getPage = async (path: string, check?: (html: string) => string | null): Promise<Answer> => {
      const r = await send(new URL(path, base), { agent: staffAgent, headers: { cookie, accept: 'text/html' } });
      if (r.status !== 200) throw new Error(`web: GET ${path} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
      const problem = check?.(r.body.toString('utf8'));
      if (problem) throw new Error(`web: GET ${path}: ${problem}`);
      return r;
    };
    const checkWorklist = (html: string) =>
      html.includes(`>${o.staffCases} sager<`) ? null : `the worklist does not say "${o.staffCases} sager": ${html.slice(0, 300)}`;
    const casePaths = hers.map((r) => `/sager/${String(r.id)}`);
    const checkCase = (html: string) => (html.includes('Sagens dokument') ? null : `the case page does not list the case's document`);

    // ---- 5. (first) page weight, checked pages
    const first = await getPage('/', checkWorklist);
    const statusSelect = /id="filter-status"[^>]*>([\s\S]*?)<\/select>/.exec(first.body.toString('utf8'))?.[1] ?? '';
    const statuses = [...statusSelect.matchAll(/<option value="([a-z-]+)"/g)].map((x) => x[1]!);
    o.progress(`web: the statuses on ${o.staffId}'s worklist (its filter): ${statuses.join(', ') || '(none)'}`);
    const css = await getPage('/static/app.css');
    const js = await getPage('/static/app.js');
    await getPage(casePaths[0]!, checkCase);

    // ---- 3. warm-up
    for (let i = 0; i < o.warmup; i++) {
      await getPage('/');
      await getPage(casePaths[i % casePaths.length]!);
    }

    // ---- 4. measure
    const series = async (paths: readonly string[], check: (html: string) => string | null): Promise<PageSeries> => {
      const clientMs: number[] = [];
      let bytes = 0;
      const cpu0 = cpuSeconds(o.pid);
      const from = Date.now();
      for (let i = 0; i < o.count && !o.interrupted(); i++) {
        const r = await getPage(paths[i % paths.length]!, i === 0 ? check : undefined);
        clientMs.push(r.ms);
        bytes = Math.max(bytes, r.body.length);
      }
      const cpu1 = cpuSeconds(o.pid);
      if (o.interrupted()) throw new Error('interrupted');
      return {
        path: paths.length === 1 ? paths[0]! : '/sager/{caseId}',
        clientMs,
        count: clientMs.length,
        from,
        bytes,
        serverCpuMs: ((cpu1.total - cpu0.total) * 1000) / o.count,
        eventLoopCpuMs: ((cpu1.main - cpu0.main) * 1000) / o.count,
      };
    };
    await o.onMeasureStart?.();
    const worklist = await series(['/'], checkWorklist);
    const casePage = await series(casePaths, checkCase);
    await o.onMeasureEnd?.();
    return {
      seed: { postedMs, clonedMs, cloned: rows.length, openByAssignee, openCases, staffCases, realForStaff: hers.length, worklistPlan },
      login: { ms: signedIn.ms, steps: signedIn.steps },
      worklist,
      casePage: { ...casePage, cases: casePaths.length },
      weight: { htmlBytes: first.body.length, cssBytes: css.body.length, jsBytes: js.body.length },
    };
  } finally {
    for (const a of [staffAgent, idpAgent]) {
      a.destroy();
      o.untrack(a);
    }
  }
}

/**
 * Server time (`ms` of the staff app's 'staff page' log line) of the series'
 * GETs of `path` (or, for '/sager/{caseId}', of the case pages), from the
 * gateway's JSON log once the child has flushed it on exit: the last `count`
 * such lines logged at or after the series began. Its end is no bound: a line
 * is logged when the response's last write completes, which can be a moment
 * after the client has the answer; and no request of the same path follows a
 * series. Fewer than `count` lines means lost log lines (the caller fails).
 */
export function staffPageTimes(logFile: string, s: Pick<PageSeries, 'path' | 'from' | 'count'>): { ms: number[]; non200: number } {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return { ms: [], non200: 0 };
  }
  const matches = s.path === '/sager/{caseId}' ? (p: string) => /^\/sager\/[0-9a-f-]{36}$/.test(p) : (p: string) => p === s.path;
  const lines: { ms: number; status: unknown }[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"staff page"')) continue;
    try {
      const e = JSON.parse(line) as { msg?: unknown; method?: unknown; path?: unknown; status?: unknown; ms?: unknown; time?: unknown };
      if (e.msg !== 'staff page' || e.method !== 'GET' || typeof e.path !== 'string' || !matches(e.path)) continue;
      if (typeof e.time !== 'number' || e.time < s.from || typeof e.ms !== 'number') continue;
      lines.push({ ms: e.ms, status: e.status });
    } catch {
      /* not a JSON line */
    }
  }
  const mine = lines.slice(-s.count);
  return { ms: mine.map((l) => l.ms), non200: mine.filter((l) => l.status !== 200).length };
}
