import { RESPONSE_KIND_LABELS } from '../responses/content.js';
import { CONSENT_KIND_LABELS } from '../consents/schema.js';
import type { DocumentType } from '../intake/schema.js';
import { isCaseEvent, type CaseEvent } from '../storage/case-events.js';

/** Danish words for what the gateway's records hold in English codes: services, statuses, events, message states. */

export const SERVICE_DA: Record<string, string> = {
  'rehab-team-advice': 'Rådgivning til rehabiliteringsteamet',
  'ongoing-case-advice': 'Rådgivning i sagsbehandlingen',
  'early-pension-statement': 'Udtalelse om førtidspension',
  'clinical-assessment': 'Lægefaglig vurdering (speciallægeattest)',
  'resource-course-conversation': 'Samtale i ressourceforløb',
  'senior-pension-advice': 'Rådgivning om seniorpension',
  'senior-pension-assessment': 'Lægefaglig vurdering til seniorpension',
};
/** A service in Danish; `name`: the agreement's name of a supplementary service (§16 stk. 3–4), which has no word here. */
export const serviceDa = (s: string, name?: string | null) => name ?? SERVICE_DA[s] ?? s;

/** A response kind in Danish (the responses feature's own labels, which its forms use too). */
export const kindDa = (k: string) => (RESPONSE_KIND_LABELS as Record<string, string>)[k] ?? k;

/** The deadline statuses of the worklist: text and a symbol, never colour alone. */
export const STATUS_DA = {
  overdue: { text: 'Overskredet', icon: '⛔' },
  'at-risk': { text: 'I risiko', icon: '⚠' },
  running: { text: 'I gang', icon: '●' },
  stopped: { text: 'Frist stoppet', icon: '✓' },
  'awaiting-complete-case': { text: 'Afventer komplet sag', icon: '⏸' },
  'no-deadline-agreed': { text: 'Ingen frist aftalt', icon: '○' },
} as const;

/** Every event a case's history can hold (src/storage/case-events.ts), in the words of the case page's history. */
export const EVENT_DA: Record<CaseEvent, string> = {
  received: 'Sagen modtaget',
  'supplement-received': 'Supplerende materiale modtaget',
  'awaiting-complete-case': 'Afventer komplet sag',
  'clock-started': 'Fristen startet',
  'clock-stopped': 'Fristen stoppet',
  assigned: 'Tildelt',
  unassigned: 'Ingen kunne tildeles',
  'conflict-declared': 'Inhabilitet erklæret (§ 12, stk. 2)',
  'coordinator-change': 'Skift af koordinator (§ 25, stk. 3)',
  'meeting-booked': 'Møde i rehabiliteringsteamet booket',
  'consultation-booked': 'Konsultation booket',
  'extension-agreed': 'Frist forlænget efter aftale',
  'further-assessment-requested': 'Yderligere udredning anbefalet (§ 14, stk. 2)',
  'deadline-at-risk': 'Påmindelse: fristen er i risiko',
  'deadline-overdue': 'Påmindelse: fristen er overskredet',
  'response-submitted': 'Svar sendt',
  'citizen-conversation-held': 'Samtale med borgeren holdt (§ 11, stk. 3)',
  'message-queued': 'Besked sat i kø til levering',
  'message-no-recipient-system': 'Besked til egen læge venter: ingen modtager i lægeregistret',
  'message-invalid': 'Besked til egen læge ikke sendt: fejl i MedCom-valideringen',
  'gp-ydernummer-given': 'Egen læges ydernummer angivet af teamleder',
  'gp-message-resolved': 'Besked til egen læge sendt efter opslag',
  'message-pushed': 'Besked leveret til modtagerens system',
  'message-acknowledged': 'Modtageren har kvitteret for beskeden',
  'message-fetched': 'Besked hentet til MedCom-forsendelse',
  'message-dead-lettered': 'Besked kunne ikke leveres',
  'message-retried': 'Besked sendt igen af teamleder',
  'medcom-sent': 'MedCom-besked sendt til egen læge',
  'medcom-resend': 'MedCom-besked sendt igen (ingen kvittering i tide)',
  'medcom-unacknowledged': 'MedCom-besked ikke kvitteret: kontakt lægepraksissen',
  'medcom-acknowledged': 'Egen læge har kvitteret for MedCom-beskeden',
  'medcom-transient-error': 'MedCom-kvittering: midlertidig fejl hos modtageren',
  'medcom-fatal-error': 'MedCom-kvittering: afvist af modtageren',
  'medcom-vans-receipt': 'VANS-kvittering: forsendelsen til egen læge er modtaget',
  'medcom-vans-negative-receipt': 'VANS-kvittering: forsendelsen til egen læge blev afvist',
  'legal-hold-placed': 'Sagen bevaret (retligt hold)',
  'legal-hold-lifted': 'Bevaringen ophævet',
  purged: 'Dokumenter og personoplysninger slettet (opbevaringsperioden udløb)',
};
/** An event in Danish; a name the list does not hold (a row from an older version) is shown as it is. */
export const eventDa = (e: string) => (isCaseEvent(e) ? EVENT_DA[e] : e);

/** The document types of the manifest (src/intake/schema.ts), as a coordinator calls them. */
export const DOCUMENT_TYPE_DA: Record<DocumentType, string> = {
  'rehab-plan-preparatory': 'Rehabiliteringsplanens forberedende del',
  'medical-certificate': 'Lægeattest',
  journal: 'Journaludskrift',
  request: 'Anmodning',
  supplement: 'Supplerende materiale',
  other: 'Andet dokument',
};
export const documentTypeDa = (t: string) => (Object.hasOwn(DOCUMENT_TYPE_DA, t) ? DOCUMENT_TYPE_DA[t as DocumentType] : t);

export const MESSAGE_STATE_DA: Record<string, string> = {
  queued: 'I kø',
  pushed: 'Leveret (push)',
  sent: 'Sendt',
  acknowledged: 'Kvitteret',
  'transient-error': 'Midlertidig fejl – sendes igen',
  'fatal-error': 'Afvist af modtager',
  unacknowledged: 'Ingen kvittering',
  invalid: 'Ugyldig (MedCom-validering)',
  'dead-lettered': 'Kunne ikke leveres',
  'no-recipient-system': 'Ingen modtager i lægeregistret',
};
export const messageStateDa = (s: string) => MESSAGE_STATE_DA[s] ?? s;

/** A consent kind in Danish (the consents feature's own labels). */
export const consentKindDa = (k: string) => (CONSENT_KIND_LABELS as Record<string, string>)[k] ?? k;

export const ROLE_DA: Record<string, string> = {
  coordinator: 'Koordinator',
  specialist: 'Speciallæge',
  'team-lead': 'Teamleder',
  finance: 'Økonomi',
};

/** The lines of a settlement statement (§17–19, §14 stk. 2). */
export const LINE_KIND_DA: Record<string, string> = {
  'coordinator-function': 'Koordinerende funktion (§ 17)',
  attest: 'Speciallægeattest (§ 18)',
  'further-assessment': 'Yderligere udredning (§ 14, stk. 2)',
  statement: 'Udtalelse',
  advice: 'Rådgivning',
  adjustment: 'Regulering',
};
export const lineKindDa = (k: string) => LINE_KIND_DA[k] ?? k;

const NUMBER_DA = new Intl.NumberFormat('da-DK', { maximumFractionDigits: 1 });
const KR_DA = new Intl.NumberFormat('da-DK', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** 1234.5 → "1.234,5" */
export const numberDa = (n: number) => NUMBER_DA.format(n);

/** øre → "1.234,56 kr." (integers in øre, so exact to the øre) */
export function kroner(ore: number): string {
  return `${KR_DA.format(ore / 100).replace('\u2212', '-')} kr.`;
}

/** A percentage with its sign: 12.3 → "+12,3 %", -4 → "-4 %" */
export function pctDa(pct: number): string {
  return `${pct > 0 ? '+' : ''}${NUMBER_DA.format(pct).replace('\u2212', '-')} %`;
}

export const CASE_STATE_DA: Record<string, string> = {
  received: 'Modtaget',
  'awaiting-complete-case': 'Afventer komplet sag',
  unassigned: 'Ikke tildelt',
  assigned: 'Tildelt',
  closed: 'Afsluttet',
};

/** "§21 stk. 1" → "§ 21, stk. 1" (the Danish way of writing a rule) */
export function ruleDa(rule: string): string {
  return rule.replace(
    /^(S?)§\s*(\d+)\s*(?:stk\.\s*(\d+))?/,
    (_m, s: string, n: string, stk?: string) => `${s}§ ${n}${stk ? `, stk. ${stk}` : ''}`,
  );
}

/** Why routing passed a person by, in the words of the overview (the English reason stays in the API and the log). */
export const EXCLUSION_DA: Record<string, string> = {
  role: 'har ikke den rolle, ydelsen kræver',
  municipality: 'betjener ikke kommunen',
  conflict: 'har erklæret sig inhabil i sagen (§ 12, stk. 2)',
  '§12 stk. 2': 'er eller har været borgerens egen læge eller behandler (§ 12, stk. 2)',
  '§13 stk. 3': 'var borgerens koordinator, og borgerens samtykke er ikke registreret (§ 13, stk. 3)',
  '§25 stk. 3': 'kommunen har bedt om en anden koordinator (§ 25, stk. 3)',
};
export const exclusionDa = (rule: string) => EXCLUSION_DA[rule] ?? ruleDa(rule);
