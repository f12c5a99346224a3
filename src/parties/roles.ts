/**
 * Who a party is allowed to be: the staff-role checks every feature shares,
 * as predicates and as Express middleware (the problem is a 403 naming what
 * the endpoint is for).
 */
import type { RequestHandler } from 'express';
import type { Party, StaffParty, StaffRole } from './parties.js';
import { forbidden } from '../shared/problem.js';

export function isStaff(p: Party | undefined): p is StaffParty {
  return p !== undefined && p.kind === 'staff';
}

/** A boolean, not a type guard: `false` must not narrow a staff member away. Use with isStaff where a StaffParty is needed. */
export function isTeamLead(p: Party | undefined): boolean {
  return hasRole(p, 'team-lead');
}

/** A staff member with at least one of `roles`. */
export function hasRole(p: Party | undefined, ...roles: StaffRole[]): boolean {
  return isStaff(p) && p.roles.some((r) => roles.includes(r));
}

/** Only parties of `kinds` pass; anyone else gets 403 naming who the endpoint is for. */
export function requireKind(...kinds: Party['kind'][]): RequestHandler {
  return (req, _res, next) => {
    if (!req.party || !kinds.includes(req.party.kind)) {
      return next(forbidden(`this endpoint is for ${kinds.join(' and ')} parties`, 'wrong-party-kind'));
    }
    next();
  };
}

/** Regional staff only (any role). */
export function requireStaff(what = 'this endpoint is for regional staff'): RequestHandler {
  return (req, _res, next) => next(isStaff(req.party) ? undefined : forbidden(what, 'wrong-party-kind'));
}

/** Team leads only. */
export function requireTeamLead(what = 'this endpoint is for team leads'): RequestHandler {
  return (req, _res, next) => next(isTeamLead(req.party) ? undefined : forbidden(what, 'wrong-party-kind'));
}

/** The calling staff member (after requireStaff / requireTeamLead). */
export function staffOf(req: { party?: Party }): StaffParty {
  if (!isStaff(req.party)) throw forbidden('this endpoint is for regional staff', 'wrong-party-kind');
  return req.party;
}
