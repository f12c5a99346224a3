/**
 * RFC 3161 Time-Stamp Protocol: the request we send, the response we get,
 * and the verification of a TimeStampToken, without shelling out.
 *
 * Structure with node-forge's ASN.1, digests and signatures with node:crypto,
 * the SignedData checks shared with the receipt verifier (src/receipts/cms.ts).
 *
 *   TimeStampReq  ::= SEQUENCE { version INTEGER (1), messageImprint, reqPolicy OID OPTIONAL,
 *                                nonce INTEGER OPTIONAL, certReq BOOLEAN DEFAULT FALSE, extensions [0] OPTIONAL }
 *   TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ContentInfo OPTIONAL }
 *   TSTInfo       ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime GeneralizedTime,
 *                                accuracy OPTIONAL, ordering BOOLEAN DEFAULT FALSE, nonce OPTIONAL, tsa [0] OPTIONAL, ... }
 *
 * A token verifies when: it is a SignedData whose eContentType is id-ct-TSTInfo,
 * the messageDigest attribute is SHA-256 of the encapsulated TSTInfo, the
 * signature over the signed attributes verifies with the signer certificate,
 * that certificate chains to the trusted CAs at genTime and carries the
 * extended key usage timeStamping (only that, critical: RFC 3161 §2.3), the
 * signed attribute signingCertificate (ESSCertID) or signingCertificateV2
 * (ESSCertIDv2, RFC 5816) is there and names that certificate (RFC 3161
 * §2.4.2), and the TSTInfo's messageImprint is SHA-256 of what was stamped.
 */
import crypto from 'node:crypto';
import forge from 'node-forge';
import {
  CmsError,
  checkSignedData,
  children,
  fail,
  integerBytes,
  isContext,
  isUniversal,
  octets,
  oidOf,
  parseDer,
  parseSignedData,
  singleAttribute,
  type CertEntry,
} from '../receipts/cms.js';

type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

export const OID_TST_INFO = '1.2.840.113549.1.9.16.1.4';
export const OID_KP_TIMESTAMPING = '1.3.6.1.5.5.7.3.8';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA1 = '1.3.14.3.2.26';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SIGNING_CERTIFICATE = '1.2.840.113549.1.9.16.2.12';
const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';

const HASH_BY_OID: Record<string, string> = {
  [OID_SHA256]: 'sha256',
  [OID_SHA1]: 'sha1',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const PKI_STATUS = ['granted', 'grantedWithMods', 'rejection', 'waiting', 'revocationWarning', 'revocationNotification'];

export type TokenCheck = { ok: true; genTime: Date; serialNumber: string } | { ok: false; reason: string };

export interface TstInfo {
  policy: string;
  hashAlgorithm: string;
  hashedMessage: Buffer;
  /** hex, lower case, without leading zero bytes */
  serialNumber: string;
  genTime: Date;
  /** hex, or null when the TSA put no nonce */
  nonce: string | null;
}

export interface ParsedResponse {
  status: number;
  statusText: string;
  /** the status strings and failure bits, for a refusal */
  detail: string;
  token: Buffer | null;
}

function oidNode(oid: string): Asn1 {
  return forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(oid).getBytes());
}

/** A positive INTEGER from big-endian bytes (minimal DER). */
function integerNode(bytes: Buffer): Asn1 {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if ((b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, b.toString('binary'));
}

function toDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

/** DER TimeStampReq: version 1, SHA-256 messageImprint, the nonce, certReq TRUE. */
export function encodeRequest(sha256: Buffer, nonce: Buffer): Buffer {
  if (sha256.length !== 32) throw new TypeError('a timestamp request needs a 32-byte SHA-256 digest');
  const req = forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    integerNode(Buffer.from([1])),
    forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
      forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
        oidNode(OID_SHA256),
        forge.asn1.create(Class.UNIVERSAL, Type.NULL, false, ''),
      ]),
      forge.asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, sha256.toString('binary')),
    ]),
    integerNode(nonce),
    forge.asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, '\xff'),
  ]);
  return toDer(req);
}

export interface ParsedRequest {
  hashAlgorithm: string;
  hashedMessage: Buffer;
  policy: string | null;
  nonce: Buffer | null;
  certReq: boolean;
}

/** Parses a TimeStampReq (the development TSA's side). Throws CmsError. */
export function parseRequest(reqDer: Buffer): ParsedRequest {
  const parts = children(parseDer(reqDer, 'TimeStampReq'), 'TimeStampReq');
  const version = integerBytes(parts[0], 'version');
  if (version.length !== 1 || version[0] !== 1) fail('TimeStampReq version must be 1');
  const mi = children(parts[1], 'messageImprint');
  const hashAlgorithm = oidOf(children(mi[0], 'hashAlgorithm')[0], 'hashAlgorithm');
  const hashedMessage = octets(mi[1], 'hashedMessage');
  let policy: string | null = null;
  let nonce: Buffer | null = null;
  let certReq = false;
  for (const n of parts.slice(2)) {
    const type = n.tagClass === Class.UNIVERSAL ? n.type : -1;
    if (type === Type.OID) policy = oidOf(n, 'reqPolicy');
    else if (type === Type.INTEGER) nonce = integerBytes(n, 'nonce');
    else if (type === Type.BOOLEAN) certReq = n.value === '\xff';
    else if (isContext(n, 0)) fail('TimeStampReq extensions are not supported');
  }
  return { hashAlgorithm, hashedMessage, policy, nonce, certReq };
}

/** Parses a DER TimeStampResp into its status and (when granted) the token's DER. Throws CmsError. */
export function parseResponse(respDer: Buffer): ParsedResponse {
  const parts = children(parseDer(respDer, 'TimeStampResp'), 'TimeStampResp');
  const statusInfo = children(parts[0], 'PKIStatusInfo');
  const statusBytes = integerBytes(statusInfo[0], 'PKIStatus');
  const status = statusBytes.length === 1 ? statusBytes[0]! : 255;
  const detail: string[] = [];
  for (const n of statusInfo.slice(1)) {
    if (n.tagClass === Class.UNIVERSAL && n.type === Type.SEQUENCE) {
      for (const s of children(n, 'statusString')) if (typeof s.value === 'string') detail.push(forge.util.decodeUtf8(s.value));
    } else if (n.tagClass === Class.UNIVERSAL && n.type === Type.BITSTRING && typeof n.value === 'string') {
      detail.push(`failInfo ${Buffer.from(n.value, 'binary').toString('hex')}`);
    }
  }
  const token = parts[1] ? toDer(parts[1]) : null;
  return { status, statusText: PKI_STATUS[status] ?? `status ${status}`, detail: detail.join('; '), token };
}

/** DER TimeStampResp: granted with the token, or a refusal (status 2) with a text and failInfo bit. */
export function encodeResponse(token: Buffer | null, refusal?: { text: string; failBit: number }): Buffer {
  const statusInfo = token
    ? [integerNode(Buffer.from([0]))]
    : [
        integerNode(Buffer.from([2])),
        forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
          forge.asn1.create(Class.UNIVERSAL, Type.UTF8, false, forge.util.encodeUtf8(refusal?.text ?? 'refused')),
        ]),
        failInfoNode(refusal?.failBit ?? 2),
      ];
  const items: Asn1[] = [forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, statusInfo)];
  if (token) items.push(parseDer(token, 'timestamp token'));
  return toDer(forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items));
}

/** PKIFailureInfo BIT STRING with one named bit set (DER: trailing zero bits dropped). */
function failInfoNode(bit: number): Asn1 {
  const bytes = Buffer.alloc(Math.floor(bit / 8) + 1);
  bytes[bytes.length - 1] = 0x80 >> (bit % 8);
  const unused = 7 - (bit % 8);
  return forge.asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, String.fromCharCode(unused) + bytes.toString('binary'));
}

/** GeneralizedTime as DER requires it: YYYYMMDDHHMMSS[.f*]Z. */
function generalizedTime(node: Asn1 | undefined): Date {
  if (!isUniversal(node, Type.GENERALIZEDTIME) || typeof node.value !== 'string') fail('malformed TSTInfo: genTime');
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z$/.exec(node.value);
  if (!m) fail(`malformed TSTInfo: genTime ${JSON.stringify(node.value)}`);
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms));
}

/** Parses DER TSTInfo. Throws CmsError. */
export function parseTstInfo(tstDer: Buffer): TstInfo {
  const parts = children(parseDer(tstDer, 'TSTInfo'), 'TSTInfo');
  const version = integerBytes(parts[0], 'TSTInfo version');
  if (version.length !== 1 || version[0] !== 1) fail('TSTInfo version must be 1');
  const policy = oidOf(parts[1], 'policy');
  const mi = children(parts[2], 'messageImprint');
  const hashAlgorithm = oidOf(children(mi[0], 'hashAlgorithm')[0], 'hashAlgorithm');
  const hashedMessage = octets(mi[1], 'hashedMessage');
  const serialNumber = integerBytes(parts[3], 'serialNumber').toString('hex');
  const genTime = generalizedTime(parts[4]);
  let nonce: string | null = null;
  for (const n of parts.slice(5)) if (isUniversal(n, Type.INTEGER)) nonce = integerBytes(n, 'nonce').toString('hex');
  return { policy, hashAlgorithm, hashedMessage, serialNumber, genTime, nonce };
}

/** RFC 3161 §2.3: the TSA certificate's only extended key usage is timeStamping, and the extension is critical. */
function checkTsaCertificate(signer: CertEntry): void {
  const eku = signer.x509.keyUsage ?? [];
  if (eku.length !== 1 || eku[0] !== OID_KP_TIMESTAMPING) {
    fail(`the TSA certificate's extended key usage must be timeStamping only (found ${eku.length ? eku.join(', ') : 'none'})`);
  }
  if (signer.extensions.get(OID_EXT_KEY_USAGE) !== true) fail("the TSA certificate's extended key usage extension is not critical");
}

/**
 * RFC 3161 §2.4.2 (RFC 5816 for v2): the SignerInfo must carry ESSCertID (SHA-1) or ESSCertIDv2
 * (default SHA-256) naming the TSA certificate. Without it nothing signed says which certificate
 * the TSA meant, so a token whose certificate was swapped for another with the same key would pass.
 */
function checkSigningCertificate(p: ReturnType<typeof parseSignedData>, signer: CertEntry): void {
  const v2 = singleAttribute(p, OID_SIGNING_CERTIFICATE_V2, 'signingCertificateV2');
  const v1 = singleAttribute(p, OID_SIGNING_CERTIFICATE, 'signingCertificate');
  if (!v2 && !v1) {
    fail(
      'the token carries no signingCertificate or signingCertificateV2 signed attribute naming the TSA certificate (RFC 3161 §2.4.2, RFC 5816)',
    );
  }
  if (v2) {
    const first = children(children(v2, 'SigningCertificateV2')[0], 'certs')[0];
    const id = children(first, 'ESSCertIDv2');
    let alg = OID_SHA256;
    let i = 0;
    if (isUniversal(id[0], Type.SEQUENCE)) {
      alg = oidOf(children(id[0], 'hashAlgorithm')[0], 'hashAlgorithm');
      i = 1;
    }
    const hash = HASH_BY_OID[alg];
    if (!hash) fail(`ESSCertIDv2: unsupported hash algorithm ${alg}`);
    if (!octets(id[i], 'certHash').equals(crypto.createHash(hash).update(signer.der).digest())) {
      fail('ESSCertIDv2 does not name the signer certificate');
    }
  } else if (v1) {
    const first = children(children(v1, 'SigningCertificate')[0], 'certs')[0];
    const id = children(first, 'ESSCertID');
    if (!octets(id[0], 'certHash').equals(crypto.createHash('sha1').update(signer.der).digest())) {
      fail('ESSCertID does not name the signer certificate');
    }
  }
}

/** Verifies a TimeStampToken against the SHA-256 it should cover. Throws CmsError. */
export function verifyTokenOrThrow(token: Buffer, sha256: Buffer, trustedCaPems: string[]): TstInfo {
  const p = parseSignedData(token);
  if (p.eContentType !== OID_TST_INFO) fail('the token does not carry a TSTInfo');
  if (p.eContent === null) fail('the token carries no TSTInfo');
  const tst = parseTstInfo(p.eContent);
  const signer = checkSignedData(p, p.eContent, trustedCaPems, tst.genTime);
  checkTsaCertificate(signer);
  checkSigningCertificate(p, signer);
  if (tst.hashAlgorithm !== OID_SHA256) fail(`the token's message imprint is not SHA-256 (${tst.hashAlgorithm})`);
  if (!tst.hashedMessage.equals(sha256)) fail('the token covers other data (message imprint differs)');
  return tst;
}

/** Never throws. */
export function verifyTimestampToken(token: Buffer, sha256: Buffer, trustedCaPems: string[]): TokenCheck {
  try {
    const tst = verifyTokenOrThrow(token, sha256, trustedCaPems);
    return { ok: true, genTime: tst.genTime, serialNumber: tst.serialNumber };
  } catch (e) {
    if (e instanceof CmsError) return { ok: false, reason: e.message };
    return { ok: false, reason: `malformed timestamp token: ${(e as Error).message}` };
  }
}
