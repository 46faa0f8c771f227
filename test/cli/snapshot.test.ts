// `cairn snapshot` end to end, run as a child process: the snapshot of a closed keyspace
// opens and equals the source; immutable files are hard links, the newest journal and
// metadata are copies; refusals (open keyspace, existing destination, not a keyspace)
// exit with their documented statuses and leave nothing behind; a destination on
// another file system is copied; ENOSPC there exits 7 and leaves nothing.
import t from 'tap';
import { mkdtemp, mkdir, readdir, rm, stat, writeFile, copyFile, truncate, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { ExitCode } from '../../lib/cli/exit-codes.js';
import type { OfflineSnapshotResult } from '../../lib/checkpoint/offline-snapshot.js';
import { JOURNAL_HEADER_BYTES } from '../../lib/journal/record.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { runCairn } from './cli-helpers.js';
import { buildKeyspace, fingerprint, isLockFile, readKeyspace } from '../helpers/keyspace-content.js';

const scratch = await mkdtemp(join(tmpdir(), 'cairn-cli-snapshot-'));
t.teardown(() => rm(scratch, { recursive: true, force: true }));

let serial = 0;
async function fresh(options?: Parameters<typeof buildKeyspace>[1]): Promise<{ src: string; expected: Awaited<ReturnType<typeof buildKeyspace>> }> {
  const src = join(scratch, `ks-${++serial}`);
  return { src, expected: await buildKeyspace(src, options) };
}

type SnapshotJson = OfflineSnapshotResult;

async function journalNames(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'journal'))).filter((n) => n.endsWith('.jnl')).sort();
}

async function segmentPaths(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of await readdir(join(dir, 'partitions'))) {
    for (const s of await readdir(join(dir, 'partitions', p, 'segments'))) out.push(join('partitions', p, 'segments', s));
  }
  return out.sort();
}

t.test('a snapshot of a closed keyspace opens and holds exactly the source data', async (t) => {
  const { src, expected } = await fresh();
  const before = await fingerprint(src, isLockFile);
  const dest = join(scratch, 'nested', 'deeper', 'snap-1');
  const run = await runCairn(['snapshot', src, dest]);
  t.equal(run.code, ExitCode.OK, run.stderr);
  t.match(run.stdout, /seqno \d+/);
  t.equal(run.stderr, '', 'no progress bar when stderr is not a TTY');
  t.same(await fingerprint(src, isLockFile), before, 'the source is unchanged');
  t.same(await readKeyspace(dest), expected, 'the snapshot holds the same data');
  t.same(await readKeyspace(src), expected, 'the source still opens with the same data');
  t.same((await readdir(dirname(dest))).filter((n) => n.includes('.tmp-')), [], 'no staging left');
});

/**
 * The journal files holding data, oldest first. Whether the fixture ends with an empty
 * active file (a switch right at the last write) depends on timing; the snapshot skips
 * such trailing files either way, like recovery.
 */
async function dataJournals(dir: string): Promise<string[]> {
  const names = await journalNames(dir);
  while (names.length > 0 && (await stat(join(dir, 'journal', names[names.length - 1]!))).size <= JOURNAL_HEADER_BYTES) names.pop();
  return names;
}

t.test('--json reports the counts; segments and sealed journals are hard links, the rest copies', async (t) => {
  const { src } = await fresh();
  const journals = await dataJournals(src);
  t.ok(journals.length >= 2, `the fixture has sealed journals (${journals.length})`);
  const segments = await segmentPaths(src);
  t.ok(segments.length >= 2, 'the fixture has segments');
  const dest = join(scratch, 'snap-json');
  const run = await runCairn(['snapshot', src, dest, '--json']);
  t.equal(run.code, ExitCode.OK, run.stderr);
  const result = JSON.parse(run.stdout) as SnapshotJson;
  t.same(Object.keys(result).sort(), ['bytesCopied', 'bytesLinked', 'durationMs', 'filesCopied', 'filesLinked', 'partitions', 'path', 'seqno', 'timeMs']);
  t.equal(result.path, dest);
  t.same(result.partitions, ['audit', 'users']);
  t.equal(result.filesLinked, segments.length + journals.length - 1, 'every segment and every journal but the newest is linked');
  // Per partition CURRENT and the live manifest, keyspace.json, and the newest journal.
  t.equal(result.filesCopied, 2 * 2 + 1 + 1);
  let linkedBytes = 0;
  for (const s of segments) {
    const [a, b] = await Promise.all([stat(join(src, s)), stat(join(dest, s))]);
    t.equal(b.ino, a.ino, `${s} is a hard link`);
    linkedBytes += a.size;
  }
  for (const j of journals.slice(0, -1)) {
    const [a, b] = await Promise.all([stat(join(src, 'journal', j)), stat(join(dest, 'journal', j))]);
    t.equal(b.ino, a.ino, `sealed journal ${j} is a hard link`);
    linkedBytes += a.size;
  }
  t.equal(result.bytesLinked, linkedBytes);
  const newest = journals[journals.length - 1];
  const [a, b] = await Promise.all([stat(join(src, 'journal', newest)), stat(join(dest, 'journal', newest))]);
  t.not(b.ino, a.ino, 'the newest journal is a copy');
  t.equal(b.size, a.size, 'a whole newest journal is copied in full');
  const [ka, kb] = await Promise.all([stat(join(src, 'keyspace.json')), stat(join(dest, 'keyspace.json'))]);
  t.not(kb.ino, ka.ino, 'keyspace.json is a copy');
  t.equal(await journalNames(dest).then((n) => n.join()), journals.join());

  const ks = await Keyspace.open(dest);
  t.equal(ks.seqno, result.seqno, 'seqno is the highest seqno the snapshot recovers');
  await ks.close();
});

t.test('refused with exit 3 while the keyspace is open, and nothing is created', async (t) => {
  const { src, expected } = await fresh();
  const ks = await Keyspace.open(src);
  const dest = join(scratch, 'snap-locked');
  try {
    const run = await runCairn(['snapshot', src, dest]);
    t.equal(run.code, ExitCode.LOCKED);
    t.match(run.stderr, /^cairn: .*\(CAIRN_LOCKED\)\n$/);
    t.equal(run.stdout, '');
    const p = await ks.partition('users');
    await p.put('after', 'refusal');
    t.equal((await p.get('after'))?.toString(), 'refusal', 'the open keyspace is unaffected');
  } finally {
    await ks.close();
  }
  t.equal((await readdir(scratch)).filter((n) => n.startsWith('snap-locked')).length, 0, 'no dest, no staging');
  expected.get('users')!.set('after', 'refusal');
  t.same(await readKeyspace(src), expected);
});

t.test('an existing destination exits 5 and is left alone', async (t) => {
  const { src } = await fresh({ keys: 20 });
  const dest = join(scratch, 'snap-exists');
  await mkdir(dest);
  await writeFile(join(dest, 'mine'), 'keep');
  const run = await runCairn(['snapshot', src, dest]);
  t.equal(run.code, ExitCode.DESTINATION_EXISTS);
  t.match(run.stderr, /\(EEXIST\)\n$/);
  t.same(await readdir(dest), ['mine']);
  const empty = join(scratch, 'snap-exists-empty');
  await mkdir(empty);
  t.equal((await runCairn(['snapshot', src, empty])).code, ExitCode.DESTINATION_EXISTS, 'an empty directory counts as existing');
});

t.test('a source that is not a keyspace exits 4 and gains no LOCK', async (t) => {
  const plain = join(scratch, 'plain');
  await mkdir(plain);
  await writeFile(join(plain, 'notes.txt'), 'hello');
  const run = await runCairn(['snapshot', plain, join(scratch, 'snap-plain')]);
  t.equal(run.code, ExitCode.NOT_A_KEYSPACE);
  t.match(run.stderr, /\(CAIRN_NOT_A_KEYSPACE\)\n$/);
  t.same(await readdir(plain), ['notes.txt']);
  t.equal((await runCairn(['snapshot', join(scratch, 'missing'), join(scratch, 'snap-missing')])).code, ExitCode.NOT_A_KEYSPACE);
  t.equal((await runCairn(['snapshot', join(plain, 'notes.txt'), join(scratch, 'snap-file')])).code, ExitCode.NOT_A_KEYSPACE);
  t.equal((await readdir(scratch)).filter((n) => n.startsWith('snap-plain') || n.startsWith('snap-missing') || n.startsWith('snap-file')).length, 0);
});

t.test('a destination inside the keyspace is a usage error', async (t) => {
  const { src } = await fresh({ keys: 10 });
  const run = await runCairn(['snapshot', src, join(src, 'inside')]);
  t.equal(run.code, ExitCode.USAGE);
  t.match(run.stderr, /\(CAIRN_USAGE\)\n$/);
  t.equal((await readdir(src)).includes('inside'), false);
});

t.test('debris in the source stays out of the snapshot', async (t) => {
  const { src, expected } = await fresh({ keys: 50 });
  const users = join(src, 'partitions', 'users');
  const [segment] = await readdir(join(users, 'segments'));
  await copyFile(join(users, 'segments', segment), join(users, 'segments', '999990.sst'));
  const [manifest] = (await readdir(users)).filter((n) => n.startsWith('MANIFEST-'));
  await copyFile(join(users, manifest), join(users, 'MANIFEST-000001'));
  await writeFile(join(users, 'CURRENT.tmp-abc123'), 'half');
  await writeFile(join(src, 'journal', '000007.jnl.tmp-abc123'), 'half');
  await writeFile(join(src, 'keyspace.json.tmp-abc123'), 'half');
  await mkdir(join(src, 'partitions', 'orphan', 'segments'), { recursive: true });
  const dest = join(scratch, 'snap-debris');
  const run = await runCairn(['snapshot', src, dest]);
  t.equal(run.code, ExitCode.OK, run.stderr);
  const got = [...(await fingerprint(dest)).keys()];
  t.same(got.filter((p) => p.includes('.tmp-') || p.includes('999990') || p.includes('MANIFEST-000001') || p.includes('orphan')), []);
  t.notOk(got.includes('LOCK'), 'no LOCK in the snapshot');
  t.same(await readKeyspace(dest), expected);
});

t.test('a trailing journal that holds only its header is left out', async (t) => {
  const { src, expected } = await fresh({ keys: 30 });
  // A checkpoint switches to a fresh journal file; closed right after, it stays empty.
  const ks = await Keyspace.open(src);
  await ks.backupTo(join(scratch, 'cut-only'));
  await ks.close();
  const all = await journalNames(src);
  const withData = await dataJournals(src);
  t.ok(all.length > withData.length, `the source ends with an empty journal (${all.at(-1)})`);
  const dest = join(scratch, 'snap-empty-tail');
  const run = await runCairn(['snapshot', src, dest, '--json']);
  t.equal(run.code, ExitCode.OK, run.stderr);
  t.same(await journalNames(dest), withData, 'only the journals holding data');
  t.same(await readKeyspace(dest), expected);
});

t.test('a torn tail of the newest journal is left out of the copy; the source is untouched', async (t) => {
  const { src, expected } = await fresh({ keys: 30 });
  const journals = await dataJournals(src);
  const newest = join(src, 'journal', journals[journals.length - 1]);
  const whole = (await stat(newest)).size;
  await appendFile(newest, Buffer.from([0x30, 0, 0, 0, 1, 2, 3, 4, 5]));
  const dest = join(scratch, 'snap-torn');
  const run = await runCairn(['snapshot', src, dest, '--json']);
  t.equal(run.code, ExitCode.OK, run.stderr);
  t.equal((await stat(join(dest, 'journal', journals[journals.length - 1]))).size, whole, 'the copy stops at the last whole record');
  t.equal((await stat(newest)).size, whole + 9, 'the source journal keeps its tail for its own recovery');
  t.same(await readKeyspace(dest), expected);
  await truncate(newest, whole);
});

t.test('a destination on another file system gets copies (tmpfs)', async (t) => {
  const mount = mountTmpfs(t, 16);
  if (mount === undefined) {
    t.comment('not root: cross-device copy is covered by the EXDEV fault test in offline-snapshot.test.ts');
    return;
  }
  const { src, expected } = await fresh();
  const dest = join(mount, 'snaps', 'one');
  const run = await runCairn(['snapshot', src, dest, '--json']);
  t.equal(run.code, ExitCode.OK, run.stderr);
  const result = JSON.parse(run.stdout) as SnapshotJson;
  t.equal(result.filesLinked, 0);
  t.equal(result.bytesLinked, 0);
  const files = [...(await fingerprint(dest)).entries()].filter(([, v]) => v !== 'dir');
  t.equal(result.filesCopied, files.length, 'every file of the snapshot was copied');
  t.equal(result.bytesCopied, files.reduce((n, [, v]) => n + Number(v.split(':')[0]), 0));
  t.same(await readKeyspace(dest), expected);
});

t.test('ENOSPC on a tiny tmpfs exits 7 and leaves nothing there', async (t) => {
  const mount = mountTmpfs(t, 1);
  if (mount === undefined) {
    t.comment('not root: ENOSPC cleanup is covered by the fault test in offline-snapshot.test.ts');
    return;
  }
  const { src } = await fresh({ keys: 400, valueBytes: 4096, memtableBytes: 256 * 1024, incompressible: true });
  const before = await fingerprint(src, isLockFile);
  const run = await runCairn(['snapshot', src, join(mount, 'snap')]);
  t.equal(run.code, ExitCode.IO);
  t.match(run.stderr, /^cairn: .*\(ENOSPC\)\n$/);
  t.same(await readdir(mount), [], 'no destination and no staging');
  t.same(await fingerprint(src, isLockFile), before, 'the source is unchanged');
  const ks = await Keyspace.open(src);
  await ks.close();
  t.pass('the LOCK was released');
});
