// The data commands (get, scan, dump, load, compact, stats), in-process through runCli with
// fake streams, and once through the built executable with a real pipe: output, encodings,
// truncation on a terminal, progress on a TTY only, and each failure's exit status.
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../../lib/cli/run-cli.js';
import type { CliContext } from '../../lib/cli/command.js';
import { defaultFileSystem } from '../../lib/fs/index.js';
import { Keyspace } from '../../lib/index.js';
import { scratchDir } from '../helpers/scratch.js';
import { CLI } from './cli-helpers.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  stderrWrites: string[];
}

async function cairn(args: string[], options: { tty?: boolean; stdin?: string } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    stdout: { write: (s: string) => out.push(s), isTTY: options.tty === true },
    stdin: (async function* () {
      if (options.stdin !== undefined) yield Buffer.from(options.stdin);
    })(),
    stderr: { write: (s: string) => err.push(s), isTTY: options.tty === true, columns: 120 },
    signal: new AbortController().signal,
    fileSystem: defaultFileSystem,
  };
  const code = await runCli(args, ctx, '0.0.0');
  return { code, stdout: out.join(''), stderr: err.join(''), stderrWrites: err };
}

const root = await scratchDir(t, 'cli-data');
const dir = join(root, 'ks');
const long = 'L'.repeat(200);
t.before(async () => {
  const ks = await Keyspace.open(dir);
  const users = await ks.partition('users');
  for (let i = 0; i < 30; i++) await users.put(`u${String(i).padStart(2, '0')}`, `name-${i}`);
  await users.put('long', long);
  await users.put(Buffer.from([0xff, 0x00]), Buffer.from([1, 2, 3]));
  await (await ks.partition('empty')).put('gone', 'x');
  await (await ks.partition('empty')).delete('gone');
  await ks.close();
});

t.test('get: a value, --encoding hex, --json, a missing key or partition', async (t) => {
  t.same(await cairn(['get', dir, 'users', 'u07']), { code: 0, stdout: 'name-7\n', stderr: '', stderrWrites: [] });
  t.equal((await cairn(['get', dir, 'users', 'ff00', '--encoding', 'hex'])).stdout, '010203\n');
  t.same(JSON.parse((await cairn(['get', dir, 'users', 'u01', '--json'])).stdout), { key: 'u01', value: 'name-1' });
  const missing = await cairn(['get', dir, 'users', 'nope']);
  t.equal(missing.code, 8);
  t.match(missing.stderr, /No key 'nope' .*\(CAIRN_NOT_FOUND\)/);
  const noPartition = await cairn(['get', dir, 'nobody', 'k']);
  t.equal(noPartition.code, 8);
  t.match(noPartition.stderr, /No partition 'nobody'/);
  const again = await Keyspace.open(dir);
  t.same(again.partitionNames(), ['empty', 'users'], 'the unknown partition was not created');
  await again.close();
});

t.test('long values are cut on a terminal unless --full; never in a pipe or JSON', async (t) => {
  const tty = await cairn(['get', dir, 'users', 'long'], { tty: true });
  t.equal(tty.stdout, `${'L'.repeat(64)}… (200 chars)\n`);
  t.equal((await cairn(['get', dir, 'users', 'long', '--full'], { tty: true })).stdout, `${long}\n`);
  t.equal((await cairn(['get', dir, 'users', 'long'])).stdout, `${long}\n`);
  t.match((await cairn(['scan', dir, 'users', '--gte', 'long', '--lte', 'long'], { tty: true })).stdout, /^long => L{64}… \(200 chars\)\n$/);
  t.match((await cairn(['dump', dir, '--partition', 'users'], { tty: true })).stdout, /"value":"L{64}… \(200 chars\)"/);
  t.equal((await cairn(['inspect', dir, '--full'], { tty: true })).code, 0, 'inspect takes --full');
});

t.test('scan: bounds, limit, reverse, keys only, JSON lines', async (t) => {
  t.equal((await cairn(['scan', dir, 'users', '--gte', 'u10', '--lt', 'u13'])).stdout, 'u10 => name-10\nu11 => name-11\nu12 => name-12\n');
  t.equal((await cairn(['scan', dir, 'users', '--gt', 'u10', '--limit', '2', '--keys-only'])).stdout, 'u11\nu12\n');
  t.equal((await cairn(['scan', dir, 'users', '--reverse', '--limit', '1', '--encoding', 'hex', '--keys-only'])).stdout, 'ff00\n');
  const lines = (await cairn(['scan', dir, 'users', '--lte', 'u01', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines, [{ key: 'long', value: long }, { key: 'u00', value: 'name-0' }, { key: 'u01', value: 'name-1' }]);
  t.equal((await cairn(['scan', dir, 'users', '--gt', 'a', '--gte', 'b'])).code, 2);
  t.equal((await cairn(['scan', dir, 'users', '--limit', 'x'])).code, 2);
  t.equal((await cairn(['scan', dir, 'users', '--gte', 'zz', '--encoding', 'hex'])).code, 2, 'a bound that is not hex');
  t.equal((await cairn(['scan', dir, 'users', '--encoding', 'latin9'])).code, 2, 'an unknown encoding');
});

t.test('dump | load copies partitions; bad input writes nothing', async (t) => {
  const dump = await cairn(['dump', dir, '--encoding', 'base64']);
  t.equal(dump.code, 0);
  const records = dump.stdout.trim().split('\n').map((l) => JSON.parse(l) as { partition: string; key: string; value: string });
  t.equal(records.length, 32, 'every live entry, the deleted one not');
  t.ok(records.every((r) => r.partition === 'users'));
  const target = join(root, 'copy');
  await (await Keyspace.open(target)).close();
  const load = await cairn(['load', target, 'users2', '--encoding', 'base64', '--json'], { stdin: dump.stdout });
  t.same(JSON.parse(load.stdout), { partition: 'users2', entries: 32 });
  const redump = await cairn(['dump', target, '--encoding', 'base64']);
  t.same(
    redump.stdout.trim().split('\n').map((l) => JSON.parse(l).value),
    records.map((r) => r.value),
    'the copy holds the same values',
  );
  for (const [input, why] of [
    ['{"key":"61","value":"62"}\nnot json\n', 'not JSON'],
    ['{"key":"a"}\n', 'needs "key" and "value"'],
    ['{"key":"zz","value":"00"}\n', 'not hex'],
  ]) {
    const bad = await cairn(['load', target, 'bad', '--encoding', 'hex'], { stdin: input });
    t.equal(bad.code, 10, why);
    t.match(bad.stderr, new RegExp(`line \\d+: .*${why.replace(/"/g, '"')}.*\\(CAIRN_BAD_INPUT\\)`));
  }
  const check = await Keyspace.open(target);
  t.same(check.partitionNames(), ['users2'], 'nothing of a bad load was written');
  await check.close();
});

t.test('compact and stats', async (t) => {
  const stats = JSON.parse((await cairn(['stats', dir, '--json'])).stdout);
  t.ok(stats.partitions.users.memtables.bytes > 0, 'the journal was replayed into memtables');
  t.match((await cairn(['stats', dir])).stdout, /^seqno \d+\npartitions \(2\)\n {2}empty /);
  const compact = JSON.parse((await cairn(['compact', dir, '--json'])).stdout);
  t.same(compact.partitions, ['empty', 'users']);
  t.ok(compact.bytesAfter > 0);
  const after = JSON.parse((await cairn(['stats', dir, '--json'])).stdout);
  t.equal(after.partitions.users.levels[0].segments, 0);
  t.equal(after.partitions.users.segments, 1, 'all in one bottom-level segment');
  t.equal(after.partitions.empty.segments, 0, 'the deleted key left nothing behind');
  t.equal((await cairn(['compact', dir, '--partition', 'nobody'])).code, 8);
});

t.test('progress bars on a TTY stderr only', async (t) => {
  const tty = await cairn(['compact', dir], { tty: true });
  t.ok(tty.stderrWrites.some((s) => /^\[[#-]{24}\] \d+% \d+\/2 partitions/.test(s)), 'compact drew a bar');
  t.equal(tty.stderrWrites.at(-1), '\u001b[2K', 'and erased it');
  const piped = await cairn(['compact', dir]);
  t.equal(piped.stderr, '');
  const load = await cairn(['load', dir, 'users', '--json'], { tty: true, stdin: '{"key":"a","value":"b"}\n' });
  t.ok(load.stderrWrites.some((s) => /1\/1 entries/.test(s)), 'load drew a bar');
});

t.test('a keyspace open elsewhere, a missing one, not a keyspace', async (t) => {
  const ks = await Keyspace.open(dir);
  for (const args of [['get', dir, 'users', 'u01'], ['scan', dir, 'users'], ['dump', dir], ['load', dir, 'users'], ['compact', dir], ['stats', dir]]) {
    const run = await cairn(args, { stdin: '' });
    t.equal(run.code, 3, `${args[0]} while open`);
    t.match(run.stderr, /CAIRN_LOCKED/);
  }
  await ks.close();
  t.equal((await cairn(['stats', join(root, 'missing')])).code, 4);
  t.equal((await cairn(['dump', root])).code, 4, 'a directory that is not a keyspace');
});

t.test('through the executable: load reads a real pipe, exit statuses reach the shell', async (t) => {
  const target = join(root, 'piped');
  await (await Keyspace.open(target)).close();
  const run = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, 'load', target, 'p'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout }));
    child.stdin.end('{"key":"x","value":"1"}\n{"key":"y","value":"2"}\n');
  });
  t.same(run, { code: 0, stdout: 'loaded 2 entries into p\n' });
  const get = await new Promise<number | null>((resolve) => spawn(process.execPath, [CLI, 'get', target, 'p', 'z'], { stdio: 'ignore' }).on('exit', resolve));
  t.equal(get, 8);
});
