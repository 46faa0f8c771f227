// The CLI's surface: help and version, usage errors (exit 2, one `cairn: … (code)` line
// on stderr), the exit status table in --help and in docs/cli.md, and the mapping from
// errors to statuses.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { CairnError, ErrorCodes } from '../../lib/errors.js';
import { EXIT_CODE_TABLE, ExitCode, UsageError, exitCodeFor } from '../../lib/cli/exit-codes.js';
import { COMMANDS } from '../../lib/cli/command-table.js';
import { runCairn } from './cli-helpers.js';

const ERROR_LINE = /^cairn: [^\n]+ \(CAIRN_USAGE\)\n$/;

t.test('--help lists the commands and every exit status', async (t) => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const run = await runCairn(args);
    t.equal(run.code, ExitCode.OK);
    t.equal(run.stderr, '');
    const lines = run.stdout.split('\n');
    for (const c of COMMANDS) t.ok(lines.some((l) => l.startsWith(`  ${c.name} `) && l.endsWith(`  ${c.summary}`)), `${args[0]} lists ${c.name}`);
    for (const [code, meaning] of EXIT_CODE_TABLE) t.match(run.stdout, `${String(code).padStart(3)}  ${meaning}`);
  }
});

t.test('help for one command, three ways', async (t) => {
  for (const args of [['help', 'snapshot'], ['snapshot', '--help'], ['snapshot', 'a', '-h']]) {
    const run = await runCairn(args);
    t.equal(run.code, ExitCode.OK, args.join(' '));
    t.match(run.stdout, /^Usage: cairn snapshot <keyspace-dir> <dest> \[--json\]\n/);
    t.match(run.stdout, /Exit status:/);
  }
  const inspect = await runCairn(['help', 'inspect']);
  t.match(inspect.stdout, /^Usage: cairn inspect <dir> \[--full\] \[--json\]\n/);
  t.match(inspect.stdout, /modifies nothing/);
});

t.test('--version prints the package version', async (t) => {
  const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const run = await runCairn([flag]);
    t.equal(run.code, ExitCode.OK);
    t.equal(run.stdout, `${version}\n`);
  }
});

t.test('usage errors exit 2 with one line on stderr', async (t) => {
  const cases: string[][] = [
    ['frobnicate'],
    ['snapshot'],
    ['snapshot', 'only-one'],
    ['snapshot', 'a', 'b', 'c'],
    ['snapshot', 'a', 'b', '--bogus'],
    ['inspect', '--json=yes', 'x'],
    ['help', 'frobnicate'],
  ];
  for (const args of cases) {
    const run = await runCairn(args);
    t.equal(run.code, ExitCode.USAGE, args.join(' '));
    t.match(run.stderr, ERROR_LINE, args.join(' '));
    t.equal(run.stdout, '');
  }
  const bare = await runCairn([]);
  t.equal(bare.code, ExitCode.USAGE, 'no command at all');
  t.match(bare.stderr, /^Usage: cairn <command>/, 'the overview goes to stderr');
  t.equal(bare.stdout, '');
});

t.test('errors map to their documented statuses', async (t) => {
  const system = (code: string) => Object.assign(new Error(code), { code, syscall: 'open' });
  t.equal(exitCodeFor(new UsageError('x')), 2);
  t.equal(exitCodeFor(new CairnError(ErrorCodes.LOCKED, 'x')), 3);
  t.equal(exitCodeFor(new CairnError(ErrorCodes.NOT_A_KEYSPACE, 'x')), 4);
  t.equal(exitCodeFor(new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, 'x')), 4);
  t.equal(exitCodeFor(system('EEXIST')), 5);
  t.equal(exitCodeFor(new CairnError(ErrorCodes.CORRUPTION, 'x')), 6);
  for (const code of ['ENOSPC', 'EIO', 'EXDEV', 'EACCES', 'ENOENT']) t.equal(exitCodeFor(system(code)), 7, code);
  t.equal(exitCodeFor(new CairnError(ErrorCodes.ABORTED, 'x')), 130);
  t.equal(exitCodeFor(new TypeError('bug')), 1);
  t.equal(exitCodeFor(new CairnError(ErrorCodes.POISONED, 'x')), 1);
  t.equal(exitCodeFor('thrown string'), 1);
});

t.test('docs/cli.md documents the same exit statuses', async (t) => {
  const doc = await readFile(new URL('../../docs/cli.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| *(\d+) *\| *([^|]+?) *\|$/gm)].map((m) => Number(m[1]));
  t.same(rows, EXIT_CODE_TABLE.map(([code]) => code));
});
