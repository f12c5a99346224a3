/**
 * Documents are streamed, never held whole: a message that carries a
 * document in base64 is `head + base64(document) + tail`. These are the
 * pieces: the streaming base64 encoder and the split of a serialised message
 * around the placeholder where the document's data goes. Used by our JSON
 * envelope (src/delivery/envelope.ts), the MedCom Bundle
 * (src/medcom/carecommunication.ts) and the VANSEnvelope (src/medcom/vans.ts).
 */
import { Transform, type TransformCallback } from 'node:stream';

export interface Parts {
  head: string;
  tail: string;
}

/** The exact byte length of `head + base64(payload) + tail` for a payload of `payloadBytes` bytes. */
export function partsSize(parts: Parts, payloadBytes: number): number {
  return Buffer.byteLength(parts.head, 'utf8') + 4 * Math.ceil(payloadBytes / 3) + Buffer.byteLength(parts.tail, 'utf8');
}

/** `text` split around the one occurrence of `token`: what goes before and after the document's base64 data. */
export function splitAround(text: string, token: string): Parts {
  const at = text.indexOf(token);
  if (at < 0 || text.indexOf(token, at + 1) >= 0) throw new Error('envelope: could not place the document data');
  return { head: text.slice(0, at), tail: text.slice(at + token.length) };
}

/** Base64 over a byte stream, chunk by chunk (whole 3-byte groups; the rest carried to the next chunk). */
export function base64Encoder(): Transform {
  let carry = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = buf.length - (buf.length % 3);
      carry = Buffer.from(buf.subarray(whole));
      cb(null, whole > 0 ? Buffer.from(buf.subarray(0, whole).toString('base64'), 'latin1') : undefined);
    },
    flush(cb: TransformCallback) {
      cb(null, carry.length ? Buffer.from(carry.toString('base64'), 'latin1') : undefined);
    },
  });
}
