/**
 * Summarises a V8 .cpuprofile (from `npm run bench -- --profile DIR`):
 * self time by module (file, or npm package) and by function, and inclusive
 * ("total") time by function, so it is clear where the gateway spends its
 * main-thread time.
 *
 *   node --import tsx bench/profile-summary.ts DIR/intake-round1.cpuprofile [--top N]
 *   node --import tsx bench/profile-summary.ts DIR/intake-round1.cpuprofile --callers writev
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function moduleOf(url: string): string {
  if (!url) return '(native / V8)';
  const path = url.startsWith('file://') ? fileURLToPath(url.split('?')[0]!) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith(ROOT)) return path.slice(ROOT.length);
  return path;
}

function fnKey(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  return f.url ? `${name}  ${moduleOf(f.url)}:${f.lineNumber + 1}` : name;
}

export function summarise(p: Profile, top = 25): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt);
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const idleUs = p.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (self.get(n.id) ?? 0), 0);
  const busyUs = totalUs - idleUs;

  const selfByModule = new Map<string, number>();
  const selfByFn = new Map<string, number>();
  for (const n of p.nodes) {
    const t = self.get(n.id) ?? 0;
    if (!t || n.callFrame.functionName === '(idle)') continue;
    const m = n.callFrame.functionName === '(garbage collector)' ? '(garbage collector)' : moduleOf(n.callFrame.url);
    selfByModule.set(m, (selfByModule.get(m) ?? 0) + t);
    const k = fnKey(n.callFrame);
    selfByFn.set(k, (selfByFn.get(k) ?? 0) + t);
  }

  // Inclusive time per function (recursion counted once per stack).
  const inclusive = new Map<string, number>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  for (const [id, t] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur)!;
      if (node.callFrame.functionName === '(root)' || node.callFrame.functionName === '(idle)') continue;
      const k = fnKey(node.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }

  const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `${ms(v)} ms ${pct(v)}  ${k}`)
      .join('\n');
  return [
    `profile: ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s wall, ` +
      `main thread busy ${(busyUs / 1e6).toFixed(1)} s, idle ${(idleUs / 1e6).toFixed(1)} s (percentages are of busy time)`,
    '',
    'self time by module:',
    list(selfByModule),
    '',
    'self time by function:',
    list(selfByFn),
    '',
    'inclusive time by function:',
    list(inclusive),
  ].join('\n');
}

/** The heaviest call stacks (by self time) that end in a function whose name matches `name`. */
export function callers(p: Profile, name: string, top = 10, depth = 12): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const stacks = new Map<string, number>();
  let total = 0;
  for (const [id, t] of self) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName !== name) continue;
    total += t;
    const frames: string[] = [];
    for (let cur = parent.get(id); cur !== undefined && frames.length < depth; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.functionName === '(root)') break;
      frames.push(fnKey(f));
    }
    const k = frames.join('\n      ← ');
    stacks.set(k, (stacks.get(k) ?? 0) + t);
  }
  return [
    `${name}: ${(total / 1000).toFixed(0)} ms self in total; heaviest callers:`,
    ...[...stacks.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `${(v / 1000).toFixed(0).padStart(7)} ms  ${name}\n      ← ${k}`),
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const file = args.find((a, i) => !a.startsWith('--') && !['--top', '--callers'].includes(args[i - 1] ?? ''));
  const opt = (flag: string) => (args.indexOf(flag) >= 0 ? args[args.indexOf(flag) + 1] : undefined);
  const top = Number(opt('--top') ?? 25);
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top N] [--callers FUNCTION]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const fn = opt('--callers');
  process.stdout.write((fn ? callers(profile, fn, Math.min(top, 10)) : summarise(profile, top)) + '\n');
}
