/**
 * Personal data in ordinary columns, sealed like the manifest (issue 15).
 *
 * A document's title, the treating clinicians, who gave a consent, a
 * municipality's reason, and the free text of a case event (a conflict's or
 * an extension's reason, with whom an extension was agreed) are sealed with
 * `sealSmall` under the master key. The AAD binds each value to its place
 * (table, column and row; for JSON, also the key), so a sealed value copied to
 * another row or key does not open. What queries need — ids, kinds, states,
 * dates — stays in clear.
 *
 * - A text column holds `sealed1:` + base64(sealSmall(value)).
 * - In a JSON column (an event's data, the case's cached clock) only the
 *   values of PERSONAL_JSON_KEYS are sealed, each replaced by
 *   `{"$sealed": base64}`; the rest of the JSON keeps its shape and order.
 *
 * A value without the marker is a clear value written before migration
 * 0012_sealed_fields (which seals them all) and is read as it is.
 *
 * The sealer belongs to the database handle: openDatabase({ masterKey })
 * registers it for the handle's Kysely instance, and the stores look it up
 * with `fieldsOf(db)`. A handle opened without the key reads clear values but
 * refuses to write or open personal fields.
 */
import type { Kysely } from 'kysely';
import { openSmall, sealSmall } from './crypto.js';

export const SEALED_TEXT_PREFIX = 'sealed1:';
export const SEALED_JSON_KEY = '$sealed';
/** Keys whose values are sealed wherever they occur in an event's data or a case's clock. */
export const PERSONAL_JSON_KEYS: ReadonlySet<string> = new Set(['reason', 'agreedWith']);

export interface FieldSealer {
  /** Seals a text column's value for (table, column, row id). */
  sealText(table: string, column: string, rowId: string, value: string): string;
  /** Opens what sealText wrote; a clear (pre-0012) value is returned as it is. */
  openText(table: string, column: string, rowId: string, value: string): string;
  /** Seals the personal keys' values in a JSON text; `context` names the row (see eventContext, clockContext). */
  sealJson(context: string, json: string): string;
  /** Opens what sealJson wrote, giving back the original JSON text. */
  openJson(context: string, json: string): string;
}

export const isSealedText = (v: string | null | undefined): boolean => typeof v === 'string' && v.startsWith(SEALED_TEXT_PREFIX);
/** True when a JSON text holds a personal key that is still in clear (the migration's and a writer's test). */
export const hasClearPersonalKey = (json: string): boolean => [...PERSONAL_JSON_KEYS].some((k) => json.includes(`"${k}":`));
const hasSealedJson = (json: string): boolean => json.includes(`"${SEALED_JSON_KEY}"`);

/** The AAD context of a case event's data: its case, name and instant. */
export const eventContext = (caseId: string, event: string, at: string): string => `case_events.data\0${caseId}\0${event}\0${at}`;
/** The AAD context of a case's cached clock. */
export const clockContext = (caseId: string): string => `cases.clock\0${caseId}`;

const textAad = (table: string, column: string, rowId: string) => Buffer.from(`postkasse-field\0${table}.${column}\0${rowId}`, 'utf8');
const jsonAad = (context: string, key: string) => Buffer.from(`postkasse-field\0${context}\0${key}`, 'utf8');

export function createFieldSealer(masterKey: Buffer): FieldSealer {
  const sealValue = (context: string, key: string, value: unknown) => ({
    [SEALED_JSON_KEY]: sealSmall(masterKey, Buffer.from(JSON.stringify(value), 'utf8'), jsonAad(context, key)).toString('base64'),
  });
  const isSealedObject = (v: unknown): v is { [SEALED_JSON_KEY]: string } =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof (v as never)[SEALED_JSON_KEY] === 'string';
  function walk(v: unknown, visit: (key: string, value: unknown) => unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => walk(x, visit));
    if (typeof v !== 'object' || v === null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = PERSONAL_JSON_KEYS.has(k) ? visit(k, x) : walk(x, visit);
    return out;
  }
  return {
    sealText(table, column, rowId, value) {
      return SEALED_TEXT_PREFIX + sealSmall(masterKey, Buffer.from(value, 'utf8'), textAad(table, column, rowId)).toString('base64');
    },
    openText(table, column, rowId, value) {
      if (!isSealedText(value)) return value;
      const sealed = Buffer.from(value.slice(SEALED_TEXT_PREFIX.length), 'base64');
      try {
        return openSmall(masterKey, sealed, textAad(table, column, rowId)).toString('utf8');
      } catch (err) {
        throw new Error(`sealed ${table}.${column} of row ${rowId} does not open: ${(err as Error).message}`, { cause: err });
      }
    },
    sealJson(context, json) {
      if (!hasClearPersonalKey(json)) return json;
      return JSON.stringify(walk(JSON.parse(json), (k, x) => (isSealedObject(x) ? x : sealValue(context, k, x))));
    },
    openJson(context, json) {
      if (!hasSealedJson(json)) return json;
      return JSON.stringify(
        walk(JSON.parse(json), (k, x) => {
          if (!isSealedObject(x)) return x;
          try {
            return JSON.parse(openSmall(masterKey, Buffer.from(x[SEALED_JSON_KEY], 'base64'), jsonAad(context, k)).toString('utf8'));
          } catch (err) {
            throw new Error(`sealed "${k}" in ${context.split('\0')[0]} does not open: ${(err as Error).message}`, { cause: err });
          }
        }),
      );
    },
  };
}

// ---------------------------------------------------------------- the handle's sealer

const sealers = new WeakMap<object, FieldSealer>();

/** Called by openDatabase: the sealer of this handle's Kysely instance. */
export function registerFieldSealer(db: Kysely<never> | Kysely<any>, sealer: FieldSealer): void {
  sealers.set(db, sealer);
}

/**
 * The personal-field sealer of a database handle. Without the master key the
 * handle reads clear values; a sealed value, or any write of a personal field,
 * throws (never a clear write by mistake).
 */
export function fieldsOf(db: object): FieldSealer {
  return sealers.get(db) ?? keyless;
}

const noKey = (what: string) =>
  new Error(
    `${what}: the database was opened without the storage master key (openDatabase({ masterKey })), so personal fields stay sealed`,
  );
const keyless: FieldSealer = {
  sealText: (table, column) => {
    throw noKey(`writing ${table}.${column}`);
  },
  openText: (table, column, _rowId, value) => {
    if (isSealedText(value)) throw noKey(`reading ${table}.${column}`);
    return value;
  },
  sealJson: (context, json) => {
    if (hasClearPersonalKey(json)) throw noKey(`writing ${context.split('\0')[0]}`);
    return json;
  },
  openJson: (context, json) => {
    if (hasSealedJson(json)) throw noKey(`reading ${context.split('\0')[0]}`);
    return json;
  },
};

// ---------------------------------------------------------------- rows, for the stores

type CaseFields = { id: string; treating_clinicians?: string; clock?: string; consents?: string };

/** A case row's personal fields sealed for writing (the columns present are sealed; the others are left out). */
export function sealCaseFields<T extends CaseFields>(f: FieldSealer, row: T): T {
  const out = { ...row };
  if (row.treating_clinicians !== undefined)
    out.treating_clinicians = f.sealText('cases', 'treating_clinicians', row.id, row.treating_clinicians);
  if (row.clock !== undefined) out.clock = f.sealJson(clockContext(row.id), row.clock);
  return out;
}

/** A case row as read, its personal fields opened. */
export function openCaseFields<T extends CaseFields>(f: FieldSealer, row: T): T;
export function openCaseFields<T extends CaseFields>(f: FieldSealer, row: T | undefined): T | undefined;
export function openCaseFields<T extends CaseFields>(f: FieldSealer, row: T | undefined): T | undefined {
  if (!row) return row;
  const out = { ...row };
  if (row.treating_clinicians !== undefined)
    out.treating_clinicians = f.openText('cases', 'treating_clinicians', row.id, row.treating_clinicians);
  if (row.clock !== undefined) out.clock = f.openJson(clockContext(row.id), row.clock);
  if (row.consents !== undefined) out.consents = f.openText('cases', 'consents', row.id, row.consents);
  return out;
}

/** A case event for writing, the personal keys of its data sealed. */
export function sealEventRow<T extends { case_id: string; event: string; at: string; data: string }>(f: FieldSealer, row: T): T {
  return { ...row, data: f.sealJson(eventContext(row.case_id, row.event, row.at), row.data) };
}

/** A case event as read (of case `caseId`), its data opened. */
export function openEventRow<T extends { event: string; at: string; data: string }>(f: FieldSealer, caseId: string, row: T): T {
  return { ...row, data: f.openJson(eventContext(caseId, row.event, row.at), row.data) };
}

/**
 * A JSON text with its personal values removed (issue 15, the retention
 * purge): every sealed value and every value of a personal key becomes null;
 * everything else keeps its shape. Needs no key.
 */
export function withoutPersonalValues(json: string): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 1 && SEALED_JSON_KEY in o) return null;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, PERSONAL_JSON_KEYS.has(k) ? null : strip(x)]));
  };
  return json === '' ? json : JSON.stringify(strip(JSON.parse(json)));
}
