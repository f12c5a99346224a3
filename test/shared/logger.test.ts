import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, scrubCpr } from '../../src/shared/logger.js';
import { logCapture } from '../helpers/logs.js';

test('logger: personal data paths are redacted and CPR-like numbers scrubbed from free text', () => {
  const cap = logCapture();
  const log = createLogger({ destination: cap.stream, level: 'info' });
  log.info({ citizen: { cpr: '0101801234', name: 'Anne Hansen' }, manifest: { x: 1 } }, 'received');
  log.info({ req: { body: { citizen: { cpr: '0101801234' } } } }, 'request');
  log.warn('free text mentions 010180-1234 and 0101801234');
  log.error({ err: new Error('bad cpr 0101801234 in manifest') }, 'failed');
  log.info({ deep: { citizen: { cpr: '0101801234' } } }, 'nested');
  const all = cap.lines.join('\n');
  assert.equal(cap.lines.length, 5);
  assert.doesNotMatch(all, /0101801234|010180-1234/);
  assert.doesNotMatch(all, /Anne Hansen/);
  assert.match(all, /\[redacted\]/);
  assert.match(all, /\[CPR\]/);
});

test('scrubCpr leaves other numbers alone', () => {
  assert.equal(scrubCpr('case 12345 port 8443'), 'case 12345 port 8443');
  assert.equal(scrubCpr('cpr 0101801234.'), 'cpr [CPR].');
});
