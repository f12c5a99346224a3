/**
 * Returns and the mailbox (issue 5): content the law requires per kind, the
 * consent gate, one transaction with one sentAt for the municipality's attest
 * and the GP's copy (§15 stk. 2), signed envelopes verified with the real
 * `openssl cms -verify`, the addressee-only mailbox, acknowledgement, and the
 * GP copy kept when no GP system is registered.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { opensslVerify, pdf, PNG, residue } from '../helpers/packages.js';
import { as, ATTEST, caseRow, holdConsultation, respond, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { localDate } from '../../src/deadlines/calendar.js';
import { ackAnswerSchema, envelopeSchema, mailboxListSchema } from '../../src/delivery/schema.js';
import { responseAnswerSchema } from '../../src/responses/schema.js';

const cpr = () => `0303${String(50 + Math.floor(Math.random() * 49)).padStart(2, '0')}${String(1000 + Math.floor(Math.random() * 8999))}`;
const attest = ATTEST;

async function readMessage(g: TestGateway, party: string, messageId: string) {
  const c = g.creds(party);
  return request(g.url)
    .get(`/v1/mailbox/${messageId}`)
    .ca(g.ca)
    .cert(c.cert)
    .key(c.key)
    .buffer(true)
    .parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (x: Buffer) => chunks.push(x));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    });
}

describe('responses and the mailbox', () => {
  let dir: string;
  let g: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-responses-'));
    g = await startTestGateway({ dialect: 'postgres', env: { PARTIES_FILE: writeRoutingParties(dir) } });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function assessmentCase(over: Record<string, unknown> = {}, opts: { consultation?: boolean; sender?: string } = {}) {
    const { caseId } = await send(g, opts.sender ?? 'kommune-147', {
      citizen: { cpr: cpr(), name: 'Rasmus Attest' },
      service: 'clinical-assessment',
      gp: { ydernummer: '057584' },
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
      ...over,
    });
    const who = (await settled(g, caseId)).assigned_to!;
    // §13 stk. 2: the consultation with the citizen is held before the attest (today).
    if (opts.consultation !== false) await holdConsultation(g, who, caseId);
    return { caseId, who };
  }

  test('§15 stk. 2: the attest goes to the municipality and, at the same instant, a copy to the GP; both signed, openssl verifies', async () => {
    const { caseId, who } = await assessmentCase();
    const doc = pdf('signed-off attest');
    const res = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest }, doc);
    assert.equal(res.status, 201, res.text);
    responseAnswerSchema.parse(res.body); // the OpenAPI shape
    assert.equal(res.body.messages.length, 2);
    const [toMunicipality, toGp] = res.body.messages as { messageId: string; to: string; copy: boolean; state: string }[];
    assert.deepEqual([toMunicipality!.to, toMunicipality!.copy, toGp!.to, toGp!.copy], ['kommune-147', false, 'gp-057584', true]);

    const bodies: Record<string, { body: Buffer; item: { sentAt: string } }> = {};
    for (const [party, m] of [
      ['kommune-147', toMunicipality!],
      ['gp-057584', toGp!],
    ] as const) {
      const list = await as(g, party).get('/v1/mailbox');
      assert.equal(list.status, 200);
      mailboxListSchema.parse(list.body);
      const item = list.body.items.find((i: { messageId: string }) => i.messageId === m.messageId);
      assert.ok(item, `${party} sees its message`);
      const got = await readMessage(g, party, m.messageId);
      assert.equal(got.status, 200);
      const body = got.body as Buffer;
      assert.equal(Number(got.headers['content-length']), body.length);
      const v = opensslVerify(body, got.headers['message-signature']!, g.ca);
      assert.ok(v.ok, v.output);
      bodies[party] = { body, item };
    }
    const env = envelopeSchema.parse(JSON.parse(bodies['kommune-147']!.body.toString('utf8')));
    assert.deepEqual(Buffer.from(env.document.data, 'base64'), doc, 'the document travels intact');
    assert.equal(env.document.sha256, createHash('sha256').update(doc).digest('hex'));
    assert.equal(env.citizen.name, 'Rasmus Attest');
    assert.equal(env.messageId, toMunicipality!.messageId);
    // The GP's copy is a MedCom CareCommunication (test/medcom/gp-copy.test.ts has the details).
    const bundle = JSON.parse(bodies['gp-057584']!.body.toString('utf8')) as { entry: { resource: Record<string, any> }[] };
    assert.equal(bundle.entry[0]!.resource.id, toGp!.messageId);
    const communication = bundle.entry.map((e) => e.resource).find((r) => r.resourceType === 'Communication')!;
    assert.equal(communication.sent, env.sentAt, '§15 stk. 2: the same instant');
    const attachment = (communication.payload as { contentAttachment?: { data: string } }[]).find((p) => p.contentAttachment)!;
    assert.deepEqual(Buffer.from(attachment.contentAttachment!.data, 'base64'), doc, 'the same document');
    assert.equal(bodies['kommune-147']!.item.sentAt, bodies['gp-057584']!.item.sentAt);

    const c = await caseRow(g, caseId);
    assert.equal(c.state, 'closed');
    const clock = JSON.parse(c.clock);
    assert.equal(clock.status, 'stopped');
    assert.equal(clock.outcome, 'met');
    const view = await as(g, 'kommune-147').get(`/v1/cases/${caseId}`);
    assert.equal(view.body.responses[0].messages.length, 2);
    assert.ok(view.body.history.some((h: { event: string }) => h.event === 'response-submitted'));
  });

  test('only the addressee reads a message; acknowledging removes it from the list and shows in the case', async () => {
    const { caseId, who } = await assessmentCase();
    const res = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest });
    assert.equal(res.status, 201, res.text);
    const mid = res.body.messages[0].messageId as string;
    for (const other of ['kommune-101', 'gp-057584', who, 'lead-1', 'spe']) {
      assert.equal((await as(g, other).get(`/v1/mailbox/${mid}`)).status, 404, `${other} may not read it`);
      assert.equal((await as(g, other).post(`/v1/mailbox/${mid}/ack`)).status, 404, `${other} may not ack it`);
      const list = await as(g, other).get('/v1/mailbox');
      assert.ok(!list.body.items.some((i: { messageId: string }) => i.messageId === mid), `${other} does not list it`);
    }
    const ack = await as(g, 'kommune-147').post(`/v1/mailbox/${mid}/ack`);
    assert.equal(ack.status, 200);
    ackAnswerSchema.parse(ack.body);
    assert.equal(ack.body.state, 'acknowledged');
    const again = await as(g, 'kommune-147').post(`/v1/mailbox/${mid}/ack`);
    assert.equal(again.status, 200, 'acknowledging twice is harmless');
    const list = await as(g, 'kommune-147').get('/v1/mailbox');
    assert.ok(!list.body.items.some((i: { messageId: string }) => i.messageId === mid));
    const view = await as(g, 'kommune-147').get(`/v1/cases/${caseId}`);
    const m = view.body.responses[0].messages.find((x: { messageId: string }) => x.messageId === mid);
    assert.equal(m.state, 'acknowledged');
  });

  test('no GP system registered: the copy is kept as no-recipient-system and listed for team leads, never dropped', async () => {
    const { caseId, who } = await assessmentCase({ gp: { ydernummer: '099999' } });
    const res = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest });
    assert.equal(res.status, 201, res.text);
    const copy = res.body.messages.find((m: { copy: boolean }) => m.copy);
    assert.equal(copy.state, 'no-recipient-system');
    assert.equal(copy.to, null);
    const lead = await as(g, 'lead-1').get('/v1/messages?state=no-recipient-system');
    assert.equal(lead.status, 200);
    const item = lead.body.items.find((i: { messageId: string }) => i.messageId === copy.messageId);
    assert.ok(item);
    assert.equal(item.ydernummer, '099999');
    assert.equal((await as(g, who).get('/v1/messages?state=no-recipient-system')).status, 403);
    assert.ok(g.logs.some((l) => l.includes('the GP directory has no practice with this ydernummer')));
  });

  test('§13 stk. 2: no attest without a held consultation: none recorded, or only booked for a later date, is 409; the last booking counts', async () => {
    const { caseId, who } = await assessmentCase({}, { consultation: false });
    const none = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest });
    assert.equal(none.status, 409, none.text);
    assert.deepEqual(none.body.rules, ['§13 stk. 2']);
    assert.equal(none.body.type, 'https://postkasse.dk/problems/consultation-not-held');
    const tomorrow = localDate(new Date(Date.now() + 36 * 3600_000).toISOString());
    assert.equal((await as(g, who).post(`/v1/cases/${caseId}/consultation`, { date: tomorrow })).status, 200);
    const booked = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest });
    assert.equal(booked.status, 409, 'a future date is a booking, not a held consultation');
    assert.match(booked.body.detail, new RegExp(`booked for ${tomorrow}`));
    // Moved to today: the last booking counts, and it has been held.
    await holdConsultation(g, who, caseId);
    assert.equal((await respond(g, who, caseId, { kind: 'specialist-attest', content: attest })).status, 201);
  });

  test('§14 stk. 1: an attest answers the municipality’s request and gives the result of the objective examination', async () => {
    const { caseId, who } = await assessmentCase();
    const { municipalityRequest: _m, objectiveExamination: _o, ...without } = attest;
    const res = await respond(g, who, caseId, { kind: 'specialist-attest', content: without });
    assert.equal(res.status, 422);
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ['content.municipalityRequest', 'content.objectiveExamination']);
  });

  test('§27 stk. 2: a senior-pension attest is checked against its own list (latest job), not §14’s', async () => {
    const { caseId, who } = await assessmentCase(
      {
        service: 'senior-pension-assessment',
        caseType: 'seniorpension',
        municipalityCode: '147',
        latestJob: { title: 'Murer' },
      },
      { consultation: true },
    );
    const asClinical = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest });
    assert.equal(asClinical.status, 422, 'the §14 fields are not a senior-pension attest');
    assert.ok(asClinical.body.errors.some((e: { path: string }) => e.path === 'content.latestJobAssessment'));
    const senior = {
      municipalityRequest: attest.municipalityRequest,
      objectiveExamination: attest.objectiveExamination,
      latestJobAssessment: 'Kan ikke længere arbejde som murer; kan arbejde stillesiddende.',
    };
    assert.equal((await respond(g, who, caseId, { kind: 'specialist-attest', content: senior })).status, 201);
  });

  test('§14 stk. 4: a citizen assessed before, in another case, needs the overall assessment', async () => {
    const citizen = { cpr: cpr(), name: 'Gentaget Vurdering' };
    const first = await assessmentCase({ citizen });
    assert.equal((await respond(g, first.who, first.caseId, { kind: 'specialist-attest', content: attest })).status, 201);
    const second = await assessmentCase({ citizen });
    const noOverall = await respond(g, second.who, second.caseId, { kind: 'specialist-attest', content: attest });
    assert.equal(noOverall.status, 422);
    assert.ok(
      noOverall.body.errors.some(
        (e: { path: string; message: string }) => e.path === 'content.overallAssessment' && /§14 stk\. 3–4/.test(e.message),
      ),
    );
    const withOverall = { ...attest, overallAssessment: 'Samlet vurdering af begge forløb.' };
    assert.equal((await respond(g, second.who, second.caseId, { kind: 'specialist-attest', content: withOverall })).status, 201);
  });

  test('§6 stk. 1: advice before the meeting is given only when the municipality asked for it', async () => {
    const advice = { kind: 'pre-meeting-advice', content: { advice: 'Overvej arbejdsprøvning i 8 timer om ugen.' } };
    const notAsked = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'Uden Forhåndsråd' } });
    const who1 = (await settled(g, notAsked.caseId)).assigned_to!;
    const refused = await respond(g, who1, notAsked.caseId, advice);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.errors[0].path, 'kind');
    assert.match(refused.body.errors[0].message, /§6 stk\. 1/);
    const asked = await send(g, 'kommune-101', { citizen: { cpr: cpr(), name: 'Med Forhåndsråd' }, preMeetingAdviceRequested: true });
    const who2 = (await settled(g, asked.caseId)).assigned_to!;
    assert.equal((await respond(g, who2, asked.caseId, advice)).status, 201);
  });

  test('§11 stk. 3: in a jobafklaringsforløb at risk, no statement before a recorded conversation with the citizen', async () => {
    const statement = { kind: 'statement', content: { assessment: 'Borgeren kan arbejde 15 timer om ugen.' } };
    const atRisk = await send(g, 'kommune-101', {
      citizen: { cpr: cpr(), name: 'Jobafklaring Risiko' },
      service: 'ongoing-case-advice',
      caseType: 'jobafklaringsforloeb',
      riskUnfitAfter4Years: true,
      documents: [{ part: 'q', type: 'other', mediaType: 'application/pdf' }],
    });
    const who = (await settled(g, atRisk.caseId)).assigned_to!;
    const refused = await respond(g, who, atRisk.caseId, statement);
    assert.equal(refused.status, 409, refused.text);
    assert.deepEqual(refused.body.rules, ['§11 stk. 3']);
    const tomorrow = localDate(new Date(Date.now() + 36 * 3600_000).toISOString());
    assert.equal((await as(g, who).post(`/v1/cases/${atRisk.caseId}/citizen-conversation`, { date: tomorrow })).status, 422);
    const today = localDate(new Date().toISOString());
    const held = await as(g, who).post(`/v1/cases/${atRisk.caseId}/citizen-conversation`, { date: today });
    assert.equal(held.status, 200, held.text);
    assert.equal((await respond(g, who, atRisk.caseId, statement)).status, 201);
  });

  test('§14: missing required content is 422 naming each field, and nothing is kept', async () => {
    const { caseId, who } = await assessmentCase();
    const before = await residue(g);
    const missing = await respond(g, who, caseId, { kind: 'specialist-attest', content: { ...attest, physicianAssessment: undefined } });
    assert.equal(missing.status, 422);
    assert.ok(missing.body.errors.some((e: { path: string }) => e.path === 'content.physicianAssessment'));
    const further = await respond(g, who, caseId, {
      kind: 'specialist-attest',
      content: { ...attest, furtherAssessment: { needed: true, description: 'MR-scanning' } },
    });
    assert.equal(further.status, 422);
    const paths = further.body.errors.map((e: { path: string }) => e.path);
    assert.ok(paths.includes('content.furtherAssessment.priceDkk') && paths.includes('content.furtherAssessment.timeframe'), paths.join());
    const wrongKind = await respond(g, who, caseId, { kind: 'recommendation', content: { reasons: 'x', proposals: ['y'] } });
    assert.equal(wrongKind.status, 422);
    assert.equal(wrongKind.body.errors[0].path, 'kind');
    assert.deepEqual(await residue(g), before, 'no response, message or blob kept');
    assert.equal((await caseRow(g, caseId)).state, 'assigned');
  });

  test('§14 stk. 4: where the agreement sets another procedure, the attest asking for further assessment need not price it', async () => {
    // kbh-2026 (municipality 101) sets attestProcedure (config/agreements.json); frb-2026 (147) does not: see above
    const { caseId, who } = await assessmentCase({}, { sender: 'kommune-101' });
    const res = await respond(g, who, caseId, {
      kind: 'specialist-attest',
      content: { ...attest, furtherAssessment: { needed: true, description: 'Neuropsykologisk test' } },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal((await caseRow(g, caseId)).state, 'assigned', 'open for the overall assessment, as under §14 stk. 2–3');
  });

  test('§14 stk. 2–4: an attest asking for further assessment keeps the case open; the next attest must give the overall assessment', async () => {
    const { caseId, who } = await assessmentCase();
    const first = await respond(g, who, caseId, {
      kind: 'specialist-attest',
      content: {
        ...attest,
        furtherAssessment: { needed: true, description: 'Neuropsykologisk test', priceDkk: 12000, timeframe: '6 uger' },
      },
    });
    assert.equal(first.status, 201, first.text);
    assert.equal((await caseRow(g, caseId)).state, 'assigned');
    // §14 stk. 2: 147's agreement sets no deadline for the overall assessment: the clock says so, and keeps the attest's outcome.
    assert.equal(first.body.clock.status, 'no-deadline-agreed');
    assert.equal(first.body.clock.attest.outcome, 'met');
    const noOverall = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest });
    assert.equal(noOverall.status, 422);
    assert.ok(noOverall.body.errors.some((e: { path: string }) => e.path === 'content.overallAssessment'));
    const ok = await respond(g, who, caseId, {
      kind: 'specialist-attest',
      content: { ...attest, overallAssessment: 'Samlet: 10 timer om ugen.' },
    });
    assert.equal(ok.status, 201, ok.text);
    assert.equal((await caseRow(g, caseId)).state, 'closed');
    // §14 stk. 2, §18: the price the attest gave for the further assessment is settled when the overall assessment is delivered
    const month = localDate(new Date().toISOString()).slice(0, 7);
    const settlement = await as(g, 'lead-1').get(`/v1/settlements?month=${month}`);
    assert.equal(settlement.status, 200, settlement.text);
    const lines = (settlement.body.statements as { lines: { caseId?: string; kind: string; amountOre: number | null }[] }[])
      .flatMap((st) => st.lines)
      .filter((l) => l.caseId === caseId);
    assert.deepEqual(
      lines.map((l) => [l.kind, l.kind === 'further-assessment' ? l.amountOre : 'priced by the agreement']),
      [
        ['attest', 'priced by the agreement'],
        ['further-assessment', 1_200_000],
      ],
    );
  });

  test('§10: a statement in an early-pension case says whether it is obvious, with reasoning', async () => {
    const { caseId } = await send(g, 'kommune-101', {
      citizen: { cpr: cpr(), name: 'E' },
      gp: { ydernummer: '012345' },
      service: 'early-pension-statement',
    });
    const who = (await settled(g, caseId)).assigned_to!;
    const bad = await respond(g, who, caseId, { kind: 'statement', content: { reasoning: 'x' } });
    assert.equal(bad.status, 422);
    assert.ok(bad.body.errors.some((e: { path: string }) => e.path === 'content.obvious'));
    const ok = await respond(g, who, caseId, { kind: 'statement', content: { obvious: false, reasoning: 'Arbejdsevnen kan forbedres.' } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.body.messages.length, 1, 'a statement goes to the municipality only');
    assert.equal(ok.body.messages[0].to, 'kommune-101');
  });

  test('§5 stk. 2 / §11 stk. 5: a discussion with the GP needs the citizen’s written consent recorded before it', async () => {
    const today = localDate(new Date().toISOString());
    const ongoing = (over: Record<string, unknown> = {}) =>
      send(g, 'kommune-101', {
        citizen: { cpr: cpr(), name: 'F' },
        gp: { ydernummer: '012345' },
        service: 'ongoing-case-advice',
        documents: [
          { part: 'x', type: 'other', mediaType: 'application/pdf' },
          { part: 'samtykke', type: 'other', mediaType: 'application/pdf' },
        ],
        ...over,
      });
    const discussed = { kind: 'statement', content: { assessment: 'Vurdering.', gpDiscussion: true, gpDiscussionDate: today } };
    const noConsent = await ongoing();
    const who = (await settled(g, noConsent.caseId)).assigned_to!;
    const refused = await respond(g, who, noConsent.caseId, discussed);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.errors[0].path, 'content.gpDiscussion');
    assert.match(refused.body.errors[0].message, /§5 stk\. 2/);
    const noDate = await respond(g, who, noConsent.caseId, { kind: 'statement', content: { assessment: 'V.', gpDiscussion: true } });
    assert.ok(noDate.body.errors.some((e: { path: string }) => e.path === 'content.gpDiscussionDate'));
    // An oral consent is no written consent; a written one names the document that holds it.
    const oral = await as(g, who).post(`/v1/cases/${noConsent.caseId}/consents`, {
      kind: 'gp-discussion',
      givenBy: 'the citizen',
      date: today,
      how: 'oral',
    });
    assert.equal(oral.status, 422);
    assert.equal(oral.body.errors[0].path, 'how');
    const written = await as(g, who).post(`/v1/cases/${noConsent.caseId}/consents`, {
      kind: 'gp-discussion',
      givenBy: 'the citizen',
      date: today,
      how: 'written',
      documentPart: 'samtykke',
    });
    assert.equal(written.status, 201, written.text);
    assert.equal((await respond(g, who, noConsent.caseId, discussed)).status, 201);
    // The municipality's manifest may carry the same record.
    const withConsent = await ongoing({
      consents: [{ kind: 'gp-discussion', givenBy: 'the citizen', date: today, how: 'written', documentPart: 'samtykke' }],
    });
    const who2 = (await settled(g, withConsent.caseId)).assigned_to!;
    const listed = await as(g, 'kommune-101').get(`/v1/cases/${withConsent.caseId}/consents`);
    assert.deepEqual(
      listed.body.items.map((c: { kind: string; how: string; recordedBy: string }) => [c.kind, c.how, c.recordedBy]),
      [['gp-discussion', 'written', 'kommune-101']],
    );
    assert.equal((await respond(g, who2, withConsent.caseId, discussed)).status, 201);
  });

  test('§5 stk. 2, §10 stk. 3, §11 stk. 5: contact with the citizen needs the municipality’s agreement recorded before it', async () => {
    const today = localDate(new Date().toISOString());
    const { caseId } = await send(g, 'kommune-101', {
      citizen: { cpr: cpr(), name: 'Kontakt' },
      gp: { ydernummer: '012345' },
      service: 'ongoing-case-advice',
      documents: [{ part: 'x', type: 'other', mediaType: 'application/pdf' }],
    });
    const who = (await settled(g, caseId)).assigned_to!;
    const contacted = { kind: 'statement', content: { assessment: 'Vurdering efter samtale.', citizenContactDate: today } };
    const refused = await respond(g, who, caseId, contacted);
    assert.equal(refused.status, 422);
    assert.equal(refused.body.errors[0].path, 'content.citizenContactDate');
    const future = await as(g, 'kommune-101').post(`/v1/cases/${caseId}/consents`, {
      kind: 'municipality-agreement-citizen-contact',
      givenBy: 'Sara Sagsbehandler',
      date: localDate(new Date(Date.now() + 36 * 3600_000).toISOString()),
      how: 'oral',
    });
    assert.equal(future.status, 422, 'a consent is recorded once given');
    const agreed = await as(g, 'kommune-101').post(`/v1/cases/${caseId}/consents`, {
      kind: 'municipality-agreement-citizen-contact',
      givenBy: 'Sara Sagsbehandler',
      date: today,
      how: 'oral',
    });
    assert.equal(agreed.status, 201, agreed.text);
    const other = await as(g, 'kommune-147').post(`/v1/cases/${caseId}/consents`, {
      kind: 'municipality-agreement-citizen-contact',
      givenBy: 'x',
      date: today,
      how: 'oral',
    });
    assert.equal(other.status, 404, "another municipality's case does not exist for it");
    assert.equal((await respond(g, who, caseId, contacted)).status, 201);
  });

  test('bad input: not the assignee 404, a sender 403, no document 400, not a PDF 415, response not JSON 400 — nothing kept', async () => {
    const { caseId, who } = await assessmentCase();
    const before = await residue(g);
    assert.equal(
      (await respond(g, who === 'spec-eva' ? 'dual-dan' : 'spec-eva', caseId, { kind: 'specialist-attest', content: attest })).status,
      404,
    );
    assert.equal((await respond(g, 'kommune-147', caseId, { kind: 'specialist-attest', content: attest })).status, 403);
    const noDoc = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest }, null);
    assert.equal(noDoc.status, 400);
    const png = await respond(g, who, caseId, { kind: 'specialist-attest', content: attest }, PNG);
    assert.equal(png.status, 415);
    const c = g.creds(who);
    const huge = await request(g.url)
      .post(`/v1/cases/${caseId}/responses`)
      .ca(g.ca)
      .cert(c.cert)
      .key(c.key)
      .attach(
        'response',
        Buffer.from(JSON.stringify({ kind: 'specialist-attest', content: { ...attest, otherFactors: 'x'.repeat(300_000) } })),
        { filename: 'r.json', contentType: 'application/json' },
      )
      .attach('document', pdf('d'), { filename: 'a.pdf', contentType: 'application/pdf' });
    assert.equal(huge.status, 413, 'a response part over 256 KB');
    assert.equal(huge.body.type, 'https://postkasse.dk/problems/response-too-large');
    const notJson = await respond(g, who, caseId, '{"kind":');
    assert.equal(notJson.status, 400);
    assert.match(notJson.headers['content-type'] ?? '', /problem\+json/);
    assert.deepEqual(await residue(g), before);
    assert.equal((await caseRow(g, caseId)).state, 'assigned');
  });
});
