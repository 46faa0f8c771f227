// BackupEngine end to end over a FileStore: backups taken while a writer runs, several
// incremental ones, each restored and compared with the data as of its seqno; list,
// info and verify; restore targets (missing, empty, non-empty); store ownership.
import t from 'tap';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { ErrorCodes } from '../../lib/errors.js';
import { Keyspace } from '../../lib/index.js';
import { FaultFileSystem, NodeFileSystem } from '../../lib/fs/index.js';
import { Workload, fileStore, readKeyspace, scratchDir, tempNames } from './backup-helpers.js';

t.test('backups taken while writing restore to exactly the data as of their seqno', async (t) => {
  const dir = await scratchDir(t, 'e2e');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(300);

  const results = [];
  for (let round = 0; round < 3; round++) {
    let done!: () => void;
    const stop = new Promise<void>((resolve) => (done = resolve));
    const writing = w.writeUntil(stop);
    const backup = engine.backup(w.ks, { label: `round-${round}` });
    const result = await backup.finally(done);
    await writing;
    results.push(result);
    t.ok(result.files > 0 && result.bytesTotal > 0, `round ${round}: files and bytes counted`);
  }
  t.ok(results[0].seqno < results[1].seqno && results[1].seqno < results[2].seqno, 'each backup is later than the one before');
  t.ok(results[2].filesUploaded < results[2].files, 'a later backup reuses content already in the store');

  const listed = await engine.list();
  t.same(listed.map((b) => b.id), results.map((r) => r.id), 'list: oldest first');
  t.same(listed.map((b) => b.label), ['round-0', 'round-1', 'round-2']);
  t.same(listed.map((b) => b.seqno), results.map((r) => r.seqno));
  t.equal((await engine.info('latest')).id, results[2].id, "info('latest') is the newest");

  for (const [i, r] of results.entries()) {
    const info = await engine.info(r.id);
    t.equal(info.seqno, r.seqno);
    t.equal(info.files.length, r.files);
    t.equal(info.totals.bytes, r.bytesTotal);
    const verified = await engine.verify(r.id, { full: true });
    t.same(verified.problems, [], `backup ${i} verifies in full`);
    t.ok(verified.ok);
    const target = join(dir, 'restored', `r${i}`);
    const restored = await engine.restore(r.id, target);
    t.equal(restored.seqno, r.seqno);
    t.same(await readKeyspace(target), w.contentsAt(r.seqno), `restore ${i} holds the data as of seqno ${r.seqno}`);
  }
  t.same(await tempNames(dir), [], 'no temporary checkpoint left beside the keyspace');
  t.same(await tempNames(join(dir, 'restored')), [], 'no restore staging left');
  t.same(await readdir(join(dir, 'store', 'locks')).catch(() => []), [], 'no lease left');
});

t.test('a restored keyspace reopens, takes writes and backs up into the same store', async (t) => {
  const dir = await scratchDir(t, 'reopen');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  const w = await Workload.open(join(dir, 'ks'));
  await w.write(200);
  const first = await engine.backup(w.ks);
  await w.ks.close();
  await engine.restore('latest', join(dir, 'restored'));
  const ks = await Keyspace.open(join(dir, 'restored'));
  t.teardown(() => ks.close());
  t.equal(ks.seqno, first.seqno, 'the restored keyspace continues at the backup seqno');
  await (await ks.partition('users')).put('after-restore', 'yes');
  const second = await engine.backup(ks);
  t.equal(second.seqno, first.seqno + 1);
  t.ok(second.filesUploaded < second.files, 'the restored keyspace shares content with its backup');
});

t.test('restore targets: a missing dir is created, an empty one is filled, a non-empty one refused', async (t) => {
  const dir = await scratchDir(t, 'targets');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(50);
  const { id, seqno } = await engine.backup(w.ks);

  await mkdir(join(dir, 'empty'));
  await engine.restore(id, join(dir, 'empty'));
  t.same(await readKeyspace(join(dir, 'empty')), w.contentsAt(seqno), 'an empty directory is filled');

  await mkdir(join(dir, 'full'));
  await writeFile(join(dir, 'full', 'precious'), 'keep me');
  await t.rejects(engine.restore(id, join(dir, 'full')), { code: ErrorCodes.NOT_EMPTY });
  t.same(await readdir(join(dir, 'full')), ['precious'], 'the non-empty target is untouched');
  await writeFile(join(dir, 'a-file'), 'x');
  await t.rejects(engine.restore(id, join(dir, 'a-file')), { code: ErrorCodes.NOT_EMPTY }, 'a file is not an empty target');

  await t.rejects(engine.restore('20000101T000000Z-00000000', join(dir, 'nope')), { code: ErrorCodes.NOT_FOUND });
  await t.rejects(engine.info('20000101T000000Z-00000000'), { code: ErrorCodes.NOT_FOUND });
  t.same(await tempNames(dir), [], 'no staging left');
});

t.test('an empty store has no latest backup', async (t) => {
  const dir = await scratchDir(t, 'empty');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  await t.rejects(engine.list(), { code: ErrorCodes.NOT_FOUND }, 'no store.json: no store');
  t.equal(await engine.storeInfo(), undefined);
  await t.rejects(engine.info('latest'), { code: ErrorCodes.NOT_FOUND });
  await t.rejects(engine.restore('latest', join(dir, 'r')), { code: ErrorCodes.NOT_FOUND });
});

t.test('a store belongs to one keyspace: another one is refused unless forced', async (t) => {
  const dir = await scratchDir(t, 'in-use');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  const a = await Workload.open(join(dir, 'a'));
  const b = await Workload.open(join(dir, 'b'));
  t.teardown(async () => {
    await a.ks.close();
    await b.ks.close();
  });
  await a.write(20);
  await b.write(20);
  await engine.backup(a.ks);
  const owner = await engine.storeInfo();
  t.ok(owner !== undefined && owner.format === 2 && owner.storeId.length > 0);
  await t.rejects(engine.backup(b.ks), { code: ErrorCodes.STORE_IN_USE, details: { reason: 'keyspace' } });
  t.equal((await engine.list()).length, 1, 'the refused backup left nothing');
  t.same(await tempNames(dir), [], 'and no temporary checkpoint');
  const forced = await engine.backup(b.ks, { force: true });
  t.equal((await engine.info(forced.id)).keyspaceId !== owner!.keyspaceId, true, 'the forced manifest names its own keyspace');
  t.equal((await engine.storeInfo())!.keyspaceId, owner!.keyspaceId, 'store.json keeps its first owner');
});

t.test('arguments are validated before any I/O', async (t) => {
  const dir = await scratchDir(t, 'args');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  t.throws(() => new BackupEngine({} as never), TypeError);
  t.throws(() => new BackupEngine(engine.store, { graceMs: -1 }), RangeError);
  t.throws(() => new BackupEngine(engine.store, { leaseTtlMs: 0 }), RangeError);
  t.throws(() => engine.backup({} as never), TypeError);
  t.throws(() => engine.info('nonsense'), TypeError);
  t.throws(() => engine.prune({ keepLast: -1 }), RangeError);
  t.throws(() => engine.prune({ maxAgeMs: -5 }), RangeError);
  await t.rejects(engine.restore('latest', ''), TypeError);
  await t.rejects(engine.verify('latest', { concurrency: 0 }), RangeError);
  await t.rejects(engine.verify('latest', { signal: 'no' as never }), TypeError);
  t.same(await readdir(join(dir, 'store')), [], 'nothing was written');
});

t.test('restore makes every file and directory durable before the rename publishes them', async (t) => {
  const dir = await scratchDir(t, 'durable-restore');
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(300);
  const { id } = await new BackupEngine(await fileStore(join(dir, 'store'))).backup(w.ks);
  const tracing = new FaultFileSystem(new NodeFileSystem());
  const engine = new BackupEngine(await fileStore(join(dir, 'store')), { fs: tracing });
  const manifest = await engine.info(id);
  const target = join(dir, 'restored');
  await engine.restore(id, target);
  const trace = tracing.trace();
  const publish = trace.findIndex((line) => line.startsWith('rename ') && line.endsWith(` -> ${target}`));
  t.ok(publish > 0, 'the staging directory is renamed onto the target');
  const before = trace.slice(0, publish);
  const staging = /^rename (\S+) ->/.exec(trace[publish]!)![1]!;
  for (const f of manifest.files) {
    const path = join(staging, ...f.path.split('/'));
    if (!before.includes(`sync ${path}`)) t.fail(`${f.path} was not fsynced before the rename`);
  }
  for (const d of ['', ...manifest.directories]) {
    const path = join(staging, ...d.split('/').filter((s) => s !== ''));
    if (!before.includes(`syncDir ${path}`)) t.fail(`directory '${d}' was not fsynced before the rename`);
  }
  t.ok(trace.slice(publish).some((line) => line.startsWith('syncDir ') && line.endsWith(dir)), 'then the parent is fsynced');
  t.same(await readKeyspace(target), w.contentsAt(manifest.seqno));
});
