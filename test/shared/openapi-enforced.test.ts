/**
 * Every request schema the served OpenAPI document describes is the one the
 * gateway enforces. The test walks /openapi.json itself: for every JSON body,
 * query and JSON multipart part it derives inputs that the documented schema
 * refuses (a required field left out, a field of the wrong JSON type, an
 * unknown field, a value outside an enum) and sends them to a real gateway.
 * Each must be answered 422 with an `errors` entry naming that field, and
 * nothing of it may be kept. An operation whose schema the gateway did not
 * enforce, or enforced differently, fails here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { as, events, send, settled, writeRoutingParties } from '../helpers/staff.js';

type Json = Record<string, unknown>;
interface SchemaObject {
  type?: string;
  properties?: Record<string, SchemaObject>;
  required?: string[];
  additionalProperties?: unknown;
  enum?: unknown[];
  $ref?: string;
}

/** A value of another JSON type than `type` (and never undefined). */
function wrongTypeFor(type: string | undefined): unknown {
  switch (type) {
    case 'string':
      return 12345;
    case 'number':
    case 'integer':
      return 'not a number';
    case 'boolean':
      return 'yes';
    case 'array':
      return { not: 'a list' };
    case 'object':
      return ['not', 'an', 'object'];
    default:
      return undefined;
  }
}

/** The documented invalid inputs of an object schema, each with the field its error must name. */
function invalidInputs(schema: SchemaObject): { why: string; value: Json; path: string }[] {
  const out: { why: string; value: Json; path: string }[] = [];
  for (const name of schema.required ?? []) out.push({ why: `required ${name} left out`, value: {}, path: name });
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const wrong = wrongTypeFor(prop.type);
    if (wrong !== undefined) out.push({ why: `${name} of the wrong JSON type`, value: { [name]: wrong }, path: name });
    if (prop.enum) out.push({ why: `${name} outside its enum`, value: { [name]: 'no-such-value' }, path: name });
  }
  if (schema.additionalProperties === false) out.push({ why: 'an unknown field', value: { surely_unknown: 1 }, path: '(root)' });
  return out;
}

describe('OpenAPI: every documented request schema is enforced', () => {
  let dir: string;
  let g: TestGateway;
  let doc: { paths: Record<string, Record<string, Json>>; components: { schemas: Record<string, SchemaObject> } };
  let caseId: string;
  let assignee: string;

  const resolve = (s: SchemaObject): SchemaObject => (s.$ref ? doc.components.schemas[s.$ref.split('/').pop()!]! : s);

  /** A caller that passes the endpoint's authorisation, so what answers is the validation. */
  const callerFor = (path: string): string =>
    path === '/v1/packages' || path === '/v1/coordinator-changes'
      ? 'kommune-101'
      : /assign$|legal-hold|^\/v1\/cases$|^\/v1\/messages|^\/v1\/statistics\//.test(path)
        ? 'lead-1'
        : assignee;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pk-openapi-'));
    g = await startTestGateway({ dialect: 'sqlite', env: { PARTIES_FILE: writeRoutingParties(dir) } });
    caseId = (await send(g, 'kommune-101')).caseId;
    assignee = (await settled(g, caseId)).assigned_to!;
    const res = await as(g, 'kommune-101').get('/openapi.json');
    assert.equal(res.status, 200);
    doc = res.body;
  });
  after(async () => {
    await g.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('each JSON body, query and JSON part documented is refused with 422 naming the field when it does not fit', async () => {
    const eventsBefore = (await events(g, caseId)).length;
    const exercised: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const url = path.replace('{caseId}', caseId).replace('{messageId}', '00000000-0000-4000-8000-000000000000');
        const party = callerFor(path);
        const c = g.creds(party);
        const send = (r: request.Test) => r.ca(g.ca).cert(c.cert).key(c.key);
        const check = async (what: string, res: request.Response, field: string) => {
          assert.equal(res.status, 422, `${method.toUpperCase()} ${path} (${what}) as ${party}: ${res.status} ${res.text.slice(0, 300)}`);
          assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
          const errors = res.body.errors as { path: string; message: string }[];
          const hit = errors.find((e) => e.path === field);
          assert.ok(hit, `${method.toUpperCase()} ${path} (${what}): no error names ${field}: ${JSON.stringify(errors)}`);
          if (what.includes('wrong JSON type'))
            assert.doesNotMatch(hit.message, /required/, `${path}: a wrong type is not called "required"`);
        };

        const body = (op.requestBody as Json | undefined)?.content as Record<string, { schema: SchemaObject }> | undefined;
        const jsonSchema = body?.['application/json']?.schema;
        if (jsonSchema) {
          exercised.push(`${method} ${path} body`);
          for (const bad of invalidInputs(resolve(jsonSchema))) {
            await check(bad.why, await send(request(g.url).post(url)).send(bad.value), bad.path);
          }
        }
        const multipart = body?.['multipart/form-data']?.schema;
        for (const [part, partSchema] of Object.entries(multipart?.properties ?? {})) {
          if (!partSchema.$ref) continue; // a binary part
          exercised.push(`${method} ${path} part ${part}`);
          for (const bad of invalidInputs(resolve(partSchema))) {
            const res = await send(request(g.url).post(url)).field(part, JSON.stringify(bad.value));
            await check(`${part}: ${bad.why}`, res, bad.path);
          }
        }
        const query = ((op.parameters as Json[] | undefined) ?? []).filter((p) => p.in === 'query');
        if (query.length > 0) exercised.push(`${method} ${path} query`);
        for (const q of query) {
          const name = String(q.name);
          if (q.required) await check(`${name} left out`, await send(request(g.url).get(path)), name);
          // A value the documented schema refuses: outside an enum or pattern, or (a free-form id) longer than its maxLength.
          const schema = (q.schema ?? {}) as SchemaObject & { maxLength?: number; pattern?: string };
          const freeForm = !schema.enum && !schema.pattern && schema.maxLength !== undefined;
          const [why, value] = freeForm
            ? ['longer than its maxLength', 'x'.repeat(schema.maxLength! + 1)]
            : ['outside its enum', 'no-such-value'];
          await check(`${name} ${why}`, await send(request(g.url).get(`${path}?${name}=${value}`)), name);
        }
      }
    }
    // Every operation with a request schema was walked (the list comes from the document, not from this test).
    assert.deepEqual(exercised.sort(), [
      'get /v1/cases query',
      'get /v1/messages query',
      'get /v1/settlements query',
      'get /v1/settlements/price-cap query',
      'get /v1/statistics/waiting-times query',
      'post /v1/cases/{caseId}/assign body',
      'post /v1/cases/{caseId}/citizen-conversation body',
      'post /v1/cases/{caseId}/conflict body',
      'post /v1/cases/{caseId}/consents body',
      'post /v1/cases/{caseId}/consultation body',
      'post /v1/cases/{caseId}/extension body',
      'post /v1/cases/{caseId}/legal-hold body',
      'post /v1/cases/{caseId}/legal-hold/lift body',
      'post /v1/cases/{caseId}/meeting body',
      'post /v1/cases/{caseId}/responses part response',
      'post /v1/coordinator-changes body',
      'post /v1/messages/{messageId}/resolve body',
      'post /v1/packages part manifest',
    ]);
    // A body the gateway lets a request leave out is documented as optional (resolve: only a message without a ydernummer needs one).
    const resolveBody = doc.paths['/v1/messages/{messageId}/resolve']!.post!.requestBody as Json;
    assert.equal(resolveBody.required, false);
    assert.equal((doc.paths['/v1/cases/{caseId}/assign']!.post!.requestBody as Json).required, true);
    // Nothing of a refused request was kept.
    assert.equal((await events(g, caseId)).length, eventsBefore);
    assert.equal((await settled(g, caseId)).assigned_to, assignee);
  });
});
