// FileStore's local copies (copyIn, syncCopiedIn, objectPath), the fast path of backup and
// restore: the protocol (fsynced temp copy, rename, one directory fsync per batch), faults
// at each step leaving nothing partial, coded errors, and the engine relying on it.
import t, { type Test } from 'tap';
import { readdirSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { BackupEngine } from '../../../lib/backup/backup-engine.js';
import { FileStore } from '../../../lib/backup/file-store.js';
import { localCopyStore } from '../../../lib/backup/local-copy.js';
import { extFor, objectKey } from '../../../lib/backup/store-layout.js';
import { ErrorCodes } from '../../../lib/errors.js';
import { FaultFileSystem, replaceRoot, type FaultOp } from '../../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../../lib/fs/node-file-system.js';
import { defaultFileSystem } from '../../../lib/fs/index.js';
import { Workload, readKeyspace, storedKeys } from '../backup-helpers.js';
import { scratchDir } from '../../helpers/scratch.js';
import { readAll } from './conformance.js';

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => nodePath.relative(dir, nodePath.join(entry.parentPath, entry.name)).split(nodePath.sep).join('/'))
    .sort();
}

/** A store under `<testdir>/store` over a tracing fault wrapper, and a source directory beside it. */
function setup(t: Test) {
  const base = t.testdir({ src: {}, out: {}, store: {} });
  const root = nodePath.join(base, 'store');
  const toRoot = replaceRoot(root);
  const fs = new FaultFileSystem(new NodeFileSystem(), { rewritePath: (p) => toRoot(p).replace(/\.tmp-[0-9a-f]+$/, '.tmp-*').replace(base, '<base>') });
  return { base, root, fs, store: new FileStore(root, { fs }), src: (name: string) => nodePath.join(base, 'src', name) };
}

t.test('a store is a LocalCopyStore; a wrapper without the methods is not', async (t) => {
  const store = new FileStore(t.testdir());
  t.equal(localCopyStore(store), store);
  t.equal(localCopyStore({ put: store.put.bind(store), get: store.get.bind(store) } as unknown as FileStore), undefined);
});

t.test('copyIn: fsynced temp copy, rename; names made durable by one syncCopiedIn per directory', async (t) => {
  const { fs, store, src } = setup(t);
  await writeFile(src('a'), 'alpha');
  await writeFile(src('b'), 'bravo!');
  await store.copyIn(src('a'), 'files/a.sst', 5);
  await store.copyIn(src('b'), 'files/b.sst', 6);
  t.same(fs.trace({ mutatingOnly: true }), [
    'mkdir -p <root>/files',
    'syncDir <root>',
    'copy <base>/src/a -> <root>/files/a.sst.tmp-*',
    'rename <root>/files/a.sst.tmp-* -> <root>/files/a.sst',
    'copy <base>/src/b -> <root>/files/b.sst.tmp-*',
    'rename <root>/files/b.sst.tmp-* -> <root>/files/b.sst',
  ]);
  fs.clearTrace();
  await store.syncCopiedIn();
  t.same(fs.trace({ mutatingOnly: true }).filter((l) => l.startsWith('syncDir')), ['syncDir <root>/files'], 'one fsync for the directory');
  fs.clearTrace();
  await store.syncCopiedIn();
  t.same(fs.trace({ mutatingOnly: true }).filter((l) => l.startsWith('syncDir')), [], 'nothing left to sync');
  t.equal((await readAll(store, 'files/a.sst')).toString(), 'alpha');
  t.equal((await store.head('files/b.sst'))?.size, 6);
});

t.test('copyIn replaces an existing object; a size other than declared leaves the old one', async (t) => {
  const { root, store, src } = setup(t);
  await store.put('files/x', Buffer.from('old'));
  await writeFile(src('x'), 'newer');
  await t.rejects(store.copyIn(src('x'), 'files/x', 4), RangeError, 'the file is not the size hashed');
  t.equal((await readAll(store, 'files/x')).toString(), 'old');
  t.same(filesUnder(root), ['files/x'], 'no temp file');
  await store.copyIn(src('x'), 'files/x', 5);
  t.equal((await readAll(store, 'files/x')).toString(), 'newer');
  await t.rejects(store.copyIn(src('missing'), 'files/y', 1), { code: 'ENOENT' });
  t.same(filesUnder(root), ['files/x']);
  await t.rejects(store.copyIn('relative', 'files/y', 1), TypeError);
  await t.rejects(store.copyIn(src('x'), '../y', 1), TypeError);
  await t.rejects(store.copyIn(src('x'), 'files/y', -1), RangeError);
});

t.test('a failure at each step of copyIn leaves no object and no temp file', async (t) => {
  const steps: FaultOp[] = ['mkdir', 'copy', 'rename'];
  for (const op of steps) {
    await t.test(op, async (t) => {
      const { root, fs, store, src } = setup(t);
      await writeFile(src('f'), Buffer.alloc(70_000, 3));
      fs.inject({ op, code: 'EIO' });
      await t.rejects(store.copyIn(src('f'), 'files/f', 70_000), { code: 'EIO' }, `copyIn fails at ${op}`);
      fs.clearFaults();
      t.equal(await store.head('files/f'), undefined, `nothing visible after ${op} failed`);
      t.same(filesUnder(root).filter((n) => n.includes('.tmp-')), [], `no temp file after ${op} failed`);
    });
  }
});

t.test('a failed syncCopiedIn rejects and leaves its directories for the next one', async (t) => {
  const { fs, store, src } = setup(t);
  await writeFile(src('f'), 'x');
  await store.copyIn(src('f'), 'files/f', 1);
  fs.inject({ op: 'syncDir', code: 'EIO' });
  await t.rejects(store.syncCopiedIn(), { code: 'EIO' });
  fs.clearFaults();
  fs.clearTrace();
  await store.syncCopiedIn();
  t.same(fs.trace({ mutatingOnly: true }).filter((l) => l.startsWith('syncDir')), ['syncDir <root>/files'], 'retried');
});

t.test('objectPath: the file of the key; invalid keys and a closed store throw', async (t) => {
  const { root, store } = setup(t);
  await store.put('files/o', Buffer.from('object bytes'));
  t.equal(await readFile(store.objectPath('files/o'), 'utf8'), 'object bytes');
  t.equal(store.objectPath('files/o'), nodePath.join(root, 'files', 'o'));
  t.throws(() => store.objectPath('../x'), TypeError);
  await store.close();
  t.throws(() => store.objectPath('files/o'), { code: ErrorCodes.CLOSED });
});

t.test('backup into a FileStore: the manifest waits for the directory fsync; restore verifies copied bytes', async (t) => {
  const base = await scratchDir(t, 'file-store-local-copy');
  const fs = new FaultFileSystem(defaultFileSystem());
  const store = new FileStore(nodePath.join(base, 'store'), { fs });
  const engine = new BackupEngine(store);
  const w = await Workload.open(nodePath.join(base, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(500);
  fs.inject({ op: 'syncDir', path: /\/files$/, code: 'EIO' });
  await t.rejects(engine.backup(w.ks), { code: 'EIO' }, 'objects not durable: no backup');
  t.same(await storedKeys(nodePath.join(base, 'store'), 'backups'), [], 'no manifest');
  fs.clearFaults();
  fs.clearTrace();
  const backup = await engine.backup(w.ks);
  const trace = fs.trace({ mutatingOnly: true });
  const lastFilesSync = trace.findLastIndex((l) => /^syncDir .*\/files$/.test(l));
  const manifestWrite = trace.findIndex((l) => /backups\/.*\.json\.tmp-[0-9a-f]+ \(wx\)/.test(l));
  t.ok(lastFilesSync >= 0 && manifestWrite > lastFilesSync, 'files/ is fsynced before the manifest is written');

  const restored = nodePath.join(base, 'restored');
  await engine.restore(backup.id, restored);
  t.same(await readKeyspace(restored), w.contentsAt(backup.seqno));

  // Damage one object in place (same size): the restore's read-back check catches it.
  const victim = (await engine.info(backup.id)).files.reduce((a, b) => (b.size > a.size ? b : a));
  const path = nodePath.join(base, 'store', ...objectKey(victim.sha256, extFor(victim.path)).split('/'));
  const bytes = await readFile(path);
  bytes[bytes.length >> 1] ^= 0xff;
  await writeFile(path, bytes);
  await t.rejects(engine.restore(backup.id, nodePath.join(base, 'r2')), { code: ErrorCodes.CORRUPTION });
  t.same(readdirSync(base).filter((n) => n.startsWith('r2')), [], 'no target, no staging');

  await unlink(path);
  await t.rejects(engine.restore(backup.id, nodePath.join(base, 'r3')), { code: ErrorCodes.NOT_FOUND }, 'a missing object');
  t.same(readdirSync(base).filter((n) => n.startsWith('r3')), [], 'no target, no staging');
  // Closed here, before t.testdir's removal runs in the teardown.
  await w.ks.close();
});

t.test('an aborted restore from a FileStore leaves no target and no staging', async (t) => {
  const base = await scratchDir(t, 'file-store-local-copy');
  const engine = new BackupEngine(new FileStore(nodePath.join(base, 'store')));
  const w = await Workload.open(nodePath.join(base, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(1000);
  const { id, files } = await engine.backup(w.ks);
  for (const stopAt of [1, Math.ceil(files / 2)]) {
    const controller = new AbortController();
    let done = 0;
    const restoring = engine.restore(id, nodePath.join(base, 'r'), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'downloading' && p.filesDone > 0 && ++done === stopAt) controller.abort();
      },
    });
    await t.rejects(restoring, { code: ErrorCodes.ABORTED }, `aborted after ${stopAt} file(s)`);
    t.same(readdirSync(base).filter((n) => n.startsWith('r')), [], 'no target, no staging');
  }
});
