/**
 * Exactly once across gateway instances (issue 12): two gateways on one
 * PostgreSQL schema, one Redis prefix and one VANS outbox directory hand
 * each MedCom message to VANS once, resend it once per timeout, and apply
 * each acknowledgement once, however the work is split between them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { as, postAttest, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { acknowledgementOf, MEDCOM_DIR } from '../helpers/medcom.js';
import { stayFor, waitFor } from '../helpers/wait.js';
import { parseVansEnvelope } from '../../src/medcom/vans.js';

describe('two instances', () => {
  let dir: string;
  let outbox: string;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const queuePrefix = `t-${randomBytes(6).toString('hex')}`;
  const open: TestGateway[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-medcom2-'));
    outbox = join(dir, 'out');
    mkdirSync(outbox);
    const partiesFile = writeRoutingParties(dir);
    const f = JSON.parse(readFileSync(partiesFile, 'utf8')) as { parties: Record<string, unknown>[] };
    f.parties.push({ id: 'vans-1', kind: 'vans-provider', name: 'VANS', certificates: [{ subjectSerialNumber: 'UI:DK-O:G:vans-two' }] });
    writeFileSync(partiesFile, JSON.stringify(f));
    const directory = join(dir, 'gp.json');
    writeFileSync(
      directory,
      JSON.stringify({
        practices: [{ ydernummer: '057584', name: 'Lægehuset', sor: '575841000016004', ean: '5790000575848', transport: { kind: 'vans' } }],
      }),
    );
    const env = {
      PARTIES_FILE: partiesFile,
      GP_DIRECTORY_FILE: directory,
      MEDCOM_PACKAGES_DIR: MEDCOM_DIR,
      VANS_OUTBOX_DIR: outbox,
      QUEUE_PREFIX: queuePrefix,
      MEDCOM_ACK_TIMEOUT_MS: '2000',
      MEDCOM_MAX_RESENDS: '1',
    };
    const dataDir = join(dir, 'data');
    open.push(await startTestGateway({ dialect: 'postgres', schema, dataDir, env }));
    open.push(await startTestGateway({ dialect: 'postgres', schema, dataDir, env }));
  });
  after(async () => {
    const last = open.pop();
    for (const g of open) await g.gw.close().catch(() => {});
    await last?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each message is handed over once per transmission, and each acknowledgement applied once', async () => {
    const [a, b] = open as [TestGateway, TestGateway];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const g = i % 2 ? a : b;
      const { caseId } = await send(g, 'kommune-147', {
        citizen: { cpr: `0202${String(60 + i)}${String(1000 + Math.floor(Math.random() * 8999))}`, name: 'To Instanser' },
        service: 'clinical-assessment',
        documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
      });
      const who = (await settled(g, caseId)).assigned_to!;
      const { messages } = await postAttest(g, who, caseId);
      ids.push(messages.find((m) => m.copy)!.messageId);
    }
    const envelopes = () =>
      readdirSync(outbox)
        .filter((f) => f.endsWith('.xml'))
        .map((f) => parseVansEnvelope(readFileSync(join(outbox, f))));
    const row = (id: string) => a.gw.db.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    await waitFor('every copy handed to VANS', async () => (await Promise.all(ids.map(row))).every((r) => r.state === 'sent'));
    await Promise.all([a.gw.delivery!.reconcile(), b.gw.delivery!.reconcile(), a.gw.medcomAcks!.reconcile(), b.gw.medcomAcks!.reconcile()]);

    // No acknowledgement: one resend each (MEDCOM_MAX_RESENDS=1), by whichever instance, never two.
    await waitFor(
      'each resent once, then unacknowledged',
      async () => (await Promise.all(ids.map(row))).every((r) => r.state === 'unacknowledged'),
      {
        timeoutMs: 20_000,
      },
    );
    await stayFor('a third envelope of a message', 500, {
      happened: () => ids.find((id) => envelopes().filter((e) => e.messageId === id).length > 2),
    });
    for (const id of ids) {
      const mine = envelopes().filter((e) => e.messageId === id);
      assert.equal(mine.length, 2, `message ${id}: the original and one resend`);
      assert.notEqual(mine[0]!.envelopeId, mine[1]!.envelopeId);
    }
    const sentEvents = await a.gw.db.db.selectFrom('case_events').select(['data']).where('event', '=', 'medcom-sent').execute();
    assert.equal(sentEvents.length, ids.length * 2, 'one hand-over per transmission');

    // The same acknowledgement reaches both instances at once: applied once.
    const bundle = JSON.parse(
      envelopes()
        .find((e) => e.messageId === ids[0])!
        .data.toString('utf8'),
    ) as unknown;
    const ack = JSON.stringify(acknowledgementOf(bundle, 'ok'));
    const post = (g: TestGateway) => as(g, 'vans-1').post('/v1/medcom/inbox').set('content-type', 'application/fhir+json').send(ack);
    const answers = await Promise.all([post(a), post(b)]);
    assert.deepEqual(
      answers.map((r) => r.status),
      [202, 202],
    );
    assert.deepEqual(answers.map((r) => r.body.outcome as string).sort(), ['applied', 'duplicate']);
    const acked = await a.gw.db.db.selectFrom('case_events').select(['id']).where('event', '=', 'medcom-acknowledged').execute();
    assert.equal(acked.length, 1);
    assert.equal((await row(ids[0]!)).state, 'acknowledged');
  });
});
