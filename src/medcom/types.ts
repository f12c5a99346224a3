/** Shapes the MedCom feature shares with the responses and delivery features. */

import type { ValidationIssue } from './validator.js';

export type { ValidationIssue };

/** What the sealed parts of a MedCom message hold: the Bundle around the PDF, and what its envelope needs. */
export interface MedcomParts {
  head: string;
  tail: string;
  medcom: { senderEan: string; receiverEan: string; category: string; issues?: ValidationIssue[] };
}
