/** Shared by the storage and audit tests: both dialects, a fresh PostgreSQL schema and temp dir per test file. */
import type { Readable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { openDatabase, type Db, type OpenDatabaseOptions } from '../../src/storage/db.js';
import { auditKeyFrom, type AuditKey } from '../../src/audit/key.js';
import type { Insertable } from 'kysely';
import type { CasesTable } from '../../src/storage/schema.js';

export interface DialectCase {
  name: 'sqlite' | 'postgres';
  url?: string;
}

export const DIALECTS: DialectCase[] = [
  { name: 'sqlite' },
  { name: 'postgres', url: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' },
];

export function tempDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `postkasse-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh database per dialect: its own data dir (SQLite) and its own schema (PostgreSQL), torn down by `dispose()`. */
export async function openTestDb(
  d: DialectCase,
  prefix: string,
  /** the audit chain's key (default: a fresh random one); `null` opens without one (read only for the audit log) */
  auditKey: AuditKey | null = auditKeyFrom(randomBytes(32)),
  /** more of openDatabase's options (e.g. the PostgreSQL writer thread) */
  more: Pick<OpenDatabaseOptions, 'pgWriterThread'> = {},
): Promise<Db & { schema?: string; dataDir: string; dispose(): Promise<void> }> {
  const tmp = tempDir(`${prefix}-${d.name}`);
  const schema = d.url ? `t_${prefix}_${randomBytes(5).toString('hex')}` : undefined;
  // a storage master key of its own: personal fields are sealed with it (src/storage/fields.ts)
  const db = await openDatabase({
    url: d.url,
    dataDir: tmp.dir,
    schema,
    masterKey: randomBytes(32),
    ...(auditKey ? { auditKey } : {}),
    ...more,
  });
  return {
    ...db,
    schema,
    dataDir: tmp.dir,
    async dispose() {
      try {
        if (schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(db.db);
      } finally {
        await db.close();
        tmp.remove();
      }
    },
  };
}

/** A minimal valid case row (no real citizen data). */
export function newCase(id: string = randomUUID()): Insertable<CasesTable> {
  const now = new Date().toISOString();
  return {
    id,
    sender_party_id: 'sender-1',
    municipality_code: '0101',
    service: 'psykiatri',
    case_type: 'henvisning',
    urgent: 0,
    state: 'received',
    complete: 1,
    received_at: now,
    clock_started_at: null,
    agreement_id: null,
    citizen_ref: 'ref-test',
    gp_ydernummer: '123456',
    treating_clinicians: '[]',
    consents: '{}',
    manifest_enc: Buffer.from([0, 1, 2, 255]),
    clock: '{}',
    assigned_to: null,
    created_at: now,
    updated_at: now,
  };
}

/** Reads a blob's stream, recording what was released before it ended or failed. */
export async function drain(s: Readable): Promise<{ bytes: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of s) chunks.push(c as Buffer);
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}
