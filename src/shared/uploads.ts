/**
 * What every multipart upload shares (case packages, responses): reading a
 * small JSON part with a size cap, and turning multer's and the disk's
 * errors into problems a partner can act on.
 */
import multer from 'multer';
import { badRequest, insufficientStorage, Problem, tooLarge } from './problem.js';
import { toProblem } from './http.js';

export interface UploadProblemLimits {
  maxDocumentBytes: number;
  maxDocuments: number;
  maxManifestBytes: number;
}

/** Maps multer/busboy errors to problems a partner can act on. */
export function uploadProblem(err: unknown, limits: UploadProblemLimits): Problem {
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

export async function readSmall(stream: NodeJS.ReadableStream, max: number, part = 'manifest'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw tooLarge(`the ${part} is larger than ${max} bytes`, `${part}-too-large`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
