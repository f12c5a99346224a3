/**
 * The GP's copy as a MedCom CareCommunication (issue 12, §15 stk. 2, §9),
 * end to end on a gateway with the embedded database, Redis, a GP directory
 * and a VANS outbox directory: the Bundle validates against MedCom's
 * profiles and carries the municipality's instant and the PDF byte for byte;
 * acknowledgements (ok, transient, fatal, duplicate, unknown) change the
 * state once, a dead-lettered copy's too; an unacknowledged message is resent unchanged with a new
 * envelope id at most twice; VANS receipts of our envelopes are recorded
 * once, never as errors; the 50 MB cap; and the directory, never the
 * manifest, decides where a copy goes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { dropQueueKeys, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { opensslVerify, pdf, residue } from '../helpers/packages.js';
import { as, ATTEST, events, holdConsultation, postAttest, respond, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { acknowledgementOf, MEDCOM_DIR, vansReceiptXml } from '../helpers/medcom.js';
import { waitFor } from '../helpers/wait.js';
import { runCli } from '../cli/helpers.js';
import { loadMedcomPackages } from '../../src/medcom/packages.js';
import { createMedcomValidator } from '../../src/medcom/validator.js';
import { parseVansEnvelope, vansEnvelopeParts, vansEnvelopeStream } from '../../src/medcom/vans.js';
import {
  buildCareCommunication,
  careCommunicationSizeBound,
  MAX_CARE_COMMUNICATION_BYTES,
  MAX_CARE_COMMUNICATION_DOCUMENT_BYTES,
} from '../../src/medcom/carecommunication.js';
import { assertGpMessageFits } from '../../src/medcom/service.js';

type Json = Record<string, any>;

const VANS_GP = '222222';
const EVIL_GP = '333333';
const CLINICAL_FUNCTION = { sor: '1234561000016007', ean: '5790000000005' };

function setupParties(dir: string): string {
  const file = writeRoutingParties(dir);
  const f = JSON.parse(readFileSync(file, 'utf8')) as { parties: Json[] };
  const cert = () => [{ subjectSerialNumber: `UI:DK-O:G:${randomUUID()}` }];
  f.parties.push(
    { id: 'vans-1', kind: 'vans-provider', name: 'VANS-udbyder', certificates: cert() },
    // a gp-system the directory does not know: a manifest naming its ydernummer must not reach it
    { id: 'gp-evil', kind: 'gp-system', name: 'Ukendt', ydernumre: [EVIL_GP], certificates: cert() },
  );
  writeFileSync(file, JSON.stringify(f));
  return file;
}

function setupDirectory(dir: string): string {
  const file = join(dir, 'gp-directory.json');
  writeFileSync(
    file,
    JSON.stringify({
      practices: [
        {
          ydernummer: '057584',
          name: 'Lægehuset',
          sor: '575841000016004',
          ean: '5790000575848',
          transport: { kind: 'party', partyId: 'gp-057584' },
        },
        { ydernummer: VANS_GP, name: 'Lægerne ved Søen', sor: '222221000016001', ean: '5790000222223', transport: { kind: 'vans' } },
      ],
    }),
  );
  return file;
}

const entries = (b: Json): Json[] => (b.entry as { resource: Json }[]).map((e) => e.resource);
const ofType = (b: Json, t: string): Json[] => entries(b).filter((r) => r.resourceType === t);

describe('MedCom CareCommunication to the GP', () => {
  let dir: string;
  let outbox: string;
  let inbox: string;
  let g: TestGateway;
  let validate: (r: unknown) => { severity: string; location: string; message: string }[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-medcom-'));
    outbox = join(dir, 'vans-out');
    inbox = join(dir, 'vans-in');
    mkdirSync(outbox);
    mkdirSync(inbox);
    g = await startTestGateway({
      dialect: 'sqlite',
      env: {
        PARTIES_FILE: setupParties(dir),
        GP_DIRECTORY_FILE: setupDirectory(dir),
        MEDCOM_PACKAGES_DIR: MEDCOM_DIR,
        VANS_OUTBOX_DIR: outbox,
        VANS_INBOX_DIR: inbox,
        VANS_INBOX_POLL_MS: '200',
        MEDCOM_ACK_TIMEOUT_MS: '1500',
        CLINICAL_FUNCTION_SOR: CLINICAL_FUNCTION.sor,
        CLINICAL_FUNCTION_EAN: CLINICAL_FUNCTION.ean,
      },
    });
    const v = createMedcomValidator(await loadMedcomPackages(MEDCOM_DIR));
    validate = (r) => v.validate(r).filter((i: { severity: string }) => i.severity === 'error');
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A clinical-assessment case for the GP `ydernummer`, routed, with today's consultation held. */
  /** `ydernummer` null: the manifest names no GP (`gp` is optional). */
  async function assessedCase(ydernummer: string | null = '057584'): Promise<{ caseId: string; specialist: string }> {
    const { caseId } = await send(g, 'kommune-101', {
      service: 'clinical-assessment',
      gp: ydernummer === null ? undefined : { ydernummer, name: 'Lægen' },
      citizen: {
        cpr: `0101${String(Math.floor(Math.random() * 90) + 10)}${String(Math.floor(Math.random() * 9000) + 1000)}`,
        name: 'Testa Borgersen',
      },
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
    });
    const row = await settled(g, caseId);
    assert.ok(row.assigned_to, 'the case is assigned to a specialist');
    return { caseId, specialist: row.assigned_to };
  }

  const messageRow = (id: string) => g.gw.db.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  async function fetchAsGp(messageId: string) {
    const res = await as(g, 'gp-057584')
      .get(`/v1/mailbox/${messageId}`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    assert.equal(res.status, 200, String(res.text));
    return { body: res.body as Buffer, headers: res.headers };
  }

  const postAck = (party: string, ack: unknown, contentType = 'application/fhir+json') =>
    as(g, party).post('/v1/medcom/inbox').set('content-type', contentType).send(JSON.stringify(ack));

  test('§15 stk. 2: the copy is a valid CareCommunication with the municipality’s instant and the PDF byte for byte', async () => {
    const { caseId, specialist } = await assessedCase();
    const doc = pdf('speciallaegeattest');
    const answer = await postAttest(g, specialist, caseId, doc);
    const toGp = answer.messages.find((m) => m.copy)!;
    const toMunicipality = answer.messages.find((m) => !m.copy)!;
    assert.equal(toGp.to, 'gp-057584');

    await waitFor('the copy handed over', async () => (await messageRow(toGp.messageId)).state === 'sent');
    const { body, headers } = await fetchAsGp(toGp.messageId);
    assert.match(String(headers['content-type']), /^application\/fhir\+json/);
    assert.ok(opensslVerify(body, String(headers['message-signature']), g.ca).ok, 'Message-Signature verifies over the Bundle bytes');
    const bundle = JSON.parse(body.toString('utf8')) as Json;

    assert.deepEqual(validate(bundle), [], 'the Bundle validates against the MedCom profiles');
    const header = entries(bundle)[0]!;
    assert.equal(header.resourceType, 'MessageHeader');
    assert.equal(header.id, toGp.messageId, 'MessageHeader.id is the message id an acknowledgement quotes');
    assert.equal(header.eventCoding.code, 'care-communication-message');
    assert.match(header.definition, /MedComCareCommunicationMessageDefinition\|5\.0$/);
    assert.equal(header.destination.length, 1, 'no cc: one destination');
    assert.equal(header.destination[0].extension[0].valueCoding.code, 'primary');

    const orgs = Object.fromEntries(ofType(bundle, 'Organization').map((o) => [`Organization/${o.id}`, o]));
    const ids = (o: Json) => Object.fromEntries((o.identifier as Json[]).map((i) => [i.system, i.value]));
    assert.deepEqual(ids(orgs[header.sender.reference]!), {
      'https://www.gs1.org/gln': CLINICAL_FUNCTION.ean,
      'urn:oid:1.2.208.176.1.1': CLINICAL_FUNCTION.sor,
    });
    assert.deepEqual(ids(orgs[header.destination[0].receiver.reference]!), {
      'https://www.gs1.org/gln': '5790000575848',
      'urn:oid:1.2.208.176.1.1': '575841000016004',
    });
    const [patient] = ofType(bundle, 'Patient');
    assert.equal(patient!.identifier[0].system, 'urn:oid:1.2.208.176.1.2', 'the CPR identifier');
    const [communication] = ofType(bundle, 'Communication');
    assert.match(communication!.payload[0].contentString, /§ 15, stk\. 2/);
    assert.match(communication!.identifier[0].value, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.equal(ofType(bundle, 'Provenance')[0]!.activity.coding[0].code, 'new-message');

    // One instant (§15 stk. 2): the municipality's envelope and the copy's clinical timestamps.
    const municipal = await as(g, 'kommune-101').get(`/v1/mailbox/${toMunicipality.messageId}`);
    const sentAt = (JSON.parse(municipal.text) as Json).sentAt as string;
    assert.equal(sentAt, answer.sentAt);
    assert.equal(communication!.sent, sentAt);
    assert.equal(bundle.timestamp, sentAt);
    for (const p of communication!.payload as Json[]) {
      assert.equal((p.extension as Json[]).find((e) => e.url.endsWith('medcom-core-datetime-extension'))!.valueDateTime, sentAt);
    }
    const attachment = (communication!.payload as Json[]).find((p) => p.contentAttachment)!.contentAttachment;
    assert.equal(attachment.contentType, 'application/pdf');
    assert.ok(Buffer.from(attachment.data, 'base64').equals(doc), 'the PDF round-trips byte-identical');
    assert.equal((await messageRow(toGp.messageId)).sent_at, (await messageRow(toMunicipality.messageId)).sent_at);

    // ok: acknowledged, once; the same acknowledgement again changes nothing
    const ack = acknowledgementOf(bundle, 'ok');
    const r1 = await postAck('gp-057584', ack);
    assert.equal(r1.status, 202, r1.text);
    assert.deepEqual([r1.body.outcome, r1.body.state], ['applied', 'acknowledged']);
    const r2 = await postAck('gp-057584', ack);
    assert.equal(r2.body.outcome, 'duplicate');
    const late = await postAck('gp-057584', acknowledgementOf(bundle, 'fatal-error'));
    assert.equal(late.body.outcome, 'duplicate', 'a negative after a positive acknowledgement changes nothing');
    assert.equal((await messageRow(toGp.messageId)).state, 'acknowledged');
    assert.equal((await events(g, caseId, 'medcom-acknowledged')).length, 1);
    assert.ok(
      g.logs.some((l) => l.includes('duplicate MedCom acknowledgement')),
      'a duplicate is logged',
    );

    // the case view shows the copy's state
    const view = await as(g, specialist).get(`/v1/cases/${caseId}`);
    const shown = (view.body.responses as Json[]).flatMap((r) => r.messages as Json[]).find((m) => m.messageId === toGp.messageId)!;
    assert.equal(shown.state, 'acknowledged');
    assert.equal(shown.medcom.acknowledgement.code, 'ok');
  });

  test('§9: the GP notice is a CareCommunication of its own, to the GP only, naming § 9; `medcom show` tells a lead what was sent', async () => {
    const { caseId } = await send(g, 'kommune-101', {
      gp: { ydernummer: '057584', name: 'Lægen' },
      citizen: { cpr: '0505801234', name: 'Notits Borger' },
    });
    const who = (await settled(g, caseId)).assigned_to!;
    const res = await respond(
      g,
      who,
      caseId,
      { kind: 'gp-notice', content: { background: 'Kommunen følger anbefalingen om kontakt til egen læge.' } },
      pdf('notits'),
    );
    assert.equal(res.status, 201, res.text);
    const messages = res.body.messages as { messageId: string; to: string; copy: boolean }[];
    assert.deepEqual(
      messages.map((m) => [m.to, m.copy]),
      [['gp-057584', false]],
      'to the GP only',
    );
    const id = messages[0]!.messageId;
    await waitFor('handed over', async () => (await messageRow(id)).state === 'sent');
    const bundle = JSON.parse((await fetchAsGp(id)).body.toString('utf8')) as Json;
    assert.deepEqual(validate(bundle), [], 'the GP notice validates against the MedCom profiles');
    const [communication] = ofType(bundle, 'Communication');
    assert.match(communication!.payload[0].contentString, /§ 9/);
    assert.equal(ofType(bundle, 'PractitionerRole')[0]!.code[0].text, 'Sundhedskoordinator', 'written by the coordinator');

    const shown = await runCli(['medcom', 'show', id, '--as', 'lead-1', '--url', g.url], { DATA_DIR: g.dataDir });
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.includes(`message      ${id} (MessageHeader.id), Bundle.id ${String(bundle.id)}`), shown.stdout);
    // The acknowledgement timeout here is 1.5 s (for the resend test below), so by the time the CLI has started the
    // message may have been resent: what counts is that the lead sees its state and how often it was sent.
    assert.match(shown.stdout, /state +(sent|unacknowledged)/);
    assert.match(shown.stdout, /sends +[1-3]; current envelope [0-9a-f-]{36}/);
    const refused = await runCli(['medcom', 'show', id, '--as', 'spec-eva', '--url', g.url], { DATA_DIR: g.dataDir });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /403/);
  });

  test('a gp-system acknowledges only its own messages; an unknown acknowledgement is kept and reported, never a 5xx', async () => {
    const { caseId, specialist } = await assessedCase();
    const answer = await postAttest(g, specialist, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    await waitFor('handed over', async () => (await messageRow(toGp.messageId)).state === 'sent');
    const bundle = JSON.parse((await fetchAsGp(toGp.messageId)).body.toString('utf8')) as Json;

    const byVans = await postAck('vans-1', acknowledgementOf(bundle, 'ok'));
    assert.equal(byVans.body.outcome, 'unknown', 'the VANS provider does not acknowledge a party-transport message');
    const stray = acknowledgementOf(bundle, 'ok', { respondsTo: randomUUID() }) as Json;
    const unknown = await postAck('gp-057584', stray);
    assert.equal(unknown.status, 202);
    assert.equal(unknown.body.outcome, 'unknown');
    assert.equal((await messageRow(toGp.messageId)).state, 'sent', 'nothing applied');
    const listed = await as(g, 'lead-1').get('/v1/medcom/acknowledgements');
    assert.equal(listed.status, 200);
    const strayId = (stray.entry as Json[])[0]!.resource.id as string;
    assert.ok(
      (listed.body.items as Json[]).some((a) => a.ackId === strayId && a.from === 'gp-057584'),
      'listed for team leads',
    );
    assert.equal((await as(g, 'spec-eva').get('/v1/medcom/acknowledgements')).status, 403);
    assert.equal((await as(g, 'kommune-101').post('/v1/medcom/inbox').set('content-type', 'application/fhir+json').send('{}')).status, 403);

    // bad input: a 4xx problem, nothing kept
    const before = await g.gw.db.db
      .selectFrom('medcom_acks')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    const notJson = await as(g, 'gp-057584').post('/v1/medcom/inbox').set('content-type', 'application/fhir+json').send('{not json');
    assert.equal(notJson.status, 400);
    const invalid = acknowledgementOf(bundle, 'ok') as Json;
    delete (invalid.entry as Json[])[0]!.resource.response;
    const bad = await postAck('gp-057584', invalid);
    assert.equal(bad.status, 422);
    assert.match(String(bad.headers['content-type']), /problem\+json/);
    assert.ok((bad.body.errors as Json[]).some((e) => String(e.path).startsWith('Bundle.entry[0]')));
    const wrongType = await postAck('gp-057584', acknowledgementOf(bundle, 'ok'), 'text/plain');
    assert.equal(wrongType.status, 415);
    const afterCount = await g.gw.db.db
      .selectFrom('medcom_acks')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(afterCount.n), Number(before.n), 'nothing of bad input is kept');

    // fatal-error: to team leads
    const fatal = await postAck('gp-057584', acknowledgementOf(bundle, 'fatal-error'));
    assert.deepEqual([fatal.body.outcome, fatal.body.state], ['applied', 'fatal-error']);
    const leads = await as(g, 'lead-1').get('/v1/messages?state=fatal-error');
    assert.ok((leads.body.items as Json[]).some((m) => m.messageId === toGp.messageId));
    const metrics = await g.gw.metrics.getSingleMetricAsString('postkasse_medcom_needs_lead_total');
    assert.match(metrics, /reason="fatal-error"} 1/);
  });

  test('VANS: the envelope carries the Bundle; no acknowledgement → resent unchanged with new envelope ids, at most twice', async () => {
    const { caseId, specialist } = await assessedCase(VANS_GP);
    const answer = await postAttest(g, specialist, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    assert.equal(toGp.to, null, 'no party: the copy travels through VANS');

    const files = () => readdirSync(outbox).filter((f) => f.endsWith('.xml'));
    const mine = () =>
      files()
        .map((f) => ({ f, env: parseVansEnvelope(readFileSync(join(outbox, f))) }))
        .filter((x) => x.env.messageId === toGp.messageId)
        .sort((a, b) => a.env.sentAt.localeCompare(b.env.sentAt));
    await waitFor('the first envelope', async () => mine().length === 1);
    const [first] = mine();
    assert.equal(first!.f, `${first!.env.envelopeId}.xml`);
    assert.equal(first!.env.name, 'MCM:FDIS91#other');
    assert.equal(first!.env.mime, 'application/fhir+json');
    assert.equal(first!.env.receiverEan, '5790000222223');
    assert.equal(first!.env.senderEan, CLINICAL_FUNCTION.ean);
    const row = await messageRow(toGp.messageId);
    assert.equal(createHash('sha256').update(first!.env.data).digest('hex'), row.envelope_sha256, 'Data is the signed Bundle');
    const bundle = JSON.parse(first!.env.data.toString('utf8')) as Json;
    assert.deepEqual(validate(bundle), []);

    await waitFor('two resends, then unacknowledged', async () => (await messageRow(toGp.messageId)).state === 'unacknowledged', {
      timeoutMs: 15_000,
    });
    const all = mine();
    assert.equal(all.length, 3, 'the original and at most 2 resends');
    assert.equal(new Set(all.map((x) => x.env.envelopeId)).size, 3, 'each resend has a new envelope id');
    for (const x of all) {
      assert.ok(x.env.data.equals(first!.env.data), 'the Bundle is unchanged: same Bundle.id, same MessageHeader.id');
    }
    assert.equal(Number((await messageRow(toGp.messageId)).sends), 3);
    const leads = await as(g, 'lead-1').get('/v1/messages?state=unacknowledged');
    const listed = (leads.body.items as Json[]).find((m) => m.messageId === toGp.messageId)!;
    assert.equal(listed.lastError, 'no acknowledgement after 3 sends');
    assert.equal(listed.sends, 3);
    assert.equal((await events(g, caseId, 'medcom-resend')).length, 2);

    // a late acknowledgement through the VANS inbox directory still counts
    const ack = Buffer.from(JSON.stringify(acknowledgementOf(bundle, 'ok')));
    const envId = randomUUID();
    const parts = vansEnvelopeParts({
      envelopeId: envId,
      sentAt: new Date(),
      senderEan: '5790000222223',
      receiverEan: CLINICAL_FUNCTION.ean,
      messageId: randomUUID(),
      name: 'MCM:FCTL#ok',
      version: '2.0.0',
      mime: 'application/fhir+json',
      sizeInBytes: ack.length,
    });
    const chunks: Buffer[] = [];
    for await (const c of vansEnvelopeStream(parts, Readable.from([ack]))) chunks.push(c as Buffer);
    writeFileSync(join(inbox, `${envId}.xml`), Buffer.concat(chunks));
    await waitFor('acknowledged from the VANS inbox', async () => (await messageRow(toGp.messageId)).state === 'acknowledged');
    await waitFor('the file moved to processed/', async () => readdirSync(join(inbox, 'processed')).includes(`${envId}.xml`));
  });

  test('VANS receipts (032): recorded once per envelope, an earlier transmission’s too; duplicates ignored; unknown ones kept aside; no error', async () => {
    const { caseId, specialist } = await assessedCase(VANS_GP);
    const answer = await postAttest(g, specialist, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    const envelopes = () =>
      readdirSync(outbox)
        .filter((f) => f.endsWith('.xml'))
        .map((f) => parseVansEnvelope(readFileSync(join(outbox, f))))
        .filter((e) => e.messageId === toGp.messageId)
        .sort((a, b) => a.sentAt.localeCompare(b.sentAt)); // resends are 1.5 s apart: never in the same second
    const logsFrom = g.logs.length;
    /** Drops a receipt into the VANS inbox (written aside, then renamed in) and waits until the poller has moved it. */
    async function drop(receipt: string, where: 'processed' | 'unmatched'): Promise<void> {
      const name = `${randomUUID()}.xml`;
      writeFileSync(join(inbox, `.${name}.tmp`), receipt);
      renameSync(join(inbox, `.${name}.tmp`), join(inbox, name));
      await waitFor(`${name} moved to ${where}/`, () => existsSync(join(inbox, where, name)));
    }
    const receipts = async () =>
      [...(await events(g, caseId, 'medcom-vans-receipt')), ...(await events(g, caseId, 'medcom-vans-negative-receipt'))].map(
        (e): Json => ({ event: e.event, actor: e.actor, ...(JSON.parse(e.data) as Json) }),
      );

    // The first envelope, answered once it is no longer the current transmission (the 1.5 s timer resent the message).
    await waitFor('a resend', () => envelopes().length >= 2, { timeoutMs: 10_000 });
    const [first, second] = envelopes();
    assert.notEqual((await messageRow(toGp.messageId)).envelope_id, first!.envelopeId);
    const own = randomUUID();
    await drop(vansReceiptXml({ originalEnvelopeId: first!.envelopeId, originalMessageId: toGp.messageId, envelopeId: own }), 'processed');
    assert.deepEqual(await receipts(), [
      {
        event: 'medcom-vans-receipt',
        actor: 'vans-inbox',
        messageId: toGp.messageId,
        receiptEnvelopeId: own,
        envelopeId: first!.envelopeId,
        result: 'positive',
      },
    ]);

    // The same receipt again (a new envelope of its own, as a resent acknowledgement has): ignored, and logged.
    await drop(vansReceiptXml({ originalEnvelopeId: first!.envelopeId, originalMessageId: toGp.messageId }), 'processed');
    assert.equal((await receipts()).length, 1, 'one receipt per envelope');
    assert.ok(g.logs.slice(logsFrom).some((l) => l.includes('duplicate VANS receipt')));

    // A negative receipt of the second envelope: recorded with its error, a warning.
    await drop(
      vansReceiptXml({
        answer: 'NegativeMessage',
        originalEnvelopeId: second!.envelopeId,
        originalMessageId: toGp.messageId,
        error: { code: '12', description: 'Modtagersystemet afviste beskeden' },
      }),
      'processed',
    );
    const negative = (await receipts()).find((r) => r.envelopeId === second!.envelopeId)!;
    assert.deepEqual(
      [negative.event, negative.result, negative.error],
      ['medcom-vans-negative-receipt', 'negative-message', { code: '12', description: 'Modtagersystemet afviste beskeden' }],
    );

    // A NegativeVans may leave OriginalMessage out: its envelope id alone finds the current transmission.
    await waitFor('two resends, then unacknowledged', async () => (await messageRow(toGp.messageId)).state === 'unacknowledged', {
      timeoutMs: 15_000,
    });
    const last = (await messageRow(toGp.messageId)).envelope_id!;
    await drop(
      vansReceiptXml({ answer: 'NegativeVans', originalEnvelopeId: last, originalMessageId: null, sender: { type: 'VANS', id: 'VANS' } }),
      'processed',
    );
    assert.deepEqual(
      (await receipts()).map((r) => [r.envelopeId, r.result]),
      [
        [first!.envelopeId, 'positive'],
        [second!.envelopeId, 'negative-message'],
        [last, 'negative-vans'],
      ],
    );
    assert.equal((await messageRow(toGp.messageId)).state, 'unacknowledged', 'a receipt is not the MedCom acknowledgement');
    const audit = await g.gw.db.db
      .selectFrom('audit_log')
      .select(['action', 'actor'])
      .where('case_id', '=', caseId)
      .where('action', 'like', 'medcom-vans-%')
      .execute();
    assert.equal(audit.length, 3);

    // No envelope of ours: a stranger's, our message with a stranger's envelope id, or a message that did not go by VANS.
    const partyCase = await assessedCase();
    const partyCopy = (await postAttest(g, partyCase.specialist, partyCase.caseId)).messages.find((m) => m.copy)!;
    await waitFor('handed over', async () => (await messageRow(partyCopy.messageId)).envelope_id !== null);
    const partyEnvelope = (await messageRow(partyCopy.messageId)).envelope_id!;
    for (const [originalEnvelopeId, originalMessageId] of [
      [randomUUID(), randomUUID()],
      [randomUUID(), toGp.messageId],
      [partyEnvelope, partyCopy.messageId],
    ] as const) {
      await drop(vansReceiptXml({ originalEnvelopeId, originalMessageId }), 'unmatched');
    }
    assert.equal((await receipts()).length, 3, 'nothing recorded for them');
    assert.equal((await events(g, partyCase.caseId, 'medcom-vans-receipt')).length, 0);

    const mine = g.logs.slice(logsFrom).map((l) => JSON.parse(l) as Json);
    const about = (msg: string) => mine.filter((l) => String(l.msg).includes(msg));
    assert.ok(
      about('VANS receipt: the envelope was received').every((l) => l.level === 30),
      'a receipt is logged at info level',
    );
    assert.equal(about('VANS receipt: the envelope was received').length, 1);
    assert.equal(about('negative VANS receipt').length, 2);
    assert.ok(about('negative VANS receipt').every((l) => l.level === 40));
    assert.equal(about('VANS receipt for no envelope').length, 3);
    assert.ok(
      about('VANS receipt for no envelope').every((l) => l.level === 40),
      'an unknown one is a warning',
    );
    assert.ok(about('kept aside in unmatched/').every((l) => l.level === 40));
    assert.deepEqual(
      mine.filter((l) => Number(l.level) >= 50 && /inbox|VANS/i.test(String(l.msg))),
      [],
      'no receipt is logged as an error',
    );
    assert.ok(!readdirSync(join(inbox, 'failed')).length, 'nothing in failed/');
  });

  test('Redis is not the truth: an acknowledgement timer lost with Redis is re-created from the database, and the resend still comes', async () => {
    const { caseId, specialist } = await assessedCase();
    const answer = await postAttest(g, specialist, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    await waitFor('handed over', async () => (await messageRow(toGp.messageId)).state === 'sent');
    await dropQueueKeys(g.queuePrefix); // the timer waiting in Redis is gone
    const { waiting } = await g.gw.medcomAcks!.reconcile();
    assert.ok(waiting >= 1, `waiting ${waiting}`);
    await waitFor('sent again after the timeout', async () => Number((await messageRow(toGp.messageId)).sends) === 2, {
      timeoutMs: 10_000,
    });
  });

  test('transient-error: the message is sent again after the timeout and a later ok settles it', async () => {
    const { caseId, specialist } = await assessedCase();
    const answer = await postAttest(g, specialist, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    await waitFor('handed over', async () => (await messageRow(toGp.messageId)).state === 'sent');
    const first = await fetchAsGp(toGp.messageId);
    const bundle = JSON.parse(first.body.toString('utf8')) as Json;
    await as(g, 'gp-057584').post(`/v1/mailbox/${toGp.messageId}/ack`);
    assert.equal((await postAck('gp-057584', acknowledgementOf(bundle, 'transient-error'))).body.state, 'transient-error');
    await waitFor('sent again', async () => Number((await messageRow(toGp.messageId)).sends) === 2);
    const again = await fetchAsGp(toGp.messageId);
    assert.ok(again.body.equals(first.body), 'the resend is the unchanged Bundle');
    assert.notEqual(again.headers['envelope-id'], first.headers['envelope-id'], 'with a new envelope id');
    assert.equal((await postAck('gp-057584', acknowledgementOf(bundle, 'ok'))).body.state, 'acknowledged');
  });

  /**
   * A GP copy the push transport gave up on (queues/delivery.ts after DELIVERY_GIVE_UP_AFTER_MS), though the GP system
   * got it: handed over, fetched, then dead-lettered as the delivery queue leaves it (a resend's due time cleared).
   * Returns the Bundle the GP system holds.
   */
  async function deadLetteredCopy(): Promise<{ caseId: string; id: string; bundle: Json }> {
    const { caseId, specialist } = await assessedCase();
    const id = (await postAttest(g, specialist, caseId)).messages.find((m) => m.copy)!.messageId;
    await waitFor('handed over', async () => (await messageRow(id)).state === 'sent');
    const bundle = JSON.parse((await fetchAsGp(id)).body.toString('utf8')) as Json;
    const r = await g.gw.db.db
      .updateTable('messages')
      .set({ state: 'dead-lettered', ack_due_at: null, last_error: 'HTTP 503' })
      .where('id', '=', id)
      .where('state', 'in', ['sent', 'queued'])
      .executeTakeFirst();
    assert.equal(Number(r.numUpdatedRows), 1, 'dead-lettered before any acknowledgement');
    return { caseId, id, bundle };
  }

  const leadList = async (state: string) =>
    ((await as(g, 'lead-1').get(`/v1/messages?state=${state}`)).body.items as Json[]).map((m) => m.messageId as string);

  test('a late ok for a dead-lettered copy settles it (the GP system had it): acknowledged, event and audit, off the dead letters', async () => {
    const { caseId, id, bundle } = await deadLetteredCopy();
    assert.ok((await leadList('dead-lettered')).includes(id), 'a dead letter for the team leads');

    const ack = acknowledgementOf(bundle, 'ok');
    const r = await postAck('gp-057584', ack);
    assert.equal(r.status, 202, r.text);
    assert.deepEqual([r.body.outcome, r.body.state], ['applied', 'acknowledged']);
    assert.equal((await messageRow(id)).state, 'acknowledged');
    const stored = await g.gw.db.db.selectFrom('medcom_acks').select('outcome').where('message_id', '=', id).execute();
    assert.deepEqual(
      stored.map((a) => a.outcome),
      ['applied'],
    );
    assert.equal((await events(g, caseId, 'medcom-acknowledged')).length, 1);
    const audit = await g.gw.db.db
      .selectFrom('audit_log')
      .select('details')
      .where('case_id', '=', caseId)
      .where('action', '=', 'medcom-acknowledgement')
      .execute();
    assert.equal(audit.length, 1);
    assert.ok(audit[0]!.details.includes(id));

    // no longer a dead letter: not listed, not retried; the same acknowledgement again is a duplicate
    assert.ok(!(await leadList('dead-lettered')).includes(id), 'off the team leads’ dead letters');
    const retry = await as(g, 'lead-1').post(`/v1/messages/${id}/retry`);
    assert.equal(retry.status, 409, retry.text);
    assert.equal((await postAck('gp-057584', ack)).body.outcome, 'duplicate');
  });

  test('a late negative acknowledgement for a dead-lettered copy: fatal-error goes to the team leads, transient-error is sent again', async () => {
    const fatal = await deadLetteredCopy();
    const f = await postAck('gp-057584', acknowledgementOf(fatal.bundle, 'fatal-error'));
    assert.deepEqual([f.body.outcome, f.body.state], ['applied', 'fatal-error']);
    assert.ok((await leadList('fatal-error')).includes(fatal.id));
    assert.ok(!(await leadList('dead-lettered')).includes(fatal.id));
    assert.equal((await events(g, fatal.caseId, 'medcom-fatal-error')).length, 1);

    // transient-error: no timer ran for the dead letter; the acknowledgement starts one, and the resend comes
    const transient = await deadLetteredCopy();
    const sends = Number((await messageRow(transient.id)).sends);
    const t = await postAck('gp-057584', acknowledgementOf(transient.bundle, 'transient-error'));
    assert.deepEqual([t.body.outcome, t.body.state], ['applied', 'transient-error']);
    assert.ok((await messageRow(transient.id)).ack_due_at, 'due again after the timeout');
    await g.gw.medcomAcks!.reconcile();
    await waitFor('sent again', async () => Number((await messageRow(transient.id)).sends) === sends + 1, { timeoutMs: 10_000 });
    assert.equal((await events(g, transient.caseId, 'medcom-resend')).length >= 1, true);
  });

  test('the directory decides: an unknown ydernummer keeps the copy as no-recipient-system, audited, even when a party claims it', async () => {
    for (const y of ['999999', EVIL_GP]) {
      const { caseId, specialist } = await assessedCase(y);
      const answer = await postAttest(g, specialist, caseId);
      const toGp = answer.messages.find((m) => m.copy)!;
      assert.deepEqual([toGp.to, toGp.state], [null, 'no-recipient-system']);
      const audit = await g.gw.db.db
        .selectFrom('audit_log')
        .select(['details'])
        .where('case_id', '=', caseId)
        .where('action', '=', 'gp-message-without-recipient')
        .execute();
      assert.equal(audit.length, 1);
      assert.equal((await as(g, 'gp-evil').get('/v1/mailbox')).body.items.length, 0, 'nothing reached the claiming party');
      const leads = await as(g, 'lead-1').get('/v1/messages?state=no-recipient-system');
      assert.ok((leads.body.items as Json[]).some((m) => m.messageId === toGp.messageId && m.ydernummer === y));
      const early = await as(g, 'lead-1').post(`/v1/messages/${toGp.messageId}/resolve`);
      assert.equal(early.status, 409, 'not while the directory has no practice');
      assert.match(early.body.detail, /GP_DIRECTORY_FILE/);
      unresolved.push({ id: toGp.messageId, y, sentAt: answer.sentAt });
    }
  });

  const unresolved: { id: string; y: string; sentAt: string }[] = [];

  test('a team lead resolves the copy once the directory knows the practice: the same instant, audited, sent', async () => {
    const { id, sentAt } = unresolved.find((u) => u.y === '999999')!;
    const file = join(dir, 'gp-directory.json');
    const d = JSON.parse(readFileSync(file, 'utf8')) as { practices: Json[] };
    d.practices.push({
      ydernummer: '999999',
      name: 'Ny praksis',
      sor: '999991000016001',
      ean: '5790000999996',
      transport: { kind: 'party', partyId: 'gp-057584' },
    });
    writeFileSync(file, JSON.stringify(d));
    assert.equal(g.gw.reload().gpDirectory, 'ok');
    assert.equal((await as(g, 'spec-eva').post(`/v1/messages/${id}/resolve`)).status, 403);
    const res = await as(g, 'lead-1').post(`/v1/messages/${id}/resolve`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { messageId: id, state: 'queued', to: 'gp-057584', ydernummer: '999999' });
    assert.equal((await as(g, 'lead-1').post(`/v1/messages/${id}/resolve`)).status, 409, 'once');
    await waitFor('handed over', async () => (await messageRow(id)).state === 'sent');
    const bundle = JSON.parse((await fetchAsGp(id)).body.toString('utf8')) as Json;
    assert.deepEqual(validate(bundle), []);
    assert.equal(ofType(bundle, 'Communication')[0]!.sent, sentAt, '§15 stk. 2: the instant of the municipality’s message');
    const audit = await g.gw.db.db.selectFrom('audit_log').select(['actor']).where('action', '=', 'gp-message-resolved').execute();
    assert.deepEqual(
      audit.map((a) => a.actor),
      ['lead-1'],
    );
  });

  test('§15 stk. 2: a copy whose case names no GP is sent once the team lead gives its ydernummer: checked, recorded, the same instant', async () => {
    const { caseId, specialist } = await assessedCase(null);
    const answer = await postAttest(g, specialist, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    assert.deepEqual([toGp.to, toGp.state], [null, 'no-recipient-system']);
    const id = toGp.messageId;
    assert.equal((await messageRow(id)).recipient_ydernummer, null);
    const resolve = (body?: unknown) => as(g, 'lead-1').post(`/v1/messages/${id}/resolve`, body);
    const unchanged = async () => {
      const row = await messageRow(id);
      assert.deepEqual(
        [row.state, row.recipient_ydernummer, row.recipient_party_id],
        ['no-recipient-system', null, null],
        'nothing changed',
      );
      assert.equal((await events(g, caseId, 'gp-ydernummer-given')).length, 0);
      assert.equal((await events(g, caseId, 'gp-message-resolved')).length, 0);
    };

    // Without one (no body, or an empty one): 422 naming the field, not a 409 that no one can ever get past.
    for (const res of [await resolve(), await resolve({})]) {
      assert.equal(res.status, 422, res.text);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal((res.body.errors as Json[])[0]!.path, 'ydernummer');
      assert.match(res.body.detail, /ydernummer: required: the message has no ydernummer/);
    }
    // Not 6 digits, or an unknown field: the schema's 422.
    const short = await resolve({ ydernummer: '12345' });
    assert.equal(short.status, 422);
    assert.ok((short.body.errors as Json[]).some((e) => e.path === 'ydernummer'));
    assert.equal((await resolve({ ydernummer: '057584', note: 'x' })).status, 422);
    // One the GP directory does not know: refused, naming it.
    const unknown = await resolve({ ydernummer: '777777' });
    assert.equal(unknown.status, 422, unknown.text);
    assert.deepEqual(unknown.body.errors, [{ path: 'ydernummer', message: 'the GP directory has no practice with ydernummer 777777' }]);
    assert.match(unknown.body.detail, /GP_DIRECTORY_FILE/);
    assert.equal((await as(g, 'spec-eva').post(`/v1/messages/${id}/resolve`, { ydernummer: '057584' })).status, 403);
    await unchanged();

    // The team lead gives the GP: the copy goes there, with the instant of the municipality's message.
    const res = await resolve({ ydernummer: '057584' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { messageId: id, state: 'queued', to: 'gp-057584', ydernummer: '057584' });
    assert.equal((await messageRow(id)).recipient_ydernummer, '057584');
    const given = await events(g, caseId, 'gp-ydernummer-given');
    assert.deepEqual(
      given.map((e) => [e.actor, JSON.parse(e.data)]),
      [['lead-1', { messageId: id, ydernummer: '057584' }]],
      'who gave it is in the case history',
    );
    const audit = await g.gw.db.db
      .selectFrom('audit_log')
      .select(['action', 'actor'])
      .where('case_id', '=', caseId)
      .where('action', 'in', ['gp-ydernummer-given', 'gp-message-resolved'])
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      audit.map((a) => [a.action, a.actor]),
      [
        ['gp-ydernummer-given', 'lead-1'],
        ['gp-message-resolved', 'lead-1'],
      ],
    );
    await waitFor('handed over', async () => (await messageRow(id)).state === 'sent');
    const bundle = JSON.parse((await fetchAsGp(id)).body.toString('utf8')) as Json;
    assert.deepEqual(validate(bundle), []);
    assert.equal(ofType(bundle, 'Communication')[0]!.sent, answer.sentAt, '§15 stk. 2: the instant of the municipality’s message');
    assert.equal(bundle.timestamp, answer.sentAt);
    assert.equal((await resolve({ ydernummer: '057584' })).status, 409, 'once');

    // A copy whose case names its GP keeps that GP: a ydernummer is given only where there is none.
    const named = unresolved.find((u) => u.y === EVIL_GP)!;
    const other = await as(g, 'lead-1').post(`/v1/messages/${named.id}/resolve`, { ydernummer: '057584' });
    assert.equal(other.status, 409, other.text);
    assert.match(other.body.type, /ydernummer-given/);
    assert.equal((await messageRow(named.id)).state, 'no-recipient-system');
  });

  test('MedCom’s 50 MB cap: an attest whose copy would exceed it is refused with 413 before anything is sent', async () => {
    const { caseId, specialist } = await assessedCase();
    await holdConsultation(g, specialist, caseId);
    const big = Buffer.concat([pdf('stor'), Buffer.alloc(38_000_000, 0x20)]);
    const res = await respond(g, specialist, caseId, { kind: 'specialist-attest', content: ATTEST }, big);
    assert.equal(res.status, 413, res.text);
    assert.match(res.body.type, /medcom-too-large/);
    assert.match(res.body.detail, /50 MB/);
    const stored = await g.gw.db.db.selectFrom('messages').select(['id']).where('case_id', '=', caseId).execute();
    assert.equal(stored.length, 0, 'nothing was sent to anyone');
    assert.equal(
      (await g.gw.db.db.selectFrom('cases').select(['state']).where('id', '=', caseId).executeTakeFirstOrThrow()).state,
      'assigned',
    );
  });

  test('§15 stk. 2: MedCom’s cap holds when the GP’s practice is unknown too: 413 when posted, nothing kept (the copy could never be sent)', async () => {
    // a ydernummer the directory does not know: the copy would be kept as no-recipient-system, built when a team lead
    // resolves it, and then refused for its size, while the municipality had the attest already
    const { caseId, specialist } = await assessedCase('888888');
    await holdConsultation(g, specialist, caseId);
    const before = await residue(g);
    const big = Buffer.concat([pdf('stor'), Buffer.alloc(38_000_000, 0x20)]);
    const res = await respond(g, specialist, caseId, { kind: 'specialist-attest', content: ATTEST }, big);
    assert.equal(res.status, 413, res.text);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    assert.match(res.body.type, /medcom-too-large/);
    assert.match(res.body.detail, new RegExp(`at most ${MAX_CARE_COMMUNICATION_BYTES} bytes \\(50 MB\\)`));
    assert.match(res.body.detail, new RegExp(`${MAX_CARE_COMMUNICATION_DOCUMENT_BYTES} bytes`), 'names the largest PDF that fits');
    assert.deepEqual(await residue(g), before, 'no response, message or blob kept: nothing went to the municipality either');
    const audit = await g.gw.db.db.selectFrom('audit_log').select(['action']).where('case_id', '=', caseId).execute();
    assert.ok(!audit.some((a) => a.action === 'gp-message-without-recipient' || a.action === 'response-dispatched'));
    assert.equal(
      (await g.gw.db.db.selectFrom('cases').select(['state']).where('id', '=', caseId).executeTakeFirstOrThrow()).state,
      'assigned',
    );
  });
});

test('§15 stk. 2: the size bound of a CareCommunication holds whoever receives it, with the longest names allowed', () => {
  // the rule both at posting (practice perhaps unknown) and when the Bundle is built
  assert.ok(careCommunicationSizeBound(MAX_CARE_COMMUNICATION_DOCUMENT_BYTES) <= MAX_CARE_COMMUNICATION_BYTES);
  assert.ok(careCommunicationSizeBound(MAX_CARE_COMMUNICATION_DOCUMENT_BYTES + 1) > MAX_CARE_COMMUNICATION_BYTES);
  assert.doesNotThrow(() => assertGpMessageFits(MAX_CARE_COMMUNICATION_DOCUMENT_BYTES));
  assert.throws(
    () => assertGpMessageFits(MAX_CARE_COMMUNICATION_DOCUMENT_BYTES + 1),
    (e: unknown) => (e as { status?: number }).status === 413,
  );
  // 200 characters (a practice's name in the directory, a citizen's in the manifest) of what JSON and the narrative
  // escape the most, in every name, with the longest SOR id and phone
  for (const ch of ['a', '&', '\u0001', 'æ']) {
    const name = ch.repeat(200);
    const built = buildCareCommunication({
      messageId: randomUUID(),
      bundleId: randomUUID(),
      sentAt: new Date().toISOString(),
      topic: 'Kopi af speciallægeattest, jf. § 15, stk. 2',
      text: `Kopi af speciallægeattest fra ${name}, jf. § 15, stk. 2. Attesten er sendt til Seniorpensionsenheden samtidig med denne kopi.`,
      sender: { name, sor: '1'.repeat(18), ean: '5790000000005', phone: '+45 1234 5678 901' },
      receiver: { name, sor: '2'.repeat(18), ean: '5790000222223' },
      patient: { cpr: '0101011234', name },
      author: { name, role: 'team-lead' },
      attachment: { title: 'Speciallægeattest', size: MAX_CARE_COMMUNICATION_DOCUMENT_BYTES },
      fhirBaseUrl: `https://${'p'.repeat(200)}.example/fhir`,
    });
    assert.ok(built.size <= careCommunicationSizeBound(MAX_CARE_COMMUNICATION_DOCUMENT_BYTES), `${JSON.stringify(ch)}: ${built.size}`);
  }
});

describe('an invalid Bundle is never sent', () => {
  let dir: string;
  let g: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-medcom-invalid-'));
    // The development fallback (no directory) with a gp-system that has no SOR/EAN: the clinic cannot be named.
    g = await startTestGateway({ dialect: 'sqlite', env: { PARTIES_FILE: writeRoutingParties(dir), MEDCOM_PACKAGES_DIR: MEDCOM_DIR } });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('invalid: kept unsent, listed for team leads and counted', async () => {
    const f = JSON.parse(readFileSync(join(dir, 'parties.json'), 'utf8')) as { parties: Json[] };
    assert.equal(f.parties.find((p) => p.id === 'gp-057584')!.sor !== undefined, true, 'fixture sanity');
    for (const p of f.parties) if (p.kind === 'gp-system') delete p.sor;
    writeFileSync(join(dir, 'parties.json'), JSON.stringify(f));
    assert.deepEqual(g.gw.reload().parties, 'ok');
    const { caseId } = await send(g, 'kommune-101', {
      service: 'clinical-assessment',
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
    });
    const row = await settled(g, caseId);
    const answer = await postAttest(g, row.assigned_to!, caseId);
    const toGp = answer.messages.find((m) => m.copy)!;
    assert.equal(toGp.state, 'invalid');
    assert.equal((await as(g, 'gp-057584').get('/v1/mailbox')).body.items.length, 0, 'never offered to the GP system');
    assert.equal((await as(g, 'gp-057584').get(`/v1/mailbox/${toGp.messageId}`)).status, 404);
    const leads = await as(g, 'lead-1').get('/v1/messages?state=invalid');
    assert.ok((leads.body.items as Json[]).some((m) => m.messageId === toGp.messageId));
    const shown = await as(g, 'lead-1').get(`/v1/medcom/messages/${toGp.messageId}`);
    assert.ok((shown.body.validationIssues as Json[]).some((i) => String(i.location).includes('identifier')));
    assert.match(await g.gw.metrics.getSingleMetricAsString('postkasse_medcom_invalid_total'), /postkasse_medcom_invalid_total 1/);
    // a message never sent cannot be acknowledged: kept as unknown, the state stays
    const example = (await loadMedcomPackages(MEDCOM_DIR)).examples.find(
      (e) => e.packageName.includes('carecommunication') && (e.resource as { resourceType?: string }).resourceType === 'Bundle',
    )!.resource;
    const ack = await as(g, 'gp-057584')
      .post('/v1/medcom/inbox')
      .set('content-type', 'application/fhir+json')
      .send(JSON.stringify(acknowledgementOf(example, 'ok', { respondsTo: toGp.messageId })));
    assert.equal(ack.status, 202, ack.text);
    assert.equal(ack.body.outcome, 'unknown');
    assert.equal((await as(g, 'lead-1').get(`/v1/medcom/messages/${toGp.messageId}`)).body.state, 'invalid');
    assert.equal((await events(g, caseId, 'medcom-acknowledged')).length, 0, 'not applied (never sent)');

    // §15 stk. 2: a team lead tries again. While the cause stands the message is rebuilt, still invalid, and not sent …
    const resolve = () => as(g, 'lead-1').post(`/v1/messages/${toGp.messageId}/resolve`);
    const still = await resolve();
    assert.equal(still.status, 200, still.text);
    assert.equal(still.body.state, 'invalid');
    assert.equal((await as(g, 'gp-057584').get('/v1/mailbox')).body.items.length, 0);
    // … once the practice's SOR id is back in the parties file (reloaded) it validates and goes, with the answer's instant
    const fixed = JSON.parse(readFileSync(join(dir, 'parties.json'), 'utf8')) as { parties: Json[] };
    for (const p of fixed.parties) if (p.id === 'gp-057584') p.sor = '575841000016004';
    writeFileSync(join(dir, 'parties.json'), JSON.stringify(fixed));
    assert.deepEqual(g.gw.reload().parties, 'ok');
    const sent = await resolve();
    assert.equal(sent.status, 200, sent.text);
    assert.equal(sent.body.state, 'queued');
    const inbox = await waitFor('the copy in the GP system’s mailbox', async () => {
      const items = (await as(g, 'gp-057584').get('/v1/mailbox')).body.items as Json[];
      return items.some((m) => m.messageId === toGp.messageId) ? items : undefined;
    });
    assert.equal(inbox.find((m) => m.messageId === toGp.messageId)!.sentAt, answer.sentAt, 'the answer’s instant (§15 stk. 2)');
    assert.equal((await resolve()).status, 409, 'once sent, nothing to resolve');
    const resolvedAudit = await g.gw.db.db.selectFrom('audit_log').select('details').where('action', '=', 'gp-message-resolved').execute();
    assert.ok(resolvedAudit.some((e) => e.details.includes('"from":"invalid"') && e.details.includes('"state":"queued"')));
  });
});
