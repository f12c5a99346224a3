/**
 * `/overblik`, for team leads: what needs a hand (unassigned with the rules
 * that excluded each person, incomplete with what is missing, at risk,
 * overdue, extended), each person's load against capacity, messages that
 * did not get through (retry or resolve; a GP message without a ydernummer
 * is resolved with the one the lead gives, §15 stk. 2), the access log and
 * the queues.
 */
import { localDate } from '../../deadlines/calendar.js';
import { careCommunicationSource, type CareCommunicationSource } from '../../medcom/carecommunication.js';
import { scrubCpr } from '../../shared/logger.js';
import type { StaffParty } from '../../parties/parties.js';
import type { LeadOverview } from '../../worklist/service.js';
import type { LeadListItem } from '../../worklist/schema.js';
import type { VolumeRow } from '../../statistics/schema.js';
import { html, table, timeDate, timeInstant, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { documentTypeDa, exclusionDa, messageStateDa, ROLE_DA, serviceDa } from '../labels.js';
import { shortRef } from './worklist.js';
import { assignForm, type FormState } from './case.js';
import { renderFields } from '../forms.js';
import { resolveFieldsSchema } from '../../responses/schema.js';
import { volumeTable, type ServiceName } from './statistics.js';

/** The resolve form's field for a message without a ydernummer: there it must be given (so not "(valgfrit)"). */
const YDERNUMMER_REQUIRED = resolveFieldsSchema.required();

export interface StaffLoad {
  staffId: string;
  name: string;
  roles: string[];
  openCases: number;
  capacityPerDay: number;
}
export interface LeadMessage {
  messageId: string;
  caseId: string;
  kind: string;
  sentAt: string;
  to: string | null;
  ydernummer: string | null;
  lastError: string | null;
  /** an invalid MedCom message: what failed validation against MedCom's profiles (FHIRPath location, the validator's text) */
  validationIssues?: { location: string; message: string }[];
}
export interface AccessEntry {
  at: string;
  actor: string;
  action: string;
  caseId: string | null;
  part?: string;
  /** issue 15: repeated reads of the same object by the same person, counted in one entry */
  count?: number;
}

export interface OverviewInput {
  lists: LeadOverview;
  load: StaffLoad[];
  messages: { 'dead-lettered': LeadMessage[]; 'no-recipient-system': LeadMessage[]; invalid: LeadMessage[] };
  access: AccessEntry[];
  assignable: StaffParty[];
  csrfToken: string;
  name: (id: string) => string;
  flash?: string;
  formState?: FormState;
  queues: boolean;
  /** §17 stk. 4: the agreements whose case volume deviates more than the threshold */
  volumeAlerts: VolumeRow[];
  /** §16 stk. 3–4: the agreement's name of a supplementary service in the volumes */
  serviceName?: ServiceName;
}

function caseTable(
  items: LeadListItem[],
  name: (id: string) => string,
  serviceNames: Record<string, string>,
  extra?: (i: LeadListItem) => Html,
): Html {
  if (items.length === 0) return html`<p>Ingen.</p>`;
  const cols = ['Sag', 'Kommune', 'Ydelse', 'Modtaget', 'Frist', 'Tildelt', ...(extra ? ['Detaljer'] : [])];
  return table(
    cols,
    items.map(
      (i) =>
        html`<tr>
          <th scope="row">
            <a href="/sager/${i.caseId}">Sag ${shortRef(i.caseId)}</a>${i.urgent ? html` <span class="urgent">Hastesag</span>` : ''}
          </th>
          <td>${name(`municipality:${i.municipalityCode}`)}</td>
          <td>${serviceDa(i.service, serviceNames[i.service])}</td>
          <td>${timeDate(localDate(i.receivedAt))}</td>
          <td>${timeDate(i.dueDate)}${i.extended ? html` <span class="muted">(forlænget)</span>` : ''}</td>
          <td>${i.assignedTo ? name(i.assignedTo) : 'Ingen'}</td>
          ${extra ? html`<td>${extra(i)}</td>` : ''}
        </tr>`,
    ),
  );
}

function section(id: string, title: string, count: number, body: Html): Html {
  return html`<section aria-labelledby="${id}">
    <h2 id="${id}">${title} <span class="count">(${count})</span></h2>
    ${body}
  </section>`;
}

/** "Send nu" of a GP message kept without a recipient; without a ydernummer it asks for the GP's (the API's `ydernummer`). */
function resolveForm(m: LeadMessage, csrfToken: string, formState: FormState | undefined): Html {
  const mine = formState?.form === `message-${m.messageId}` ? formState : undefined;
  return html`<form method="post" action="/overblik/beskeder/${m.messageId}/send" class="inline" novalidate>
    ${csrfField(csrfToken)}${
      m.ydernummer === null
        ? renderFields(YDERNUMMER_REQUIRED, { idPrefix: `send-${m.messageId}`, values: mine?.values, errors: mine?.errors })
        : ''
    }<button type="submit">Send nu</button>
  </form>`;
}

function messageTable(
  items: LeadMessage[],
  state: string,
  action: 'retry' | 'resolve' | null,
  csrfToken: string,
  name: (id: string) => string,
  formState?: FormState,
): Html {
  if (items.length === 0) return html`<p>Ingen.</p>`;
  return table(
    ['Sag', 'Modtager', 'Sendt', 'Status', ...(action ? ['Handling'] : [])],
    items.map(
      (m) =>
        html`<tr>
          <td><a href="/sager/${m.caseId}">Sag ${shortRef(m.caseId)}</a></td>
          <td>${m.to ? name(m.to) : m.ydernummer ? `Egen læge, ydernr. ${m.ydernummer}` : '–'}</td>
          <td>${timeInstant(m.sentAt)}</td>
          <td>${messageStateDa(state)}${m.lastError ? html`<br /><span class="muted">${m.lastError}</span>` : ''}</td>
          ${
            action === 'retry'
              ? html`<td>
                  <form method="post" action="/overblik/beskeder/${m.messageId}/genforsoeg" class="inline">
                    ${csrfField(csrfToken)}<button type="submit">Prøv igen</button>
                  </form>
                </td>`
              : action === 'resolve'
                ? html`<td>${resolveForm(m, csrfToken, formState)}</td>`
                : ''
          }
        </tr>`,
    ),
  );
}

/**
 * Why an invalid message failed, by where the failing part comes from, and what a team lead does about it. The message
 * is built from the GP directory, the configuration, the manifest and the parties file, never from the response itself;
 * corrected there, the messages built afterwards pass.
 */
const INVALID_CAUSE_DA: Record<CareCommunicationSource, { reason: string; fix: (m: LeadMessage) => string }> = {
  receiver: {
    reason: 'Lægepraksissens oplysninger (navn, SOR-id eller EAN-nummer) opfylder ikke MedComs krav.',
    fix: (m) => `Ret praksisregistret (GP_DIRECTORY_FILE)${m.ydernummer ? ` for ydernr. ${m.ydernummer}` : ''}, og genindlæs det (SIGHUP).`,
  },
  sender: {
    reason: 'Den kliniske funktions egne oplysninger (navn, SOR-id, EAN-nummer eller telefonnummer) opfylder ikke MedComs krav.',
    fix: () => 'Ret CLINICAL_FUNCTION_NAME, -_SOR, -_EAN og -_PHONE i konfigurationen, og genstart gatewayen.',
  },
  author: {
    reason: 'Afsenderens navn eller rolle opfylder ikke MedComs krav.',
    fix: () => 'Ret medarbejderen i partsfilen (PARTIES_FILE), og genindlæs den (SIGHUP).',
  },
  patient: {
    reason: 'Borgerens navn eller CPR-nummer fra kommunens forsendelse opfylder ikke MedComs krav.',
    fix: () => 'Kontakt kommunen: oplysningerne kommer fra sagens manifest.',
  },
  message: {
    reason: 'Beskeden er bygget forkert, eller MedCom-pakkerne passer ikke til den.',
    fix: (m) => `Kontakt driften med beskedens id ${m.messageId} (npm run cli -- medcom show ${m.messageId}).`,
  },
};

/** Invalid MedCom messages: the reason in Danish and what to do, with the validator's own findings folded away. */
function invalidTable(items: LeadMessage[], name: (id: string) => string, csrfToken: string): Html {
  if (items.length === 0) return html`<p>Ingen.</p>`;
  return html`<p>
      En besked til egen læge, der ikke består MedComs validering, bliver ikke sendt. Fejlen ligger i de oplysninger, beskeden bygges af
      (praksisregistret, konfigurationen, partsfilen eller kommunens forsendelse), ikke i svaret. Ret årsagen (og genindlæs filen), og tryk
      så «Prøv igen»: beskeden bygges og valideres igen med de rettede oplysninger og sendes, når den er gyldig, med svarets tidspunkt (§
      15, stk. 2).
    </p>
    ${table(
      ['Sag', 'Modtager', 'Sendt', 'Årsag og hvad der skal gøres', 'Handling'],
      items.map((m) => {
        const issues = m.validationIssues ?? [];
        const sources = [...new Set(issues.map((i) => careCommunicationSource(i.location)))];
        return html`<tr>
          <td><a href="/sager/${m.caseId}">Sag ${shortRef(m.caseId)}</a></td>
          <td>${m.to ? name(m.to) : m.ydernummer ? `Egen læge, ydernr. ${m.ydernummer}` : '–'}</td>
          <td>${timeInstant(m.sentAt)}</td>
          <td class="invalid-cause">
            ${(sources.length > 0 ? sources : (['message'] as const)).map(
              (s) => html`<p><strong>${INVALID_CAUSE_DA[s].reason}</strong> ${INVALID_CAUSE_DA[s].fix(m)}</p>`,
            )}
            ${
              issues.length > 0
                ? html`<details>
                    <summary>MedCom-valideringens fund (${issues.length})</summary>
                    <ul>
                      ${issues.slice(0, 10).map((i) => html`<li><code>${i.location}</code>: ${scrubCpr(i.message)}</li>`)}
                    </ul>
                  </details>`
                : ''
            }
          </td>
          <td>
            <form method="post" action="/overblik/beskeder/${m.messageId}/send" class="inline">
              ${csrfField(csrfToken)}<button type="submit">Prøv igen</button>
            </form>
          </td>
        </tr>`;
      }),
    )}`;
}

export function overviewPage(p: OverviewInput): Html {
  const l = p.lists;
  const exclusions = (i: LeadListItem) =>
    html`<details>
        <summary>Hvorfor ingen kunne tildeles</summary>
        <ul>
          ${(i.routing?.excluded ?? []).map(
            (x) => html`<li>${p.name(x.staffId)}: ${x.rules.map((r) => exclusionDa(r.rule)).join('; ')}</li>`,
          )}
        </ul>
      </details>
      ${assignForm(i.caseId, p.assignable, p.csrfToken, p.formState, '/overblik')}`;
  const counts: [string, string, number][] = [
    ['ikke-tildelt', 'Ikke tildelt', l.unassigned.length],
    ['mangler', 'Afventer komplet sag', l.awaitingCompleteCase.length],
    ['i-risiko', 'I risiko', l.atRisk.length],
    ['overskredet', 'Overskredet', l.overdue.length],
    ['forlaenget', 'Forlænget', l.extended.length],
    ['volumen', 'Volumen (§ 17, stk. 4)', p.volumeAlerts.length],
    [
      'beskeder',
      'Beskeder der ikke kom frem',
      p.messages['dead-lettered'].length + p.messages['no-recipient-system'].length + p.messages.invalid.length,
    ],
  ];
  return html`<h1>Overblik</h1>
    ${p.flash ? html`<p class="notice success" role="status">${p.flash}</p>` : ''}
    ${p.formState?.message && !p.formState.form.startsWith('assign-') ? html`<p class="form-error" role="alert">${p.formState.message}</p>` : ''}
    <ul class="tiles">
      ${counts.map(
        ([id, t, n]) =>
          html`<li>
            <a href="#${id}"><span class="n">${n}</span> ${t}</a>
          </li>`,
      )}
    </ul>
    ${section('ikke-tildelt', 'Ikke tildelt', l.unassigned.length, caseTable(l.unassigned, p.name, l.serviceNames, exclusions))}
    ${section(
      'mangler',
      'Afventer komplet sag',
      l.awaitingCompleteCase.length,
      caseTable(
        l.awaitingCompleteCase,
        p.name,
        l.serviceNames,
        (i) => html`Mangler: ${(i.missingDocuments ?? []).map(documentTypeDa).join(', ')}`,
      ),
    )}
    ${section('i-risiko', 'I risiko', l.atRisk.length, caseTable(l.atRisk, p.name, l.serviceNames))}
    ${section('overskredet', 'Overskredet', l.overdue.length, caseTable(l.overdue, p.name, l.serviceNames))}
    ${section('forlaenget', 'Forlænget efter aftale (§ 22, § 23)', l.extended.length, caseTable(l.extended, p.name, l.serviceNames))}
    <section aria-labelledby="volumen">
      <h2 id="volumen">Volumen (§ 17, stk. 4) <span class="count">(${p.volumeAlerts.length})</span></h2>
      ${
        p.volumeAlerts.length === 0
          ? html`<p>Ingen afvigelser.</p>`
          : html`<p>
                Aftaler, hvor antallet af sager i aftaleåret afviger mere end tærsklen fra det forventede.
                <a href="/statistik#volumen">Se alle aftaler under Statistik</a>
              </p>
              ${volumeTable(p.volumeAlerts, p.name, undefined, p.serviceName)}`
      }
    </section>
    <section aria-labelledby="belastning">
      <h2 id="belastning">Belastning</h2>
      ${table(
        ['Medarbejder', 'Rolle', 'Åbne sager', 'Kapacitet pr. dag'],
        p.load.map(
          (s) =>
            html`<tr>
              <th scope="row">${s.name}</th>
              <td>${s.roles.map((r) => ROLE_DA[r] ?? r).join(', ')}</td>
              <td>${s.openCases}</td>
              <td>${s.capacityPerDay}</td>
            </tr>`,
        ),
      )}
    </section>
    <section aria-labelledby="beskeder">
      <h2 id="beskeder">Beskeder der ikke kom frem</h2>
      <h3>Kunne ikke leveres</h3>
      ${messageTable(p.messages['dead-lettered'], 'dead-lettered', 'retry', p.csrfToken, p.name)}
      <h3>Ingen modtager i lægeregistret</h3>
      ${messageTable(p.messages['no-recipient-system'], 'no-recipient-system', 'resolve', p.csrfToken, p.name, p.formState)}
      <h3>Ugyldige (MedCom-validering)</h3>
      ${invalidTable(p.messages.invalid, p.name, p.csrfToken)}
    </section>
    <section aria-labelledby="adgangslog">
      <h2 id="adgangslog">Adgangslog</h2>
      ${
        p.access.length === 0
          ? html`<p>Ingen opslag endnu.</p>`
          : table(
              ['Tidspunkt', 'Hvem', 'Sag', 'Hvad'],
              p.access.map(
                (a) =>
                  html`<tr>
                    <td>${timeInstant(a.at)}</td>
                    <td>${p.name(a.actor)}</td>
                    <td>${a.caseId ? html`<a href="/sager/${a.caseId}">Sag ${shortRef(a.caseId)}</a>` : '–'}</td>
                    <td>
                      ${a.action === 'document-read' ? `Dokument ${a.part ?? ''}` : 'Sagen'}${(a.count ?? 1) > 1 ? ` (${a.count} gange)` : ''}
                    </td>
                  </tr>`,
              ),
              'De seneste opslag i sager og dokumenter',
            )
      }
    </section>
    ${p.queues ? html`<p><a href="/admin/queues">Køerne (BullMQ)</a> – kun læsning; fejlede job kan prøves igen.</p>` : ''}`;
}
