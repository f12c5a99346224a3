/**
 * The forms of the case page: each names the API schema it is generated
 * from and validated with, and the service call it makes (the same call the
 * JSON API makes, so the § rules, authorisation and auditing are the same).
 */
import type { z } from 'zod';
import type { StaffParty } from '../parties/parties.js';
import type { CaseActions } from '../worklist/actions.js';
import type { ConsentService } from '../consents/service.js';
import type { ResponseService } from '../responses/service.js';
import type { Problem } from '../shared/problem.js';
import { consultationBodySchema, conflictBodySchema, extensionBodySchema, meetingBodySchema } from '../worklist/schema.js';
import { consentRecordSchema } from '../consents/schema.js';
import { conversationBodySchema } from '../responses/schema.js';
import { legalHoldBodySchema } from '../retention/schema.js';
import type { RetentionService } from '../retention/service.js';
import { ruleDa } from './labels.js';
import { danishMonth } from './html.js';

export interface ActionServices {
  actions: CaseActions;
  consents: Pick<ConsentService, 'record'>;
  responses: Pick<ResponseService, 'recordConversation'>;
  retention: Pick<RetentionService, 'placeHold' | 'liftHold'>;
}

interface ActionForm<S extends z.ZodType> {
  title: string;
  intro?: string;
  /** /sager/{caseId}/<path> */
  path: string;
  schema: S;
  submit: string;
  /** shown after the redirect */
  done: string;
  run(s: ActionServices, staff: StaffParty, caseId: string, body: z.output<S>): Promise<unknown>;
}

const form = <S extends z.ZodType>(f: ActionForm<S>) => f;

export const ACTION_FORMS = {
  meeting: form({
    title: 'Møde i rehabiliteringsteamet (§ 21)',
    intro: 'Når du er booket til mødet, stopper fristen i § 21, stk. 1. Den seneste booking gælder.',
    path: 'moede',
    schema: meetingBodySchema,
    submit: 'Registrér mødet',
    done: 'Mødet er registreret.',
    run: (s, staff, caseId, body) => s.actions.bookMeeting(staff, caseId, body.date),
  }),
  consultation: form({
    title: 'Konsultation med borgeren (§ 23)',
    intro:
      'En konsultation på dagens dato eller før er holdt (§ 13, stk. 2); en senere dato er en booking. Flyttes den, gælder den seneste.',
    path: 'konsultation',
    schema: consultationBodySchema,
    submit: 'Registrér konsultationen',
    done: 'Konsultationen er registreret.',
    run: (s, staff, caseId, body) => s.actions.bookConsultation(staff, caseId, body.date),
  }),
  extension: form({
    title: 'Aftal en anden frist (§ 22, § 23)',
    intro: 'Kun efter aftale med kommunen (eller Seniorpensionsenheden) i den konkrete sag.',
    path: 'forlaengelse',
    schema: extensionBodySchema,
    submit: 'Registrér fristen',
    done: 'Den nye frist er registreret.',
    run: (s, staff, caseId, body) => s.actions.agreeExtension(staff, caseId, body),
  }),
  consent: form({
    title: 'Samtykke eller aftale',
    intro: 'Registreres som dokumentation: hvem, hvornår og hvordan.',
    path: 'samtykke',
    schema: consentRecordSchema,
    submit: 'Registrér',
    done: 'Samtykket er registreret.',
    run: (s, staff, caseId, body) => s.consents.record(staff, caseId, body),
  }),
  conversation: form({
    title: 'Samtale med borgeren (§ 11, stk. 3)',
    path: 'samtale',
    schema: conversationBodySchema,
    submit: 'Registrér samtalen',
    done: 'Samtalen er registreret.',
    run: (s, staff, caseId, body) => s.responses.recordConversation(staff, caseId, body.date),
  }),
  conflict: form({
    title: 'Inhabilitet (§ 12, stk. 2)',
    intro: 'Sagen går tilbage til fordeling uden dig, og du kan ikke få den igen.',
    path: 'inhabilitet',
    schema: conflictBodySchema,
    submit: 'Erklær inhabilitet',
    done: 'Inhabiliteten er registreret, og sagen er sendt til ny fordeling.',
    run: (s, staff, caseId, body) => s.actions.declareConflict(staff, caseId, body.reason),
  }),
  // issue 15, team leads: keep a case from the retention purge, and let it go again
  legalHold: form({
    title: 'Bevar sagen (retligt hold)',
    intro: 'Sagen slettes ikke, når opbevaringsperioden udløber, før bevaringen ophæves.',
    path: 'bevaring',
    schema: legalHoldBodySchema,
    submit: 'Bevar sagen',
    done: 'Sagen er bevaret, indtil bevaringen ophæves.',
    run: (s, staff, caseId, body) => s.retention.placeHold(staff, caseId, body.reason),
  }),
  liftHold: form({
    title: 'Ophæv bevaringen',
    intro: 'Sagen slettes ved den næste daglige kørsel, hvis opbevaringsperioden er udløbet.',
    path: 'bevaring/ophaev',
    schema: legalHoldBodySchema,
    submit: 'Ophæv bevaringen',
    done: 'Bevaringen er ophævet.',
    run: (s, staff, caseId, body) => s.retention.liftHold(staff, caseId, body.reason),
  }),
};
export type ActionFormId = keyof typeof ACTION_FORMS;

/** A refusal in Danish, for the page (the API's own problem stays English for partners). */
export function problemDa(p: Problem): string {
  const slug = p.type.split('/').pop() ?? '';
  const rules = Array.isArray(p.extensions?.rules) ? (p.extensions.rules as string[]).map(ruleDa).join(', ') : '';
  switch (slug) {
    case 'consultation-not-held':
      return 'Der er ikke holdt en konsultation med borgeren endnu: en speciallægeattest gives efter en afholdt konsultation (§ 13, stk. 2).';
    case 'conversation-required':
      return (
        'Borgeren risikerer at være uarbejdsdygtig 4 år efter sygedagpengene: ' +
        'tal med borgeren og registrér samtalen, før udtalelsen sendes (§ 11, stk. 3).'
      );
    case 'not-eligible':
      return `Medarbejderen må ikke behandle sagen (${rules || 'reglerne om inhabilitet'}). Vælg en anden.`;
    case 'case-state':
      return 'Sagen er ikke åben for denne handling længere. Genindlæs siden.';
    case 'message-state':
      return 'Beskeden er ændret i mellemtiden. Genindlæs siden.';
    case 'no-recipient-system':
      return 'Lægeregistret kender stadig ikke lægens praksis: få den tilføjet lægeregistret (GP_DIRECTORY_FILE) og genindlæst først.';
    case 'ydernummer-given':
      return 'Beskeden har allerede et ydernummer fra kommunen; et ydernummer angives kun for en besked uden.';
    case 'legal-hold':
      return 'Bevaringen er ændret i mellemtiden. Genindlæs siden.';
    case 'validation':
      return 'Ret de markerede felter.';
    case 'month-not-ended':
      return 'Måneden er ikke slut endnu: en måned lukkes først efter sin sidste dag.';
    case 'month-closed':
      return 'Måneden er allerede lukket. Senere ændringer kommer som reguleringer i den næste åbne måned.';
    case 'month-order': {
      // the detail names the month to close first, or the last closed month this one lies before
      const first = /close (\d{4}-\d{2}) first/.exec(p.detail ?? '')?.[1];
      const last = /last closed month (\d{4}-\d{2})/.exec(p.detail ?? '')?.[1];
      if (first) return `Månederne lukkes i rækkefølge: luk ${danishMonth(first)} først.`;
      if (last) {
        return `Måneden ligger før den senest lukkede måned (${danishMonth(last)}): dens leverancer afregnes som reguleringer i den næste åbne måned.`;
      }
      return 'Månederne lukkes i rækkefølge: luk den tidligste åbne måned først.';
    }
    default:
      return `Handlingen blev afvist${rules ? ` (${rules})` : ''}: ${p.detail ?? p.title}`;
  }
}
