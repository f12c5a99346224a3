/**
 * Staff sessions, kept in the database so that every instance knows them.
 *
 * The browser holds a random 256-bit token in a `__Host-` cookie (Secure,
 * HttpOnly, SameSite=Lax, Path=/); the database holds only its SHA-256, so a
 * copy of the table logs nobody in. A session ends after `idleMs` without a
 * request or `maxMs` after login, whichever comes first, and at logout. Each
 * session has its own CSRF token, which every state-changing form carries.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../storage/db.js';
import { openSmall, sealSmall } from '../storage/crypto.js';
import { createSessionStore, type SessionStore } from './store.js';

export const SESSION_COOKIE = '__Host-postkasse-session';
/** last_seen_at is written at most this often (a page view is otherwise a read) */
const TOUCH_EVERY_MS = 60_000;

export interface Session {
  staffId: string;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  /** the cookie's token, hashed: what identifies the session row */
  tokenHash: string;
}

export interface SessionsDeps {
  db: Db;
  masterKey: Buffer;
  idleMs: number;
  maxMs: number;
  now?: () => Date;
  store?: SessionStore;
}

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createSessions(deps: SessionsDeps) {
  const store = deps.store ?? createSessionStore(deps.db.db);
  const now = deps.now ?? (() => new Date());
  const aad = (tokenHash: string) => Buffer.from(`web-session:${tokenHash}`);

  /** A new session for `staffId`; returns the cookie's token. */
  async function create(staffId: string, idToken?: string): Promise<{ token: string; session: Session }> {
    const token = randomBytes(32).toString('base64url');
    const tokenHash = hash(token);
    const at = now().toISOString();
    const csrfToken = randomBytes(32).toString('base64url');
    await store.insert({
      token_hash: tokenHash,
      staff_id: staffId,
      created_at: at,
      last_seen_at: at,
      csrf_token: csrfToken,
      id_token_enc: idToken ? sealSmall(deps.masterKey, Buffer.from(idToken, 'utf8'), aad(tokenHash)) : null,
    });
    return { token, session: { staffId, csrfToken, createdAt: at, lastSeenAt: at, tokenHash } };
  }

  /** The live session of a cookie token, or null (unknown, idle too long, or past its absolute limit: then it is deleted). */
  async function lookup(token: string | undefined): Promise<Session | null> {
    if (!token || !TOKEN_RE.test(token)) return null;
    const tokenHash = hash(token);
    const row = await store.byTokenHash(tokenHash);
    if (!row) return null;
    const t = now().getTime();
    if (t - Date.parse(row.last_seen_at) > deps.idleMs || t - Date.parse(row.created_at) > deps.maxMs) {
      await store.delete(tokenHash);
      return null;
    }
    let lastSeenAt = row.last_seen_at;
    if (t - Date.parse(row.last_seen_at) >= TOUCH_EVERY_MS) {
      lastSeenAt = new Date(t).toISOString();
      await store.touch(tokenHash, lastSeenAt);
    }
    return { staffId: row.staff_id, csrfToken: row.csrf_token, createdAt: row.created_at, lastSeenAt, tokenHash };
  }

  /** Ends the session; returns the IdP's ID token when one was kept (for RP-initiated logout). */
  async function destroy(tokenHash: string): Promise<{ idToken?: string }> {
    const row = await store.delete(tokenHash);
    if (!row?.id_token_enc) return {};
    try {
      return { idToken: openSmall(deps.masterKey, Buffer.from(row.id_token_enc), aad(tokenHash)).toString('utf8') };
    } catch {
      return {};
    }
  }

  /** Deletes every expired session (run periodically). */
  async function sweep(): Promise<number> {
    const t = now().getTime();
    return store.deleteExpired(new Date(t - deps.idleMs).toISOString(), new Date(t - deps.maxMs).toISOString());
  }

  return { create, lookup, destroy, sweep };
}

export type Sessions = ReturnType<typeof createSessions>;
