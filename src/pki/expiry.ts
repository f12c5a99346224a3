/**
 * Certificates that expire soon (issue 6): the gateway's own (server,
 * receipt signing, push client) checked at start-up and daily; parties'
 * client certificates as they connect. The gateway's own are a Prometheus gauge
 * of days left each; parties' are one gauge, the fewest days left of any party's
 * certificate (issue 15: /metrics is unauthenticated, so it names no party).
 * One warning a day per certificate while fewer than `warnDays` (30) remain,
 * naming the party in the log — so a partner can be told before its system is locked out.
 */
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

const DAY = 86_400_000;

export function createCertExpiryMonitor(opts: { registry: Registry; log: Logger; warnDays?: number; now?: () => number }) {
  const warnDays = opts.warnDays ?? 30;
  const now = opts.now ?? Date.now;
  const own = new Gauge({
    name: 'postkasse_certificate_expiry_days',
    help: "Days until the gateway's own certificates expire",
    labelNames: ['use'] as const,
    registers: [opts.registry],
  });
  const partyDays = new Map<string, number>();
  const party = new Gauge({
    name: 'postkasse_party_certificate_expiry_min_days',
    help: 'Days until the first of the client certificates the parties last connected with expires (the log names the party)',
    registers: [opts.registry],
  });
  const soon = new Gauge({
    name: 'postkasse_certificates_expiring_soon',
    help: `Certificates (own and parties') that expire within ${warnDays} days`,
    registers: [opts.registry],
  });
  const expiring = new Set<string>();
  const warned = new Map<string, number>();

  function note(key: string, days: number, fields: Record<string, unknown>): void {
    if (days < warnDays) expiring.add(key);
    else expiring.delete(key);
    soon.set(expiring.size);
    if (days >= warnDays) return;
    const last = warned.get(key);
    if (last !== undefined && now() - last < DAY) return;
    warned.set(key, now());
    opts.log.warn(
      { ...fields, daysLeft: Math.floor(days) },
      days <= 0 ? 'certificate has expired' : `certificate expires within ${warnDays} days`,
    );
  }

  return {
    /** One of the gateway's own certificates (PEM; the first certificate counts). */
    checkOwn(use: string, pem: string): number {
      const cert = new X509Certificate(pem);
      const days = (Date.parse(cert.validTo) - now()) / DAY;
      own.set({ use }, Math.floor(days));
      note(`own:${use}`, days, { certificate: use, subject: cert.subject, validTo: new Date(cert.validTo).toISOString() });
      return days;
    },
    /** A party's client certificate, seen on a connection. */
    observePeer(partyId: string, validTo: number): void {
      const days = (validTo - now()) / DAY;
      partyDays.set(partyId, Math.floor(days));
      party.set(Math.min(...partyDays.values()));
      note(`party:${partyId}`, days, { partyId, validTo: new Date(validTo).toISOString() });
    },
  };
}
