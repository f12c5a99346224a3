/**
 * The mailbox (API.md "Receiving documents"): a party pulls its messages.
 * `GET /v1/mailbox` lists the caller's unacknowledged messages;
 * `GET /v1/mailbox/{id}` streams the envelope's exact signed bytes with
 * `Message-Signature`; `POST /v1/mailbox/{id}/ack` confirms receipt.
 * Only the addressee sees a message; for anyone else it does not exist.
 */
import { Router, type Request } from 'express';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import type { BlobStore } from '../storage/blobs.js';
import type { MessagesTable } from '../storage/schema.js';
import type { Selectable } from 'kysely';
import { openSmall } from '../storage/crypto.js';
import { appendAudit } from '../audit/audit.js';
import { badRequest, conflict, forbidden, notFound, unavailable } from '../shared/problem.js';
import { isStaff, isTeamLead } from '../routing/service.js';
import { envelopeStream, type EnvelopeParts } from './envelope.js';

type MessageRow = Selectable<MessagesTable>;

export interface MailboxDeps {
  db: Db;
  blobs: BlobStore;
  masterKey: Buffer;
  log: Logger;
  now?: () => Date;
  delivery?: { retryDeadLetter(messageId: string, leadId: string): Promise<boolean> };
}

export function createMailboxRouter(deps: MailboxDeps): Router {
  const router = Router();
  const db = deps.db.db;
  const now = deps.now ?? (() => new Date());

  async function own(req: Request): Promise<MessageRow> {
    const id = String(req.params.messageId);
    const m = await db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
    if (!m || m.recipient_party_id === null || m.recipient_party_id !== req.party!.id)
      throw notFound(`no message ${id} for ${req.party!.id}`);
    return m;
  }

  // Team leads: messages that did not reach their recipient and need a person.
  router.get('/v1/messages', async (req, res) => {
    if (!isStaff(req.party) || !isTeamLead(req.party))
      throw forbidden('listing undelivered messages is for team leads', 'wrong-party-kind');
    const state = req.query.state;
    if (state !== 'no-recipient-system' && state !== 'dead-lettered') {
      throw badRequest('state must be no-recipient-system or dead-lettered', [
        { path: 'state', message: 'no-recipient-system or dead-lettered' },
      ]);
    }
    const rows = await db
      .selectFrom('messages')
      .select(['id', 'case_id', 'kind', 'copy', 'sent_at', 'recipient_party_id', 'recipient_ydernummer', 'push_attempts', 'last_error'])
      .where('state', '=', state)
      .orderBy('sent_at')
      .execute();
    res.json({
      items: rows.map((r) => ({
        messageId: r.id,
        caseId: r.case_id,
        kind: r.kind,
        copy: r.copy === 1,
        sentAt: r.sent_at,
        to: r.recipient_party_id,
        ydernummer: r.recipient_ydernummer,
        pushAttempts: Number(r.push_attempts),
        lastError: r.last_error,
      })),
    });
  });

  // Team leads: send a dead-lettered message again (a new retry period starts).
  router.post('/v1/messages/:messageId/retry', async (req, res) => {
    if (!isStaff(req.party) || !isTeamLead(req.party)) throw forbidden('retrying messages is for team leads', 'wrong-party-kind');
    const id = String(req.params.messageId);
    const m = await db.selectFrom('messages').select(['id', 'state']).where('id', '=', id).executeTakeFirst();
    if (!m) throw notFound(`no message ${id}`);
    if (m.state !== 'dead-lettered')
      throw conflict(`message ${id} is ${m.state}; only a dead-lettered message is retried`, 'message-state');
    if (!deps.delivery) throw unavailable('push delivery is not running (no Redis or no push client certificate)');
    if (!(await deps.delivery.retryDeadLetter(id, req.party.id))) throw conflict(`message ${id} changed meanwhile`, 'message-state');
    res.status(202).json({ messageId: id, state: 'queued' });
  });

  router.get('/v1/mailbox', async (req, res) => {
    const rows = await db
      .selectFrom('messages')
      .select(['id', 'case_id', 'kind', 'copy', 'sent_at'])
      .where('recipient_party_id', '=', req.party!.id)
      .where('acknowledged_at', 'is', null)
      .orderBy('sent_at')
      .orderBy('id')
      .execute();
    res.json({ items: rows.map((r) => ({ messageId: r.id, caseId: r.case_id, kind: r.kind, copy: r.copy === 1, sentAt: r.sent_at })) });
  });

  router.get('/v1/mailbox/:messageId', async (req, res) => {
    const m = await own(req);
    const response = await db.selectFrom('responses').select(['blob_key']).where('id', '=', m.response_id).executeTakeFirstOrThrow();
    const parts = JSON.parse(openSmall(deps.masterKey, Buffer.from(m.envelope_enc)).toString('utf8')) as EnvelopeParts;
    const document = await deps.blobs.get(response.blob_key);
    await db
      .transaction()
      .execute((trx) =>
        appendAudit(trx, deps.db.dialect, {
          at: now().toISOString(),
          actor: req.party!.id,
          action: 'message-read',
          caseId: m.case_id,
          details: { messageId: m.id },
        }),
      );
    res.status(200);
    res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', String(m.envelope_size));
    res.setHeader('message-signature', Buffer.from(m.signature).toString('base64'));
    res.setHeader('cache-control', 'no-store');
    try {
      await pipeline(envelopeStream(parts, document), res);
    } catch (err) {
      deps.log.warn({ err, messageId: m.id }, 'message stream ended early');
      res.destroy();
    }
  });

  router.post('/v1/mailbox/:messageId/ack', async (req, res) => {
    const m = await own(req);
    const at = now().toISOString();
    if (m.acknowledged_at === null) {
      await db.transaction().execute(async (trx) => {
        const r = await trx
          .updateTable('messages')
          .set({ state: 'acknowledged', acknowledged_at: at, delivered_at: m.delivered_at ?? at, updated_at: at })
          .where('id', '=', m.id)
          .where('acknowledged_at', 'is', null)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) return; // acknowledged concurrently
        await trx
          .insertInto('case_events')
          .values({
            case_id: m.case_id,
            at,
            event: 'message-acknowledged',
            actor: req.party!.id,
            data: JSON.stringify({ messageId: m.id }),
          })
          .execute();
        await appendAudit(trx, deps.db.dialect, {
          at,
          actor: req.party!.id,
          action: 'message-acknowledged',
          caseId: m.case_id,
          details: { messageId: m.id },
        });
      });
    }
    const after = await db.selectFrom('messages').select(['state', 'acknowledged_at']).where('id', '=', m.id).executeTakeFirstOrThrow();
    res.json({ messageId: m.id, state: after.state, acknowledgedAt: after.acknowledged_at });
  });

  return router;
}
