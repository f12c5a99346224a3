/**
 * POST /v1/cases/{caseId}/responses — multipart: part `response` (JSON, as a
 * field or a JSON file part) and part `document` (the signed-off PDF),
 * streamed into the encrypted blob store like intake documents. Only the
 * staff member the case is assigned to may respond; anyone else gets the
 * answer a missing case gets. A refused response keeps nothing.
 */
import { Router, type Request } from 'express';
import multer from 'multer';
import type { BlobStore } from '../storage/blobs.js';
import type { Db } from '../storage/db.js';
import { badRequest, forbidden, notFound } from '../shared/problem.js';
import { createSniffFilter } from '../intake/sniff.js';
import { readSmall, type UploadLimits } from '../intake/upload.js';
import { uploadProblem } from '../intake/routes.js';
import { isStaff } from '../routing/service.js';
import type { ResponseService, StoredDocument } from './service.js';

const MAX_RESPONSE_JSON = 256 * 1024;

interface ResponseUpload {
  responseJson?: Buffer;
  document?: StoredDocument;
}

type UploadRequest = Request & { responseUpload?: ResponseUpload };

function storage(blobs: BlobStore): multer.StorageEngine {
  return {
    _handleFile(req, file, cb) {
      const state = ((req as UploadRequest).responseUpload ??= {});
      const done = (p: Promise<Partial<Express.Multer.File>>) =>
        void p.then(
          (info) => cb(null, info),
          (err) => cb(err),
        );
      if (file.fieldname === 'response') {
        done(
          readSmall(file.stream, MAX_RESPONSE_JSON, 'response').then((b) => {
            state.responseJson = b;
            return { size: b.length };
          }),
        );
      } else if (file.fieldname === 'document' && !state.document) {
        const filter = createSniffFilter('application/pdf', 'document'); // size: multer's fileSize limit
        done(
          blobs.put(file.stream, { filter }).then((put) => {
            state.document = { blobKey: put.key, size: put.size, sha256: put.sha256, mediaType: 'application/pdf' };
            return { size: put.size };
          }),
        );
      } else {
        file.stream.resume();
        cb(badRequest(`unexpected part "${file.fieldname}": send "response" and one "document"`, undefined, 'unexpected-part'));
      }
    },
    _removeFile(_req, _file, cb) {
      cb(null);
    },
  };
}

export function createResponsesRouter(deps: { db: Db; blobs: BlobStore; responses: ResponseService; limits: UploadLimits }): Router {
  const router = Router();
  const upload = multer({
    storage: storage(deps.blobs),
    limits: { fileSize: deps.limits.maxDocumentBytes, files: 2, fields: 2, parts: 4, fieldSize: MAX_RESPONSE_JSON, headerPairs: 50 },
  }).any();

  router.post('/v1/cases/:caseId/responses', async (req, res) => {
    const staff = req.party;
    if (!isStaff(staff)) throw forbidden('responses are returned by regional staff', 'wrong-party-kind');
    const caseId = String(req.params.caseId);
    // Before reading the body: only the assignee may respond.
    const c = await deps.db.db.selectFrom('cases').select(['assigned_to']).where('id', '=', caseId).executeTakeFirst();
    if (!c || c.assigned_to !== staff.id) throw notFound(`no case ${caseId} assigned to ${staff.id}`);

    const r = req as UploadRequest;
    const discard = async () => {
      if (r.responseUpload?.document) await deps.blobs.delete(r.responseUpload.document.blobKey).catch(() => {});
    };
    try {
      await new Promise<void>((resolve, reject) => upload(req, res, (err: unknown) => (err ? reject(err) : resolve())));
    } catch (err) {
      await discard();
      throw uploadProblem(err, deps.limits);
    }
    try {
      const state = r.responseUpload ?? {};
      const rawField = (req.body as Record<string, unknown> | undefined)?.response;
      const raw = state.responseJson ?? (typeof rawField === 'string' ? Buffer.from(rawField, 'utf8') : undefined);
      if (!raw) throw badRequest('the "response" part (JSON) is missing', [{ path: 'response', message: 'required' }], 'response-missing');
      let response: unknown;
      try {
        response = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest('the "response" part is not valid JSON', [{ path: 'response', message: 'not valid JSON' }], 'invalid-json');
      }
      if (response === null || typeof response !== 'object' || Array.isArray(response)) {
        throw badRequest('the "response" part must be a JSON object { kind, content }', [
          { path: 'response', message: 'must be an object' },
        ]);
      }
      if (!state.document)
        throw badRequest(
          'the "document" part (the signed-off PDF) is missing',
          [{ path: 'document', message: 'required' }],
          'document-missing',
        );
      const out = await deps.responses.submit(staff, caseId, response as { kind?: unknown; content?: unknown }, state.document);
      res.status(201).json(out);
    } catch (err) {
      await discard();
      throw err;
    }
  });
  return router;
}
