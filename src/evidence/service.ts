/**
 * Evidence export (issue 15): one zip file that lets a third party check, for
 * one case and without trusting the gateway, what the gateway received and
 * when, and what it did with the case afterwards.
 *
 *   evidence.json               the index: case, instant, gateway, every file with its SHA-256
 *   README.txt                  how to check each item with openssl (and jq, sha256sum, base64, sed, dd)
 *   receipts/<id>.json          the receipt: exactly the signed bytes
 *   receipts/<id>.sig.der       its detached CMS signature, with the TSA's token as the unsigned
 *                               attribute signatureTimeStampToken once stamped (CAdES-T), as
 *                               GET /v1/receipts/{id} serves it
 *   receipts/<id>.tsr           the TSA's TimeStampResp over SHA-256 of the signature value
 *   audit/entries.jsonl         the case's audit entries with the chain segments that link each
 *                               to its anchored head (the entries in between included whole),
 *                               one per line: {"body","hash","prev_hash","seq"}, body being the
 *                               exact canonical JSON the hash covers; never the macs
 *   audit/anchors/<seq>.head    the head statement "postkasse-audit-head\n<seq>\n<hash>"
 *   audit/anchors/<seq>.tst     the TSA's TimeStampToken over SHA-256 of that statement
 *   documents.json              the digests of the case's documents and responses (never their bytes)
 *   certs/receipt-ca.pem        the CA of the receipt signer \ to compare with the verifier's own trust
 *   certs/tsa-ca.pem            the TSA's CA                 / anchors, never to verify against
 *
 * The export reads only what a retention purge keeps (receipts, timestamps,
 * digests, audit log, anchors), so a purged case exports and verifies as before.
 *
 * Verification reuses the gateway's own checks: receipts with
 * src/receipts/cms.ts verifyDetached, tokens with src/timestamps/client.ts
 * verifyTimestampToken, links with src/audit/audit.ts auditHash, head
 * statements with src/audit/head.ts.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import type { Database } from '../storage/schema.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { auditHash } from '../audit/audit.js';
import { headStatement } from '../audit/head.js';
import { parseTrustAnchors, signatureValue, verifyDetached, withSignatureTimestamp } from '../receipts/cms.js';
import { verifyTimestampToken } from '../timestamps/client.js';
import { parseResponse } from '../timestamps/rfc3161.js';
import { createEvidenceStore, type EvidenceAnchorRow, type EvidenceAuditRow } from './store.js';

export const EVIDENCE_FORMAT = 'postkasse-evidence/1';
export const INDEX_FILE = 'evidence.json';
const README_FILE = 'README.txt';
const ENTRIES_FILE = 'audit/entries.jsonl';
const DOCUMENTS_FILE = 'documents.json';
const RECEIPT_CA_FILE = 'certs/receipt-ca.pem';
const TSA_CA_FILE = 'certs/tsa-ca.pem';
/** no file of an evidence export comes near this; a bigger one is refused before it is inflated */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** The case is unknown, or the evidence cannot be built; the message says which. */
export class EvidenceError extends Error {}

export interface IndexedFile {
  path: string;
  sha256: string;
  size: number;
}

export interface EvidenceIndex {
  format: typeof EVIDENCE_FORMAT;
  caseId: string;
  exportedAt: string;
  gateway: { name: string; receiptSigner: string | null };
  receipts: {
    receiptId: string;
    body: string;
    signature: string;
    timestamp: { response: string; genTime: string; serialNumber: string; tsaUrl: string } | null;
  }[];
  audit: {
    entries: string;
    /** the case's own entries */
    caseEntries: number[];
    /** contiguous runs of the chain in entries.jsonl; `anchors` are the anchored heads inside each run */
    segments: { from: number; to: number; anchors: number[] }[];
    anchors: { seq: number; hash: string; genTime: string; serialNumber: string; tsaUrl: string; head: string; token: string }[];
    /** case entries no anchored head covers yet */
    notYetAnchored: number[];
  };
  documents: string;
  certificates: { receiptCa: string; tsaCa: string };
  files: IndexedFile[];
}

export interface ExportOptions {
  caseId: string;
  /** PEM of the receipt signer's CA (what partners verify receipts against) */
  receiptCaPem: string;
  /** PEM of the TSA's CA */
  tsaCaPem: string;
  /** who exported it, e.g. "Postkasse, <clinical function>" */
  gatewayName: string;
  now?: Date;
}

export interface ExportResult {
  zip: Buffer;
  index: EvidenceIndex;
}

const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The canonical JSON an audit entry's hash covers (the same bytes auditHash hashes). */
function entryBody(e: EvidenceAuditRow): string {
  return canonicalJson({ at: e.at, actor: e.actor, action: e.action, caseId: e.caseId, details: JSON.parse(e.details) as unknown });
}

/** Merges [from, to] ranges that overlap or touch. */
function mergeRanges(ranges: { from: number; to: number }[]): { from: number; to: number }[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const out: { from: number; to: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** Builds the evidence zip of one case. Throws EvidenceError for an unknown case. */
export async function exportEvidence(db: Kysely<Database>, opts: ExportOptions): Promise<ExportResult> {
  const store = createEvidenceStore(db);
  const { caseId } = opts;
  if (!(await store.caseExists(caseId))) throw new EvidenceError(`no case ${caseId}`);
  const exportedAt = (opts.now ?? new Date()).toISOString();
  const files = new Map<string, Buffer>();
  const put = (path: string, bytes: Buffer | string) => files.set(path, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8'));

  // Receipts, each with its signature as served (stamped once the token is there) and the TSA's answer.
  const receipts: EvidenceIndex['receipts'] = [];
  let receiptSigner: string | null = null;
  for (const r of await store.receipts(caseId)) {
    if (!SAFE_NAME.test(r.id)) throw new EvidenceError(`receipt id ${JSON.stringify(r.id)} cannot be a file name`);
    const signature = r.timestamp ? withSignatureTimestamp(r.signature, r.timestamp.token) : r.signature;
    put(`receipts/${r.id}.json`, r.body);
    put(`receipts/${r.id}.sig.der`, signature);
    if (r.timestamp) put(`receipts/${r.id}.tsr`, r.timestamp.response);
    const check = verifyDetached(r.body, r.signature, [opts.receiptCaPem]);
    if (check.ok) receiptSigner ??= check.signer.subject.replace(/\n/g, ', ');
    receipts.push({
      receiptId: r.id,
      body: `receipts/${r.id}.json`,
      signature: `receipts/${r.id}.sig.der`,
      timestamp: r.timestamp
        ? {
            response: `receipts/${r.id}.tsr`,
            genTime: r.timestamp.genTime,
            serialNumber: r.timestamp.serialNumber,
            tsaUrl: r.timestamp.tsaUrl,
          }
        : null,
    });
  }

  // Audit: each case entry with the chain from it to the first anchored head at or after it.
  const caseEntries = await store.auditSeqs(caseId);
  const anchors = new Map<number, EvidenceAnchorRow>();
  const ranges: { from: number; to: number }[] = [];
  const notYetAnchored: number[] = [];
  let current: EvidenceAnchorRow | undefined;
  for (const seq of caseEntries) {
    if (!current || seq > current.seq) current = await store.anchorCovering(seq);
    if (current) {
      anchors.set(current.seq, current);
      ranges.push({ from: seq, to: current.seq });
    } else notYetAnchored.push(seq);
  }
  // The entries after the newest anchored head, linked to each other (a later export links them to their head).
  if (notYetAnchored.length > 0) ranges.push({ from: notYetAnchored[0]!, to: notYetAnchored[notYetAnchored.length - 1]! });
  const lines: string[] = [];
  const segments: EvidenceIndex['audit']['segments'] = [];
  for (const range of mergeRanges(ranges)) {
    const rows = await store.auditRange(range.from, range.to);
    for (const e of rows) lines.push(JSON.stringify({ seq: e.seq, prev_hash: e.prevHash, hash: e.hash, body: entryBody(e) }));
    segments.push({ ...range, anchors: [...anchors.keys()].filter((s) => s >= range.from && s <= range.to).sort((a, b) => a - b) });
  }
  put(ENTRIES_FILE, lines.map((l) => `${l}\n`).join(''));
  const anchorIndex: EvidenceIndex['audit']['anchors'] = [];
  for (const a of [...anchors.values()].sort((x, y) => x.seq - y.seq)) {
    const head = `audit/anchors/${a.seq}.head`;
    const token = `audit/anchors/${a.seq}.tst`;
    put(head, headStatement(a.seq, a.hash));
    put(token, a.token);
    anchorIndex.push({ seq: a.seq, hash: a.hash, genTime: a.genTime, serialNumber: a.serialNumber, tsaUrl: a.tsaUrl, head, token });
  }

  // Digests only: never a document's bytes, title or a response's content.
  const documents = (await store.documents(caseId)).map((d) => ({
    receiptId: d.receipt_id,
    part: d.part,
    type: d.type,
    mediaType: d.media_type,
    size: Number(d.size),
    sha256: d.sha256,
    createdAt: d.created_at,
  }));
  const responses = (await store.responses(caseId)).map((r) => ({
    responseId: r.id,
    kind: r.kind,
    mediaType: r.media_type,
    size: Number(r.size),
    sha256: r.sha256,
    createdAt: r.created_at,
  }));
  put(DOCUMENTS_FILE, `${JSON.stringify({ caseId, documents, responses }, null, 2)}\n`);
  put(RECEIPT_CA_FILE, opts.receiptCaPem);
  put(TSA_CA_FILE, opts.tsaCaPem);

  const partial = {
    format: EVIDENCE_FORMAT,
    caseId,
    exportedAt,
    gateway: { name: opts.gatewayName, receiptSigner },
    receipts,
    audit: { entries: ENTRIES_FILE, caseEntries, segments, anchors: anchorIndex, notYetAnchored },
    documents: DOCUMENTS_FILE,
    certificates: { receiptCa: RECEIPT_CA_FILE, tsaCa: TSA_CA_FILE },
  } satisfies Omit<EvidenceIndex, 'files'>;
  put(README_FILE, readme(partial));
  const indexed: IndexedFile[] = [...files.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, bytes]) => ({ path, sha256: sha256hex(bytes), size: bytes.length }));
  const index: EvidenceIndex = { ...partial, files: indexed };
  put(INDEX_FILE, `${JSON.stringify(index, null, 2)}\n`);

  const mtime = new Date(exportedAt);
  const zippable: Zippable = {};
  for (const [path, bytes] of files) zippable[path] = [new Uint8Array(bytes), { mtime }];
  return { zip: Buffer.from(zipSync(zippable, { level: 6 })), index };
}

// ---------------------------------------------------------------------------- README

/** sed that prints offset, header length and length of each OCTET STRING at depth 5 of `openssl asn1parse` (as docs/municipalities.md) */
const SIGNATURE_VALUE_AT = "sed -n 's/^ *\\([0-9]*\\):d=5 *hl=\\([0-9]*\\) *l= *\\([0-9]*\\) prim: OCTET STRING.*/\\1 \\2 \\3/p'";

function readme(ix: Omit<EvidenceIndex, 'files'>): string {
  const out: string[] = [];
  const p = (...l: string[]) => out.push(...l);
  p(
    `Evidence for case ${ix.caseId}`,
    `exported ${ix.exportedAt} by ${ix.gateway.name}${ix.gateway.receiptSigner ? ` (receipts signed by ${ix.gateway.receiptSigner})` : ''}`,
    '',
    'Every file of this export is listed in evidence.json with its SHA-256. The checks below need only',
    'openssl, jq, sha256sum, base64, sed and dd. Run them in the directory the zip was unpacked into.',
    'Lines indented by four spaces are commands (bash); copy them as they are.',
    '',
    'TRUST ANCHORS. The checks end in two CA certificates, which must be ones you got from their owners:',
    "the region's CA for the receipts and the time-stamping authority's (TSA) CA for the timestamps.",
    'Set RECEIPT_CA and TSA_CA to those files before running the commands below, e.g.',
    'RECEIPT_CA=~/region-ca.pem TSA_CA=~/tsa-ca.pem. certs/receipt-ca.pem and certs/tsa-ca.pem came with',
    'this file and cannot stand in for them: whoever made or altered the file chose them too, and a file',
    'signed and timestamped by a CA of its own verifies against them. They are here to compare: the',
    'fingerprints of each pair should be equal (if not, the file names a CA other than the one you trust):',
    '',
    `    : "\${RECEIPT_CA:?set RECEIPT_CA to the CA certificate (PEM) of the region, not the one in this file}"`,
    `    : "\${TSA_CA:?set TSA_CA to the CA certificate (PEM) of the TSA, not the one in this file}"`,
    '    for f in "$RECEIPT_CA" certs/receipt-ca.pem "$TSA_CA" certs/tsa-ca.pem; do echo "$f: $(openssl x509 -noout -fingerprint -sha256 -in "$f")"; done',
    '',
    '1. THE FILES ARE THOSE LISTED (evidence.json: each file and its SHA-256)',
    '',
    `    jq -r '.files[] | "\\(.sha256)  \\(.path)"' evidence.json | sha256sum -c`,
    '',
  );
  p('2. THE RECEIPTS', '');
  if (ix.receipts.length === 0) p('   (the case has no receipt)', '');
  for (const r of ix.receipts) {
    p(
      `   Receipt ${r.receiptId}:`,
      `   ${r.body} holds exactly the bytes the gateway signed,`,
      `   ${r.signature} its detached CMS signature. "CMS Verification successful" means the receipt`,
      '   is exactly what the gateway signed, with a certificate of the receipt CA ($RECEIPT_CA):',
      '',
      `    openssl cms -verify -binary -inform DER -in ${r.signature} -content ${r.body} -CAfile "$RECEIPT_CA" -out /dev/null`,
      '',
    );
    if (!r.timestamp) {
      p('   This receipt was not yet timestamped when the evidence was exported: export it again later.', '');
      continue;
    }
    p(
      `   Its timestamp: ${r.timestamp.response} is the TSA's answer (TimeStampResp)`,
      "   over the SHA-256 of the signature value (the OCTET STRING at depth 5 of the CMS, the SignerInfo's signature). Take the",
      '   value out with dd, hash it, and let openssl check the answer against that hash and the TSA CA.',
      `   "Verification: OK" means the TSA vouches that the receipt's signature existed at the time it names:`,
      '',
      `    set -- $(openssl asn1parse -inform DER -in ${r.signature} | ${SIGNATURE_VALUE_AT} | tail -n 1)`,
      `    DIGEST=$(dd if=${r.signature} bs=1 skip=$(($1 + $2)) count=$3 2>/dev/null | openssl dgst -sha256 -r | cut -c1-64)`,
      `    openssl ts -verify -digest "$DIGEST" -in ${r.timestamp.response} -CAfile "$TSA_CA"`,
      `    openssl ts -reply -in ${r.timestamp.response} -text | grep -E '^(Status|Time stamp|Serial number):'`,
      '',
    );
  }
  p(
    '3. THE AUDIT ENTRIES AND THEIR ANCHORED HEADS',
    '',
    `   ${ix.audit.entries} holds the case's audit entries (seq ${ix.audit.caseEntries.join(', ') || 'none'}) and, to link each`,
    '   to the timestamped head of the audit chain that covers it, every entry between it and that head,',
    "   whole: also other cases' entries (their case ids, the staff ids and actions; audit entries carry no",
    "   personal data), since each hash covers its entry's body. One entry per line: seq, prev_hash (the hash",
    '   of the entry before), hash, and body: the exact canonical JSON of {at, actor, action, caseId, details} the hash',
    '   covers. Each link is: hash = SHA-256 hex of ( prev_hash + "\\n" + body ), and each entry\'s prev_hash',
    '   is the hash of the entry before it. This recomputes every hash and checks every link; each line',
    '   must say OK:',
    '',
    '    last_seq=; last_hash=',
    "    while IFS=$'\\t' read -r seq prev hash body; do",
    `      got=$( { printf '%s\\n' "$prev"; printf '%s' "$body" | base64 -d; } | sha256sum | cut -c1-64)`,
    `      link=ok; [ -n "$last_seq" ] && [ "$seq" = "$((last_seq + 1))" ] && [ "$prev" != "$last_hash" ] && link=BROKEN`,
    `      if [ "$got" = "$hash" ] && [ "$link" = ok ]; then echo "audit seq $seq: OK"; else echo "audit seq $seq: FAILED (hash $got, link $link)"; fi`,
    `      last_seq=$seq; last_hash=$hash`,
    `    done < <(jq -r '[.seq, .prev_hash, .hash, (.body | @base64)] | @tsv' ${ix.audit.entries})`,
    '',
  );
  if (ix.audit.anchors.length === 0) p('   No anchored head covers these entries yet.', '');
  for (const a of ix.audit.anchors) {
    p(
      `   The head at seq ${a.seq} was timestamped by the TSA (${a.genTime}). ${a.head} holds the`,
      `   head statement "postkasse-audit-head\\n<seq>\\n<hash>" of the entry at seq ${a.seq}; ${a.token} is the TSA's`,
      '   token over its SHA-256. The statement must be the one rebuilt from that entry, and the token must verify over it:',
      '',
      `    HASH=$(jq -r 'select(.seq == ${a.seq}) | .hash' ${ix.audit.entries})`,
      `    printf 'postkasse-audit-head\\n%s\\n%s' ${a.seq} "$HASH" | cmp - ${a.head} && echo "head ${a.seq}: OK"`,
      `    openssl ts -verify -data ${a.head} -in ${a.token} -token_in -CAfile "$TSA_CA"`,
      `    openssl ts -reply -in ${a.token} -token_in -text | grep -E '^(Time stamp|Serial number):'`,
      '',
    );
  }
  if (ix.audit.notYetAnchored.length > 0) {
    p(
      `   NOT YET ANCHORED: seq ${ix.audit.notYetAnchored.join(', ')}. No timestamped head covered these entries`,
      '   when the evidence was exported (the head is timestamped every few minutes): their links check as above,',
      '   but no TSA vouches for them yet. Export again later to have them covered.',
      '',
    );
  }
  p(
    '   An entry changed after its head was timestamped changes its hash and every hash after it, so the',
    '   head statement no longer matches or the token no longer verifies.',
    '',
    '4. THE DOCUMENTS',
    '',
    `   ${ix.documents} lists each document of the case (part, type, media type, size, SHA-256) and each`,
    '   response given (kind, size, SHA-256): digests only, never the documents themselves. A document',
    "   is the one received when its SHA-256 and size equal those in the signed receipt's documents:",
    '',
    `    for r in ${ix.receipts.map((r) => r.body).join(' ') || '/dev/null'}; do jq -c '.documents[] | {part, type, size, sha256}' "$r"; done`,
    '',
    '   Compare with a copy you hold: sha256sum FILE.',
    '',
    "All of the above, in one command, with the gateway's own tool. It needs the same two trust anchors",
    '(it refuses to call the file verified against the certificates inside it) and says whether those are',
    'the ones you gave:',
    '',
    '  npm run cli -- evidence verify FILE.zip --ca REGION-CA.pem --tsa-ca TSA-CA.pem',
    '',
  );
  return out.join('\n');
}

// ---------------------------------------------------------------------------- verification

export interface EvidenceCheck {
  /** ok: checked and holds; note: not a failure, but nothing vouches for it yet; fail: broken */
  status: 'ok' | 'note' | 'fail';
  /** what was checked, e.g. "receipt 7f…", "audit seq 12" */
  item: string;
  detail: string;
}

export interface EvidenceVerification {
  ok: boolean;
  caseId: string | null;
  checks: EvidenceCheck[];
}

/** CA certificate(s) the verifier trusts, and where it got them (for the report). */
export interface TrustAnchor {
  pems: string[];
  /** e.g. "region-ca.pem (--ca)" */
  source: string;
}

/**
 * The trust anchors are the verifier's own, always: never the file's certs/*.pem. Those came with
 * the file, so whoever made or altered it chose them too, and a file signed and timestamped by a
 * CA of the forger's own verifies against them. They are only compared with the anchors.
 */
export interface VerifyOptions {
  /** the CA of the region's receipt signer */
  receiptCa: TrustAnchor;
  /** the TSA's CA */
  tsaCa: TrustAnchor;
}

/** Why the certificates inside the file cannot be the trust anchors (the CLI says it too). */
export const OWN_CERTS_UNTRUSTED =
  `The certificates inside the file (${RECEIPT_CA_FILE}, ${TSA_CA_FILE}) cannot stand in for them: they came with the file, ` +
  'so whoever made or altered it chose them too, and a file signed and timestamped by a CA of its own verifies against them';

const fingerprints = (pems: string[]): string[] => parseTrustAnchors(pems).map((c) => c.fingerprint256);

/** Checks an evidence zip against the verifier's trust anchors. Never throws for a malformed or tampered file: each problem is a failed check. */
export function verifyEvidence(zip: Buffer, opts: VerifyOptions): EvidenceVerification {
  const checks: EvidenceCheck[] = [];
  const ok = (item: string, detail: string) => checks.push({ status: 'ok', item, detail });
  const note = (item: string, detail: string) => checks.push({ status: 'note', item, detail });
  const bad = (item: string, detail: string) => checks.push({ status: 'fail', item, detail });
  const done = (caseId: string | null): EvidenceVerification => ({ ok: !checks.some((c) => c.status === 'fail'), caseId, checks });

  let files: Map<string, Buffer>;
  try {
    const unzipped = unzipSync(new Uint8Array(zip), {
      filter: (f) => {
        if (f.originalSize > MAX_FILE_BYTES) throw new Error(`${f.name} is larger than ${MAX_FILE_BYTES} bytes`);
        return true;
      },
    });
    files = new Map(Object.entries(unzipped).map(([k, v]) => [k, Buffer.from(v)]));
  } catch (e) {
    bad('zip', `not a readable zip file: ${(e as Error).message}`);
    return done(null);
  }
  let index: EvidenceIndex;
  try {
    const raw = files.get(INDEX_FILE);
    if (!raw) throw new Error(`${INDEX_FILE} is missing`);
    index = JSON.parse(raw.toString('utf8')) as EvidenceIndex;
    if (index.format !== EVIDENCE_FORMAT) throw new Error(`unknown format ${JSON.stringify(index.format)} (expected ${EVIDENCE_FORMAT})`);
    if (!Array.isArray(index.files) || !Array.isArray(index.receipts) || !index.audit || !index.certificates) {
      throw new Error('the index lacks files, receipts, audit or certificates');
    }
  } catch (e) {
    bad('index', `${INDEX_FILE}: ${(e as Error).message}`);
    return done(null);
  }
  const caseId = index.caseId;
  ok('index', `case ${caseId}, exported ${index.exportedAt} by ${index.gateway?.name ?? '(unnamed)'}`);

  // 1. Every file is the one listed, and every file is listed.
  const listed = new Set<string>();
  let digestsOk = 0;
  for (const f of index.files) {
    listed.add(f.path);
    const bytes = files.get(f.path);
    if (!bytes) bad(`file ${f.path}`, 'listed in the index but missing from the zip');
    else if (sha256hex(bytes) !== f.sha256) bad(`file ${f.path}`, `its SHA-256 ${sha256hex(bytes)} differs from the index's ${f.sha256}`);
    else digestsOk++;
  }
  for (const path of files.keys()) if (path !== INDEX_FILE && !listed.has(path)) bad(`file ${path}`, 'in the zip but not in the index');
  if (digestsOk === index.files.length) ok('files', `${digestsOk} file(s), each with the SHA-256 the index gives`);

  // Trust anchors: the verifier's, never the file's own (see VerifyOptions).
  const missing = [
    ...(opts.receiptCa?.pems.some((p) => p.trim()) ? [] : ['the receipt CA']),
    ...(opts.tsaCa?.pems.some((p) => p.trim()) ? [] : ["the TSA's CA"]),
  ];
  if (missing.length > 0) {
    bad('trust anchors', `not verified: no trust anchor of your own for ${missing.join(' and ')}. ${OWN_CERTS_UNTRUSTED}`);
    return done(caseId);
  }
  const receiptCas = opts.receiptCa.pems;
  const tsaCas = opts.tsaCa.pems;
  ok('trust anchors', `receipts against ${opts.receiptCa.source}; timestamps against ${opts.tsaCa.source}`);
  // The file's own certificates: worth knowing whether they are the anchors (the README's openssl recipe is compared with them).
  for (const [path, anchor] of [
    [index.certificates.receiptCa, opts.receiptCa],
    [index.certificates.tsaCa, opts.tsaCa],
  ] as const) {
    let inFile: string[];
    let given: Set<string>;
    try {
      inFile = fingerprints([files.get(path)?.toString('utf8') ?? '']);
      given = new Set(fingerprints(anchor.pems));
    } catch (e) {
      note(`file ${path}`, `cannot be read as certificates (${(e as Error).message}); the checks used ${anchor.source}`);
      continue;
    }
    if (inFile.length === 0) note(`file ${path}`, `holds no certificate; the checks used ${anchor.source}`);
    else if (inFile.every((f) => given.has(f)))
      ok(`file ${path}`, `the same certificate as ${anchor.source} (SHA-256 ${inFile.join(', ')})`);
    else {
      note(
        `file ${path}`,
        `NOT among the trust anchors ${anchor.source} (SHA-256 ${inFile.join(', ')}): the checks used ${anchor.source}, not it`,
      );
    }
  }

  // 2. Receipts and their timestamps.
  if (index.receipts.length === 0) note('receipts', 'the case has no receipt');
  for (const r of index.receipts) {
    const item = `receipt ${r.receiptId}`;
    const body = files.get(r.body);
    const sig = files.get(r.signature);
    if (!body || !sig) {
      bad(item, `${!body ? r.body : r.signature} is missing`);
      continue;
    }
    let signedAt: Date | undefined;
    if (r.timestamp) {
      const tsr = files.get(r.timestamp.response);
      const titem = `receipt ${r.receiptId} timestamp`;
      if (!tsr) bad(titem, `${r.timestamp.response} is missing`);
      else {
        try {
          const resp = parseResponse(tsr);
          if (resp.status > 1 || !resp.token) throw new Error(`the TSA's answer is not a granted timestamp (${resp.statusText})`);
          const imprint = createHash('sha256').update(signatureValue(sig)).digest();
          const v = verifyTimestampToken(resp.token, imprint, tsaCas);
          if (!v.ok) bad(titem, `${r.timestamp.response} does not verify over SHA-256 of the receipt's signature value: ${v.reason}`);
          else {
            signedAt = v.genTime;
            ok(
              titem,
              `${r.timestamp.response}: the TSA vouches for the signature at ${v.genTime.toISOString()} (serial ${v.serialNumber})`,
            );
          }
        } catch (e) {
          bad(titem, `${r.timestamp.response}: ${(e as Error).message}`);
        }
      }
    } else note(`receipt ${r.receiptId} timestamp`, 'not yet timestamped when exported (no TSA vouches for its time yet)');
    // The signer certificate must have been valid when the TSA saw the signature (CAdES-T), else now.
    const v = verifyDetached(body, sig, receiptCas, signedAt ? { at: signedAt } : {});
    if (!v.ok) {
      bad(item, `${r.signature} does not verify over ${r.body}: ${v.reason}`);
      continue;
    }
    let claims: { receiptId?: unknown; caseId?: unknown } = {};
    try {
      claims = JSON.parse(body.toString('utf8')) as typeof claims;
    } catch {
      /* checked below */
    }
    if (claims.receiptId !== r.receiptId || claims.caseId !== caseId) {
      bad(item, `the signed receipt is receipt ${String(claims.receiptId)} of case ${String(claims.caseId)}, not this one`);
      continue;
    }
    ok(item, `signature valid, signed by ${v.signer.subject.replace(/\n/g, ', ')}`);
  }

  // 3. The audit entries: each hash recomputed, each link, each segment up to its anchored head.
  verifyAudit(index, files, tsaCas, { ok, note, bad });

  // 4. Document digests against the signed receipts.
  verifyDocuments(index, files, { ok, bad });
  return done(caseId);
}

type Report = Record<'ok' | 'note' | 'bad', (item: string, detail: string) => void>;

interface ParsedEntry {
  seq: number;
  prev_hash: string;
  hash: string;
  body: string;
}

function verifyAudit(index: EvidenceIndex, files: Map<string, Buffer>, tsaCas: string[], report: Report): void {
  const { ok, note, bad } = report;
  const raw = files.get(index.audit.entries);
  if (raw === undefined) {
    bad('audit', `${index.audit.entries} is missing`);
    return;
  }
  const entries = new Map<number, ParsedEntry>();
  const order: number[] = [];
  for (const [i, line] of raw.toString('utf8').split('\n').entries()) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as ParsedEntry;
      if (!Number.isSafeInteger(e.seq) || typeof e.prev_hash !== 'string' || typeof e.hash !== 'string' || typeof e.body !== 'string') {
        throw new Error('needs seq, prev_hash, hash and body');
      }
      if (order.length > 0 && e.seq <= order[order.length - 1]!) throw new Error(`seq ${e.seq} out of order`);
      entries.set(e.seq, e);
      order.push(e.seq);
    } catch (err) {
      bad(`audit line ${i + 1}`, `${index.audit.entries}: ${(err as Error).message}`);
      return;
    }
  }

  // Each entry: its hash recomputed from prev_hash and body (with the gateway's auditHash), its link to the one before.
  let broken = 0;
  let prev: ParsedEntry | undefined;
  for (const seq of order) {
    const e = entries.get(seq)!;
    const item = `audit seq ${seq}`;
    let fields: { at: string; actor: string; action: string; caseId: string | null; details: unknown };
    try {
      fields = JSON.parse(e.body) as typeof fields;
    } catch {
      bad(item, 'its body is not JSON');
      broken++;
      prev = e;
      continue;
    }
    let recomputed: string;
    try {
      recomputed = auditHash(e.prev_hash, fields);
    } catch (err) {
      recomputed = `(cannot be canonicalised: ${(err as Error).message})`;
    }
    if (recomputed !== e.hash) {
      bad(
        item,
        `the entry does not hash to its recorded hash (entry modified): recomputed ${recomputed.slice(0, 16)}…, recorded ${e.hash.slice(0, 16)}…`,
      );
      broken++;
    } else if (canonicalJson(fields) !== e.body) {
      bad(item, 'its body is not in canonical form (not the bytes that were hashed)');
      broken++;
    } else if (prev && prev.seq + 1 === seq && e.prev_hash !== prev.hash) {
      bad(item, `prev_hash does not match the hash of seq ${prev.seq} (entry removed, inserted or modified)`);
      broken++;
    }
    prev = e;
  }
  const caseEntries = order.filter((s) => {
    try {
      return (JSON.parse(entries.get(s)!.body) as { caseId?: unknown }).caseId === index.caseId;
    } catch {
      return false;
    }
  });
  if (broken === 0) {
    ok('audit links', `${order.length} entries (${caseEntries.length} of the case), each hash recomputed and linked to the one before`);
  }

  // Each anchored head: the statement rebuilt from the entry at its seq, the token over it.
  const anchored: number[] = [];
  for (const a of index.audit.anchors ?? []) {
    const item = `audit anchor seq ${a.seq}`;
    const entry = entries.get(a.seq);
    const head = files.get(a.head);
    const token = files.get(a.token);
    if (!entry) bad(item, `the anchored entry at seq ${a.seq} is not in ${index.audit.entries}`);
    else if (!head || !token) bad(item, `${!head ? a.head : a.token} is missing`);
    else {
      let statement: Buffer;
      try {
        statement = headStatement(entry.seq, entry.hash);
      } catch (err) {
        bad(item, `the entry's hash cannot be anchored: ${(err as Error).message}`);
        continue;
      }
      if (!statement.equals(head)) {
        bad(item, `${a.head} is not the head statement of the entry at seq ${a.seq} (entry or statement modified)`);
        continue;
      }
      const v = verifyTimestampToken(token, createHash('sha256').update(statement).digest(), tsaCas);
      if (!v.ok) bad(item, `${a.token} does not verify over ${a.head}: ${v.reason}`);
      else {
        anchored.push(a.seq);
        ok(item, `the TSA vouches for the chain up to seq ${a.seq} at ${v.genTime.toISOString()} (serial ${v.serialNumber})`);
      }
    }
  }

  // Each case entry must reach an anchored head through unbroken links; else it is not yet anchored.
  const contiguousTo = (from: number, to: number) => {
    for (let s = from; s <= to; s++) if (!entries.has(s)) return false;
    return true;
  };
  const uncovered: number[] = [];
  for (const seq of caseEntries) {
    const anchor = anchored.filter((a) => a >= seq).sort((x, y) => x - y)[0];
    if (anchor === undefined) {
      uncovered.push(seq);
      continue;
    }
    if (!contiguousTo(seq, anchor))
      bad(`audit seq ${seq}`, `the chain from seq ${seq} to its anchored head at seq ${anchor} is incomplete`);
  }
  const claimed = new Set(index.audit.notYetAnchored ?? []);
  const pending = uncovered.filter((seq) => claimed.has(seq));
  const lost = uncovered.filter((seq) => !claimed.has(seq));
  if (lost.length > 0) {
    bad(`audit seq ${lost.join(', ')}`, 'no anchored head that verifies covers them, though the index says one does');
  }
  if (pending.length > 0) {
    note(
      'audit not yet anchored',
      `seq ${pending.join(', ')}: no timestamped head covered them when exported (links checked, no TSA vouches yet)`,
    );
  }
}

function verifyDocuments(index: EvidenceIndex, files: Map<string, Buffer>, report: Pick<Report, 'ok' | 'bad'>): void {
  const raw = files.get(index.documents);
  if (!raw) {
    report.bad('documents', `${index.documents} is missing`);
    return;
  }
  let docs: { documents: { receiptId: string | null; part: string; type: string; size: number; sha256: string }[]; responses: unknown[] };
  try {
    docs = JSON.parse(raw.toString('utf8')) as typeof docs;
  } catch {
    report.bad('documents', `${index.documents} is not JSON`);
    return;
  }
  const signed = new Map<string, { part: string; type: string; size: number; sha256: string }[]>();
  for (const r of index.receipts) {
    try {
      const body = JSON.parse(files.get(r.body)?.toString('utf8') ?? '{}') as {
        documents?: { part: string; type: string; size: number; sha256: string }[];
      };
      signed.set(r.receiptId, body.documents ?? []);
    } catch {
      signed.set(r.receiptId, []);
    }
  }
  let failed = 0;
  for (const d of docs.documents ?? []) {
    const list = d.receiptId ? signed.get(d.receiptId) : undefined;
    if (!list) continue; // a document whose receipt is not in the file: listed, not signed here
    const match = list.find((x) => x.part === d.part);
    if (!match || match.sha256 !== d.sha256 || match.size !== d.size || match.type !== d.type) {
      report.bad(`document ${d.part}`, `its digest differs from the one signed in receipt ${d.receiptId}`);
      failed++;
    }
  }
  if (failed === 0) {
    report.ok(
      'documents',
      `${docs.documents?.length ?? 0} document digest(s), each as signed in its receipt; ${docs.responses?.length ?? 0} response digest(s)`,
    );
  }
}
