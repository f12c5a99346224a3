/**
 * Danish form metadata for the staff pages (src/web/forms.ts), attached to the
 * very zod schemas the JSON API validates with, in a registry of its own: the
 * Danish labels and § help texts never reach `z.toJSONSchema` and so never
 * change the OpenAPI document (which reads the global registry, filled by
 * `.describe()` / `.meta()`).
 */
import { z } from 'zod';

export interface FormMeta {
  /** the field's Danish label */
  label: string;
  /** a Danish help text; names the § the field answers */
  help?: string;
  /** how the field is entered, when its type alone does not say (default: text input, select, radios or checkbox) */
  input?: 'text' | 'textarea' | 'date' | 'lines' | 'number';
  /** enum value → Danish label */
  options?: Record<string, string>;
}

export const formMeta = z.registry<FormMeta>();

/** Registers `meta` for `schema` and returns the same instance (so it can stand where the schema stood). */
export function ui<S extends z.ZodType>(schema: S, meta: FormMeta): S {
  formMeta.add(schema, meta);
  return schema;
}

/** The schema a wrapper (optional, nullable, default, prefault, readonly, catch, non-optional, pipe) wraps; undefined for the rest. */
export function innerOf(schema: z.core.$ZodType): z.core.$ZodType | undefined {
  const def = schema._zod.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return (def as z.core.$ZodOptionalDef).innerType;
    case 'pipe':
      return (def as z.core.$ZodPipeDef).in;
    default:
      return undefined;
  }
}

/** The form metadata of `schema`, or of the schema it wraps (the first one registered, outermost first). */
export function metaOf(schema: z.core.$ZodType): FormMeta | undefined {
  for (let s: z.core.$ZodType | undefined = schema; s; s = innerOf(s)) {
    const m = formMeta.get(s);
    if (m) return m;
  }
  return undefined;
}
