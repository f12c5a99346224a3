/**
 * POST /v1/packages and GET /v1/receipts/{id}.
 */
import { Router, type Request, type Response } from 'express';
import multer from 'multer';
import type { BlobStore } from '../storage/blobs.js';
import { badRequest, insufficientStorage, Problem, tooLarge } from '../shared/problem.js';
import { requireKind, toProblem } from '../shared/http.js';
import { createAdmission } from './admission.js';
import { acceptManifest, createUploadStorage, discardUpload, type UploadLimits, type UploadState } from './upload.js';
import type { IntakeService } from './service.js';

/** Maps multer/busboy errors to problems a partner can act on. */
export function uploadProblem(err: unknown, limits: UploadLimits): Problem {
  if (err instanceof Problem) return err;
  const code = (err as { code?: unknown })?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return insufficientStorage(
      'the gateway has no room to store the documents now; nothing was receipted. Send the package again later with the same packageId.',
    );
  }
  if (err instanceof multer.MulterError) {
    switch (err.code) {
      case 'LIMIT_FILE_SIZE':
        return tooLarge(`document "${err.field}" is larger than ${limits.maxDocumentBytes} bytes`, 'document-too-large');
      case 'LIMIT_FILE_COUNT':
        return tooLarge(`a package holds at most ${limits.maxDocuments} documents`, 'too-many-documents');
      case 'LIMIT_PART_COUNT':
        return tooLarge('the package has too many parts', 'too-many-parts');
      case 'LIMIT_FIELD_VALUE':
        return err.field === 'manifest'
          ? tooLarge(`the manifest is larger than ${limits.maxManifestBytes} bytes`, 'manifest-too-large')
          : badRequest(`field "${err.field}" is too large`, undefined, 'field-too-large');
      case 'LIMIT_FIELD_COUNT':
        return badRequest(
          'the package has too many text fields; send only "manifest" and the document parts',
          undefined,
          'too-many-fields',
        );
      default:
        return badRequest(`malformed multipart body: ${err.message}`, undefined, 'malformed-multipart');
    }
  }
  const msg = (err as Error)?.message ?? '';
  if (/Unexpected end of form|Malformed|boundary|multipart/i.test(msg)) {
    return badRequest(`malformed multipart body: ${msg}`, undefined, 'malformed-multipart');
  }
  return toProblem(err);
}

// A path, a parent reference or a control character (NUL…US) in a part's file name.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const BAD_FILENAME = /(^|[\\/])\.\.([\\/]|$)|[\\/\0]|[\x00-\x1f]/;

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

  const runUpload = (req: Request, res: Response) =>
    new Promise<void>((resolve, reject) => upload(req, res, (err?: unknown) => (err ? reject(err) : resolve())));

  const router = Router();

  const admission = limits.admission
    ? createAdmission(limits.admission).middleware
    : (_req: Request, _res: Response, next: () => void) => next();
  router.post('/v1/packages', requireKind('municipality', 'senior-pension-unit'), admission, async (req, res) => {
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
    (req as Request & { upload?: UploadState }).upload = state;
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
    const r = await intake.commit(party, state);
    res
      .status(r.status)
      .set('Location', `/v1/cases/${r.caseId}`)
      .set('Receipt-Signature', r.signature.toString('base64'))
      .set('Receipt-Id', r.receiptId)
      .type('application/json')
      .send(r.body);
  });

  router.get('/v1/receipts/:receiptId', requireKind('municipality', 'senior-pension-unit'), async (req, res) => {
    const r = await intake.getReceipt(req.party!, String(req.params.receiptId));
    res.set('Receipt-Signature', r.signature.toString('base64')).type('application/json').send(r.body);
  });

  return router;
}
