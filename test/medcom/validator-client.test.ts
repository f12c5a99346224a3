/**
 * The MedCom validator in its own process (src/medcom/validator-client.ts):
 * it answers like the in-process validator, a start-up without packages fails
 * naming the directory, a stopped process is replaced on the next call, and a
 * validation that does not answer in time is rejected (so nothing is sent
 * unvalidated).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startMedcomValidator, type AsyncMedcomValidator } from '../../src/medcom/validator-client.js';
import { loadMedcomPackages } from '../../src/medcom/packages.js';
import { MEDCOM_DIR } from '../helpers/medcom.js';
import { waitFor } from '../helpers/wait.js';

const logs: string[] = [];
const log = {
  info: (_o: object, m?: string) => void logs.push(`info ${m}`),
  warn: (_o: object, m?: string) => void logs.push(`warn ${m}`),
  error: (_o: object, m?: string) => void logs.push(`error ${m}`),
};
const open: AsyncMedcomValidator[] = [];
after(async () => {
  for (const v of open) await v.close();
});

async function example(): Promise<Record<string, any>> {
  const pkgs = await loadMedcomPackages(MEDCOM_DIR);
  const e = pkgs.examples.find(
    (x) => x.packageName.includes('carecommunication') && (x.resource as { resourceType?: string }).resourceType === 'Bundle',
  );
  assert.ok(e, 'an official CareCommunication example');
  return structuredClone(e.resource) as Record<string, any>;
}

test('answers like the validator: an official example is valid, a broken one names its FHIRPath location', async () => {
  const v = await startMedcomValidator(MEDCOM_DIR, log);
  open.push(v);
  const b = await example();
  assert.deepEqual(
    (await v.validate(b)).filter((i) => i.severity === 'error'),
    [],
  );
  b.entry[0].resource.destination.push(structuredClone(b.entry[0].resource.destination[0]));
  const issues = (await v.validate(b)).filter((i) => i.severity === 'error');
  assert.ok(
    issues.some((i) => i.location.startsWith('Bundle.entry[0].resource.destination')),
    JSON.stringify(issues),
  );
});

test('a stopped process is replaced on the next call; a hung one is given up on in time', async () => {
  const v = await startMedcomValidator(MEDCOM_DIR, log, { timeoutMs: 1500 });
  open.push(v);
  const first = v.pid()!;
  process.kill(first, 'SIGKILL');
  await waitFor('the process gone', async () => v.pid() === undefined);
  assert.ok(logs.some((l) => l.includes('MedCom validator process stopped')));
  const b = await example();
  assert.deepEqual(
    (await v.validate(b)).filter((i) => i.severity === 'error'),
    [],
  );
  const second = v.pid()!;
  assert.notEqual(second, first, 'a new process');

  process.kill(second, 'SIGSTOP');
  try {
    await assert.rejects(v.validate(b), /did not answer within 1500 ms/);
  } finally {
    process.kill(second, 'SIGCONT');
  }
});

test('without MedCom packages the validator does not start, and says where it looked', async () => {
  const dir = join(MEDCOM_DIR, 'no-such-dir');
  await assert.rejects(startMedcomValidator(dir, log), (e: Error) => e.message.includes(dir));
});
