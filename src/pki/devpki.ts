/**
 * Development PKI: a private CA, the gateway's TLS server certificate, its
 * receipt-signing certificate, its client certificate (for pushing to
 * partners), the development TSA's certificate (extendedKeyUsage
 * timeStamping, critical: RFC 3161 §2.3) and one client certificate per demo
 * party.
 *
 * Idempotent: files that exist and are still valid (parse, key matches the
 * certificate, issued by the current CA, not expiring within 30 days,
 * expected subject and EKU) are reused; anything missing or invalid is
 * (re)created. A new CA invalidates every leaf, so they are re-issued with it.
 * A lock directory keeps two processes on the same DATA_DIR from racing.
 *
 * Development only: production supplies TLS_CERT_FILE, RECEIPT_CERT_FILE etc.
 */
import { generateKeyPairSync, randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

export interface DevPki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  receiptCert: string;
  receiptKey: string;
  gatewayClientCert: string;
  gatewayClientKey: string;
  /** the development TSA (src/timestamps/dev-tsa.ts) */
  tsaCert: string;
  tsaKey: string;
  /** partyId -> client certificate and key (PEM file paths). */
  clients: Record<string, { cert: string; key: string }>;
}

export interface DevPkiParty {
  id: string;
  kind: string;
  name: string;
  certificates: ReadonlyArray<{ subjectSerialNumber?: string; sha256?: string }>;
}

export interface DevPkiLog {
  info(obj: object, msg?: string): void;
}

const CA_CN = 'Postkasse Dev CA';
const SERVER_CN = 'localhost';
const RECEIPT_CN = 'Postkasse receipt signing (dev)';
const GATEWAY_CLIENT_CN = 'Postkasse gateway client (dev)';
const TSA_CN = 'Postkasse TSA (dev)';
const ORG = 'Postkasse (development)';
/** Leaves expiring within this margin are re-issued. */
const RENEW_MARGIN_MS = 30 * 24 * 3600 * 1000;
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

type Purpose = 'server' | 'receipt' | 'client' | 'tsa';
const EKU: Record<Purpose, string> = {
  server: '1.3.6.1.5.5.7.3.1',
  client: '1.3.6.1.5.5.7.3.2',
  receipt: '1.3.6.1.5.5.7.3.4', // emailProtection, see createLeaf
  tsa: '1.3.6.1.5.5.7.3.8', // timeStamping, critical
};
const OID_EXT_KEY_USAGE = '2.5.29.37';
/** The server certificate's names: loopback always, and DEV_PKI_SERVER_NAMES (e.g. the host a trial is reached by). */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const serverNamesOf = (extra: readonly string[] = []): string[] => [...new Set([...LOOPBACK_NAMES, ...extra])];

/** True when the certificate names exactly `names` (DNS names and IP addresses) in its subjectAltName. */
function namesExactly(x509: X509Certificate, names: readonly string[]): boolean {
  const entries = (x509.subjectAltName ?? '').split(', ').filter(Boolean);
  return (
    entries.length === names.length &&
    names.every((n) => (isIP(n) ? x509.checkIP(n) !== undefined : x509.checkHost(n, { wildcards: false }) !== undefined))
  );
}

interface LeafSpec {
  purpose: Purpose;
  cn: string;
  subjectSerialNumber?: string;
  /** the server certificate's DNS names and IP addresses */
  names?: readonly string[];
}

interface Issuer {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
  x509: X509Certificate;
}

export async function ensureDevPki(
  dir: string,
  parties: readonly DevPkiParty[],
  log?: DevPkiLog,
  opts: { serverNames?: readonly string[] } = {},
): Promise<DevPki> {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  fs.chmodSync(root, 0o700);
  const clientsDir = path.join(root, 'clients');
  fs.mkdirSync(clientsDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(clientsDir, 0o700);

  const pki: DevPki = {
    dir: root,
    caCert: path.join(root, 'ca.pem'),
    caKey: path.join(root, 'ca.key'),
    serverCert: path.join(root, 'server.pem'),
    serverKey: path.join(root, 'server.key'),
    receiptCert: path.join(root, 'receipt.pem'),
    receiptKey: path.join(root, 'receipt.key'),
    gatewayClientCert: path.join(root, 'gateway-client.pem'),
    gatewayClientKey: path.join(root, 'gateway-client.key'),
    tsaCert: path.join(root, 'tsa.pem'),
    tsaKey: path.join(root, 'tsa.key'),
    clients: {},
  };

  return withLock(root, () => ensureFiles(pki, clientsDir, parties, log, serverNamesOf(opts.serverNames)));
}

function ensureFiles(
  pki: DevPki,
  clientsDir: string,
  parties: readonly DevPkiParty[],
  log: DevPkiLog | undefined,
  serverNames: readonly string[],
): DevPki {
  let ca = loadCa(pki.caCert, pki.caKey);
  if (!ca) {
    ca = createCa(pki.caCert, pki.caKey);
    log?.info({ file: pki.caCert, fingerprint256: ca.x509.fingerprint256 }, 'dev PKI: created CA');
  }

  const leaves: Array<{ cert: string; key: string; spec: LeafSpec; label: string }> = [
    { cert: pki.serverCert, key: pki.serverKey, spec: { purpose: 'server', cn: SERVER_CN, names: serverNames }, label: 'server' },
    { cert: pki.receiptCert, key: pki.receiptKey, spec: { purpose: 'receipt', cn: RECEIPT_CN }, label: 'receipt signing' },
    {
      cert: pki.gatewayClientCert,
      key: pki.gatewayClientKey,
      spec: { purpose: 'client', cn: GATEWAY_CLIENT_CN },
      label: 'gateway client',
    },
    { cert: pki.tsaCert, key: pki.tsaKey, spec: { purpose: 'tsa', cn: TSA_CN }, label: 'TSA' },
  ];
  for (const p of parties) {
    const serial = p.certificates.find(
      (c) => typeof c.subjectSerialNumber === 'string' && c.subjectSerialNumber !== '',
    )?.subjectSerialNumber;
    if (serial === undefined) continue;
    if (!SAFE_ID.test(p.id)) throw new Error(`dev PKI: party id ${JSON.stringify(p.id)} cannot be used as a file name`);
    const files = { cert: path.join(clientsDir, `${p.id}.pem`), key: path.join(clientsDir, `${p.id}.key`) };
    pki.clients[p.id] = files;
    leaves.push({ ...files, spec: { purpose: 'client', cn: p.name, subjectSerialNumber: serial }, label: `client ${p.id}` });
  }

  for (const leaf of leaves) {
    if (leafIsValid(leaf.cert, leaf.key, leaf.spec, ca)) continue;
    const x = createLeaf(leaf.cert, leaf.key, leaf.spec, ca);
    log?.info({ file: leaf.cert, fingerprint256: x.fingerprint256 }, `dev PKI: created ${leaf.label} certificate`);
  }
  return pki;
}

// ---------------------------------------------------------------------------

/**
 * Two processes starting on the same DATA_DIR (gateway and CLI) must not both
 * create a CA. A directory is the lock; one left by a crashed process is
 * taken over after STALE_LOCK_MS.
 */
const STALE_LOCK_MS = 2 * 60 * 1000;
const LOCK_WAIT_MS = 90 * 1000;

async function withLock<T>(dir: string, fn: () => T): Promise<T> {
  const lock = path.join(dir, '.lock');
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let age: number;
    try {
      age = Date.now() - fs.statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    if (age > STALE_LOCK_MS) {
      fs.rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`dev PKI: ${lock} is held by another process; remove it if no other gateway is starting`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Writes via a temporary file and rename, so a crash never leaves half a PEM. */
function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, data, { mode, flag: 'wx' });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function keyMatches(x509: X509Certificate, keyPem: string): boolean {
  try {
    return x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function currentlyValid(x509: X509Certificate, marginMs: number): boolean {
  const now = Date.now();
  return Date.parse(x509.validFrom) <= now && Date.parse(x509.validTo) - marginMs > now;
}

function loadCa(certFile: string, keyFile: string): Issuer | undefined {
  const certPem = readIfExists(certFile);
  const keyPem = readIfExists(keyFile);
  if (certPem === undefined || keyPem === undefined) return undefined;
  try {
    const x509 = new X509Certificate(certPem);
    // The CA must outlive a freshly issued leaf; otherwise start over.
    if (!x509.ca || !currentlyValid(x509, 2 * 366 * 24 * 3600 * 1000) || !keyMatches(x509, keyPem)) return undefined;
    if (!x509.verify(x509.publicKey)) return undefined;
    return { cert: forge.pki.certificateFromPem(certPem), key: forge.pki.privateKeyFromPem(keyPem), x509 };
  } catch {
    return undefined;
  }
}

function leafIsValid(certFile: string, keyFile: string, spec: LeafSpec, ca: Issuer): boolean {
  const certPem = readIfExists(certFile);
  const keyPem = readIfExists(keyFile);
  if (certPem === undefined || keyPem === undefined) return false;
  try {
    const x509 = new X509Certificate(certPem);
    if (!x509.checkIssued(ca.x509) || !x509.verify(ca.x509.publicKey)) return false;
    if (!currentlyValid(x509, RENEW_MARGIN_MS) || !keyMatches(x509, keyPem)) return false;
    // The profile, so that a change to it here re-issues old files.
    if (JSON.stringify(x509.keyUsage ?? []) !== JSON.stringify([EKU[spec.purpose]])) return false;
    if (spec.purpose === 'server' && !namesExactly(x509, spec.names ?? serverNamesOf())) return false;
    const cert = forge.pki.certificateFromPem(certPem);
    const eku = cert.extensions.find((e: { id?: string }) => e.id === OID_EXT_KEY_USAGE) as { critical?: boolean } | undefined;
    if (spec.purpose === 'tsa' && eku?.critical !== true) return false;
    const cn = cert.subject.getField('CN') as { value: string } | null;
    if (!cn || forge.util.decodeUtf8(cn.value) !== spec.cn) return false;
    const serial = cert.subject.getField({ type: '2.5.4.5' }) as { value: string } | null;
    if ((serial?.value ?? undefined) !== spec.subjectSerialNumber) return false;
    return true;
  } catch {
    return false;
  }
}

function newKeyPair(): { keyPem: string; key: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  // PKCS#1 PEM: what forge's privateKeyFromPem and every TLS stack read.
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  const publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  return { keyPem, key, publicKey };
}

/** 16 random bytes, positive and minimally encoded (first byte 0x01–0x7f). */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString('hex');
}

function validity(cert: forge.pki.Certificate, years: number): void {
  const from = new Date(Date.now() - 5 * 60 * 1000); // tolerate small clock skew
  const to = new Date(from);
  to.setUTCFullYear(to.getUTCFullYear() + years);
  cert.validity.notBefore = from;
  cert.validity.notAfter = to;
}

function utf8Attr(shortName: string, value: string): forge.pki.CertificateField {
  // forge encodes UTF8String values itself; the default (PrintableString)
  // cannot carry æ/ø/å.
  return { shortName, value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class };
}

function createCa(certFile: string, keyFile: string): Issuer {
  const { keyPem, key, publicKey } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, 10);
  const name = [utf8Attr('CN', CA_CN), utf8Attr('O', ORG)];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  writeAtomic(keyFile, keyPem, 0o600);
  writeAtomic(certFile, certPem, 0o644);
  return { cert, key, x509: new X509Certificate(certPem) };
}

function createLeaf(certFile: string, keyFile: string, spec: LeafSpec, ca: Issuer): X509Certificate {
  const { keyPem, publicKey } = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  validity(cert, 2);
  const subject: forge.pki.CertificateField[] = [utf8Attr('CN', spec.cn)];
  if (spec.subjectSerialNumber !== undefined) {
    // X.520 serialNumber (2.5.4.5) is a PrintableString; ':' and '-' are allowed.
    subject.push({
      type: '2.5.4.5',
      value: spec.subjectSerialNumber,
      valueTagClass: forge.asn1.Type.PRINTABLESTRING as unknown as forge.asn1.Class,
    });
  }
  subject.push(utf8Attr('O', ORG));
  cert.setSubject(subject);
  cert.setIssuer(ca.cert.subject.attributes);

  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.cert.generateSubjectKeyIdentifier().getBytes() },
  ];
  switch (spec.purpose) {
    case 'server':
      extensions.push(
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: (spec.names ?? serverNamesOf()).map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })),
        },
      );
      break;
    case 'receipt':
      // OpenSSL's default purpose for `openssl cms -verify` is smime_sign: an
      // EKU, if present, must contain emailProtection, and keyUsage must allow
      // digitalSignature or nonRepudiation. emailProtection (and nothing else)
      // lets partners verify without `-purpose any` while the certificate
      // stays unusable for TLS.
      extensions.push(
        { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
        { name: 'extKeyUsage', emailProtection: true },
      );
      break;
    case 'tsa':
      // RFC 3161 §2.3: the only extended key usage is timeStamping, and it is critical.
      extensions.push(
        { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
        { name: 'extKeyUsage', timeStamping: true, critical: true },
      );
      break;
    case 'client':
      extensions.push(
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      );
      break;
  }
  cert.setExtensions(extensions);
  cert.sign(ca.key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  writeAtomic(keyFile, keyPem, 0o600);
  writeAtomic(certFile, certPem, 0o644);
  return new X509Certificate(certPem);
}
