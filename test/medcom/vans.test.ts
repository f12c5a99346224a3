/**
 * MedCom VANSEnvelope (src/medcom/vans.ts) and its transport
 * (src/medcom/vans-transport.ts): the streamed envelope around a Bundle is
 * well-formed XML with MedCom's values and exactly the payload in Data; its
 * size is known in advance; a resend changes only EnvelopeIdentifier and
 * SentDateTime; inbound envelopes are parsed strictly (no DTD, right
 * namespace, Data required, size limit); a VANS receipt (the network-level
 * VANSEnvelopeAcknowledgement of MedCom's 032 reliable messaging) is told
 * apart from a message and parsed to the envelope it answers; the outbox
 * write is atomic and idempotent; the HTTPS POST goes over mutual TLS; the
 * inbox poller handles every file exactly once, also with two pollers on one
 * directory, and keeps a file that concerns nothing of ours aside.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import {
  VANS_MAX_ENVELOPE_BYTES,
  VANS_NAMESPACE,
  parseVansEnvelope,
  parseVansInbound,
  parseVansReceipt,
  vansEnvelopeParts,
  vansEnvelopeSize,
  vansEnvelopeStream,
  vansSentDateTime,
  type VansEnvelopeFields,
} from '../../src/medcom/vans.js';
import {
  createInboxDirPoller,
  InboxRetryLater,
  InboxSetAside,
  postEnvelope,
  writeEnvelopeToOutbox,
  type InboxLog,
} from '../../src/medcom/vans-transport.js';
import { pushEnvelope } from '../../src/delivery/push.js';
import { ensureDevPki, type DevPki } from '../../src/pki/devpki.js';
import { startMtlsReceiver, type Hit } from '../helpers/receiver.js';
import { vansReceiptXml } from '../helpers/medcom.js';
import { waitFor, stayFor } from '../helpers/wait.js';

const root = mkdtempSync(join(tmpdir(), 'pk-vans-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (label: string) => {
  const d = join(root, `${label}-${++dirs}`);
  mkdirSync(d, { recursive: true });
  return d;
};

const SENDER = '5790001659592';
const RECEIVER = '5790000121526';

const fields = (sizeInBytes: number, over: Partial<VansEnvelopeFields> = {}): VansEnvelopeFields => ({
  envelopeId: randomUUID(),
  sentAt: new Date('2024-07-01T10:11:12.345Z'),
  senderEan: SENDER,
  receiverEan: RECEIVER,
  messageId: randomUUID(),
  name: 'MCM:FDIS91#other',
  version: '2.0.0',
  mime: 'application/fhir+json',
  sizeInBytes,
  ...over,
});

/** `buf` as a byte stream in chunks of odd, varying sizes (so 3-byte base64 groups straddle chunks). */
function chunked(buf: Buffer, sizes = [1, 2, 7, 4096, 65_537, 3, 100_003, 5]): Readable {
  function* gen(): Generator<Buffer> {
    let off = 0;
    let i = 0;
    while (off < buf.length) {
      const n = sizes[i++ % sizes.length]!;
      yield buf.subarray(off, off + n);
      off += n;
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A CareCommunication-like Bundle of about `pdfBytes` of PDF, as JSON bytes. */
function bundleJson(pdfBytes: number): Buffer {
  const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(pdfBytes)]);
  return Buffer.from(
    JSON.stringify({
      resourceType: 'Bundle',
      id: randomUUID(),
      type: 'message',
      entry: [{ resource: { resourceType: 'Binary', contentType: 'application/pdf', data: pdf.toString('base64') } }],
    }),
    'utf8',
  );
}

async function envelopeOf(f: VansEnvelopeFields, payload: Buffer): Promise<Buffer> {
  return collect(vansEnvelopeStream(vansEnvelopeParts(f), chunked(payload)));
}

const xml = new XMLParser({ ignoreAttributes: false, parseTagValue: false, attributeNamePrefix: '@_' });

/** Logs the poller writes, as the JSON lines a logger would emit. */
function captureLog(): InboxLog & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push(JSON.stringify({ level, ...obj, msg }));
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

describe('building a VANSEnvelope', () => {
  test('around a JSON Bundle stream: well-formed XML with MedCom’s values, and Data decodes to exactly the payload', async () => {
    const payload = bundleJson(2 * 1024 * 1024 + 1);
    const f = fields(payload.length);
    const bytes = await envelopeOf(f, payload);
    const text = bytes.toString('utf8');
    assert.equal(XMLValidator.validate(text), true);
    const doc = xml.parse(text);
    const env = doc.VANSEnvelope;
    assert.equal(env['@_xmlns'], VANS_NAMESPACE);
    assert.deepEqual(env.SenderID, { '#text': SENDER, '@_EndPointType': 'EAN' });
    assert.deepEqual(env.ReceiverID, { '#text': RECEIVER, '@_EndPointType': 'EAN' });
    assert.equal(env.EnvelopeIdentifier, f.envelopeId);
    assert.equal(env.SentDateTime, '2024-07-01T12:11:12', 'Copenhagen local time (summer: UTC+2), no offset');
    const meta = env.Message.MetaInformation;
    assert.equal(meta.Identifier, f.messageId);
    assert.deepEqual(meta.Document, { Format: 'HL7', Name: 'MCM:FDIS91#other', Version: '2.0.0', SizeInBytes: String(payload.length) });
    assert.deepEqual(meta.Transport, {
      Type: 'reliable',
      TransformMessage: 'false',
      ServiceTag: { '#text': 'application/fhir+json', '@_name': 'MCM:MIME' },
    });
    const data = Buffer.from(env.Message.Data as string, 'base64');
    assert.ok(data.equals(payload), 'Data is the payload');
    assert.equal(JSON.parse(data.toString('utf8')).resourceType, 'Bundle');
  });

  test('random payloads of every length modulo 3, in odd chunks: Data round-trips and vansEnvelopeSize is the streamed length', async () => {
    for (const n of [1, 2, 3, 4, 5, 3 * 1024 * 1024, 3 * 1024 * 1024 + 1, 3 * 1024 * 1024 + 2]) {
      const payload = randomBytes(n);
      const parts = vansEnvelopeParts(fields(n));
      const bytes = await collect(vansEnvelopeStream(parts, chunked(payload, [1, 5, 65_536, 2, 8191, 3])));
      assert.equal(bytes.length, vansEnvelopeSize(parts, n), `size for ${n} bytes`);
      const parsed = parseVansEnvelope(bytes);
      assert.ok(parsed.data.equals(payload), `payload of ${n} bytes`);
    }
  });

  test('SentDateTime is Copenhagen local time in summer and winter', () => {
    assert.equal(vansSentDateTime(new Date('2024-07-01T22:30:05Z')), '2024-07-02T00:30:05');
    assert.equal(vansSentDateTime(new Date('2024-01-15T23:59:59.999Z')), '2024-01-16T00:59:59');
    assert.throws(() => vansSentDateTime(new Date('x')), /not a valid date/);
  });

  test('values are XML-escaped (& < > " \')', async () => {
    const payload = Buffer.from('{"resourceType":"Bundle"}');
    const f = fields(payload.length, { name: `MCM:FDIS91#a&b<c>"d'e`, version: `2.0.0 <&"'>` });
    const parts = vansEnvelopeParts(f);
    assert.match(parts.head, /<Name>MCM:FDIS91#a&amp;b&lt;c&gt;&quot;d&apos;e<\/Name>/);
    assert.match(parts.head, /<Version>2\.0\.0 &lt;&amp;&quot;&apos;&gt;<\/Version>/);
    const bytes = await envelopeOf(f, payload);
    assert.equal(XMLValidator.validate(bytes.toString('utf8')), true);
    const parsed = parseVansEnvelope(bytes);
    assert.equal(parsed.name, f.name);
    assert.equal(parsed.version, f.version);
    assert.throws(() => vansEnvelopeParts(fields(1, { name: 'MCM:\u0001' })), /character XML cannot represent/);
  });

  test('a resend: new EnvelopeIdentifier and SentDateTime, the Message part byte-identical', async () => {
    const payload = bundleJson(10_000);
    const first = fields(payload.length);
    const resend = { ...first, envelopeId: randomUUID(), sentAt: new Date(first.sentAt.getTime() + 3_600_000) };
    const [a, b] = [await envelopeOf(first, payload), await envelopeOf(resend, payload)].map((x) => x.toString('utf8'));
    const message = (s: string) => s.slice(s.indexOf('<Message>'), s.indexOf('</Message>') + '</Message>'.length);
    assert.equal(message(a!), message(b!));
    assert.ok(message(a!).includes(`<Identifier>${first.messageId}</Identifier>`), 'the message id stays');
    const pa = parseVansEnvelope(a!);
    const pb = parseVansEnvelope(b!);
    assert.notEqual(pa.envelopeId, pb.envelopeId);
    assert.notEqual(pa.sentAt, pb.sentAt);
    assert.equal(pa.messageId, pb.messageId);
    // everything outside EnvelopeIdentifier and SentDateTime is identical too
    const strip = (s: string) => s.replace(/<EnvelopeIdentifier>.*<\/EnvelopeIdentifier>|<SentDateTime>.*<\/SentDateTime>/g, '');
    assert.equal(strip(a!), strip(b!));
  });

  test('refuses fields MedCom does not allow, and envelopes above 100 MB', () => {
    assert.throws(() => vansEnvelopeParts(fields(10, { envelopeId: 'not-a-uuid' })), /envelopeId must be a UUID/);
    assert.throws(() => vansEnvelopeParts(fields(10, { messageId: '../x' })), /messageId must be a UUID/);
    assert.throws(() => vansEnvelopeParts(fields(10, { senderEan: '5790001659593' })), /senderEan must be a GLN/);
    assert.throws(() => vansEnvelopeParts(fields(10, { receiverEan: '57900001215' })), /receiverEan must be a GLN/);
    assert.throws(() => vansEnvelopeParts(fields(10, { name: 'FDIS91#other' })), /MCM:/);
    assert.throws(() => vansEnvelopeParts(fields(10, { version: '' })), /version must be 1–255/);
    assert.throws(() => vansEnvelopeParts(fields(0)), /sizeInBytes/);
    assert.throws(() => vansEnvelopeParts(fields(1.5)), /sizeInBytes/);
    // 75 000 000 bytes are 100 000 000 in base64: with head and tail over the cap
    assert.throws(() => vansEnvelopeParts(fields(75_000_000)), /exceeds the VANS maximum of 100000000/);
    const parts = vansEnvelopeParts(fields(74_990_000));
    assert.ok(vansEnvelopeSize(parts, 74_990_000) <= VANS_MAX_ENVELOPE_BYTES);
  });

  test('a payload of another size than declared, or a failing payload, fails the stream', async () => {
    const parts = vansEnvelopeParts(fields(10));
    await assert.rejects(collect(vansEnvelopeStream(parts, chunked(randomBytes(11)))), /longer than the declared 10 bytes/);
    await assert.rejects(collect(vansEnvelopeStream(parts, chunked(randomBytes(9)))), /payload of 9 bytes, declared 10/);
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    await assert.rejects(collect(vansEnvelopeStream(parts, failing)), /disk gone/);
  });
});

describe('parsing an inbound VANSEnvelope', () => {
  const ackBundle = Buffer.from(JSON.stringify({ resourceType: 'Bundle', type: 'message', id: randomUUID() }));
  const ackId = randomUUID();
  const envId = randomUUID();
  const b64 = ackBundle.toString('base64');
  /** An acknowledgement as another system might write it: a prefix for the namespace, Data broken into lines. */
  const foreignAck = (over: { ns?: string; data?: string | null; envId?: string | null; size?: number; doctype?: string } = {}) =>
    `<?xml version="1.0" encoding="utf-8"?>${over.doctype ?? ''}
<v:VANSEnvelope xmlns:v="${over.ns ?? VANS_NAMESPACE}">
  <v:SenderID EndPointType="EAN">${RECEIVER}</v:SenderID>
  <v:ReceiverID EndPointType="EAN">${SENDER}</v:ReceiverID>
  ${over.envId === null ? '' : `<v:EnvelopeIdentifier>${over.envId ?? envId}</v:EnvelopeIdentifier>`}
  <v:SentDateTime>2024-07-01T12:11:13</v:SentDateTime>
  <v:Message>
    <v:MetaInformation>
      <v:Identifier>${ackId}</v:Identifier>
      <v:Document><v:Format>HL7</v:Format><v:Name>MCM:FCTL#ok</v:Name><v:Version>2.0.0</v:Version>
        <v:SizeInBytes>${over.size ?? ackBundle.length}</v:SizeInBytes></v:Document>
      <v:Transport><v:Type>reliable</v:Type><v:TransformMessage>false</v:TransformMessage>
        <v:ServiceTag name="MCM:STATISTIC">x</v:ServiceTag><v:ServiceTag name="MCM:MIME">application/fhir+json</v:ServiceTag></v:Transport>
    </v:MetaInformation>
    ${over.data === null ? '' : `<v:Data>${over.data ?? b64.replace(/(.{40})/g, '$1\n')}</v:Data>`}
  </v:Message>
</v:VANSEnvelope>`;

  test('our own envelope round-trips', async () => {
    const payload = bundleJson(50_000);
    const f = fields(payload.length);
    const parsed = parseVansEnvelope(await envelopeOf(f, payload));
    assert.deepEqual(
      { ...parsed, data: undefined },
      {
        envelopeId: f.envelopeId,
        sentAt: vansSentDateTime(f.sentAt),
        senderEan: SENDER,
        receiverEan: RECEIVER,
        messageId: f.messageId,
        name: f.name,
        version: f.version,
        mime: 'application/fhir+json',
        data: undefined,
      },
    );
    assert.ok(parsed.data.equals(payload));
  });

  test('a foreign acknowledgement: namespace prefix, Data in lines, several ServiceTags, string or Buffer', () => {
    for (const input of [
      foreignAck(),
      Buffer.from(foreignAck()),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(foreignAck())]),
    ]) {
      const p = parseVansEnvelope(input);
      assert.equal(p.envelopeId, envId);
      assert.equal(p.messageId, ackId);
      assert.equal(p.senderEan, RECEIVER);
      assert.equal(p.name, 'MCM:FCTL#ok');
      assert.equal(p.mime, 'application/fhir+json');
      assert.ok(p.data.equals(ackBundle));
    }
  });

  test('a DOCTYPE is refused outright: no entity expansion, no XXE', () => {
    const xxe = '<!DOCTYPE v:VANSEnvelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>';
    assert.throws(() => parseVansEnvelope(foreignAck({ doctype: xxe, data: '&xxe;' })), /DOCTYPE/);
    const laughs = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>';
    assert.throws(() => parseVansEnvelope(foreignAck({ doctype: laughs })), /DOCTYPE/);
    assert.throws(() => parseVansEnvelope(foreignAck({ data: '&foo;' })), /undeclared entity/);
  });

  test('the wrong namespace, no namespace, or not a VANSEnvelope is refused', () => {
    assert.throws(
      () => parseVansEnvelope(foreignAck({ ns: 'urn:oio:medcom:vans-envelope:1.0.3' })),
      /not \{urn:oio:medcom:vans-envelope:1\.0\.4\}VANSEnvelope/,
    );
    const noNs = foreignAck()
      .replace(/v:/g, '')
      .replace(` xmlns="${VANS_NAMESPACE}"`, '')
      .replace(/ xmlns:v="[^"]*"/, '');
    assert.throws(() => parseVansEnvelope(noNs), /the root element is \{\}VANSEnvelope/);
    assert.throws(() => parseVansEnvelope('<Bundle xmlns="http://hl7.org/fhir"/>'), /not \{urn:oio/);
    assert.throws(() => parseVansEnvelope('{"resourceType":"Bundle"}'), /refused/);
    assert.throws(() => parseVansEnvelope('<a><b></a>'), /not well-formed/);
  });

  test('a missing Data or EnvelopeIdentifier, bad base64 or a wrong SizeInBytes is refused', () => {
    assert.throws(() => parseVansEnvelope(foreignAck({ data: null })), /no VANSEnvelope\/Message\/Data/);
    assert.throws(() => parseVansEnvelope(foreignAck({ data: '' })), /Data is empty/);
    assert.throws(() => parseVansEnvelope(foreignAck({ envId: null })), /no VANSEnvelope\/EnvelopeIdentifier/);
    assert.throws(() => parseVansEnvelope(foreignAck({ envId: '42' })), /EnvelopeIdentifier is not a UUID/);
    assert.throws(() => parseVansEnvelope(foreignAck({ data: 'not base64!' })), /not valid base64/);
    assert.throws(() => parseVansEnvelope(foreignAck({ size: ackBundle.length + 1 })), /SizeInBytes says/);
  });

  test('a VANS Receipt is refused with a message saying so', () => {
    const receipt = `<VANSEnvelope xmlns="${VANS_NAMESPACE}"><SenderID EndPointType="EAN">${RECEIVER}</SenderID>
      <ReceiverID EndPointType="EAN">${SENDER}</ReceiverID><EnvelopeIdentifier>${randomUUID()}</EnvelopeIdentifier>
      <SentDateTime>2024-07-01T12:00:00</SentDateTime><Receipt><PositiveMessage><OriginalEnvelopeIdentifier>${envId}</OriginalEnvelopeIdentifier>
      </PositiveMessage></Receipt></VANSEnvelope>`;
    assert.throws(() => parseVansEnvelope(receipt), /a VANS Receipt/);
  });

  test('envelopes above the limit are refused before parsing (default 10 MB)', async () => {
    assert.throws(() => parseVansEnvelope(foreignAck(), 1000), /exceeds the limit of 1000 bytes/);
    const big = await envelopeOf(fields(8 * 1024 * 1024), randomBytes(8 * 1024 * 1024));
    assert.throws(() => parseVansEnvelope(big), /exceeds the limit of 10485760 bytes/);
    assert.equal(parseVansEnvelope(big, 20 * 1024 * 1024).data.length, 8 * 1024 * 1024);
  });
});

describe('parsing a VANS receipt (VANSEnvelopeAcknowledgement, 032 reliable messaging)', () => {
  const sent = randomUUID(); // the EnvelopeIdentifier of our envelope
  const messageId = randomUUID(); // its Message/MetaInformation/Identifier

  test('a positive receipt names the envelope and message it answers; it is not a message', () => {
    const own = randomUUID();
    const xmlText = vansReceiptXml({ originalEnvelopeId: sent, originalMessageId: messageId, envelopeId: own });
    const r = parseVansReceipt(xmlText);
    assert.deepEqual(r, {
      envelopeId: own,
      sentAt: '2027-01-12T11:15:02',
      sender: { type: 'EAN', id: '5790000222223' },
      receiver: { type: 'EAN', id: '5790000000005' },
      result: 'positive',
      originalEnvelopeId: sent,
      originalMessageId: messageId,
      error: null,
    });
    assert.deepEqual(parseVansInbound(Buffer.from(xmlText)), { kind: 'receipt', receipt: r });
    assert.throws(() => parseVansEnvelope(xmlText), /a VANS Receipt/, 'the message parser still refuses it');
  });

  test('negative receipts carry their Error; a NegativeVans from the network may leave OriginalMessage out', () => {
    const neg = parseVansReceipt(
      vansReceiptXml({
        answer: 'NegativeMessage',
        originalEnvelopeId: sent,
        originalMessageId: messageId,
        error: { code: '17', description: 'Modtagersystemet kunne ikke læse beskeden' },
      }),
    );
    assert.equal(neg.result, 'negative-message');
    assert.deepEqual(neg.error, { code: '17', description: 'Modtagersystemet kunne ikke læse beskeden' });
    const net = parseVansReceipt(
      vansReceiptXml({
        answer: 'NegativeVans',
        originalEnvelopeId: sent,
        originalMessageId: null,
        sender: { type: 'VANS', id: 'VANS-NET' },
        error: { description: 'Ukendt modtager' },
      }),
    );
    assert.deepEqual(
      [net.result, net.originalMessageId, net.error, net.sender],
      ['negative-vans', null, { code: null, description: 'Ukendt modtager' }, { type: 'VANS', id: 'VANS-NET' }],
    );
  });

  test('a receipt that does not fit the XSD is refused, naming what is wrong', () => {
    const ok = vansReceiptXml({ originalEnvelopeId: sent, originalMessageId: messageId });
    assert.throws(
      () => parseVansReceipt(vansReceiptXml({ originalEnvelopeId: sent, originalMessageId: null })),
      /no Receipt\/PositiveMessage\/OriginalMessage/,
    );
    assert.throws(
      () => parseVansReceipt(vansReceiptXml({ originalEnvelopeId: 'not-a-uuid', originalMessageId: messageId })),
      /OriginalEnvelopeIdentifier is not a UUID/,
    );
    assert.throws(
      () => parseVansReceipt(ok.replace(/<OriginalEnvelopeIdentifier>[^<]*<\/OriginalEnvelopeIdentifier>/, '')),
      /no Receipt\/PositiveMessage\/OriginalEnvelopeIdentifier/,
    );
    assert.throws(
      () => parseVansReceipt(ok.replace('<Receipt>', '<Receipt><PositiveMessage/>')),
      /exactly one of PositiveMessage, NegativeMessage or NegativeVans \(it holds 2\)/,
    );
    assert.throws(() => parseVansReceipt(ok.replace(/<Receipt>[\s\S]*<\/Receipt>/, '<Receipt/>')), /it holds 0/);
    const negative = vansReceiptXml({
      answer: 'NegativeMessage',
      originalEnvelopeId: sent,
      originalMessageId: messageId,
      error: { code: '0', description: 'x' },
    });
    assert.throws(() => parseVansReceipt(negative), /Error\/Code is not a positive integer/);
    assert.throws(() => parseVansReceipt(negative.replace(/<Error>[\s\S]*?<\/Error>/, '')), /no Receipt\/NegativeMessage\/Error/);
    assert.throws(() => parseVansReceipt(ok.replace('EndPointType="EAN"', 'EndPointType="GLN"')), /SenderID has no EndPointType/);
    assert.throws(() => parseVansInbound(ok.replace('</Receipt>', '</Receipt><Message/>')), /both a Message and a Receipt/);
    assert.throws(() => parseVansReceipt(`<!DOCTYPE x [<!ENTITY e "e">]>${ok}`), /DOCTYPE/);
    assert.throws(() => parseVansReceipt(ok.replace('urn:oio:medcom:vans-envelope:1.0.4', 'urn:other')), /not \{urn:oio/);
  });

  test('parseVansInbound hands a message on as a message', async () => {
    const payload = bundleJson(100);
    const f = fields(payload.length);
    const envelope = await envelopeOf(f, payload);
    const inbound = parseVansInbound(envelope);
    assert.equal(inbound.kind, 'message');
    assert.equal(inbound.kind === 'message' && inbound.message.envelopeId, f.envelopeId);
    assert.throws(() => parseVansReceipt(envelope), /a Message, not a VANS Receipt/);
  });
});

describe('the VANS outbox directory', () => {
  test('an atomic write produces <id>.xml with the streamed bytes and leaves no temp file', async () => {
    const dir = freshDir('outbox');
    const payload = randomBytes(1024 * 1024 + 2);
    const f = fields(payload.length);
    const parts = vansEnvelopeParts(f);
    const r = await writeEnvelopeToOutbox(dir, f.envelopeId, vansEnvelopeStream(parts, chunked(payload)));
    assert.equal(r.path, join(dir, `${f.envelopeId}.xml`));
    assert.equal(r.size, vansEnvelopeSize(parts, payload.length));
    assert.deepEqual(readdirSync(dir), [`${f.envelopeId}.xml`]);
    assert.ok(parseVansEnvelope(readFileSync(r.path)).data.equals(payload));
  });

  test('a retry of the same envelope id replaces the file; a failing retry leaves the earlier file intact', async () => {
    const dir = freshDir('outbox');
    const id = randomUUID();
    await writeEnvelopeToOutbox(dir, id, Readable.from([Buffer.from('first')]));
    const r = await writeEnvelopeToOutbox(dir, id, Readable.from([Buffer.from('second')]));
    assert.deepEqual(readdirSync(dir), [`${id}.xml`]);
    assert.equal(readFileSync(r.path, 'utf8'), 'second');
    async function* failing() {
      yield Buffer.from('partial');
      throw new Error('bundle stream broke');
    }
    await assert.rejects(writeEnvelopeToOutbox(dir, id, Readable.from(failing())), /bundle stream broke/);
    assert.deepEqual(readdirSync(dir), [`${id}.xml`]);
    assert.equal(readFileSync(r.path, 'utf8'), 'second');
  });

  test('a failing body stream leaves no file at all', async () => {
    const dir = freshDir('outbox');
    const parts = vansEnvelopeParts(fields(10));
    await assert.rejects(writeEnvelopeToOutbox(dir, randomUUID(), vansEnvelopeStream(parts, chunked(randomBytes(9)))), /declared 10/);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('an envelope id that is not a UUID is refused (no path tricks)', async () => {
    const dir = freshDir('outbox');
    for (const id of ['../escape', `${randomUUID()}/../../x`, 'abc', '', `${randomUUID()}.xml`]) {
      await assert.rejects(writeEnvelopeToOutbox(dir, id, Readable.from([Buffer.from('x')])), /envelopeId must be a UUID/, id);
    }
    assert.deepEqual(readdirSync(dir), []);
    assert.ok(!existsSync(join(root, 'escape.xml')));
  });
});

describe('posting to a VANS provider over mutual TLS', () => {
  let pki: DevPki;
  let other: DevPki;
  let receiver: Awaited<ReturnType<typeof startMtlsReceiver>>;
  let url: string;
  let hits: Hit[] = [];
  const tlsOf = (p: DevPki, ca?: string) => ({
    cert: readFileSync(p.gatewayClientCert, 'utf8'),
    key: readFileSync(p.gatewayClientKey, 'utf8'),
    ...(ca ? { ca } : {}),
  });

  before(async () => {
    const dir = freshDir('pki');
    pki = await ensureDevPki(join(dir, 'a'), []);
    other = await ensureDevPki(join(dir, 'b'), []);
    receiver = await startMtlsReceiver(pki, () => 202);
    hits = receiver.hits;
    url = receiver.url('/vans/inbound');
  });
  after(async () => {
    await receiver?.close();
  });

  test('the server receives exactly the streamed envelope, with application/xml and the exact content-length', async () => {
    const payload = bundleJson(1024 * 1024);
    const f = fields(payload.length);
    const parts = vansEnvelopeParts(f);
    const size = vansEnvelopeSize(parts, payload.length);
    const expected = await collect(vansEnvelopeStream(parts, chunked(payload)));
    const r = await postEnvelope(tlsOf(pki, readFileSync(pki.caCert, 'utf8')), url, vansEnvelopeStream(parts, chunked(payload)), size);
    assert.equal(r.status, 202);
    const hit = hits.at(-1)!;
    assert.equal(hit.path, '/vans/inbound');
    assert.equal(hit.headers['content-type'], 'application/xml');
    assert.equal(hit.headers['content-length'], String(size));
    assert.equal(hit.clientCn, 'Postkasse gateway client (dev)');
    assert.equal(createHash('sha256').update(hit.body).digest('hex'), createHash('sha256').update(expected).digest('hex'));
    assert.ok(parseVansEnvelope(hit.body).data.equals(payload));
  });

  test('pushEnvelope (the gateway’s own push, same mTLS helper) still sends its headers and body', async () => {
    const body = Buffer.from('{"messageId":"m-1"}');
    const r = await pushEnvelope(tlsOf(pki, readFileSync(pki.caCert, 'utf8')), {
      url: `${url}?x=1`,
      messageId: 'm-1',
      signatureB64: 'c2ln',
      size: body.length,
      body: Readable.from([body]),
    });
    assert.equal(r.status, 202);
    const hit = hits.at(-1)!;
    assert.equal(hit.path, '/vans/inbound?x=1');
    assert.equal(hit.headers['content-type'], 'application/json');
    assert.equal(hit.headers['message-id'], 'm-1');
    assert.equal(hit.headers['message-signature'], 'c2ln');
    assert.ok(hit.body.equals(body));
    await assert.rejects(
      pushEnvelope(tlsOf(pki), { url: 'http://127.0.0.1/', messageId: 'm', signatureB64: '', size: 0, body: Readable.from([]) }),
      /push url must be https/,
    );
  });

  test('a client certificate from another CA, an untrusted server, plain http or an oversize envelope fail', async () => {
    const n = hits.length;
    const body = () => Readable.from([Buffer.from('<x/>')]);
    await assert.rejects(postEnvelope(tlsOf(other, readFileSync(pki.caCert, 'utf8')), url, body(), 4));
    await assert.rejects(postEnvelope(tlsOf(pki), url, body(), 4), /self.signed|unable to verify|certificate/i);
    await assert.rejects(postEnvelope(tlsOf(pki), url.replace('https:', 'http:'), body(), 4), /must be https/);
    await assert.rejects(postEnvelope(tlsOf(pki), url, body(), VANS_MAX_ENVELOPE_BYTES + 1), /exceeds the VANS maximum/);
    assert.equal(hits.length, n, 'nothing reached the handler');
  });
});

describe('the VANS inbox directory poller', () => {
  const drop = (dir: string, name: string, content = `<x>${name}</x>`) => writeFileSync(join(dir, name), content);

  test('handles each *.xml once in name order, moves it to processed/ or failed/, ignores dotfiles and temp files', async () => {
    const dir = freshDir('inbox');
    for (const n of ['c.xml', 'a.xml', 'b.xml', 'D.XML']) drop(dir, n);
    for (const n of ['.hidden.xml', '.a.xml.tmp', 'a.xml.tmp', 'notes.txt']) drop(dir, n);
    const seen: { name: string; text: string }[] = [];
    const log = captureLog();
    const poller = createInboxDirPoller({
      dir,
      intervalMs: 10_000,
      log,
      handle: async ({ name, bytes }) => {
        seen.push({ name, text: bytes.toString('utf8') });
        if (name === 'b.xml') throw new Error('not a VANSEnvelope for citizen 0101801234');
      },
    });
    assert.deepEqual(await poller.pollOnce(), { processed: 3, failed: 1 });
    assert.deepEqual(
      seen.map((s) => s.name),
      ['D.XML', 'a.xml', 'b.xml', 'c.xml'],
    );
    assert.ok(seen.every((s) => s.text === `<x>${s.name}</x>`));
    assert.deepEqual(readdirSync(join(dir, 'processed')).sort(), ['D.XML', 'a.xml', 'c.xml']);
    assert.deepEqual(readdirSync(join(dir, 'failed')), ['b.xml']);
    assert.deepEqual(readdirSync(dir).sort(), ['.a.xml.tmp', '.hidden.xml', 'a.xml.tmp', 'failed', 'notes.txt', 'processed']);
    assert.deepEqual(await poller.pollOnce(), { processed: 0, failed: 0 }, 'nothing twice');
    const failure = log.lines.find((l) => l.includes('"level":"error"'))!;
    assert.match(failure, /"file":"b\.xml"/);
    assert.match(failure, /not a VANSEnvelope/);
    assert.ok(!log.lines.some((l) => l.includes('0101801234')), 'no CPR number in the logs');
    assert.ok(!log.lines.some((l) => l.includes('<x>')), 'no file contents in the logs');
    // a later file with a name already in processed/ keeps both
    drop(dir, 'a.xml', '<x>again</x>');
    assert.deepEqual(await poller.pollOnce(), { processed: 1, failed: 0 });
    assert.equal(readdirSync(join(dir, 'processed')).filter((n) => n.startsWith('a.')).length, 2);
    await poller.stop();
  });

  test('a handler that cannot handle a file now (InboxRetryLater) leaves it for the next poll, not in failed/', async () => {
    const dir = freshDir('inbox');
    drop(dir, 'ack.xml');
    let ready = false;
    const poller = createInboxDirPoller({
      dir,
      intervalMs: 10_000,
      log: captureLog(),
      handle: async () => {
        if (!ready) throw new InboxRetryLater('the validator is restarting');
      },
    });
    assert.deepEqual(await poller.pollOnce(), { processed: 0, failed: 0 });
    assert.ok(readdirSync(dir).includes('ack.xml'), 'back under its own name');
    assert.deepEqual(readdirSync(join(dir, 'failed')), []);
    ready = true;
    assert.deepEqual(await poller.pollOnce(), { processed: 1, failed: 0 });
    assert.deepEqual(readdirSync(join(dir, 'processed')), ['ack.xml']);
    await poller.stop();
  });

  test('a file the handler sets aside (InboxSetAside) goes to unmatched/ with a warning, not failed/ with an error', async () => {
    const dir = freshDir('inbox');
    drop(dir, 'receipt.xml');
    drop(dir, 'ack.xml');
    const log = captureLog();
    const poller = createInboxDirPoller({
      dir,
      intervalMs: 10_000,
      log,
      handle: async ({ name }) => {
        if (name === 'receipt.xml') throw new InboxSetAside('a VANS receipt for no envelope the gateway sent');
      },
    });
    assert.deepEqual(await poller.pollOnce(), { processed: 1, failed: 0 });
    assert.deepEqual(readdirSync(join(dir, 'unmatched')), ['receipt.xml']);
    assert.deepEqual(readdirSync(join(dir, 'processed')), ['ack.xml']);
    assert.deepEqual(readdirSync(join(dir, 'failed')), []);
    assert.ok(!log.lines.some((l) => l.includes('"level":"error"')), 'no error');
    const warning = log.lines.find((l) => l.includes('"level":"warn"'))!;
    assert.match(warning, /"file":"receipt\.xml"/);
    assert.match(warning, /unmatched/);
    assert.match(warning, /no envelope the gateway sent/);
    await poller.stop();
  });

  test('two pollers on one directory handle each file exactly once', async () => {
    const dir = freshDir('inbox');
    const names = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(3, '0')}-${randomUUID()}.xml`);
    for (const n of names) drop(dir, n);
    const handled: string[] = [];
    const make = () =>
      createInboxDirPoller({
        dir,
        intervalMs: 5,
        log: captureLog(),
        handle: async ({ name }) => {
          handled.push(name);
          await new Promise((r) => setTimeout(r, Math.random() * 3)); // handling takes a moment: the pollers interleave
        },
      });
    const [p1, p2] = [make(), make()];
    const [r1, r2] = await Promise.all([p1.pollOnce(), p2.pollOnce()]);
    assert.equal(r1.processed + r2.processed, names.length);
    assert.equal(r1.failed + r2.failed, 0);
    assert.ok(r1.processed > 0 && r2.processed > 0, `both took part (${r1.processed}/${r2.processed})`);
    assert.deepEqual([...handled].sort(), names);
    assert.deepEqual(readdirSync(join(dir, 'processed')).sort(), names);
    // and while both run on their timers
    const more = Array.from({ length: 20 }, () => `${randomUUID()}.xml`);
    p1.start();
    p2.start();
    for (const n of more) drop(dir, n);
    await waitFor('the new files handled', () => more.every((n) => handled.includes(n)));
    await Promise.all([p1.stop(), p2.stop()]);
    assert.equal(handled.length, names.length + more.length, 'each exactly once');
    assert.equal(new Set(handled).size, handled.length);
  });

  test('stop() waits for a running poll, and no poll starts afterwards', async () => {
    const dir = freshDir('inbox');
    drop(dir, 'slow.xml');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const poller = createInboxDirPoller({
      dir,
      intervalMs: 5,
      log: captureLog(),
      handle: async () => {
        calls++;
        await gate;
      },
    });
    poller.start();
    await waitFor('the handler running', () => calls === 1);
    let stopped = false;
    const stopping = poller.stop().then(() => (stopped = true));
    await stayFor('stop() resolving while the handler runs', 100, { happened: () => stopped });
    release();
    await stopping;
    assert.deepEqual(readdirSync(join(dir, 'processed')), ['slow.xml']);
    drop(dir, 'later.xml');
    await stayFor('a poll after stop()', 100, { happened: () => calls > 1 && calls });
    assert.ok(existsSync(join(dir, 'later.xml')));
  });

  test('a claim left by a dead instance is taken over once stale; a file over the size limit fails unread', async () => {
    const dir = freshDir('inbox');
    drop(dir, '.claimed-0123456789abcdef-orphan.xml');
    drop(dir, 'huge.xml', 'x'.repeat(200));
    const handled: string[] = [];
    const log = captureLog();
    const poller = createInboxDirPoller({
      dir,
      intervalMs: 10_000,
      log,
      staleClaimMs: 500,
      maxBytes: 100,
      handle: async ({ name }) => void handled.push(name),
    });
    assert.deepEqual(await poller.pollOnce(), { processed: 0, failed: 1 }, 'a fresh claim is left alone');
    assert.deepEqual(readdirSync(join(dir, 'failed')), ['huge.xml']);
    assert.ok(log.lines.some((l) => l.includes('exceeds the limit of 100 bytes')));
    await waitFor('the orphaned claim taken over', async () => (await poller.pollOnce()).processed === 1, { timeoutMs: 5000 });
    assert.deepEqual(handled, ['orphan.xml']);
    assert.deepEqual(readdirSync(join(dir, 'processed')), ['orphan.xml']);
    assert.ok(!readdirSync(dir).some((n) => n.startsWith('.claimed-')));
    await poller.stop();
  });
});
