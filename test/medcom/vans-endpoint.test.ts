/**
 * The VANS provider as an mTLS endpoint (VANS_ENDPOINT_URL, issue 12): the
 * gateway POSTs each VANSEnvelope with its client certificate; a failed POST
 * is retried with the same envelope id (one transmission), and the envelope's
 * Data is the signed Bundle. Also: a gateway without MedCom's packages does
 * not start, and says where it looked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devPkiFor, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { postAttest, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { MEDCOM_DIR } from '../helpers/medcom.js';
import { waitFor } from '../helpers/wait.js';
import { startMtlsReceiver } from '../helpers/receiver.js';
import { parseVansEnvelope } from '../../src/medcom/vans.js';

describe('VANS_ENDPOINT_URL', () => {
  let dir: string;
  let g: TestGateway;
  let receiver: Awaited<ReturnType<typeof startMtlsReceiver>>;
  const failFirst = 1;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-vans-endpoint-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    const partiesFile = writeRoutingParties(dir);
    // The dev PKI first: the VANS provider's server trusts the gateway's client certificate from it.
    const pki = await devPkiFor(dataDir, partiesFile);
    receiver = await startMtlsReceiver(pki, (_hit, hits) => (hits.length <= failFirst ? 503 : 202));
    const directory = join(dir, 'gp.json');
    writeFileSync(
      directory,
      JSON.stringify({
        practices: [{ ydernummer: '057584', name: 'Lægehuset', sor: '575841000016004', ean: '5790000575848', transport: { kind: 'vans' } }],
      }),
    );
    g = await startTestGateway({
      dialect: 'sqlite',
      dataDir,
      env: {
        PARTIES_FILE: partiesFile,
        GP_DIRECTORY_FILE: directory,
        MEDCOM_PACKAGES_DIR: MEDCOM_DIR,
        VANS_ENDPOINT_URL: receiver.url('/vans/in'),
        DELIVERY_RETRY_BASE_MS: '200',
        DELIVERY_RETRY_MAX_MS: '400',
      },
    });
  });
  after(async () => {
    await g?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each envelope is POSTed with the gateway’s client certificate; a failed POST is retried with the same envelope id', async () => {
    const { caseId } = await send(g, 'kommune-147', {
      citizen: { cpr: '0606701234', name: 'Vans Borger' },
      service: 'clinical-assessment',
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
    });
    const { messages } = await postAttest(g, (await settled(g, caseId)).assigned_to!, caseId);
    const copy = messages.find((m) => m.copy)!;
    const row = () => g.gw.db.db.selectFrom('messages').selectAll().where('id', '=', copy.messageId).executeTakeFirstOrThrow();
    await waitFor('handed to VANS after one failed POST', async () => (await row()).state === 'sent', { timeoutMs: 15_000 });
    const { hits } = receiver;
    assert.equal(hits.length, 2, 'a 503, then accepted');
    assert.ok(hits.every((h) => h.headers['content-type'] === 'application/xml'));
    assert.ok(
      hits.every((h) => h.clientCn === 'Postkasse gateway client (dev)'),
      'the gateway’s client certificate',
    );
    const [first, second] = hits.map((h) => parseVansEnvelope(h.body));
    assert.equal(first!.envelopeId, second!.envelopeId, 'a retry of one transmission repeats its envelope id');
    assert.equal(first!.messageId, copy.messageId);
    assert.equal(createHash('sha256').update(second!.data).digest('hex'), (await row()).envelope_sha256, 'Data is the signed Bundle');
    assert.equal(Number((await row()).sends), 1);
  });
});

test('a gateway without MedCom’s packages does not start, and says where it looked', async () => {
  const missing = join(tmpdir(), `no-medcom-${randomUUID()}`);
  await assert.rejects(startTestGateway({ dialect: 'sqlite', env: { MEDCOM_PACKAGES_DIR: missing } }), (e: Error) =>
    e.message.includes(missing),
  );
});
