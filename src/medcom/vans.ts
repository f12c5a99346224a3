/**
 * MedCom VANSEnvelope (namespace `urn:oio:medcom:vans-envelope:1.0.4`) around
 * a MedCom FHIR message (our CareCommunication Bundles, JSON), for the VANS
 * network. Like the gateway's own envelope (src/delivery/envelope.ts), the
 * envelope is never built in memory: it is `head + base64(Bundle bytes) +
 * tail`, where head and tail are the XML before and after the content of
 * `Message/Data`, and the Bundle is streamed through `base64Encoder()`.
 * Bundles can be 50 MB; inbound envelopes (acknowledgements) are small and are
 * parsed whole, with a size limit.
 *
 * MedCom rules followed (public repository medcomdk/MedCom-FHIR-Communication,
 * docs/assets/documents/):
 * - FHIRMessages_NetworkEnvelopes_EN.md: a FHIR message travels base64-encoded
 *   in `VANSEnvelope/Message/Data`; `Message/MetaInformation/Document` has
 *   Format `HL7`, Name `MCM:FDIS91#<category code>` for a CareCommunication
 *   (`MCM:FCTL#<response code>` for an Acknowledgement; every Name starts with
 *   `MCM:`), Version `2.0.0`; the Transport carries
 *   `<ServiceTag name="MCM:MIME">application/fhir+json</ServiceTag>`, and
 *   `TransformMessage` "as usual" (`false`: the VANS network must not
 *   transform the message). Name and Version are the caller's (`name`,
 *   `version`), so the category code stays with the code that knows it.
 * - 032_Reliable_Messaging-VANSEnvelope.md: Transport/Type is `reliable`; the
 *   receiver deduplicates on EnvelopeIdentifier and Message/MetaInformation/
 *   Identifier (the MessageIdentifier: for us the Bundle's MessageHeader.id);
 *   a resend of an unchanged message (scenario #3) gets a NEW
 *   EnvelopeIdentifier and SentDateTime and the rest of the envelope stays
 *   identical: `vansEnvelopeParts` depends on nothing but its fields, so the
 *   same fields with a new `envelopeId`/`sentAt` give a byte-identical
 *   `<Message>` (tested). EnvelopeIdentifiers are never reused.
 * - 030_Governance-for-Network-Layer.md: senders and receivers are identified
 *   by their GLN (EAN location number, 13 digits, GS1 check digit) from SOR,
 *   hence `EndPointType="EAN"`; one FHIR message per envelope; the whole
 *   message embedded in its VANSEnvelope must not exceed 100 MB
 *   (§3 "Sending MedCom FHIR messages", item 2) — `VANS_MAX_ENVELOPE_BYTES`,
 *   read as 100 000 000 bytes (decimal MB, the stricter reading), enforced
 *   when the parts are built (their size is known from `sizeInBytes`).
 * - Element order, required elements and value types follow the
 *   VANSEnvelope 1.0.4 XSD (as published with MedCom's example envelope):
 *   SenderID, ReceiverID, EnvelopeIdentifier and Identifier are UUIDs
 *   (`[0-9a-f]{8}-…`), SizeInBytes is an `xs:int` (bytes of the decoded
 *   message), Document/Name and Version are 1–255 characters, the
 *   `TransformMessage` element is required in Transport.
 * - SentDateTime: the texts only give the example `2020-08-26T17:12:13`
 *   (`xs:dateTime` without an offset). We follow it: Danish local time
 *   (Europe/Copenhagen), `YYYY-MM-DDTHH:mm:ss`, no offset. (During the repeated
 *   hour when summer time ends this is ambiguous; the envelope is still
 *   identified by its EnvelopeIdentifier.)
 *
 * Parsing (`parseVansEnvelope`) is for inbound envelopes carrying a FHIR
 * message (e.g. an Acknowledgement): namespace-aware, it refuses anything that
 * is not a `VANSEnvelope` in the namespace above with a `Message` (a VANS-level
 * `Receipt` is refused with a message saying so), lacks EnvelopeIdentifier or
 * Data, is bigger than the limit, or has a DOCTYPE (no DTD, no entity
 * expansion, no XXE: only the five predefined entities and character
 * references are decoded).
 *
 * VANS receipts (`parseVansReceipt`; `parseVansInbound` tells the two kinds
 * apart). Because our envelopes are `reliable`, the receiver SHALL return a
 * VANSEnvelopeAcknowledgement to the sender (032_Reliable_Messaging-
 * VANSEnvelope.md, "VansEnvelope VANSEnvelopeAcknowledgement Reliable
 * Messaging Elements"). It is the network-level receipt, not the FHIR
 * Acknowledgement message (src/medcom/acknowledgement.ts) that travels in a
 * `Message`. Its shape is the 1.0.4 XSD's: the same SenderID, ReceiverID,
 * EnvelopeIdentifier (the receipt's own) and SentDateTime, then instead of
 * `Message` a `Receipt` holding exactly one of
 *   - `PositiveMessage`: OriginalEnvelopeIdentifier, OriginalMessage;
 *   - `NegativeMessage`: Error, OriginalEnvelopeIdentifier, OriginalMessage;
 *   - `NegativeVans` (refused by the network): Error,
 *     OriginalEnvelopeIdentifier, OriginalMessage optional;
 * where OriginalEnvelopeIdentifier is the EnvelopeIdentifier we sent,
 * OriginalMessage is that envelope's MetaInformation (its Identifier is our
 * message id, MessageHeader.id) and Error is an optional positive-integer
 * Code and a Description of 1–512 characters. A receipt's endpoints may be
 * of type EAN, CVR or VANS (a NegativeVans comes from the network itself), so
 * only the XSD's token of 1–18 characters is required of them.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { base64Encoder, partsSize } from '../shared/base64-stream.js';
import { localDateTime } from '../deadlines/service.js';
import { isGln } from '../shared/identifiers.js';

export const VANS_NAMESPACE = 'urn:oio:medcom:vans-envelope:1.0.4';

/** The maximum size of a whole VANSEnvelope on the VANS network: 100 MB (030_Governance-for-Network-Layer.md §3). */
export const VANS_MAX_ENVELOPE_BYTES = 100_000_000;

/** Default limit for inbound envelopes (acknowledgements are a few kB). */
export const VANS_INBOUND_MAX_BYTES = 10 * 1024 * 1024;

/** Largest `xs:int`, the type of SizeInBytes. */
const XS_INT_MAX = 2_147_483_647;

export interface VansEnvelopeFields {
  /** EnvelopeIdentifier: a new UUID for every transmission, resends included */
  envelopeId: string;
  /** SentDateTime, written as Copenhagen local time */
  sentAt: Date;
  /** SenderID, a GLN (EAN) */
  senderEan: string;
  /** ReceiverID, a GLN (EAN) */
  receiverEan: string;
  /** Message/MetaInformation/Identifier: the message id (MessageHeader.id), the same on every resend */
  messageId: string;
  /** Document/Name, e.g. 'MCM:FDIS91#other' */
  name: string;
  /** Document/Version, e.g. '2.0.0' */
  version: string;
  mime: 'application/fhir+json';
  /** Document/SizeInBytes: the size of the Bundle bytes */
  sizeInBytes: number;
}

export interface VansEnvelopeParts {
  head: string;
  tail: string;
  /** The payload size the head declares (SizeInBytes); `vansEnvelopeStream` fails a payload of another size. */
  payloadSize?: number;
}

export interface ParsedVansEnvelope {
  envelopeId: string;
  /** SentDateTime as written by the sender */
  sentAt: string;
  senderEan: string;
  receiverEan: string;
  messageId: string;
  name: string;
  version: string;
  /** the MCM:MIME ServiceTag, null when absent */
  mime: string | null;
  /** the decoded Data: the FHIR message's bytes */
  data: Buffer;
}

/** A VANSEnvelope that cannot be built or is refused. */
export class VansEnvelopeError extends Error {
  override name = 'VansEnvelopeError';
}

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Characters XML 1.0 does not allow at all (escaping cannot carry them). */
const XML_FORBIDDEN = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Escape a text or attribute value; refuses characters XML cannot represent. */
export function escapeXml(s: string): string {
  if (XML_FORBIDDEN.test(s)) throw new VansEnvelopeError('VANSEnvelope: a value contains a character XML cannot represent');
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** SentDateTime: Copenhagen local time, `YYYY-MM-DDTHH:mm:ss`, no offset (as MedCom's example). */
export function vansSentDateTime(d: Date): string {
  if (!(d instanceof Date) || !Number.isFinite(d.getTime())) throw new VansEnvelopeError('VANSEnvelope: sentAt is not a valid date');
  return localDateTime(d);
}

function text(field: string, value: string, max = 255): string {
  if (typeof value !== 'string' || value.length < 1 || value.length > max) {
    throw new VansEnvelopeError(`VANSEnvelope: ${field} must be 1–${max} characters`);
  }
  return escapeXml(value);
}

/** Head and tail around the base64 content of `Message/Data`. */
export function vansEnvelopeParts(f: VansEnvelopeFields): VansEnvelopeParts {
  if (!UUID_RE.test(f.envelopeId)) throw new VansEnvelopeError('VANSEnvelope: envelopeId must be a UUID');
  if (!UUID_RE.test(f.messageId)) throw new VansEnvelopeError('VANSEnvelope: messageId must be a UUID');
  if (!isGln(f.senderEan)) throw new VansEnvelopeError('VANSEnvelope: senderEan must be a GLN (13 digits, valid check digit)');
  if (!isGln(f.receiverEan)) throw new VansEnvelopeError('VANSEnvelope: receiverEan must be a GLN (13 digits, valid check digit)');
  if (typeof f.name !== 'string' || !f.name.startsWith('MCM:')) throw new VansEnvelopeError('VANSEnvelope: name must start with MCM:');
  if (f.mime !== 'application/fhir+json') throw new VansEnvelopeError('VANSEnvelope: mime must be application/fhir+json');
  if (!Number.isSafeInteger(f.sizeInBytes) || f.sizeInBytes < 1 || f.sizeInBytes > XS_INT_MAX) {
    throw new VansEnvelopeError('VANSEnvelope: sizeInBytes must be a positive xs:int (a FHIR message is never empty)');
  }
  const head =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<VANSEnvelope xmlns="${VANS_NAMESPACE}">\n` +
    `  <SenderID EndPointType="EAN">${f.senderEan}</SenderID>\n` +
    `  <ReceiverID EndPointType="EAN">${f.receiverEan}</ReceiverID>\n` +
    `  <EnvelopeIdentifier>${escapeXml(f.envelopeId)}</EnvelopeIdentifier>\n` +
    `  <SentDateTime>${vansSentDateTime(f.sentAt)}</SentDateTime>\n` +
    '  <Message>\n' +
    '    <MetaInformation>\n' +
    `      <Identifier>${escapeXml(f.messageId)}</Identifier>\n` +
    '      <Document>\n' +
    '        <Format>HL7</Format>\n' +
    `        <Name>${text('name', f.name)}</Name>\n` +
    `        <Version>${text('version', f.version)}</Version>\n` +
    `        <SizeInBytes>${f.sizeInBytes}</SizeInBytes>\n` +
    '      </Document>\n' +
    '      <Transport>\n' +
    '        <Type>reliable</Type>\n' +
    '        <TransformMessage>false</TransformMessage>\n' +
    `        <ServiceTag name="MCM:MIME">${escapeXml(f.mime)}</ServiceTag>\n` +
    '      </Transport>\n' +
    '    </MetaInformation>\n' +
    '    <Data>';
  const tail = '</Data>\n  </Message>\n</VANSEnvelope>\n';
  const parts: VansEnvelopeParts = { head, tail, payloadSize: f.sizeInBytes };
  const size = vansEnvelopeSize(parts, f.sizeInBytes);
  if (size > VANS_MAX_ENVELOPE_BYTES) {
    throw new VansEnvelopeError(`VANSEnvelope: ${size} bytes exceeds the VANS maximum of ${VANS_MAX_ENVELOPE_BYTES} bytes`);
  }
  return parts;
}

/** The exact byte length of the complete envelope around a payload of `payloadSize` bytes. */
export function vansEnvelopeSize(parts: VansEnvelopeParts, payloadSize: number): number {
  return partsSize(parts, payloadSize);
}

/** Passes bytes through, failing when their count differs from `expected` (when given). */
function byteCounter(expected: number | undefined): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer | string, _enc, cb: TransformCallback) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      n += buf.length;
      if (expected !== undefined && n > expected)
        cb(new VansEnvelopeError(`VANSEnvelope: payload longer than the declared ${expected} bytes`));
      else cb(null, buf);
    },
    flush(cb: TransformCallback) {
      if (expected !== undefined && n !== expected) cb(new VansEnvelopeError(`VANSEnvelope: payload of ${n} bytes, declared ${expected}`));
      else cb();
    },
  });
}

/**
 * The envelope's bytes as a stream: head, the payload in base64, tail. The
 * payload is read once, as it is consumed; a payload error (or one whose size
 * differs from the declared SizeInBytes) errors the stream, and destroying the
 * stream early destroys the payload.
 */
export function vansEnvelopeStream(parts: VansEnvelopeParts, payload: Readable): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const encoder = base64Encoder();
    let finished = false;
    yield Buffer.from(parts.head, 'utf8');
    const done = pipeline(payload, byteCounter(parts.payloadSize), encoder);
    done.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    try {
      for await (const chunk of encoder) yield chunk as Buffer;
      await done;
      finished = true;
    } finally {
      if (!finished) {
        payload.destroy();
        encoder.destroy();
      }
    }
    yield Buffer.from(parts.tail, 'utf8');
  }
  return Readable.from(gen(), { objectMode: false });
}

// ---------------------------------------------------------------------------
// Parsing inbound envelopes

interface El {
  ns: string;
  local: string;
  attrs: Map<string, string>;
  children: El[];
  text: string;
}

type OrderedNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: false, // decoded here: the five predefined entities and character references only
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
});

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function refuse(why: string): never {
  throw new VansEnvelopeError(`VANSEnvelope refused: ${why}`);
}

/** Decode the predefined entities and character references; anything else is not well-formed without a DTD. */
function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]*);?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) refuse('a bare & in a value');
    if (ref in PREDEFINED) return PREDEFINED[ref]!;
    const m = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(ref);
    if (!m) refuse(`undeclared entity &${ref.slice(0, 20)};`);
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2]!, 10);
    if (!Number.isSafeInteger(cp) || cp > 0x10ffff) refuse('a character reference out of range');
    const ch = String.fromCodePoint(cp);
    if (XML_FORBIDDEN.test(ch)) refuse('a character reference to a character XML does not allow');
    return ch;
  });
}

function splitName(q: string): [prefix: string | null, local: string] {
  const i = q.indexOf(':');
  return i < 0 ? [null, q] : [q.slice(0, i), q.slice(i + 1)];
}

/** Turn fast-xml-parser's ordered output into elements with resolved namespaces. */
function toElements(nodes: unknown, scope: ReadonlyMap<string, string>, depth: number): { elements: El[]; text: string } {
  if (depth > 32) refuse('elements nested too deeply');
  if (!Array.isArray(nodes)) refuse('unexpected parser output');
  const elements: El[] = [];
  let text = '';
  for (const node of nodes as OrderedNode[]) {
    for (const [key, value] of Object.entries(node)) {
      if (key === ':@') continue;
      if (key === '#text') {
        text += decodeEntities(String(value));
        continue;
      }
      if (key === '#cdata') {
        text += cdataText(value);
        continue;
      }
      const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>;
      const inner = new Map(scope);
      const attrs = new Map<string, string>();
      for (const [an, av] of Object.entries(rawAttrs)) {
        const v = String(av);
        if (v.includes('<')) refuse(`'<' in the value of attribute ${an}`);
        const decoded = decodeEntities(v);
        if (an === 'xmlns') inner.set('', decoded);
        else if (an.startsWith('xmlns:')) inner.set(an.slice(6), decoded);
        else attrs.set(an, decoded);
      }
      const [prefix, local] = splitName(key);
      const ns = inner.get(prefix ?? '');
      if (ns === undefined && prefix !== null) refuse(`undeclared namespace prefix ${prefix}`);
      const sub = toElements(value, inner, depth + 1);
      elements.push({ ns: ns ?? '', local, attrs, children: sub.elements, text: sub.text });
    }
  }
  return { elements, text };
}

/** CDATA content, verbatim (no entity decoding). */
function cdataText(value: unknown): string {
  if (!Array.isArray(value)) return '';
  return (value as OrderedNode[]).map((n) => (typeof n['#text'] === 'string' ? n['#text'] : String(n['#text'] ?? ''))).join('');
}

function children(parent: El, local: string): El[] {
  return parent.children.filter((c) => c.ns === VANS_NAMESPACE && c.local === local);
}

function child(parent: El, local: string, path: string): El | undefined {
  const found = children(parent, local);
  if (found.length > 1) refuse(`more than one ${path}/${local}`);
  return found[0];
}

function required(parent: El, local: string, path: string): El {
  return child(parent, local, path) ?? refuse(`no ${path}/${local}`);
}

function leafText(el: El, path: string): string {
  if (el.children.length) refuse(`${path} has child elements`);
  return el.text.trim();
}

function requiredText(parent: El, local: string, path: string): string {
  const v = leafText(required(parent, local, path), `${path}/${local}`);
  if (!v) refuse(`${path}/${local} is empty`);
  return v;
}

function endpoint(root: El, local: 'SenderID' | 'ReceiverID'): string {
  const el = required(root, local, 'VANSEnvelope');
  if (el.attrs.get('EndPointType') !== 'EAN') refuse(`${local} is not an EAN endpoint`);
  const v = leafText(el, `VANSEnvelope/${local}`);
  if (!isGln(v)) refuse(`${local} is not a GLN (13 digits, valid check digit)`);
  return v;
}

function decodeUtf8(xml: string | Buffer): string {
  if (typeof xml === 'string') return xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  if ((xml[0] === 0xfe && xml[1] === 0xff) || (xml[0] === 0xff && xml[1] === 0xfe)) refuse('UTF-16 is not accepted, only UTF-8');
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(xml);
  } catch {
    return refuse('not valid UTF-8');
  }
}

/** The root `VANSEnvelope` element of an inbound file, after the checks every inbound envelope gets (size, UTF-8, no DTD, namespace). */
function vansRoot(xml: string | Buffer, maxBytes: number): El {
  const size = typeof xml === 'string' ? Buffer.byteLength(xml, 'utf8') : xml.length;
  if (size > maxBytes) refuse(`${size} bytes exceeds the limit of ${maxBytes} bytes`);
  const s = decodeUtf8(xml);
  const decl = /^<\?xml\b[^>]*?\bencoding\s*=\s*["']([^"']*)["']/.exec(s);
  if (decl && decl[1]!.toLowerCase() !== 'utf-8') refuse(`encoding ${decl[1]!.slice(0, 20)} is not accepted, only UTF-8`);
  if (/<!DOCTYPE/i.test(s) || /<!ENTITY/i.test(s)) refuse('a DOCTYPE or entity declaration (DTDs are not accepted)');
  const valid = XMLValidator.validate(s);
  if (valid !== true) refuse(`not well-formed XML (${valid.err.msg}, line ${valid.err.line})`);
  let parsed: unknown;
  try {
    parsed = parser.parse(s);
  } catch (err) {
    refuse(`not well-formed XML (${(err as Error).message})`);
  }
  const top = toElements(parsed, new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]), 0);
  if (top.text.trim()) refuse('text outside the root element');
  if (top.elements.length !== 1) refuse(`${top.elements.length} root elements`);
  const root = top.elements[0]!;
  if (root.local !== 'VANSEnvelope' || root.ns !== VANS_NAMESPACE) {
    refuse(`the root element is {${root.ns.slice(0, 100)}}${root.local.slice(0, 100)}, not {${VANS_NAMESPACE}}VANSEnvelope`);
  }
  return root;
}

function uuidText(parent: El, local: string, path: string): string {
  const v = requiredText(parent, local, path);
  if (!UUID_RE.test(v)) refuse(`${local} is not a UUID`);
  return v;
}

function sentDateTime(root: El): string {
  const sentAt = requiredText(root, 'SentDateTime', 'VANSEnvelope');
  if (!/^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.test(sentAt)) refuse('SentDateTime is not an xs:dateTime');
  return sentAt;
}

/**
 * Parse an inbound VANSEnvelope carrying one message. Refuses (throws a
 * VansEnvelopeError) anything bigger than `maxBytes`, with a DOCTYPE, not
 * well-formed, not a `VANSEnvelope` in `urn:oio:medcom:vans-envelope:1.0.4`,
 * without a Message (a VANS Receipt), or without EnvelopeIdentifier,
 * SenderID/ReceiverID (EAN), SentDateTime, MetaInformation/Identifier,
 * Document/Name, Document/Version or Data; Data must be valid base64 whose
 * decoded size equals Document/SizeInBytes when that is given.
 */
export function parseVansEnvelope(xml: string | Buffer, maxBytes: number = VANS_INBOUND_MAX_BYTES): ParsedVansEnvelope {
  return messageOf(vansRoot(xml, maxBytes));
}

function messageOf(root: El): ParsedVansEnvelope {
  const envelopeId = uuidText(root, 'EnvelopeIdentifier', 'VANSEnvelope');
  const message = child(root, 'Message', 'VANSEnvelope');
  if (!message) {
    if (child(root, 'Receipt', 'VANSEnvelope')) refuse('a VANS Receipt (VANSEnvelopeAcknowledgement), not a Message');
    refuse('no VANSEnvelope/Message');
  }
  const senderEan = endpoint(root, 'SenderID');
  const receiverEan = endpoint(root, 'ReceiverID');
  const sentAt = sentDateTime(root);
  const meta = required(message, 'MetaInformation', 'VANSEnvelope/Message');
  const messageId = requiredText(meta, 'Identifier', 'Message/MetaInformation');
  if (!UUID_RE.test(messageId)) refuse('Message/MetaInformation/Identifier is not a UUID');
  const doc = required(meta, 'Document', 'Message/MetaInformation');
  const name = requiredText(doc, 'Name', 'MetaInformation/Document');
  const version = requiredText(doc, 'Version', 'MetaInformation/Document');
  const sizeEl = child(doc, 'SizeInBytes', 'MetaInformation/Document');
  const declared = sizeEl ? leafText(sizeEl, 'Document/SizeInBytes') : null;
  if (declared !== null && !/^\d{1,10}$/.test(declared)) refuse('Document/SizeInBytes is not a number');
  const transport = child(meta, 'Transport', 'Message/MetaInformation');
  const mimeTags = transport ? children(transport, 'ServiceTag').filter((t) => t.attrs.get('name') === 'MCM:MIME') : [];
  if (mimeTags.length > 1) refuse('more than one MCM:MIME ServiceTag');
  const mime = mimeTags[0] ? leafText(mimeTags[0], 'Transport/ServiceTag') : null;
  const dataEl = child(message, 'Data', 'VANSEnvelope/Message');
  if (!dataEl) refuse('no VANSEnvelope/Message/Data');
  const b64 = leafText(dataEl, 'Message/Data').replace(/[\t\n\r ]+/g, '');
  if (!b64) refuse('Message/Data is empty');
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) refuse('Message/Data is not valid base64');
  const data = Buffer.from(b64, 'base64');
  if (declared !== null && Number(declared) !== data.length) {
    refuse(`Document/SizeInBytes says ${declared} bytes, Data holds ${data.length}`);
  }
  return { envelopeId, sentAt, senderEan, receiverEan, messageId, name, version, mime, data };
}

/** How a VANS receipt answers our envelope: the three choices of the XSD's ReceiptType. */
export type VansReceiptResult = 'positive' | 'negative-message' | 'negative-vans';

const RECEIPT_CHOICES: Record<string, VansReceiptResult> = {
  PositiveMessage: 'positive',
  NegativeMessage: 'negative-message',
  NegativeVans: 'negative-vans',
};

export interface VansEndpoint {
  type: 'EAN' | 'CVR' | 'VANS';
  id: string;
}

export interface ParsedVansReceipt {
  /** the receipt's own EnvelopeIdentifier */
  envelopeId: string;
  /** SentDateTime as written by the sender of the receipt */
  sentAt: string;
  sender: VansEndpoint;
  receiver: VansEndpoint;
  result: VansReceiptResult;
  /** OriginalEnvelopeIdentifier: the EnvelopeIdentifier of the envelope this receipt answers */
  originalEnvelopeId: string;
  /** OriginalMessage/Identifier: that envelope's MessageIdentifier (our message id); null when a NegativeVans leaves it out */
  originalMessageId: string | null;
  /** a negative receipt's Error: Code (a positive integer, optional) and Description */
  error: { code: string | null; description: string } | null;
}

export type ParsedVansInbound = { kind: 'message'; message: ParsedVansEnvelope } | { kind: 'receipt'; receipt: ParsedVansReceipt };

/** SenderID/ReceiverID of a receipt: the XSD's EndPointType (EAN, CVR or VANS) and a token of 1–18 characters. */
function anyEndpoint(root: El, local: 'SenderID' | 'ReceiverID'): VansEndpoint {
  const el = required(root, local, 'VANSEnvelope');
  const type = el.attrs.get('EndPointType');
  if (type !== 'EAN' && type !== 'CVR' && type !== 'VANS') refuse(`${local} has no EndPointType EAN, CVR or VANS`);
  const id = leafText(el, `VANSEnvelope/${local}`);
  if (id.length < 1 || id.length > 18) refuse(`${local} must be 1–18 characters`);
  return { type, id };
}

function receiptOf(root: El): ParsedVansReceipt {
  const envelopeId = uuidText(root, 'EnvelopeIdentifier', 'VANSEnvelope');
  const receipt = child(root, 'Receipt', 'VANSEnvelope');
  if (!receipt) {
    if (child(root, 'Message', 'VANSEnvelope')) refuse('a Message, not a VANS Receipt');
    refuse('no VANSEnvelope/Receipt');
  }
  const sender = anyEndpoint(root, 'SenderID');
  const receiver = anyEndpoint(root, 'ReceiverID');
  const sentAt = sentDateTime(root);
  // ReceiptType is an xs:choice: exactly one of the three.
  const chosen = receipt.children.filter((c) => c.ns === VANS_NAMESPACE && Object.hasOwn(RECEIPT_CHOICES, c.local));
  if (chosen.length !== 1)
    refuse(`Receipt must hold exactly one of PositiveMessage, NegativeMessage or NegativeVans (it holds ${chosen.length})`);
  const answer = chosen[0]!;
  const path = `Receipt/${answer.local}`;
  const result = RECEIPT_CHOICES[answer.local]!;
  const originalEnvelopeId = uuidText(answer, 'OriginalEnvelopeIdentifier', path);
  const original = child(answer, 'OriginalMessage', path);
  if (!original && result !== 'negative-vans') refuse(`no ${path}/OriginalMessage`);
  const originalMessageId = original ? uuidText(original, 'Identifier', `${path}/OriginalMessage`) : null;
  let error: ParsedVansReceipt['error'] = null;
  if (result !== 'positive') {
    const e = required(answer, 'Error', path);
    const codeEl = child(e, 'Code', `${path}/Error`);
    const code = codeEl ? leafText(codeEl, `${path}/Error/Code`) : null;
    if (code !== null && !/^0*[1-9]\d{0,17}$/.test(code)) refuse(`${path}/Error/Code is not a positive integer`);
    const description = requiredText(e, 'Description', `${path}/Error`);
    if (description.length > 512) refuse(`${path}/Error/Description is longer than 512 characters`);
    error = { code, description };
  }
  return { envelopeId, sentAt, sender, receiver, result, originalEnvelopeId, originalMessageId, error };
}

/**
 * Parse an inbound VANS receipt (VANSEnvelopeAcknowledgement, see the module
 * comment). Refuses what `parseVansEnvelope` refuses of any inbound file, an
 * envelope with a Message instead of a Receipt, a Receipt without exactly one
 * answer, and an answer without its OriginalEnvelopeIdentifier (a UUID), its
 * OriginalMessage/Identifier (optional in a NegativeVans only) or, when
 * negative, its Error/Description. The gateway reads its inbox with
 * `parseVansInbound`; this is for the tests. @internal
 */
export function parseVansReceipt(xml: string | Buffer, maxBytes: number = VANS_INBOUND_MAX_BYTES): ParsedVansReceipt {
  return receiptOf(vansRoot(xml, maxBytes));
}

/** An inbound VANSEnvelope of either kind: a message (e.g. a MedCom Acknowledgement) or a VANS receipt of one of ours. */
export function parseVansInbound(xml: string | Buffer, maxBytes: number = VANS_INBOUND_MAX_BYTES): ParsedVansInbound {
  const root = vansRoot(xml, maxBytes);
  const receipt = child(root, 'Receipt', 'VANSEnvelope');
  // The XSD's choice: a Message or a Receipt, never both.
  if (receipt && child(root, 'Message', 'VANSEnvelope')) refuse('both a Message and a Receipt');
  return receipt ? { kind: 'receipt', receipt: receiptOf(root) } : { kind: 'message', message: messageOf(root) };
}
