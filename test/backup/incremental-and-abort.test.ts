// Incrementality and interruption: a second backup uploads only content the store lacks;
// an aborted or failed backup leaves no manifest, no temporary checkpoint and no lease,
// and its retry uploads less; an aborted restore leaves no target; progress is reported.
import t from 'tap';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import type { BackupProgress } from '../../lib/backup/progress.js';
import { extFor, objectKey } from '../../lib/backup/store-layout.js';
import { ErrorCodes } from '../../lib/errors.js';
import { WatchedStore, Workload, fileStore, readKeyspace, scratchDir, storedKeys, tempNames } from './backup-helpers.js';

t.test('a second backup after a small change uploads exactly the content that is new', async (t) => {
  const dir = await scratchDir(t, 'incremental');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store);
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(2000);
  const first = await engine.backup(w.ks);
  t.equal(first.bytesUploaded, store.bytesPut('files/'), 'the first backup reports what it put');
  t.equal(first.bytesUploaded, first.bytesStored, 'into an empty store everything is new');
  t.ok(first.bytesStored < first.bytesTotal, `compressed (${first.bytesStored} of ${first.bytesTotal} bytes)`);

  await w.write(5);
  store.puts = [];
  const second = await engine.backup(w.ks);
  const m1 = await engine.info(first.id);
  const m2 = await engine.info(second.id);
  const had = new Set(m1.files.map((f) => objectKey(f.sha256, extFor(f.path))));
  const fresh = new Map<string, number>();
  for (const f of m2.files) if (!had.has(objectKey(f.sha256, extFor(f.path)))) fresh.set(objectKey(f.sha256, extFor(f.path)), f.stored ?? f.size);
  const freshBytes = [...fresh.values()].reduce((n, s) => n + s, 0);
  t.equal(store.bytesPut('files/'), second.bytesUploaded, 'the store saw exactly the bytes reported');
  t.equal(second.bytesUploaded, freshBytes, 'only objects the first backup lacked were uploaded');
  t.equal(second.filesUploaded, fresh.size);
  t.same(store.puts.filter((p) => p.key.startsWith('files/')).map((p) => p.key).sort(), [...fresh.keys()].sort(), 'and each of them once');
  t.ok(second.bytesUploaded < second.bytesTotal / 4, `a small change uploads little (${second.bytesUploaded} of ${second.bytesTotal} bytes)`);
  t.same(await readKeyspace(await restoreTo(engine, second.id, join(dir, 'r2'))), w.contentsAt(second.seqno));
});

async function restoreTo(engine: BackupEngine, id: string, dir: string): Promise<string> {
  await engine.restore(id, dir);
  return dir;
}

t.test('an aborted backup leaves nothing visible and its retry uploads less', async (t) => {
  const dir = await scratchDir(t, 'abort-backup');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store);
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(2000);
  // Settled (no flush in flight), so both runs checkpoint the same segments.
  await w.ks.flush();

  const controller = new AbortController();
  let contentPuts = 0;
  store.beforePut = (key) => {
    if (key.startsWith('files/') && ++contentPuts === 3) controller.abort();
  };
  await t.rejects(engine.backup(w.ks, { signal: controller.signal, concurrency: 1 }), { code: ErrorCodes.ABORTED, name: 'AbortError' });
  t.same(await engine.list(), [], 'no backup is visible');
  t.same(await storedKeys(join(dir, 'store'), 'backups'), [], 'no manifest was written');
  t.same(await storedKeys(join(dir, 'store'), 'locks'), [], 'the lease is released');
  t.same(await tempNames(dir), [], 'the temporary checkpoint is removed');
  const uploadedBefore = await storedKeys(join(dir, 'store'), 'files');
  t.ok(uploadedBefore.length >= 2, `some content was uploaded before the abort (${uploadedBefore.length} objects)`);

  store.beforePut = undefined;
  store.puts = [];
  const retry = await engine.backup(w.ks);
  const reputs = store.puts.filter((p) => uploadedBefore.includes(p.key));
  t.same(reputs, [], 'the retry uploads nothing the aborted run uploaded');
  const reused = (await engine.info(retry.id)).files.filter((f) => uploadedBefore.includes(objectKey(f.sha256, extFor(f.path))));
  t.ok(reused.length > 0, 'and its manifest names what the aborted run uploaded');
  t.ok(retry.bytesUploaded < retry.bytesTotal);
  t.ok((await engine.verify(retry.id, { full: true })).ok);
});

t.test('a store failure mid-backup rejects with its code and leaves no manifest', async (t) => {
  const dir = await scratchDir(t, 'fail-backup');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store);
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(500);
  store.beforePut = (key) => {
    if (key.startsWith('files/')) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
  };
  await t.rejects(engine.backup(w.ks), { code: 'ENOSPC' });
  t.same(await storedKeys(join(dir, 'store'), 'backups'), []);
  t.same(await storedKeys(join(dir, 'store'), 'locks'), []);
  t.same(await tempNames(dir), []);
  store.beforePut = (key) => {
    if (key.startsWith('backups/')) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
  };
  await t.rejects(engine.backup(w.ks), { code: 'ECONNRESET' }, 'a failed manifest put fails the backup');
  t.same(await engine.list(), []);
  t.same(await tempNames(dir), []);
});

t.test('an aborted restore leaves no target and no staging', async (t) => {
  const dir = await scratchDir(t, 'abort-restore');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store);
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(1000);
  const { id } = await engine.backup(w.ks);
  const controller = new AbortController();
  let gets = 0;
  store.beforeGet = (key) => {
    if (key.startsWith('files/') && ++gets === 3) controller.abort();
  };
  const target = join(dir, 'restored', 'ks');
  await t.rejects(engine.restore(id, target, { signal: controller.signal, concurrency: 1 }), { code: ErrorCodes.ABORTED });
  t.same(await tempNames(join(dir, 'restored')), [], 'no staging left');
  await t.rejects(import('node:fs/promises').then((fs) => fs.stat(target)), { code: 'ENOENT' }, 'no target');
});

t.test('progress: phases in order, files and bytes add up', async (t) => {
  const dir = await scratchDir(t, 'progress');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(1000);
  const events: BackupProgress[] = [];
  const result = await engine.backup(w.ks, { onProgress: (p) => events.push(p) });
  const phases = [...new Set(events.map((e) => e.phase))];
  // Format 2 hashes, checks, encodes and uploads each file in one step ('hashing').
  t.same(phases, ['checkpoint', 'hashing', 'manifest', 'done']);
  const lastHash = events.filter((e) => e.phase === 'hashing').at(-1)!;
  t.equal(lastHash.filesDone, result.files);
  t.equal(lastHash.bytesDone, result.bytesTotal);
  t.ok(events.every((e) => e.bytesPerSecond >= 0 && e.filesDone <= e.filesTotal));

  const restoreEvents: BackupProgress[] = [];
  await engine.restore(result.id, join(dir, 'r'), { onProgress: (p) => restoreEvents.push(p) });
  t.same([...new Set(restoreEvents.map((e) => e.phase))], ['verifying', 'downloading', 'syncing', 'done']);
  const lastDownload = restoreEvents.filter((e) => e.phase === 'downloading').at(-1)!;
  t.equal(lastDownload.filesDone, result.files);
  t.equal(lastDownload.bytesDone, result.bytesTotal);
});
