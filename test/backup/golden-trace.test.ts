// A restore as a golden trace of FileSystem calls (testdata/restore.trace), beside the
// checkpoint protocols' (test/checkpoint/testdata): the staging directory, each file
// written, the fsyncs, the publishing rename. One file at a time (concurrency 1), so the
// order is fixed; CAIRN_UPDATE_GOLDEN=1 rewrites the file. Store reads are not traced:
// the store has its own file system.
import t from 'tap';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { goldenKeyspace, goldenTracer, matchesGolden } from '../helpers/golden-trace.js';
import { fileStore, readKeyspace, scratchDir } from './backup-helpers.js';

t.test('a restore makes exactly the golden sequence of file-system calls', async (t) => {
  const dir = await scratchDir(t, 'golden-restore');
  const { ks } = await goldenKeyspace(join(dir, 'ks'));
  const store = await fileStore(join(dir, 'store'));
  const { id, seqno } = await new BackupEngine(store).backup(ks);
  await ks.close();

  const tracer = goldenTracer(dir);
  const engine = new BackupEngine(store, { fs: tracer.fs });
  await tracer.start();
  const target = join(dir, 'restored', 'ks');
  const result = await engine.restore(id, target, { concurrency: 1 });
  const lines = await tracer.lines();
  await matchesGolden(t, new URL('testdata/restore.trace', import.meta.url), lines);

  // Whatever else changes: every file written is fsynced, and every directory, before the
  // rename publishes the tree; the parent is fsynced after it.
  const rename = lines.indexOf('rename <root>/restored/ks.tmp-<staging> -> <root>/restored/ks');
  t.ok(rename > 0, 'staging is renamed onto the target');
  const written = lines.filter((l) => /^open .* \(wx\)$/.test(l)).map((l) => l.slice('open '.length, -' (wx)'.length));
  t.ok(written.length > 0);
  for (const file of written) t.ok(lines.indexOf(`sync ${file}`) > 0 && lines.indexOf(`sync ${file}`) < rename, `${file} is fsynced before the rename`);
  t.equal(lines[lines.length - 1], 'syncDir <root>/restored', 'the parent is fsynced last');
  t.equal(result.seqno, seqno);
  t.same(await readKeyspace(target), await readKeyspace(join(dir, 'ks')), 'and the restored keyspace holds the data');
});
