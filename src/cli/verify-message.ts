/**
 * `verify-message` command: what a recipient checks on a message envelope
 * fetched from its mailbox (`mailbox get`): the detached CMS signature
 * (Message-Signature) over the envelope's exact bytes, as `verify-receipt`
 * does for receipts, and the document inside it: `document.data` decoded
 * from base64 must have the SHA-256 and size the envelope states. A MedCom
 * CareCommunication (what a GP system gets) carries the document as the
 * Communication's attachment: its data must decode to `Attachment.size`
 * bytes; the SHA-256 printed is of the decoded PDF.
 *
 *   verify-message --message message.json (--signature message.sig.der | --signature-b64 BASE64) [--ca ca.pem …]
 */
import { createHash } from 'node:crypto';
import { parseCommand, usageError, type CommandResult } from './args.js';
import { checkSignature, SIGNATURE_OPTIONS, SIGNATURE_OPTIONS_USAGE, signerLines, type SignatureOptionValues } from './verify.js';

export const VERIFY_MESSAGE_USAGE = `usage: verify-message --message FILE (--signature FILE | --signature-b64 BASE64) [--ca FILE …]

Checks a message envelope from the mailbox: that its bytes are exactly what
the gateway signed, that the signing certificate chains to a trusted CA, and
that the document it carries (document.data, base64) has the SHA-256 and size
stated in document.sha256 and document.size. Exit 0 and "OK" only when all of
this holds; otherwise "FAILED" with the reason(s) and exit 1.

  --message FILE         the envelope as received (exact bytes, message-<id>.json)
${SIGNATURE_OPTIONS_USAGE.replace('<name>', 'message-<id>').replace('the signature header', 'the Message-Signature header')}
  -h, --help             show this help
`;

const STRICT_BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface EnvelopeCheck {
  /** The envelope's descriptive fields, when it is a JSON object. */
  fields: Record<string, unknown> | null;
  /** What is wrong with the document; empty when it matches its sha256 and size. */
  problems: string[];
  /** The document as stated, when it checks out. */
  document?: { mediaType: string; size: number; sha256: string };
}

/** Parses the envelope and checks `document.data` against `document.sha256` and `document.size`. */
function checkEnvelopeDocument(content: Buffer): EnvelopeCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content.toString('utf8'));
  } catch (err) {
    return { fields: null, problems: [`the envelope is not JSON: ${(err as Error).message}`] };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    return { fields: null, problems: ['the envelope is not a JSON object'] };
  const fields = parsed as Record<string, unknown>;
  if (fields.resourceType === 'Bundle') return checkBundleAttachment(fields);
  const doc = fields.document as { mediaType?: unknown; sha256?: unknown; size?: unknown; data?: unknown } | undefined;
  if (!doc || typeof doc !== 'object') return { fields, problems: ['the envelope has no "document"'] };
  const problems: string[] = [];
  if (typeof doc.data !== 'string') problems.push('document.data is missing');
  if (typeof doc.sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(doc.sha256)) problems.push('document.sha256 is not a SHA-256 in hex');
  if (typeof doc.size !== 'number' || !Number.isSafeInteger(doc.size) || doc.size < 0) problems.push('document.size is not a byte count');
  if (problems.length) return { fields, problems };
  const data = doc.data as string;
  const sha256 = (doc.sha256 as string).toLowerCase();
  const size = doc.size as number;
  if (!STRICT_BASE64_RE.test(data)) return { fields, problems: ['document.data is not base64'] };
  const bytes = Buffer.from(data, 'base64');
  if (bytes.toString('base64') !== data) return { fields, problems: ['document.data is not canonical base64'] };
  if (bytes.length !== size) problems.push(`the document is ${bytes.length} bytes, but document.size says ${size}`);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) problems.push(`the document's SHA-256 is ${actual}, but document.sha256 says ${sha256}`);
  if (problems.length) return { fields, problems };
  return { fields, problems, document: { mediaType: typeof doc.mediaType === 'string' ? doc.mediaType : '(no mediaType)', size, sha256 } };
}

/** A MedCom CareCommunication: the PDF attachment of its Communication, against the size it states. */
function checkBundleAttachment(bundle: Record<string, unknown>): EnvelopeCheck {
  const resources = (Array.isArray(bundle.entry) ? bundle.entry : []).map(
    (e) => (e as { resource?: Record<string, unknown> }).resource ?? {},
  );
  const header = resources[0] ?? {};
  const communication = resources.find((r) => r.resourceType === 'Communication');
  const payload = Array.isArray(communication?.payload) ? (communication.payload as { contentAttachment?: Record<string, unknown> }[]) : [];
  const attachment = payload.find((p) => p.contentAttachment)?.contentAttachment;
  const fields = { messageId: header.id, bundleId: bundle.id, kind: 'MedCom CareCommunication', sentAt: communication?.sent };
  if (!attachment || typeof attachment.data !== 'string')
    return { fields, problems: ['the CareCommunication carries no attachment with data'] };
  const data = attachment.data;
  if (!STRICT_BASE64_RE.test(data)) return { fields, problems: ['the attachment data is not base64'] };
  const bytes = Buffer.from(data, 'base64');
  if (typeof attachment.size === 'number' && bytes.length !== attachment.size) {
    return { fields, problems: [`the attachment is ${bytes.length} bytes, but Attachment.size says ${attachment.size}`] };
  }
  const mediaType = typeof attachment.contentType === 'string' ? attachment.contentType : '(no contentType)';
  return { fields, problems: [], document: { mediaType, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') } };
}

export async function verifyMessageCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  const argv = args[0] === 'verify-message' ? args.slice(1) : args;
  const parsed = parseCommand<SignatureOptionValues & { message?: string; help?: boolean }>(
    argv,
    { message: { type: 'string' }, ...SIGNATURE_OPTIONS },
    'verify-message',
    VERIFY_MESSAGE_USAGE,
  );
  if ('done' in parsed) return parsed.done;
  const { values } = parsed;
  if (values.message === undefined) return usageError('verify-message', VERIFY_MESSAGE_USAGE, '--message is required');

  const checked = checkSignature('verify-message', VERIFY_MESSAGE_USAGE, { path: values.message, what: 'message' }, values, env);
  if ('done' in checked) return checked.done;
  const { content, result } = checked;
  const envelope = checkEnvelopeDocument(content);
  const problems = [...(result.ok ? [] : [result.reason]), ...envelope.problems];
  if (!result.ok || problems.length > 0) {
    return { code: 1, stdout: problems.map((p) => `FAILED: ${values.message}: ${p}\n`).join(''), stderr: '' };
  }
  const d = envelope.document!;
  const lines = [`OK: ${values.message}: signature valid, document intact (${d.mediaType}, ${d.size} bytes, sha256 ${d.sha256})`];
  const f = envelope.fields!;
  for (const k of ['messageId', 'bundleId', 'caseId', 'kind', 'sentAt', 'copy'] as const) {
    if (f[k] !== undefined) lines.push(`  ${k}: ${typeof f[k] === 'string' ? f[k] : JSON.stringify(f[k])}`);
  }
  lines.push(...signerLines(result));
  return { code: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
}
