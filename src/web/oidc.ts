/**
 * Staff login against the region's identity provider: OpenID Connect's
 * authorization-code flow with PKCE (S256), state and nonce, through
 * `openid-client`. The provider's metadata is discovered on first use and
 * kept; a provider that is down does not stop the gateway, only the login
 * (which says so).
 *
 * What the login leaves in flight (state, nonce, PKCE verifier, where to
 * return) travels in a short-lived `__Host-` cookie sealed with a subkey of
 * the master key (AES-256-GCM), so an unauthenticated visitor costs no
 * database row.
 */
import * as client from 'openid-client';
import type { Logger } from 'pino';
import { deriveKey, gcmOpen, gcmSeal } from '../storage/crypto.js';

export const LOGIN_COOKIE = '__Host-postkasse-login';
const LOGIN_TTL_MS = 10 * 60_000;

/** NSIS assurance levels, lowest first: a required level is met by it or a higher one. */
export const NSIS_LEVELS = [
  'https://data.gov.dk/concept/core/nsis/loa/Low',
  'https://data.gov.dk/concept/core/nsis/loa/Substantial',
  'https://data.gov.dk/concept/core/nsis/loa/High',
] as const;

/** Does the `acr` an ID token carries meet `required`? NSIS levels are ordered; any other value must match exactly. */
export function acrSatisfies(got: string | undefined, required: string | undefined): boolean {
  if (!required) return true;
  if (!got) return false;
  const g = (NSIS_LEVELS as readonly string[]).indexOf(got);
  const r = (NSIS_LEVELS as readonly string[]).indexOf(required);
  return g >= 0 && r >= 0 ? g >= r : got === required;
}

export interface PendingLogin {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  /** ms since the epoch */
  expires: number;
}

export interface OidcOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** the ID token claim that names the staff member (OIDC_STAFF_CLAIM) */
  staffClaim: string;
  /** the scopes asked for, space-separated (OIDC_SCOPES): the claim above comes only with its scope */
  scopes: string;
  requiredAcr?: string;
  masterKey: Buffer;
  log: Logger;
  /** the development identity provider on loopback speaks plain HTTP */
  allowHttp?: boolean;
}

export type LoginResult =
  | { ok: true; subject: string; idToken: string; acr?: string }
  | { ok: false; reason: 'acr'; acr?: string; subject?: string }
  | { ok: false; reason: 'no-subject' };

export function createOidc(opts: OidcOptions) {
  let discovered: Promise<client.Configuration> | undefined;
  const key = deriveKey(opts.masterKey, 'web-login-state');

  function configuration(): Promise<client.Configuration> {
    discovered ??= client
      .discovery(
        new URL(opts.issuer),
        opts.clientId,
        undefined,
        opts.clientSecret ? client.ClientSecretBasic(opts.clientSecret) : client.None(),
        opts.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        discovered = undefined; // the next login tries again
        throw err;
      });
    return discovered;
  }

  /** Where to send the browser, and the sealed cookie value that must come back with it. */
  async function start(returnTo: string): Promise<{ url: URL; cookie: string }> {
    const config = await configuration();
    const pending: PendingLogin = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      returnTo,
      expires: Date.now() + LOGIN_TTL_MS,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: opts.redirectUri,
      scope: opts.scopes,
      code_challenge: await client.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      ...(opts.requiredAcr ? { acr_values: opts.requiredAcr } : {}),
    });
    return { url, cookie: gcmSeal(key, Buffer.from(JSON.stringify(pending), 'utf8')).toString('base64url') };
  }

  /** The pending login a cookie holds, or null when it is missing, forged or expired. */
  function pendingOf(cookie: string | undefined): PendingLogin | null {
    if (!cookie) return null;
    try {
      const p = JSON.parse(gcmOpen(key, Buffer.from(cookie, 'base64url')).toString('utf8')) as PendingLogin;
      return p.expires > Date.now() ? p : null;
    } catch {
      return null;
    }
  }

  /** Redeems the code of the callback URL: checks state, nonce, PKCE, the ID token, the assurance level. */
  async function finish(callbackUrl: URL, pending: PendingLogin): Promise<LoginResult> {
    const config = await configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    const value = (claims as Record<string, unknown>)[opts.staffClaim];
    const subject = typeof value === 'string' && value !== '' ? value : undefined;
    const acr = typeof claims.acr === 'string' ? claims.acr : undefined;
    if (!acrSatisfies(acr, opts.requiredAcr)) return { ok: false, reason: 'acr', acr, subject };
    if (!subject) return { ok: false, reason: 'no-subject' };
    return { ok: true, subject, idToken: tokens.id_token!, acr };
  }

  /** RP-initiated logout at the provider, when it offers it (end_session_endpoint); else null. */
  async function logoutUrl(idToken: string | undefined): Promise<URL | null> {
    let config: client.Configuration;
    try {
      config = await configuration();
    } catch (err) {
      opts.log.warn({ err }, 'identity provider unreachable: the session ended here only');
      return null;
    }
    if (!config.serverMetadata().end_session_endpoint) return null;
    return client.buildEndSessionUrl(config, {
      post_logout_redirect_uri: opts.postLogoutRedirectUri,
      ...(idToken ? { id_token_hint: idToken } : { client_id: opts.clientId }),
    });
  }

  return { start, pendingOf, finish, logoutUrl, issuerOrigin: new URL(opts.issuer).origin };
}

export type Oidc = ReturnType<typeof createOidc>;
