/**
 * MedCom test helpers: where MedCom's packages are, the acknowledgement a GP system sends (src/medcom/acknowledgement.ts),
 * and the VANS network's receipt of an envelope.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export { acknowledgementOf } from '../../src/medcom/acknowledgement.js';

export const MEDCOM_DIR =
  process.env.MEDCOM_PACKAGES_DIR ?? resolve(fileURLToPath(new URL('../../..', import.meta.url)), 'shared', 'medcom');

/**
 * A VANS receipt (VANSEnvelopeAcknowledgement) as the receiver of one of our `reliable` envelopes returns it
 * (MedCom's 032_Reliable_Messaging-VANSEnvelope.md; the shape of the VANSEnvelope 1.0.4 XSD's ReceiptType): the
 * envelope header with the receipt's own EnvelopeIdentifier, then a Receipt holding PositiveMessage, NegativeMessage
 * (with an Error) or NegativeVans (with an Error; OriginalMessage optional), each naming OriginalEnvelopeIdentifier and
 * OriginalMessage, the MetaInformation of the envelope it answers.
 */
export function vansReceiptXml(o: {
  answer?: 'PositiveMessage' | 'NegativeMessage' | 'NegativeVans';
  originalEnvelopeId: string;
  /** OriginalMessage/Identifier; null leaves OriginalMessage out (allowed in NegativeVans only) */
  originalMessageId: string | null;
  envelopeId?: string;
  sender?: { type: 'EAN' | 'CVR' | 'VANS'; id: string };
  receiver?: string;
  error?: { code?: string; description: string };
}): string {
  const answer = o.answer ?? 'PositiveMessage';
  const sender = o.sender ?? { type: 'EAN', id: '5790000222223' };
  const error =
    answer === 'PositiveMessage'
      ? ''
      : `<Error>${o.error?.code ? `<Code>${o.error.code}</Code>` : ''}<Description>${o.error?.description ?? 'Modtager ukendt'}</Description></Error>`;
  const original =
    o.originalMessageId === null
      ? ''
      : `<OriginalMessage>
          <Identifier>${o.originalMessageId}</Identifier>
          <Document><Format>HL7</Format><Name>MCM:FDIS91#other</Name><Version>2.0.0</Version><SizeInBytes>1234</SizeInBytes></Document>
          <Transport><Type>reliable</Type><TransformMessage>false</TransformMessage></Transport>
        </OriginalMessage>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<VANSEnvelope xmlns="urn:oio:medcom:vans-envelope:1.0.4">
  <SenderID EndPointType="${sender.type}">${sender.id}</SenderID>
  <ReceiverID EndPointType="EAN">${o.receiver ?? '5790000000005'}</ReceiverID>
  <EnvelopeIdentifier>${o.envelopeId ?? randomUUID()}</EnvelopeIdentifier>
  <SentDateTime>2027-01-12T11:15:02</SentDateTime>
  <Receipt>
    <${answer}>
      ${error}
      <OriginalEnvelopeIdentifier>${o.originalEnvelopeId}</OriginalEnvelopeIdentifier>
      ${original}
    </${answer}>
  </Receipt>
</VANSEnvelope>
`;
}
