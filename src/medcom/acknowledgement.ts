/**
 * A MedCom Acknowledgement (Acknowledgement 2.0.3) of a received MedCom
 * message, built the way MedCom's own examples are: the acknowledgement
 * header quoting the message's MessageHeader.id in `response.identifier`,
 * the latest Provenance of the message and a new one for the
 * acknowledgement (medcom-carecommunication-21), both Organizations, and an
 * OperationOutcome when the code is not `ok`.
 *
 * The gateway does not send acknowledgements (it only receives them); this is
 * for GP-system and VANS developers (`npm run cli -- medcom acknowledge`) and
 * for the tests: what a correct answer to our CareCommunication looks like.
 */
import { randomUUID } from 'node:crypto';

type Resource = { resourceType: string; id: string; [k: string]: unknown };
type Bundle = { id: string; entry: { fullUrl: string; resource: Resource }[] };

const ACK = 'http://medcomfhir.dk/ig/acknowledgement/StructureDefinition';
const TERM = 'http://medcomfhir.dk/ig/terminology/CodeSystem';

export function acknowledgementOf(
  sent: unknown,
  code: 'ok' | 'transient-error' | 'fatal-error',
  over: { respondsTo?: string; ackId?: string; fhirBaseUrl?: string } = {},
): Record<string, unknown> {
  const b = sent as Bundle;
  const byRef = (ref: string) => b.entry.map((e) => e.resource).find((r) => `${r.resourceType}/${r.id}` === ref)!;
  const header = b.entry[0]!.resource as Resource & {
    sender: { reference: string };
    source: { endpoint: string };
    destination: { endpoint: string; receiver: { reference: string } }[];
  };
  const ours = byRef(header.sender.reference);
  const gp = byRef(header.destination[0]!.receiver.reference);
  const provenance = b.entry.map((e) => e.resource).filter((r) => r.resourceType === 'Provenance');
  const ackId = over.ackId ?? randomUUID();
  const at = new Date().toISOString();
  const outcomeId = randomUUID();
  const base = over.fhirBaseUrl ?? 'https://gp-system.invalid/fhir';
  const resources: Resource[] = [
    {
      resourceType: 'MessageHeader',
      id: ackId,
      meta: { profile: [`${ACK}/medcom-messaging-acknowledgementHeader`] },
      eventCoding: { system: `${TERM}/medcom-messaging-eventCodes`, code: 'acknowledgement-message' },
      destination: [
        {
          extension: [
            {
              url: 'http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension',
              valueCoding: { system: `${TERM}/medcom-messaging-destinationUse`, code: 'primary' },
            },
          ],
          endpoint: header.source.endpoint,
          receiver: { reference: `Organization/${ours.id}` },
        },
      ],
      sender: { reference: `Organization/${gp.id}` },
      source: { endpoint: header.destination[0]!.endpoint },
      response: {
        identifier: over.respondsTo ?? header.id,
        code,
        ...(code === 'ok' ? {} : { details: { reference: `OperationOutcome/${outcomeId}` } }),
      },
    },
    provenance[provenance.length - 1]!,
    {
      resourceType: 'Provenance',
      id: randomUUID(),
      meta: { profile: ['http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-provenance'] },
      target: [{ reference: `MessageHeader/${ackId}` }],
      occurredDateTime: at,
      recorded: at,
      activity: { coding: [{ system: `${TERM}/medcom-messaging-activityCodes`, code: 'acknowledgement' }] },
      agent: [{ who: { reference: `Organization/${gp.id}` } }],
      entity: [{ role: 'revision', what: { reference: `MessageHeader/${header.id}` } }],
    },
    ours,
    gp,
    ...(code === 'ok'
      ? []
      : [
          {
            resourceType: 'OperationOutcome',
            id: outcomeId,
            meta: { profile: [`${ACK}/medcom-acknowledgement-operationoutcome`] },
            issue: [
              {
                severity: 'error',
                code: code === 'fatal-error' ? 'structure' : 'transient',
                details: {
                  coding: [
                    {
                      system: `${TERM}/medcom-acknowledgement-error-codes`,
                      code: code === 'fatal-error' ? 'MSG_VALUESET_VALUE_UNKNOWN' : 'MSG_Mailbox_Out_Of_Operation',
                    },
                  ],
                },
              },
            ],
          },
        ]),
  ];
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [`${ACK}/medcom-messaging-acknowledgement`] },
    type: 'message',
    timestamp: at,
    entry: resources.map((r) => ({ fullUrl: `${base}/${r.resourceType}/${r.id}`, resource: r })),
  };
}
