// Backups do not carry corruption silently: a segment of the keyspace with one flipped
// byte in a data block (which Keyspace.open does not read) fails the backup with
// CAIRN_CORRUPTION naming the file, on file:// and on S3 (before the fix the backup
// copied it and a full verify said ok); nothing is published. ks.check() finds the same
// damage in a live keyspace, and `cairn check` in a closed one (exit 6), journals included.
import t, { type Test } from 'tap';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { listAll } from '../../lib/backup/store-objects.js';
import { ExitCode } from '../../lib/cli/exit-codes.js';
import { ErrorCodes } from '../../lib/errors.js';
import { Keyspace } from '../../lib/index.js';
import { runCairn } from '../cli/cli-helpers.js';
import { startS3Server } from '../helpers/s3-server.js';
import { scratchDir } from './backup-helpers.js';

const server = await startS3Server(t);

/**
 * Compaction held off (level 0 never reaches its trigger): a merge after a reopen would
 * delete the segment a test is about to damage.
 */
const NO_COMPACTION = { compaction: { level0Trigger: 1_000_000 } } as const;

/** A closed keyspace with a few segments and journals; returns its path and one segment's relative path. */
async function build(t: Test, name: string): Promise<{ dir: string; ksDir: string; segment: string }> {
  const dir = await scratchDir(t, name);
  const ksDir = join(dir, 'ks');
  const ks = await Keyspace.open(ksDir, { memtableBytes: 32 * 1024, ...NO_COMPACTION });
  const p = await ks.partition('users');
  for (let i = 0; i < 600; i++) await p.put(`k${String(i).padStart(5, '0')}`, `value-${i}`.padEnd(120, '.'));
  await ks.flush();
  for (let i = 0; i < 20; i++) await p.put(`late${i}`, 'in the journal only');
  await ks.close();
  const segments = (await readdir(join(ksDir, 'partitions', 'users', 'segments'))).filter((n) => n.endsWith('.sst')).sort();
  return { dir, ksDir, segment: `partitions/users/segments/${segments[0]}` };
}

/** Flips a byte `at` bytes into the file. */
async function flip(path: string, at: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[at] ^= 0x20;
  await writeFile(path, bytes);
}

for (const [name, urlOf] of [
  ['file', (dir: string) => pathToFileURL(join(dir, 'store')).href],
  ['s3', () => server.urlWith({}, 'damaged-source')],
] as const) {
  t.test(`${name}: a backup of a keyspace with a damaged segment fails naming it; nothing is published`, async (t) => {
    const { dir, ksDir, segment } = await build(t, `damaged-${name}`);
    await flip(join(ksDir, ...segment.split('/')), 40);
    const ks = await Keyspace.open(ksDir, NO_COMPACTION);
    t.teardown(() => ks.close());
    const engine = await BackupEngine.open(urlOf(dir));
    t.teardown(() => engine.close());
    const err = await engine.backup(ks).catch((e: unknown) => e);
    t.match(err, { code: ErrorCodes.CORRUPTION, details: { path: segment, source: 'keyspace' } }, 'the backup names the damaged file');
    t.match((err as Error).message, segment);
    t.same((await listAll(engine.store, 'backups/')).length, 0, 'no manifest');

    await t.rejects(ks.check(), { code: ErrorCodes.CORRUPTION, message: /block checksum mismatch/ }, 'ks.check() finds it too');
    t.same((await readdir(ksDir)).filter((n) => n.includes('.tmp-')), [], 'and leaves no checkpoint behind');
  });
}

t.test('ks.check() of a sound keyspace; cairn check of sound and damaged ones (segments and journals)', async (t) => {
  const { ksDir, segment } = await build(t, 'check');
  const ks = await Keyspace.open(ksDir, NO_COMPACTION);
  const result = await ks.check();
  t.ok(result.segments >= 1 && result.journals >= 1 && result.bytes > 0, `checked ${result.segments} segments, ${result.journals} journals`);
  await ks.close();

  const sound = await runCairn(['check', ksDir, '--json']);
  t.equal(sound.code, ExitCode.OK, sound.stderr);
  t.ok((JSON.parse(sound.stdout) as { segments: number }).segments >= 1);

  const journals = (await readdir(join(ksDir, 'journal'))).filter((n) => n.endsWith('.jnl')).sort();
  const journal = join(ksDir, 'journal', journals[0]!);
  const original = await readFile(journal);
  if (original.length > 40) {
    await flip(journal, 40);
    const damagedJournal = await runCairn(['check', ksDir]);
    t.equal(damagedJournal.code, ExitCode.CORRUPTION, 'a damaged journal record is exit 6');
    t.match(damagedJournal.stderr, /journal/);
    await writeFile(journal, original);
  }
  await flip(join(ksDir, ...segment.split('/')), 40);
  const damaged = await runCairn(['check', ksDir]);
  t.equal(damaged.code, ExitCode.CORRUPTION);
  t.match(damaged.stderr, /block checksum mismatch.*\.sst/);
  t.equal((await runCairn(['check', join(ksDir, 'partitions')])).code, ExitCode.NOT_A_KEYSPACE);
});
