/**
 * The staff pages' forms (src/web/forms.ts) are generated from the schemas the
 * JSON API validates with: every field has a Danish label and a help text naming
 * its §, the server's Danish message stands next to the field it concerns, and
 * what a form submits parses back into the value the schema expects. The Danish
 * texts stay out of the partner API (problem+json, OpenAPI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { checkResponse, contentSchemaFor, KINDS_BY_SERVICE, type ContentContext } from '../../src/responses/content.js';
import {
  assignBodySchema,
  conflictBodySchema,
  consultationBodySchema,
  extensionBodySchema,
  meetingBodySchema,
} from '../../src/worklist/schema.js';
import { consentRecordSchema } from '../../src/consents/schema.js';
import { checkWith, parseWith } from '../../src/shared/validate.js';
import { Problem } from '../../src/shared/problem.js';
import { innerOf, metaOf } from '../../src/shared/form-meta.js';
import { errorSummary, parseForm, renderFields } from '../../src/web/forms.js';

const attest = contentSchemaFor('specialist-attest', 'clinical-assessment');
const ctx = (service: string, o: Partial<ContentContext> = {}): ContentContext => ({
  service,
  earlierAssessments: false,
  gpDiscussionConsents: [],
  citizenContactAgreements: [],
  ...o,
});

const completeAttest = {
  municipalityRequest: 'Kan borgeren arbejde 20 timer om ugen?',
  objectiveExamination: 'Normal gang, nedsat bevægelighed i højre skulder.',
  functionalCapacity: 'Kan løfte let.',
  healthConditions: 'Skulderlidelse.',
  citizenAssessment: 'Borgeren oplever smerter ved løft.',
  physicianAssessment: 'Smerterne begrænser tunge løft.',
};

/** The `<div class="field">` (or `<fieldset>`) of the control with `id`. */
function fieldOf(page: string, id: string): string {
  const at = page.indexOf(`id="${id}"`);
  assert.ok(at >= 0, `no control ${id}`);
  const start = Math.max(page.lastIndexOf('<div class="field">', at), page.lastIndexOf('<fieldset class="field-group"', at));
  const end = page.indexOf('</div>', at);
  return page.slice(start, end);
}

/** name → value of what the rendered form would submit as it stands (text, textareas, checked boxes, selected options). */
function submitted(page: string): Record<string, string> {
  const unescape = (s: string) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  const out: Record<string, string> = {};
  for (const m of page.matchAll(/<input\s([^>]*)\/>/g)) {
    const a = m[1]!;
    const name = /name="([^"]*)"/.exec(a)?.[1];
    const value = /value="([^"]*)"/.exec(a)?.[1] ?? '';
    if (!name) continue;
    if (/type="(radio|checkbox)"/.test(a) && !/\bchecked\b/.test(a)) continue;
    out[unescape(name)] = unescape(value);
  }
  for (const m of page.matchAll(/<textarea\s[^>]*name="([^"]*)"[^>]*>\n([\s\S]*?)<\/textarea>/g)) out[unescape(m[1]!)] = unescape(m[2]!);
  for (const m of page.matchAll(/<select\s[^>]*name="([^"]*)"[^>]*>([\s\S]*?)<\/select>/g)) {
    out[unescape(m[1]!)] = unescape(/<option value="([^"]*)" selected>/.exec(m[2]!)?.[1] ?? '');
  }
  return out;
}

test('§ 14, stk. 1–4: the specialist attest form has a Danish label and a § help for every field', () => {
  const page = String(renderFields(attest, { idPrefix: 'attest', namePrefix: 'content', errorPrefix: 'content' }));
  const fields = [
    'municipalityRequest',
    'objectiveExamination',
    'functionalCapacity',
    'healthConditions',
    'citizenAssessment',
    'physicianAssessment',
    'otherFactors',
    'furtherAssessment',
    'furtherAssessment-needed',
    'furtherAssessment-description',
    'furtherAssessment-priceDkk',
    'furtherAssessment-timeframe',
    'overallAssessment',
  ];
  for (const f of fields) {
    const help = new RegExp(`<p class="help" id="attest-${f}-help">([^<]*)</p>`).exec(page);
    assert.ok(help, `${f} has a help text`);
    assert.match(help[1]!, /§ 14, stk\. [1-4]/, `${f}: the help names its § 14 paragraph`);
  }
  for (const f of fields.filter((x) => !['furtherAssessment', 'furtherAssessment-needed'].includes(x))) {
    assert.match(page, new RegExp(`<label for="attest-${f}">[^<]+`), `${f} has a label`);
  }
  assert.match(page, /<label for="attest-municipalityRequest">Kommunens konkrete anmodning<\/label>/);
  assert.match(page, /<legend>Yderligere udredning <span class="optional">\(valgfrit\)<\/span><\/legend>/, 'a nested group is a fieldset');
  assert.match(page, /<legend>Er der behov for yderligere udredning\?<\/legend>/, 'a required yes/no is a radio group');
  assert.match(page, /type="radio" id="attest-furtherAssessment-needed" name="content.furtherAssessment.needed" value="true"/);
  assert.match(page, /<label for="attest-furtherAssessment-needed-false">Nej<\/label>/);
  assert.match(page, /type="number" id="attest-furtherAssessment-priceDkk"/);
  assert.match(page, /<label for="attest-otherFactors">Andre relevante forhold <span class="optional">\(valgfrit\)<\/span>/);
  assert.match(fieldOf(page, 'attest-municipalityRequest'), /aria-required="true"/);
  assert.doesNotMatch(fieldOf(page, 'attest-otherFactors'), /aria-required/);
  assert.doesNotMatch(page, /\srequired(?=[\s>=/])/, 'no browser validation: the server says what is missing, in Danish');
  assert.doesNotMatch(page, /style=|<script|\son[a-z]+=/, 'no inline style or script (CSP)');
});

test('§ 14, stk. 1: a missing field after checkResponse gets "Skal udfyldes" next to it, with aria-invalid', () => {
  const { objectiveExamination: _missing, ...content } = completeAttest;
  const errors = checkResponse('specialist-attest', content, ctx('clinical-assessment'));
  assert.deepEqual(
    errors.map((e) => [e.path, e.da]),
    [['content.objectiveExamination', 'Skal udfyldes']],
  );
  const page = String(renderFields(attest, { values: content, errors, idPrefix: 'attest', namePrefix: 'content', errorPrefix: 'content' }));
  const field = fieldOf(page, 'attest-objectiveExamination');
  const label = field.indexOf('<label for="attest-objectiveExamination">');
  const error = field.indexOf('<p class="field-error" id="attest-objectiveExamination-error">Skal udfyldes</p>');
  const control = field.indexOf('<textarea id="attest-objectiveExamination"');
  assert.ok(label >= 0 && error > label && control > error, 'label, then the error, then the control');
  assert.match(field, /aria-invalid="true"/);
  assert.match(field, /aria-describedby="attest-objectiveExamination-help attest-objectiveExamination-error"/);
  assert.equal(page.match(/aria-invalid/g)?.length, 1, 'only the field in error is marked');
  assert.match(fieldOf(page, 'attest-functionalCapacity'), /Kan løfte let\./, 'the other values are kept');

  const summary = String(errorSummary(errors, 'attest', 'content', attest));
  assert.match(summary, /role="alert"/);
  assert.match(summary, /<h2 id="attest-error-summary">Ret følgende<\/h2>/);
  assert.match(summary, /<a href="#attest-objectiveExamination">Resultatet af den objektive undersøgelse: Skal udfyldes<\/a>/);
  assert.equal(String(errorSummary([], 'attest')), '', 'no errors, no box');
});

test('§ 14, stk. 2–4, § 5, stk. 2, § 11, stk. 5: the content rules word their Danish messages', () => {
  const further = checkResponse(
    'specialist-attest',
    { ...completeAttest, furtherAssessment: { needed: true } },
    ctx('clinical-assessment'),
  );
  assert.deepEqual(
    further.map((e) => [e.path, e.da]),
    ['description', 'priceDkk', 'timeframe'].map((k) => [
      `content.furtherAssessment.${k}`,
      'Skal udfyldes, når der er behov for yderligere udredning (§ 14, stk. 2)',
    ]),
  );
  // §14 stk. 4: under an agreed procedure the attest says which further assessment, not its price and time frame
  const agreed = checkResponse(
    'specialist-attest',
    { ...completeAttest, furtherAssessment: { needed: true } },
    ctx('clinical-assessment', { attestProcedure: 'bestilles af klinisk funktion til prisen i bilag 2' }),
  );
  assert.deepEqual(
    agreed.map((e) => e.path),
    ['content.furtherAssessment.description'],
  );
  const page = String(renderFields(attest, { errors: further, idPrefix: 'a', errorPrefix: 'content' }));
  assert.match(
    fieldOf(page, 'a-furtherAssessment-priceDkk'),
    /<p class="field-error" id="a-furtherAssessment-priceDkk-error">Skal udfyldes, når/,
  );

  const overall = checkResponse('specialist-attest', completeAttest, ctx('clinical-assessment', { earlierAssessments: true }));
  assert.equal(overall[0]?.path, 'content.overallAssessment');
  assert.match(overall[0]!.da!, /^Skal udfyldes: .*\(§ 14, stk\. 3–4\)$/);

  const noDate = checkResponse('statement', { assessment: 'x', gpDiscussion: true }, ctx('ongoing-case-advice'));
  assert.deepEqual(
    noDate.map((e) => [e.path, e.da]),
    [['content.gpDiscussionDate', 'Skal udfyldes, når sagen er drøftet med egen læge (§ 5, stk. 2, § 11, stk. 5)']],
  );
  const badDate = checkResponse('statement', { assessment: 'x', gpDiscussionDate: '2026-02-30' }, ctx('ongoing-case-advice'));
  assert.deepEqual(
    badDate.map((e) => [e.path, e.da]),
    [['content.gpDiscussionDate', 'Skriv en gyldig dato (ÅÅÅÅ-MM-DD)']],
  );
  const noConsent = checkResponse(
    'statement',
    { assessment: 'x', gpDiscussion: true, gpDiscussionDate: '2026-03-02' },
    ctx('ongoing-case-advice', { gpDiscussionConsents: ['2026-03-03'] }),
  );
  assert.equal(noConsent[0]?.path, 'content.gpDiscussion');
  assert.match(noConsent[0]!.da!, /skriftlige samtykke.*senest 2026-03-02 \(§ 5, stk\. 2, § 11, stk\. 5\)/);
  // a discussion date without the flag still says a discussion took place: held to the consent too
  const dateOnly = checkResponse(
    'statement',
    { assessment: 'x', gpDiscussionDate: '2026-03-02' },
    ctx('ongoing-case-advice', { gpDiscussionConsents: ['2026-03-03'] }),
  );
  assert.deepEqual(
    dateOnly.map((e) => e.path),
    ['content.gpDiscussion'],
  );
  assert.deepEqual(
    checkResponse(
      'statement',
      { assessment: 'x', gpDiscussionDate: '2026-03-02' },
      ctx('ongoing-case-advice', { gpDiscussionConsents: ['2026-03-02'] }),
    ),
    [],
    'consent recorded on the day of the discussion (dates are days)',
  );
  const noAgreement = checkResponse('statement', { assessment: 'x', citizenContactDate: '2026-03-02' }, ctx('ongoing-case-advice'));
  assert.match(noAgreement[0]!.da!, /kommunens forudgående aftale.*\(§ 5, stk\. 2, § 10, stk\. 3, § 11, stk\. 5\)/);
  // an agreement recorded only after the contact does not cover it
  const lateAgreement = checkResponse(
    'statement',
    { assessment: 'x', citizenContactDate: '2026-03-02' },
    ctx('ongoing-case-advice', { citizenContactAgreements: ['2026-03-05'] }),
  );
  assert.deepEqual(
    lateAgreement.map((e) => e.path),
    ['content.citizenContactDate'],
  );

  for (const [kind, service, o] of [
    ['bogus', 'clinical-assessment', {}],
    ['statement', 'clinical-assessment', {}],
    ['pre-meeting-advice', 'rehab-team-advice', {}],
  ] as const) {
    const [e] = checkResponse(kind, {}, ctx(service, o));
    assert.equal(e?.path, 'kind');
    assert.ok(e?.da, `${kind} in ${service}: a Danish message`);
  }
  assert.match(checkResponse('pre-meeting-advice', {}, ctx('rehab-team-advice'))[0]!.da!, /§ 6, stk\. 1/);
});

test('§ 5, stk. 2, § 11, stk. 5, § 13, stk. 3: the consent form words its rules in Danish', () => {
  const errors = checkWith(consentRecordSchema, {
    kind: 'gp-discussion',
    givenBy: ' ',
    date: '2026-13-01',
    how: 'written',
    documentPart: 'p',
  });
  assert.deepEqual(
    errors.map((e) => [e.path, e.da]),
    [
      ['givenBy', 'Skal udfyldes'],
      ['date', 'Skriv en gyldig dato (ÅÅÅÅ-MM-DD)'],
    ],
  );
  const rules = checkWith(consentRecordSchema, { kind: 'gp-discussion', givenBy: 'Borgeren', date: '2026-01-01', how: 'oral' });
  assert.deepEqual(
    rules.map((e) => [e.path, e.da]),
    [['how', 'En drøftelse med egen læge kræver borgerens skriftlige samtykke (§ 5, stk. 2, § 11, stk. 5)']],
  );
  const written = checkWith(consentRecordSchema, { kind: 'gp-discussion', givenBy: 'Borgeren', date: '2026-01-01', how: 'written' });
  assert.deepEqual(
    written.map((e) => [e.path, e.da]),
    [['documentPart', 'Et skriftligt samtykke skal angive det dokument, der indeholder det']],
  );

  const page = String(renderFields(consentRecordSchema, { idPrefix: 'consent', values: { kind: 'same-specialist-as-coordinator' } }));
  assert.match(
    page,
    /<option value="same-specialist-as-coordinator" selected>Borgeren accepterer, at koordinatoren foretager den lægefaglige vurdering \(§ 13, stk\. 3\)<\/option>/,
  );
  assert.match(
    page,
    /<select id="consent-kind" name="kind" aria-required="true" aria-describedby="consent-kind-help">\s*<option value="">Vælg …<\/option>/,
  );
  assert.match(page, /<option value="written" >Skriftligt<\/option>\s*<option value="oral" >Mundtligt<\/option>/);
  assert.match(page, /type="date" id="consent-date"/);
});

test('§ 21, § 22, § 23, § 12, stk. 2: the case actions word their errors in Danish', () => {
  assert.deepEqual(
    checkWith(meetingBodySchema, { date: '2026-02-30' }).map((e) => e.da),
    ['Skriv en gyldig dato (ÅÅÅÅ-MM-DD)'],
  );
  assert.deepEqual(
    checkWith(consultationBodySchema, {}).map((e) => e.da),
    ['Skal udfyldes'],
  );
  assert.deepEqual(
    checkWith(extensionBodySchema, { dueDate: '2026-03-01', reason: ' ', agreedWith: 'x'.repeat(301), extra: 1 }).map((e) => [
      e.path,
      e.da,
    ]),
    [
      ['reason', 'Skal udfyldes'],
      ['agreedWith', 'Højst 300 tegn'],
      ['(root)', 'Ukendt felt: "extra"'],
    ],
  );
  assert.deepEqual(
    checkWith(conflictBodySchema, { reason: 'x'.repeat(2001) }).map((e) => e.da),
    ['Højst 2.000 tegn'],
  );
  assert.deepEqual(
    checkWith(conflictBodySchema, { reason: 5 }).map((e) => e.da),
    ['Ugyldig værdi'],
    'a wrong type is not "missing"',
  );
  assert.deepEqual(
    checkWith(consentRecordSchema, { kind: 'x', givenBy: 'a', date: '2026-01-01', how: 'written', documentPart: 'p' }).map((e) => e.da),
    ['Vælg en af mulighederne'],
  );
  const price = checkResponse(
    'specialist-attest',
    { ...completeAttest, furtherAssessment: { needed: true, description: 'x', priceDkk: -1, timeframe: 'x' } },
    ctx('clinical-assessment'),
  );
  assert.deepEqual(
    price.map((e) => e.da),
    ['Skal være 0 eller mere'],
  );
});

test('§ 6, stk. 2, § 14, stk. 2: parseForm turns submitted fields into the content (booleans, numbers, lines, nested, empty left out)', () => {
  const body = {
    _csrf: 'token',
    'content.municipalityRequest': completeAttest.municipalityRequest,
    'content.objectiveExamination': 'Linje 1\r\nLinje 2',
    'content.functionalCapacity': completeAttest.functionalCapacity,
    'content.healthConditions': completeAttest.healthConditions,
    'content.citizenAssessment': completeAttest.citizenAssessment,
    'content.physicianAssessment': completeAttest.physicianAssessment,
    'content.otherFactors': '   ',
    'content.furtherAssessment.needed': 'true',
    'content.furtherAssessment.description': 'Røntgen af skulderen',
    'content.furtherAssessment.priceDkk': '1500,50',
    'content.furtherAssessment.timeframe': '3 uger',
    'content.overallAssessment': '',
  };
  const value = parseForm(attest, body, 'content');
  assert.deepEqual(value, {
    ...completeAttest,
    objectiveExamination: 'Linje 1\nLinje 2',
    furtherAssessment: { needed: true, description: 'Røntgen af skulderen', priceDkk: 1500.5, timeframe: '3 uger' },
  });
  assert.deepEqual(checkResponse('specialist-attest', value, ctx('clinical-assessment')), []);

  const empty = parseForm(attest, {
    ...body,
    'content.furtherAssessment.needed': '',
    'content.furtherAssessment.description': '',
    'content.furtherAssessment.priceDkk': '',
    'content.furtherAssessment.timeframe': ' ',
  });
  assert.equal('furtherAssessment' in empty, false, 'a group left empty is left out');
  assert.deepEqual(parseForm(attest, { _csrf: 'x', 'content.otherFactors': '' }, 'content'), {});

  const notANumber = parseForm(attest, { ...body, 'content.furtherAssessment.priceDkk': 'halvandet tusind' }, 'content');
  assert.equal((notANumber.furtherAssessment as Record<string, unknown>).priceDkk, 'halvandet tusind', 'kept, so the schema reports it');
  const errors = checkResponse('specialist-attest', notANumber, ctx('clinical-assessment'));
  assert.deepEqual(
    errors.map((e) => [e.path, e.da]),
    [['content.furtherAssessment.priceDkk', 'Ugyldig værdi']],
  );

  const recommendation = contentSchemaFor('recommendation', 'rehab-team-advice');
  assert.deepEqual(
    parseForm(recommendation, {
      reasons: 'Begrundet',
      proposals: ' Arbejdsprøvning \r\n\r\n Samtale med egen læge ',
      gpDiscussion: 'true',
      gpDiscussionDate: '2026-03-01',
    }),
    { reasons: 'Begrundet', proposals: ['Arbejdsprøvning', 'Samtale med egen læge'], gpDiscussion: true, gpDiscussionDate: '2026-03-01' },
  );
  const obvious = contentSchemaFor('statement', 'early-pension-statement');
  assert.deepEqual(parseForm(obvious, { obvious: 'false', reasoning: 'r' }), { obvious: false, reasoning: 'r' });
});

test('§ 6, § 10, § 11, § 14: what a form renders parses back to the same value', () => {
  const cases: [z.ZodObject, Record<string, unknown>][] = [
    [attest, { ...completeAttest, otherFactors: 'Ingen', furtherAssessment: { needed: false }, overallAssessment: 'Samlet' }],
    [attest, { ...completeAttest, furtherAssessment: { needed: true, description: 'd', priceDkk: 2500, timeframe: '2 uger' } }],
    [
      contentSchemaFor('recommendation', 'rehab-team-advice'),
      { reasons: 'r', proposals: ['a', 'b & c'], gpDiscussion: true, gpDiscussionDate: '2026-01-02' },
    ],
    [
      contentSchemaFor('statement', 'ongoing-case-advice'),
      { assessment: '\nFørste linje er tom', recommendation: 'gp-visit', citizenContactDate: '2026-01-02' },
    ],
    [contentSchemaFor('statement', 'early-pension-statement'), { obvious: true, reasoning: '"Citat" og <tegn>' }],
    [consentRecordSchema, { kind: 'gp-discussion', givenBy: 'Borgeren', date: '2026-01-01', how: 'written', documentPart: 'samtykke' }],
  ];
  for (const [schema, value] of cases) {
    const page = String(renderFields(schema, { values: value, idPrefix: 'f', namePrefix: 'content' }));
    assert.deepEqual(parseForm(schema, submitted(page), 'content'), value);
  }
});

test('values are escaped: a <script> in a value is text, not markup', () => {
  const evil = '</textarea><script>alert(1)</script>';
  const page = String(
    renderFields(attest, {
      values: { municipalityRequest: evil, furtherAssessment: { needed: true, timeframe: '"><script>alert(2)</script>' } },
      errors: [{ path: 'content.municipalityRequest', message: '<b>english</b>', da: '<i>dansk</i>' }],
      errorPrefix: 'content',
      idPrefix: 'attest',
    }),
  );
  assert.doesNotMatch(page, /<script>|<i>|<\/textarea><script/);
  assert.match(page, /&lt;\/textarea&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/textarea>/);
  assert.match(page, /value="&quot;&gt;&lt;script&gt;alert\(2\)&lt;\/script&gt;"/);
  assert.match(page, /&lt;i&gt;dansk&lt;\/i&gt;/);
  const summary = String(errorSummary([{ path: 'content.x', message: 'm', da: '<script>' }], 'a"b', 'content'));
  assert.doesNotMatch(summary, /<script>|a"b/);
});

test('the Danish messages stay out of problem+json: toJSON() has no `da`', () => {
  const errors = checkWith(meetingBodySchema, {});
  assert.equal(errors[0]?.da, 'Skal udfyldes');
  try {
    parseWith(meetingBodySchema, {}, { what: 'the request body' });
    assert.fail('a missing date is refused');
  } catch (e) {
    assert.ok(e instanceof Problem);
    assert.equal(e.errors?.[0]?.da, 'Skal udfyldes', 'the staff pages read it from the problem');
    const json = e.toJSON();
    assert.deepEqual(json.errors, [{ path: 'date', message: 'required' }]);
    assert.doesNotMatch(JSON.stringify(json), /"da"|Skal udfyldes/);
  }
  const problem = new Problem({
    status: 422,
    title: 'Unprocessable content',
    errors: checkResponse('bogus', {}, ctx('clinical-assessment')),
  });
  assert.deepEqual(Object.keys((problem.toJSON().errors as object[])[0]!), ['path', 'message']);
});

test('the Danish texts stay out of the OpenAPI schemas (a registry of their own)', () => {
  for (const s of [meetingBodySchema, extensionBodySchema, conflictBodySchema, assignBodySchema, consentRecordSchema, attest]) {
    const json = JSON.stringify(z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }));
    assert.doesNotMatch(json, /Mødedato|Begrundelse|Samtykke|Kommunens|label|help|§ \d/);
  }
});

/** Every field of an object schema, nested groups included: [dotted path, schema]. */
function leaves(schema: z.core.$ZodType, prefix = ''): [string, z.core.$ZodType][] {
  const shape = (schema._zod.def as z.core.$ZodObjectDef).shape;
  return Object.entries(shape).flatMap(([k, s]): [string, z.core.$ZodType][] => {
    let base: z.core.$ZodType = s;
    for (let inner = innerOf(base); inner; inner = innerOf(base)) base = inner;
    const here: [string, z.core.$ZodType] = [`${prefix}${k}`, s];
    return base._zod.def.type === 'object' ? [here, ...leaves(base, `${prefix}${k}.`)] : [here];
  });
}

test('§ 5–§ 27: every field of every content schema and case action has a Danish label and a help naming its §', () => {
  const forms: [string, z.core.$ZodType][] = [];
  for (const [service, kinds] of Object.entries(KINDS_BY_SERVICE))
    for (const kind of kinds) forms.push([`${kind} (${service})`, contentSchemaFor(kind, service)]);
  // Every action names a §, the assignment too: its staffId help says which exclusions still apply
  // (§ 12, stk. 2, § 13, stk. 3, § 25, stk. 3) — no field is exempt. The extension's `kind` (which
  // deadline moves) names § 22 and § 23, whose deadlines it moves.
  forms.push(
    ['meeting', meetingBodySchema],
    ['consultation', consultationBodySchema],
    ['extension', extensionBodySchema],
    ['conflict', conflictBodySchema],
    ['assign', assignBodySchema],
    ['consent', consentRecordSchema],
  );
  let count = 0;
  for (const [form, schema] of forms) {
    for (const [path, s] of leaves(schema)) {
      const meta = metaOf(s);
      assert.ok(meta, `${form} ${path}: form metadata`);
      assert.ok(meta.label.trim(), `${form} ${path}: a Danish label`);
      assert.match(meta.help ?? '', /§ \d+/, `${form} ${path}: a help naming its §`);
      for (const text of [meta.label, meta.help ?? '', ...Object.values(meta.options ?? {})]) {
        assert.doesNotMatch(text, /§\d|\d stk\.|stk\.\d/, `${form} ${path}: written "§ 14, stk. 1"`);
      }
      let base = s;
      for (let inner = innerOf(base); inner; inner = innerOf(base)) base = inner;
      if (base._zod.def.type === 'enum') {
        for (const v of Object.values((base._zod.def as z.core.$ZodEnumDef).entries)) {
          assert.ok(meta.options?.[String(v)], `${form} ${path}: a Danish label for ${String(v)}`);
        }
      }
      count++;
    }
  }
  assert.ok(count > 40, `${count} fields checked`);
});
