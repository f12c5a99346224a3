/**
 * POST /v1/packages and GET /v1/receipts/{id} (API.md "Sending a case package").
 */
import { Router, type Request, type Response } from 'express';
import multer from 'multer';
import type { BlobStore } from '../storage/blobs.js';
import { badRequest, Problem } from '../shared/problem.js';
import { runMultipart, uploadProblem } from '../shared/uploads.js';
import { named, operation, route } from '../shared/api.js';
import { requireKind } from '../parties/roles.js';
import { problemSchema, receiptSchema } from '../receipts/schema.js';
import { createAdmission } from './admission.js';
import { manifestSchema } from './schema.js';
import { acceptManifest, createUploadStorage, discardUpload, type UploadLimits, type UploadState } from './upload.js';
import type { IntakeService } from './service.js';

// A path, a parent reference or a control character (NUL…US) in a part's file name.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const BAD_FILENAME = /(^|[\\/])\.\.([\\/]|$)|[\\/\0]|[\x00-\x1f]/;

const ProblemDoc = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: ProblemDoc });
const Receipt = named('Receipt', receiptSchema);
const receiptHeaders = { 'Receipt-Signature': 'base64 DER CMS SignedData, detached, over the body', 'Receipt-Id': 'the receiptId' };

export const operations = {
  send: operation({
    method: 'post',
    path: '/v1/packages',
    summary: 'Send a case package (municipalities, the senior-pension unit)',
    description:
      'multipart/form-data: the `manifest` part first (as a field or a JSON file part), then one file part per document, ' +
      'named by its `part` in the manifest. See docs/municipalities.md.',
    multipart: {
      parts: { manifest: named('Manifest', manifestSchema) },
      required: ['manifest'],
      additionalBinaryParts: 'one part per document, named by its `part`',
    },
    responses: {
      '201': {
        description: 'Receipted. The body is exactly the signed bytes; Location names the case.',
        headers: { ...receiptHeaders, Location: '/v1/cases/{caseId}' },
        body: Receipt,
      },
      '200': {
        description: 'The same package was received before: the byte-identical receipt and signature',
        headers: receiptHeaders,
        body: Receipt,
      },
      '400': problem('Malformed multipart body or manifest JSON, a part missing, unexpected or sent twice'),
      '401': problem('No valid client certificate'),
      '403': problem('Not allowed for this party (other municipality, other region — §29 stk. 4)'),
      '404': problem('supplementTo names no case of the sender'),
      '408': problem('The body arrived slower than the least data rate the gateway accepts; nothing was kept'),
      '409': problem('packageId reused with different content'),
      '413': problem('A size or count limit was exceeded'),
      '415': problem('Media type not accepted, or the bytes do not match it'),
      '422': problem(
        'The manifest does not fit its schema (`errors` names each field), is not UTF-8 or holds a lone surrogate, or a supplement does not fit its case',
      ),
      '429': problem('Too many uploads from this sender (Retry-After)'),
      '503': problem(
        'The package could not be stored durably, the gateway is busy, or no receipt could be timestamped for TSA_MAX_GAP_MINUTES ' +
          '(type timestamps-unavailable); nothing was receipted (Retry-After)',
      ),
      '507': problem('No room to store the documents; nothing was receipted (Retry-After)'),
    },
  }),
  receipt: operation({
    method: 'get',
    path: '/v1/receipts/{receiptId}',
    summary: 'Fetch a receipt again (its sender only)',
    description:
      'Once the receipt is timestamped (usually seconds after it was stored), Receipt-Signature carries the TSA token as the ' +
      'unsigned attribute signatureTimeStampToken (CAdES-T); the signed bytes and the signature value are those first served.',
    params: { receiptId: 'the receiptId' },
    responses: {
      '200': {
        description: 'The signed bytes',
        headers: { ...receiptHeaders, 'Receipt-Timestamp': '"present" once the signature carries the timestamp token, else "pending"' },
        body: Receipt,
      },
      '404': problem('No such receipt for this party'),
    },
  }),
  receiptTimestamp: operation({
    method: 'get',
    path: '/v1/receipts/{receiptId}/timestamp',
    summary: "The receipt's RFC 3161 timestamp (its sender only)",
    description:
      "The time-stamping authority's TimeStampResp over SHA-256 of the receipt signature's value (the SignerInfo's signature " +
      'OCTET STRING). Check it with `openssl ts -verify -digest <hex> -in resp.tsr -CAfile tsa-ca.pem`: see docs/municipalities.md.',
    params: { receiptId: 'the receiptId' },
    responses: {
      '200': {
        description: 'DER TimeStampResp (RFC 3161 §2.4.2)',
        headers: { 'Timestamp-Gen-Time': "the TSA's genTime (ISO 8601)" },
        content: { 'application/timestamp-reply': { schema: { type: 'string', format: 'binary' } } },
      },
      '404': problem('No such receipt for this party, or it is not timestamped yet (type timestamp-pending, Retry-After)'),
    },
  }),
};

export function createIntakeRouter(deps: { intake: IntakeService; blobs: BlobStore; limits: UploadLimits }): Router {
  const { intake, blobs, limits } = deps;
  const upload = multer({
    storage: createUploadStorage(blobs, limits),
    // keep the file name as sent, so a name with a path is refused rather than silently cut
    preservePath: true,
    limits: {
      fileSize: limits.maxDocumentBytes,
      files: limits.maxDocuments + 1, // the manifest may come as a file part
      fields: 4,
      parts: limits.maxDocuments + 5,
      fieldSize: limits.maxManifestBytes,
      fieldNameSize: 100,
      headerPairs: 20,
    },
    fileFilter(_req, file, cb) {
      if (file.originalname && BAD_FILENAME.test(file.originalname)) {
        return cb(
          badRequest(`part "${file.fieldname}" carries a file name with a path or control characters`, undefined, 'invalid-filename'),
        );
      }
      cb(null, true);
    },
  }).any();

  // issue 15: a body slower than limits.minRate is refused with 408 (its slot is released and its documents removed)
  const runUpload = (req: Request, res: Response) => runMultipart(upload, req, res, limits.minRate);

  const router = Router();

  const admission = limits.admission
    ? createAdmission(limits.admission, { shared: limits.admission.shared }).middleware
    : (_req: Request, _res: Response, next: () => void) => next();
  // issue 15: fail closed, visibly: without trusted time for the receipts no package is taken (before admission: no slot)
  const timestampsAvailable = async (req: Request, _res: Response, next: (err?: unknown) => void) => {
    const refused = intake.refuseIntake();
    if (!refused) return next();
    await intake.auditRejection(req.party, refused.status, refused.type);
    next(refused);
  };
  route(router, operations.send, [requireKind('municipality', 'senior-pension-unit'), timestampsAvailable, admission], async (req, res) => {
    const party = req.party!;
    if (!req.is('multipart/form-data')) {
      const p = new Problem({
        status: 415,
        title: 'Unsupported media type',
        type: 'multipart-required',
        detail: 'a case package is sent as multipart/form-data: a "manifest" part first, then one part per document',
      });
      await intake.auditRejection(party, p.status, p.type);
      throw p;
    }
    const state: UploadState = {
      seenParts: new Set(),
      stored: [],
      packageBytes: 0,
      onManifest: (m) => intake.checkManifest(party, m),
    };
    (req as unknown as Request & { upload?: UploadState }).upload = state;
    try {
      await runUpload(req, res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const extra = Object.keys(body).filter((k) => k !== 'manifest');
      if (extra.length)
        throw badRequest(
          `unexpected fields: ${extra.join(', ')}; send only "manifest" and the document parts`,
          undefined,
          'unexpected-field',
        );
      if (!state.manifest) {
        if (typeof body.manifest !== 'string') throw badRequest('the package has no "manifest" part', undefined, 'manifest-missing');
        await acceptManifest(state, Buffer.from(body.manifest, 'utf8'), limits);
      }
      const missing = state.manifest!.documents.filter((d) => !state.stored.some((s) => s.entry.part === d.part));
      if (missing.length) {
        throw badRequest(
          `the manifest lists ${missing.map((d) => `"${d.part}"`).join(', ')} but no such file part arrived`,
          missing.map((d) => ({ path: `documents[${state.manifest!.documents.indexOf(d)}].part`, message: 'no file part with this name' })),
          'document-missing',
        );
      }
    } catch (err) {
      await discardUpload(blobs, state);
      // (req.destroyed is no sign of a disconnect: a fully read request is auto-destroyed.)
      if (!res.socket || res.socket.destroyed) {
        // The client went away: nothing to answer, nothing kept.
        await intake.auditRejection(party, 499, 'client-aborted', state.manifest?.packageId);
        return;
      }
      const p = uploadProblem(err, limits);
      await intake.auditRejection(party, p.status, p.type, state.manifest?.packageId);
      throw p;
    }
    // commit() removes the documents of a package it does not receipt; a refusal there (409, 404, 422) is audited
    // like every other (a 503 is no refusal: the sender sends again with the same packageId).
    const r = await intake.commit(party, state).catch(async (err: unknown) => {
      if (err instanceof Problem && err.status < 500) await intake.auditRejection(party, err.status, err.type, state.manifest?.packageId);
      throw err;
    });
    res
      .status(r.status)
      .set('Location', `/v1/cases/${r.caseId}`)
      .set('Receipt-Signature', r.signature.toString('base64'))
      .set('Receipt-Id', r.receiptId)
      .type('application/json')
      .send(r.body);
  });

  route(router, operations.receipt, [requireKind('municipality', 'senior-pension-unit')], async (req, res) => {
    const r = await intake.getReceipt(req.party!, String(req.params.receiptId));
    res
      .set('Receipt-Signature', r.signature.toString('base64'))
      .set('Receipt-Id', r.receiptId)
      .set('Receipt-Timestamp', r.timestamped ? 'present' : 'pending')
      .type('application/json')
      .send(r.body);
  });

  route(router, operations.receiptTimestamp, [requireKind('municipality', 'senior-pension-unit')], async (req, res) => {
    const t = await intake.getReceiptTimestamp(req.party!, String(req.params.receiptId));
    res.set('Timestamp-Gen-Time', t.genTime).type('application/timestamp-reply').send(t.response);
  });

  return router;
}
