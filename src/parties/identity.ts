/**
 * The identity a client presented on an mTLS connection. Authorisation uses
 * the subject's serialNumber attribute (OID 2.5.4.5; OCES3
 * UI:DK-O:G:<uuid>) or the certificate's SHA-256 fingerprint — never the CN.
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
  const validTo = Date.parse(cert.valid_to);
  if (Number.isFinite(validTo)) out.validTo = validTo;
  // node names OID 2.5.4.5 by OpenSSL's short name, "serialNumber"; an
  // attribute that occurs several times is an array. Several serial numbers
  // would be ambiguous, so none is reported.
  const serial = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.serialNumber;
  if (typeof serial === 'string' && serial !== '') out.subjectSerialNumber = serial;
  return out;
}
