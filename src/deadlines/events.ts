/**
 * Stored case events → the engine's ClockEvents. The clock is always
 * recomputed from these, so every date on a case can be explained.
 */
import type { ClockEvent } from './types.js';

export interface StoredEvent {
  event: string;
  at: string;
  actor: string;
  data: string | Record<string, unknown>;
}

export function toClockEvents(rows: readonly StoredEvent[]): ClockEvent[] {
  const out: ClockEvent[] = [];
  for (const r of rows) {
    const d = (typeof r.data === 'string' ? JSON.parse(r.data) : r.data) as Record<string, unknown>;
    switch (r.event) {
      case 'consultation-booked':
        out.push({ event: 'consultation-booked', at: r.at, date: String(d.date) });
        break;
      case 'further-assessment-requested':
        out.push({ event: 'further-assessment-requested', at: r.at });
        break;
      case 'meeting-booked':
        out.push({ event: 'meeting-booked', at: r.at, date: String(d.date) });
        break;
      case 'extension-agreed':
        out.push({
          event: 'extension-agreed',
          at: r.at,
          kind: String(d.kind),
          dueDate: String(d.dueDate),
          reason: String(d.reason),
          agreedWith: String(d.agreedWith),
          actor: r.actor,
        });
        break;
      case 'clock-stopped':
        out.push({
          event: 'clock-stopped',
          at: typeof d.at === 'string' ? d.at : r.at,
          ...(typeof d.kind === 'string' ? { kind: d.kind } : {}),
        });
        break;
      default:
        break;
    }
  }
  return out;
}
