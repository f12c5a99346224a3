/** Retention's request and answer schemas (issue 15): the legal hold, and the retention block of a case view. */
import { z } from 'zod';
import { ui } from '../shared/form-meta.js';

export const legalHoldBodySchema = z
  .strictObject({
    reason: ui(
      z
        .string()
        .trim()
        .min(3, 'give the reason (at least 3 characters)')
        .max(1000, 'at most 1000 characters')
        .describe('why the case must be kept, e.g. a complaint or a court case; sealed, shown to staff only'),
      {
        label: 'Begrundelse',
        help: 'Fx en klagesag eller en retssag. Vises kun for regionens medarbejdere.',
        input: 'textarea',
      },
    ),
  })
  .describe('A team lead places or lifts a legal hold: the reason is recorded (sealed) and the action audited');

export const retentionViewSchema = z
  .object({
    closedAt: z.string().nullable().describe('when the case was closed; null while open'),
    purgeAfter: z
      .string()
      .nullable()
      .describe(
        'from when the daily purge deletes its documents and personal data (closedAt + RETENTION_DAYS_AFTER_CLOSE); null while open or held',
      ),
    legalHold: z
      .object({
        reason: z.string().optional().describe('staff only'),
        placedBy: z.string().optional().describe('staff only'),
        placedAt: z.string(),
      })
      .nullable(),
    purgedAt: z
      .string()
      .nullable()
      .describe(
        'when its documents and personal data were deleted; receipts, digests and the audit log remain, the rest answers 410 case-purged',
      ),
  })
  .describe('issue 15, retention (GDPR art. 5(1)(e))');
