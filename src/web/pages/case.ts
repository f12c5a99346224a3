/**
 * `/sager/{caseId}`: who the case concerns, its deadlines, documents, consents,
 * the actions its assignee can take (forms generated from the API's schemas),
 * its responses with each message's delivery state, and the full history.
 */
import type { z } from 'zod';
import type { StaffParty } from '../../parties/parties.js';
import type { CaseFile, CaseService } from '../../worklist/service.js';
import type { FieldError } from '../../shared/problem.js';
import { CONSULTATION_SERVICES } from '../../deadlines/service.js';
import { html, table, timeDate, timeInstant, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { errorSummary, renderFields } from '../forms.js';
import {
  CASE_STATE_DA,
  consentKindDa,
  documentTypeDa,
  eventDa,
  kindDa,
  messageStateDa,
  ROLE_DA,
  ruleDa,
  serviceDa,
  STATUS_DA,
} from '../labels.js';
import { shortRef, statusBadge } from './worklist.js';
import { ACTION_FORMS, type ActionFormId } from '../actions.js';

/** A form that was sent and refused: its values and errors, shown again in place. */
export interface FormState {
  form: string;
  values: Record<string, unknown>;
  errors: FieldError[];
  /** a refusal that belongs to no single field, in Danish */
  message?: string;
}

export interface CaseMessage {
  messageId: string;
  to: string | null;
  ydernummer?: string;
  copy: boolean;
  sentAt: string;
  state: string;
  deliveredAt: string | null;
  acknowledgedAt: string | null;
  medcom?: { transport: string | null; sends: number; acknowledgement: { code: string; at: string | null } | null };
}
export interface CaseResponse {
  responseId: string;
  kind: string;
  author: string;
  sentAt: string;
  messages: CaseMessage[];
}

export interface CasePageInput {
  file: CaseFile;
  /** the case's service: its name when its agreement defines it (§16 stk. 3–4) and the response kinds it returns */
  service: CaseService;
  staff: StaffParty;
  csrfToken: string;
  name: (partyId: string) => string;
  /** staff a team lead may assign the case to */
  assignable: StaffParty[];
  flash?: string;
  formState?: FormState;
}

export function formatCpr(cpr: string): string {
  return /^\d{10}$/.test(cpr) ? `${cpr.slice(0, 6)}-${cpr.slice(6)}` : cpr;
}

function dl(rows: [string, Html | string | null | undefined][]): Html {
  return html`<dl class="facts">
    ${rows
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(
        ([k, v]) =>
          html`<div>
            <dt>${k}</dt>
            <dd>${v}</dd>
          </div>`,
      )}
  </dl>`;
}

const MEDCOM_ACK_DA: Record<string, string> = { ok: 'positiv kvittering', 'transient-error': 'midlertidig fejl', 'fatal-error': 'afvist' };

/** "Kommunen", "Kopi til egen læge" — who a message went to, in the words staff use. */
export function recipientDa(m: CaseMessage, name: (id: string) => string): string {
  if (m.copy) return `Kopi til egen læge${m.ydernummer ? ` (ydernr. ${m.ydernummer})` : ''} – § 15, stk. 2`;
  if (m.ydernummer) return `Egen læge (ydernr. ${m.ydernummer})`;
  return m.to ? name(m.to) : 'Ukendt modtager';
}

export function deliveryDa(m: CaseMessage): Html {
  const ack = m.medcom?.acknowledgement;
  return html`${messageStateDa(m.state)}${ack ? html` · MedCom: ${MEDCOM_ACK_DA[ack.code] ?? ack.code} ${timeInstant(ack.at)}` : ''}${
    m.medcom && m.medcom.sends > 1 ? html` · sendt ${m.medcom.sends} gange` : ''
  }`;
}

export function messagesTable(messages: CaseMessage[], name: (id: string) => string): Html {
  return table(
    ['Modtager', 'Sendt', 'Leveringsstatus'],
    messages.map(
      (m) =>
        html`<tr>
          <td>${recipientDa(m, name)}</td>
          <td>${timeInstant(m.sentAt)}</td>
          <td>${deliveryDa(m)}</td>
        </tr>`,
    ),
  );
}

/** One action form: fields generated from the API's schema, the CSRF token, Danish errors in place. */
export function actionForm(caseId: string, id: ActionFormId, csrfToken: string, state: FormState | undefined): Html {
  const f = ACTION_FORMS[id];
  const mine = state?.form === id ? state : undefined;
  return html`<section class="action" aria-labelledby="${id}-title" id="${id}">
    <h3 id="${id}-title">${f.title}</h3>
    ${f.intro ? html`<p class="help">${f.intro}</p>` : ''}
    ${mine ? errorSummary(mine.errors, id) : ''}${mine?.message ? html`<p class="form-error" role="alert">${mine.message}</p>` : ''}
    <form method="post" action="/sager/${caseId}/${f.path}" novalidate>
      ${csrfField(csrfToken)} ${renderFields(f.schema as z.ZodObject, { idPrefix: id, values: mine?.values, errors: mine?.errors })}
      <button type="submit">${f.submit}</button>
    </form>
  </section>`;
}

function clockStatus(status: string, outcome: 'met' | 'missed' | undefined): Html {
  const badge = status in STATUS_DA ? statusBadge(status as keyof typeof STATUS_DA) : status;
  return html`${badge}${outcome ? ` – ${outcome === 'met' ? 'overholdt' : 'overskredet'}` : ''}`;
}

export function casePage(p: CasePageInput): Html {
  const c = p.file;
  const isAssignee = c.assignedTo === p.staff.id;
  const isLead = p.staff.roles.includes('team-lead');
  const responses = c.responses as CaseResponse[];
  const status = c.clock.status === 'running' ? null : c.clock.status;

  const citizen = html`<section aria-labelledby="borger">
    <h2 id="borger">Borger og parter</h2>
    ${dl([
      ['Borger', c.citizen.name],
      ['CPR-nummer', formatCpr(c.citizen.cpr)],
      ['Egen læge', c.gp ? `${c.gp.name ? `${c.gp.name}, ` : ''}ydernr. ${c.gp.ydernummer}` : 'Ikke oplyst'],
      ['Kommune', p.name(`municipality:${c.municipalityCode}`)],
      [
        'Kommunens sagsbehandler',
        c.caseworker
          ? html`${c.caseworker.name}${c.caseworker.phone ? html`, tlf. ${c.caseworker.phone}` : ''}${
              c.caseworker.email ? html`, <a href="mailto:${c.caseworker.email}">${c.caseworker.email}</a>` : ''
            }`
          : 'Ikke oplyst',
      ],
      ['Tildelt', c.assignedTo ? p.name(c.assignedTo) : 'Ingen'],
      ['Sagens tilstand', CASE_STATE_DA[c.state] ?? c.state],
    ])}
  </section>`;

  const deadlines = html`<section aria-labelledby="frister">
    <h2 id="frister">Frister</h2>
    ${status ? html`<p>${clockStatus(status, c.clock.outcome)}</p>` : ''}
    ${
      c.deadlines.length === 0
        ? html`<p>Ingen løbende frist.</p>`
        : table(
            ['Regel', 'Frist', 'Dage tilbage', 'Grundlag'],
            c.deadlines.map(
              (d) =>
                html`<tr>
                  <td>${ruleDa(d.rule)}</td>
                  <td>
                    ${timeDate(d.dueDate)}${d.extension ? html` <span class="muted">(forlænget fra ${timeDate(d.extension.originalDueDate)})</span>` : ''}
                  </td>
                  <td>${d.daysLeft < 0 ? html`<strong>${-d.daysLeft} dage over</strong>` : `${d.daysLeft} dage`}</td>
                  <td>${d.agreementId ? `Samarbejdsaftale ${d.agreementId}` : 'Lovens frist'}</td>
                </tr>`,
            ),
          )
    }
    ${dl([['Styrende aftale', c.agreementId ?? 'Ingen (lovens frister)']])}
    ${c.missingDocuments.length > 0 ? html`<p class="notice">Sagen mangler: ${c.missingDocuments.map(documentTypeDa).join(', ')} (§ 21, stk. 2).</p>` : ''}
  </section>`;

  const documents = html`<section aria-labelledby="dokumenter">
    <h2 id="dokumenter">Dokumenter</h2>
    ${
      c.documents.length === 0
        ? html`<p>Ingen dokumenter.</p>`
        : html`<ul class="documents">
            ${c.documents.map((d) => {
              const kb = Math.max(1, Math.round(d.size / 1024));
              const about = html`${documentTypeDa(d.type)}, ${kb} kB, modtaget ${timeInstant(d.receivedAt)}`;
              return html`<li>
                <a href="/sager/${c.caseId}/dokumenter/${encodeURIComponent(d.part)}">${d.title ?? d.part}</a>
                <span class="muted">${about}</span>
              </li>`;
            })}
          </ul>`
    }
  </section>`;

  const consents = html`<section aria-labelledby="samtykker">
    <h2 id="samtykker">Samtykker og aftaler</h2>
    ${
      c.consents.length === 0
        ? html`<p>Ingen registreret.</p>`
        : table(
            ['Hvad', 'Givet af', 'Dato', 'Hvordan', 'Registreret'],
            c.consents.map(
              (k) =>
                html`<tr>
                  <td>${consentKindDa(k.kind)}</td>
                  <td>${k.givenBy}</td>
                  <td>${timeDate(k.date)}</td>
                  <td>${k.how === 'written' ? `Skriftligt (${k.documentPart ?? ''})` : 'Mundtligt'}</td>
                  <td>${p.name(k.recordedBy)}, ${timeInstant(k.recordedAt)}</td>
                </tr>`,
            ),
          )
    }
  </section>`;

  const kinds = p.service.responseKinds;
  const open = c.state === 'assigned';
  const forms: ActionFormId[] = [];
  if (c.service === 'rehab-team-advice') forms.push('meeting');
  if ((CONSULTATION_SERVICES as readonly string[]).includes(c.service)) forms.push('consultation');
  forms.push('extension', 'consent');
  if (c.service === 'ongoing-case-advice') forms.push('conversation');
  forms.push('conflict');
  const actions =
    isAssignee && open
      ? html`<section aria-labelledby="handlinger">
          <h2 id="handlinger">Handlinger</h2>
          <div class="respond">
            <h3>Send svar</h3>
            <ul class="buttons">
              ${kinds.map(
                (k) => html`<li><a class="button" href="/sager/${c.caseId}/svar/ny?type=${k}">Send ${kindDa(k).toLowerCase()}</a></li>`,
              )}
            </ul>
          </div>
          ${forms.map((id) => actionForm(c.caseId, id, p.csrfToken, p.formState))}
        </section>`
      : '';
  const assign =
    isLead && c.state !== 'closed' && c.state !== 'awaiting-complete-case'
      ? html`<section aria-labelledby="tildel-title" id="assign">
          <h2 id="tildel-title">${c.assignedTo ? 'Tildel til en anden' : 'Tildel sagen'}</h2>
          ${assignForm(c.caseId, p.assignable, p.csrfToken, p.formState, `/sager/${c.caseId}`)}
        </section>`
      : '';

  // issue 15: when the case's documents and personal data are deleted, and a team lead's legal hold
  const r = c.retention;
  const retention =
    r && (r.closedAt || r.legalHold)
      ? html`<section aria-labelledby="opbevaring" id="retention">
          <h2 id="opbevaring">Opbevaring</h2>
          ${dl([
            ['Afsluttet', r.closedAt ? timeInstant(r.closedAt) : null],
            ['Slettes', r.purgeAfter ? html`fra ${timeInstant(r.purgeAfter)} (dokumenter og personoplysninger)` : null],
            [
              'Bevaret (retligt hold)',
              r.legalHold
                ? html`siden ${timeInstant(r.legalHold.placedAt)}${r.legalHold.placedBy ? ` af ${p.name(r.legalHold.placedBy)}` : ''}:
                  ${r.legalHold.reason ?? ''}`
                : null,
            ],
          ])}
          ${isLead ? actionForm(c.caseId, r.legalHold ? 'liftHold' : 'legalHold', p.csrfToken, p.formState) : ''}
        </section>`
      : '';

  const responseList = html`<section aria-labelledby="svar">
    <h2 id="svar">Svar og levering</h2>
    ${
      responses.length === 0
        ? html`<p>Intet svar sendt endnu.</p>`
        : responses.map(
            (r) =>
              html`<article class="response">
                <h3>${kindDa(r.kind)} <span class="muted">sendt ${timeInstant(r.sentAt)} af ${p.name(r.author)}</span></h3>
                ${messagesTable(r.messages, p.name)}
              </article>`,
          )
    }
  </section>`;

  const history = html`<section aria-labelledby="historik">
    <h2 id="historik">Historik</h2>
    <ol class="history">
      ${c.history.map(
        (e) =>
          html`<li>${timeInstant(e.at)} – ${eventDa(e.event)}${e.actor ? html` <span class="muted">(${p.name(e.actor)})</span>` : ''}</li>`,
      )}
    </ol>
  </section>`;

  const urgent = c.urgent ? html` <span class="urgent">Hastesag</span>` : '';
  return html`<p class="crumbs">
      <a href="${isLead && !isAssignee ? '/overblik' : '/'}">← ${isLead && !isAssignee ? 'Overblik' : 'Arbejdsliste'}</a>
    </p>
    <h1>Sag ${shortRef(c.caseId)}: ${serviceDa(c.service, p.service.name)}${urgent}</h1>
    ${p.flash ? html`<p class="notice success" role="status">${p.flash}</p>` : ''}
    <div class="columns">
      <div>${citizen}${deadlines}${documents}${consents}</div>
      <div>${actions}${assign}${retention}${responseList}${history}</div>
    </div>`;
}

/** The team lead's assign form (§12 stk. 2, §13 stk. 3 and §25 stk. 3 apply; the service says which rule refuses). */
export function assignForm(caseId: string, staff: StaffParty[], csrfToken: string, state: FormState | undefined, returnTo: string): Html {
  const mine = state?.form === `assign-${caseId}` ? state : undefined;
  const id = `assign-${caseId.slice(0, 8)}`;
  return html`${mine?.message ? html`<p class="form-error" role="alert">${mine.message}</p>` : ''}
    <form method="post" action="/sager/${caseId}/tildel" class="inline-form">
      ${csrfField(csrfToken)}
      <input type="hidden" name="returnTo" value="${returnTo}" />
      <label for="${id}">Medarbejder</label
      ><select id="${id}" name="staffId">
        ${staff.map((s) => html`<option value="${s.id}">${s.name} (${s.roles.map((r) => ROLE_DA[r] ?? r).join(', ')})</option>`)}
      </select>
      <button type="submit">Tildel</button>
    </form>`;
}
