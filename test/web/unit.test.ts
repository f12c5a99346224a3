/** The staff pages' small pieces: HTML escaping, Danish dates, the return address after login, assurance levels, rules, Danish labels. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { danishDate, html, raw, timeDate, timeInstant } from '../../src/web/html.js';
import { safeReturnTo } from '../../src/web/app.js';
import { acrSatisfies, NSIS_LEVELS } from '../../src/web/oidc.js';
import { DOCUMENT_TYPE_DA, documentTypeDa, EVENT_DA, eventDa, ruleDa } from '../../src/web/labels.js';
import { CASE_EVENTS } from '../../src/storage/case-events.js';
import { DOCUMENT_TYPES } from '../../src/intake/schema.js';
import { formatCpr } from '../../src/web/pages/case.js';
import { volumeTable } from '../../src/web/pages/statistics.js';

test('html escapes every interpolation unless it is markup the code wrote', () => {
  const name = '<script>alert("x")</script> & \'Ø\'';
  assert.equal(html`<p>${name}</p>`.value, '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Ø&#39;</p>');
  assert.equal(html`<p>${raw('<b>b</b>')}${[html`<i>1</i>`, '<2>']}${null}${false}${0}</p>`.value, '<p><b>b</b><i>1</i>&lt;2&gt;0</p>');
});

test('dates are written the Danish way inside <time datetime>', () => {
  assert.equal(danishDate('2026-12-01'), '1. december 2026');
  assert.equal(timeDate('2027-01-04').value, '<time datetime="2027-01-04">4. januar 2027</time>');
  // 23:30 UTC on 31 December is already 1 January in Copenhagen
  assert.equal(timeInstant('2026-12-31T23:30:00.000Z').value, '<time datetime="2026-12-31T23:30:00.000Z">1. januar 2027 kl. 00.30</time>');
});

test('after login the browser returns only to a page of the gateway', () => {
  assert.equal(safeReturnTo('/sager/0f0e?ok=1'), '/sager/0f0e?ok=1');
  for (const bad of ['//evil.example/', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '', undefined, ['/'], '/a b']) {
    assert.equal(safeReturnTo(bad), '/', JSON.stringify(bad));
  }
});

test('OIDC_REQUIRED_ACR: an NSIS level is met by it or a higher one; any other value only by itself', () => {
  const [low, substantial, high] = NSIS_LEVELS;
  assert.ok(acrSatisfies(substantial, low));
  assert.ok(acrSatisfies(substantial, substantial));
  assert.ok(!acrSatisfies(substantial, high));
  assert.ok(!acrSatisfies(undefined, low));
  assert.ok(acrSatisfies(undefined, undefined));
  assert.ok(acrSatisfies('urn:region:mfa', 'urn:region:mfa'));
  assert.ok(!acrSatisfies(high, 'urn:region:mfa'));
});

test('rules and CPR numbers are shown the Danish way', () => {
  assert.equal(ruleDa('§21 stk. 1'), '§ 21, stk. 1');
  assert.equal(ruleDa('§23'), '§ 23');
  assert.equal(ruleDa('S§4'), 'S§ 4');
  assert.equal(formatCpr('0101801234'), '010180-1234');
});

test('§17 stk. 4: the volume table says from which day a gateway taken into use mid-year counts', () => {
  const row = {
    agreementId: 'kbh',
    municipalityCode: '101',
    partyId: null,
    yearStart: '2027-01-01',
    yearEnd: '2027-12-31',
    daysInYear: 365,
    countedFrom: '2027-12-01',
    elapsedDays: 10,
    expectedYearly: 365,
    expectedToDate: 10,
    actual: 9,
    deviationPct: -10,
    alert: false,
  };
  const cell = (r: typeof row) => /<td>\s*<time datetime="2027-01-01">[\s\S]*?<\/td>/.exec(volumeTable([r], () => 'København').value)![0];
  assert.match(cell(row), /talt fra <time datetime="2027-12-01">1\. december 2027<\/time>/);
  assert.doesNotMatch(cell({ ...row, countedFrom: '2027-01-01' }), /talt fra/, 'a whole year says nothing more');
});

test('every event a case can hold has a Danish label in the history (the list every writer of case_events is typed by)', () => {
  const missing = CASE_EVENTS.filter((e) => typeof EVENT_DA[e] !== 'string' || EVENT_DA[e].trim() === '' || EVENT_DA[e] === e);
  assert.deepEqual(missing, [], 'events shown as their code on the case page');
  for (const e of CASE_EVENTS) assert.equal(eventDa(e), EVENT_DA[e]);
  assert.equal(eventDa('message-dead-lettered'), 'Besked kunne ikke leveres');
  assert.equal(eventDa('conflict-declared'), 'Inhabilitet erklæret (§ 12, stk. 2)');
  // a name from an older version is shown as it is; a key of Object.prototype is not a label
  assert.equal(eventDa('some-old-event'), 'some-old-event');
  assert.equal(eventDa('constructor'), 'constructor');
});

test('§21 stk. 2: every document type of the manifest has a Danish name', () => {
  assert.deepEqual(
    DOCUMENT_TYPES.filter((t) => !DOCUMENT_TYPE_DA[t] || DOCUMENT_TYPE_DA[t] === t),
    [],
  );
  assert.equal(documentTypeDa('rehab-plan-preparatory'), 'Rehabiliteringsplanens forberedende del');
  assert.equal(documentTypeDa('request'), 'Anmodning');
  assert.equal(documentTypeDa('unknown-type'), 'unknown-type');
  assert.equal(documentTypeDa('toString'), 'toString');
});
