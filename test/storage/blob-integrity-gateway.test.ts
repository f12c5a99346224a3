/**
 * Issue 15, "a tampered blob is served as a complete 200", end to end on one
 * gateway: a ciphertext byte is flipped on disk and the document is read
 * through every path — the staff API, the staff pages, the dispatch of a
 * response (its envelope digest), the mailbox and the push of the GP's
 * MedCom copy. No client ever gets a complete, clean response (the body is
 * shorter than its Content-Length and the connection is cut, or the request
 * fails), and each failure is an integrity alarm at error level, counted in
 * `postkasse_blob_integrity_failures_total`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { pdf } from '../helpers/packages.js';
import { ATTEST, holdConsultation, respond, send, settled } from '../helpers/staff.js';
import { MEDCOM_DIR } from '../helpers/medcom.js';
import { waitFor } from '../helpers/wait.js';
import { loadMasterKey } from '../../src/storage/crypto.js';
import { createSessions, SESSION_COOKIE } from '../../src/web/sessions.js';
import type { BlobStore } from '../../src/storage/blobs.js';

const HEADER_BYTES = 77;
const CPR = '0101801234';

interface Read {
  status: number;
  declared: number;
  received: number;
  /** the whole declared body arrived and the response ended normally */
  complete: boolean;
}

/** One GET over HTTPS; never rejects: what arrived, and whether the response completed. */
function get(url: string, opts: { ca: string; cert?: string; key?: string; cookie?: string }): Promise<Read> {
  return new Promise((done) => {
    const req = https.get(
      url,
      {
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        agent: false,
        servername: 'localhost',
        headers: opts.cookie ? { cookie: opts.cookie } : {},
      },
      (res) => {
        let received = 0;
        let ended = false;
        res.on('data', (c: Buffer) => (received += c.length));
        res.on('end', () => (ended = true));
        res.on('error', () => undefined);
        res.on('close', () =>
          done({
            status: res.statusCode ?? 0,
            declared: Number(res.headers['content-length'] ?? -1),
            received,
            complete: ended && res.complete && received === Number(res.headers['content-length'] ?? received),
          }),
        );
      },
    );
    req.on('error', () => done({ status: 0, declared: -1, received: 0, complete: false }));
  });
}

/** Flips one ciphertext byte of a stored blob on disk. */
function tamper(g: TestGateway, blobKey: string): void {
  const p = join(g.dataDir, 'blobs', blobKey.slice(0, 2), blobKey);
  const b = readFileSync(p);
  b[HEADER_BYTES + Math.floor((b.length - HEADER_BYTES - 16) / 2)]! ^= 0x04;
  writeFileSync(p, b);
}

interface Pushed {
  declared: number;
  received: number;
  complete: boolean;
  /** the request ended, whole or cut off */
  over: boolean;
}

/** The GP system's push url: records every request and whether its body arrived whole; answers 503 while `fail` is set. */
async function startReceiver(pki: { serverCert: string; serverKey: string; caCert: string }) {
  const hits: Pushed[] = [];
  let fail = true;
  const server = https.createServer(
    { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ca: readFileSync(pki.caCert), requestCert: true },
    (req, res) => {
      const hit: Pushed = { declared: Number(req.headers['content-length']), received: 0, complete: false, over: false };
      hits.push(hit);
      req.on('data', (c: Buffer) => (hit.received += c.length));
      req.on('error', () => undefined);
      req.on('close', () => (hit.over = true));
      req.on('end', () => {
        hit.complete = req.complete && hit.received === hit.declared;
        res.writeHead(fail ? 503 : 204).end();
      });
      (req.socket as TLSSocket).on('error', () => undefined);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}/inbox`,
    hits,
    accept: () => (fail = false),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('issue 15: a tampered document never produces a clean 200, on any read path', () => {
  let dir: string;
  let g: TestGateway;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let partiesFile: string;
  let caseId: string;
  let assignee: string;
  let tamperNextPut = false;

  const alarms = () =>
    g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.alarm === 'blob-integrity' && l.level === 50);
  const counted = async () => {
    const text = await g.gw.metrics.metrics();
    return Number(/^postkasse_blob_integrity_failures_total (\d+)/m.exec(text)?.[1] ?? NaN);
  };
  const blobOf = async (table: 'documents' | 'responses', column: 'case_id', value: string) =>
    (await g.gw.db.db.selectFrom(table).select('blob_key').where(column, '=', value).executeTakeFirstOrThrow()).blob_key;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-blob-integrity-'));
    partiesFile = join(dir, 'parties.json');
    copyFileSync('config/parties.dev.json', partiesFile);
    g = await startTestGateway({
      dialect: 'sqlite',
      env: {
        PARTIES_FILE: partiesFile,
        GP_DIRECTORY_FILE: resolve('config/gp-directory.dev.json'),
        MEDCOM_PACKAGES_DIR: MEDCOM_DIR,
        DELIVERY_RETRY_BASE_MS: '150',
        DELIVERY_RETRY_MAX_MS: '300',
      },
      start: {
        // the response's document is corrupted on disk right after it was stored (the dispatch then reads it)
        wrapBlobStore: (inner: BlobStore): BlobStore => ({
          ...inner,
          async put(source, opts) {
            const r = await inner.put(source, opts);
            if (tamperNextPut) {
              tamperNextPut = false;
              tamper(g, r.key);
            }
            return r;
          },
        }),
      },
    });
    receiver = await startReceiver(g.gw.tls.devPki!);
    const doc = JSON.parse(readFileSync(partiesFile, 'utf8')) as { parties: { id: string; push?: { url: string } }[] };
    for (const p of doc.parties) if (p.id === 'gp-057584') p.push = { url: receiver.url };
    writeFileSync(partiesFile, JSON.stringify(doc));
    assert.equal(g.gw.reload().parties, 'ok');

    ({ caseId } = await send(g, 'kommune-101', {
      service: 'clinical-assessment',
      gp: { ydernummer: '057584', name: 'Lægen' },
      citizen: { cpr: CPR, name: 'Integra Borgersen' },
      documents: [{ part: 'req', type: 'request', mediaType: 'application/pdf' }],
    }));
    assignee = (await settled(g, caseId)).assigned_to!;
    assert.ok(assignee);
  });

  after(async () => {
    await g?.close();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('staff API (GET /v1/cases/{id}/documents/{part}) and staff pages (/sager/{id}/dokumenter/{part}): cut short, alarm', async () => {
    const c = g.creds(assignee);
    const apiUrl = `${g.url}/v1/cases/${caseId}/documents/req`;
    const intact = await get(apiUrl, { ca: g.ca, ...c });
    assert.deepEqual([intact.status, intact.complete], [200, true], 'an intact document reads whole');

    tamper(g, await blobOf('documents', 'case_id', caseId));
    const before = alarms().length;
    const api = await get(apiUrl, { ca: g.ca, ...c });
    assert.equal(api.complete, false, `the API response must not complete: ${JSON.stringify(api)}`);
    // a one-chunk document: nothing of it leaves, so the connection closes before (or right after) the headers
    assert.ok(api.status === 0 || api.received < api.declared, `reset, or fewer bytes than Content-Length: ${JSON.stringify(api)}`);

    const masterKey = loadMasterKey({ dataDir: g.dataDir, createIfMissing: false });
    const sessions = createSessions({ db: g.gw.db, masterKey, idleMs: 60_000, maxMs: 600_000 });
    const { token } = await sessions.create('lead-1');
    const page = await get(`${g.gw.staffBaseUrl.replace('localhost', '127.0.0.1')}/sager/${caseId}/dokumenter/req`, {
      ca: g.ca,
      cookie: `${SESSION_COOKIE}=${token}`,
    });
    assert.equal(page.complete, false, `the page's document must not complete: ${JSON.stringify(page)}`);
    assert.ok(page.status === 0 || page.received < page.declared, JSON.stringify(page));

    const raised = alarms().slice(before);
    assert.equal(raised.length, 2, 'one alarm per read');
    for (const a of raised) {
      assert.match(String(a.blobKey), /^[0-9a-f-]{36}$/);
      assert.ok(!JSON.stringify(a).includes(CPR), 'no CPR in the alarm');
    }
    assert.ok((await counted()) >= 2, 'counted in the metric');
    const named = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => /cut off: it failed/.test(String(l.msg)));
    assert.equal(named.length, 2, 'each read path names the case and document');
    assert.ok(named.every((l) => l.caseId === caseId && typeof l.documentId === 'string' && l.level === 50));
  });

  test('a response whose stored document is corrupt is not dispatched: the request fails, nothing is sent, alarm', async () => {
    await holdConsultation(g, assignee, caseId);
    const before = alarms().length;
    tamperNextPut = true;
    const res = await respond(g, assignee, caseId, { kind: 'specialist-attest', content: ATTEST }, pdf('attest'));
    assert.ok(res.status >= 500, `the dispatch fails: ${res.status} ${res.text}`);
    assert.match(String(res.headers['content-type']), /problem\+json/);
    assert.equal((await g.gw.db.db.selectFrom('messages').select('id').where('case_id', '=', caseId).execute()).length, 0);
    assert.equal(alarms().length, before + 1);
  });

  test('mailbox (GET /v1/mailbox/{id}) and push of the MedCom copy: cut short, never delivered, alarm', async () => {
    const res = await respond(g, assignee, caseId, { kind: 'specialist-attest', content: ATTEST }, pdf('attest'));
    assert.equal(res.status, 201, res.text);
    const messages = res.body.messages as { messageId: string; to: string | null; copy: boolean }[];
    const toMunicipality = messages.find((m) => !m.copy)!;
    const toGp = messages.find((m) => m.copy)!;
    assert.equal(toGp.to, 'gp-057584');
    // The first push arrives whole (and is answered 503); from then on the document on disk is tampered.
    await waitFor('the first push of the GP copy', () => receiver.hits[0]?.over);
    assert.equal(receiver.hits[0]!.complete, true, JSON.stringify(receiver.hits[0]));
    tamper(g, await blobOf('responses', 'case_id', caseId));
    receiver.accept();
    const before = alarms().length;

    const c = g.creds('kommune-101');
    const mail = await get(`${g.url}/v1/mailbox/${toMunicipality.messageId}`, { ca: g.ca, ...c });
    assert.equal(mail.complete, false, `the mailbox read must not complete: ${JSON.stringify(mail)}`);
    assert.ok(mail.status === 0 || mail.received < mail.declared, JSON.stringify(mail));

    // The retried pushes read the tampered document: each is an alarm, and fails before the body is whole
    // (a one-chunk document fails before the request is even sent, so the receiver may see nothing at all).
    await waitFor('a retried push of the tampered copy to fail', async () => {
      const row = await g.gw.db.db.selectFrom('messages').selectAll().where('id', '=', toGp.messageId).executeTakeFirstOrThrow();
      return alarms().length >= before + 2 && /integrity/.test(String(row.last_error)) ? row : undefined;
    });
    await new Promise((r) => setTimeout(r, 300)); // let a push in flight end
    for (const h of receiver.hits.slice(1)) assert.equal(h.complete, false, 'no push after the tamper arrives whole');
    const row = await g.gw.db.db.selectFrom('messages').selectAll().where('id', '=', toGp.messageId).executeTakeFirstOrThrow();
    assert.notEqual(row.state, 'sent', 'the copy does not count as handed over');
    assert.equal(row.delivered_at, null);
    assert.ok(
      alarms().every((a) => !JSON.stringify(a).includes(CPR)),
      'no CPR in any alarm',
    );
  });
});
