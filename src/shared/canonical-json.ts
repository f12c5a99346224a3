/**
 * Canonical JSON (RFC 8785 / JCS style): object keys sorted by UTF-16 code
 * units, no insignificant whitespace, arrays in order, numbers and strings
 * serialised exactly as ECMAScript's JSON.stringify does (which is what
 * RFC 8785 prescribes for both).
 *
 * Used wherever bytes are hashed or signed (audit chain, receipts), so the
 * output for a value must never depend on property insertion order.
 *
 * Semantics follow JSON.stringify where it is well-defined, so that
 * `canonicalJson(JSON.parse(canonicalJson(x))) === canonicalJson(x)`:
 * - `toJSON()` is honoured (Date → ISO string);
 * - object properties whose value is undefined / a function / a symbol are omitted;
 * - such values inside arrays become `null`.
 * Values that have no faithful JSON form are rejected with a TypeError:
 * non-finite numbers, bigint, strings with lone surrogates (not I-JSON,
 * RFC 7493), and cyclic structures.
 */
export function canonicalJson(value: unknown): string {
  const out = serialise(value, new Set(), '');
  if (out === undefined) throw new TypeError('canonicalJson: value has no JSON representation');
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function str(s: string, path: string): string {
  if (LONE_SURROGATE.test(s)) throw new TypeError(`canonicalJson: lone surrogate in string at ${path || '$'}`);
  return JSON.stringify(s);
}

function serialise(value: unknown, seen: Set<object>, path: string): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(key: string): unknown }).toJSON(path.slice(path.lastIndexOf('.') + 1));
  }
  switch (typeof value) {
    case 'string':
      return str(value, path);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${path || '$'}`);
      return JSON.stringify(value); // ES Number::toString, -0 → "0"
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError(`canonicalJson: bigint at ${path || '$'} (convert to string or number first)`);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object': {
      if (value === null) return 'null';
      if (seen.has(value)) throw new TypeError(`canonicalJson: cyclic structure at ${path || '$'}`);
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          const parts = value.map((v, i) => serialise(v, seen, `${path}[${i}]`) ?? 'null');
          return `[${parts.join(',')}]`;
        }
        const obj = value as Record<string, unknown>;
        // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
        const keys = Object.keys(obj).sort();
        const parts: string[] = [];
        for (const k of keys) {
          const v = serialise(obj[k], seen, path ? `${path}.${k}` : k);
          if (v !== undefined) parts.push(`${str(k, path)}:${v}`);
        }
        return `{${parts.join(',')}}`;
      } finally {
        seen.delete(value);
      }
    }
  }
}
