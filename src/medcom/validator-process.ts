/**
 * The MedCom validator in a process of its own (started by
 * src/medcom/validator-client.ts). Loading Medplum, the FHIR R4 base
 * definitions and MedCom's profiles costs ~1 s and ~90 MB, and validating a
 * Bundle 5–25 ms of CPU: here neither weighs on the gateway's event loop or
 * its memory (a 1 GiB upload's peak RSS), and a fault in a validation library
 * cannot take the gateway down.
 *
 * Protocol (IPC messages): the process answers `{ ready: true }` once the
 * packages in argv[2] are loaded, or `{ failed: message }` and exits; then
 * each `{ id, resource }` is answered `{ id, issues }`. It exits when the
 * gateway disconnects.
 */
import { loadMedcomPackages } from './packages.js';
import { createMedcomValidator } from './validator.js';

interface ValidateRequest {
  id: number;
  resource: unknown;
}

const send = (m: unknown): Promise<void> => new Promise((resolve) => process.send!(m, () => resolve()));

try {
  const validator = createMedcomValidator(await loadMedcomPackages(process.argv[2] ?? ''));
  process.on('message', (m: ValidateRequest) => {
    void send({ id: m.id, issues: validator.validate(m.resource) });
  });
  process.on('disconnect', () => process.exit(0));
  await send({ ready: true });
} catch (err) {
  await send({ failed: (err as Error).message });
  process.exit(1);
}
