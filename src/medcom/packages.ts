/**
 * Loads MedCom's published FHIR packages (npm-style FHIR packages: `.tgz`
 * files, or the same packages extracted to `<name>/package/` folders) from
 * one directory, once, at start-up.
 *
 * MedCom publishes each implementation guide as a package holding
 * `package/package.json`, `package/StructureDefinition-*.json` (with
 * snapshots), value sets, code systems and MessageDefinitions, and its
 * official example instances under `package/example/`. This module reads
 * exactly those JSON files (nothing else in the archive is decompressed into
 * memory) and indexes them for the validator (src/medcom/validator.ts):
 *
 *  - StructureDefinitions, ValueSets and CodeSystems by canonical url and by
 *    `url|version`; when two packages define the same url, the higher version
 *    wins the plain-url key (both stay reachable by `url|version`);
 *  - the examples, as `{ packageName, file, resource }`.
 *
 * The repository does not carry the packages: production points
 * MEDCOM_PACKAGES_DIR at a directory holding them, tests and development use
 * `../shared/medcom`. A missing directory, an empty one, or one without the
 * packages the gateway needs is refused with a message naming the directory,
 * what was found and what is required.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { extract } from 'tar-stream';

/** The MedCom packages the gateway cannot validate its messages without. */
export const REQUIRED_MEDCOM_PACKAGES: readonly string[] = [
  'medcom.fhir.dk.carecommunication',
  'medcom.fhir.dk.messaging',
  'medcom.fhir.dk.core',
  'medcom.fhir.dk.terminology',
  'medcom.fhir.dk.acknowledgement',
];

export interface MedcomPackageInfo {
  name: string;
  version: string;
  /** the `.tgz` file or the extracted `package/` folder it was read from */
  source: string;
}

export interface MedcomExample {
  packageName: string;
  /** file name inside the package, e.g. `example/Bundle-3dcb5618-….json` */
  file: string;
  resource: Resource;
}

export interface MedcomPackages {
  /** absolute directory the packages were read from */
  dir: string;
  packages: MedcomPackageInfo[];
  /** by canonical url and by `url|version` */
  structureDefinitions: Map<string, StructureDefinition>;
  valueSets: Map<string, ValueSet>;
  codeSystems: Map<string, CodeSystem>;
  examples: MedcomExample[];
}

interface PackageFile {
  /** path relative to `package/`, e.g. `StructureDefinition-x.json` or `example/Bundle-y.json` */
  name: string;
  text: string;
}

interface RawPackage {
  source: string;
  files: PackageFile[];
}

const EXPECTED = `MedCom's FHIR packages as .tgz files (e.g. medcom.fhir.dk.carecommunication-5.0.2.tgz) or extracted as <name>/package/ folders`;

/**
 * Reads every `*.tgz` and every extracted `<folder>/package/` in `dir`.
 * Throws an Error a person can act on when the directory is missing, holds no
 * packages, lacks one of REQUIRED_MEDCOM_PACKAGES, or holds a broken file.
 */
export async function loadMedcomPackages(dir: string): Promise<MedcomPackages> {
  const absDir = resolve(dir);
  let names: string[];
  try {
    if (!(await stat(absDir)).isDirectory()) throw new Error('not a directory');
    names = (await readdir(absDir)).sort();
  } catch (err) {
    throw new Error(
      `MedCom FHIR packages: cannot read the directory ${absDir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). ` +
        `Expected ${EXPECTED}; set MEDCOM_PACKAGES_DIR to the directory that holds them.`,
      { cause: err },
    );
  }

  const raws: RawPackage[] = [];
  for (const name of names) {
    const path = join(absDir, name);
    if (name.endsWith('.tgz')) {
      raws.push({ source: path, files: await readTgz(path) });
    } else if (await isDirectory(join(path, 'package'))) {
      raws.push({ source: join(path, 'package'), files: await readExtracted(join(path, 'package')) });
    }
  }
  if (raws.length === 0) {
    throw new Error(
      `MedCom FHIR packages: no packages in ${absDir}. Expected ${EXPECTED}; ` + `required: ${REQUIRED_MEDCOM_PACKAGES.join(', ')}.`,
    );
  }

  const pkgs: MedcomPackages = {
    dir: absDir,
    packages: [],
    structureDefinitions: new Map(),
    valueSets: new Map(),
    codeSystems: new Map(),
    examples: [],
  };
  for (const raw of raws) addPackage(pkgs, raw);

  const found = new Set(pkgs.packages.map((p) => p.name));
  const missing = REQUIRED_MEDCOM_PACKAGES.filter((n) => !found.has(n));
  if (missing.length > 0) {
    throw new Error(
      `MedCom FHIR packages in ${absDir} are incomplete: missing ${missing.join(', ')}. ` +
        `Found ${pkgs.packages.map((p) => `${p.name} ${p.version}`).join(', ')}. Expected ${EXPECTED}.`,
    );
  }
  return pkgs;
}

function addPackage(pkgs: MedcomPackages, raw: RawPackage): void {
  const manifest = raw.files.find((f) => f.name === 'package.json');
  if (!manifest) throw new Error(`MedCom FHIR packages: ${raw.source} has no package/package.json, so it is not a FHIR package`);
  const meta = parseJson(manifest.text, `${raw.source}: package/package.json`) as { name?: unknown; version?: unknown };
  if (typeof meta.name !== 'string' || typeof meta.version !== 'string') {
    throw new Error(`MedCom FHIR packages: ${raw.source}: package/package.json has no name and version`);
  }
  const info: MedcomPackageInfo = { name: meta.name, version: meta.version, source: raw.source };
  pkgs.packages.push(info);

  for (const file of raw.files) {
    if (file.name === 'package.json' || file.name === '.index.json') continue;
    const json = parseJson(file.text, `${raw.source}: package/${file.name}`);
    if (!isResource(json)) continue;
    if (file.name.startsWith('example/')) {
      pkgs.examples.push({ packageName: info.name, file: file.name, resource: json });
      continue;
    }
    if (json.resourceType === 'StructureDefinition') index(pkgs.structureDefinitions, json as StructureDefinition);
    else if (json.resourceType === 'ValueSet') index(pkgs.valueSets, json as ValueSet);
    else if (json.resourceType === 'CodeSystem') index(pkgs.codeSystems, json as CodeSystem);
  }
}

function index<T extends { url?: string; version?: string }>(map: Map<string, T>, res: T): void {
  if (!res.url) return;
  if (res.version) map.set(`${res.url}|${res.version}`, res);
  const current = map.get(res.url);
  if (!current || compareVersions(res.version ?? '', current.version ?? '') >= 0) map.set(res.url, res);
}

/** Numeric-aware comparison of dotted versions ("1.10.0" > "1.9.2"). */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function isResource(v: unknown): v is Resource {
  return typeof v === 'object' && v !== null && typeof (v as { resourceType?: unknown }).resourceType === 'string';
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`MedCom FHIR packages: ${where} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Only these are read: the manifest, the package's own resources and its examples. */
function wanted(relative: string): boolean {
  return /^[^/]+\.json$/.test(relative) || /^example\/[^/]+\.json$/.test(relative);
}

async function readExtracted(packageDir: string): Promise<PackageFile[]> {
  const files: PackageFile[] = [];
  for (const name of (await readdir(packageDir)).sort()) {
    if (wanted(name)) files.push({ name, text: await readFile(join(packageDir, name), 'utf8') });
  }
  if (await isDirectory(join(packageDir, 'example'))) {
    for (const name of (await readdir(join(packageDir, 'example'))).sort()) {
      if (wanted(`example/${name}`))
        files.push({ name: `example/${name}`, text: await readFile(join(packageDir, 'example', name), 'utf8') });
    }
  }
  return files;
}

/** Streams a .tgz through gunzip and tar-stream, keeping only the wanted JSON files. */
async function readTgz(file: string): Promise<PackageFile[]> {
  const files: PackageFile[] = [];
  const tar = extract();
  const gunzip = createGunzip();
  const input = createReadStream(file);
  input.on('error', (err) => tar.destroy(err));
  gunzip.on('error', (err) => tar.destroy(err));
  input.pipe(gunzip).pipe(tar);
  try {
    for await (const entry of tar) {
      const name = entry.header.name.replace(/^\.\//, '');
      const relative = name.startsWith('package/') ? name.slice('package/'.length) : undefined;
      if (entry.header.type !== 'file' || relative === undefined || !wanted(relative)) {
        entry.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.push({ name: relative, text: Buffer.concat(chunks).toString('utf8') });
    }
  } catch (err) {
    throw new Error(`MedCom FHIR packages: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    input.destroy();
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}
