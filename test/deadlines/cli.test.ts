import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadlineCommand } from '../../src/cli/deadline.js';
import { computeClock } from '../../src/deadlines/engine.js';

// Tests run from the repository root (test/run.mjs sets cwd), so the default
// agreements file is config/agreements.json.

describe('cli: deadline command', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'deadline-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('§23 prints the clock exactly as a receipt carries it (API.md example)', async () => {
    const r = await deadlineCommand(['--service', 'clinical-assessment', '--received', '2026-12-18T09:41:07.123Z']);
    assert.equal(r.code, 0, r.stderr);
    const expected = computeClock({
      service: 'clinical-assessment',
      urgent: false,
      receivedAt: '2026-12-18T09:41:07.123Z',
      startedAt: '2026-12-18T09:41:07.123Z',
      agreement: null,
    }).clock;
    assert.equal(r.stdout, JSON.stringify(expected, null, 2));
    assert.deepEqual(JSON.parse(r.stdout).deadlines, [
      { kind: 'attest', rule: '§23', dueDate: '2027-01-18', dueAt: '2027-01-18T22:59:59.999Z', source: 'default' },
    ]);
    assert.equal(r.stderr, '');
  });

  test('§23 --consultation: warnings go to stderr, stdout stays pure JSON', async () => {
    const r = await deadlineCommand([
      '--service',
      'clinical-assessment',
      '--received',
      '2026-12-18T09:41:07.123Z',
      '--consultation',
      '2027-01-10',
    ]);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).deadlines[0].dueDate, '2027-01-18');
    assert.match(r.stderr, /warning: §23: the consultation on 2027-01-10 is booked so late/);
  });

  test('§23 --consultation early enough moves the attest deadline', async () => {
    const r = await deadlineCommand([
      '--service',
      'clinical-assessment',
      '--received',
      '2026-12-18T09:41:07.123Z',
      '--consultation',
      '2026-12-21',
    ]);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).deadlines[0].dueDate, '2027-01-04');
  });

  test('§21 stk. 3 --urgent --municipality 101 uses kbh-2026 from config/agreements.json, local date of a late-evening receipt', async () => {
    const r = await deadlineCommand([
      'deadline',
      '--service',
      'rehab-team-advice',
      '--received',
      '2026-12-31T23:30:00Z',
      '--municipality',
      '101',
      '--urgent',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const clock = JSON.parse(r.stdout);
    assert.equal(clock.startedAt, '2026-12-31T23:30:00.000Z');
    assert.deepEqual(
      clock.deadlines.map((d: { kind: string; dueDate: string; source: string }) => [d.kind, d.dueDate, d.source]),
      [
        ['coordinator-available', '2027-01-15', 'default'],
        ['urgent-target', '2027-01-04', 'agreement:kbh-2026'],
      ],
    );
  });

  test('§29 --party spe uses the senior-pension agreement', async () => {
    const r = await deadlineCommand([
      '--service',
      'senior-pension-advice',
      '--received',
      '2026-03-02T08:00:00Z',
      '--party',
      'spe',
      '--municipality',
      '101',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).deadlines[0], {
      kind: 'advice',
      rule: '§29',
      dueDate: '2026-03-12',
      dueAt: '2026-03-12T22:59:59.999Z',
      source: 'agreement:spe-region',
    });
  });

  test('S§4 outside any agreement: no-deadline-agreed, with an explanation on stderr', async () => {
    const r = await deadlineCommand([
      '--service',
      'resource-course-conversation',
      '--received',
      '2028-03-02T08:00:00Z',
      '--municipality',
      '101',
    ]);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { status: 'no-deadline-agreed', startedAt: '2028-03-02T08:00:00.000Z', deadlines: [] });
    assert.match(r.stderr, /no agreement in force for municipality 101 on 2028-03-02/);
  });

  test('§22 --agreements FILE is used instead of the default', async () => {
    const p = join(dir, 'a.json');
    writeFileSync(
      p,
      JSON.stringify({
        agreements: [
          { id: 'test-5', municipalityCode: '101', validFrom: '2026-01-01', validTo: null, deadlines: { 'ongoing-case-advice': 5 } },
        ],
      }),
    );
    const r = await deadlineCommand([
      '--service',
      'ongoing-case-advice',
      '--received',
      '2026-03-02T08:00:00Z',
      '--municipality',
      '101',
      '--agreements',
      p,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).deadlines[0].source, 'agreement:test-5');
    assert.equal(JSON.parse(r.stdout).deadlines[0].dueDate, '2026-03-09');
  });

  test('§20 an invalid agreements file: code 1, message names the agreement and field', async () => {
    const p = join(dir, 'bad.json');
    writeFileSync(
      p,
      JSON.stringify({
        agreements: [{ id: 'oops', municipalityCode: '101', validFrom: '2026-01-01', validTo: null, deadlines: { urgent: 0 } }],
      }),
    );
    const r = await deadlineCommand(['--service', 'ongoing-case-advice', '--received', '2026-03-02T08:00:00Z', '--agreements', p]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /"oops".*deadlines\.urgent/);
  });

  const usage: { name: string; args: string[]; message: RegExp }[] = [
    { name: 'no arguments', args: [], message: /--service is required/ },
    { name: 'missing --received', args: ['--service', 'ongoing-case-advice'], message: /--received is required/ },
    {
      name: 'unknown service',
      args: ['--service', 'advice', '--received', '2026-03-02T08:00:00Z'],
      message: /unknown service "advice"; use one of rehab-team-advice/,
    },
    {
      name: 'received without a zone',
      args: ['--service', 'ongoing-case-advice', '--received', '2026-03-02T08:00:00'],
      message: /--received must be an ISO 8601 instant with Z or an offset/,
    },
    { name: 'received is a date', args: ['--service', 'ongoing-case-advice', '--received', '2026-03-02'], message: /--received must be/ },
    {
      name: 'impossible consultation date',
      args: ['--service', 'clinical-assessment', '--received', '2026-03-02T08:00:00Z', '--consultation', '2026-02-30'],
      message: /--consultation must be a real date YYYY-MM-DD/,
    },
    {
      name: 'consultation on a service without one',
      args: ['--service', 'ongoing-case-advice', '--received', '2026-03-02T08:00:00Z', '--consultation', '2026-03-10'],
      message: /--consultation applies only to --service clinical-assessment/,
    },
    {
      name: 'bad municipality code',
      args: ['--service', 'ongoing-case-advice', '--received', '2026-03-02T08:00:00Z', '--municipality', '1O1'],
      message: /--municipality must be a 3-digit/,
    },
    {
      name: 'unknown option',
      args: ['--service', 'ongoing-case-advice', '--received', '2026-03-02T08:00:00Z', '--urgnet'],
      message: /urgnet/,
    },
    { name: 'option without a value', args: ['--service'], message: /--service/ },
    {
      name: 'stray argument',
      args: ['--service', 'ongoing-case-advice', '--received', '2026-03-02T08:00:00Z', 'extra'],
      message: /unexpected argument "extra"/,
    },
    {
      name: 'agreements file that does not exist',
      args: ['--service', 'ongoing-case-advice', '--received', '2026-03-02T08:00:00Z', '--agreements', '/nonexistent/agreements.json'],
      message: /agreements file .*nonexistent.* does not exist/,
    },
  ];
  for (const u of usage) {
    test(`cli (§21–§23): bad arguments, ${u.name} → code 2 with a helpful message`, async () => {
      const r = await deadlineCommand(u.args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, u.message);
      assert.match(r.stderr, /usage: deadline --service/);
    });
  }

  test('cli (§21–§23): --help prints usage on stdout with code 0', async () => {
    const r = await deadlineCommand(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: deadline --service SERVICE --received ISO-INSTANT/);
    assert.match(r.stdout, /senior-pension-assessment/);
  });
});
