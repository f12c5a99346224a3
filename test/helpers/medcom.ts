/** MedCom test helpers: where MedCom's packages are, and the acknowledgement a GP system sends (src/medcom/acknowledgement.ts). */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export { acknowledgementOf } from '../../src/medcom/acknowledgement.js';

export const MEDCOM_DIR =
  process.env.MEDCOM_PACKAGES_DIR ?? resolve(fileURLToPath(new URL('../../..', import.meta.url)), 'shared', 'medcom');
