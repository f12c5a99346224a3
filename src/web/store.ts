/** The staff pages' SQL: browser sessions (table web_sessions, migration 0008). */
import type { Kysely } from 'kysely';
import type { Database, WebSessionsTable } from '../storage/schema.js';

export type SessionRow = WebSessionsTable;

export interface SessionStore {
  insert(row: SessionRow): Promise<void>;
  byTokenHash(tokenHash: string): Promise<SessionRow | undefined>;
  touch(tokenHash: string, at: string): Promise<void>;
  delete(tokenHash: string): Promise<SessionRow | undefined>;
  /** removes sessions idle since before `idleBefore` or begun before `createdBefore`; returns how many */
  deleteExpired(idleBefore: string, createdBefore: string): Promise<number>;
}

export function createSessionStore(db: Kysely<Database>): SessionStore {
  return {
    async insert(row) {
      await db.insertInto('web_sessions').values(row).execute();
    },
    byTokenHash: (tokenHash) => db.selectFrom('web_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
    async touch(tokenHash, at) {
      await db.updateTable('web_sessions').set({ last_seen_at: at }).where('token_hash', '=', tokenHash).execute();
    },
    async delete(tokenHash) {
      const row = await db.selectFrom('web_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      await db.deleteFrom('web_sessions').where('token_hash', '=', tokenHash).execute();
      return row;
    },
    async deleteExpired(idleBefore, createdBefore) {
      const r = await db
        .deleteFrom('web_sessions')
        .where((eb) => eb.or([eb('last_seen_at', '<', idleBefore), eb('created_at', '<', createdBefore)]))
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
