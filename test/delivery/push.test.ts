/**
 * Push delivery (issue 5) against a real HTTPS receiver that requires the
 * gateway's client certificate: retries with backoff until a 2xx, the same
 * messageId on every try, dead-lettering and a team lead's retry, a restart
 * between retries, and two instances delivering a message once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devPkiFor, dropQueueKeys, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { opensslVerify, pdf } from '../helpers/packages.js';
import { as, postAttest, send, settled, writeRoutingParties } from '../helpers/staff.js';
import { stayFor, waitFor } from '../helpers/wait.js';
import { startMtlsReceiver } from '../helpers/receiver.js';
import { retryDelay } from '../../queues/delivery.js';
import { setTimeout as sleep } from 'node:timers/promises';

const cpr = () => `0404${String(50 + Math.floor(Math.random() * 49)).padStart(2, '0')}${String(1000 + Math.floor(Math.random() * 8999))}`;

interface Hit {
  messageId: string;
  signature: string;
  body: Buffer;
  clientCn: string;
  path: string;
}

/** A receiver like a municipality's: mTLS with the gateway's client certificate required; `failFirst` 503s per message. */
async function startReceiver(pki: { serverCert: string; serverKey: string; caCert: string }) {
  let failFirst = 0;
  let alwaysFail = false;
  const idOfHit = (h: { headers: Record<string, unknown> }) => String(h.headers['message-id']);
  const r = await startMtlsReceiver(pki, (hit, all) => {
    const n = all.filter((h) => idOfHit(h) === idOfHit(hit)).length;
    return alwaysFail || n <= failFirst ? 503 : 204;
  });
  return {
    url: (name: string) => r.url(`/inbox/${name}`),
    get hits(): Hit[] {
      return r.hits.map((h) => ({
        messageId: idOfHit(h),
        signature: String(h.headers['message-signature']),
        body: h.body,
        clientCn: h.clientCn,
        path: h.path,
      }));
    },
    set(o: { failFirst?: number; alwaysFail?: boolean }) {
      if (o.failFirst !== undefined) failFirst = o.failFirst;
      if (o.alwaysFail !== undefined) alwaysFail = o.alwaysFail;
    },
    close: r.close,
  };
}

/** Parties with push urls for kommune-147 and the GP system, and the dev PKI made before the gateway starts (the receiver needs it). */
async function setup(dir: string) {
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const partiesFile = writeRoutingParties(dir);
  const pki = await devPkiFor(dataDir, partiesFile);
  const receiver = await startReceiver(pki);
  const doc = JSON.parse(readFileSync(partiesFile, 'utf8')) as { parties: { id: string; push?: { url: string } }[] };
  for (const p of doc.parties) if (p.id === 'kommune-147' || p.id === 'gp-057584') p.push = { url: receiver.url(p.id) };
  writeFileSync(partiesFile, JSON.stringify(doc));
  return { dataDir, partiesFile, receiver };
}

async function dispatchAttest(
  g: TestGateway,
): Promise<{ caseId: string; messages: { messageId: string; to: string | null; copy: boolean }[] }> {
  const { caseId } = await send(g, 'kommune-147', {
    citizen: { cpr: cpr(), name: 'Push Borger' },
    service: 'clinical-assessment',
    gp: { ydernummer: '057584' },
    documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
  });
  const who = (await settled(g, caseId)).assigned_to!;
  const { messages } = await postAttest(g, who, caseId, pdf('pushed attest'));
  return { caseId, messages };
}

/** The GP's copy is a MedCom message: handed over it is `sent` (its MedCom acknowledgement settles it); ours are `pushed`. */
const deliveredState = (m: { copy: boolean }) => (m.copy ? 'sent' : 'pushed');

/** The message id a pushed body carries: our envelope's messageId, or a MedCom Bundle's MessageHeader.id. */
function idOf(body: Buffer): string {
  const j = JSON.parse(body.toString('utf8')) as { resourceType?: string; messageId?: string; entry?: { resource: { id: string } }[] };
  return j.resourceType === 'Bundle' ? j.entry![0]!.resource.id : j.messageId!;
}

const messageRow = (g: TestGateway, id: string) =>
  g.gw.db.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

test('retry delays grow exponentially with jitter, capped', () => {
  const r = { baseMs: 60_000, maxMs: 4 * 3600_000, giveUpAfterMs: 72 * 3600_000 };
  assert.equal(
    retryDelay(1, r, () => 0),
    30_000,
  );
  assert.equal(
    retryDelay(1, r, () => 1),
    60_000,
  );
  assert.equal(
    retryDelay(4, r, () => 1),
    480_000,
  );
  assert.equal(
    retryDelay(30, r, () => 1),
    4 * 3600_000,
    'capped',
  );
  assert.ok(retryDelay(30, r, () => 0) >= 2 * 3600_000, 'half the cap at least');
  // at least 72 hours of trying before a dead letter: the sum of the worst-case (shortest) delays
  let total = 0;
  let n = 0;
  while (total < r.giveUpAfterMs) total += retryDelay(++n, r, () => 0);
  assert.ok(n > 30 && n < 80, `${n} attempts over 72 h`);
});

describe('push delivery, one instance', () => {
  let dir: string;
  let g: TestGateway;
  let s: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-push-'));
    s = await setup(dir);
    g = await startTestGateway({
      dialect: 'sqlite',
      dataDir: s.dataDir,
      env: {
        PARTIES_FILE: s.partiesFile,
        HEALTH_PORT: '0',
        DELIVERY_RETRY_BASE_MS: '100',
        DELIVERY_RETRY_MAX_MS: '400',
        DELIVERY_GIVE_UP_AFTER_MS: '6000',
      },
    });
  });
  after(async () => {
    await g?.close();
    await s?.receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a receiver that fails the first pushes gets the message on a retry, always with the same messageId, over mTLS, verifiable', async () => {
    s.receiver.set({ failFirst: 2, alwaysFail: false });
    const { caseId, messages } = await dispatchAttest(g);
    for (const m of messages) {
      const row = await waitFor(
        `message ${m.messageId} pushed`,
        async () => {
          const r = await messageRow(g, m.messageId);
          return r.state === deliveredState(m) ? r : undefined;
        },
        { timeoutMs: 15_000 },
      );
      assert.equal(row.push_attempts, 3);
      const hits = s.receiver.hits.filter((h) => h.messageId === m.messageId);
      assert.equal(hits.length, 3, 'two failures, then success');
      assert.ok(
        hits.every((h) => h.clientCn === 'Postkasse gateway client (dev)'),
        'the gateway’s client certificate',
      );
      assert.ok(
        hits.every((h) => h.path === `/inbox/${m.to}`),
        'to the addressee’s push url',
      );
      const last = hits[hits.length - 1]!;
      assert.ok(
        hits.every((h) => h.body.equals(last.body)),
        'the same bytes every time',
      );
      const v = opensslVerify(last.body, last.signature, g.ca);
      assert.ok(v.ok, v.output);
      assert.equal(idOf(last.body), m.messageId);
    }
    const view = await as(g, 'kommune-147').get(`/v1/cases/${caseId}`);
    assert.deepEqual(
      view.body.responses[0].messages.map((m: { state: string }) => m.state),
      ['pushed', 'sent'],
    );
    assert.ok(view.body.history.some((h: { event: string }) => h.event === 'message-pushed'));
    // pushed is delivered, but the message stays in the mailbox until acknowledged
    const list = await as(g, 'kommune-147').get('/v1/mailbox');
    assert.ok(list.body.items.some((i: { messageId: string }) => i.messageId === messages[0]!.messageId));
  });

  test('pushes failing for the whole retry period dead-letter the message: listed for leads, counted, re-triable by a lead', async () => {
    s.receiver.set({ alwaysFail: true });
    const { messages } = await dispatchAttest(g);
    const id = messages[0]!.messageId;
    await waitFor('dead letter', async () => (await messageRow(g, id)).state === 'dead-lettered', { timeoutMs: 20_000 });
    const lead = await as(g, 'lead-1').get('/v1/messages?state=dead-lettered');
    const item = lead.body.items.find((i: { messageId: string }) => i.messageId === id);
    assert.ok(item, 'listed for team leads');
    assert.match(item.lastError, /503/);
    const metrics = await (await fetch(`http://127.0.0.1:${g.gw.healthPort}/metrics`)).text();
    assert.match(metrics, /^postkasse_delivery_dead_lettered_total [1-9]/m);
    assert.ok(g.logs.some((l) => l.includes('message dead-lettered') && l.includes(id)));
    assert.equal((await as(g, 'coord-bo').post(`/v1/messages/${id}/retry`)).status, 403);
    s.receiver.set({ alwaysFail: false, failFirst: 0 });
    const retry = await as(g, 'lead-1').post(`/v1/messages/${id}/retry`);
    assert.equal(retry.status, 202, retry.text);
    await waitFor('pushed after the retry', async () => (await messageRow(g, id)).state === 'pushed', { timeoutMs: 15_000 });
    assert.equal((await as(g, 'lead-1').post(`/v1/messages/${id}/retry`)).status, 409, 'only dead letters are retried');
  });

  test('Redis is not the truth: push jobs lost with Redis are re-created by the reconciler and delivered', async () => {
    s.receiver.set({ alwaysFail: true });
    const { messages } = await dispatchAttest(g);
    const ids = messages.map((m) => m.messageId);
    await waitFor('first failed pushes', async () => ids.every((id) => s.receiver.hits.some((h) => h.messageId === id)));
    await dropQueueKeys(g.queuePrefix); // the retries waiting in Redis are gone
    s.receiver.set({ alwaysFail: false, failFirst: 0 });
    const r = await g.gw.delivery!.reconcile();
    assert.ok(r.waiting >= ids.length, `waiting ${r.waiting}`);
    for (const m of messages) {
      await waitFor(`delivered ${m.messageId}`, async () => (await messageRow(g, m.messageId)).state === deliveredState(m), {
        timeoutMs: 15_000,
      });
    }
  });

  test('an acknowledgement through the mailbox counts as delivered: no more pushes', async () => {
    s.receiver.set({ alwaysFail: true });
    const { messages } = await dispatchAttest(g);
    const id = messages[0]!.messageId;
    await waitFor('a first failed push', async () => s.receiver.hits.some((h) => h.messageId === id));
    assert.equal((await as(g, 'kommune-147').post(`/v1/mailbox/${id}/ack`)).status, 200);
    const seen = s.receiver.hits.filter((h) => h.messageId === id).length;
    const pushes = () => s.receiver.hits.filter((h) => h.messageId === id).length;
    // The push series ends: the next try finds the message acknowledged and completes without pushing (the job is removed).
    await waitFor('the push job of the acknowledged message to end', async () => {
      const jobs = await g.gw.delivery!.queue.getJobs(['active', 'wait', 'delayed', 'prioritized']);
      return !jobs.some((j) => j?.data.messageId === id);
    });
    assert.ok(pushes() <= seen + 1, 'at most the push already in flight');
    await stayFor('another push of the acknowledged message', 300, { happened: () => pushes() > seen + 1 && pushes() });
    assert.equal((await messageRow(g, id)).state, 'acknowledged');
    s.receiver.set({ alwaysFail: false });
  });
});

describe('the retry period starts when the message is queued, not at its sentAt', () => {
  let dir: string;
  let g: TestGateway;
  let s: Awaited<ReturnType<typeof setup>>;
  const VALIDATION_MS = 2_500;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-push-since-'));
    s = await setup(dir);
    g = await startTestGateway({
      dialect: 'sqlite',
      dataDir: s.dataDir,
      env: { PARTIES_FILE: s.partiesFile, DELIVERY_RETRY_BASE_MS: '100', DELIVERY_RETRY_MAX_MS: '100', DELIVERY_GIVE_UP_AFTER_MS: '2000' },
      // The GP copy's MedCom validation, between sentAt and the commit, takes longer than the whole retry period.
      start: {
        medcomValidator: { validate: () => sleep(VALIDATION_MS).then(() => []), pid: () => undefined, close: async () => undefined },
      },
    });
  });
  after(async () => {
    await g?.close();
    await s?.receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a failed first push after a slow dispatch is retried, not dead-lettered at once', async () => {
    s.receiver.set({ failFirst: 1, alwaysFail: false });
    const started = Date.now();
    const { messages } = await dispatchAttest(g);
    assert.ok(Date.now() - started >= VALIDATION_MS, 'the dispatch waited for the validation');
    const m = messages.find((x) => !x.copy)!;
    const row = await waitFor(`message ${m.messageId} settled`, async () => {
      const r = await messageRow(g, m.messageId);
      return r.state !== 'queued' ? r : undefined;
    });
    assert.equal(row.state, 'pushed', `${row.state}: ${row.last_error}`);
    assert.equal(row.push_attempts, 2, 'one failure, then the retry delivered it');
    assert.ok(Date.parse(row.push_since) > Date.parse(row.sent_at), 'the series started after sentAt');
  });
});

describe('push delivery across restarts and instances (PostgreSQL, one Redis)', () => {
  let dir: string;
  let s: Awaited<ReturnType<typeof setup>>;
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const queuePrefix = `t-${randomBytes(6).toString('hex')}`;
  let env: Record<string, string>;
  const open: TestGateway[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-push2-'));
    s = await setup(dir);
    env = { PARTIES_FILE: s.partiesFile, QUEUE_PREFIX: queuePrefix, DELIVERY_RETRY_BASE_MS: '1500', DELIVERY_RETRY_MAX_MS: '1500' };
  });
  after(async () => {
    const last = open.pop();
    for (const g of open) await g.gw.close().catch(() => {});
    await last?.close();
    await s?.receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a restart between retries: the next instance delivers the message', async () => {
    s.receiver.set({ failFirst: 1, alwaysFail: false });
    const first = await startTestGateway({ dialect: 'postgres', schema, dataDir: s.dataDir, env });
    open.push(first);
    const { messages } = await dispatchAttest(first);
    const id = messages[0]!.messageId;
    await waitFor('the first push failed', async () => s.receiver.hits.some((h) => h.messageId === id));
    await first.gw.close(); // the retry waits in Redis (1.5 s backoff)
    const second = await startTestGateway({ dialect: 'postgres', schema, dataDir: s.dataDir, env });
    open.push(second);
    await waitFor('pushed by the restarted gateway', async () => (await messageRow(second, id)).state === 'pushed', { timeoutMs: 15_000 });
    assert.equal(s.receiver.hits.filter((h) => h.messageId === id).length, 2);
  });

  test('two instances pushing the same messages deliver each once', async () => {
    s.receiver.set({ failFirst: 0, alwaysFail: false });
    const other = await startTestGateway({ dialect: 'postgres', schema, dataDir: s.dataDir, env });
    open.push(other);
    const g = open[open.length - 2]!;
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await dispatchAttest(i % 2 ? g : other));
    const all = sent.flatMap((x) => x.messages);
    const ids = all.map((m) => m.messageId);
    for (const m of all) {
      await waitFor(`delivered ${m.messageId}`, async () => (await messageRow(g, m.messageId)).state === deliveredState(m), {
        timeoutMs: 15_000,
      });
    }
    // both reconcilers have run at start-up; give them one more chance to double-send
    await Promise.all([g.gw.delivery!.reconcile(), other.gw.delivery!.reconcile()]);
    await stayFor('a second delivery of a message', 500, {
      happened: () => ids.find((id) => s.receiver.hits.filter((h) => h.messageId === id).length > 1),
    });
    for (const id of ids) assert.equal(s.receiver.hits.filter((h) => h.messageId === id).length, 1, `message ${id} delivered once`);
    // the GP's copy (a MedCom Bundle) and the municipality's attest: same instant, same document
    for (const x of sent) {
      const [a, b] = x.messages.map((m) => s.receiver.hits.find((h) => h.messageId === m.messageId)!);
      const ea = JSON.parse(a!.body.toString('utf8'));
      const bundle = JSON.parse(b!.body.toString('utf8')) as { entry: { resource: Record<string, any> }[] };
      const communication = bundle.entry.map((e) => e.resource).find((r) => r.resourceType === 'Communication')!;
      assert.equal(communication.sent, ea.sentAt);
      const data = (communication.payload as { contentAttachment?: { data: string } }[]).find((p) => p.contentAttachment)!
        .contentAttachment!.data;
      assert.equal(createHash('sha256').update(Buffer.from(data, 'base64')).digest('hex'), ea.document.sha256);
      assert.equal(createHash('sha256').update(Buffer.from(ea.document.data, 'base64')).digest('hex'), ea.document.sha256);
    }
  });
});
