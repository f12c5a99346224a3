/**
 * §16 stk. 3–4: an agreement may add supplementary services (e.g. advice in
 * kontanthjælp cases): packages may name them, and receipt, clock, routing and
 * returns treat them like the statutory ones — with the agreement's deadline,
 * never a statutory default.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { settled } from '../helpers/staff.js';

describe('§16 stk. 3–4: supplementary services', () => {
  let dir: string;
  let g: TestGateway;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-supplementary-'));
    const file = join(dir, 'agreements.json');
    writeFileSync(
      file,
      JSON.stringify({
        agreements: [
          {
            id: 'kbh-plus',
            municipalityCode: '101',
            validFrom: '2026-01-01',
            validTo: null,
            services: [
              {
                id: 'kontanthjaelp-advice',
                name: 'Rådgivning i kontanthjælpssager',
                responseKinds: ['statement'],
                deadlineDays: 10,
                priceDkk: 2500,
              },
            ],
          },
        ],
      }),
    );
    g = await startTestGateway({ dialect: 'sqlite', env: { AGREEMENTS_FILE: file } });
  });
  after(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const kontanthjaelp = () =>
    manifest({
      service: 'kontanthjaelp-advice',
      caseType: 'kontanthjaelp',
      documents: [{ part: 'q', type: 'other', mediaType: 'application/pdf' }],
    });

  test('a municipality whose agreement defines it sends it; the clock has the agreed deadline; a coordinator returns a statement', async () => {
    const r = await postPackage(g, 'kommune-101', kontanthjaelp(), [{ name: 'q', body: pdf('q') }]);
    assert.equal(r.status, 201, r.text);
    const receipt = JSON.parse(r.text);
    assert.deepEqual(
      receipt.clock.deadlines.map((d: { rule: string; source: string }) => [d.rule, d.source]),
      [['§16 stk. 3', 'agreement:kbh-plus']],
    );
    const who = (await settled(g, receipt.caseId)).assigned_to!;
    assert.match(who, /^coord-/, 'routed to a health coordinator of the municipality');
    const c = g.creds(who);
    const respond = (response: unknown) =>
      request(g.url)
        .post(`/v1/cases/${receipt.caseId}/responses`)
        .ca(g.ca)
        .cert(c.cert)
        .key(c.key)
        .field('response', JSON.stringify(response))
        .attach('document', pdf('statement'), { filename: 's.pdf', contentType: 'application/pdf' });
    const wrongKind = await respond({ kind: 'recommendation', content: { reasons: 'r', proposals: ['p'] } });
    assert.equal(wrongKind.status, 422, 'only the kinds the agreement names');
    const ok = await respond({ kind: 'statement', content: { assessment: 'Borgeren kan deltage i aktivering.' } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.body.clock.status, 'stopped');
  });

  test('a municipality whose agreement does not define it gets 422 naming §16 stk. 3–4', async () => {
    const r = await postPackage(g, 'kommune-147', kontanthjaelp(), [{ name: 'q', body: pdf('q') }]);
    assert.equal(r.status, 422, r.text);
    assert.match(r.text, /§16 stk\. 3–4/);
    assert.equal(JSON.parse(r.text).errors[0].path, 'service');
  });
});
