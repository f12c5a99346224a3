/**
 * Receiving a response's multipart body, for the API (a JSON `response` part)
 * and the staff pages (the content as form fields): the signed-off PDF
 * streams through the PDF sniffer into the encrypted blob store; nothing else
 * is kept. `beforeDocument` runs before a byte of the document is stored (the
 * pages check their CSRF token there), and `discard` removes a stored
 * document when the response is refused after all.
 */
import type { Request, Response } from 'express';
import multer from 'multer';
import type { BlobStore } from '../storage/blobs.js';
import { badRequest } from '../shared/problem.js';
import { createSniffFilter } from '../storage/sniff.js';
import { checkJsonEncoding, readSmall, runMultipart, uploadProblem, type UploadProblemLimits } from '../shared/uploads.js';
import type { StoredDocument } from './service.js';

export const MAX_RESPONSE_JSON = 256 * 1024;

export interface ResponseUpload {
  /** the `response` part (API) */
  responseJson?: Buffer;
  document?: StoredDocument;
  /** the text fields (the pages' form) */
  fields: Record<string, unknown>;
  /** removes the stored document (a refused response keeps nothing) */
  discard(): Promise<void>;
}

type UploadRequest = Request & {
  responseUpload?: { responseJson?: Buffer; document?: StoredDocument };
  beforeDocument?: (fields: Record<string, unknown>) => void;
};

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
        try {
          (req as UploadRequest).beforeDocument?.((req.body as Record<string, unknown> | undefined) ?? {});
        } catch (err) {
          file.stream.resume();
          return cb(err as Error);
        }
        const filter = createSniffFilter('application/pdf', 'document'); // size: multer's fileSize limit
        done(
          blobs.put(file.stream, { filter }).then((put) => {
            state.document = { blobKey: put.key, size: put.size, sha256: put.sha256, mediaType: 'application/pdf' };
            return { size: put.size, blobKey: put.key } as Partial<Express.Multer.File>;
          }),
        );
      } else {
        file.stream.resume();
        cb(badRequest(`unexpected part "${file.fieldname}": send "response" and one "document"`, undefined, 'unexpected-part'));
      }
    },
    // multer calls this when the upload is aborted after a document was stored (e.g. the connection ended after a 408)
    _removeFile(req, file, cb) {
      const key = (file as unknown as { blobKey?: string }).blobKey;
      const state = (req as UploadRequest).responseUpload;
      if (state && state.document?.blobKey === key) delete state.document;
      if (!key) return cb(null);
      blobs.delete(key).then(
        () => cb(null),
        (e: unknown) => cb(e as Error),
      );
    },
  };
}

export interface ResponseUploadOptions {
  blobs: BlobStore;
  limits: UploadProblemLimits;
  /** text fields a form may carry besides the document (the pages: their content fields) */
  maxFields?: number;
}

/** Reads a response upload; multer's and the disk's errors become problems, and a partly stored document is removed. */
export function createResponseUpload(opts: ResponseUploadOptions) {
  const maxFields = opts.maxFields ?? 2;
  const upload = multer({
    storage: storage(opts.blobs),
    limits: {
      fileSize: opts.limits.maxDocumentBytes,
      files: 2,
      fields: maxFields,
      parts: maxFields + 2,
      fieldSize: MAX_RESPONSE_JSON,
      headerPairs: 50,
    },
  }).any();

  return async function receive(
    req: Request,
    res: Response,
    beforeDocument?: (fields: Record<string, unknown>) => void,
  ): Promise<ResponseUpload> {
    const r = req as UploadRequest;
    const discard = async () => {
      if (r.responseUpload?.document) await opts.blobs.delete(r.responseUpload.document.blobKey).catch(() => {});
    };
    // multer hands the storage engine each file after the fields before it: they are in req.body by then.
    r.beforeDocument = beforeDocument;
    try {
      // issue 15: a body slower than the least data rate is refused with 408 (runMultipart)
      await runMultipart(upload, req, res, opts.limits.minRate);
      // issue 15: a `response` part that is not UTF-8, or whose JSON holds a lone surrogate, is refused here with 422
      // (hashing or signing it would fail later) and its document removed; JSON syntax is the caller's to refuse.
      const field = (req.body as Record<string, unknown> | undefined)?.response;
      const raw = r.responseUpload?.responseJson ?? (typeof field === 'string' ? Buffer.from(field, 'utf8') : undefined);
      if (raw) checkJsonEncoding(raw, { what: 'the "response" part', field: 'response', type: 'validation' });
    } catch (err) {
      await discard();
      throw uploadProblem(err, opts.limits);
    }
    return {
      responseJson: r.responseUpload?.responseJson,
      document: r.responseUpload?.document,
      fields: (req.body as Record<string, unknown> | undefined) ?? {},
      discard,
    };
  };
}
