/**
 * The parties file (API.md "Parties file"): who may connect, as what, and
 * which client certificates identify them.
 *
 * A certificate entry matches on the subject's serialNumber attribute
 * (OCES3: UI:DK-O:G:<uuid> / UI:DK-E:G:<uuid>) or on the SHA-256 fingerprint
 * of the whole certificate. Never on CN.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isKnownMunicipality } from './municipalities.js';

export const PARTY_KINDS = ['municipality', 'senior-pension-unit', 'staff', 'gp-system', 'vans-provider'] as const;
/** `finance`: reads and closes the monthly settlement statements (§17–19) and the statistics; works no cases. */
export const STAFF_ROLES = ['coordinator', 'specialist', 'team-lead', 'finance'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];
export const DEFAULT_CAPACITY_PER_DAY = 3;

/** Normalised: exactly one of the two, sha256 as 64 upper-case hex digits without colons. */
export type CertificateEntry = { subjectSerialNumber: string; sha256?: undefined } | { sha256: string; subjectSerialNumber?: undefined };

// ---------------------------------------------------------------------------
// Schema

const partyId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'must be 1–64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

const municipalityCode = z
  .string()
  .regex(/^\d{3}$/, { error: 'must be a 3-digit municipality code', abort: true })
  .refine(isKnownMunicipality, 'is not a known municipality code (config/municipalities.json)');

const ydernummer = z.string().regex(/^\d{6}$/, 'must be a 6-digit ydernummer');

export function normaliseFingerprint(s: string): string {
  return s.replace(/:/g, '').toUpperCase();
}

const certificateEntry = z
  .strictObject({
    subjectSerialNumber: z
      .string()
      .min(1, 'must not be empty')
      .refine((s) => s.trim() === s, 'must not have leading or trailing spaces')
      .optional(),
    sha256: z
      .string()
      .refine((s) => /^[0-9A-Fa-f]{64}$/.test(s.replace(/:/g, '')), 'must be a SHA-256 fingerprint: 64 hex digits, colons optional')
      .optional(),
  })
  .superRefine((c, ctx) => {
    const n = Number(c.subjectSerialNumber !== undefined) + Number(c.sha256 !== undefined);
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of subjectSerialNumber or sha256' });
  })
  .transform((c): CertificateEntry =>
    c.sha256 !== undefined ? { sha256: normaliseFingerprint(c.sha256) } : { subjectSerialNumber: c.subjectSerialNumber! },
  );

const httpsUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' && u.hostname !== '' && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}, 'must be an https:// URL without credentials');

const common = {
  id: partyId,
  name: z.string().trim().min(1, 'must not be empty'),
  certificates: z.array(certificateEntry),
  push: z.strictObject({ url: httpsUrl }).optional(),
  note: z.string().optional(),
};

const municipalityParty = z.strictObject({
  ...common,
  kind: z.literal('municipality'),
  municipalityCode,
});

const seniorPensionUnitParty = z.strictObject({
  ...common,
  kind: z.literal('senior-pension-unit'),
});

const staffParty = z.strictObject({
  ...common,
  kind: z.literal('staff'),
  roles: z
    .array(z.enum(STAFF_ROLES, `must be one of ${STAFF_ROLES.join(', ')}`))
    .min(1, 'must name at least one role')
    .refine((r) => new Set(r).size === r.length, 'must not repeat a role'),
  specialty: z.string().trim().min(1, 'must not be empty').optional(),
  municipalities: z.array(municipalityCode).default([]),
  ydernumre: z.array(ydernummer).default([]),
  capacityPerDay: z
    .number('must be a number')
    .positive('must be a positive number')
    .refine(Number.isFinite, 'must be finite')
    .default(DEFAULT_CAPACITY_PER_DAY),
  /** the staff member's identity at the region's identity provider (the OIDC_STAFF_CLAIM of their ID token): staff-page login */
  oidcSubject: z
    .string()
    .min(1, 'must not be empty')
    .max(255, 'at most 255 characters')
    .refine((s) => s.trim() === s, 'must not have leading or trailing spaces')
    .optional(),
});

const gpSystemParty = z.strictObject({
  ...common,
  kind: z.literal('gp-system'),
  ydernumre: z.array(ydernummer).min(1, 'must list at least one ydernummer'),
  /** the clinic's SOR id and EAN number; used only when no GP directory is configured (development fallback) */
  sor: z
    .string()
    .regex(/^\d{6,18}$/, 'must be a SOR id (6–18 digits)')
    .optional(),
  ean: z
    .string()
    .regex(/^\d{13}$/, 'must be a 13-digit EAN (GLN) location number')
    .optional(),
});

/** A VANS provider: hands MedCom acknowledgements from the VANS network to the gateway (POST /v1/medcom/inbox). */
const vansProviderParty = z.strictObject({
  ...common,
  kind: z.literal('vans-provider'),
});

const partySchema = z.discriminatedUnion('kind', [municipalityParty, seniorPensionUnitParty, staffParty, gpSystemParty, vansProviderParty]);

const fileSchema = z.object({ parties: z.array(z.unknown()) });

export type Party = z.output<typeof partySchema>;
export type StaffParty = z.output<typeof staffParty>;
export type GpSystemParty = z.output<typeof gpSystemParty>;

// ---------------------------------------------------------------------------
// Parsing

function formatPath(p: ReadonlyArray<PropertyKey>): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  if (issue.code === 'invalid_union' && issue.path[issue.path.length - 1] === 'kind') {
    return `must be one of ${PARTY_KINDS.join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'is required';
    const expected = issue.expected === 'object' || issue.expected === 'array' ? `an ${issue.expected}` : `a ${issue.expected}`;
    return `must be ${expected}`;
  }
  return issue.message;
}

/**
 * Validates a parties file (its text, or the parsed JSON). Throws an Error
 * listing every problem, each naming the party (index and id) and field.
 */
export function parsePartiesFile(json: unknown): Party[] {
  let raw = json;
  if (typeof json === 'string' || Buffer.isBuffer(json)) {
    try {
      raw = JSON.parse(json.toString());
    } catch (e) {
      throw new Error(`parties file is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  const file = fileSchema.safeParse(raw);
  if (!file.success) {
    throw new Error('parties file must be an object with a "parties" array');
  }

  const problems: string[] = [];
  const parsed: Array<{ index: number; party: Party }> = [];
  file.data.parties.forEach((p, i) => {
    const rawId =
      p !== null && typeof p === 'object' && typeof (p as { id?: unknown }).id === 'string' ? (p as { id: string }).id : undefined;
    const where = `parties[${i}]${rawId !== undefined ? ` (${JSON.stringify(rawId)})` : ''}`;
    const r = partySchema.safeParse(p, { reportInput: true });
    if (!r.success) {
      for (const issue of r.error.issues) {
        const field = formatPath(issue.path);
        problems.push(`${where}${field ? ` ${field}` : ''}: ${describeIssue(issue)}`);
      }
      return;
    }
    parsed.push({ index: i, party: r.data });
  });

  // Cross-party rules, checked only on parties that parsed.
  const ids = new Map<string, number>();
  const certOwner = new Map<string, string>();
  const gpOwner = new Map<string, string>();
  const subjectOwner = new Map<string, string>();
  for (const { index, party: p } of parsed) {
    const where = `parties[${index}] (${JSON.stringify(p.id)})`;
    if (ids.has(p.id)) problems.push(`${where} id: duplicate party id (also parties[${ids.get(p.id)}])`);
    else ids.set(p.id, index);
    p.certificates.forEach((c, ci) => {
      const key = c.sha256 !== undefined ? `sha256:${c.sha256}` : `serial:${c.subjectSerialNumber}`;
      const field = `certificates[${ci}].${c.sha256 !== undefined ? 'sha256' : 'subjectSerialNumber'}`;
      const owner = certOwner.get(key);
      if (owner !== undefined) {
        problems.push(
          owner === p.id
            ? `${where} ${field}: listed twice for the same party`
            : `${where} ${field}: already belongs to party ${JSON.stringify(owner)}; a certificate identifies exactly one party`,
        );
      } else certOwner.set(key, p.id);
    });
    if (p.kind === 'staff' && p.oidcSubject !== undefined) {
      const owner = subjectOwner.get(p.oidcSubject);
      if (owner !== undefined) problems.push(`${where} oidcSubject: already belongs to party ${JSON.stringify(owner)}`);
      else subjectOwner.set(p.oidcSubject, p.id);
    }
    if (p.kind === 'gp-system') {
      p.ydernumre.forEach((y, yi) => {
        const owner = gpOwner.get(y);
        if (owner !== undefined && owner !== p.id) {
          problems.push(`${where} ydernumre[${yi}]: ydernummer ${y} already belongs to gp-system ${JSON.stringify(owner)}`);
        } else gpOwner.set(y, p.id);
      });
    }
  }

  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
    throw new Error(`parties file is invalid:\n  ${shown.join('\n  ')}`);
  }
  return parsed.map((x) => x.party);
}

// ---------------------------------------------------------------------------
// Registry

export interface PartyLog {
  info(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

export interface PeerCertificateKey {
  subjectSerialNumber?: string;
  /** As node gives it: 'AB:CD:…' (colons and case do not matter). */
  fingerprint256: string;
}

export interface PartyRegistry {
  readonly path: string;
  all(): readonly Party[];
  get(id: string): Party | undefined;
  /** The one party a verified client certificate belongs to, or undefined (unknown or ambiguous). */
  byCertificate(cert: PeerCertificateKey): Party | undefined;
  /** Re-reads the file; a bad file is refused and the current set stays in force. */
  reload(): { ok: true } | { ok: false; error: string };
  /** The gp-system that serves this ydernummer. */
  gpSystemFor(ydernummer: string): GpSystemParty | undefined;
  /** The staff member with this identity at the identity provider (`oidcSubject`). */
  staffByOidcSubject(subject: string): StaffParty | undefined;
}

interface Index {
  parties: readonly Party[];
  byId: Map<string, Party>;
  bySerial: Map<string, Party>;
  byFingerprint: Map<string, Party>;
  gpByYdernummer: Map<string, GpSystemParty>;
  staffBySubject: Map<string, StaffParty>;
}

function buildIndex(parties: Party[]): Index {
  const idx: Index = {
    parties: Object.freeze([...parties]),
    byId: new Map(),
    bySerial: new Map(),
    byFingerprint: new Map(),
    gpByYdernummer: new Map(),
    staffBySubject: new Map(),
  };
  for (const p of parties) {
    idx.byId.set(p.id, p);
    for (const c of p.certificates) {
      if (c.sha256 !== undefined) idx.byFingerprint.set(c.sha256, p);
      else idx.bySerial.set(c.subjectSerialNumber, p);
    }
    if (p.kind === 'gp-system') for (const y of p.ydernumre) idx.gpByYdernummer.set(y, p);
    if (p.kind === 'staff' && p.oidcSubject !== undefined) idx.staffBySubject.set(p.oidcSubject, p);
  }
  return idx;
}

export function loadPartiesFile(file: string): Party[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read parties file ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return parsePartiesFile(text);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Loads the parties file; throws if it is unreadable or invalid. */
export function createPartyRegistry(file: string, log?: PartyLog): PartyRegistry {
  const resolved = path.resolve(file);
  let idx = buildIndex(loadPartiesFile(resolved));
  log?.info({ file: resolved, parties: idx.parties.length }, 'parties file loaded');

  return {
    path: resolved,
    all: () => idx.parties,
    get: (id) => idx.byId.get(id),
    byCertificate(cert) {
      const bySerial = cert.subjectSerialNumber !== undefined ? idx.bySerial.get(cert.subjectSerialNumber) : undefined;
      const byFp = cert.fingerprint256 ? idx.byFingerprint.get(normaliseFingerprint(cert.fingerprint256)) : undefined;
      if (bySerial && byFp && bySerial !== byFp) {
        log?.warn?.(
          { subjectSerialNumber: cert.subjectSerialNumber, fingerprint256: cert.fingerprint256, parties: [bySerial.id, byFp.id] },
          'client certificate matches two parties; refused',
        );
        return undefined;
      }
      return bySerial ?? byFp;
    },
    reload() {
      try {
        idx = buildIndex(loadPartiesFile(resolved));
        log?.info({ file: resolved, parties: idx.parties.length }, 'parties file reloaded');
        return { ok: true };
      } catch (e) {
        const error = (e as Error).message;
        log?.error?.({ file: resolved, error }, 'parties file refused; the previous parties stay in force');
        return { ok: false, error };
      }
    },
    gpSystemFor: (y) => idx.gpByYdernummer.get(y),
    staffByOidcSubject: (subject) => idx.staffBySubject.get(subject),
  };
}
