// durable.ts through the fault wrapper: the exact protocol (as a trace), and what a failure
// or a crash at each step leaves behind: never a partial file, never a stray temp file.
import t, { type Test } from 'tap';
import * as nodePath from 'node:path';
import { FaultFileSystem, replaceRoot, type FaultOp } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { mkdirDurable, removeTreeDurable, renameDurable, syncParent, writeFileAtomic } from '../../lib/fs/durable.js';

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
