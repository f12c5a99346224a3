/**
 * Detached CMS SignedData (RFC 5652) for receipts and outgoing messages.
 *
 * Signing: node-forge builds the structure (`pkcs7.createSignedData`, signed
 * attributes contentType, signingTime, messageDigest; SHA-256; signer
 * certificate and any chain certificates from the PEM included). The RSA
 * private-key operation itself is done by node:crypto: forge's pure-JS RSA
 * takes ~35 ms per signature, node's ~1 ms. On the request path (signAsync,
 * signDigestAsync) forge's structure is built once per signer as a template
 * and each signature fills in its time, digest and signature value.
 *
 * Verification is done here without shelling out (forge cannot verify
 * PKCS#7): ASN.1 parsed with forge, digest and signature checked with
 * node:crypto, signer certificate chained to the given trust anchors with
 * X509Certificate.
 *
 * The result verifies with
 *   openssl cms -verify -binary -inform DER -in sig.der -content receipt.json -CAfile gateway-ca.pem
 * provided the signing certificate satisfies OpenSSL's default `smime_sign`
 * purpose (no EKU, or an EKU containing emailProtection; keyUsage, if present,
 * allowing digitalSignature or nonRepudiation).
 */
import crypto, { X509Certificate } from 'node:crypto';
import forge from 'node-forge';

export interface SignerMaterial {
  certPem: string;
  keyPem: string;
}

export interface DetachedSigner {
  /** DER CMS SignedData over `content`, without the content. */
  sign(content: Buffer, signingTime?: Date): Buffer;
  /**
   * The same bytes as `sign`, with the RSA private-key operation run on
   * libuv's thread pool (node:crypto's asynchronous `sign`), so the event
   * loop keeps serving other uploads meanwhile. Used on the request path.
   */
  signAsync(content: Buffer, signingTime?: Date): Promise<Buffer>;
  /**
   * The same structure for content that is never in memory: the caller
   * streams it through SHA-256 and hands over the digest (e.g. a message
   * envelope around a large document).
   */
  signDigestAsync(contentSha256: Buffer, signingTime?: Date): Promise<Buffer>;
  /** The signing certificate (the first certificate of certPem). */
  readonly certificate: X509Certificate;
}

export type VerifyResult =
  | {
      ok: true;
      signer: { subject: string; issuer: string; serialNumber: string; fingerprint256: string };
      signingTime: Date | null;
    }
  | { ok: false; reason: string };

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

/** DER prefix of DigestInfo { sha256, NULL } followed by the 32-byte hash (RFC 8017 §9.2). */
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPemCertificates(pem: string): string[] {
  return pem.match(PEM_CERT_RE) ?? [];
}

// ---------------------------------------------------------------------------
// Signing

/**
 * Parses the certificate(s) and key once; `sign` is then ~1 ms per receipt
 * plus ~20 ms per MB of content (forge's SHA-256 over the content).
 */
export function createSigner(material: SignerMaterial): DetachedSigner {
  const pems = splitPemCertificates(material.certPem);
  if (pems.length === 0) throw new Error('signing certificate: no PEM certificate found');
  const certificate = new X509Certificate(pems[0]!);
  const nodeKey = crypto.createPrivateKey(material.keyPem);
  if (nodeKey.asymmetricKeyType !== 'rsa') {
    throw new Error(`signing key: only RSA keys are supported (got ${nodeKey.asymmetricKeyType ?? 'unknown'})`);
  }
  if (!certificate.checkPrivateKey(nodeKey)) {
    throw new Error('signing key does not belong to the signing certificate');
  }
  const forgeCerts = pems.map((p) => forge.pki.certificateFromPem(p));
  const signerCert = forgeCerts[0]!;

  // forge's pkcs7 calls key.sign(md, 'RSASSA-PKCS1-V1_5') with the SHA-256
  // digest of the signed attributes and expects the signature as a binary
  // string. RSASSA-PKCS1-v1_5 = RSA private operation over the DigestInfo
  // with type-1 padding, which is what privateEncrypt does.
  const keyAdapter = {
    sign(md: forge.md.MessageDigest, scheme?: string): string {
      if (scheme !== undefined && scheme !== 'RSASSA-PKCS1-V1_5') throw new Error(`unsupported signature scheme ${scheme}`);
      const hash = Buffer.from(md.digest().getBytes(), 'binary');
      if (hash.length !== 32) throw new Error('expected a SHA-256 digest');
      const sig = crypto.privateEncrypt(
        { key: nodeKey, padding: crypto.constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO_PREFIX, hash]),
      );
      return sig.toString('binary');
    },
  } as unknown as forge.pki.rsa.PrivateKey;

  const modulusBytes = Math.ceil((nodeKey.asymmetricKeyDetails?.modulusLength ?? 2048) / 8);

  /** forge builds the SignedData; `key` computes (or stands in for) the signature. */
  function build(content: Buffer, signingTime: Date, key: forge.pki.rsa.PrivateKey): { der: Buffer; signedAttributes: Buffer } {
    const p7 = forge.pkcs7.createSignedData();
    p7.content = forge.util.createBuffer(content.toString('binary'));
    for (const c of forgeCerts) p7.addCertificate(c);
    p7.addSigner({
      key,
      certificate: signerCert,
      digestAlgorithm: forge.pki.oids.sha256!,
      // In DER SET OF order (by encoded length here): contentType,
      // signingTime, messageDigest.
      authenticatedAttributes: [
        { type: forge.pki.oids.contentType!, value: forge.pki.oids.data! },
        { type: forge.pki.oids.signingTime!, value: signingTime.toISOString() },
        { type: forge.pki.oids.messageDigest! },
      ],
    });
    p7.sign({ detached: true });
    const der = Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary');
    // What was signed: the attributes DER-encoded as a SET (RFC 5652 §5.4),
    // i.e. the [0] IMPLICIT field of SignerInfo with the SET tag.
    const signer = (p7 as unknown as { signers: { authenticatedAttributesAsn1: forge.asn1.Asn1 }[] }).signers[0]!;
    const signedAttributes = Buffer.from(forge.asn1.toDer(signer.authenticatedAttributesAsn1).getBytes(), 'binary');
    signedAttributes[0] = 0x31;
    return { der, signedAttributes };
  }

  /**
   * Every SignedData of this signer has the same layout: only the signing time, the content's digest and the
   * signature differ, and each has a fixed length (a UTCTime, for 1950–2049, is always 13 characters). So forge
   * builds it once, here, with a random digest and a random stand-in signature, and each signature then copies
   * that template and writes the three values in place: forge's bytes exactly (test/pki/cms.test.ts compares
   * the two), without rebuilding and re-encoding the certificates per receipt. The signed attributes, DER-encoded
   * as a SET (RFC 5652 §5.4), are signed on the thread pool, so the event loop keeps serving other uploads.
   */
  const template = cmsTemplate(build, modulusBytes);

  /** The SignedData with everything but the signature in place, the bytes to sign, and where the signature goes. */
  function unsigned(digest: Buffer, signingTime: Date): Unsigned {
    const year = signingTime.getUTCFullYear();
    if (year >= 1950 && year < 2050) return template.fill(digest, signingTime);
    // a GeneralizedTime (15 characters): forge builds this one whole, over empty content, and the digest is put in
    const { der, signedAttributes } = build(EMPTY, signingTime, template.standInKey);
    replaceOnce(der, EMPTY_SHA256, digest);
    replaceOnce(signedAttributes, EMPTY_SHA256, digest);
    return { der, signedAttributes, signatureAt: uniqueIndex(der, template.standIn) };
  }

  async function signWithDigest(digest: Buffer, signingTime: Date): Promise<Buffer> {
    const { der, signedAttributes, signatureAt } = unsigned(digest, signingTime);
    const signature = await new Promise<Buffer>((resolve, reject) =>
      crypto.sign('sha256', signedAttributes, { key: nodeKey, padding: crypto.constants.RSA_PKCS1_PADDING }, (err, sig) =>
        err ? reject(err) : resolve(sig),
      ),
    );
    if (signature.length !== modulusBytes) throw new Error('CMS signing: signature length differs from the key size');
    signature.copy(der, signatureAt);
    return der;
  }

  return {
    certificate,
    sign(content: Buffer, signingTime: Date = new Date()): Buffer {
      return build(content, signingTime, keyAdapter).der;
    },
    signAsync(content: Buffer, signingTime: Date = new Date()): Promise<Buffer> {
      return signWithDigest(crypto.createHash('sha256').update(content).digest(), signingTime);
    },
    signDigestAsync(contentSha256: Buffer, signingTime: Date = new Date()): Promise<Buffer> {
      if (contentSha256.length !== 32) throw new TypeError('signDigestAsync needs a 32-byte SHA-256 digest');
      return signWithDigest(contentSha256, signingTime);
    },
  };
}

type Build = (content: Buffer, signingTime: Date, key: forge.pki.rsa.PrivateKey) => { der: Buffer; signedAttributes: Buffer };
interface Unsigned {
  der: Buffer;
  signedAttributes: Buffer;
  signatureAt: number;
}

/** YYMMDDhhmmssZ, as forge (and DER, RFC 5280 §4.1.2.5.1) writes a UTCTime. */
function utcTime(d: Date): string {
  const fields = [d.getUTCFullYear() % 100, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  return `${fields.map((n) => String(n).padStart(2, '0')).join('')}Z`;
}

/** forge's SignedData for this signer, once, and where in it the signing time, the digest and the signature go. */
function cmsTemplate(build: Build, modulusBytes: number) {
  const time = new Date(Date.UTC(2000, 0, 1));
  const timeBytes = Buffer.from(utcTime(time), 'latin1');
  const standIn = crypto.randomBytes(modulusBytes);
  const standInKey = { sign: () => standIn.toString('binary') } as unknown as forge.pki.rsa.PrivateKey;
  // random content: its digest, and with it the attributes' bytes, occur nowhere else in the structure
  const content = crypto.randomBytes(32);
  const { der, signedAttributes } = build(content, time, standInKey);
  const digestAt = uniqueIndex(signedAttributes, crypto.createHash('sha256').update(content).digest());
  const timeAt = uniqueIndex(signedAttributes, timeBytes);
  // in the SignerInfo the attributes carry the tag [0] IMPLICIT (0xa0) instead of SET (0x31); the rest is the same
  const attributesAt = uniqueIndex(der, signedAttributes.subarray(1)) - 1;
  const signatureAt = uniqueIndex(der, standIn);
  return {
    standIn,
    standInKey,
    fill(digest: Buffer, signingTime: Date): Unsigned {
      const attrs = Buffer.from(signedAttributes);
      attrs.write(utcTime(signingTime), timeAt, 'latin1');
      digest.copy(attrs, digestAt);
      const out = Buffer.from(der);
      attrs.copy(out, attributesAt + 1, 1);
      return { der: out, signedAttributes: attrs, signatureAt };
    },
  };
}

function uniqueIndex(buf: Buffer, find: Buffer): number {
  const at = buf.indexOf(find);
  if (at < 0 || buf.indexOf(find, at + 1) >= 0) throw new Error('CMS signing: could not place a value');
  return at;
}

const EMPTY = Buffer.alloc(0);
const EMPTY_SHA256 = crypto.createHash('sha256').update(EMPTY).digest();

/** Replaces the one occurrence of `find` in `buf` (same length) in place; throws unless there is exactly one. */
function replaceOnce(buf: Buffer, find: Buffer, replacement: Buffer): void {
  if (find.length !== replacement.length) throw new Error('CMS signing: could not place a value');
  replacement.copy(buf, uniqueIndex(buf, find));
}

// ---------------------------------------------------------------------------
// Verification (the ASN.1 helpers are shared with src/timestamps/rfc3161.ts)

type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

/** A structural or cryptographic failure; `verify*` functions turn it into `{ ok: false, reason }`. */
export class CmsError extends Error {}

export function fail(reason: string): never {
  throw new CmsError(reason);
}

/** Strict DER (every byte consumed); BIT STRINGs are left undecoded. */
export function parseDer(bytes: Buffer, what: string): Asn1 {
  try {
    return (forge.asn1.fromDer as unknown as (b: string, o: object) => Asn1)(bytes.toString('binary'), {
      strict: true,
      parseAllBytes: true,
      decodeBitStrings: false,
    });
  } catch (e) {
    fail(`malformed ${what}: not DER (${(e as Error).message})`);
  }
}

export function children(node: Asn1 | undefined, what: string): Asn1[] {
  if (!node || !Array.isArray(node.value)) fail(`malformed CMS: ${what} is not a constructed element`);
  return node.value as Asn1[];
}

export function isUniversal(node: Asn1 | undefined, type: number): node is Asn1 {
  return !!node && node.tagClass === Class.UNIVERSAL && node.type === type;
}

export function isContext(node: Asn1 | undefined, tag: number): node is Asn1 {
  return !!node && node.tagClass === Class.CONTEXT_SPECIFIC && node.type === tag;
}

export function oidOf(node: Asn1 | undefined, what: string): string {
  if (!isUniversal(node, Type.OID) || typeof node.value !== 'string') fail(`malformed CMS: ${what} is not an OID`);
  return forge.asn1.derToOid(node.value);
}

export function der(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

/** The contents of a primitive OCTET STRING. */
export function octets(node: Asn1 | undefined, what: string): Buffer {
  if (!isUniversal(node, Type.OCTETSTRING) || typeof node.value !== 'string') fail(`malformed CMS: ${what} is not an OCTET STRING`);
  return Buffer.from(node.value, 'binary');
}

/** INTEGER content bytes without redundant leading zero bytes. */
export function integerBytes(node: Asn1 | undefined, what: string): Buffer {
  if (!isUniversal(node, Type.INTEGER) || typeof node.value !== 'string') fail(`malformed CMS: ${what} is not an INTEGER`);
  let b = Buffer.from(node.value, 'binary');
  while (b.length > 1 && b[0] === 0) b = b.subarray(1);
  return b;
}

function parseTime(node: Asn1 | undefined): Date | null {
  if (isUniversal(node, Type.UTCTIME) && typeof node.value === 'string') return forge.asn1.utcTimeToDate(node.value);
  if (isUniversal(node, Type.GENERALIZEDTIME) && typeof node.value === 'string') {
    return forge.asn1.generalizedTimeToDate(node.value);
  }
  return null;
}

function validAt(x: X509Certificate, at: Date): boolean {
  const t = at.getTime();
  return Date.parse(x.validFrom) <= t && t <= Date.parse(x.validTo);
}

/**
 * Parsed certificates, by their DER or PEM text. Parsing one costs ~0.5 ms of the event loop, and the same few
 * (the TSA's, the trust anchors) come with every timestamp token verified after every receipt. X509Certificate
 * objects are immutable, so they are shared; the cache is bounded, for certificates that come from outside.
 */
const parsed = new Map<string, X509Certificate>();
const MAX_PARSED = 256;
function x509(key: string, source: () => string | Buffer): X509Certificate {
  let x = parsed.get(key);
  if (!x) {
    x = new X509Certificate(source());
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(key, x);
  }
  return x;
}

export function parseTrustAnchors(pems: string[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const pem of pems) for (const one of splitPemCertificates(pem)) out.push(x509(one, () => one));
  return out;
}

export interface CertEntry {
  x509: X509Certificate;
  /** the whole certificate, DER */
  der: Buffer;
  issuerDer: Buffer;
  serial: Buffer;
  /** extnID → critical, from the tbsCertificate */
  extensions: Map<string, boolean>;
}

function certEntry(node: Asn1): CertEntry {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
  const tbs = children(children(node, 'certificate')[0], 'tbsCertificate');
  const offset = isContext(tbs[0], 0) ? 1 : 0; // [0] EXPLICIT version
  const issuer = tbs[offset + 2];
  if (!isUniversal(issuer, Type.SEQUENCE)) fail('malformed CMS: certificate issuer');
  const extensions = new Map<string, boolean>();
  const extsNode = tbs.find((n) => isContext(n, 3));
  if (extsNode) {
    for (const ext of children(children(extsNode, 'extensions')[0], 'extensions')) {
      const parts = children(ext, 'extension');
      const critical = isUniversal(parts[1], Type.BOOLEAN) && parts[1].value === '\xff';
      extensions.set(oidOf(parts[0], 'extnID'), critical);
    }
  }
  const whole = der(node);
  return {
    x509: x509(whole.toString('base64'), () => whole),
    der: whole,
    issuerDer: der(issuer),
    serial: integerBytes(tbs[offset], 'certificate serial'),
    extensions,
  };
}

/** A DER certificate's parts that CMS needs (issuer and serial for the signer identifier, extensions). */
export function certificateEntry(certDer: Buffer): CertEntry {
  return certEntry(parseDer(certDer, 'certificate'));
}

/** A SignedData with one SignerInfo, parsed (nothing verified yet). */
export interface ParsedSignedData {
  eContentType: string;
  /** the encapsulated content (the OCTET STRING's contents); null when detached */
  eContent: Buffer | null;
  certs: CertEntry[];
  /** the signer's certificate, found by issuerAndSerialNumber among `certs` */
  signer: CertEntry | undefined;
  /** signed attributes by type (each with its values) */
  signedAttrs: Map<string, Asn1[]>;
  /** the signed attributes DER-encoded as a SET OF (what the signature covers) */
  signedAttrsDer: Buffer;
  sigAlg: string;
  /** the SignerInfo's signature value (the OCTET STRING's contents) */
  signature: Buffer;
}

/** Parses DER ContentInfo(SignedData) with exactly one signer (SHA-256, signed attributes required). Throws CmsError. */
export function parseSignedData(derSig: Buffer): ParsedSignedData {
  const root = parseDer(derSig, 'CMS');

  // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
  const ci = children(root, 'ContentInfo');
  if (oidOf(ci[0], 'contentType') !== OID.signedData) fail('not a CMS SignedData');
  if (!isContext(ci[1], 0)) fail('malformed CMS: SignedData content missing');
  const sd = children(children(ci[1], '[0] content')[0], 'SignedData');

  // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo,
  //   [0] IMPLICIT certificates OPTIONAL, [1] IMPLICIT crls OPTIONAL, signerInfos }
  const encap = children(sd[2], 'encapContentInfo');
  const eContentType = oidOf(encap[0], 'eContentType');
  let eContent: Buffer | null = null;
  if (encap.length > 1) {
    if (!isContext(encap[1], 0)) fail('malformed CMS: eContent');
    eContent = octets(children(encap[1], 'eContent')[0], 'eContent');
  }
  let i = 3;
  const certs: CertEntry[] = [];
  if (isContext(sd[i], 0)) {
    for (const c of children(sd[i], 'certificates')) if (isUniversal(c, Type.SEQUENCE)) certs.push(certEntry(c));
    i++;
  }
  if (isContext(sd[i], 1)) i++;
  const signerInfos = children(sd[i], 'signerInfos');
  if (signerInfos.length !== 1) fail(`expected exactly one signer, found ${signerInfos.length}`);

  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] IMPLICIT
  //   signedAttrs OPTIONAL, signatureAlgorithm, signature, [1] unsignedAttrs OPTIONAL }
  const si = children(signerInfos[0], 'SignerInfo');
  const sid = si[1];
  if (!isUniversal(sid, Type.SEQUENCE)) fail('unsupported signer identifier (only issuerAndSerialNumber)');
  const sidParts = children(sid, 'issuerAndSerialNumber');
  if (!isUniversal(sidParts[0], Type.SEQUENCE)) fail('malformed CMS: signer issuer');
  const sidIssuer = der(sidParts[0]);
  const sidSerial = integerBytes(sidParts[1], 'signer serial');

  const digestAlg = oidOf(children(si[2], 'digestAlgorithm')[0], 'digestAlgorithm');
  if (digestAlg !== OID.sha256) fail(`unsupported digest algorithm ${digestAlg} (only SHA-256)`);

  const signedAttrsNode = si[3];
  if (!isContext(signedAttrsNode, 0)) fail('the signature has no signed attributes');
  const sigAlg = oidOf(children(si[4], 'signatureAlgorithm')[0], 'signatureAlgorithm');
  if (sigAlg !== OID.rsaEncryption && sigAlg !== OID.sha256WithRSA && sigAlg !== OID.ecdsaWithSha256) {
    fail(`unsupported signature algorithm ${sigAlg}`);
  }
  const signature = octets(si[5], 'signature');

  // Signed attributes: each Attribute ::= SEQUENCE { attrType, SET OF value }
  const signedAttrs = new Map<string, Asn1[]>();
  for (const a of children(signedAttrsNode, 'signedAttrs')) {
    const parts = children(a, 'attribute');
    const type = oidOf(parts[0], 'attribute type');
    if (signedAttrs.has(type)) fail(`signed attribute ${type} appears twice`);
    signedAttrs.set(type, children(parts[1], 'attribute values'));
  }
  // The signature is over the DER of the signed attributes as a SET OF (tag 0x31), not [0].
  const signedAttrsDer = der(forge.asn1.create(Class.UNIVERSAL, Type.SET, true, signedAttrsNode.value as Asn1[]));
  const signer = certs.find((c) => c.serial.equals(sidSerial) && c.issuerDer.equals(sidIssuer));
  return { eContentType, eContent, certs, signer, signedAttrs, signedAttrsDer, sigAlg, signature };
}

/** The one value of a signed attribute, undefined when absent. */
export function singleAttribute(p: ParsedSignedData, oid: string, name: string): Asn1 | undefined {
  const v = p.signedAttrs.get(oid);
  if (v === undefined) return undefined;
  if (v.length !== 1) fail(`signed attribute ${name} must have exactly one value`);
  return v[0];
}

/**
 * The checks every SignedData gets: contentType attribute, messageDigest =
 * SHA-256 of `content`, signer certificate present, signature over the signed
 * attributes, chain to `trustedCaPems` valid at `at`. Returns the signer.
 */
export function checkSignedData(p: ParsedSignedData, content: Buffer, trustedCaPems: string[], at: Date): CertEntry {
  const ct = singleAttribute(p, OID.contentType, 'contentType');
  if (!ct) fail('signed attribute contentType missing');
  if (oidOf(ct, 'contentType attribute') !== p.eContentType) fail('contentType attribute does not match the content type');
  const md = singleAttribute(p, OID.messageDigest, 'messageDigest');
  if (!md) fail('signed attribute messageDigest missing');
  const claimed = octets(md, 'messageDigest');
  const actual = crypto.createHash('sha256').update(content).digest();
  if (claimed.length !== actual.length || !crypto.timingSafeEqual(claimed, actual)) {
    fail('content does not match the signature (messageDigest differs from SHA-256 of the content)');
  }
  const signer = p.signer;
  if (!signer) fail('the signer certificate is not included in the signature');
  const keyType = signer.x509.publicKey.asymmetricKeyType;
  if ((p.sigAlg === OID.ecdsaWithSha256) !== (keyType === 'ec')) fail(`signature algorithm does not match the ${keyType} key`);
  if (!crypto.verify('sha256', p.signedAttrsDer, signer.x509.publicKey, p.signature)) {
    fail('signature value does not verify with the signer certificate');
  }
  const chain = chainToAnchor(
    signer.x509,
    p.certs.map((c) => c.x509),
    parseTrustAnchors(trustedCaPems),
    at,
  );
  if (chain !== null) fail(chain);
  return signer;
}

/**
 * Verifies a detached CMS SignedData over `content` (one signer, SHA-256,
 * signed attributes required) and that the signer certificate chains, through
 * certificates carried in the signature if needed, to one of `trustedCaPems`
 * (each string may hold several PEM certificates). Certificates must be valid
 * at `opts.at` (default: now). Unsigned attributes (a CAdES-T timestamp) are
 * ignored here. Never throws.
 */
export function verifyDetached(content: Buffer, derSig: Buffer, trustedCaPems: string[], opts: { at?: Date } = {}): VerifyResult {
  try {
    return verifyOrThrow(content, derSig, trustedCaPems, opts.at ?? new Date());
  } catch (e) {
    if (e instanceof CmsError) return { ok: false, reason: e.message };
    return { ok: false, reason: `malformed CMS: ${(e as Error).message}` };
  }
}

function verifyOrThrow(content: Buffer, derSig: Buffer, trustedCaPems: string[], at: Date): VerifyResult {
  const p = parseSignedData(derSig);
  if (p.eContent !== null) fail('the signature is not detached (it carries content)');
  const st = singleAttribute(p, OID.signingTime, 'signingTime');
  const signingTime = st ? parseTime(st) : null;
  if (st && !signingTime) fail('malformed signingTime attribute');
  const signer = checkSignedData(p, content, trustedCaPems, at);
  return {
    ok: true,
    signer: {
      subject: signer.x509.subject,
      issuer: signer.x509.issuer,
      serialNumber: signer.x509.serialNumber,
      fingerprint256: signer.x509.fingerprint256,
    },
    signingTime,
  };
}

/** null when `leaf` chains to an anchor (through `pool` if needed); otherwise the reason. */
export function chainToAnchor(leaf: X509Certificate, pool: X509Certificate[], anchors: X509Certificate[], at: Date): string | null {
  if (anchors.length === 0) return 'no trusted CA certificates given';
  const issuedBy = (child: X509Certificate, parent: X509Certificate) =>
    parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey);
  let cur = leaf;
  const seen = new Set<string>();
  for (let depth = 0; depth < 8; depth++) {
    if (!validAt(cur, at)) {
      return `certificate ${cur.subject.replace(/\n/g, ', ')} is not valid at ${at.toISOString()} (valid ${cur.validFrom} – ${cur.validTo})`;
    }
    const anchor = anchors.find((a) => issuedBy(cur, a));
    if (anchor) {
      if (!validAt(anchor, at)) return `trusted CA ${anchor.subject.replace(/\n/g, ', ')} is not valid at ${at.toISOString()}`;
      return null;
    }
    seen.add(cur.fingerprint256);
    const next = pool.find((p) => !seen.has(p.fingerprint256) && issuedBy(cur, p));
    if (!next) return 'the signer certificate does not chain to a trusted CA';
    cur = next;
  }
  return 'certificate chain too long';
}

// ---------------------------------------------------------------------------
// CAdES-T: the signature value and the signatureTimeStampToken unsigned attribute

/** id-aa-signatureTimeStampToken (RFC 3161 Appendix A, ETSI EN 319 122-1 CAdES-T) */
export const OID_SIGNATURE_TIMESTAMP_TOKEN = '1.2.840.113549.1.9.16.2.14';

function signerInfoOf(root: Asn1): Asn1[] {
  const sd = children(children(children(root, 'ContentInfo')[1], '[0] content')[0], 'SignedData');
  const last = sd[sd.length - 1];
  const signerInfos = children(last, 'signerInfos');
  if (signerInfos.length !== 1) fail(`expected exactly one signer, found ${signerInfos.length}`);
  return children(signerInfos[0], 'SignerInfo');
}

/** The SignerInfo's signature value (the OCTET STRING's contents): what a CAdES-T timestamp covers. */
export function signatureValue(cmsDer: Buffer): Buffer {
  return parseSignedData(cmsDer).signature;
}

/**
 * The same CMS with `tokenDer` (a TimeStampToken, DER ContentInfo) as the
 * SignerInfo's unsigned attribute signatureTimeStampToken ([1] IMPLICIT SET
 * OF Attribute). The signed attributes and the signature are untouched, so the
 * result verifies exactly as before; a timestamp already there is replaced.
 */
export function withSignatureTimestamp(cmsDer: Buffer, tokenDer: Buffer): Buffer {
  const root = parseDer(cmsDer, 'CMS');
  const si = signerInfoOf(root);
  const token = parseDer(tokenDer, 'timestamp token');
  const attribute = forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, [
    forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(OID_SIGNATURE_TIMESTAMP_TOKEN).getBytes()),
    forge.asn1.create(Class.UNIVERSAL, Type.SET, true, [token]),
  ]);
  const last = si[si.length - 1];
  if (isContext(last, 1)) {
    const kept = children(last, 'unsignedAttrs').filter(
      (a) => oidOf(children(a, 'attribute')[0], 'attribute type') !== OID_SIGNATURE_TIMESTAMP_TOKEN,
    );
    last.value = [...kept, attribute];
  } else {
    si.push(forge.asn1.create(Class.CONTEXT_SPECIFIC, 1, true, [attribute]));
  }
  return der(root);
}

/**
 * The signatureTimeStampToken in the SignerInfo's unsigned attributes (DER), or null. How a holder of a
 * stamped receipt takes the token out (the tests do, as a partner would).
 * @internal
 */
export function signatureTimestampOf(cmsDer: Buffer): Buffer | null {
  const si = signerInfoOf(parseDer(cmsDer, 'CMS'));
  const last = si[si.length - 1];
  if (!isContext(last, 1)) return null;
  for (const a of children(last, 'unsignedAttrs')) {
    const parts = children(a, 'attribute');
    if (oidOf(parts[0], 'attribute type') === OID_SIGNATURE_TIMESTAMP_TOKEN) return der(children(parts[1], 'attribute values')[0]!);
  }
  return null;
}
