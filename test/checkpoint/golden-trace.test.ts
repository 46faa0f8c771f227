// The checkpoint protocols as golden traces of FileSystem calls (testdata/*.trace): the
// online backupTo and the offline snapshot of `cairn snapshot`. A changed protocol shows
// up as a readable diff; CAIRN_UPDATE_GOLDEN=1 rewrites the files. Background journal work
// of the online source (sealing the cut file, creating the next spare) runs concurrently
// with the checkpoint's own calls, so it is listed per file; only that is normalised.
import t from 'tap';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { snapshotKeyspace } from '../../lib/checkpoint/offline-snapshot.js';
import { goldenKeyspace, goldenTracer, matchesGolden } from '../helpers/golden-trace.js';
import { dump, dumpDir, plain, tempDir } from './fixtures/checkpoint-fixtures.js';

/**
 * Splits the trace into the source journal's background calls (those only on its files
 * or directory), grouped per file in file order (a `syncDir` of the journal directory
 * belongs to the spare file created just before it), and the checkpoint's own calls, all
 * the rest, in issue order. A batch header goes with its first item.
 */
function normalise(lines: string[]): string[] {
  const own: string[] = [];
  const byFile = new Map<string, string[]>();
  let lastCreated = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const about = /^\w+Batch \[|^syncDirs \[/.test(line) ? (lines[i + 1] ?? '') : line;
    if (!about.includes('<root>/src/journal') || about.includes('<root>/backups')) {
      own.push(line);
      continue;
    }
    const file = /<root>\/src\/journal\/\d+\.jnl/.exec(line)?.[0];
    if (file !== undefined && / \(wx\)$/.test(line)) lastCreated = file;
    const key = file ?? lastCreated;
    byFile.set(key, [...(byFile.get(key) ?? []), line]);
  }
  const background = [...byFile.keys()].sort().flatMap((k) => byFile.get(k)!);
  return ['## the checkpoint, in issue order', ...own, '## the source journal in the background, per file', ...background];
}

t.test('backupTo makes exactly the golden sequence of file-system calls', async (t) => {
  const root = await tempDir(t, 'cairn-golden-');
  const tracer = goldenTracer(root);
  const ks = await Keyspace.open(join(root, 'src'), { fs: tracer.fs });
  const users = await ks.partition('users');
  const orders = await ks.partition('orders');
  for (let i = 0; i < 20; i++) {
    await users.put(`user${i}`, `name${i}`);
    await orders.put(`order${i}`, `amount${i * 7}`);
  }
  await users.delete('user3');
  await ks.flush();
  for (let i = 0; i < 5; i++) await users.put(`late${i}`, `v${i}`);
  await tracer.start();

  const dest = join(root, 'backups', 'daily', 'cp');
  const info = await ks.backupTo(dest);
  const raw = await tracer.lines();
  await matchesGolden(t, new URL('testdata/backup-to.trace', import.meta.url), normalise(raw));

  // Orderings across the concurrent parts that the normalisation hides: the sealed journal
  // is durable before it is linked, and everything in staging is synced before the rename.
  const at = (re: RegExp) => raw.findIndex((l) => re.test(l));
  const sealed = at(/^datasync <root>\/src\/journal\//);
  t.ok(sealed >= 0 && sealed < at(/^linkBatch /), 'the cut journal is fdatasynced before any link');
  const rename = at(/^rename /);
  t.ok(rename > 0 && raw.findLastIndex((l) => /^(sync|syncDir) .*tmp-<staging>/.test(l)) < rename, 'staging is synced before the rename');
  t.equal(raw.findLastIndex((l) => l.includes('<root>/backups')), raw.lastIndexOf('syncDir <root>/backups/daily'), 'the parent is synced after the rename, last');
  t.same(plain((await dumpDir(dest)).data), plain(await dump(ks)), 'and the checkpoint it made is right');
  t.equal(info.filesLinked, 3);
  await ks.close();
});

t.test('the offline snapshot makes exactly the golden sequence of file-system calls', async (t) => {
  const root = await tempDir(t, 'cairn-golden-');
  const src = join(root, 'src');
  // A sealed journal still needed (it holds the late writes) and a newest one. A
  // checkpoint's cut is what seals a journal file at a known point; size-based switches
  // would seal at points that vary with timing.
  const { ks, orders } = await goldenKeyspace(src);
  await ks.backupTo(join(root, 'seal'));
  for (let i = 0; i < 10; i++) await orders.put(`newest${i}`, `v${i}`);
  const expected = plain(await dump(ks));
  await ks.close();

  const tracer = goldenTracer(root);
  await tracer.start();
  const dest = join(root, 'snapshots', 'snap');
  const info = await snapshotKeyspace(tracer.fs, src, dest);
  const lines = await tracer.lines();
  await matchesGolden(t, new URL('testdata/offline-snapshot.trace', import.meta.url), lines);

  // What the trace must show whatever else changes: the source is locked throughout, only
  // immutable files are linked, the newest journal is copied (its valid prefix), and
  // everything is durable before the rename publishes it.
  t.match(lines[lines.findIndex((l) => l.startsWith('lock '))], /^lock <root>\/src\/LOCK/);
  t.equal(lines[lines.length - 1], 'unlock <root>/src/LOCK', 'the LOCK is released last');
  const links = lines.filter((l) => /^link /.test(l));
  t.ok(links.length > 0 && links.every((l) => /\.(sst|jnl) -> /.test(l)), 'segments and sealed journals are linked');
  t.ok(lines.some((l) => /^copy <root>\/src\/journal\/\d+\.jnl -> .* \(limit \d+\)$/.test(l)), 'the newest journal is copied, only its valid prefix');
  const rename = lines.indexOf('rename <root>/snapshots/snap.tmp-<staging> -> <root>/snapshots/snap');
  t.ok(rename > lines.findLastIndex((l) => l.startsWith('syncDir <root>/snapshots/snap.tmp-<staging>')), 'staging is synced before the rename');
  t.same(plain((await dumpDir(dest)).data), expected, 'and the snapshot it made is right');
  t.ok(info.filesLinked > 0 && info.filesCopied > 0);
});
