/**
 * The multer StorageEngine of POST /v1/packages. Each document part streams
 * through the media-type sniffer and a package-size counter into the blob
 * store (encrypted, fsync'd) — never into memory. The manifest must arrive
 * before any document; it is validated as soon as it arrives so that a bad
 * package is refused before its documents are written.
 */
import type { Request } from 'express';
import type multer from 'multer';
import type { BlobStore } from '../storage/blobs.js';
import type { AdmissionLimits, SharedAdmission } from './admission.js';
import { badRequest, Problem, tooLarge, unsupportedMediaType } from '../shared/problem.js';
import { createSniffFilter, isAllowedMediaType } from '../storage/sniff.js';
import { parseWith } from '../shared/validate.js';
import { parseJsonPart, readSmall, type MinUploadRate } from '../shared/uploads.js';
import { manifestSchema, type DocumentEntry, type Manifest } from './schema.js';

export interface UploadLimits {
  /** admission control (issue 6); absent = none */
  admission?: AdmissionLimits & { shared?: SharedAdmission };
  maxDocumentBytes: number;
  maxDocuments: number;
  maxPackageBytes: number;
  maxManifestBytes: number;
  /** the least data rate of a package's body (issue 15); absent = none */
  minRate?: MinUploadRate;
}

export interface StoredDocument {
  entry: DocumentEntry;
  blobKey: string;
  size: number;
  sha256: string;
}

/** Per-request state shared by the storage engine and the route. */
export interface UploadState {
  manifest?: Manifest;
  manifestRaw?: Buffer;
  /** parts whose file has arrived (or is arriving) */
  seenParts: Set<string>;
  stored: StoredDocument[];
  packageBytes: number;
  /** first error seen: later parts are discarded */
  failed?: unknown;
  /** Runs once, when the manifest has been parsed (authorisation, supplementTo, …). */
  onManifest: (m: Manifest) => Promise<void>;
  manifestChecked?: Promise<void>;
  /** set while a manifest sent as a file part is being read and checked */
  manifestArriving?: Promise<void>;
}

type UploadRequest = Request & { upload?: UploadState };

/**
 * The manifest's bytes → a valid manifest, or a problem: not JSON 400; not UTF-8, a lone surrogate (issue 15: it
 * made hashing the manifest throw, a 500 that left the documents behind) or off its schema 422.
 */
export function parseManifest(raw: Buffer): { manifest: Manifest; raw: Buffer } {
  const json = parseJsonPart(raw, {
    what: 'the manifest',
    field: 'manifest',
    type: 'invalid-manifest',
    syntaxType: 'invalid-manifest-json',
  });
  return { manifest: parseWith(manifestSchema, json, { what: 'the manifest', type: 'invalid-manifest' }), raw };
}

/** Called when the manifest has arrived as a text field or file part. */
export async function acceptManifest(state: UploadState, raw: Buffer, limits: UploadLimits): Promise<void> {
  if (state.manifest) throw badRequest('the package has more than one manifest part', undefined, 'duplicate-manifest');
  const { manifest } = parseManifest(raw);
  if (manifest.documents.length > limits.maxDocuments) {
    throw tooLarge(
      `a package holds at most ${limits.maxDocuments} documents; this manifest lists ${manifest.documents.length}`,
      'too-many-documents',
    );
  }
  for (const [i, d] of manifest.documents.entries()) {
    if (!isAllowedMediaType(d.mediaType)) {
      throw new Problem({
        status: 415,
        title: 'Unsupported media type',
        type: 'unsupported-media-type',
        detail: `documents[${i}] declares ${d.mediaType}; accepted are PDF, XML, JSON, plain text, PNG, JPEG and TIFF`,
      });
    }
  }
  state.manifest = manifest;
  state.manifestRaw = raw;
  state.manifestChecked = state.onManifest(manifest);
  await state.manifestChecked;
}

export function createUploadStorage(blobs: BlobStore, limits: UploadLimits): multer.StorageEngine {
  async function handle(req: UploadRequest, file: Express.Multer.File): Promise<Partial<Express.Multer.File> & { blobKey?: string }> {
    const state = req.upload;
    if (!state) throw new Error('upload state missing');
    const stream = file.stream;
    if (file.fieldname === 'manifest') {
      if (state.manifestArriving || state.manifest) {
        stream.resume();
        throw badRequest('the package has more than one manifest part', undefined, 'duplicate-manifest');
      }
      if (state.seenParts.size > 0) {
        stream.resume();
        throw badRequest('the manifest must be the first part of the package', undefined, 'manifest-not-first');
      }
      state.manifestArriving = readSmall(stream, limits.maxManifestBytes).then((raw) => acceptManifest(state, raw, limits));
      await state.manifestArriving;
      return { size: 0 };
    }
    // multer hands parts over concurrently: a document part may start while
    // the manifest part before it is still being read and checked.
    if (state.manifestArriving) {
      try {
        await state.manifestArriving;
      } catch (e) {
        stream.resume();
        throw e;
      }
    }
    // The manifest must come first: as a text field it is already in req.body.
    if (!state.manifest) {
      const bodyKeys = Object.keys(req.body ?? {});
      if (bodyKeys[0] === 'manifest' && typeof req.body.manifest === 'string') {
        await acceptManifest(state, Buffer.from(req.body.manifest, 'utf8'), limits);
      } else {
        stream.resume();
        throw badRequest('the manifest must be the first part of the package', undefined, 'manifest-not-first');
      }
    }
    await state.manifestChecked;
    const manifest = state.manifest!;
    const entry = manifest.documents.find((d) => d.part === file.fieldname);
    if (!entry) {
      stream.resume();
      throw badRequest(`part "${file.fieldname}" has no entry in the manifest's documents`, undefined, 'unexpected-part');
    }
    if (state.seenParts.has(entry.part)) {
      stream.resume();
      throw badRequest(`part "${entry.part}" was sent twice`, undefined, 'duplicate-part');
    }
    state.seenParts.add(entry.part);
    if (!isAllowedMediaType(entry.mediaType)) throw unsupportedMediaType(`${entry.mediaType} is not accepted`);

    const sniffer = createSniffFilter(entry.mediaType, entry.part, (n) => {
      state.packageBytes += n;
      return state.packageBytes > limits.maxPackageBytes
        ? tooLarge(`a package holds at most ${limits.maxPackageBytes} bytes of documents`, 'package-too-large')
        : null;
    });
    // The blob store runs the sniffer on every chunk in its own loop; any error (sniffer,
    // size limit, client gone, disk) rejects after the temp file is removed.
    const put = await blobs.put(stream, { filter: sniffer }).catch((e: unknown) => {
      stream.resume();
      throw e;
    });
    if (entry.sha256 && entry.sha256 !== put.sha256) {
      await blobs.delete(put.key);
      throw badRequest(
        `document "${entry.part}": the declared sha256 does not match the bytes received (${put.sha256})`,
        undefined,
        'sha256-mismatch',
      );
    }
    state.stored.push({ entry, blobKey: put.key, size: put.size, sha256: put.sha256 });
    return { size: put.size, blobKey: put.key } as Partial<Express.Multer.File> & { blobKey: string };
  }

  return {
    _handleFile(req, file, cb) {
      handle(req as UploadRequest, file).then(
        (info) => cb(null, info),
        (err) => cb(err),
      );
    },
    _removeFile(req, file, cb) {
      const key = (file as unknown as { blobKey?: string }).blobKey;
      const state = (req as UploadRequest).upload;
      if (state) state.stored = state.stored.filter((s) => s.blobKey !== key);
      if (!key) return cb(null);
      blobs.delete(key).then(
        () => cb(null),
        (e) => cb(e as Error),
      );
    },
  };
}

/** Removes every blob written for a request that will not be committed. */
export async function discardUpload(blobs: BlobStore, state: UploadState | undefined): Promise<void> {
  if (!state) return;
  const keys = state.stored.map((s) => s.blobKey);
  state.stored = [];
  await Promise.allSettled(keys.map((k) => blobs.delete(k)));
}
