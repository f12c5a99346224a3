/**
 * `/overblik`, for team leads: what needs a hand (unassigned with the rules
 * that excluded each person, incomplete with what is missing, at risk,
 * overdue, extended), each person's load against capacity, messages that
 * did not get through (retry or resolve), the access log and the queues.
 */
import { localDate } from '../../deadlines/calendar.js';
import type { StaffParty } from '../../parties/parties.js';
import type { LeadOverview } from '../../worklist/service.js';
import type { LeadListItem } from '../../worklist/schema.js';
import type { VolumeRow } from '../../statistics/schema.js';
import { html, table, timeDate, timeInstant, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { documentTypeDa, exclusionDa, messageStateDa, ROLE_DA, serviceDa } from '../labels.js';
import { shortRef } from './worklist.js';
import { assignForm, type FormState } from './case.js';
import { volumeTable } from './statistics.js';

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
}

function caseTable(items: LeadListItem[], name: (id: string) => string, extra?: (i: LeadListItem) => Html): Html {
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
          <td>${serviceDa(i.service)}</td>
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

function messageTable(
  items: LeadMessage[],
  state: string,
  action: 'retry' | 'resolve' | null,
  csrfToken: string,
  name: (id: string) => string,
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
            action
              ? html`<td>
                  <form
                    method="post"
                    action="/overblik/beskeder/${m.messageId}/${action === 'retry' ? 'genforsoeg' : 'send'}"
                    class="inline"
                  >
                    ${csrfField(csrfToken)}<button type="submit">${action === 'retry' ? 'Prøv igen' : 'Send nu'}</button>
                  </form>
                </td>`
              : ''
          }
        </tr>`,
    ),
  );
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
    ${section('ikke-tildelt', 'Ikke tildelt', l.unassigned.length, caseTable(l.unassigned, p.name, exclusions))}
    ${section(
      'mangler',
      'Afventer komplet sag',
      l.awaitingCompleteCase.length,
      caseTable(l.awaitingCompleteCase, p.name, (i) => html`Mangler: ${(i.missingDocuments ?? []).map(documentTypeDa).join(', ')}`),
    )}
    ${section('i-risiko', 'I risiko', l.atRisk.length, caseTable(l.atRisk, p.name))}
    ${section('overskredet', 'Overskredet', l.overdue.length, caseTable(l.overdue, p.name))}
    ${section('forlaenget', 'Forlænget efter aftale (§ 22, § 23)', l.extended.length, caseTable(l.extended, p.name))}
    <section aria-labelledby="volumen">
      <h2 id="volumen">Volumen (§ 17, stk. 4) <span class="count">(${p.volumeAlerts.length})</span></h2>
      ${
        p.volumeAlerts.length === 0
          ? html`<p>Ingen afvigelser.</p>`
          : html`<p>
                Aftaler, hvor antallet af sager i aftaleåret afviger mere end tærsklen fra det forventede.
                <a href="/statistik#volumen">Se alle aftaler under Statistik</a>
              </p>
              ${volumeTable(p.volumeAlerts, p.name)}`
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
      ${messageTable(p.messages['no-recipient-system'], 'no-recipient-system', 'resolve', p.csrfToken, p.name)}
      <h3>Ugyldige (MedCom-validering)</h3>
      ${messageTable(p.messages.invalid, 'invalid', null, p.csrfToken, p.name)}
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
