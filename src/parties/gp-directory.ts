/**
 * The GP directory (`GP_DIRECTORY_FILE`): for each GP practice, by its
 * ydernummer, the clinic as MedCom addresses it (name, SOR id, EAN location
 * number) and how its messages travel:
 *
 * ```json
 * {"practices":[{"ydernummer":"057584","name":"Lægehuset","sor":"…","ean":"5790000…",
 *                "transport":{"kind":"party","partyId":"gp-057584"}},
 *               {"ydernummer":"012345","name":"…","sor":"…","ean":"…","transport":{"kind":"vans"}}]}
 * ```
 *
 * The directory, never a party's own claim, decides where a CPR-bearing copy
 * goes (§15 stk. 2): a made-up ydernummer in a manifest finds no practice,
 * and the copy waits as `no-recipient-system` for a team lead.
 *
 * Without a directory (development and tests with a parties file of their
 * own), the gp-system parties' `ydernumre` stand in: each such party is the
 * practice, reached as a party, with the `sor` and `ean` the parties file
 * gives it. Production refuses to start without a directory (config.ts).
 *
 * The file is validated with errors naming the practice and field (an EAN
 * with a wrong GS1 check digit included), and reloaded on SIGHUP; a bad file
 * is refused and the old directory stays.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { isGln } from '../shared/identifiers.js';
import type { GpSystemParty, Party } from './parties.js';

export interface GpPractice {
  ydernummer: string;
  name: string;
  sor: string;
  ean: string;
  transport: { kind: 'party'; partyId: string } | { kind: 'vans' };
}

const practiceSchema = z.strictObject({
  ydernummer: z.string().regex(/^\d{6}$/, 'must be a 6-digit ydernummer'),
  // at most 200 characters: the GP's copy is refused over MedCom's cap before the practice is known
  // (CARE_COMMUNICATION_OVERHEAD_BYTES, src/medcom/carecommunication.ts), which holds for any name this long
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  sor: z.string().regex(/^\d{6,18}$/, 'must be a SOR id (6–18 digits)'),
  ean: z.string().regex(/^\d{13}$/, 'must be a 13-digit EAN (GLN) location number'),
  transport: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('party'), partyId: z.string().min(1, 'must name a gp-system party') }),
    z.strictObject({ kind: z.literal('vans') }),
  ]),
  note: z.string().optional(),
});

const fileSchema = z.strictObject({ note: z.string().optional(), practices: z.array(z.unknown()) });

function pathOf(p: ReadonlyArray<PropertyKey>): string {
  return p.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
}

/**
 * Validates a directory (text or parsed JSON) against the parties it names:
 * a `party` transport must name a gp-system party. Throws listing every problem.
 */
export function parseGpDirectory(json: unknown, parties: { get(id: string): Party | undefined }): GpPractice[] {
  let raw = json;
  if (typeof json === 'string') {
    try {
      raw = JSON.parse(json);
    } catch (e) {
      throw new Error(`GP directory is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
  }
  const file = fileSchema.safeParse(raw);
  if (!file.success) throw new Error('GP directory must be an object with a "practices" array');
  const problems: string[] = [];
  const out: GpPractice[] = [];
  const seen = new Map<string, number>();
  file.data.practices.forEach((p, i) => {
    const r = practiceSchema.safeParse(p);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const field = pathOf(issue.path);
        const msg = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
        problems.push(`practices[${i}]${field}: ${msg}`);
      }
      return;
    }
    const prac = r.data;
    const where = `practices[${i}] (${prac.ydernummer})`;
    if (seen.has(prac.ydernummer)) problems.push(`${where}: ydernummer listed twice (also practices[${seen.get(prac.ydernummer)}])`);
    seen.set(prac.ydernummer, i);
    if (prac.transport.kind === 'party') {
      const party = parties.get(prac.transport.partyId);
      if (!party) problems.push(`${where}.transport.partyId: no party ${JSON.stringify(prac.transport.partyId)} in the parties file`);
      else if (party.kind !== 'gp-system') problems.push(`${where}.transport.partyId: ${party.id} is a ${party.kind}, not a gp-system`);
    }
    // The GS1 check digit here, not only when a VANSEnvelope is built: otherwise a mistyped EAN loads, and every copy
    // to the practice fails and is retried for 72 h before a team lead hears of it.
    if (!isGln(prac.ean)) {
      problems.push(
        `${where}.ean: ${prac.ean} is not a valid EAN (GLN) location number: its GS1 check digit is wrong ` +
          '(a mistyped digit? take the number from the SOR register)',
      );
    }
    out.push({ ydernummer: prac.ydernummer, name: prac.name, sor: prac.sor, ean: prac.ean, transport: prac.transport });
  });
  if (problems.length > 0) throw new Error(`GP directory is invalid:\n  ${problems.slice(0, 20).join('\n  ')}`);
  return out;
}

export interface GpDirectoryLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface GpDirectory {
  /** where the file is; undefined = the development fallback to the gp-system parties */
  readonly file: string | undefined;
  /** The practice with this ydernummer, or undefined (then nobody gets the copy). */
  practice(ydernummer: string): GpPractice | undefined;
  /** Re-reads the file; a bad file is refused and the current directory stays. */
  reload(): { ok: true } | { ok: false; error: string };
}

function fromParties(parties: { gpSystemFor(y: string): GpSystemParty | undefined }, ydernummer: string): GpPractice | undefined {
  const gp = parties.gpSystemFor(ydernummer);
  if (!gp) return undefined;
  // Without sor/ean in the parties file the Bundle cannot name the clinic; validation then marks the copy invalid.
  return { ydernummer, name: gp.name, sor: gp.sor ?? '', ean: gp.ean ?? '', transport: { kind: 'party', partyId: gp.id } };
}

export function createGpDirectory(
  file: string | undefined,
  parties: { get(id: string): Party | undefined; gpSystemFor(ydernummer: string): GpSystemParty | undefined },
  log: GpDirectoryLog,
): GpDirectory {
  const load = (f: string): Map<string, GpPractice> => {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw new Error(`cannot read GP directory ${f}: ${(e as Error).message}`, { cause: e });
    }
    try {
      return new Map(parseGpDirectory(text, parties).map((p) => [p.ydernummer, p]));
    } catch (e) {
      throw new Error(`${f}: ${(e as Error).message}`, { cause: e });
    }
  };
  let byYdernummer = file ? load(file) : undefined;
  if (file) log.info({ file, practices: byYdernummer!.size }, 'GP directory loaded');
  else
    log.warn(
      {},
      "no GP_DIRECTORY_FILE: GP copies go to the gp-system parties' own ydernumre (development fallback, refused in production)",
    );
  return {
    file,
    practice: (y) => (byYdernummer ? byYdernummer.get(y) : fromParties(parties, y)),
    reload() {
      if (!file) return { ok: true };
      try {
        byYdernummer = load(file);
        log.info({ file, practices: byYdernummer.size }, 'GP directory reloaded');
        return { ok: true };
      } catch (e) {
        const error = (e as Error).message;
        log.error({ file, error }, 'GP directory refused; the previous directory stays in force');
        return { ok: false, error };
      }
    },
  };
}
