/**
 * Every example request in the docs is exercised by a test, so a doc that
 * drifts from the code fails CI.
 *
 * Conventions (for whoever writes docs/*.md):
 *
 * - Every fenced code block whose info string is exactly `sh` is run; `sh no-run`
 *   and every other info string (json, text, http, …) are not.
 * - The `sh` blocks of one doc run in document order as ONE script in one
 *   `bash -euo pipefail` session (with `set -x` tracing), so variables and `cd`
 *   carry from block to block. A doc has DOC_TIMEOUT_MS for all its blocks.
 * - The working directory is a fresh temp dir laid out like a clone: symlinks to
 *   the repository's package.json, package-lock.json, node_modules, src, queues,
 *   tsconfig.json, config and examples. `npm run cli -- …` and `examples/…` work
 *   as written; receipts/ and messages/ land in the temp dir.
 * - Each doc gets its own fresh gateway (startTestGateway, embedded SQLite, the
 *   default development parties, a plain health port) and this environment:
 *     POSTKASSE_URL  https://127.0.0.1:<port>   (the CLI's default gateway URL)
 *     DATA_DIR       the gateway's data directory (dev PKI in $DATA_DIR/pki)
 *     HEALTH_URL     http://127.0.0.1:<health port>   (/healthz, /readyz, /metrics)
 *     MEDCOM_PACKAGES_DIR  where MedCom's FHIR packages are (for `medcom validate`)
 *   plus PATH (minus any entry inside a node_modules dir), HOME, USER, LOGNAME, TMPDIR,
 *   LANG=C.UTF-8, NO_COLOR=1 and npm_config_update_notifier/fund=false.
 *   Nothing else of the test process's environment leaks in.
 * - Setup per doc before its blocks run (DOC_SETUP below): for gp-systems.md the
 *   gateway already holds a specialist attest for examples/clinical-assessment.json
 *   (sent by kommune-101, routed, consultation booked today, attest posted), so
 *   kommune-101 and gp-057584 each have one message in their mailbox; and a second
 *   one for a citizen whose GP (012345) the development directory reaches through
 *   VANS, so $DATA_DIR/vans/outbox holds one envelope.
 *
 * Also: README.md and docs/*.md point nowhere into ../shared (partners only
 * have this repository), and every relative link in them names an existing file.
 *
 * DOCS_DIR (default docs/) points the harness at another directory, for trying
 * a doc or the harness itself; CI always uses docs/.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { postPackage } from '../helpers/packages.js';
import { postAttest, settled } from '../helpers/staff.js';
import { MEDCOM_DIR } from '../helpers/medcom.js';
import { waitFor } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DOCS_DIR = resolve(process.env.DOCS_DIR || join(REPO, 'docs'));
/** The docs partners and operators follow; each must exist and run at least one `sh` block. */
const REQUIRED_DOCS = ['municipalities.md', 'gp-systems.md', 'operations.md'];
/** What the temp working directory links to, so that it looks like a clone. */
const CLONE_ENTRIES = ['package.json', 'package-lock.json', 'node_modules', 'src', 'queues', 'tsconfig.json', 'config', 'examples'];
const DOC_TIMEOUT_MS = 120_000;
/** Keep at most this much of a doc's output for the failure report. */
const TRANSCRIPT_LIMIT = 256 * 1024;

// --- Markdown ---------------------------------------------------------------

interface CodeBlock {
  /** the info string, trimmed */
  info: string;
  /** 1-based line of the block's first content line */
  line: number;
  /** 1-based line of the closing fence (or the last line, when unclosed) */
  end: number;
  code: string;
}

/**
 * The fenced code blocks of a Markdown text (CommonMark fences: ``` or ~~~, at
 * least three, closed by a fence of the same character at least as long). A
 * fence may be indented (inside a list item); that indentation is removed from
 * the block's lines. An unclosed block runs to the end of the text.
 */
function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  let open: { fence: string; indent: number; info: string; start: number; body: string[] } | null = null;
  lines.forEach((text, i) => {
    if (!open) {
      const m = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(text);
      if (m && !(m[2]!.startsWith('`') && m[3]!.includes('`'))) {
        open = { fence: m[2]!, indent: m[1]!.length, info: m[3]!.trim(), start: i + 2, body: [] };
      }
      return;
    }
    const close = /^\s*(`{3,}|~{3,})\s*$/.exec(text);
    if (close && close[1]![0] === open.fence[0] && close[1]!.length >= open.fence.length) {
      blocks.push({ info: open.info, line: open.start, end: i + 1, code: open.body.join('\n') });
      open = null;
      return;
    }
    const lead = /^\s*/.exec(text)![0].length;
    open.body.push(text.slice(Math.min(lead, open.indent)));
  });
  if (open) {
    const o = open as { info: string; start: number; body: string[] };
    blocks.push({ info: o.info, line: o.start, end: lines.length, code: o.body.join('\n') });
  }
  return blocks;
}

/** The blocks that are run: info string exactly `sh`. */
const shellBlocks = (markdown: string) => codeBlocks(markdown).filter((b) => b.info === 'sh');

/** The text outside fenced code blocks and inline code spans (where links live). */
function prose(markdown: string): string[] {
  const inCode = new Set<number>();
  for (const b of codeBlocks(markdown)) for (let l = b.line - 1; l <= b.end; l++) inCode.add(l);
  return markdown.split(/\r?\n/).map((t, i) => (inCode.has(i + 1) ? '' : t.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, '')));
}

/** Relative link targets: inline `](target)` (images too) and reference definitions `[x]: target`, with their line. */
function relativeLinks(markdown: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  prose(markdown).forEach((text, i) => {
    const targets: string[] = [];
    for (const m of text.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) targets.push(m[1]!);
    const ref = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(text);
    if (ref) targets.push(ref[1]!);
    for (let t of targets) {
      if (t.startsWith('<') && t.endsWith('>')) t = t.slice(1, -1);
      if (t === '' || t.startsWith('#') || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(t)) continue; // anchors, http:, https:, mailto:, …
      out.push({ line: i + 1, target: t });
    }
  });
  return out;
}

// --- Running a doc -----------------------------------------------------------

interface DocRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** stdout and stderr (the set -x trace) interleaved as they arrived, trace lines naming doc lines */
  transcript: string;
  /** blocks whose start marker appeared in the trace */
  blocksStarted: number;
  finished: boolean;
}

const START_MARK = (n: number, total: number, where: string) => `--- block ${n}/${total} ${where}`;
const END_MARK = (total: number) => `--- all ${total} blocks ran`;

/** The doc's `sh` blocks as one bash script, and the doc line of each script line. */
function buildScript(docLabel: string, blocks: CodeBlock[]): { script: string; docLine: (scriptLine: number) => number | undefined } {
  const lines = [
    `# generated by test/docs/docs.test.ts from ${docLabel}`,
    // set -x lines show the script line; the report maps it back to the doc's line.
    "PS4='+ L${LINENO}: '",
    'set -x',
  ];
  const map = new Map<number, number>();
  blocks.forEach((b, i) => {
    lines.push(`: '${START_MARK(i + 1, blocks.length, `${docLabel}:${b.line}`)}'`);
    b.code.split('\n').forEach((text, k) => {
      lines.push(text);
      map.set(lines.length, b.line + k);
    });
  });
  lines.push(`: '${END_MARK(blocks.length)}'`);
  return { script: `${lines.join('\n')}\n`, docLine: (n) => map.get(n) };
}

function cleanPath(path: string | undefined): string {
  return (path ?? '/usr/local/bin:/usr/bin:/bin')
    .split(delimiter)
    .filter((p) => p && !p.split(/[\\/]/).includes('node_modules'))
    .join(delimiter);
}

function docEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: cleanPath(process.env.PATH),
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    ...vars,
  };
  for (const k of ['HOME', 'USER', 'LOGNAME', 'TMPDIR']) if (process.env[k]) env[k] = process.env[k];
  return env;
}

function runDoc(docLabel: string, blocks: CodeBlock[], cwd: string, env: NodeJS.ProcessEnv): Promise<DocRun> {
  const { script, docLine } = buildScript(docLabel, blocks);
  const scriptFile = join(cwd, '.doc-script.sh');
  writeFileSync(scriptFile, script);
  return new Promise((resolveRun) => {
    const child = spawn('bash', ['-euo', 'pipefail', scriptFile], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let dropped = 0;
    const take = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.length > TRANSCRIPT_LIMIT * 2) {
        dropped += out.length - TRANSCRIPT_LIMIT;
        out = out.slice(-TRANSCRIPT_LIMIT);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // The doc's process group: a doc's leftover (e.g. a background job) goes with it.
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, DOC_TIMEOUT_MS);
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      const transcript =
        (dropped ? `[… ${dropped} characters of output left out …]\n` : '') +
        out.replace(/^(\++) L(\d+): /gm, (_all, plus: string, n: string) => {
          const l = docLine(Number(n));
          return l === undefined ? `${plus} ` : `${plus} ${docLabel}:${l}: `;
        });
      const starts = new Set([...transcript.matchAll(/--- block (\d+)\//g)].map((m) => m[1]));
      resolveRun({
        code,
        signal,
        timedOut,
        transcript,
        blocksStarted: starts.size,
        finished: transcript.includes(END_MARK(blocks.length)),
      });
    };
    child.on('exit', (code, signal) => {
      killGroup();
      // Normally the output ends with the process group; a process that left the group may hold it open.
      setTimeout(() => finish(code, signal), 2_000).unref();
    });
    child.on('close', (code, signal) => {
      killGroup();
      finish(code, signal);
    });
  });
}

/** A temp dir laid out like a clone of the repository (symlinks). */
function cloneDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pk-doc-cwd-'));
  for (const e of CLONE_ENTRIES) {
    assert.ok(existsSync(join(REPO, e)), `${e} exists in the repository`);
    symlinkSync(join(REPO, e), join(dir, e));
  }
  return dir;
}

// --- Per-doc setup -------------------------------------------------------------

/**
 * gp-systems.md: kommune-101 sends examples/clinical-assessment.json, the case is
 * routed to a specialist, who books today's consultation and posts a specialist
 * attest: kommune-101 gets the attest, gp-057584 (the citizen's GP) a copy.
 */
async function attestForGp(g: TestGateway): Promise<void> {
  const manifestText = readFileSync(join(REPO, 'examples', 'clinical-assessment.json'), 'utf8');
  const manifest = JSON.parse(manifestText) as { packageId: string; citizen: { cpr: string }; gp: { ydernummer: string } };
  const pdf = readFileSync(join(REPO, 'examples', 'sample.pdf'));
  // The example as it is (GP 057584, a gp-system party), then another citizen whose GP the directory reaches through VANS.
  const vans = {
    ...manifest,
    packageId: `${manifest.packageId}-vans`,
    citizen: { ...manifest.citizen, cpr: '0303781234' },
    gp: { ...manifest.gp, ydernummer: '012345' },
  };
  for (const [text, expected] of [
    [manifestText, ['gp-057584', 'kommune-101']],
    [JSON.stringify(vans), ['kommune-101', null]],
  ] as const) {
    const { documents } = JSON.parse(text) as { documents: { part: string; mediaType: string }[] };
    const files = documents.map((d) => ({ name: d.part, body: pdf, contentType: d.mediaType, filename: 'sample.pdf' }));
    const sent = await postPackage(g, 'kommune-101', null, files, { rawManifest: text });
    assert.equal(sent.status, 201, `setup: ${sent.text}`);
    const { caseId } = JSON.parse(sent.text) as { caseId: string };
    const row = await settled(g, caseId);
    assert.ok(row.assigned_to, `setup: case ${caseId} is assigned (state ${row.state})`);
    const { messages } = await postAttest(g, row.assigned_to, caseId, pdf);
    assert.deepEqual(messages.map((m) => m.to).sort(), [...expected].sort(), 'setup: the attest and the GP copy');
    const copy = messages.find((m) => m.copy)!;
    await waitFor('setup: the GP copy handed over', async () => {
      const m = await g.gw.db.db.selectFrom('messages').select(['state']).where('id', '=', copy.messageId).executeTakeFirstOrThrow();
      return m.state === 'sent';
    });
  }
}

const DOC_SETUP: Record<string, (g: TestGateway) => Promise<void>> = {
  'gp-systems.md': attestForGp,
};

// --- Tests ---------------------------------------------------------------------

const docFiles = () => (existsSync(DOCS_DIR) ? readdirSync(DOCS_DIR).filter((f) => f.endsWith('.md')) : []).sort();
const docsToRun = () => [...new Set([...REQUIRED_DOCS, ...docFiles()])];
const label = (file: string) => (DOCS_DIR === join(REPO, 'docs') ? `docs/${file}` : join(DOCS_DIR, file));

describe('the docs', () => {
  const gateways: TestGateway[] = [];
  const dirs: string[] = [];
  /** A dev PKI made once and copied into every later doc's data dir (saves ~3 s of key generation per doc). */
  let pkiTemplate: string | undefined;

  after(async () => {
    for (const g of gateways) await g.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('the Markdown parser: only `sh` blocks run, nested and indented fences are read as CommonMark does', () => {
    const md = [
      '# t',
      '```sh',
      'echo one',
      '```',
      '```sh no-run',
      'npm start',
      '```',
      '````markdown',
      '```sh',
      'echo nested',
      '```',
      '````',
      '- item',
      '  ```sh',
      '  echo indented',
      '  ```',
      '~~~ sh ',
      'echo tilde',
      '~~~',
      '```json',
      '{}',
      '```',
      'see [a](a.md "t"), ![i](img/x.png), [w](https://x.dk/y), [s](#sec), `[c](code.md)`, [m](mailto:a@b.dk)',
      '[ref]: <ref dir/r.md>',
    ].join('\n');
    assert.deepEqual(
      shellBlocks(md).map((b) => [b.line, b.code]),
      [
        [3, 'echo one'],
        [15, 'echo indented'],
        [18, 'echo tilde'],
      ],
    );
    assert.deepEqual(
      relativeLinks(md).map((l) => l.target),
      ['a.md', 'img/x.png', 'ref dir/r.md'],
    );
  });

  test('README.md and the docs point nowhere into ../shared, and every relative link names an existing file', () => {
    const files = [join(REPO, 'README.md'), ...docFiles().map((f) => join(DOCS_DIR, f))];
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const where = file.startsWith(REPO) ? file.slice(REPO.length) : file;
      text.split(/\r?\n/).forEach((l, i) => {
        if (/\.\.[\\/]+shared\b/.test(l))
          problems.push(`${where}:${i + 1}: points into ../shared, which partners do not have: ${l.trim()}`);
      });
      for (const { line, target } of relativeLinks(text)) {
        let path = target.replace(/[?#].*$/, '');
        try {
          path = decodeURIComponent(path);
        } catch {
          /* keep it as written */
        }
        if (path === '') continue;
        if (!existsSync(resolve(dirname(file), path))) problems.push(`${where}:${line}: link to ${target}: no such file`);
      }
    }
    assert.deepEqual(problems, []);
  });

  for (const file of docsToRun()) {
    const required = REQUIRED_DOCS.includes(file);
    test(
      `${label(file)}: every \`sh\` block runs against a real gateway (bash -euo pipefail, one session)`,
      { timeout: DOC_TIMEOUT_MS + 60_000 },
      async (t) => {
        const path = join(DOCS_DIR, file);
        assert.ok(existsSync(path), `${label(file)} exists`);
        const blocks = shellBlocks(readFileSync(path, 'utf8'));
        if (!required && blocks.length === 0) return t.skip('no `sh` blocks');
        assert.ok(blocks.length > 0, `${label(file)} has at least one \`sh\` block to run`);

        const dataDir = mkdtempSync(join(tmpdir(), 'pk-doc-data-'));
        dirs.push(dataDir);
        if (pkiTemplate) cpSync(pkiTemplate, join(dataDir, 'pki'), { recursive: true });
        // The VANS inbox is read every 0.5 s instead of 10 s: gp-systems.md waits for an acknowledgement to be picked up.
        const g = await startTestGateway({
          dialect: 'sqlite',
          dataDir,
          devIdp: true,
          env: { HEALTH_PORT: '0', VANS_INBOX_POLL_MS: '500' },
        });
        gateways.push(g);
        pkiTemplate ??= join(dataDir, 'pki');
        const cwd = cloneDir();
        dirs.push(cwd);
        try {
          await DOC_SETUP[file]?.(g);
          const env = docEnv({
            POSTKASSE_URL: g.url,
            DATA_DIR: g.dataDir,
            HEALTH_URL: `http://127.0.0.1:${g.gw.healthPort}`,
            MEDCOM_PACKAGES_DIR: MEDCOM_DIR,
          });
          const started = Date.now();
          const run = await runDoc(label(file), blocks, cwd, env);
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          t.diagnostic(`${label(file)}: ${blocks.length} block(s), ${run.blocksStarted} started, ${seconds} s`);
          const outcome = run.timedOut
            ? `timed out after ${DOC_TIMEOUT_MS / 1000} s`
            : run.signal
              ? `killed by ${run.signal}`
              : `exit code ${run.code}`;
          const report =
            `${label(file)}: ${outcome} in block ${run.blocksStarted}/${blocks.length} after ${seconds} s\n` +
            `--- output (set -x trace, lines named by the doc) ---\n${run.transcript}`;
          assert.equal(run.code, 0, report);
          assert.ok(run.blocksStarted >= 1 && run.finished, report);
          assert.equal(run.blocksStarted, blocks.length, report);
        } finally {
          await g.close();
        }
      },
    );
  }
});
