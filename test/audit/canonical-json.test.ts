import { it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../../src/shared/canonical-json.js';

it('sorts keys recursively, no whitespace, arrays in order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [3, 1, { z: 0, y: null }], c: true } }), '{"a":{"c":true,"d":[3,1,{"y":null,"z":0}]},"b":1}');
  assert.equal(canonicalJson([]), '[]');
  assert.equal(canonicalJson({}), '{}');
  assert.equal(canonicalJson('x'), '"x"');
  assert.equal(canonicalJson(null), 'null');
});

it('does not depend on insertion order', () => {
  const a = { x: 1, y: { p: 1, q: 2 } };
  const b = { y: { q: 2, p: 1 }, x: 1 };
  assert.equal(canonicalJson(a), canonicalJson(b));
});

it('sorts by UTF-16 code units (RFC 8785 §3.2.3)', () => {
  const obj = {
    '\u20ac': 'Euro Sign',
    '\r': 'Carriage Return',
    '\ufb33': 'Hebrew Letter Dalet With Dagesh',
    '1': 'One',
    '\ud83d\ude00': 'Emoji: Grinning Face',
    '\u0080': 'Control',
    '\u00f6': 'Latin Small Letter O With Diaeresis',
  };
  // RFC 8785 §3.2.3 example order (read off the string: JSON.parse would put "1" first again)
  assert.equal(
    canonicalJson(obj),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
});

it('serialises numbers and strings like ECMAScript (RFC 8785 §3.2.2)', () => {
  assert.equal(canonicalJson([-0, 1e21, 1e-7, 0.1, 333333333.3333333, 4.5, 2e-3]), '[0,1e+21,1e-7,0.1,333333333.3333333,4.5,0.002]');
  assert.equal(canonicalJson('\u0000\u001f"\\/\u2028é😀'), '"\\u0000\\u001f\\"\\\\/\u2028é😀"');
});

it('follows JSON.stringify for undefined, toJSON and Dates, and round-trips', () => {
  assert.equal(
    canonicalJson({ a: undefined, b: [undefined, () => 1], c: new Date(0) }),
    '{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}',
  );
  const v = { z: [1, { b: 'x', a: 2.5 }], a: 'é' };
  assert.equal(canonicalJson(JSON.parse(canonicalJson(v))), canonicalJson(v));
});

it('rejects values without a faithful JSON form', () => {
  assert.throws(() => canonicalJson({ a: NaN }), /non-finite/);
  assert.throws(() => canonicalJson([Infinity]), /non-finite/);
  assert.throws(() => canonicalJson({ n: 1n }), /bigint/);
  assert.throws(() => canonicalJson({ s: 'a\ud800b' }), /lone surrogate/);
  assert.throws(() => canonicalJson({ ['\udc00']: 1 }), /lone surrogate/);
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => canonicalJson(cyc), /cyclic/);
  assert.throws(() => canonicalJson(undefined), /no JSON representation/);
  // a shared (non-cyclic) reference is fine
  const shared = { x: 1 };
  assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"x":1},"b":{"x":1}}');
});
