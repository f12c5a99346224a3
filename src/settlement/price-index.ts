/**
 * §18 stk. 2: the price cap of DKK 14 000 per case is at 2011 level and is
 * "regulated with the yearly price development of medical certificates". The
 * yearly factors live in PRICE_INDEX_FILE, which the region's finance office
 * keeps from the published yearly regulation of the fees for medical
 * certificates (see docs/operations.md); the file shipped in config/ is
 * development data.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export interface PriceIndex {
  /** the year the factors are relative to (2011 for §18 stk. 2) */
  baseYear: number;
  /** year → index value (the base year's value is the reference, e.g. 100) */
  factors: Record<string, number>;
  source?: string;
}

const schema = z.strictObject({
  note: z.string().optional(),
  source: z.string().optional(),
  baseYear: z.number().int().min(2000).max(2100),
  factors: z.record(
    z.string().regex(/^\d{4}$/, 'keys must be years, e.g. "2027"'),
    z.number('must be a number').positive('must be more than 0'),
  ),
});

/** Reads and checks the file; throws an Error naming the file and the field. */
export function loadPriceIndex(file: string): PriceIndex {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read PRICE_INDEX_FILE ${file}: ${(err as Error).message}`, { cause: err });
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw new Error(`PRICE_INDEX_FILE ${file} is invalid: ${problems}`);
  }
  if (r.data.factors[String(r.data.baseYear)] === undefined) {
    throw new Error(`PRICE_INDEX_FILE ${file} is invalid: factors has no value for the base year ${r.data.baseYear}`);
  }
  return { baseYear: r.data.baseYear, factors: r.data.factors, ...(r.data.source ? { source: r.data.source } : {}) };
}
