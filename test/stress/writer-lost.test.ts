/**
 * Issue 6: intake commits in the SQLite writer thread. If that thread is lost
 * while a commit is in flight, the gateway cannot know whether the package
 * was stored. It must then answer 503 (never a receipt it cannot vouch for)
 * and keep the documents, because the rows may well reference them: the
 * sender's retry with the same packageId gets the stored receipt, and the
 * documents behind it are still there. (The injected fault commits and then
 * loses the answer, the worst case.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { manifest, pdf, postPackage } from '../helpers/packages.js';
import { WriteOutcomeUnknown, type Writer } from '../../src/storage/writer.js';

let loseNextAnswer = false;

function losingAnswers(writer: Writer): Writer {
  return {
    async commit(ops) {
      await writer.commit(ops);
      if (loseNextAnswer) {
        loseNextAnswer = false;
        throw new WriteOutcomeUnknown('the SQLite writer thread ended (injected) while the commit was in flight');
      }
    },
    start: () => writer.start(),
    close: () => writer.close(),
  };
}

let g: TestGateway;
before(async () => {
  g = await startTestGateway({ dialect: 'sqlite', start: { wrapWriter: losingAnswers } });
});
after(async () => {
  await g?.close();
});

test('writer lost mid-commit: 503 problem+json, documents kept; the retry with the same packageId gets the stored receipt', async () => {
  const m = manifest();
  const files = [{ name: 'plan', body: pdf('lost-answer'), contentType: 'application/pdf', filename: 'plan.pdf' }];
  loseNextAnswer = true;
  const first = await postPackage(g, 'kommune-101', m, files);
  assert.equal(first.status, 503, first.text);
  assert.match(first.headers['content-type'] ?? '', /application\/problem\+json/);
  assert.match(first.body.detail, /same packageId/);

  const again = await postPackage(g, 'kommune-101', m, files);
  assert.equal(again.status, 200, again.text);
  const docs = await g.gw.db.db.selectFrom('documents').select(['blob_key']).where('case_id', '=', again.body.caseId).execute();
  assert.equal(docs.length, 1);
  for (const d of docs) {
    assert.ok(existsSync(join(g.dataDir, 'blobs', d.blob_key.slice(0, 2), d.blob_key)), 'the receipted document is still stored');
  }
});
