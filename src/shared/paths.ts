/**
 * Where the installed gateway lives, for files shipped with it (config/).
 * Works the same from the TypeScript sources (src/…, run through tsx) and
 * from the built bundle (dist/main.js): walk up from this module to the
 * directory that holds Postkasse's package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'postkasse') return dir;
      } catch {
        /* not ours; keep walking */
      }
    }
    if (dirname(dir) === dir) throw new Error(`cannot find Postkasse's package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A file shipped with the gateway, e.g. shippedFile('config', 'municipalities.json'). */
export function shippedFile(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
