/**
 * Media-type sniffing: the bytes of a document must match its declared
 * `mediaType`, which must be in the allowed set (API.md). Implemented as a
 * chunk filter the blob store runs on every chunk as it streams in; it decides
 * on the first bytes, so documents are never held in memory.
 */
import { badRequest, unsupportedMediaType, type Problem } from '../shared/problem.js';
import type { ChunkFilter } from './blobs.js';

/** The media types a document may have (API.md "Sending a case package"). */
export const ALLOWED_MEDIA_TYPES = [
  'application/pdf',
  'application/xml',
  'text/xml',
  'application/json',
  'text/plain',
  'image/png',
  'image/jpeg',
  'image/tiff',
] as const;
export type AllowedMediaType = (typeof ALLOWED_MEDIA_TYPES)[number];

const HEAD_BYTES = 16;

/** How each binary type's bytes begin (its "magic number"), as a partner can check with `head -c 8 file | xxd`. */
const MAGIC = {
  'application/pdf': 'the bytes "%PDF-"',
  'image/png': 'the PNG signature 89 50 4E 47 0D 0A 1A 0A',
  'image/jpeg': 'the JPEG marker FF D8 FF',
  'image/tiff': 'the TIFF header "II*\\0" or "MM\\0*"',
} as const;

type Detected = 'application/pdf' | 'image/png' | 'image/jpeg' | 'image/tiff' | 'text';

function detect(head: Buffer): Detected | null {
  if (head.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image/jpeg';
  const t4 = head.subarray(0, 4).toString('latin1');
  if (t4 === 'II*\0' || t4 === 'MM\0*') return 'image/tiff';
  return 'text';
}

export function isAllowedMediaType(t: string): t is AllowedMediaType {
  return (ALLOWED_MEDIA_TYPES as readonly string[]).includes(t);
}

/** First non-whitespace character after an optional UTF-8 BOM. */
function firstSignificant(head: Buffer): string | undefined {
  let s = head.toString('utf8');
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  return s.trimStart()[0];
}

/**
 * Creates a Transform that errors with a 415 Problem when the bytes do not
 * match `declared`. Text types (XML, JSON, plain text) must be valid UTF-8 with
 * no NUL byte anywhere; binary types are recognised by their signature.
 */
export function createSniffFilter(
  declared: AllowedMediaType,
  part: string,
  /** called with each chunk's size before it passes; a returned Problem stops the stream (package size limit) */
  onBytes?: (n: number) => Problem | null,
): ChunkFilter {
  let head: Buffer[] = [];
  let headLen = 0;
  let decided = false;
  let textMode = false;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let total = 0;

  const mismatch = (what: string): Problem => unsupportedMediaType(`document "${part}" is declared as ${declared} but its bytes ${what}`);

  function checkText(chunk: Buffer): Problem | null {
    if (chunk.includes(0)) return mismatch('contain NUL bytes, so they are not text');
    try {
      decoder.decode(chunk, { stream: true });
    } catch {
      return mismatch('are not valid UTF-8 text');
    }
    return null;
  }

  function decide(buf: Buffer): Problem | null {
    decided = true;
    const found = detect(buf);
    const isTextType =
      declared === 'application/xml' || declared === 'text/xml' || declared === 'application/json' || declared === 'text/plain';
    if (isTextType) {
      if (found !== 'text') return mismatch(`look like ${found}`);
      textMode = true;
      const first = firstSignificant(buf);
      if ((declared === 'application/xml' || declared === 'text/xml') && first !== '<' && first !== undefined)
        return mismatch('do not start like XML');
      if (declared === 'application/json' && first !== '{' && first !== '[' && first !== undefined)
        return mismatch('do not start like a JSON object or array');
      return checkText(buf);
    }
    if (found !== declared) {
      const magic = MAGIC[declared as keyof typeof MAGIC];
      return mismatch(
        `${found === 'text' ? 'do not' : `look like ${found} and do not`} start with ${magic}, as every ${declared} file does`,
      );
    }
    return null;
  }

  return {
    write(chunk: Buffer): Buffer | null {
      total += chunk.length;
      const limit = onBytes?.(chunk.length);
      if (limit) throw limit;
      if (decided) {
        if (textMode) {
          const p = checkText(chunk);
          if (p) throw p;
        }
        return chunk;
      }
      head.push(chunk);
      headLen += chunk.length;
      if (headLen < HEAD_BYTES) return null;
      const buf = Buffer.concat(head);
      head = [];
      const p = decide(buf);
      if (p) throw p;
      return buf;
    },
    end(): Buffer | null {
      if (total === 0) throw badRequest(`document "${part}" is empty`, undefined, 'empty-document');
      let rest: Buffer | null = null;
      if (!decided) {
        rest = Buffer.concat(head);
        head = [];
        const p = decide(rest);
        if (p) throw p;
      }
      if (textMode) {
        try {
          decoder.decode();
        } catch {
          throw mismatch('end in the middle of a UTF-8 character');
        }
      }
      return rest;
    },
  };
}
