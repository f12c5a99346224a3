/**
 * The identity a client presented on an mTLS connection. Authorisation uses
 * the subject's serialNumber attribute (OID 2.5.4.5; OCES3
 * UI:DK-O:G:<uuid>) or the certificate's SHA-256 fingerprint — never the CN.
 *
 * A party's certificate must also fit the client-certificate profile (issue
 * 15): a leaf (no basicConstraints CA:TRUE) whose extended key usage
 * includes clientAuth. `profileError` says why a certificate does not.
 */
import type { TLSSocket } from 'node:tls';

export interface PeerIdentity {
  /** The chain verified against the server's trust anchors (`ca`). */
  authorized: boolean;
  /** Why it did not verify (an OpenSSL code such as UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  authorizationError?: string;
  /** The subject's serialNumber attribute, if exactly one is present. */
  subjectSerialNumber?: string;
  /** 'AB:CD:…', absent when the client sent no certificate. */
  fingerprint256?: string;
  /** The certificate's notAfter (ms since the epoch). */
  validTo?: number;
  /** The subject as `CN=…, serialNumber=…, O=…` (for log lines about refused certificates). */
  subject?: string;
  /** Why the certificate does not fit a party's client-certificate profile; absent when it does. */
  profileError?: string;
}

/** OID of the clientAuth extended key usage (RFC 5280 4.2.1.12: id-kp-clientAuth). */
export const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

/**
 * The client-certificate profile of a party: a leaf certificate (not a CA) whose extended key usage includes
 * clientAuth. Returns why `cert` does not fit it, or undefined when it does.
 */
export function clientProfileError(cert: { ca?: boolean; ext_key_usage?: string[] }): string | undefined {
  if (cert.ca === true) return 'the certificate is a CA certificate (basicConstraints CA:TRUE); a party presents a leaf certificate';
  if (!Array.isArray(cert.ext_key_usage) || !cert.ext_key_usage.includes(CLIENT_AUTH_EKU)) {
    return 'the certificate’s extended key usage does not include clientAuth (1.3.6.1.5.5.7.3.2)';
  }
  return undefined;
}

function subjectText(subject: unknown): string | undefined {
  if (!subject || typeof subject !== 'object') return undefined;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(subject as Record<string, string | string[]>)) {
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${k}=${one}`);
  }
  return parts.join(', ');
}

const identities = new WeakMap<TLSSocket, Readonly<PeerIdentity>>();

/**
 * `peerIdentity` read once per connection: a keep-alive connection's later requests do not parse its certificate
 * again. Only for a listener that refuses TLS renegotiation (the API listener sets SSL_OP_NO_RENEGOTIATION,
 * src/server.ts), where the certificate a connection presented can never change.
 */
export function connectionIdentity(socket: TLSSocket): Readonly<PeerIdentity> {
  let id = identities.get(socket);
  if (!id) identities.set(socket, (id = Object.freeze(peerIdentity(socket))));
  return id;
}

export function peerIdentity(socket: TLSSocket): PeerIdentity {
  const authorized = socket.authorized === true;
  const out: PeerIdentity = { authorized };
  const err = socket.authorizationError as unknown;
  if (!authorized && err) {
    out.authorizationError = typeof err === 'string' ? err : ((err as { code?: string }).code ?? (err as Error).message ?? String(err));
  }
  const cert = socket.getPeerCertificate();
  // No certificate: node returns {} (or null once the socket is gone).
  if (!cert || typeof cert !== 'object' || !cert.fingerprint256) {
    if (!authorized && !out.authorizationError) out.authorizationError = 'NO_PEER_CERTIFICATE';
    return out;
  }
  out.fingerprint256 = cert.fingerprint256;
  out.subject = subjectText(cert.subject);
  const profileError = clientProfileError(cert as { ca?: boolean; ext_key_usage?: string[] });
  if (profileError) out.profileError = profileError;
  const validTo = Date.parse(cert.valid_to);
  if (Number.isFinite(validTo)) out.validTo = validTo;
  // node names OID 2.5.4.5 by OpenSSL's short name, "serialNumber"; an
  // attribute that occurs several times is an array. Several serial numbers
  // would be ambiguous, so none is reported.
  const serial = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.serialNumber;
  if (typeof serial === 'string' && serial !== '') out.subjectSerialNumber = serial;
  return out;
}
