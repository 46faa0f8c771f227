// The backup commands of the `cairn` CLI, run as child processes over dist/cli/main.js
// (build first: npx tsc -p tsconfig.build.json): backup (exit 3 while the keyspace is
// open, 4 for a non-keyspace, 9 for another keyspace's store), list, info (8 for an
// unknown id), verify (6 for damage), restore (5 for a non-empty target) and prune.
import t from 'tap';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode } from '../../lib/cli/exit-codes.js';
import { Keyspace } from '../../lib/index.js';
import { extFor, objectKey } from '../../lib/backup/store-layout.js';
import { runCairn } from '../cli/cli-helpers.js';
import { buildKeyspace, readKeyspace } from '../helpers/keyspace-content.js';
import { scratchDir, tempNames } from './backup-helpers.js';

const dir = await scratchDir(t, 'cli');
const ks = join(dir, 'ks');
const storeRoot = join(dir, 'store');
const store = `file://${storeRoot}`;
const expected = await buildKeyspace(ks);

async function json<T>(args: string[]): Promise<T> {
  const run = await runCairn([...args, '--json']);
  if (run.code !== 0) throw new Error(`cairn ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

interface BackupJson {
  id: string;
  seqno: number;
  files: number;
  filesUploaded: number;
  bytesUploaded: number;
  bytesTotal: number;
  bytesStored: number;
}

t.test('backup, list, info, verify, restore and prune end to end', async (t) => {
  const first = await json<BackupJson>(['backup', ks, store, '--label', 'first']);
  t.ok(first.files > 0 && first.bytesUploaded === first.bytesStored);
  const text = await runCairn(['backup', ks, storeRoot]);
  t.equal(text.code, ExitCode.OK, text.stderr);
  t.match(text.stdout, /^backup \d{8}T\d{6}Z-[0-9a-f]{8}: seqno \d+/);
  t.equal(text.stderr, '', 'no progress bar when stderr is not a TTY');

  const listed = await json<{ id: string; label?: string }[]>(['list', store]);
  t.equal(listed.length, 2);
  t.equal(listed[0].id, first.id, 'oldest first');
  t.equal(listed[0].label, 'first');
  const listText = await runCairn(['list', store]);
  t.match(listText.stdout, first.id);

  const info = await json<{ id: string; files: { path: string }[] }>(['info', store, 'latest']);
  t.equal(info.id, listed[1].id);
  t.ok(info.files.some((f) => f.path === 'keyspace.json'));
  t.equal((await runCairn(['info', store, '20000101T000000Z-00000000'])).code, ExitCode.NOT_FOUND);
  t.equal((await runCairn(['info', store, 'yesterday'])).code, ExitCode.USAGE);

  t.equal((await runCairn(['verify', store, first.id, '--full'])).code, ExitCode.OK);
  const restored = join(dir, 'restored');
  const restore = await json<{ path: string; seqno: number }>(['restore', store, first.id, restored]);
  t.equal(restore.path, restored);
  t.equal(restore.seqno, first.seqno);
  t.same(await readKeyspace(restored), expected, 'the restored keyspace holds the data');
  t.equal((await runCairn(['restore', store, 'latest', restored])).code, ExitCode.DESTINATION_EXISTS, 'a non-empty target exits 5');

  const dry = await json<{ deleted: string[]; dryRun: boolean }>(['prune', store, '--keep-last', '1', '--grace', '0s', '--dry-run']);
  t.same(dry.deleted, [first.id]);
  t.equal((await json<unknown[]>(['list', store])).length, 2, 'the dry run deleted nothing');
  const pruned = await json<{ deleted: string[]; kept: string[] }>(['prune', store, '--keep-last', '1', '--grace', '0s']);
  t.same(pruned.deleted, [first.id]);
  t.same((await json<{ id: string }[]>(['list', store])).map((b) => b.id), pruned.kept);
  t.equal((await runCairn(['prune', store, '--max-age', 'forever'])).code, ExitCode.USAGE);
  t.equal((await runCairn(['verify', store, 'latest', '--full'])).code, ExitCode.OK, 'the kept backup still verifies');
});

t.test('verify and restore of a damaged backup exit 6; restore leaves nothing', async (t) => {
  const backup = await json<BackupJson>(['backup', ks, store]);
  const manifest = await json<{ files: { path: string; sha256: string; size: number }[] }>(['info', store, backup.id]);
  const victim = manifest.files.find((f) => f.path.endsWith('.sst'))!;
  const key = objectKey(victim.sha256, extFor(victim.path));
  const file = join(storeRoot, ...key.split('/'));
  const original = await readFile(file);
  const damaged = Buffer.from(original);
  damaged[10] ^= 0xff;
  await writeFile(file, damaged);
  t.teardown(() => writeFile(file, original));

  t.equal((await runCairn(['verify', store, backup.id])).code, ExitCode.OK, 'sizes alone look fine');
  const full = await runCairn(['verify', store, backup.id, '--full', '--report-only']);
  t.equal(full.code, ExitCode.CORRUPTION);
  t.match(full.stdout, `checksum ${victim.path} ${key}`);
  const target = join(dir, 'from-damaged');
  const restore = await runCairn(['restore', store, backup.id, target]);
  t.equal(restore.code, ExitCode.CORRUPTION);
  t.match(restore.stderr, /^cairn: .*\(CAIRN_CORRUPTION\)\n$/);
  await t.rejects(stat(target), { code: 'ENOENT' });
  t.same(await tempNames(dir), []);

  // The repair loop: a full verify quarantines the object, the next backup uploads it again.
  const repair = await runCairn(['verify', store, backup.id, '--full']);
  t.equal(repair.code, ExitCode.CORRUPTION);
  t.match(repair.stdout, `quarantined ${key} -> quarantine/`);
  t.match(repair.stdout, backup.id, 'names the backup it breaks');
  t.equal((await runCairn(['restore', store, backup.id, target])).code, ExitCode.NOT_FOUND, 'the damaged object is gone from files/');
  t.equal((await runCairn(['backup', ks, store])).code, ExitCode.OK);
  t.equal((await runCairn(['verify', store, backup.id, '--full'])).code, ExitCode.OK, 'the old backup is whole again');
  t.equal((await runCairn(['restore', store, backup.id, target])).code, ExitCode.OK);
});

t.test('backup refusals: an open keyspace (3), not a keyspace (4), another keyspace\'s store (9)', async (t) => {
  const open = await Keyspace.open(ks);
  const locked = await runCairn(['backup', ks, store]);
  await open.close();
  t.equal(locked.code, ExitCode.LOCKED, locked.stderr);
  t.match(locked.stderr, /\(CAIRN_LOCKED\)/);

  await mkdir(join(dir, 'plain'));
  await writeFile(join(dir, 'plain', 'notes.txt'), 'hello');
  t.equal((await runCairn(['backup', join(dir, 'plain'), store])).code, ExitCode.NOT_A_KEYSPACE);
  t.equal((await runCairn(['backup', join(dir, 'missing'), store])).code, ExitCode.NOT_A_KEYSPACE);
  await t.rejects(stat(join(dir, 'missing')), { code: 'ENOENT' }, 'a missing keyspace is not created');

  const other = join(dir, 'other');
  await buildKeyspace(other, { keys: 20 });
  const refused = await runCairn(['backup', other, store]);
  t.equal(refused.code, ExitCode.STORE_IN_USE);
  t.match(refused.stderr, /\(CAIRN_STORE_IN_USE\)/);
  t.equal((await runCairn(['backup', other, store, '--force'])).code, ExitCode.OK);
  t.equal((await runCairn(['backup', ks, store, '--concurrency', '0'])).code, ExitCode.USAGE);
  t.equal((await runCairn(['list', 'ftp://nowhere/'])).code, ExitCode.USAGE, 'an unknown scheme is a usage error');
});

t.test('help lists the backup commands and the new exit statuses', async (t) => {
  const run = await runCairn(['--help']);
  for (const name of ['backup', 'list', 'info', 'verify', 'restore', 'prune']) t.match(run.stdout, new RegExp(`^  ${name} `, 'm'));
  t.match(run.stdout, / {2}8 {2}not found: backup, backup store or one of its objects, partition, key/);
  t.match((await runCairn(['help', 'prune'])).stdout, /--keep-last N/);
});
