/**
 * The page shell every staff page shares: `<html lang="da">`, one stylesheet
 * and one script from the gateway itself, a skip link, the navigation, who
 * is signed in and the logout form (with its CSRF token).
 */
import type { StaffParty } from '../parties/parties.js';
import { hasRole, isTeamLead } from '../parties/roles.js';
import { html, type Html } from './html.js';
import { ROLE_DA } from './labels.js';

export interface PageContext {
  staff: StaffParty;
  csrfToken: string;
  /** the request path, to mark the current navigation entry */
  path: string;
}

export interface NavEntry {
  href: string;
  text: string;
  /** who sees the entry */
  visible(staff: StaffParty): boolean;
}

/** Everyone but finance staff works cases; a finance-only person has no worklist (`/` sends them to the settlement). */
export function hasWorklist(staff: StaffParty): boolean {
  return staff.roles.some((r) => r !== 'finance');
}

/** The statistics and the settlement: team leads and finance staff. */
export function seesFigures(staff: StaffParty): boolean {
  return hasRole(staff, 'team-lead', 'finance');
}

/** The navigation: each person sees only the pages they can use. */
export const NAVIGATION: NavEntry[] = [
  { href: '/', text: 'Arbejdsliste', visible: hasWorklist },
  { href: '/overblik', text: 'Overblik', visible: (s) => isTeamLead(s) },
  { href: '/statistik', text: 'Statistik', visible: seesFigures },
  { href: '/afregning', text: 'Afregning', visible: seesFigures },
];

/** The hidden field every state-changing form carries. */
export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}" />`;
}

function nav(ctx: PageContext): Html {
  const entries = NAVIGATION.filter((n) => n.visible(ctx.staff));
  const current = (href: string) => (href === '/' ? ctx.path === '/' : ctx.path.startsWith(href));
  return html`<nav aria-label="Hovedmenu">
    <ul>
      ${entries.map((n) => html`<li><a href="${n.href}" ${current(n.href) ? html` aria-current="page"` : ''}>${n.text}</a></li>`)}
    </ul>
  </nav>`;
}

export function layout(title: string, main: Html, ctx?: PageContext): string {
  const header = ctx
    ? html`<header class="top">
        <div class="brand"><a href="/">Postkasse</a> <span>Klinisk funktion</span></div>
        ${nav(ctx)}
        <div class="who">
          <span>${ctx.staff.name} (${ctx.staff.roles.map((r) => ROLE_DA[r] ?? r).join(', ')})</span>
          <form method="post" action="/logout" class="inline">
            ${csrfField(ctx.csrfToken)}<button type="submit" class="link">Log ud</button>
          </form>
        </div>
      </header>`
    : html`<header class="top">
        <div class="brand"><span>Postkasse</span> <span>Klinisk funktion</span></div>
      </header>`;
  return html`<!doctype html>
    <html lang="da">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} – Postkasse</title>
        <link rel="stylesheet" href="/static/app.css" />
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <script src="/static/app.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#indhold">Gå til indhold</a>${header}
        <main id="indhold" tabindex="-1">${main}</main>
      </body>
    </html>`.value;
}
