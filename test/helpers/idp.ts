/**
 * A development identity provider of a test's own, standing in for the region's (OIDC_ISSUER): its one client is
 * the gateway whose staff pages will listen on `staffPort`, its staff those of config/parties.dev.json.
 */
import net from 'node:net';
import { startDevIdp, type DevIdp } from '../../src/web/dev-idp.js';
import { loadPartiesFile, type StaffParty } from '../../src/parties/parties.js';
import { createLogger } from '../../src/shared/logger.js';
import { logCapture } from './logs.js';

export const TEST_IDP_CLIENT = { id: 'postkasse-test', secret: 'test-secret-0123456789' } as const;

/** A TCP port free on loopback now (for the staff listener, whose URL the provider must know before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** The provider for the staff pages at https://localhost:`staffPort`; the gateway is given OIDC_ISSUER = its issuer. */
export function startTestIdp(staffPort: number): Promise<DevIdp> {
  const base = `https://localhost:${staffPort}`;
  const staff = loadPartiesFile('config/parties.dev.json').filter((p): p is StaffParty => p.kind === 'staff');
  return startDevIdp({
    host: '127.0.0.1',
    port: 0,
    staff: () => staff,
    clientId: TEST_IDP_CLIENT.id,
    clientSecret: TEST_IDP_CLIENT.secret,
    redirectUri: `${base}/auth/callback`,
    postLogoutRedirectUri: `${base}/logget-ud`,
    log: createLogger({ level: 'silent', destination: logCapture().stream }),
  });
}
