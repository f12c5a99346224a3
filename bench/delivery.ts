/**
 * Delivery benchmark for bench/run.ts: time from an accepted response (the
 * specialist's 201) to the message being readable in both mailboxes — the
 * municipality's and the GP system's copy (§15 stk. 2) — with many responses
 * returned at once.
 *
 * The caller starts a gateway child connected to Redis (cases are routed
 * through the outbox, the relay and the BullMQ routing queue; each response
 * queues push-delivery jobs) and hands over how to post one case and one
 * response. Here:
 *
 * 1. `warmup + responses` cases are posted (bounded concurrency) and awaited
 *    in the specialists' worklists (`GET /v1/worklist`, polled back to back);
 *    the specialist whose worklist lists a case is its assignee. The worklist
 *    polling stops before anything is measured;
 * 2. the mailboxes of the two recipients (`GET /v1/mailbox`) are polled back
 *    to back, one keep-alive connection each, for the rest of the run; each
 *    message id gets the client's Date.now() of the first answer that lists it;
 * 3. `warmup` responses are posted and awaited in both mailboxes (not measured);
 * 4. `responses` responses are posted at once (`concurrency` requests in
 *    flight, a fresh keep-alive agent per specialist); per response the start
 *    is the client's Date.now() when the 201 had arrived;
 * 5. latency per response = the later of its two messages' first appearance
 *    in a mailbox list − that 201 arrival (clamped at 0 when a poll saw the
 *    messages before the 201 reached the client: the gateway commits before it
 *    answers). It includes up to one mailbox poll round trip;
 * 6. stricter: every `verifyEvery`-th measured response has both envelopes
 *    read (`GET /v1/mailbox/{id}`, own connections, concurrently) as soon as
 *    they are listed: 200, a Message-Signature, JSON naming the message, case, sentAt,
 *    recipient, and a document whose base64 data has the PDF's SHA-256.
 *
 * `dispatchedFromLog` adds a breakdown from the gateway's JSON log (the time
 * of its "response dispatched" line, right after the commit, per response).
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import { get, logTimes, type HttpResult } from './lib.js';
import { explainMissing, type TlsCreds } from './routing.js';

export interface PostedResponse {
  responseId: string;
  caseId: string;
  /** the 201's sentAt (ISO 8601) */
  sentAt: string;
  messages: { messageId: string; to: string | null; copy: boolean; state: string }[];
}

export interface DeliveryRunOptions {
  port: number;
  /** posts one complete case over `agent`; its caseId (throws on anything but a valid 201) */
  postCase(agent: https.Agent): Promise<string>;
  /** posts the assignee's response to `caseId` over `agent` (the answer as it came) */
  postResponse(agent: https.Agent, caseId: string): Promise<HttpResult>;
  /** SHA-256 (hex) of the document postResponse sends, to check the envelopes */
  documentSha256: string;
  senderCreds: TlsCreds;
  /** specialists (party id → client credentials) among whom the cases are assigned */
  specialists: Record<string, TlsCreds>;
  /** a team lead, only to explain cases that were never assigned */
  lead?: TlsCreds;
  /** the response's addressee (the case's sender) and the party that gets the copy */
  recipient: { id: string; creds: TlsCreds };
  copyRecipient: { id: string; creds: TlsCreds };
  /** measured responses; as many cases plus `warmup` are created */
  responses: number;
  warmup: number;
  /** cases in flight while they are created */
  caseConcurrency: number;
  /** responses in flight during the burst */
  concurrency: number;
  /** read both envelopes of every n-th measured response */
  verifyEvery: number;
  /** give up on a phase (assignment, warm-up, burst) this long after it started */
  timeoutMs: number;
  /** agents are registered so that the caller's cleanup can destroy them */
  track(agent: https.Agent): void;
  untrack(agent: https.Agent): void;
  progress(s: string): void;
  interrupted(): boolean;
  /** around the measured burst (e.g. CPU profile of the gateway) */
  onBurstStart?(): Promise<unknown>;
  onBurstEnd?(): Promise<unknown>;
}

export interface DeliveredResponse {
  caseId: string;
  responseId: string;
  /** the specialist who responded */
  by: string;
  /** epoch ms: the 201's sentAt, the request's start and the 201's arrival at the client */
  sentAt: number;
  startedAt: number;
  answeredAt: number;
  /** epoch ms of the first mailbox list that named the message, in the recipient's and in the copy recipient's mailbox */
  recipientSeenAt: number;
  copySeenAt: number;
  messageIds: { recipient: string; copy: string };
  /** the messages' states in the 201 */
  states: string[];
}

export interface EnvelopeRead {
  messageId: string;
  party: string;
  /** epoch ms when the envelope had been read whole (and checked) */
  readAt: number;
  /** the 201 arrival of its response */
  answeredAt: number;
  /** GET round trip, ms */
  ms: number;
  bytes: number;
}

export interface DeliveryMeasurement {
  responses: DeliveredResponse[];
  reads: EnvelopeRead[];
  /** burst start → last message seen in a mailbox, ms */
  wallMs: number;
  /** mailbox poll round trips during the burst, ms, per party */
  pollMs: Record<string, number[]>;
  /** how many cases each specialist had (all cases, warm-up included) */
  perSpecialist: Record<string, number>;
  /** creating the cases, and from the first case posted to all assigned, ms */
  casesMs: number;
  assignedMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Item = Record<string, unknown>;

/**
 * Back-to-back GETs of a list endpoint (`{ items: [...] }`), one loop and one
 * keep-alive connection per party; `onItems` gets each answer's items with the
 * client's Date.now() at its arrival.
 */
function startListPolling(
  opts: DeliveryRunOptions,
  path: string,
  parties: Record<string, TlsCreds>,
  onItems: (party: string, items: Item[], at: number) => void,
) {
  let stopped = false;
  let failure: Error | undefined;
  let pollMs: Record<string, number[]> = {};
  const agents: https.Agent[] = [];
  const loop = async (party: string, creds: TlsCreds) => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...creds });
    agents.push(agent);
    opts.track(agent);
    try {
      while (!stopped && !opts.interrupted()) {
        const r = await get({ agent, port: opts.port, path, timeoutMs: 30_000 });
        const at = Date.now();
        if (r.status !== 200) throw new Error(`GET ${path} as ${party} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
        const body = JSON.parse(r.body.toString('utf8')) as { items?: unknown };
        if (!Array.isArray(body.items))
          throw new Error(`GET ${path} as ${party}: no items array in ${r.body.toString('utf8').slice(0, 300)}`);
        onItems(party, body.items as Item[], at);
        (pollMs[party] ??= []).push(r.ms);
      }
    } catch (e) {
      if (!stopped) failure ??= e as Error;
    }
  };
  const loops = Promise.all(Object.entries(parties).map(([id, c]) => loop(id, c)));
  return {
    failure: () => failure,
    /** round trips since the last call, per party */
    takePollMs(): Record<string, number[]> {
      const p = pollMs;
      pollMs = {};
      return p;
    },
    async stop(): Promise<void> {
      stopped = true;
      await loops;
      for (const a of agents) {
        a.destroy();
        opts.untrack(a);
      }
    },
  };
}

/** Resolves when `done()` holds; throws on `failure()`, an interrupt, or after `deadline` (with `why()`'s text). */
async function until(
  opts: DeliveryRunOptions,
  done: () => boolean,
  failure: () => Error | undefined,
  deadline: number,
  why: () => Promise<string>,
): Promise<void> {
  for (;;) {
    const f = failure();
    if (f) throw f;
    if (opts.interrupted()) throw new Error('interrupted');
    if (done()) return;
    if (Date.now() > deadline) throw new Error(await why());
    await sleep(5);
  }
}

/** Runs `task(i)` for i < n with at most `concurrency` in flight; stops starting new ones after a failure. */
async function pool<T>(opts: DeliveryRunOptions, n: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && !opts.interrupted() && next < n) {
      const i = next++;
      try {
        out[i] = await task(i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  if (opts.interrupted()) throw new Error('interrupted');
  return out;
}

/** Checks a response's 201 and reads it: two messages, to the recipient and a copy to the copy recipient, one sentAt. */
function parseResponse(opts: DeliveryRunOptions, caseId: string, r: HttpResult): PostedResponse {
  const text = () => r.body.toString('utf8').slice(0, 500);
  if (r.status !== 201) throw new Error(`response to case ${caseId}: gateway answered ${r.status}: ${text()}`);
  const b = JSON.parse(r.body.toString('utf8')) as Partial<PostedResponse>;
  if (
    typeof b.responseId !== 'string' ||
    b.caseId !== caseId ||
    typeof b.sentAt !== 'string' ||
    !Number.isFinite(Date.parse(b.sentAt)) ||
    !Array.isArray(b.messages)
  ) {
    throw new Error(`response to case ${caseId}: unexpected 201 body ${text()}`);
  }
  const to = b.messages.filter((m) => m.to === opts.recipient.id && m.copy === false);
  const copy = b.messages.filter((m) => m.to === opts.copyRecipient.id && m.copy === true);
  if (b.messages.length !== 2 || to.length !== 1 || copy.length !== 1 || b.messages.some((m) => typeof m.messageId !== 'string')) {
    throw new Error(
      `response to case ${caseId}: expected one message to ${opts.recipient.id} and a copy to ${opts.copyRecipient.id}, got ${JSON.stringify(b.messages)}`,
    );
  }
  return b as PostedResponse;
}

interface Listed {
  at: number;
  party: string;
  caseId: unknown;
  kind: unknown;
  copy: unknown;
  sentAt: unknown;
}

interface Posted {
  response: PostedResponse;
  by: string;
  startedAt: number;
  answeredAt: number;
}

/**
 * Readers of the envelopes of sampled messages: a sampled message's envelope
 * is fetched as soon as it has appeared in its recipient's list (a 5 ms
 * scan), each read on its own request (a keep-alive agent per mailbox, up to
 * `READ_SOCKETS` in flight), so that no read waits for another.
 */
const READ_SOCKETS = 8;

interface SampledMessage {
  messageId: string;
  party: string;
  caseId: string;
  sentAt: string;
  copy: boolean;
  answeredAt: number;
}

function startReaders(opts: DeliveryRunOptions, seen: Map<string, Listed>) {
  let stopped = false;
  let failure: Error | undefined;
  let waiting: SampledMessage[] = [];
  let inFlight = 0;
  const reads: EnvelopeRead[] = [];
  const agents = new Map<string, https.Agent>();
  for (const { id, creds } of [opts.recipient, opts.copyRecipient]) {
    const a = new https.Agent({ keepAlive: true, maxSockets: READ_SOCKETS, ...creds });
    agents.set(id, a);
    opts.track(a);
  }

  const read = async (q: SampledMessage): Promise<void> => {
    const what = `GET /v1/mailbox/${q.messageId} as ${q.party}`;
    const r = await get({
      agent: agents.get(q.party)!,
      port: opts.port,
      path: `/v1/mailbox/${encodeURIComponent(q.messageId)}`,
      timeoutMs: 30_000,
    });
    const readAt = Date.now();
    if (r.status !== 200) throw new Error(`${what} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    const sig = r.headers['message-signature'];
    if (typeof sig !== 'string' || sig.length === 0) throw new Error(`${what}: no Message-Signature`);
    if (r.headers['content-length'] !== String(r.body.length))
      throw new Error(`${what}: Content-Length ${r.headers['content-length']}, body ${r.body.length} bytes`);
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new Error(`${what}: the envelope is not JSON: ${r.body.toString('utf8').slice(0, 200)}`);
    }
    const sha = (b64: unknown) =>
      typeof b64 === 'string' ? createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex') : undefined;
    let wrong: (string | false)[];
    if (parsed.resourceType === 'Bundle') {
      // The GP's copy: a MedCom CareCommunication (MessageHeader.id, Communication.sent, the PDF attachment).
      const resources = ((parsed.entry ?? []) as { resource: Record<string, unknown> }[]).map((e) => e.resource);
      const communication = resources.find((x) => x.resourceType === 'Communication') as
        { sent?: unknown; payload?: { contentAttachment?: { data?: unknown } }[] } | undefined;
      const attachment = communication?.payload?.find((p) => p.contentAttachment)?.contentAttachment;
      wrong = [
        resources[0]?.id !== q.messageId && `MessageHeader.id ${String(resources[0]?.id)}`,
        communication?.sent !== q.sentAt && `Communication.sent ${String(communication?.sent)} (the 201 said ${q.sentAt})`,
        !q.copy && 'a Bundle where the JSON envelope belongs',
        sha(attachment?.data) !== opts.documentSha256 && 'the attachment (its SHA-256 is not the PDF’s)',
      ];
    } else {
      const env = parsed as {
        messageId?: unknown;
        caseId?: unknown;
        sentAt?: unknown;
        copy?: unknown;
        to?: { partyId?: unknown };
        document?: { sha256?: unknown; data?: unknown };
      };
      wrong = [
        env.messageId !== q.messageId && `messageId ${String(env.messageId)}`,
        env.caseId !== q.caseId && `caseId ${String(env.caseId)}`,
        env.sentAt !== q.sentAt && `sentAt ${String(env.sentAt)} (the 201 said ${q.sentAt})`,
        env.copy !== q.copy && `copy ${String(env.copy)}`,
        env.to?.partyId !== q.party && `to ${String(env.to?.partyId)}`,
        env.document?.sha256 !== opts.documentSha256 && `document.sha256 ${String(env.document?.sha256)}`,
        sha(env.document?.data) !== opts.documentSha256 && 'document.data (its SHA-256 is not the PDF’s)',
      ];
    }
    const problems = wrong.filter((x): x is string => typeof x === 'string');
    if (problems.length > 0) throw new Error(`${what}: the message has ${problems.join(', ')}`);
    reads.push({ messageId: q.messageId, party: q.party, readAt, answeredAt: q.answeredAt, ms: r.ms, bytes: r.body.length });
  };

  const scan = (async () => {
    while (!stopped && !opts.interrupted()) {
      const ready = waiting.filter((q) => seen.has(q.messageId));
      if (ready.length > 0) {
        waiting = waiting.filter((q) => !seen.has(q.messageId));
        for (const q of ready) {
          inFlight++;
          read(q).then(
            () => inFlight--,
            (e: unknown) => {
              inFlight--;
              if (!stopped) failure ??= e as Error;
            },
          );
        }
      }
      await sleep(5);
    }
  })();

  return {
    failure: () => failure,
    reads,
    /** reads both envelopes of `p` once they are listed */
    add(p: Posted): void {
      for (const m of p.response.messages) {
        waiting.push({
          messageId: m.messageId,
          party: m.to!,
          caseId: p.response.caseId,
          sentAt: p.response.sentAt,
          copy: m.copy,
          answeredAt: p.answeredAt,
        });
      }
    },
    /** sampled envelopes not yet read whole (waiting to be listed, or being read) */
    pending: () => waiting.length + inFlight,
    async stop(): Promise<void> {
      stopped = true;
      await scan;
      for (const a of agents.values()) {
        a.destroy();
        opts.untrack(a);
      }
    },
  };
}

export async function measureDelivery(opts: DeliveryRunOptions): Promise<DeliveryMeasurement> {
  const total = opts.warmup + opts.responses;

  // 1. Cases, and who they were assigned to.
  const assignee = new Map<string, string>();
  const worklists = startListPolling(opts, '/v1/worklist', opts.specialists, (party, items) => {
    for (const it of items) if (typeof it.caseId === 'string' && !assignee.has(it.caseId)) assignee.set(it.caseId, party);
  });
  let caseIds: string[];
  let casesMs: number;
  let assignedMs: number;
  try {
    opts.progress(`delivery: posting ${total} clinical-assessment cases (${opts.caseConcurrency} at a time)`);
    const sender = new https.Agent({ keepAlive: true, maxSockets: opts.caseConcurrency, ...opts.senderCreds });
    opts.track(sender);
    const c0 = Date.now();
    try {
      caseIds = await pool(opts, total, opts.caseConcurrency, () => opts.postCase(sender));
    } finally {
      sender.destroy();
      opts.untrack(sender);
    }
    casesMs = Date.now() - c0;
    if (new Set(caseIds).size !== caseIds.length) throw new Error('delivery: two receipts named the same case');
    const a0 = Date.now();
    await until(
      opts,
      () => caseIds.every((id) => assignee.has(id)),
      worklists.failure,
      a0 + opts.timeoutMs,
      async () => {
        const missing = caseIds.filter((id) => !assignee.has(id));
        return (
          `delivery: ${missing.length} of ${caseIds.length} cases did not appear in the worklist of ${Object.keys(opts.specialists).join(' or ')} ` +
          `within ${Math.round(opts.timeoutMs / 1000)} s.` +
          (await explainMissing(opts, missing))
        );
      },
    );
    assignedMs = Date.now() - c0;
  } finally {
    await worklists.stop();
  }
  const perSpecialist: Record<string, number> = {};
  for (const id of caseIds) perSpecialist[assignee.get(id)!] = (perSpecialist[assignee.get(id)!] ?? 0) + 1;
  opts.progress(
    `delivery: ${total} cases posted in ${casesMs} ms, all assigned after ${assignedMs} ms (${Object.entries(perSpecialist)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
  );

  // 2. The mailboxes, polled from here on.
  const seen = new Map<string, Listed>();
  const mailboxes = startListPolling(
    opts,
    '/v1/mailbox',
    { [opts.recipient.id]: opts.recipient.creds, [opts.copyRecipient.id]: opts.copyRecipient.creds },
    (party, items, at) => {
      for (const it of items) {
        if (typeof it.messageId === 'string' && !seen.has(it.messageId))
          seen.set(it.messageId, { at, party, caseId: it.caseId, kind: it.kind, copy: it.copy, sentAt: it.sentAt });
      }
    },
  );
  const readers = startReaders(opts, seen);
  const failure = () => mailboxes.failure() ?? readers.failure();
  const bothSeen = (p: Posted) => p.response.messages.every((m) => seen.has(m.messageId));

  /** Posts the responses to `ids`, `concurrency` in flight, over a fresh keep-alive agent per specialist. */
  const respond = async (ids: string[], onAnswer?: (p: Posted, i: number) => void): Promise<Posted[]> => {
    const agents = new Map<string, https.Agent>();
    for (const [id, creds] of Object.entries(opts.specialists)) {
      const a = new https.Agent({ keepAlive: true, maxSockets: opts.concurrency, ...creds });
      opts.track(a);
      agents.set(id, a);
    }
    try {
      return await pool(opts, ids.length, opts.concurrency, async (i) => {
        const caseId = ids[i]!;
        const by = assignee.get(caseId)!;
        const startedAt = Date.now();
        const r = await opts.postResponse(agents.get(by)!, caseId);
        const answeredAt = Date.now();
        const p: Posted = { response: parseResponse(opts, caseId, r), by, startedAt, answeredAt };
        onAnswer?.(p, i);
        return p;
      });
    } finally {
      for (const a of agents.values()) {
        a.destroy();
        opts.untrack(a);
      }
    }
  };
  const awaitDelivered = (posted: Posted[], what: string, t0: number) =>
    until(
      opts,
      () => posted.every(bothSeen),
      failure,
      t0 + opts.timeoutMs,
      async () => {
        const missing = posted.filter((p) => !bothSeen(p));
        const where = missing[0]!.response.messages.map((m) => `${m.to}: ${seen.has(m.messageId) ? 'listed' : 'not listed'}`).join(', ');
        return (
          `delivery: ${missing.length} of ${posted.length} ${what} responses were not in both mailboxes ` +
          `within ${Math.round(opts.timeoutMs / 1000)} s (first: case ${missing[0]!.response.caseId}, ${where})`
        );
      },
    );

  try {
    // 3. Warm-up.
    opts.progress(`delivery: ${opts.warmup} warm-up responses`);
    const w0 = Date.now();
    const warm = await respond(caseIds.slice(0, opts.warmup));
    await awaitDelivered(warm, 'warm-up', w0);

    // Let the gateway settle (push jobs of the warm-up, relay) before the burst.
    await sleep(500);
    await opts.onBurstStart?.();
    opts.progress(`delivery: posting ${opts.responses} responses at once (${opts.concurrency} in flight)`);
    mailboxes.takePollMs();
    const t0 = Date.now();
    // 4. The burst; every verifyEvery-th response's envelopes are read as soon as they are listed.
    const posted = await respond(caseIds.slice(opts.warmup), (p, i) => {
      if (i % opts.verifyEvery === 0) readers.add(p);
    });
    await awaitDelivered(posted, 'measured', t0);
    const wallMs = Date.now() - t0;
    const pollMs = mailboxes.takePollMs();
    await until(
      opts,
      () => readers.pending() === 0,
      failure,
      Date.now() + opts.timeoutMs,
      async () => `delivery: ${readers.pending()} sampled envelopes were not read within ${Math.round(opts.timeoutMs / 1000)} s`,
    );
    await opts.onBurstEnd?.();

    // The mailbox lists must agree with the 201s.
    const responses = posted.map((p): DeliveredResponse => {
      const r = p.response;
      const at: Record<string, number> = {};
      for (const m of r.messages) {
        const s = seen.get(m.messageId)!;
        const wrong = [
          s.party !== m.to && `listed for ${s.party}`,
          s.caseId !== r.caseId && `caseId ${String(s.caseId)}`,
          s.kind !== 'specialist-attest' && `kind ${String(s.kind)}`,
          s.copy !== m.copy && `copy ${String(s.copy)}`,
          s.sentAt !== r.sentAt && `sentAt ${String(s.sentAt)} (the 201 said ${r.sentAt})`,
        ].filter((x): x is string => typeof x === 'string');
        if (wrong.length > 0)
          throw new Error(`delivery: mailbox item for message ${m.messageId} (case ${r.caseId}, to ${m.to}): ${wrong.join(', ')}`);
        at[m.to!] = s.at;
      }
      const idOf = (to: string) => r.messages.find((m) => m.to === to)!.messageId;
      return {
        caseId: r.caseId,
        responseId: r.responseId,
        by: p.by,
        sentAt: Date.parse(r.sentAt),
        startedAt: p.startedAt,
        answeredAt: p.answeredAt,
        recipientSeenAt: at[opts.recipient.id]!,
        copySeenAt: at[opts.copyRecipient.id]!,
        messageIds: { recipient: idOf(opts.recipient.id), copy: idOf(opts.copyRecipient.id) },
        states: r.messages.map((m) => m.state),
      };
    });
    return { responses, reads: [...readers.reads], wallMs, pollMs, perSpecialist, casesMs, assignedMs };
  } finally {
    await readers.stop();
    await mailboxes.stop();
  }
}

/** Epoch ms of the gateway's "response dispatched" log line (right after the response's commit) per response id; responses without one are absent. */
export const dispatchedFromLog = (logFile: string): Map<string, number> => logTimes(logFile, 'response dispatched', 'responseId');
