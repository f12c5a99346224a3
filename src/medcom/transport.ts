/**
 * Handing one MedCom message to its transport (called by the delivery
 * queue, queues/delivery.ts):
 * - `party`: POSTed as `application/fhir+json` to the gp-system's push.url
 *   over mTLS with `Message-Id` (MessageHeader.id), `Envelope-Id` (this
 *   transmission) and `Message-Signature` (CMS over the Bundle bytes); a
 *   pull-only party finds it in its mailbox;
 * - `vans`: wrapped in a VANSEnvelope (Data = base64 of the Bundle; Name
 *   MCM:FDIS91#<category>, Version 2.0.0, ServiceTag MCM:MIME
 *   application/fhir+json) and written atomically to VANS_OUTBOX_DIR as
 *   `<envelope id>.xml`, or POSTed over mTLS to VANS_ENDPOINT_URL.
 *
 * The envelope id and sent time belong to the transmission and are fixed
 * before it starts, so a retry of one transmission repeats them (the VANS
 * side sees one envelope); a resend is a new transmission with new ones.
 * Returns how the message went; throws why it did not.
 */
import type { Readable } from 'node:stream';
import { mtlsPost, type PushTls } from '../shared/mtls.js';
import type { MessageRow } from '../delivery/service.js';
import { vansEnvelopeParts, vansEnvelopeSize, vansEnvelopeStream } from './vans.js';
import { postEnvelope, writeEnvelopeToOutbox } from './vans-transport.js';
import type { MedcomParts } from './types.js';

/** Where MedCom messages to `vans` practices go: a directory the VANS provider collects, or its mTLS endpoint. */
export interface VansTransport {
  outboxDir?: string;
  endpointUrl?: string;
}

export interface TransmitContext {
  /** the Bundle's bytes, streamed (head + base64(pdf) + tail) */
  bundle: () => Promise<Readable>;
  parts: MedcomParts;
  /** the gp-system party's push.url, if it has one */
  pushUrl?: string;
  tls?: PushTls;
  vans: VansTransport;
  timeoutMs?: number;
}

export async function transmitMedcom(m: MessageRow, ctx: TransmitContext): Promise<'vans-outbox' | 'vans-endpoint' | 'push' | 'mailbox'> {
  if (m.transport === 'vans') {
    const parts = vansEnvelopeParts({
      envelopeId: m.envelope_id!,
      sentAt: new Date(m.envelope_sent_at!),
      senderEan: ctx.parts.medcom.senderEan,
      receiverEan: ctx.parts.medcom.receiverEan,
      messageId: m.id,
      name: `MCM:FDIS91#${ctx.parts.medcom.category}`,
      version: '2.0.0',
      mime: 'application/fhir+json',
      sizeInBytes: Number(m.envelope_size),
    });
    if (ctx.vans.outboxDir) {
      await writeEnvelopeToOutbox(ctx.vans.outboxDir, m.envelope_id!, vansEnvelopeStream(parts, await ctx.bundle()));
      return 'vans-outbox';
    }
    if (ctx.vans.endpointUrl && ctx.tls) {
      const size = vansEnvelopeSize(parts, Number(m.envelope_size));
      const { status } = await postEnvelope(
        ctx.tls,
        ctx.vans.endpointUrl,
        vansEnvelopeStream(parts, await ctx.bundle()),
        size,
        ctx.timeoutMs,
      );
      if (status < 200 || status >= 300) throw new Error(`VANS endpoint answered HTTP ${status}`);
      return 'vans-endpoint';
    }
    throw new Error('no VANS transport is configured (VANS_OUTBOX_DIR or VANS_ENDPOINT_URL)');
  }
  if (!ctx.pushUrl || !ctx.tls) return 'mailbox';
  const { status } = await mtlsPost(ctx.tls, {
    url: ctx.pushUrl,
    headers: {
      'content-type': 'application/fhir+json',
      'content-length': String(m.envelope_size),
      'message-id': m.id,
      'envelope-id': m.envelope_id!,
      'message-signature': Buffer.from(m.signature).toString('base64'),
    },
    body: await ctx.bundle(),
    timeoutMs: ctx.timeoutMs,
  });
  if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
  return 'push';
}
