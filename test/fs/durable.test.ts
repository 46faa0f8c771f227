// durable.ts through the fault wrapper: the exact protocol (as a trace), and what a failure
// or a crash at each step leaves behind: never a partial file, never a stray temp file,
// never a half-published directory.
import t, { type Test } from 'tap';
import * as nodePath from 'node:path';
import { FaultFileSystem, replaceRoot, type FaultOp } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import {
  destinationExists,
  linkOrCopyBatch,
  mkdirDurable,
  publishDirectory,
  removeTreeDurable,
  renameDurable,
  syncParent,
  tempPathFor,
  writeFileAtomic,
} from '../../lib/fs/durable.js';

const inner = new NodeFileSystem();

function setup(t: Test, files: Parameters<Test['testdir']>[0] = {}) {
  const root = t.testdir(files);
  const toRoot = replaceRoot(root);
  const fs = new FaultFileSystem(inner, { rewritePath: (p) => toRoot(p).replace(/\.tmp-[0-9a-f]+$/, '.tmp-*') });
  return { root, fs, p: (...names: string[]): string => nodePath.join(root, ...names) };
}

t.test('writeFileAtomic: temp, write, fsync, rename, fsync the directory', async (t) => {
  const { fs, p } = setup(t, { d: { target: 'old' } });
  await writeFileAtomic(fs, p('d', 'target'), 'new content');
  t.equal((await inner.readFile(p('d', 'target'))).toString(), 'new content');
  t.same(await inner.readdir(p('d')), ['target']);
  t.same(fs.trace({ mutatingOnly: true }), [
    'open <root>/d/target.tmp-* (wx)',
    'write <root>/d/target.tmp-*',
    'sync <root>/d/target.tmp-*',
    'rename <root>/d/target.tmp-* -> <root>/d/target',
    'syncDir <root>/d',
  ]);
  await writeFileAtomic(fs, p('d', 'fresh'), new Uint8Array([1, 2, 3]));
  t.same([...(await inner.readFile(p('d', 'fresh')))], [1, 2, 3], 'creates a missing file too');
});

t.test('writeFileAtomic: a failure at each step leaves the old content and no temp file', async (t) => {
  const steps: FaultOp[] = ['open', 'write', 'sync', 'close', 'rename'];
  for (const op of steps) {
    const { fs, p } = setup(t, { [op]: { target: 'old' } });
    fs.inject({ op, code: 'EIO' });
    await t.rejects(writeFileAtomic(fs, p(op, 'target'), 'new'), { code: 'EIO' }, `fails at ${op}`);
    t.equal((await inner.readFile(p(op, 'target'))).toString(), 'old', `old content intact after ${op} failed`);
    t.same(await inner.readdir(p(op)), ['target'], `no temp file after ${op} failed`);
  }
});

t.test('writeFileAtomic: a failed directory fsync rejects; the new file is in place, no temp left', async (t) => {
  const { fs, p } = setup(t, { target: 'old' });
  fs.inject({ op: 'syncDir', code: 'EIO' });
  await t.rejects(writeFileAtomic(fs, p('target'), 'new'), { code: 'EIO', syscall: 'fsync' });
  t.equal((await inner.readFile(p('target'))).toString(), 'new');
  t.same(await inner.readdir(p('')), ['target']);
});

t.test('writeFileAtomic: a crash at any point leaves the old or the new content in full', async (t) => {
  const content = 'x'.repeat(10_000);
  for (let n = 0; n <= 5; n++) {
    const { fs, p } = setup(t, { [`n${n}`]: { target: 'old' } });
    fs.crashAfter(n);
    const result = await writeFileAtomic(fs, p(`n${n}`, 'target'), content).then(() => 'ok', (err: { code?: string }) => err.code);
    const after = (await inner.readFile(p(`n${n}`, 'target'))).toString();
    t.ok(after === 'old' || after === content, `crash after ${n} calls: whole old or whole new`);
    if (n < 4) t.equal(after, 'old', `before the rename (${n}) the old content stays`);
    t.equal(result, n === 5 ? 'ok' : 'CAIRN_INJECTED_FAULT');
  }
});

t.test('writeFileAtomic validates before any I/O', async (t) => {
  const { fs, p } = setup(t);
  await t.rejects(writeFileAtomic(fs, '', 'x'), TypeError);
  await t.rejects(writeFileAtomic(fs, p('f'), 42 as never), TypeError);
  t.same(fs.trace(), []);
});

t.test('mkdirDurable: fsyncs the first existing ancestor and each created parent', async (t) => {
  const { fs, p } = setup(t, { base: {} });
  const result = await mkdirDurable(fs, p('base', 'a', 'b', 'c'));
  t.same(result.created, [p('base', 'a'), p('base', 'a', 'b'), p('base', 'a', 'b', 'c')]);
  t.same(fs.trace({ mutatingOnly: true }), [
    'mkdir -p <root>/base/a/b/c',
    'syncDir <root>/base',
    'syncDir <root>/base/a',
    'syncDir <root>/base/a/b',
  ]);
  fs.clearTrace();
  t.same((await mkdirDurable(fs, p('base', 'a', 'b', 'c'))).created, []);
  t.same(fs.trace({ mutatingOnly: true }), ['mkdir -p <root>/base/a/b/c'], 'nothing to sync when nothing was created');
  fs.inject({ op: 'syncDir', path: /\/x$/, code: 'EIO' });
  await t.rejects(mkdirDurable(fs, p('base', 'x', 'y')), { code: 'EIO', index: 1, completed: 1 });
});

t.test('syncParent, renameDurable, removeTreeDurable', async (t) => {
  const { fs, p } = setup(t, { a: { f: 'f', tree: { leaf: 'l' } }, b: {} });
  await syncParent(fs, p('a', 'f'));
  await renameDurable(fs, p('a', 'f'), p('a', 'g'));
  await renameDurable(fs, p('a', 'g'), p('b', 'g'));
  await removeTreeDurable(fs, p('a', 'tree'));
  await removeTreeDurable(fs, p('a', 'missing'));
  t.same(fs.trace({ mutatingOnly: true }), [
    'syncDir <root>/a',
    'rename <root>/a/f -> <root>/a/g',
    'syncDir <root>/a',
    'rename <root>/a/g -> <root>/b/g',
    'syncDir <root>/b',
    'syncDir <root>/a',
    'removeTree <root>/a/tree',
    'syncDir <root>/a',
    'removeTree <root>/a/missing',
    'syncDir <root>/a',
  ]);
  t.same(await inner.readdir(p('a')), []);
  t.same(await inner.readdir(p('b')), ['g']);
});

t.test('linkOrCopyBatch links on one device, copies when told the devices differ', async (t) => {
  const { fs, p } = setup(t, { src: { a: 'aaa', b: 'bb' }, linked: {}, copied: {} });
  const pairs = (to: string): [string, string][] => ['a', 'b'].map((n) => [p('src', n), p(to, n)]);
  t.same(await linkOrCopyBatch(fs, pairs('linked'), true), { linked: true, bytesCopied: 0 });
  t.equal((await inner.stat(p('linked', 'a'))).ino, (await inner.stat(p('src', 'a'))).ino, 'a hard link: the same inode');
  t.same(await linkOrCopyBatch(fs, pairs('copied'), false), { linked: false, bytesCopied: 5 });
  t.not((await inner.stat(p('copied', 'a'))).ino, (await inner.stat(p('src', 'a'))).ino, 'a copy: another inode');
  t.equal((await inner.readFile(p('copied', 'b'))).toString(), 'bb');
  t.same(fs.trace().filter((l) => /Batch \[/.test(l)), ['linkBatch [2]', 'copyBatch [2]']);
  fs.clearTrace();
  t.same(await linkOrCopyBatch(fs, [], true), { linked: true, bytesCopied: 0 });
  t.same(fs.trace(), [], 'nothing to do, no call');
});

t.test('linkOrCopyBatch: EXDEV from the kernel anyway removes the links made and copies everything', async (t) => {
  const { fs, p } = setup(t, { src: { a: 'aaa', b: 'bb', c: 'c' }, dst: {} });
  const pairs = ['a', 'b', 'c'].map((n): [string, string] => [p('src', n), p('dst', n)]);
  fs.inject({ op: 'link', path: '/dst/b', code: 'EXDEV' });
  t.same(await linkOrCopyBatch(fs, pairs, true), { linked: false, bytesCopied: 6 });
  for (const n of ['a', 'b', 'c']) t.not((await inner.stat(p('dst', n))).ino, (await inner.stat(p('src', n))).ino, `${n} is a copy`);
  t.same(fs.trace({ mutatingOnly: true }), [
    'link <root>/src/a -> <root>/dst/a',
    'link <root>/src/b -> <root>/dst/b ! EXDEV',
    'unlink <root>/dst/a',
    'unlink <root>/dst/b ! ENOENT',
    'unlink <root>/dst/c ! ENOENT',
    'copy <root>/src/a -> <root>/dst/a',
    'copy <root>/src/b -> <root>/dst/b',
    'copy <root>/src/c -> <root>/dst/c',
  ]);
});

t.test('linkOrCopyBatch: any other link failure rejects as it is', async (t) => {
  const { fs, p } = setup(t, { src: { a: 'a' }, dst: {} });
  fs.inject({ op: 'link', code: 'ENOSPC' });
  await t.rejects(linkOrCopyBatch(fs, [[p('src', 'a'), p('dst', 'a')]], true), { code: 'ENOSPC' });
  t.same(fs.trace({ mutatingOnly: true }).filter((l) => l.startsWith('copy')), [], 'no copy was attempted');
});

t.test('publishDirectory: fsync staging innermost first, rename without replacing, fsync the parent', async (t) => {
  const { fs, p } = setup(t, { out: {} });
  const staging = tempPathFor(p('out', 'dest'));
  await fs.mkdir(staging);
  await fs.mkdir(nodePath.join(staging, 'inner'));
  await fs.writeFile(nodePath.join(staging, 'inner', 'f'), 'x');
  fs.clearTrace();
  await publishDirectory(fs, staging, p('out', 'dest'), { dirs: [nodePath.join(staging, 'inner'), staging], syscall: 'test' });
  t.same(fs.trace().map((l) => l.replace(/\.tmp-[0-9a-f]+/, '.tmp-*')), [
    'syncDirs [2]',
    'syncDir <root>/out/dest.tmp-*/inner',
    'syncDir <root>/out/dest.tmp-*',
    'rename <root>/out/dest.tmp-* -> <root>/out/dest',
    'syncDir <root>/out',
  ]);
  t.same(await inner.readdir(p('out')), ['dest']);
  t.equal((await inner.readFile(p('out', 'dest', 'inner', 'f'))).toString(), 'x');
});

t.test('publishDirectory: anything at the destination, even an empty directory, is EEXIST naming the operation', async (t) => {
  const cases: Parameters<Test['testdir']>[0][] = [{ dest: {} }, { dest: { f: 'f' } }, { dest: 'a file' }];
  for (const existing of cases) {
    const { fs, p } = setup(t, existing);
    const staging = tempPathFor(p('dest'));
    await fs.mkdir(staging);
    await t.rejects(publishDirectory(fs, staging, p('dest'), { dirs: [staging], syscall: 'snapshot' }), { code: 'EEXIST', syscall: 'snapshot', path: p('dest') });
    t.ok((await inner.statOrUndefined(staging)) !== undefined, 'staging is left for the caller to remove');
  }
});

t.test('publishDirectory: replaceEmptyDirectory replaces an empty directory but not a filled one', async (t) => {
  const { fs, p } = setup(t, { empty: {}, full: { f: 'f' } });
  for (const name of ['empty', 'full']) {
    const staging = tempPathFor(p(name));
    await fs.mkdir(staging);
    await fs.writeFile(nodePath.join(staging, 'new'), 'n');
    const publishing = publishDirectory(fs, staging, p(name), { dirs: [staging], syscall: 'restore', replaceEmptyDirectory: true });
    if (name === 'empty') {
      await publishing;
      t.same(await inner.readdir(p('empty')), ['new']);
    } else {
      await t.rejects(publishing, { code: 'EEXIST', syscall: 'restore' });
      t.same(await inner.readdir(p('full')), ['f'], 'the filled directory is untouched');
    }
  }
});

t.test('publishDirectory: a failure before the rename publishes nothing; after it, the destination is removed again', async (t) => {
  for (const [op, nth] of [['syncDir', 1], ['rename', 1], ['syncDir', 2]] as const) {
    const { fs, p } = setup(t, { out: {} });
    const staging = tempPathFor(p('out', 'dest'));
    await fs.mkdir(staging);
    fs.inject({ op, nth, code: 'EIO' });
    await t.rejects(publishDirectory(fs, staging, p('out', 'dest'), { dirs: [staging], syscall: 'test' }), { code: 'EIO' }, `${op} #${nth} fails`);
    t.equal(await inner.statOrUndefined(p('out', 'dest')), undefined, `no destination after ${op} #${nth} failed`);
  }
});

t.test('publishDirectory: an abort between the fsyncs and the rename publishes nothing', async (t) => {
  const { fs, p } = setup(t);
  const staging = tempPathFor(p('dest'));
  await fs.mkdir(staging);
  const ac = new AbortController();
  ac.abort();
  await t.rejects(publishDirectory(fs, staging, p('dest'), { dirs: [staging], syscall: 'test', signal: ac.signal }), { name: 'AbortError' });
  t.equal(await inner.statOrUndefined(p('dest')), undefined);
});

t.test('destinationExists is shaped like the EEXIST Node raises', async (t) => {
  const err = destinationExists('/x/y', 'backupTo');
  t.match(err, { code: 'EEXIST', errno: -17, syscall: 'backupTo', path: '/x/y', message: "EEXIST: file already exists, backupTo '/x/y'" });
  t.ok(err instanceof Error);
});
