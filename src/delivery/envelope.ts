/**
 * The message envelope (API.md "Receiving documents"): canonical JSON with
 * `messageId, caseId, kind, sentAt, from, to, citizen, content, document`,
 * where `document.data` is the document in base64. The envelope's bytes are
 * what the Message-Signature signs.
 *
 * A document can be large, so the envelope is never built in memory: it is
 * `head + base64(document) + tail`, where head and tail are the canonical
 * JSON before and after the data. Sending it, and hashing it for the
 * signature, stream the decrypted document through a base64 encoder.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { base64Encoder, splitAround } from '../shared/base64-stream.js';
import { pipeline } from 'node:stream/promises';
import { canonicalJson } from '../shared/canonical-json.js';

export interface EnvelopeFields {
  messageId: string;
  caseId: string;
  kind: string;
  sentAt: string;
  from: { partyId: string };
  to: { partyId: string | null; ydernummer?: string };
  /** true for the GP's copy of a specialist attest (§15 stk. 2) */
  copy: boolean;
  citizen: { cpr: string; name: string };
  content: unknown;
  document: { mediaType: string; sha256: string; size: number };
}

export interface EnvelopeParts {
  head: string;
  tail: string;
}

/** Head and tail around the document's base64 data. */
export function envelopeParts(f: EnvelopeFields): EnvelopeParts {
  const token = `@@document-data-${randomUUID()}@@`;
  return splitAround(canonicalJson({ ...f, document: { ...f.document, data: token } }), token);
}

/**
 * The envelope's bytes as a stream: head, the document in base64, tail. A document error (a stored document that
 * fails its integrity check, issue 15) errors the stream before the tail, so the envelope is never complete; destroying
 * the stream early destroys the document.
 */
export function envelopeStream(parts: EnvelopeParts, document: Readable): Readable {
  const encoder = base64Encoder();
  async function* gen(): AsyncGenerator<Buffer> {
    let finished = false;
    yield Buffer.from(parts.head, 'utf8');
    const p = pipeline(document, encoder);
    // awaited below; this only keeps an early exit (the encoder failing with it) from leaving it unhandled,
    // which would end the process
    p.catch(() => undefined);
    try {
      for await (const chunk of encoder) yield chunk as Buffer;
      await p;
      finished = true;
    } finally {
      if (!finished) {
        document.destroy();
        encoder.destroy();
      }
    }
    yield Buffer.from(parts.tail, 'utf8');
  }
  return Readable.from(gen(), { objectMode: false });
}

/** SHA-256 and size of the envelope's bytes, streaming the document once. */
export async function envelopeDigest(parts: EnvelopeParts, document: Readable): Promise<{ sha256: Buffer; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of envelopeStream(parts, document)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest(), size };
}
