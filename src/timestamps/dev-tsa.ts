/**
 * The development TSA: an RFC 3161 time-stamping authority in-process, on
 * loopback HTTP (`DEV_TSA_PORT`, or an ephemeral port), signing with the
 * development PKI's TSA certificate (extendedKeyUsage timeStamping, critical).
 * `npm start` runs it when `TSA_URLS` is unset outside production; production
 * configures a real TSA.
 *
 * It answers `POST` with `Content-Type: application/timestamp-query` (RFC 3161
 * §3.4): a granted TimeStampResp whose token (SignedData over TSTInfo, signed
 * attributes contentType, messageDigest and signingCertificateV2/ESSCertIDv2)
 * echoes the request's message imprint and nonce and carries the certificate
 * when asked (certReq). Unknown hash algorithms get a refusal with failInfo
 * badAlg, undecodable requests badDataFormat. Serial numbers are random
 * 128-bit (unique without state). What it answers verifies with
 * `openssl ts -verify` against the development CA.
 */
import crypto, { X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import type { Logger } from 'pino';
import { CmsError, certificateEntry, parseDer } from '../receipts/cms.js';
import { encodeResponse, parseRequest, OID_TST_INFO } from './rfc3161.js';

type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

/** The development TSA's policy (a UUID-arc OID; development only). */
export const DEV_TSA_POLICY = '2.25.1506172918';
const OID = {
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha256WithRSA: '1.2.840.113549.1.1.11',
};
const DIGEST_LENGTH: Record<string, number> = {
  [OID.sha256]: 32,
  '2.16.840.1.101.3.4.2.2': 48,
  '2.16.840.1.101.3.4.2.3': 64,
};
/** PKIFailureInfo bits (RFC 3161 §2.4.2) */
const BAD_ALG = 0;
const BAD_DATA_FORMAT = 5;
const MAX_REQUEST_BYTES = 16 * 1024;

export interface DevTsa {
  url: string;
  port: number;
  close(): Promise<void>;
}

const seq = (items: Asn1[]) => forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
const set = (items: Asn1[]) => forge.asn1.create(Class.UNIVERSAL, Type.SET, true, items);
const oid = (o: string) => forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(o).getBytes());
const octet = (b: Buffer) => forge.asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, b.toString('binary'));
const ctx = (tag: number, items: Asn1[]) => forge.asn1.create(Class.CONTEXT_SPECIFIC, tag, true, items);
const nullNode = () => forge.asn1.create(Class.UNIVERSAL, Type.NULL, false, '');
const toDer = (n: Asn1) => Buffer.from(forge.asn1.toDer(n).getBytes(), 'binary');

function integer(bytes: Buffer): Asn1 {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if ((b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
  return forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, b.toString('binary'));
}

/** DER GeneralizedTime with milliseconds, trailing zeros of the fraction dropped (X.690 §11.7). */
function generalizedTime(d: Date): Asn1 {
  const iso = d.toISOString(); // 2026-12-01T23:16:12.340Z
  let frac = iso.slice(20, 23).replace(/0+$/, '');
  frac = frac ? `.${frac}` : '';
  const text = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${frac}Z`;
  return forge.asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, text);
}

export interface DevTsaSigner {
  /** a granted TimeStampResp, or a refusal, for a DER TimeStampReq */
  respond(reqDer: Buffer, now?: Date): Promise<Buffer>;
}

/** The TSA's signing logic (no HTTP): certificate and key PEM of the TSA. */
export function createDevTsaSigner(certPem: string, keyPem: string): DevTsaSigner {
  const x509 = new X509Certificate(certPem);
  const key = crypto.createPrivateKey(keyPem);
  if (!x509.checkPrivateKey(key)) throw new Error('dev TSA: the key does not belong to the certificate');
  const certDer = x509.raw;
  const entry = certificateEntry(certDer);
  const certNode = parseDer(certDer, 'certificate');
  const issuerNode = parseDer(entry.issuerDer, 'issuer');
  // ESSCertIDv2 with the default hash (SHA-256, so no hashAlgorithm) and issuerSerial
  const essCertIdV2 = seq([
    octet(crypto.createHash('sha256').update(certDer).digest()),
    seq([seq([ctx(4, [issuerNode])]), integer(entry.serial)]),
  ]);

  async function token(tstInfo: Buffer, withCert: boolean): Promise<Buffer> {
    const attrs = [
      seq([oid(OID.contentType), set([oid(OID_TST_INFO)])]),
      seq([oid(OID.messageDigest), set([octet(crypto.createHash('sha256').update(tstInfo).digest())])]),
      seq([oid(OID.signingCertificateV2), set([seq([seq([essCertIdV2])])])]),
    ]
      .map(toDer)
      .sort(Buffer.compare); // DER SET OF order
    const attrNodes = attrs.map((a) => parseDer(a, 'attribute'));
    const signedAttrsSet = toDer(set(attrNodes));
    const signature = await new Promise<Buffer>((resolve, reject) =>
      crypto.sign('sha256', signedAttrsSet, key, (err, sig) => (err ? reject(err) : resolve(sig))),
    );
    const signerInfo = seq([
      integer(Buffer.from([1])),
      seq([issuerNode, integer(entry.serial)]),
      seq([oid(OID.sha256)]),
      ctx(0, attrNodes),
      seq([oid(OID.sha256WithRSA), nullNode()]),
      octet(signature),
    ]);
    const signedData = seq([
      integer(Buffer.from([3])),
      set([seq([oid(OID.sha256)])]),
      seq([oid(OID_TST_INFO), ctx(0, [octet(tstInfo)])]),
      ...(withCert ? [ctx(0, [certNode])] : []),
      set([signerInfo]),
    ]);
    return toDer(seq([oid(OID.signedData), ctx(0, [signedData])]));
  }

  return {
    async respond(reqDer: Buffer, now: Date = new Date()): Promise<Buffer> {
      let req: ReturnType<typeof parseRequest>;
      try {
        req = parseRequest(reqDer);
      } catch (e) {
        if (!(e instanceof CmsError)) throw e;
        return encodeResponse(null, { text: `bad request: ${e.message}`, failBit: BAD_DATA_FORMAT });
      }
      const len = DIGEST_LENGTH[req.hashAlgorithm];
      if (len === undefined || req.hashedMessage.length !== len) {
        return encodeResponse(null, { text: `unsupported message imprint (${req.hashAlgorithm})`, failBit: BAD_ALG });
      }
      const tst = toDer(
        seq([
          integer(Buffer.from([1])),
          oid(req.policy ?? DEV_TSA_POLICY),
          seq([seq([oid(req.hashAlgorithm)]), octet(req.hashedMessage)]),
          integer(crypto.randomBytes(16)),
          generalizedTime(now),
          ...(req.nonce ? [integer(req.nonce)] : []),
        ]),
      );
      return encodeResponse(await token(tst, req.certReq));
    },
  };
}

/** Starts the development TSA on 127.0.0.1:`port` (0 = ephemeral). */
export async function startDevTsa(opts: { certPem: string; keyPem: string; port?: number; log: Logger }): Promise<DevTsa> {
  const signer = createDevTsaSigner(opts.certPem, opts.keyPem);
  const server = http.createServer((req, res) => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (req.method !== 'POST' || type !== 'application/timestamp-query') {
      res.writeHead(req.method === 'POST' ? 415 : 405, { 'content-type': 'text/plain' });
      res.end('POST an RFC 3161 TimeStampReq as application/timestamp-query\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_REQUEST_BYTES) {
        res.writeHead(413).end();
        req.destroy();
      } else chunks.push(d);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      signer.respond(Buffer.concat(chunks)).then(
        (der) => res.writeHead(200, { 'content-type': 'application/timestamp-reply', 'content-length': der.length }).end(der),
        (err: unknown) => {
          opts.log.error({ err }, 'dev TSA: could not answer');
          res.writeHead(500).end();
        },
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  opts.log.info({ url }, 'development TSA listening (RFC 3161, development PKI)');
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
