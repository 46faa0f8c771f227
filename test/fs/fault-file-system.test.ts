// FaultFileSystem: rules by op, call number, path and batch item; Node-shaped injected
// errors; the simulated power cut; readable traces with path rewriting.
import t, { type Test } from 'tap';
import { constants as osConstants } from 'node:os';
import * as nodePath from 'node:path';
import { FaultFileSystem, replaceRoot } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';

const inner = new NodeFileSystem();

function setup(t: Test, files: Parameters<Test['testdir']>[0] = {}) {
  const root = t.testdir(files);
  const fs = new FaultFileSystem(inner, { rewritePath: replaceRoot(root) });
  return { root, fs, p: (name: string): string => nodePath.join(root, name) };
}

t.test('kind names the wrapped file system', async (t) => {
  t.equal(new FaultFileSystem(inner).kind, 'fault(node)');
});

t.test('the Nth call of an op fails with a Node-shaped error, once', async (t) => {
  const { fs, p } = setup(t, { a: 'a' });
  const fault = fs.inject({ op: 'link', nth: 3, code: 'ENOSPC' });
  await fs.link(p('a'), p('l1'));
  await fs.unlink(p('l1'));
  await fs.link(p('a'), p('l2'));
  const err = await fs.link(p('a'), p('l3')).catch((e: unknown) => e);
  t.match(err, { code: 'ENOSPC', errno: -osConstants.errno.ENOSPC, syscall: 'link', path: p('a'), dest: p('l3'), injected: true });
  t.ok(err instanceof Error);
  t.equal(await inner.statOrUndefined(p('l3')), undefined, 'the faulted call did not reach the disk');
  await fs.link(p('a'), p('l4'));
  t.equal(fault.hits, 1);
});

t.test('a path rule fails every matching call until removed; default code EIO', async (t) => {
  const { fs, p } = setup(t, { 'journal-1': 'j', other: 'o' });
  const fault = fs.inject({ op: 'sync', path: /journal/ });
  await t.rejects(fs.syncFile(p('journal-1')), { code: 'EIO', errno: -osConstants.errno.EIO, syscall: 'fsync' });
  await fs.syncFile(p('other'));
  const h = await fs.open(p('journal-1'), 'r+');
  await t.rejects(h.sync(), { code: 'EIO', path: p('journal-1') }, 'FileHandle.sync is wrapped too');
  await t.rejects(fs.syncBatch([p('other'), p('journal-1')]), { code: 'EIO', index: 1, completed: 1 }, 'so are batch items');
  fault.remove();
  await h.sync();
  await h.close();
  t.equal(fault.hits, 3);

  fs.inject({ op: 'stat', path: 'other', code: 'EACCES' });
  await t.rejects(fs.stat(p('other')), { code: 'EACCES', syscall: 'stat' });
  await fs.stat(p('journal-1'));
  fs.clearFaults();
  await fs.stat(p('other'));
});

t.test('an array of ops and the * wildcard', async (t) => {
  const { fs, p } = setup(t, { a: 'a' });
  fs.inject({ op: ['rename', 'unlink'], code: 'EPERM' });
  await t.rejects(fs.rename(p('a'), p('b')), { code: 'EPERM' });
  await t.rejects(fs.unlink(p('a')), { code: 'EPERM' });
  await fs.readFile(p('a'));
  fs.clearFaults();
  fs.inject({ op: '*', nth: 2 });
  await fs.readFile(p('a'));
  await t.rejects(fs.readdir(p('')), { code: 'EIO', syscall: 'scandir' });
});

t.test('FileHandle reads, writes, truncate, stat and close are gated', async (t) => {
  const { fs, p } = setup(t);
  const h = await fs.open(p('f'), 'w');
  fs.inject({ op: 'write', nth: 2, code: 'ENOSPC' });
  await h.write(Buffer.from('abc'));
  t.throws(() => h.writeSync(Buffer.from('def')), { code: 'ENOSPC' }, 'sync variants throw synchronously');
  h.writeSync(Buffer.from('ghi'));
  fs.inject({ op: 'read', code: 'EIO' });
  t.throws(() => h.readSync(Buffer.alloc(3), 0, 3, 0), { code: 'EIO', syscall: 'read' });
  await t.rejects(h.read(Buffer.alloc(3), 0, 3, 0), { code: 'EIO' });
  fs.inject({ op: ['truncate', 'fstat'], code: 'EROFS' });
  await t.rejects(h.truncate(0), { code: 'EROFS', syscall: 'ftruncate' });
  await t.rejects(h.stat(), { code: 'EROFS', syscall: 'fstat' });
  fs.inject({ op: 'close', code: 'EIO' });
  await t.rejects(h.close(), { code: 'EIO' });
  t.equal((await inner.readFile(p('f'))).toString(), 'abcghi');
});

t.test('batch faults: a chosen item, in stop and continue mode', async (t) => {
  const { fs, p } = setup(t, { s: 's' });
  fs.inject({ op: 'linkBatch', item: 1, code: 'ENOSPC' });
  const pairs = (tag: string) => [0, 1, 2].map((i) => [p('s'), p(`${tag}${i}`)] as const);
  await t.rejects(fs.linkBatch(pairs('a')), { code: 'ENOSPC', index: 1, completed: 1, path: p('s'), dest: p('a1') });
  t.same(await inner.readdir(p('')), ['a0', 's'], 'items before the fault done, none after');

  const result = await fs.linkBatch(pairs('b'), { continueOnError: true });
  t.equal(result.completed, 2);
  t.match(result.items, [{ ok: true }, { ok: false, error: { code: 'ENOSPC', index: 1 } }, { ok: true }]);
  t.same(await inner.readdir(p('')), ['a0', 'b0', 'b2', 's']);
});

t.test('batch faults: a whole call, a path, and element-op rules', async (t) => {
  const { fs, p } = setup(t, { s: 's', taken: 't' });
  fs.inject({ op: 'copyBatch', nth: 1, code: 'EMFILE' });
  await t.rejects(fs.copyBatch([[p('s'), p('c0')]]), { code: 'EMFILE' });
  t.equal(await inner.statOrUndefined(p('c0')), undefined, 'nothing copied');
  await fs.copyBatch([[p('s'), p('c0')]]);

  fs.inject({ op: 'copy', path: 'c2', code: 'ENOSPC' });
  const r = await fs.copyBatch([[p('s'), p('c1')], [p('s'), p('c2')], [p('s'), p('taken')], [p('s'), p('c3')]], { continueOnError: true });
  t.match(r, {
    completed: 2,
    bytes: 2,
    items: [{ ok: true }, { ok: false, error: { code: 'ENOSPC', index: 1, injected: true } }, { ok: false, error: { code: 'EEXIST', index: 2 } }, { ok: true }],
  }, 'injected and real failures keep the caller\'s indices');

  fs.inject({ op: 'syncDirs', path: /sub$/, code: 'EIO' });
  await fs.mkdir(p('sub'));
  await t.rejects(fs.syncDirs([p(''), p('sub')]), { code: 'EIO', index: 1, completed: 1 });

  await t.rejects(fs.linkBatch([[p('s'), p('l0')], [p('s'), p('taken')], [p('s'), p('l2')]]), { code: 'EEXIST', index: 1, completed: 1 });
  t.same(fs.trace().slice(-3), ['linkBatch [3]', 'link <root>/s -> <root>/l0', 'link <root>/s -> <root>/taken ! EEXIST'], 'items after a real failure leave the trace');
});

t.test('crashAfter: a power cut after N mutating calls', async (t) => {
  const { fs, p } = setup(t, { s: 's' });
  fs.crashAfter(2);
  await fs.writeFile(p('one'), '1');
  await fs.readFile(p('one'));
  await fs.mkdir(p('d'));
  t.notOk(fs.crashed);
  t.equal(fs.mutations, 2);
  await t.rejects(fs.rename(p('one'), p('two')), { code: 'CAIRN_INJECTED_FAULT' });
  t.ok(fs.crashed);
  await t.rejects(fs.readFile(p('one')), { code: 'CAIRN_INJECTED_FAULT' }, 'after the cut, reads fail too');
  t.equal((await inner.readFile(p('one'))).toString(), '1', 'the rename never happened');
});

t.test('crashAfter in the middle of a batch', async (t) => {
  const { fs, p } = setup(t, { s: 's' });
  fs.crashAfter(1);
  await t.rejects(fs.linkBatch([[p('s'), p('l0')], [p('s'), p('l1')], [p('s'), p('l2')]]), { code: 'CAIRN_INJECTED_FAULT', index: 1, completed: 1 });
  t.same(await inner.readdir(p('')), ['l0', 's']);
  const h = await inner.open(p('s'), 'r');
  await h.close();
  await t.rejects(fs.open(p('s'), 'r'), { code: 'CAIRN_INJECTED_FAULT' });
});

t.test('the trace: one readable line per call, rewritten paths, failures marked', async (t) => {
  const { fs, p, root } = setup(t, { a: 'a' });
  await fs.mkdir(p('d'));
  await fs.mkdir(p('x/y'), { recursive: true });
  const h = await fs.open(p('d/f'), 'wx');
  await h.write(Buffer.from('data'));
  await h.sync();
  await h.sync(true);
  await h.close();
  await fs.rename(p('d/f'), p('d/g'));
  await fs.syncDir(p('d'));
  await fs.readdir(p('d'));
  fs.inject({ op: 'link', code: 'EXDEV' });
  await t.rejects(fs.link(p('a'), p('d/a')), { code: 'EXDEV' });
  await fs.copyBatch([[p('a'), p('d/c'), 1]]);
  await fs.syncDirs([p('d'), root]);
  const lock = await fs.lock(p('LOCK'));
  await lock.unlock();
  t.same(fs.trace(), [
    'mkdir <root>/d',
    'mkdir -p <root>/x/y',
    'open <root>/d/f (wx)',
    'write <root>/d/f',
    'sync <root>/d/f',
    'datasync <root>/d/f',
    'close <root>/d/f',
    'rename <root>/d/f -> <root>/d/g',
    'syncDir <root>/d',
    'readdir <root>/d',
    'link <root>/a -> <root>/d/a ! EXDEV',
    'copyBatch [1]',
    'copy <root>/a -> <root>/d/c (limit 1)',
    'syncDirs [2]',
    'syncDir <root>/d',
    'syncDir <root>',
    'lock <root>/LOCK',
    'unlock <root>/LOCK',
  ]);
  t.same(fs.trace({ mutatingOnly: true }).slice(0, 6), [
    'mkdir <root>/d',
    'mkdir -p <root>/x/y',
    'open <root>/d/f (wx)',
    'write <root>/d/f',
    'sync <root>/d/f',
    'datasync <root>/d/f',
  ]);
  fs.clearTrace();
  t.same(fs.trace(), []);
});

t.test('inject validates its rule; wrapper methods validate before any I/O', async (t) => {
  const { fs, p } = setup(t);
  t.throws(() => fs.inject({ op: 'link', nth: 0 }), RangeError);
  t.throws(() => fs.inject({ op: 'linkBatch', item: -1 }), RangeError);
  t.throws(() => fs.inject({ op: 'link', code: '' }), TypeError);
  t.throws(() => fs.inject({ op: 'link', item: 0 }), TypeError, 'item needs a batch op');
  t.throws(() => fs.crashAfter(-1), RangeError);
  await t.rejects(fs.mkdir(42 as never), TypeError);
  await t.rejects(fs.copyBatch([[p('a'), p('b'), -1]]), RangeError);
  await t.rejects(fs.linkBatch([[p('a')]] as never), TypeError);
  t.same(fs.trace(), [], 'rejected arguments never reach the gate');
});
