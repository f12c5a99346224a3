/**
 * Sending a response from the case page: the form per kind, generated from
 * the content schema the API checks (every field with its Danish label and
 * § help), the signed-off PDF with a progress bar, and afterwards the
 * confirmation naming each recipient ("Kopi til egen læge", §15 stk. 2) and
 * its delivery state.
 */
import type { FieldError } from '../../shared/problem.js';
import { contentSchemaFor, type ResponseKind } from '../../responses/content.js';
import { html, timeInstant, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { errorSummary, renderFields } from '../forms.js';
import { kindDa, serviceDa } from '../labels.js';
import { shortRef } from './worklist.js';
import { messagesTable, type CaseResponse } from './case.js';

export interface RespondFormInput {
  caseId: string;
  service: string;
  /** the agreement's name of a supplementary service (§16 stk. 3–4); null for a statutory one */
  serviceName: string | null;
  kind: ResponseKind;
  csrfToken: string;
  values?: Record<string, unknown>;
  errors?: FieldError[];
  message?: string;
}

export function respondPage(p: RespondFormInput): Html {
  const schema = contentSchemaFor(p.kind, p.service);
  const errors = p.errors ?? [];
  const docError = errors.find((e) => e.path === 'document');
  return html`<p class="crumbs"><a href="/sager/${p.caseId}">← Sag ${shortRef(p.caseId)}</a></p>
    <h1>${kindDa(p.kind)} – Sag ${shortRef(p.caseId)}</h1>
    <p>${serviceDa(p.service, p.serviceName)}</p>
    ${errorSummary(errors, 'svar', 'content')}${p.message ? html`<p class="form-error" role="alert">${p.message}</p>` : ''}
    <form method="post" action="/sager/${p.caseId}/svar?type=${p.kind}" enctype="multipart/form-data" data-upload novalidate>
      ${csrfField(p.csrfToken)} ${renderFields(schema, { idPrefix: 'svar', values: p.values, errors, errorPrefix: 'content' })}
      <div class="field${docError ? ' has-error' : ''}">
        <label for="svar-document">Underskrevet dokument (PDF)</label>
        <p class="help" id="svar-document-help">
          Det dokument, kommunen modtager. Det signeres og sendes samtidig til alle modtagere (§ 15, stk. 2).
        </p>
        ${docError ? html`<p class="field-error" id="svar-document-error">${docError.da ?? 'Vælg PDF-dokumentet'}</p>` : ''}
        <input
          type="file"
          id="svar-document"
          name="document"
          accept="application/pdf"
          aria-required="true"
          aria-describedby="svar-document-help${docError ? ' svar-document-error' : ''}"
          ${docError ? html` aria-invalid="true"` : ''}
        />
      </div>
      <div class="upload-progress" hidden>
        <label for="svar-progress">Overfører dokumentet</label> <progress id="svar-progress" max="100" value="0">0 %</progress>
      </div>
      <button type="submit">Send ${kindDa(p.kind).toLowerCase()}</button>
    </form>`;
}

export function sentPage(caseId: string, r: CaseResponse, name: (id: string) => string): Html {
  return html`<p class="crumbs"><a href="/sager/${caseId}">← Sag ${shortRef(caseId)}</a></p>
    <h1>${kindDa(r.kind)} er sendt</h1>
    <p class="notice success" role="status">
      Sendt ${timeInstant(r.sentAt)} til ${r.messages.length} ${r.messages.length === 1 ? 'modtager' : 'modtagere'} på samme tidspunkt.
    </p>
    <h2>Modtagere</h2>
    ${messagesTable(r.messages, name)}
    <p><a href="/sager/${caseId}">Tilbage til sagen</a> · <a href="/">Til arbejdslisten</a></p>`;
}
