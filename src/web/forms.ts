/**
 * The staff pages' forms, generated from the zod schemas the JSON API validates
 * with: one field per key of an object schema, labelled and explained in Danish
 * from its form metadata (src/shared/form-meta.ts), with the server's Danish
 * error message next to the field it concerns. The browser does no validation
 * of its own (no `required`, `min`, …: its bubble would hide the server's
 * message; put `novalidate` on the `<form>`), and there are no inline styles
 * or scripts (the CSP forbids them).
 *
 * Names are dotted (`furtherAssessment.needed`, or `content.furtherAssessment.needed`
 * with a `namePrefix`), as `express.urlencoded({ extended: false })` and multer
 * hand them over; `parseForm` turns them back into the value the schema expects.
 */
import type { z } from 'zod';
import { innerOf, metaOf, type FormMeta } from '../shared/form-meta.js';
import type { FieldError } from '../shared/problem.js';
import { html, raw, type Html } from './html.js';

type Control = 'text' | 'textarea' | 'date' | 'number' | 'lines' | 'radios' | 'checkbox' | 'select' | 'group';

interface Field {
  key: string;
  /** the schema inside its optional/default/nullable/pipe wrappers */
  base: z.core.$ZodType;
  optional: boolean;
  meta: FormMeta | undefined;
  control: Control;
}

type Shape = Record<string, z.core.$ZodType>;

function shapeOf(schema: z.core.$ZodType): Shape {
  return (schema._zod.def as z.core.$ZodObjectDef).shape as Shape;
}

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let s = schema;
  for (let inner = innerOf(s); inner; inner = innerOf(s)) s = inner;
  return s;
}

function fieldsOf(schema: z.core.$ZodType): Field[] {
  return Object.entries(shapeOf(schema)).map(([key, s]) => {
    const base = unwrap(s);
    const meta = metaOf(s);
    const optional = s._zod.optin === 'optional';
    return { key, base, optional, meta, control: controlOf(base, optional, meta) };
  });
}

function controlOf(base: z.core.$ZodType, optional: boolean, meta: FormMeta | undefined): Control {
  switch (base._zod.def.type) {
    case 'boolean':
      return optional ? 'checkbox' : 'radios';
    case 'enum':
      return 'select';
    case 'object':
      return 'group';
    case 'number':
      return 'number';
    case 'array':
      return 'lines';
    default:
      return meta?.input ?? 'text';
  }
}

function enumOptions(base: z.core.$ZodType, meta: FormMeta | undefined): [value: string, label: string][] {
  const entries = (base._zod.def as z.core.$ZodEnumDef).entries;
  return Object.values(entries).map((v) => [String(v), meta?.options?.[String(v)] ?? String(v)]);
}

/** `name="value"` for each attribute that is set (`true`: the bare name), space-separated; the names are the code's own. */
function attrs(a: Record<string, string | boolean | undefined>): Html {
  const set = Object.entries(a).filter(([, v]) => v !== undefined && v !== false);
  return raw(set.map(([k, v]) => (v === true ? k : html`${raw(k)}="${v}"`.value)).join(' '));
}

const child = (values: unknown, key: string): unknown =>
  values !== null && typeof values === 'object' && !Array.isArray(values) ? (values as Record<string, unknown>)[key] : undefined;

const textOf = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** `(root)`, `content`, `content.x[2].y` → the field path under `errorPrefix` (`x.y`), '' for the whole value, or the path itself outside it. */
function relativePath(path: string, errorPrefix: string | undefined): string {
  let p = path === '(root)' ? '' : path;
  if (errorPrefix) {
    if (p === errorPrefix) p = '';
    else if (p.startsWith(`${errorPrefix}.`) || p.startsWith(`${errorPrefix}[`)) p = p.slice(errorPrefix.length).replace(/^\./, '');
  }
  return p;
}

const fieldPath = (relative: string) => relative.replace(/\[\d+\].*$/, '');
const idFor = (idPrefix: string, path: string) => `${idPrefix}-${path.replace(/\[\d+\]/g, '').replace(/\./g, '-')}`;
const danish = (e: FieldError) => e.da ?? e.message;
const NEWLINE = raw('\n');

export interface RenderFieldsOptions {
  /** the current values (the stored content, or `parseForm`'s result after a refused submission) */
  values?: Record<string, unknown>;
  /** the field errors to show, e.g. from `checkResponse` or `checkWith` */
  errors?: FieldError[];
  /** the prefix of the errors' paths (e.g. `content`) */
  errorPrefix?: string;
  /** the prefix of the controls' names (e.g. `content` → `content.reasons`) */
  namePrefix?: string;
  /** the prefix of the controls' ids (`<idPrefix>-furtherAssessment-needed`); unique on the page */
  idPrefix: string;
  /** keys (dotted for nested fields) the page renders itself, or not at all */
  omit?: string[];
}

interface Walk {
  opts: RenderFieldsOptions;
  /** keys from the top */
  path: string[];
  /** the enclosing groups are all required (else a required field is required only once its group is filled in) */
  required: boolean;
}

/**
 * One field per key of `schema`, in the shape's order: label (with "(valgfrit)" on optional ones),
 * § help, the Danish error right after them, then the control (`aria-describedby` naming help and
 * error, `aria-invalid` when there is an error, `aria-required` on required fields).
 */
export function renderFields(schema: z.ZodObject, opts: RenderFieldsOptions): Html {
  return fieldsHtml(schema, opts.values, { opts, path: [], required: true });
}

function fieldsHtml(schema: z.core.$ZodType, values: unknown, w: Walk): Html {
  const omit = new Set(w.opts.omit ?? []);
  return html`${fieldsOf(schema)
    .filter((f) => !omit.has([...w.path, f.key].join('.')))
    .map((f) => fieldHtml(f, child(values, f.key), w))}`;
}

function fieldHtml(f: Field, value: unknown, w: Walk): Html {
  const { opts } = w;
  const path = [...w.path, f.key];
  const dotted = path.join('.');
  const id = idFor(opts.idPrefix, dotted);
  const name = [opts.namePrefix, dotted].filter(Boolean).join('.');
  const errKey = [opts.errorPrefix, dotted].filter(Boolean).join('.');
  const errors = (opts.errors ?? []).flatMap((e) => {
    if (e.path === errKey) return [danish(e)];
    const item = e.path.startsWith(`${errKey}[`) && f.control === 'lines' ? /^\[(\d+)\]/.exec(e.path.slice(errKey.length)) : null;
    return item ? [`Linje ${Number(item[1]) + 1}: ${danish(e)}`] : [];
  });
  const messages = [...new Set(errors)];
  const required = w.required && !f.optional;
  const helpId = f.meta?.help ? `${id}-help` : undefined;
  const errorId = messages.length ? `${id}-error` : undefined;
  const describedBy = [helpId, errorId].filter(Boolean).join(' ') || undefined;
  const label = html`${f.meta?.label ?? f.key}${f.control === 'lines' && html` <span class="hint">(én pr. linje)</span>`}${
    f.optional && w.required && html` <span class="optional">(valgfrit)</span>`
  }`;
  const help = helpId && html`<p class="help" id="${helpId}">${f.meta?.help}</p>`;
  const error = errorId && html`<p class="field-error" id="${errorId}">${messages.join(' ')}</p>`;
  const aria = {
    'aria-required': required ? 'true' : undefined,
    'aria-invalid': messages.length ? 'true' : undefined,
    'aria-describedby': describedBy,
  };

  switch (f.control) {
    case 'group':
      return html`<fieldset class="field-group" id="${id}" ${attrs({ 'aria-describedby': describedBy })}>
        <legend>${label}</legend>
        ${help}${error}${fieldsHtml(f.base, value, { opts, path, required })}
      </fieldset> `;
    case 'radios': {
      const checked = value === true || value === 'true' ? 'true' : value === false || value === 'false' ? 'false' : undefined;
      const radio = (v: 'true' | 'false', rid: string, text: string) => {
        const input = html`<input type="radio" id="${rid}" name="${name}" value="${v}" ${attrs({ checked: checked === v })} />`;
        return html`<span class="radio">${input}<label for="${rid}">${text}</label></span>`;
      };
      return html`<div class="field">
        <fieldset class="radios" role="radiogroup" ${attrs(aria)}>
          <legend>${label}</legend>
          ${help}${error}${radio('true', id, 'Ja')}${radio('false', `${id}-false`, 'Nej')}
        </fieldset>
      </div> `;
    }
    default:
      return html`<div class="field">
        <label for="${id}">${label}</label>
        ${help}${error}${control(f, id, name, value, aria)}
      </div> `;
  }
}

function control(f: Field, id: string, name: string, value: unknown, aria: Record<string, string | undefined>): Html {
  const a = attrs(aria);
  switch (f.control) {
    case 'checkbox': {
      const checked = attrs({ checked: value === true || value === 'true' });
      return html`<input
        type="checkbox"
        id="${id}"
        name="${name}"
        value="true"
        ${checked}
        ${attrs({ ...aria, 'aria-required': undefined })}
      />`;
    }
    case 'select': {
      const current = textOf(value);
      const options = enumOptions(f.base, f.meta).map(
        ([v, text]) => html`<option value="${v}" ${attrs({ selected: v === current })}>${text}</option>`,
      );
      return html`<select id="${id}" name="${name}" ${a}>
        <option value="">Vælg …</option>
        ${options}
      </select>`;
    }
    case 'textarea':
    case 'lines': {
      const text = Array.isArray(value) ? value.filter((v) => typeof v === 'string').join('\n') : textOf(value);
      // the parser eats a newline right after the start tag: one of our own, so a value's own leading newline survives
      return html`<textarea id="${id}" name="${name}" rows="${f.control === 'lines' ? 4 : 6}" ${a}>${NEWLINE}${text}</textarea>`;
    }
    case 'date':
      return html`<input type="date" id="${id}" name="${name}" value="${textOf(value)}" ${a} />`;
    case 'number':
      return html`<input type="number" id="${id}" name="${name}" value="${textOf(value)}" step="any" inputmode="decimal" ${a} />`;
    default:
      return html`<input type="text" id="${id}" name="${name}" value="${textOf(value)}" ${a} />`;
  }
}

/**
 * The error summary above a form: `role="alert"`, "Ret følgende", and a link to each field
 * (`#<idPrefix>-<path>`; an error outside `errorPrefix`, e.g. `kind`, links to `#<idPrefix>-kind`,
 * one about the whole value is listed unlinked). With `schema`, each item starts with the field's label.
 */
export function errorSummary(errors: FieldError[], idPrefix: string, errorPrefix?: string, schema?: z.ZodObject): Html {
  if (!errors.length) return html``;
  const items = errors.map((e) => {
    const rel = relativePath(e.path, errorPrefix);
    const label = schema && rel ? labelAt(schema, fieldPath(rel).split('.')) : undefined;
    const line = /^[^[]*\[(\d+)\]$/.exec(rel);
    const message = line ? `Linje ${Number(line[1]) + 1}: ${danish(e)}` : danish(e);
    const text = label ? `${label}: ${message}` : message;
    return rel ? html`<li><a href="#${idFor(idPrefix, fieldPath(rel))}">${text}</a></li>` : html`<li>${text}</li>`;
  });
  return html`<div class="error-summary" role="alert" aria-labelledby="${idPrefix}-error-summary">
    <h2 id="${idPrefix}-error-summary">Ret følgende</h2>
    <ul>
      ${items}
    </ul>
  </div> `;
}

function labelAt(schema: z.core.$ZodType, path: string[]): string | undefined {
  let s: z.core.$ZodType | undefined = schema;
  let label: string | undefined;
  for (const key of path) {
    const base: z.core.$ZodType | undefined = s && unwrap(s);
    if (!base || base._zod.def.type !== 'object') return undefined;
    s = shapeOf(base)[key];
    if (!s) return undefined;
    label = metaOf(s)?.label;
  }
  return label;
}

/** A submitted value: the last of repeated keys. */
function submitted(body: Record<string, unknown>, name: string): unknown {
  if (!Object.hasOwn(body, name)) return undefined;
  const v = body[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const DECIMAL_COMMA = /^[+-]?\d+,\d+$/;

/**
 * Submitted form fields → the value `schema` expects: empty fields left out, "true"/"false" → booleans,
 * numbers → numbers ("12,5" too), a list → its trimmed non-empty lines, nested groups rebuilt (left out
 * when all their fields are empty). What does not convert stays the submitted string, so the schema
 * reports it. Keys the schema does not name (`_csrf`) are ignored.
 */
export function parseForm(schema: z.ZodObject, body: Record<string, unknown>, namePrefix?: string): Record<string, unknown> {
  return parseFields(schema, body, namePrefix);
}

function parseFields(schema: z.core.$ZodType, body: Record<string, unknown>, namePrefix: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fieldsOf(schema)) {
    const name = namePrefix ? `${namePrefix}.${f.key}` : f.key;
    if (f.control === 'group') {
      const sub = parseFields(f.base, body, name);
      if (Object.keys(sub).length) out[f.key] = sub;
      continue;
    }
    const v = submitted(body, name);
    if (typeof v !== 'string') {
      if (v !== undefined && v !== null) out[f.key] = v;
      continue;
    }
    const s = v.replace(/\r\n?/g, '\n');
    if (s.trim() === '') continue;
    switch (f.control) {
      case 'radios':
      case 'checkbox':
        out[f.key] = s === 'true' ? true : s === 'false' ? false : s;
        break;
      case 'number': {
        const t = s.trim();
        out[f.key] = NUMBER.test(t) ? Number(t) : DECIMAL_COMMA.test(t) ? Number(t.replace(',', '.')) : s;
        break;
      }
      case 'lines': {
        const lines = s
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
        if (lines.length) out[f.key] = lines;
        break;
      }
      default:
        out[f.key] = s;
    }
  }
  return out;
}
