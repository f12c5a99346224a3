/**
 * The development identity provider: under `npm start` with no OIDC_ISSUER
 * (never in production), an OpenID Provider (`oidc-provider`) on loopback
 * whose login page has one button per staff member of the parties file
 * ("Log ind som Anna Holm") and one for an identity the gateway does not
 * know. The staff pages log in through it exactly as through the region's
 * provider: authorization code, PKCE, ID token, RP-initiated logout.
 * Its ID token carries `sub` (the button's oidcSubject), `name` under the
 * scope `profile`, and `email` (devIdpEmail) under the scope `email`: a claim
 * that differs from `sub` and comes only when asked for, as a region's staff
 * claim may (OIDC_STAFF_CLAIM, OIDC_SCOPES).
 * Everything it holds lives in memory and ends with the process.
 */
import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Adapter, AdapterPayload, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { StaffParty } from '../parties/parties.js';
import { escapeHtml } from './html.js';
import { NSIS_LEVELS } from './oidc.js';

/** The subject of the development IdP's "unknown" button: no staff party has it. */
export const DEV_UNKNOWN_SUBJECT = 'dev-ukendt-medarbejder';
const ACR = NSIS_LEVELS[1];

/** The `email` claim the development IdP gives an identity: the staff party's id (else the subject) at a domain that never resolves. */
export function devIdpEmail(staffIdOrSubject: string): string {
  return `${staffIdOrSubject}@dev.postkasse.invalid`;
}

export interface DevIdpOptions {
  host: string;
  port: number;
  /** the staff members offered as buttons (those with an oidcSubject), read at each login page */
  staff: () => StaffParty[];
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  log: Logger;
}

export interface DevIdp {
  issuer: string;
  close(): Promise<void>;
}

/** oidc-provider's storage, in memory (one Map per model; entries expire). */
function memoryAdapter(): new (name: string) => Adapter {
  const stores = new Map<string, Map<string, { payload: AdapterPayload; expires: number }>>();
  return class MemoryAdapter implements Adapter {
    private readonly m: Map<string, { payload: AdapterPayload; expires: number }>;
    constructor(name: string) {
      if (!stores.has(name)) stores.set(name, new Map());
      this.m = stores.get(name)!;
    }
    private live(id: string): AdapterPayload | undefined {
      const e = this.m.get(id);
      if (!e) return undefined;
      if (e.expires < Date.now()) {
        this.m.delete(id);
        return undefined;
      }
      return e.payload;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      this.m.set(id, { payload, expires: expiresIn ? Date.now() + expiresIn * 1000 : Number.MAX_SAFE_INTEGER });
    }
    async find(id: string) {
      return this.live(id);
    }
    async findByUserCode(userCode: string) {
      for (const [id, e] of this.m) if (e.payload.userCode === userCode) return this.live(id);
      return undefined;
    }
    async findByUid(uid: string) {
      for (const [id, e] of this.m) if (e.payload.uid === uid) return this.live(id);
      return undefined;
    }
    async consume(id: string) {
      const p = this.live(id);
      if (p) p.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      this.m.delete(id);
    }
    async revokeByGrantId(grantId: string) {
      for (const store of stores.values()) for (const [id, e] of store) if (e.payload.grantId === grantId) store.delete(id);
    }
  };
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="da"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
button{display:block;width:100%;margin:.4rem 0;padding:.7rem;font-size:1rem;text-align:left;border:2px solid #1d4f91;
background:#fff;color:#1d4f91;border-radius:4px;cursor:pointer}
button:focus,button:hover{background:#1d4f91;color:#fff;outline:3px solid #ffbf47}.note{color:#4a4a4a}</style></head>
<body><main>${body}</main></body></html>`;
}

export async function startDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  // Loaded only here: production never runs it.
  const { default: Provider } = await import('oidc-provider');
  let handler: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const issuer = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const byId = (id: string) => opts.staff().find((s) => s.oidcSubject === id);

  const configuration: Configuration = {
    adapter: memoryAdapter(),
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        redirect_uris: [opts.redirectUri],
        post_logout_redirect_uris: [opts.postLogoutRedirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'dev-idp', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    acrValues: [...NSIS_LEVELS],
    // Each scope releases its claims (a key with a list is also a scope the provider offers).
    claims: { openid: ['sub'], profile: ['name'], email: ['email', 'email_verified'], acr: null } as Configuration['claims'],
    // The claims of the scopes asked for go into the ID token itself, as the regions' providers do; oidc-provider's
    // default keeps them for the userinfo endpoint, which the gateway never calls.
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => {
      const staff = byId(id);
      return {
        accountId: id,
        claims: () => ({ sub: id, ...(staff ? { name: staff.name } : {}), email: devIdpEmail(staff?.id ?? id), email_verified: true }),
      };
    },
    // One client, the gateway itself: consent is implied (development only).
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || !ctx.oidc.client) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
      // what the gateway may be given; each login gets of it only the scopes it asked for (OIDC_SCOPES)
      grant.addOIDCScope('openid profile email');
      await grant.save();
      return grant;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.body = page(
            'Log ud – udviklings-IdP',
            `<h1>Log ud</h1><p>Log ud af udviklingsidentitetsudbyderen?</p>${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Log ud</button>`,
          );
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.body = page('Logget ud', '<h1>Du er logget ud</h1>');
        },
      },
    },
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 36_000, Grant: 36_000 },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page(
        'Fejl',
        `<h1>Login-fejl</h1><p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p>`,
      );
    },
  };
  const provider = new Provider(issuer, configuration);
  const oidc = provider.callback();

  const loginPage = (uid: string) => {
    const buttons = opts
      .staff()
      .filter((s) => s.oidcSubject)
      .map(
        (s) =>
          `<button type="submit" name="subject" value="${escapeHtml(s.oidcSubject!)}">Log ind som ${escapeHtml(s.name)}</button>` +
          `<p class="note">${escapeHtml(s.roles.join(', '))}</p>`,
      )
      .join('');
    return page(
      'Log ind – udviklings-IdP',
      `<h1>Udviklingslogin</h1><p class="note">Kun til udvikling: vælg den medarbejder, du vil logge ind som.</p>
<form method="post" action="/interaction/${encodeURIComponent(uid)}/login">${buttons}
<button type="submit" name="subject" value="${DEV_UNKNOWN_SUBJECT}">Log ind som ukendt medarbejder (ingen adgang)</button></form>`,
    );
  };

  const readForm = (req: http.IncomingMessage) =>
    new Promise<URLSearchParams>((resolve, reject) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        body += c;
        if (body.length > 10_000) req.destroy();
      });
      req.on('end', () => resolve(new URLSearchParams(body)));
      req.on('error', reject);
    });

  handler = (req, res) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec((req.url ?? '').split('?')[0]!);
    if (!m) return void oidc(req, res);
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (details.uid !== m[1]) throw new Error('interaction mismatch');
        if (req.method === 'GET' && !m[2]) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(loginPage(details.uid));
          return;
        }
        if (req.method === 'POST' && m[2]) {
          const subject = (await readForm(req)).get('subject') ?? '';
          if (!subject) throw new Error('no subject chosen');
          await provider.interactionFinished(
            req,
            res,
            { login: { accountId: subject, acr: ACR, amr: ['pwd'] } },
            { mergeWithLastSubmission: false },
          );
          return;
        }
        res.writeHead(405).end();
      } catch (err) {
        opts.log.warn({ err }, 'development IdP: interaction failed');
        if (!res.headersSent)
          res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Fejl', '<h1>Login-fejl</h1><p>Start forfra.</p>'));
      }
    })();
  };
  opts.log.warn({ issuer }, 'development identity provider running: not for production');
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
