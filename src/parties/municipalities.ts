/**
 * Municipality → region table (config/municipalities.json).
 *
 * `loadMunicipalities(file?)` gives a table object; the module-level
 * functions use the default file, loaded once on first use.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { shippedFile } from '../shared/paths.js';

const fileSchema = z.object({
  regions: z.record(z.string().regex(/^\d{4}$/, 'region codes are 4 digits'), z.string().min(1)),
  municipalities: z.record(z.string().regex(/^\d{3}$/, 'municipality codes are 3 digits'), z.string().regex(/^\d{4}$/)),
});

export interface Municipalities {
  /** Region code (1081–1085) of a municipality code, or undefined if unknown. */
  regionOf(municipalityCode: string): string | undefined;
  isKnownMunicipality(code: string): boolean;
  /**
   * Name of a region. Accepts a region code ("1084") or a municipality code
   * ("101" → the name of its region); the two code spaces do not overlap.
   */
  regionName(code: string): string | undefined;
  /** All known municipality codes. */
  codes(): string[];
}

export const MUNICIPALITIES_FILE = shippedFile('config', 'municipalities.json');

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

export function loadMunicipalities(file: string | URL = MUNICIPALITIES_FILE): Municipalities {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`municipality table ${String(file)}: ${(e as Error).message}`, { cause: e });
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new Error(`municipality table ${String(file)}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const regions = { ...parsed.data.regions };
  const municipalities = { ...parsed.data.municipalities };
  for (const [m, r] of Object.entries(municipalities)) {
    if (!own(regions, r)) throw new Error(`municipality table ${String(file)}: municipality ${m} names unknown region ${r}`);
  }
  const regionOf = (code: string) => (own(municipalities, code) ? municipalities[code] : undefined);
  return {
    regionOf,
    isKnownMunicipality: (code) => regionOf(code) !== undefined,
    regionName(code) {
      const region = own(regions, code) ? code : regionOf(code);
      return region !== undefined ? regions[region] : undefined;
    },
    codes: () => Object.keys(municipalities),
  };
}

let defaultTable: Municipalities | undefined;
function table(): Municipalities {
  defaultTable ??= loadMunicipalities();
  return defaultTable;
}

export function isKnownMunicipality(code: string): boolean {
  return table().isKnownMunicipality(code);
}
