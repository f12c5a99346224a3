/**
 * Issue 15, "cross-site requests on the JSON API": a page of another site made a
 * browser holding a client certificate post a `text/plain` form to the staff
 * JSON API, and the gateway read it as JSON. Now a JSON body must be JSON (415),
 * a body-less endpoint refuses a form's encodings (415), and a state-changing
 * request a browser marks as coming from another origin is refused (403) before
 * anything is recorded. Systems send neither Origin nor Sec-Fetch-Site and are untouched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { as, send } from '../helpers/staff.js';
import { crossSiteReason, sameOriginReason } from '../../src/shared/same-origin.js';
import { isJsonMediaType } from '../../src/shared/validate.js';
import { PROBLEM_BASE } from '../../src/shared/problem.js';

const fakeReq = (method: string, headers: Record<string, string>) => ({ method, headers }) as unknown as Request;

describe('issue 15: cross-site requests (pure rules)', () => {
  test('issue 15: Origin and Sec-Fetch-Site decide; GET and requests without them pass', () => {
    const host = { host: 'postkasse.region.dk' };
    assert.equal(crossSiteReason(fakeReq('POST', host)), undefined, 'a system sends neither header');
    assert.equal(crossSiteReason(fakeReq('GET', { ...host, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })), undefined);
    assert.equal(crossSiteReason(fakeReq('POST', { ...host, origin: 'https://postkasse.region.dk' })), undefined);
    assert.equal(crossSiteReason(fakeReq('POST', { host: 'postkasse.region.dk:443', origin: 'https://postkasse.region.dk' })), undefined);
    assert.equal(crossSiteReason(fakeReq('PUT', { ...host, 'sec-fetch-site': 'same-origin' })), undefined);
    assert.equal(crossSiteReason(fakeReq('POST', { ...host, 'sec-fetch-site': 'none' })), undefined);
    const refused: Record<string, string>[] = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: 'http://postkasse.region.dk' },
      { origin: 'https://postkasse.region.dk:8444' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://postkasse.region.dk', 'sec-fetch-site': 'cross-site' },
    ];
    for (const h of refused) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        assert.ok(crossSiteReason(fakeReq(method, { ...host, ...h })), `${method} ${JSON.stringify(h)} is refused`);
      }
    }
  });

  test('issue 15: the staff queue dashboard takes a write only from its own origin; a request naming none is refused too', () => {
    const staff = 'https://postkasse.region.dk:8444';
    const host = { host: 'postkasse.region.dk:8444' };
    assert.equal(
      sameOriginReason(fakeReq('GET', { ...host, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }), staff),
      undefined,
    );
    assert.equal(sameOriginReason(fakeReq('HEAD', host), staff), undefined);
    assert.equal(sameOriginReason(fakeReq('PUT', { ...host, 'sec-fetch-site': 'same-origin' }), staff), undefined);
    assert.equal(sameOriginReason(fakeReq('PUT', { ...host, 'sec-fetch-site': 'Same-Origin', origin: staff }), staff), undefined);
    assert.equal(sameOriginReason(fakeReq('PUT', { ...host, origin: staff }), staff), undefined, 'no Fetch Metadata: Origin decides');
    const refused: Record<string, string>[] = [
      {},
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'none' },
      { 'sec-fetch-site': 'cross-site', origin: staff },
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { origin: 'https://postkasse.region.dk' },
      { origin: 'http://postkasse.region.dk:8444' },
    ];
    for (const h of refused) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        assert.ok(sameOriginReason(fakeReq(method, { ...host, ...h }), staff), `${method} ${JSON.stringify(h)} is refused`);
      }
    }
  });

  test('issue 15: JSON media types are application/json and +json only', () => {
    for (const t of ['application/json', 'application/fhir+json', 'application/merge-patch+json']) assert.ok(isJsonMediaType(t), t);
    for (const t of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'text/json', 'application/jsonx', ''])
      assert.ok(!isJsonMediaType(t), t);
  });
});

describe('issue 15: cross-site requests on a running gateway', () => {
  let g: TestGateway;
  let caseId: string;
  const consent = { kind: 'municipality-agreement-citizen-contact', givenBy: 'Sara Sagsbehandler', date: '2026-01-05', how: 'oral' };
  const browser = { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors' };
  const consents = async () => (await g.gw.db.db.selectFrom('consents').select('id').where('case_id', '=', caseId).execute()).length;

  before(async () => {
    g = await startTestGateway({ dialect: 'sqlite' });
    ({ caseId } = await send(g, 'kommune-101'));
  });
  after(async () => {
    await g?.close();
  });

  test('issue 15: a text/plain cross-site POST to the consents endpoint is refused with 403 and records nothing', async () => {
    const res = await as(g, 'kommune-101')
      .post(`/v1/cases/${caseId}/consents`)
      .set(browser)
      .set('content-type', 'text/plain')
      .send(JSON.stringify(consent));
    assert.equal(res.status, 403, res.text);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.body.type, `${PROBLEM_BASE}cross-site-request`);
    // Origin alone (older browsers send no Sec-Fetch-*), and Sec-Fetch-Site same-site alone, are refused too
    const originOnly = await as(g, 'kommune-101').post(`/v1/cases/${caseId}/consents`).set('Origin', 'https://evil.example').send(consent);
    assert.equal(originOnly.status, 403);
    const sameSite = await as(g, 'kommune-101').post(`/v1/cases/${caseId}/consents`).set('Sec-Fetch-Site', 'same-site').send(consent);
    assert.equal(sameSite.status, 403);
    assert.equal(await consents(), 0);
    assert.ok(g.logs.some((l) => l.includes('cross-site-request') && l.includes('request refused')));
  });

  test('issue 15: ack, retry and a multipart package from another site are refused before they are read', async () => {
    const ack = await as(g, 'kommune-101').post(`/v1/mailbox/${randomUUID()}/ack`).set(browser).set('content-type', 'text/plain').send('x');
    assert.equal(ack.status, 403);
    const retry = await as(g, 'lead-1').post(`/v1/messages/${randomUUID()}/retry`).set(browser);
    assert.equal(retry.status, 403);
    const before = await g.gw.db.db.selectFrom('cases').select('id').execute();
    const pkg = await postPackage(g, 'kommune-101', manifest(), [{ name: 'plan', body: pdf('x'), contentType: 'application/pdf' }]).set(
      browser,
    );
    assert.equal(pkg.status, 403);
    assert.equal((await g.gw.db.db.selectFrom('cases').select('id').execute()).length, before.length, 'no case was created');
    // a cross-site GET changes nothing and is answered as before
    assert.equal((await as(g, 'kommune-101').get(`/v1/cases/${caseId}`).set(browser)).status, 200);
  });

  test('issue 15: a text/plain (or form) POST without browser headers is 415; a JSON endpoint without a body still says what is required', async () => {
    const plain = await as(g, 'kommune-101')
      .post(`/v1/cases/${caseId}/consents`)
      .set('content-type', 'text/plain')
      .send(JSON.stringify(consent));
    assert.equal(plain.status, 415, plain.text);
    assert.equal(plain.body.type, `${PROBLEM_BASE}unsupported-media-type`);
    assert.match(plain.body.detail, /application\/json/);
    const form = await as(g, 'kommune-101').post(`/v1/cases/${caseId}/consents`).type('form').send(consent);
    assert.equal(form.status, 415);
    const noType = await as(g, 'kommune-101')
      .post(`/v1/cases/${caseId}/consents`)
      .unset('Content-Type')
      .send(Buffer.from(JSON.stringify(consent)));
    assert.equal(noType.status, 415, 'a body without a Content-Type is not read as JSON');
    const empty = await as(g, 'kommune-101').post(`/v1/cases/${caseId}/consents`);
    assert.equal(empty.status, 422, 'no body and no Content-Type: the schema names what is required');
    // a body-less endpoint refuses a form's encodings
    const ackForm = await as(g, 'kommune-101').post(`/v1/mailbox/${randomUUID()}/ack`).set('content-type', 'text/plain').send('x');
    assert.equal(ackForm.status, 415);
    assert.equal(await consents(), 0);
  });

  test('issue 15: the normal JSON path still works, from a system and from a same-origin page', async () => {
    const system = await as(g, 'kommune-101').post(`/v1/cases/${caseId}/consents`).send(consent);
    assert.equal(system.status, 201, system.text);
    const fhirJson = await as(g, 'kommune-101')
      .post(`/v1/cases/${caseId}/consents`)
      .set('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify(consent));
    assert.equal(fhirJson.status, 201, fhirJson.text);
    const port = new URL(g.url).port;
    const sameOrigin = await as(g, 'kommune-101')
      .post(`/v1/cases/${caseId}/consents`)
      .set({ Origin: `https://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'same-origin' })
      .send(consent);
    assert.equal(sameOrigin.status, 201, sameOrigin.text);
    assert.equal(await consents(), 3);
    // a body-less POST as systems send it (no body, or an empty one) reaches its handler: an unknown message is 404
    assert.equal((await as(g, 'kommune-101').post(`/v1/mailbox/${randomUUID()}/ack`)).status, 404);
    assert.equal((await as(g, 'kommune-101').post(`/v1/mailbox/${randomUUID()}/ack`).set('content-length', '0')).status, 404);
  });
});
