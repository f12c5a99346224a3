/**
 * Schema migrations, defined in code, one set valid on both dialects.
 *
 * Rules for adding a migration: append a new key (names sort lexically and
 * run in that order), never edit one that has shipped, use the schema builder
 * and the `t` type helpers below so SQLite and PostgreSQL stay identical.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { FieldSealer } from './fields.js';
import { auditChainSeal } from '../audit/chain.js';
import type { AuditKey } from '../audit/key.js';
import { m0012SealedFields, SEALED_FIELDS_MIGRATION } from './sealed-fields-migration.js';

export type SqlDialect = 'sqlite' | 'postgres';

/** The name of the migration that seals the keyed audit chain's start (its tests migrate up to the one before). @internal */
export const AUDIT_CHAIN_SEAL_MIGRATION = '0015_audit_chain_seal';

/** Column types that differ between the dialects. */
function types(dialect: SqlDialect) {
  return {
    /** binary: `blob` (SQLite) / `bytea` (PostgreSQL); both surface as Buffer */
    binary: dialect === 'postgres' ? ('bytea' as const) : ('blob' as const),
    /** 64-bit integer (SQLite integers are 64-bit anyway); int8 is parsed to number by our pg pool */
    int64: 'bigint' as const,
  };
}

function m0001Initial(dialect: SqlDialect): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('cases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sender_party_id', 'text', (c) => c.notNull())
        .addColumn('municipality_code', 'text', (c) => c.notNull())
        .addColumn('service', 'text', (c) => c.notNull())
        .addColumn('case_type', 'text', (c) => c.notNull())
        .addColumn('urgent', 'integer', (c) => c.notNull().check(sql`urgent in (0, 1)`))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('complete', 'integer', (c) => c.notNull().check(sql`complete in (0, 1)`))
        .addColumn('received_at', 'text', (c) => c.notNull())
        .addColumn('clock_started_at', 'text')
        .addColumn('agreement_id', 'text')
        .addColumn('citizen_ref', 'text', (c) => c.notNull())
        .addColumn('gp_ydernummer', 'text')
        .addColumn('treating_clinicians', 'text', (c) => c.notNull())
        .addColumn('consents', 'text', (c) => c.notNull())
        .addColumn('manifest_enc', t.binary, (c) => c.notNull())
        .addColumn('clock', 'text', (c) => c.notNull())
        .addColumn('assigned_to', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('cases_state_idx').on('cases').columns(['state', 'received_at']).execute();
      await db.schema.createIndex('cases_assigned_to_idx').on('cases').column('assigned_to').execute();
      await db.schema.createIndex('cases_citizen_ref_idx').on('cases').column('citizen_ref').execute();

      await db.schema
        .createTable('packages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('sender_party_id', 'text', (c) => c.notNull())
        .addColumn('package_id', 'text', (c) => c.notNull())
        .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
        .addColumn('content_sha256', 'text', (c) => c.notNull())
        .addColumn('manifest_sha256', 'text', (c) => c.notNull())
        .addColumn('is_supplement', 'integer', (c) => c.notNull().check(sql`is_supplement in (0, 1)`))
        .addColumn('received_at', 'text', (c) => c.notNull())
        // The idempotency guarantee: a sender's packageId is accepted once, forever.
        .addUniqueConstraint('packages_sender_package_uq', ['sender_party_id', 'package_id'])
        .execute();
      await db.schema.createIndex('packages_case_id_idx').on('packages').column('case_id').execute();

      await db.schema
        .createTable('documents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
        .addColumn('package_row_id', 'text', (c) => c.notNull().references('packages.id'))
        .addColumn('part', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('title', 'text')
        .addColumn('media_type', 'text', (c) => c.notNull())
        .addColumn('size', t.int64, (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('blob_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('documents_case_part_package_uq', ['case_id', 'part', 'package_row_id'])
        .execute();
      await db.schema.createIndex('documents_package_row_id_idx').on('documents').column('package_row_id').execute();
      // orphan-blob reconciler: "is this blob key referenced?"
      await db.schema.createIndex('documents_blob_key_idx').on('documents').column('blob_key').execute();

      await db.schema
        .createTable('receipts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('package_row_id', 'text', (c) => c.notNull().references('packages.id'))
        .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
        .addColumn('sender_party_id', 'text', (c) => c.notNull())
        .addColumn('body', t.binary, (c) => c.notNull())
        .addColumn('signature', t.binary, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('receipts_package_row_id_idx').on('receipts').column('package_row_id').execute();
      await db.schema.createIndex('receipts_case_id_idx').on('receipts').column('case_id').execute();

      // audit_log.case_id deliberately has no foreign key: the log must outlive
      // (and never block) anything that happens to a case.
      await db.schema
        .createTable('audit_log')
        .addColumn('seq', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('case_id', 'text')
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_case_id_idx').on('audit_log').columns(['case_id', 'seq']).execute();

      await db.schema
        .createTable('case_events')
        .addColumn('id', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement(),
        )
        .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('case_events_case_id_idx').on('case_events').columns(['case_id', 'id']).execute();

      // Append-only at the database level (defence in depth behind the hash chain).
      if (dialect === 'postgres') {
        await sql`
          create function audit_log_append_only() returns trigger language plpgsql as $$
          begin
            raise exception 'audit_log is append-only' using errcode = 'insufficient_privilege';
          end
          $$`.execute(db);
        await sql`create trigger audit_log_append_only before update or delete on audit_log
          for each row execute function audit_log_append_only()`.execute(db);
        await sql`create trigger audit_log_no_truncate before truncate on audit_log
          for each statement execute function audit_log_append_only()`.execute(db);
      } else {
        await sql`create trigger audit_log_no_update before update on audit_log
          begin select raise(abort, 'audit_log is append-only'); end`.execute(db);
        await sql`create trigger audit_log_no_delete before delete on audit_log
          begin select raise(abort, 'audit_log is append-only'); end`.execute(db);
      }
    },
    async down(db: Kysely<any>) {
      for (const table of ['case_events', 'audit_log', 'receipts', 'documents', 'packages', 'cases']) {
        await db.schema.dropTable(table).ifExists().execute();
      }
      if (dialect === 'postgres') await sql`drop function if exists audit_log_append_only()`.execute(db);
    },
  };
}

/**
 * Routing (issue 4): the routing state of a case, and the transactional
 * outbox through which committed work reaches BullMQ.
 */
function m0002Routing(): Migration {
  return {
    async up(db: Kysely<any>) {
      // Incremented whenever a case goes (back) to routing; routing job ids carry it.
      await db.schema
        .alterTable('cases')
        .addColumn('routing_round', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('cases').addColumn('assigned_at', 'text').execute();
      // JSON array of staff ids who declared a conflict (§12 stk. 2) in this case.
      await db.schema
        .alterTable('cases')
        .addColumn('conflicts', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      // JSON: why nobody was eligible (state 'unassigned'), for team leads.
      await db.schema.alterTable('cases').addColumn('routing_note', 'text').execute();

      await db.schema
        .createTable('outbox')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('topic', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        // BullMQ priority (1 = first); 0 = none
        .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('outbox_created_at_idx').on('outbox').columns(['created_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('outbox').ifExists().execute();
      for (const col of ['routing_note', 'conflicts', 'assigned_at', 'routing_round']) {
        await db.schema.alterTable('cases').dropColumn(col).execute();
      }
    },
  };
}

/**
 * Responses and delivery (issue 5): what staff return, and one message per
 * recipient. The envelope around the document is sealed (it names the
 * citizen); the document itself stays in the blob store.
 */
function m0003Responses(dialect: SqlDialect): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('responses')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('author', 'text', (c) => c.notNull())
        // JSON content, sealed: it holds health information about the citizen
        .addColumn('content_enc', t.binary, (c) => c.notNull())
        .addColumn('media_type', 'text', (c) => c.notNull())
        .addColumn('size', t.int64, (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('blob_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('responses_case_id_idx').on('responses').columns(['case_id', 'created_at']).execute();

      await db.schema
        .createTable('messages')
        .addColumn('id', 'text', (c) => c.primaryKey()) // messageId
        .addColumn('response_id', 'text', (c) => c.notNull().references('responses.id'))
        .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        // the party the message is for; null when no system is registered for the GP (state no-recipient-system)
        .addColumn('recipient_party_id', 'text')
        .addColumn('recipient_ydernummer', 'text')
        .addColumn('copy', 'integer', (c) => c.notNull().check(sql`copy in (0, 1)`))
        .addColumn('sent_at', 'text', (c) => c.notNull())
        // 'queued' | 'pushed' | 'acknowledged' | 'dead-lettered' | 'no-recipient-system'
        .addColumn('state', 'text', (c) => c.notNull())
        // the envelope's JSON before and after the document's base64 data, sealed together
        .addColumn('envelope_enc', t.binary, (c) => c.notNull())
        .addColumn('envelope_size', t.int64, (c) => c.notNull())
        .addColumn('envelope_sha256', 'text', (c) => c.notNull())
        .addColumn('signature', t.binary, (c) => c.notNull())
        .addColumn('push_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        // start of the current push series (sent_at; reset when a team lead retries a dead letter)
        .addColumn('push_since', 'text', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('delivered_at', 'text')
        .addColumn('acknowledged_at', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('messages_recipient_idx').on('messages').columns(['recipient_party_id', 'acknowledged_at']).execute();
      await db.schema.createIndex('messages_case_id_idx').on('messages').columns(['case_id']).execute();
      await db.schema.createIndex('messages_state_idx').on('messages').columns(['state']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('messages').ifExists().execute();
      await db.schema.dropTable('responses').ifExists().execute();
    },
  };
}

/**
 * 0004: what the requester asked for beyond the service itself, as JSON
 * (today `preMeetingAdviceRequested`, §6 stk. 1), merged from the manifest
 * and its supplements like the consents.
 */
function m0004CaseRequests(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('cases')
        .addColumn('requests', 'text', (c) => c.notNull().defaultTo('{}'))
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('cases').dropColumn('requests').execute();
    },
  };
}

/** 0005: §25 stk. 3 — a municipality's requests for another health coordinator. */
function m0005CoordinatorChanges(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('coordinator_changes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('municipality_code', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('staff_id', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('requested_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('coordinator_changes_municipality_idx')
        .on('coordinator_changes')
        .columns(['municipality_code'])
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('coordinator_changes').ifExists().execute();
    },
  };
}

/** 0006: consents and agreements as recorded evidence (§13 stk. 3, §5 stk. 2, §10 stk. 3, §11 stk. 5). */
function m0006Consents(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('consents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('case_id', 'text', (c) => c.notNull().references('cases.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('given_by', 'text', (c) => c.notNull())
        .addColumn('given_on', 'text', (c) => c.notNull())
        .addColumn('how', 'text', (c) => c.notNull())
        .addColumn('document_part', 'text')
        .addColumn('recorded_by', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('consents_case_idx').on('consents').columns(['case_id', 'kind']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('consents').ifExists().execute();
    },
  };
}

/**
 * 0007: the GP's copy as a MedCom CareCommunication (issue 12). A message's
 * format ('envelope': our JSON envelope; 'medcom': a FHIR Bundle), how it
 * travels ('party' or 'vans'), the current transmission's envelope id and
 * time (new on every resend; the Bundle stays), the number of transmissions,
 * and the MedCom acknowledgement. Every acknowledgement received is kept,
 * matched or not.
 */
function m0007Medcom(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('messages')
        .addColumn('format', 'text', (c) => c.notNull().defaultTo('envelope'))
        .execute();
      for (const col of ['transport', 'bundle_id', 'envelope_id', 'envelope_sent_at', 'ack_due_at', 'ack_code', 'ack_at']) {
        await db.schema.alterTable('messages').addColumn(col, 'text').execute();
      }
      await db.schema
        .alterTable('messages')
        .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('messages_format_state_idx').on('messages').columns(['format', 'state']).execute();
      await db.schema
        .createTable('medcom_acks')
        // the acknowledgement's own MessageHeader.id: the same acknowledgement twice is one row
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('bundle_id', 'text', (c) => c.notNull())
        .addColumn('received_at', 'text', (c) => c.notNull())
        // the party that handed it over, or 'vans-inbox' for the VANS_INBOX_DIR
        .addColumn('received_from', 'text', (c) => c.notNull())
        // MessageHeader.response.identifier: the MessageHeader.id of the message acknowledged
        .addColumn('response_to', 'text', (c) => c.notNull())
        // 'ok' | 'transient-error' | 'fatal-error'
        .addColumn('code', 'text', (c) => c.notNull())
        // our message, when the acknowledgement matched one
        .addColumn('message_id', 'text')
        // 'applied' | 'duplicate' | 'unknown'
        .addColumn('outcome', 'text', (c) => c.notNull())
        // JSON: the OperationOutcome's issues (codes and texts), when any
        .addColumn('details', 'text')
        .execute();
      await db.schema.createIndex('medcom_acks_outcome_idx').on('medcom_acks').columns(['outcome', 'received_at']).execute();
      await db.schema.createIndex('medcom_acks_message_idx').on('medcom_acks').columns(['message_id']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('medcom_acks').ifExists().execute();
      await db.schema.dropIndex('messages_format_state_idx').ifExists().execute();
      for (const col of [
        'format',
        'transport',
        'bundle_id',
        'envelope_id',
        'envelope_sent_at',
        'ack_due_at',
        'ack_code',
        'ack_at',
        'sends',
      ]) {
        await db.schema.alterTable('messages').dropColumn(col).execute();
      }
    },
  };
}

/**
 * 0008: the staff pages (issue 13). A browser session lives here, not in the
 * process, so every instance sharing the database knows it: the SHA-256 of
 * the cookie's token (the token itself is never stored), the staff member,
 * when it began and was last used (idle and absolute timeouts), its CSRF
 * token, and the IdP's ID token sealed with the master key (the hint for
 * RP-initiated logout). The access log lists audit entries by action, and a
 * worklist finds a person's open cases by (assigned_to, state).
 */
function m0008WebSessions(dialect: SqlDialect): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('web_sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('staff_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('csrf_token', 'text', (c) => c.notNull())
        .addColumn('id_token_enc', t.binary)
        .execute();
      await db.schema.createIndex('web_sessions_last_seen_idx').on('web_sessions').column('last_seen_at').execute();
      await db.schema.createIndex('audit_log_action_idx').on('audit_log').columns(['action', 'seq']).execute();
      // a person's worklist: their open cases, looked up directly
      await db.schema.createIndex('cases_assigned_to_state_idx').on('cases').columns(['assigned_to', 'state']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('cases_assigned_to_state_idx').ifExists().execute();
      await db.schema.dropIndex('audit_log_action_idx').ifExists().execute();
      await db.schema.dropTable('web_sessions').ifExists().execute();
    },
  };
}

/**
 * 0009: settlement (issue 14). A month is closed once (§19: the statement is
 * the invoice's basis); each payer's statement of a closed month is stored as
 * it was sent, with its SHA-256 (also in the audit chain), and is never
 * rewritten: later changes become adjustment lines of the next open month.
 */
function m0009Settlements(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('settlement_months')
        .addColumn('month', 'text', (c) => c.primaryKey())
        .addColumn('closed_at', 'text', (c) => c.notNull())
        .addColumn('closed_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('settlement_statements')
        .addColumn('month', 'text', (c) => c.notNull())
        .addColumn('payer', 'text', (c) => c.notNull())
        .addColumn('statement', 'text', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('settlement_statements_pk', ['month', 'payer'])
        .execute();
      // a month's deliveries: responses by the instant they were sent
      await db.schema.createIndex('responses_created_at_idx').on('responses').columns(['created_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('responses_created_at_idx').ifExists().execute();
      await db.schema.dropTable('settlement_statements').ifExists().execute();
      await db.schema.dropTable('settlement_months').ifExists().execute();
    },
  };
}

/**
 * Append-only at the database level: triggers reject UPDATE and DELETE (and TRUNCATE on PostgreSQL). A speed bump for
 * the audit tables, not a defence: whoever can write the database can drop a trigger (src/audit/audit.ts).
 */
async function createAppendOnlyTriggers(db: Kysely<any>, dialect: SqlDialect, table: string): Promise<void> {
  if (dialect === 'postgres') {
    // audit_log_append_only() is 0001's trigger function; its message names audit_log, so a function per table.
    await sql`create function ${sql.id(`${table}_append_only`)}() returns trigger language plpgsql as ${sql.lit(
      `begin raise exception '${table} is append-only' using errcode = 'insufficient_privilege'; end`,
    )}`.execute(db);
    await sql`create trigger ${sql.id(`${table}_append_only`)} before update or delete on ${sql.id(table)}
      for each row execute function ${sql.id(`${table}_append_only`)}()`.execute(db);
    await sql`create trigger ${sql.id(`${table}_no_truncate`)} before truncate on ${sql.id(table)}
      for each statement execute function ${sql.id(`${table}_append_only`)}()`.execute(db);
  } else {
    await sql`create trigger ${sql.id(`${table}_no_update`)} before update on ${sql.id(table)}
      begin select raise(abort, ${sql.lit(`${table} is append-only`)}); end`.execute(db);
    await sql`create trigger ${sql.id(`${table}_no_delete`)} before delete on ${sql.id(table)}
      begin select raise(abort, ${sql.lit(`${table} is append-only`)}); end`.execute(db);
  }
}

/**
 * 0011: a keyed, anchored audit chain (issue 15). `audit_log.mac` holds each
 * entry's HMAC-SHA256 under the key kept outside the database (AUDIT_KEY_FILE);
 * `audit_chain` records where the keyed chain begins: entries with
 * seq > after_seq carry a mac under the key whose id is key_id, entries up to
 * after_seq were written before the key and have none. `audit_anchors`
 * holds the TSA's timestamp token over each anchored head (see
 * src/audit/anchors.ts for the exact bytes). Both are append-only like
 * audit_log.
 */
function m0011AuditAnchors(dialect: SqlDialect): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      // the HMAC of each keyed entry (null for entries written before the key); an added nullable column rewrites no row
      await db.schema.alterTable('audit_log').addColumn('mac', 'text').execute();
      await db.schema
        .createTable('audit_chain')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('after_seq', t.int64, (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_anchors')
        .addColumn('seq', t.int64, (c) => c.primaryKey())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('tsa_url', 'text', (c) => c.notNull())
        .addColumn('gen_time', 'text', (c) => c.notNull())
        .addColumn('serial_number', 'text', (c) => c.notNull())
        .addColumn('token', t.binary, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      for (const table of ['audit_chain', 'audit_anchors']) await createAppendOnlyTriggers(db, dialect, table);
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('audit_log').dropColumn('mac').execute();
      await db.schema.dropTable('audit_anchors').ifExists().execute();
      await db.schema.dropTable('audit_chain').ifExists().execute();
      if (dialect === 'postgres') {
        await sql`drop function if exists audit_anchors_append_only()`.execute(db);
        await sql`drop function if exists audit_chain_append_only()`.execute(db);
      }
    },
  };
}

/**
 * 0010: RFC 3161 timestamps on receipts (issue 15). One row per receipt,
 * inserted in the receipt's own transaction with stamped_at NULL (waiting);
 * the timestamps queue fills in the TSA's token and whole TimeStampResp. The
 * index serves the oldest waiting receipt and the latest stamp (the
 * fail-closed gap). Receipts from before this migration have no row: they
 * were never stamped.
 */
function m0010ReceiptTimestamps(dialect: SqlDialect): Migration {
  const t = types(dialect);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('receipt_timestamps')
        .addColumn('receipt_id', 'text', (c) => c.primaryKey().references('receipts.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('stamped_at', 'text')
        .addColumn('tsa_url', 'text')
        .addColumn('gen_time', 'text')
        .addColumn('serial_number', 'text')
        .addColumn('token', t.binary)
        .addColumn('response', t.binary)
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .execute();
      await db.schema.createIndex('receipt_timestamps_state_idx').on('receipt_timestamps').columns(['stamped_at', 'created_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('receipt_timestamps').ifExists().execute();
    },
  };
}

/**
 * 0013: retention (issue 15, GDPR art. 5(1)(e)). `closed_at`: when the case
 * was closed (cases closed before this migration: their last change, which
 * was the closing); the daily purge counts RETENTION_DAYS_AFTER_CLOSE from
 * it. `hold_*`: a team lead's legal hold (the reason sealed like other free
 * text), which keeps the case from the purge. `purged_at`: when its documents
 * and personal fields were deleted.
 */
function m0013Retention(): Migration {
  return {
    async up(db: Kysely<any>) {
      for (const column of ['closed_at', 'hold_reason', 'hold_by', 'hold_at', 'purged_at']) {
        await db.schema.alterTable('cases').addColumn(column, 'text').execute();
      }
      await db
        .updateTable('cases')
        .set({ closed_at: sql.ref('updated_at') })
        .where('state', '=', 'closed')
        .execute();
      await db.schema.createIndex('cases_retention_idx').on('cases').columns(['state', 'closed_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('cases_retention_idx').ifExists().execute();
      for (const column of ['purged_at', 'hold_at', 'hold_by', 'hold_reason', 'closed_at']) {
        await db.schema.alterTable('cases').dropColumn(column).execute();
      }
    },
  };
}

/**
 * §17 stk. 4: the volume monitoring counts from the gateway's first receipt when that is later than the agreement
 * year's start (a gateway taken into use mid-year holds no record of the cases before it); the first receipt is
 * read hourly and on every request for the volumes, through this index instead of a scan of every case.
 */
function m0014CasesReceivedAt(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('cases_received_at_idx').on('cases').column('received_at').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('cases_received_at_idx').ifExists().execute();
    },
  };
}

/**
 * 0015: the keyed chain's start, sealed (issue 15; found by a review of the audit chain). Whoever could write the
 * database could delete `audit_chain`, or move its `after_seq` past the entries they changed, strip those entries'
 * macs and recompute the SHA-256 links: `audit verify` with the key then passed every entry up to the start as written
 * before the key. `audit_chain_seal.mac` is HMAC-SHA256 under the audit key over the start (src/audit/chain.ts
 * auditChainSeal), which nobody without the key can make for another start. Append-only like the other audit tables.
 *
 * A database keyed before this migration is sealed here, which needs the key (`auditKey`): the gateway passes it; a
 * command opened without it (`audit verify` against a database the gateway has not opened since the upgrade) stops
 * with a message saying so, like 0012 without the master key.
 */
function m0015AuditChainSeal(dialect: SqlDialect, auditKey: AuditKey | undefined): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('audit_chain_seal')
        .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
        .addColumn('mac', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await createAppendOnlyTriggers(db, dialect, 'audit_chain_seal');
      const start = (await db.selectFrom('audit_chain').select(['after_seq', 'key_id']).where('id', '=', 1).executeTakeFirst()) as
        { after_seq: number | string; key_id: string } | undefined;
      if (!start) return; // not keyed yet: the row and its seal are written together when a key first meets the database
      if (!auditKey) {
        throw new Error(
          "0015_audit_chain_seal: this database's audit chain is keyed; sealing its start needs the audit key (AUDIT_KEY_FILE). " +
            'Start the gateway once (it holds the key), then run this command again',
        );
      }
      if (auditKey.id !== start.key_id) {
        throw new Error(
          `0015_audit_chain_seal: the audit chain is keyed with key ${start.key_id}, but the key file holds key ${auditKey.id}; ` +
            'start with the key file the chain was begun with (restore it from its backup)',
        );
      }
      const mac = auditChainSeal(auditKey.key, Number(start.after_seq), start.key_id);
      await db.insertInto('audit_chain_seal').values({ id: 1, mac, created_at: new Date().toISOString() }).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('audit_chain_seal').ifExists().execute();
      if (dialect === 'postgres') await sql`drop function if exists audit_chain_seal_append_only()`.execute(db);
    },
  };
}

/**
 * `fields`: the personal-field sealer of the master key, for 0012_sealed_fields (which refuses clear values without it);
 * `auditKey`: for 0015_audit_chain_seal (which refuses to leave a keyed chain's start unsealed without it).
 */
export function createMigrationProvider(
  dialect: SqlDialect,
  ctx: { fields?: FieldSealer | undefined; auditKey?: AuditKey | undefined } = {},
): MigrationProvider {
  return {
    async getMigrations() {
      return {
        '0001_initial': m0001Initial(dialect),
        '0002_routing': m0002Routing(),
        '0003_responses': m0003Responses(dialect),
        '0004_case_requests': m0004CaseRequests(),
        '0005_coordinator_changes': m0005CoordinatorChanges(),
        '0006_consents': m0006Consents(),
        '0007_medcom': m0007Medcom(),
        '0008_web_sessions': m0008WebSessions(dialect),
        '0009_settlements': m0009Settlements(),
        '0010_receipt_timestamps': m0010ReceiptTimestamps(dialect),
        '0011_audit_anchors': m0011AuditAnchors(dialect),
        [SEALED_FIELDS_MIGRATION]: m0012SealedFields(ctx.fields),
        '0013_retention': m0013Retention(),
        '0014_cases_received_at': m0014CasesReceivedAt(),
        [AUDIT_CHAIN_SEAL_MIGRATION]: m0015AuditChainSeal(dialect, ctx.auditKey),
      };
    },
  };
}
