/**
 * The GP's copy as a MedCom CareCommunication (CareCommunication 5.0.2 on
 * Messaging 4.0.2 and Core 3.0.1): one FHIR message Bundle per GP message,
 * addressed as `primary` to the GP's clinic (a CareCommunication has no cc
 * destinations, so the GP gets a message of its own, §15 stk. 2).
 *
 * The Bundle holds, in MedCom's order: the MessageHeader (care-communication
 * event, the CareCommunication MessageDefinition — whose `responseRequired:
 * always` is MedCom's request for an acknowledgement — sender, primary
 * destination, focus); the Patient (CPR identifier, official name); the
 * Communication (category, topic, a Danish text naming the service and the
 * §, and the PDF as an attachment); the author as PractitionerRole and
 * Practitioner; the sender and receiver Organizations (SOR-ID and EAN-ID);
 * and the Provenance of the new message.
 *
 * Ids: MessageHeader.id is our message id (what an acknowledgement quotes in
 * `response.identifier`); Bundle.id is fixed at creation and kept on a
 * resend, as the issue and MedCom's reliable-messaging rules for FHIR ask
 * (043: a resend repeats Bundle.id and MessageHeader.id; only the transport
 * envelope changes). Identifiers are `urn:uuid:`; references inside the
 * Bundle are relative (`Organization/<id>`) with RESTful fullUrls under
 * FHIR_BASE_URL, as in every MedCom example.
 *
 * Timestamps: Bundle.timestamp, Communication.sent, the payload dates and
 * the Provenance are all the response's `sentAt`, the same instant as the
 * municipality's message (§15 stk. 2).
 *
 * The PDF can be large, so the Bundle's bytes are `head + base64(pdf) +
 * tail` (see src/delivery/envelope.ts); `bundleForValidation` is the same
 * Bundle with a short placeholder in `Attachment.data`, which is what the
 * validator sees (the real data is the base64 encoder's output: valid by
 * construction).
 */
import { randomUUID } from 'node:crypto';
import { partsSize, splitAround } from '../shared/base64-stream.js';

export const CARE_COMMUNICATION_DEFINITION =
  'http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComCareCommunicationMessageDefinition|5.0';
const PROFILE = {
  bundle: 'http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-message',
  header: 'http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-messageHeader',
  communication: 'http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-communication',
  provenance: 'http://medcomfhir.dk/ig/carecommunication/StructureDefinition/medcom-careCommunication-provenance',
  patient: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-patient',
  practitionerRole: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitionerrole',
  practitioner: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitioner',
  organization: 'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-organization',
};
const CS = {
  events: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-eventCodes',
  destinationUse: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse',
  category: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-careCommunication-categoryCodes',
  activity: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes',
  roles: 'http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-core-PractitionerRolesSKSadministrativ',
};
const EXT = {
  destinationUse: 'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension',
  date: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-datetime-extension',
  identifier: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-identifier-extension',
  author: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-practitioner-extension',
  contact: 'http://medcomfhir.dk/ig/core/StructureDefinition/medcom-core-contact-extension',
};
const CPR_SYSTEM = 'urn:oid:1.2.208.176.1.2';
const SOR_SYSTEM = 'urn:oid:1.2.208.176.1.1';
const EAN_SYSTEM = 'https://www.gs1.org/gln';
const SOR_ENDPOINT = 'https://sor2.sum.dsdn.dk/#id=';
/** The VANSEnvelope Name of a CareCommunication is MCM:FDIS91#<category> (MedCom, FHIRMessages_NetworkEnvelopes). */
export const CARE_COMMUNICATION_CATEGORY = 'other';

/** MedCom caps a CareCommunication at 50 MB including the base64 attachment (decimal megabytes, the stricter reading). */
export const MAX_CARE_COMMUNICATION_BYTES = 50_000_000;

/**
 * Room for everything in a CareCommunication but the PDF's base64: about 8 KB with everyday names, 27 KB with the
 * practice, the clinical function, the citizen and the author each named in 200 characters of the kind JSON and the
 * narrative escape the most (a practice's name is at most 200 in the GP directory, a citizen's in the manifest).
 */
export const CARE_COMMUNICATION_OVERHEAD_BYTES = 64 * 1024;

/**
 * The most bytes the CareCommunication of a PDF of `documentBytes` can have, whoever its recipient: the rule for
 * MedCom's cap, the same when the response is posted (the practice may still be unknown, and a copy kept as
 * no-recipient-system is built only when a team lead resolves it) and when a Bundle is built.
 */
export function careCommunicationSizeBound(documentBytes: number): number {
  return 4 * Math.ceil(documentBytes / 3) + CARE_COMMUNICATION_OVERHEAD_BYTES;
}

/** The largest PDF whose CareCommunication stays within MedCom's cap (37 450 848 bytes). */
export const MAX_CARE_COMMUNICATION_DOCUMENT_BYTES = Math.floor((MAX_CARE_COMMUNICATION_BYTES - CARE_COMMUNICATION_OVERHEAD_BYTES) / 4) * 3;

export interface Clinic {
  name: string;
  sor: string;
  ean: string;
}

export interface CareCommunicationInput {
  /** our message id: MessageHeader.id */
  messageId: string;
  /** Bundle.id, kept across resends */
  bundleId: string;
  /** the response's instant (ISO-8601), shared with the municipality's message */
  sentAt: string;
  /** topic and text: what this message is, naming the service and the § */
  topic: string;
  text: string;
  sender: Clinic & { phone: string };
  receiver: Clinic;
  patient: { cpr: string; name: string };
  author: { name: string; role: 'specialist' | 'coordinator' | 'team-lead' };
  /** the PDF: its title, and its size for the Bundle's length */
  attachment: { title: string; size: number };
  fhirBaseUrl: string;
}

export interface CareCommunicationBundle {
  /** the Bundle as the validator sees it (placeholder in Attachment.data) */
  bundleForValidation: Record<string, unknown>;
  /** the Bundle's bytes are head + base64(pdf) + tail */
  parts: { head: string; tail: string };
  /** exact length of the Bundle's bytes */
  size: number;
}

/** "Anna Marie Holm" → family "Holm", given ["Anna", "Marie"] (a single word is the family name). */
function humanName(full: string): { family: string; given?: string[] } {
  const words = full.trim().split(/\s+/);
  const family = words.pop()!;
  return words.length > 0 ? { family, given: words } : { family };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** MedCom: every resource carries a narrative (Governance for MedCom FHIR Messages 5.6). */
function narrative(text: string): { status: 'extensions'; div: string } {
  return { status: 'extensions', div: `<div xmlns="http://www.w3.org/1999/xhtml"><p>${escapeHtml(text)}</p></div>` };
}

function organization(id: string, c: Clinic) {
  return {
    resourceType: 'Organization',
    id,
    meta: { profile: [PROFILE.organization] },
    text: narrative(`${c.name} (SOR ${c.sor}, EAN ${c.ean})`),
    identifier: [
      { system: EAN_SYSTEM, value: c.ean },
      { system: SOR_SYSTEM, value: c.sor },
    ],
    name: c.name,
  };
}

/**
 * Builds the CareCommunication for one GP message. `placeholder` stands in
 * for the base64 data in `bundleForValidation`.
 */
export function buildCareCommunication(input: CareCommunicationInput): CareCommunicationBundle {
  const id = {
    patient: randomUUID(),
    communication: randomUUID(),
    role: randomUUID(),
    practitioner: randomUUID(),
    sender: randomUUID(),
    receiver: randomUUID(),
    provenance: randomUUID(),
  };
  const textPayloadId = `urn:uuid:${randomUUID()}`;
  const attachmentPayloadId = `urn:uuid:${randomUUID()}`;
  const at = input.sentAt;
  const ref = (type: string, rid: string) => ({ reference: `${type}/${rid}` });
  const authorExt = { url: EXT.author, valueReference: ref('PractitionerRole', id.role) };
  const assigned = (value: string) => ({ url: EXT.identifier, valueIdentifier: { value, assigner: ref('Organization', id.sender) } });
  const token = `@@attachment-data-${randomUUID()}@@`;
  const roleCode =
    input.author.role === 'specialist'
      ? { coding: [{ system: CS.roles, code: 'speciallaege' }] }
      : { text: input.author.role === 'coordinator' ? 'Sundhedskoordinator' : 'Teamleder, klinisk funktion' };

  const resources: { type: string; id: string; resource: Record<string, unknown> }[] = [
    {
      type: 'MessageHeader',
      id: input.messageId,
      resource: {
        resourceType: 'MessageHeader',
        id: input.messageId,
        meta: { profile: [PROFILE.header] },
        text: narrative(`CareCommunication fra ${input.sender.name} til ${input.receiver.name}: ${input.topic}`),
        eventCoding: { system: CS.events, code: 'care-communication-message' },
        destination: [
          {
            extension: [{ url: EXT.destinationUse, valueCoding: { system: CS.destinationUse, code: 'primary' } }],
            endpoint: `${SOR_ENDPOINT}${input.receiver.sor}`,
            receiver: ref('Organization', id.receiver),
          },
        ],
        sender: ref('Organization', id.sender),
        source: { endpoint: `${SOR_ENDPOINT}${input.sender.sor}` },
        focus: [ref('Communication', id.communication)],
        definition: CARE_COMMUNICATION_DEFINITION,
      },
    },
    {
      type: 'Patient',
      id: id.patient,
      resource: {
        resourceType: 'Patient',
        id: id.patient,
        meta: { profile: [PROFILE.patient] },
        text: narrative(`${input.patient.name}, CPR ${input.patient.cpr}`),
        identifier: [{ system: CPR_SYSTEM, value: input.patient.cpr }],
        name: [{ use: 'official', ...humanName(input.patient.name) }],
      },
    },
    {
      type: 'Communication',
      id: id.communication,
      resource: {
        resourceType: 'Communication',
        id: id.communication,
        meta: { profile: [PROFILE.communication] },
        text: narrative(`${input.topic}. ${input.text} Vedhæftet: ${input.attachment.title}.`),
        identifier: [{ value: `urn:uuid:${randomUUID()}` }],
        status: 'unknown',
        category: [{ coding: [{ system: CS.category, code: CARE_COMMUNICATION_CATEGORY }] }],
        subject: ref('Patient', id.patient),
        topic: { text: input.topic },
        sent: at,
        payload: [
          {
            extension: [
              { url: EXT.date, valueDateTime: at },
              assigned(textPayloadId),
              authorExt,
              { url: EXT.contact, valueContactPoint: { system: 'phone', value: input.sender.phone } },
            ],
            contentString: input.text,
          },
          {
            extension: [{ url: EXT.date, valueDateTime: at }, assigned(attachmentPayloadId), authorExt],
            contentAttachment: {
              contentType: 'application/pdf',
              data: token,
              size: input.attachment.size,
              title: input.attachment.title,
              creation: at,
            },
          },
        ],
      },
    },
    {
      type: 'PractitionerRole',
      id: id.role,
      resource: {
        resourceType: 'PractitionerRole',
        id: id.role,
        meta: { profile: [PROFILE.practitionerRole] },
        text: narrative(`${input.author.name}, ${input.sender.name}`),
        practitioner: ref('Practitioner', id.practitioner),
        code: [roleCode],
      },
    },
    {
      type: 'Practitioner',
      id: id.practitioner,
      resource: {
        resourceType: 'Practitioner',
        id: id.practitioner,
        meta: { profile: [PROFILE.practitioner] },
        text: narrative(input.author.name),
        name: [humanName(input.author.name)],
      },
    },
    { type: 'Organization', id: id.receiver, resource: organization(id.receiver, input.receiver) },
    { type: 'Organization', id: id.sender, resource: organization(id.sender, input.sender) },
    {
      type: 'Provenance',
      id: id.provenance,
      resource: {
        resourceType: 'Provenance',
        id: id.provenance,
        meta: { profile: [PROFILE.provenance] },
        text: narrative(`Ny meddelelse sendt ${at} af ${input.sender.name}`),
        target: [ref('MessageHeader', input.messageId)],
        occurredDateTime: at,
        recorded: at,
        activity: { coding: [{ system: CS.activity, code: 'new-message' }] },
        agent: [{ who: ref('Organization', id.sender) }],
        entity: [
          { role: 'source', what: { identifier: { value: textPayloadId } } },
          { role: 'source', what: { identifier: { value: attachmentPayloadId } } },
        ],
      },
    },
  ];
  const bundle = {
    resourceType: 'Bundle',
    id: input.bundleId,
    meta: { profile: [PROFILE.bundle] },
    type: 'message',
    timestamp: at,
    entry: resources.map((r) => ({ fullUrl: `${input.fhirBaseUrl}/${r.type}/${r.id}`, resource: r.resource })),
  };
  const parts = splitAround(JSON.stringify(bundle), token);
  const size = partsSize(parts, input.attachment.size);
  const bundleForValidation = JSON.parse(`${parts.head}JVBERi0xLjQK${parts.tail}`) as Record<string, unknown>;
  return { bundleForValidation, parts, size };
}

/**
 * Where what a CareCommunication holds comes from, so that a team lead knows what to correct when a Bundle fails
 * validation: the practice from the GP directory (`receiver`), the clinical function's configuration (`sender`),
 * the citizen from the case's manifest (`patient`), the staff member from the parties file (`author`), or the
 * gateway's own building of the message (`message`).
 */
export type CareCommunicationSource = 'receiver' | 'sender' | 'patient' | 'author' | 'message';

/** The entries in the order buildCareCommunication writes them (test/web/invalid-messages.test.ts holds the two together). */
const ENTRIES = ['MessageHeader', 'Patient', 'Communication', 'PractitionerRole', 'Practitioner', 'receiver', 'sender', 'Provenance'];

/** The source of what a validation issue at `location` (a FHIRPath from the Bundle, e.g. "Bundle.entry[5].resource.identifier[1].value") points at. */
export function careCommunicationSource(location: string): CareCommunicationSource {
  const m = /^Bundle\.entry\[(\d+)\](?:\.resource)?(.*)$/.exec(location);
  if (!m) return 'message';
  const rest = m[2]!;
  switch (ENTRIES[Number(m[1])]) {
    case 'MessageHeader':
      // the receiver's SOR endpoint and reference, and the sender's
      if (/^\.destination\b/.test(rest)) return 'receiver';
      return /^\.(source|sender)\b/.test(rest) ? 'sender' : 'message';
    case 'Patient':
      return 'patient';
    case 'Communication':
      // the clinical function's phone number, on the text payload
      return /\.valueContactPoint\b/.test(rest) ? 'sender' : 'message';
    case 'PractitionerRole':
    case 'Practitioner':
      return 'author';
    case 'receiver':
      return 'receiver';
    case 'sender':
      return 'sender';
    default:
      return 'message';
  }
}
