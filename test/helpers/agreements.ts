/** An agreement store over a list a test controls (the gateway's reads a file). */
import { agreementInForce, type AgreementStore } from '../../src/deadlines/agreements.js';
import type { Agreement } from '../../src/deadlines/types.js';

export function agreementsOf(list: () => readonly Agreement[]): Pick<AgreementStore, 'byId' | 'inForce' | 'current'> {
  return {
    current: () => [...list()],
    byId: (id) => (id ? (list().find((a) => a.id === id) ?? null) : null),
    inForce: (selector, date) => agreementInForce(list(), selector, date),
  };
}
