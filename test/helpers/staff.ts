/**
 * Fixtures for routing and staff-API tests: a parties file whose staff make
 * every exclusion testable, mTLS request helpers, and waiting for a case to be routed.
 */
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import request from 'supertest';
import type { TestGateway } from './gateway.js';
import { manifest, pdf, postPackage } from './packages.js';
import { localDate } from '../../src/deadlines/calendar.js';
import { waitFor } from './wait.js';

/** A fixed serialNumber per party, so that every test using these parties shares one PKI template (test/helpers/gateway.ts). */
const cert = (id: string) => {
  const h = createHash('sha256').update(`postkasse-test-party:${id}`).digest('hex');
  return [{ subjectSerialNumber: `UI:DK-E:G:${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}` }];
};

/**
 * Staff for municipality 101 (whose agreement kbh-2026 excludes coord-x, §25 stk. 3):
 * - coord-anna: coordinator, 101, holds ydernummer 012345 (a GP practice, §12 stk. 2)
 * - coord-bo:   coordinator, 101
 * - coord-x:    coordinator, 101 and 147, excluded for 101 by agreement
 * - dual-dan:   coordinator for 147 and specialist (§13 stk. 3)
 * - spec-eva:   specialist
 * - lead-1:     team lead
 */
export function writeRoutingParties(dir: string): string {
  const parties = [
    { id: 'kommune-101', kind: 'municipality', municipalityCode: '101', name: 'Københavns Kommune', certificates: cert('kommune-101') },
    { id: 'kommune-147', kind: 'municipality', municipalityCode: '147', name: 'Frederiksberg Kommune', certificates: cert('kommune-147') },
    { id: 'spe', kind: 'senior-pension-unit', name: 'Seniorpensionsenheden', certificates: cert('spe') },
    {
      id: 'coord-anna',
      kind: 'staff',
      roles: ['coordinator'],
      name: 'Anna',
      municipalities: ['101'],
      ydernumre: ['012345'],
      certificates: cert('coord-anna'),
    },
    { id: 'coord-bo', kind: 'staff', roles: ['coordinator'], name: 'Bo', municipalities: ['101'], certificates: cert('coord-bo') },
    { id: 'coord-x', kind: 'staff', roles: ['coordinator'], name: 'Xenia', municipalities: ['101', '147'], certificates: cert('coord-x') },
    {
      id: 'dual-dan',
      kind: 'staff',
      roles: ['coordinator', 'specialist'],
      name: 'Dan',
      municipalities: ['147'],
      certificates: cert('dual-dan'),
    },
    { id: 'spec-eva', kind: 'staff', roles: ['specialist'], name: 'Eva', certificates: cert('spec-eva') },
    { id: 'lead-1', kind: 'staff', roles: ['team-lead'], name: 'Lene', certificates: cert('lead-1') },
    {
      id: 'gp-057584',
      kind: 'gp-system',
      ydernumre: ['057584'],
      name: 'Lægehuset',
      sor: '575841000016004',
      ean: '5790000575848',
      certificates: cert('gp-057584'),
    },
  ];
  const file = join(dir, 'parties.json');
  writeFileSync(file, JSON.stringify({ parties }, null, 2));
  return file;
}

export async function send(
  g: TestGateway,
  party: string,
  over: Record<string, unknown> = {},
): Promise<{ caseId: string; receiptId: string }> {
  const m = manifest(over);
  const files = (m.documents as { part: string; mediaType: string }[]).map((d) => ({
    name: d.part,
    body: pdf(d.part),
    contentType: d.mediaType,
    filename: `${d.part}.pdf`,
  }));
  const res = await postPackage(g, party, m, files);
  if (res.status !== 201) throw new Error(`intake answered ${res.status}: ${res.text}`);
  return JSON.parse(res.text) as { caseId: string; receiptId: string };
}

/** GET/POST as a party over mTLS. */
export function as(g: TestGateway, party: string) {
  const c = g.creds(party);
  return {
    get: (path: string) => request(g.url).get(path).ca(g.ca).cert(c.cert).key(c.key),
    post: (path: string, body?: unknown) => {
      const r = request(g.url).post(path).ca(g.ca).cert(c.cert).key(c.key);
      return body === undefined ? r : r.send(body as object);
    },
  };
}

export async function caseRow(g: TestGateway, caseId: string) {
  return g.gw.db.db.selectFrom('cases').selectAll().where('id', '=', caseId).executeTakeFirstOrThrow();
}

/** Waits until the case has an assignee (or the state `unassigned`) and returns the row. */
export function settled(g: TestGateway, caseId: string, timeoutMs = 10_000) {
  return waitFor(
    `case ${caseId} to be routed`,
    async () => {
      const r = await caseRow(g, caseId);
      return r.assigned_to !== null || r.state === 'unassigned' ? r : undefined;
    },
    { timeoutMs },
  );
}

export async function events(g: TestGateway, caseId: string, event?: string) {
  return g.gw.db.db
    .selectFrom('case_events')
    .selectAll()
    .where('case_id', '=', caseId)
    .$if(event !== undefined, (q) => q.where('event', '=', event!))
    .orderBy('id')
    .execute();
}

/** The content of a specialist attest (§14 stk. 1) with every field the rules require. */
export const ATTEST = {
  municipalityRequest: 'Kommunen spørger, om borgerens arbejdsevne kan forbedres.',
  objectiveExamination: 'Normal gang; nedsat bevægelighed i lænden; neurologisk upåfaldende.',
  functionalCapacity: 'Kan løfte 5 kg; sidde 30 min ad gangen.',
  healthConditions: 'Kroniske lændesmerter.',
  citizenAssessment: 'Borgeren oplever at kunne arbejde 10 timer om ugen.',
  physicianAssessment: 'Funktionsevnen er nedsat, men kan forbedres med træning.',
};

/** The assignee records a consultation held today (§13 stk. 2: an attest needs a held consultation). */
export async function holdConsultation(g: TestGateway, who: string, caseId: string): Promise<void> {
  const res = await as(g, who).post(`/v1/cases/${caseId}/consultation`, { date: localDate(new Date().toISOString()) });
  if (res.status !== 200) throw new Error(`consultation answered ${res.status}: ${res.text}`);
}

/**
 * The assignee holds today's consultation and returns a specialist attest with `document` (§13 stk. 2, §15 stk. 2):
 * the municipality's message and the GP's copy. Returns the 201's body.
 */
/** `staff` posts a response to the case: the `response` part (JSON, or a raw string) and the document (none when null). */
export function respond(
  g: TestGateway,
  staff: string,
  caseId: string,
  response: unknown,
  doc: Buffer | null = pdf('attest'),
  opts: { docType?: string } = {},
) {
  const c = g.creds(staff);
  let r = request(g.url).post(`/v1/cases/${caseId}/responses`).ca(g.ca).cert(c.cert).key(c.key);
  r = r.field('response', typeof response === 'string' ? response : JSON.stringify(response));
  if (doc) r = r.attach('document', doc, { filename: 'attest.pdf', contentType: opts.docType ?? 'application/pdf' });
  return r;
}

export async function postAttest(
  g: TestGateway,
  who: string,
  caseId: string,
  document: Buffer = pdf('attest'),
): Promise<{ sentAt: string; messages: { messageId: string; to: string | null; copy: boolean; state: string }[] }> {
  await holdConsultation(g, who, caseId);
  const res = await respond(g, who, caseId, { kind: 'specialist-attest', content: ATTEST }, document);
  if (res.status !== 201) throw new Error(`specialist attest answered ${res.status}: ${res.text}`);
  return res.body;
}
