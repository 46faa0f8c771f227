// The FileSystem conformance suite, parameterised by a factory: every implementation
// (node, native) runs the same success and error cases. Each subtest works in its own
// fresh directory, so subtests are independent and may run in any order.
import type { Test } from 'tap';
import { constants as osConstants } from 'node:os';
import * as nodePath from 'node:path';
import type { FileSystem } from '../../lib/fs/file-system.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { exited, firstLine, scriptPath, spawnTs } from '../helpers/spawn-ts.js';

const COPY_METHODS = ['clone', 'copy_file_range', 'readwrite'];
const LOCK_CHILD = scriptPath(import.meta.url, '../helpers/lock-child.ts');

/** Runs the whole suite as subtests of `t` against file systems made by `factory`. */
export function runConformance(t: Test, name: string, factory: () => FileSystem): void {
  const fs = factory();
  const childKind = fs.kind === 'native' ? 'native' : 'node';

  const dir = (t: Test, files: Parameters<Test["testdir"]>[0] = {}): string => t.testdir(files);
  const exists = async (path: string): Promise<boolean> => (await fs.statOrUndefined(path)) !== undefined;
  const text = async (path: string): Promise<string> => (await fs.readFile(path)).toString();

  t.test(`${name}: open, positional and sync read/write, truncate, stat, close`, async (t) => {
    const d = dir(t);
    const p = nodePath.join(d, 'f');
    const h = await fs.open(p, 'wx');
    t.equal(h.path, p);
    t.equal(await h.write(Buffer.from('hello world'), 0, 11, 0), 11);
    t.equal(h.writeSync(Buffer.from('HELLO'), 0, 5, 0), 5);
    await h.sync();
    await h.sync(true);
    t.equal((await h.stat()).size, 11);
    await h.truncate(8);
    t.equal((await h.stat()).size, 8);
    await h.close();

    const r = await fs.open(p, 'r');
    const buf = Buffer.alloc(5);
    t.equal(await r.read(buf, 0, 5, 3), 5);
    t.equal(buf.toString(), 'LO wo');
    t.equal(r.readSync(buf, 0, 5, 6), 2);
    t.equal(buf.subarray(0, 2).toString(), 'wo');
    await r.close();

    const a = await fs.open(p, 'a');
    await a.write(Buffer.from('++'));
    a.writeSync(Buffer.from('--'));
    await a.close();
    t.equal(await text(p), 'HELLO wo++--');

    const rw = await fs.open(p, 'r+');
    await rw.write(Buffer.from('xy'), 0, 2, 1);
    await rw.close();
    t.equal(await text(p), 'HxyLO wo++--');

    const w = await fs.open(p, 'w');
    await w.close();
    t.equal((await fs.stat(p)).size, 0, "'w' truncates");

    await t.rejects(fs.open(p, 'wx'), { code: 'EEXIST' });
    await t.rejects(fs.open(p, 'ax'), { code: 'EEXIST' });
    await t.rejects(fs.open(nodePath.join(d, 'missing'), 'r'), { code: 'ENOENT' });
    await t.rejects(fs.open(nodePath.join(d, 'missing'), 'r+'), { code: 'ENOENT' });
  });

  t.test(`${name}: write() and writeSync() write a whole large buffer`, async (t) => {
    const d = dir(t);
    const big = Buffer.alloc(3 << 20, 7);
    const h = await fs.open(nodePath.join(d, 'big'), 'w');
    t.equal(await h.write(big), big.length);
    t.equal(h.writeSync(big, 0, big.length, big.length), big.length);
    await h.close();
    t.equal((await fs.stat(nodePath.join(d, 'big'))).size, 2 * big.length);
  });

  t.test(`${name}: readFile / writeFile`, async (t) => {
    const d = dir(t);
    const p = nodePath.join(d, 'f');
    await fs.writeFile(p, 'one');
    t.equal(await text(p), 'one');
    await fs.writeFile(p, new Uint8Array([50, 51]));
    t.equal(await text(p), '23');
    await t.rejects(fs.writeFile(p, 'x', { exclusive: true }), { code: 'EEXIST' });
    t.equal(await text(p), '23', 'exclusive write left the file alone');
    await fs.writeFile(nodePath.join(d, 'g'), 'new', { exclusive: true });
    t.equal(await text(nodePath.join(d, 'g')), 'new');
    await t.rejects(fs.readFile(nodePath.join(d, 'missing')), { code: 'ENOENT' });
    await t.rejects(fs.writeFile(nodePath.join(d, 'no', 'f'), 'x'), { code: 'ENOENT' });
  });

  t.test(`${name}: rename, link, unlink`, async (t) => {
    const d = dir(t, { a: 'A', b: 'B' });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => nodePath.join(d, n)) as [string, string, string];
    await fs.link(a, c);
    const [sa, sc] = [await fs.stat(a), await fs.stat(c)];
    t.equal(sa.ino, sc.ino);
    t.equal(sc.nlink, 2);
    await t.rejects(fs.link(a, b), { code: 'EEXIST', syscall: 'link' });
    await t.rejects(fs.link(nodePath.join(d, 'missing'), nodePath.join(d, 'x')), { code: 'ENOENT' });
    await fs.unlink(c);
    t.equal((await fs.stat(a)).nlink, 1);
    await t.rejects(fs.unlink(c), { code: 'ENOENT' });
    await fs.rename(a, b);
    t.equal(await text(b), 'A', 'rename replaces the target');
    t.notOk(await exists(a));
    await t.rejects(fs.rename(a, c), { code: 'ENOENT' });
  });

  t.test(`${name}: renameNoReplace refuses any existing target, even an empty directory`, async (t) => {
    const d = dir(t, { file: 'F', other: 'O', stage: { inner: 'I' }, empty: {} });
    const at = (n: string) => nodePath.join(d, n);
    await t.rejects(fs.renameNoReplace(at('stage'), at('empty')), { code: 'EEXIST', syscall: 'rename', path: at('stage'), dest: at('empty') });
    await t.rejects(fs.renameNoReplace(at('file'), at('other')), { code: 'EEXIST', syscall: 'rename' });
    t.equal(await text(at('stage/inner')), 'I', 'the source directory is untouched');
    t.equal(await text(at('other')), 'O', 'the existing file is untouched');
    t.same(await fs.readdir(at('empty')), [], 'the empty directory is untouched');
    await fs.renameNoReplace(at('stage'), at('published'));
    t.equal(await text(at('published/inner')), 'I', 'a free name is renamed to');
    t.notOk(await exists(at('stage')));
    await t.rejects(fs.renameNoReplace(at('stage'), at('again')), { code: 'ENOENT' });
  });

  t.test(`${name}: mkdir reports what it created, rmdir, removeTree`, async (t) => {
    const d = dir(t, { file: 'x' });
    const one = nodePath.join(d, 'one');
    t.same(await fs.mkdir(one), { created: [one] });
    await t.rejects(fs.mkdir(one), { code: 'EEXIST' });
    await t.rejects(fs.mkdir(nodePath.join(d, 'no', 'parent')), { code: 'ENOENT' });

    const deep = nodePath.join(d, 'x', 'y', 'z');
    t.same(await fs.mkdir(deep, { recursive: true }), {
      created: [nodePath.join(d, 'x'), nodePath.join(d, 'x', 'y'), deep],
    }, 'outermost first');
    t.same(await fs.mkdir(deep, { recursive: true }), { created: [] }, 'nothing created the second time');
    t.same(await fs.mkdir(nodePath.join(d, 'x', 'w'), { recursive: true }), { created: [nodePath.join(d, 'x', 'w')] });
    await t.rejects(fs.mkdir(nodePath.join(d, 'file'), { recursive: true }), { code: 'EEXIST' });
    await t.rejects(fs.mkdir(nodePath.join(d, 'file', 'sub'), { recursive: true }), { code: 'ENOTDIR' });

    await t.rejects(fs.rmdir(nodePath.join(d, 'x')), { code: 'ENOTEMPTY' });
    await fs.rmdir(deep);
    t.notOk(await exists(deep));
    await t.rejects(fs.rmdir(deep), { code: 'ENOENT' });

    await fs.writeFile(nodePath.join(d, 'x', 'y', 'leaf'), 'l');
    await fs.removeTree(nodePath.join(d, 'x'));
    t.notOk(await exists(nodePath.join(d, 'x')));
    await fs.removeTree(nodePath.join(d, 'x'));
    await fs.removeTree(nodePath.join(d, 'file'));
    t.notOk(await exists(nodePath.join(d, 'file')), 'removeTree removes a single file');
  });

  t.test(`${name}: readdir is sorted by byte order`, async (t) => {
    const names = ['b', 'B', 'a', 'é', '_', 'a0', 'Z'];
    const d = dir(t, Object.fromEntries(names.map((n) => [n, n])));
    t.same(await fs.readdir(d), ['B', 'Z', '_', 'a', 'a0', 'b', 'é']);
    await t.rejects(fs.readdir(nodePath.join(d, 'missing')), { code: 'ENOENT' });
    await t.rejects(fs.readdir(nodePath.join(d, 'a')), { code: 'ENOTDIR' });
  });

  t.test(`${name}: stat and statOrUndefined`, async (t) => {
    const d = dir(t, { f: '12345', sub: {} });
    const s = await fs.stat(nodePath.join(d, 'f'));
    t.equal(s.size, 5);
    t.ok(s.isFile);
    t.notOk(s.isDirectory);
    t.equal(s.nlink, 1);
    t.type(s.mtimeMs, 'number');
    t.type(s.dev, 'number');
    t.ok((await fs.stat(nodePath.join(d, 'sub'))).isDirectory);
    t.equal(await fs.statOrUndefined(nodePath.join(d, 'missing')), undefined);
    t.equal((await fs.statOrUndefined(nodePath.join(d, 'f')))?.size, 5);
    await t.rejects(fs.stat(nodePath.join(d, 'missing')), { code: 'ENOENT' });
    await t.rejects(fs.statOrUndefined(nodePath.join(d, 'f', 'below')), { code: 'ENOTDIR' }, 'only ENOENT is swallowed');
  });

  t.test(`${name}: syncFile and syncDir`, async (t) => {
    const d = dir(t, { f: 'x', sub: {} });
    await fs.syncFile(nodePath.join(d, 'f'));
    await fs.syncFile(nodePath.join(d, 'f'), { dataOnly: true });
    await fs.syncDir(d);
    await fs.syncDir(nodePath.join(d, 'sub'));
    await t.rejects(fs.syncFile(nodePath.join(d, 'missing')), { code: 'ENOENT' });
    await t.rejects(fs.syncDir(nodePath.join(d, 'missing')), { code: 'ENOENT' });
  });

  t.test(`${name}: sameDevice`, async (t) => {
    const d = dir(t, { a: 'a', sub: { b: 'b' } });
    t.equal(await fs.sameDevice(nodePath.join(d, 'a'), nodePath.join(d, 'sub', 'b')), true);
    await t.rejects(fs.sameDevice(nodePath.join(d, 'a'), nodePath.join(d, 'missing')), { code: 'ENOENT' });
  });

  t.test(`${name}: linkBatch`, async (t) => {
    const d = dir(t, { s0: '0', s1: '1', s2: '2', taken: 'T' });
    const p = (n: string): string => nodePath.join(d, n);
    const ok = await fs.linkBatch([[p('s0'), p('l0')], [p('s1'), p('l1')]]);
    t.equal(ok.completed, 2);
    t.same(ok.items.map((i) => i.ok), [true, true]);
    t.equal(ok.bytes, 0);
    t.equal((await fs.stat(p('l1'))).ino, (await fs.stat(p('s1'))).ino);
    t.same(await fs.linkBatch([]), { completed: 0, items: [], bytes: 0 });

    await t.rejects(fs.linkBatch([[p('s0'), p('m0')], [p('s1'), p('taken')], [p('s2'), p('m2')]]), {
      code: 'EEXIST', index: 1, completed: 1,
    });
    // Items after the failure may have been attempted (NativeFileSystem runs several at
    // once), so only the prefix is checked here.
    t.ok(await exists(p('m0')), 'the item before the failure was linked');
    t.equal(await text(p('taken')), 'T', 'the existing name is untouched');

    const cont = await fs.linkBatch(
      [[p('s0'), p('n0')], [p('missing'), p('n1')], [p('s1'), p('taken')], [p('s2'), p('n3')]],
      { continueOnError: true },
    );
    t.equal(cont.completed, 2);
    t.same(cont.items.map((i) => i.ok), [true, false, false, true]);
    const [, e1, e2] = cont.items;
    t.match(e1, { ok: false, error: { code: 'ENOENT', index: 1 } });
    t.match(e2, { ok: false, error: { code: 'EEXIST', index: 2 } });
    t.ok(await exists(p('n3')), 'continue mode attempts items after a failure');
  });

  t.test(`${name}: copyBatch whole files and prefixes`, async (t) => {
    const content = Buffer.from('0123456789'.repeat(300_000));
    const d = dir(t, { small: 'abcdef' });
    const p = (n: string): string => nodePath.join(d, n);
    await fs.writeFile(p('big'), content);

    const r = await fs.copyBatch([[p('big'), p('c-big')], [p('small'), p('c-small')]]);
    t.equal(r.completed, 2);
    t.equal(r.bytes, content.length + 6);
    t.ok((await fs.readFile(p('c-big'))).equals(content));
    t.equal(await text(p('c-small')), 'abcdef');
    for (const item of r.items) {
      t.ok(item.ok && item.method !== undefined && COPY_METHODS.includes(item.method), `method reported: ${item.ok ? item.method : ''}`);
    }
    t.not((await fs.stat(p('c-big'))).ino, (await fs.stat(p('big'))).ino, 'a copy is a new file');

    const limited = await fs.copyBatch([
      [p('big'), p('l-1001'), 1001],
      [p('small'), p('l-0'), 0],
      [p('small'), p('l-big'), 1 << 20],
      [p('big'), p('l-opt')],
    ], { limitBytes: 4 });
    t.same(limited.items.map((i) => (i.ok ? i.bytes : -1)), [1001, 0, 6, 4]);
    t.equal(limited.bytes, 1011);
    t.ok((await fs.readFile(p('l-1001'))).equals(content.subarray(0, 1001)), 'prefix content exact');
    t.equal((await fs.stat(p('l-0'))).size, 0);
    t.equal(await text(p('l-big')), 'abcdef', 'a limit beyond the end copies the whole file');
    t.equal(await text(p('l-opt')), '0123', 'options.limitBytes applies when the item has none');
  });

  t.test(`${name}: copyBatch errors`, async (t) => {
    const d = dir(t, { a: 'aaa', b: 'bbb', taken: 'T' });
    const p = (n: string): string => nodePath.join(d, n);
    await t.rejects(fs.copyBatch([[p('a'), p('ca')], [p('b'), p('taken')], [p('b'), p('cb')]]), {
      code: 'EEXIST', index: 1, completed: 1,
    });
    t.equal(await text(p('taken')), 'T', 'copy onto an existing file leaves it alone');
    t.equal(await text(p('ca')), 'aaa');
    t.ok(!(await exists(p('cb'))) || (await text(p('cb'))) === 'bbb', 'an item after the failure is absent or complete');
    await t.rejects(fs.copyBatch([[p('taken'), p('x'), 2], [p('missing'), p('cm')]]), { code: 'ENOENT', index: 1, completed: 1 });
    t.notOk(await exists(p('cm')), 'no destination for a missing source');

    const cont = await fs.copyBatch([[p('missing'), p('d0')], [p('a'), p('d1')], [p('a'), p('taken')]], { continueOnError: true });
    t.equal(cont.completed, 1);
    t.equal(cont.bytes, 3);
    t.match(cont.items, [{ ok: false, error: { code: 'ENOENT', index: 0 } }, { ok: true, bytes: 3 }, { ok: false, error: { code: 'EEXIST', index: 2 } }]);
  });

  t.test(`${name}: syncBatch and syncDirs`, async (t) => {
    const d = dir(t, { a: 'a', b: 'b', sub: {} });
    const p = (n: string): string => nodePath.join(d, n);
    t.equal((await fs.syncBatch([p('a'), p('b')])).completed, 2);
    t.equal((await fs.syncBatch([p('a')], { dataOnly: true })).completed, 1);
    await t.rejects(fs.syncBatch([p('a'), p('missing'), p('b')]), { code: 'ENOENT', index: 1, completed: 1 });
    const cont = await fs.syncBatch([p('missing'), p('b')], { continueOnError: true });
    t.match(cont, { completed: 1, items: [{ ok: false, error: { code: 'ENOENT', index: 0 } }, { ok: true }] });

    t.equal((await fs.syncDirs([d, p('sub')])).completed, 2);
    await t.rejects(fs.syncDirs([d, p('missing')]), { code: 'ENOENT', index: 1, completed: 1 });
    const dirs = await fs.syncDirs([p('missing'), d], { continueOnError: true });
    t.match(dirs, { completed: 1, items: [{ ok: false, error: { code: 'ENOENT', index: 0 } }, { ok: true }] });
  });

  t.test(`${name}: lock in one process`, async (t) => {
    const d = dir(t);
    const p = nodePath.join(d, 'LOCK');
    const held = await fs.lock(p);
    t.equal(held.path, p);
    t.ok(await exists(p), 'the lock file is created');
    await t.rejects(fs.lock(p), { code: 'CAIRN_LOCKED' });
    await t.rejects(factory().lock(p), { code: 'CAIRN_LOCKED' }, 'another instance in the same process is refused too');
    await held.unlock();
    const again = await fs.lock(p);
    await again.unlock();
    await t.rejects(fs.lock(nodePath.join(d, 'missing', 'LOCK')), { code: 'ENOENT' });
  });

  t.test(`${name}: lock against a child process`, async (t) => {
    const d = dir(t);
    const p = nodePath.join(d, 'LOCK');

    const holder = spawnTs(LOCK_CHILD, [childKind, 'hold', p]);
    t.teardown(() => void holder.kill('SIGKILL'));
    t.equal(await firstLine(holder), 'locked', 'the child holds the lock');
    await t.rejects(fs.lock(p), { code: 'CAIRN_LOCKED' }, 'refused while the child holds it');
    holder.kill('SIGKILL');
    await exited(holder);
    const mine = await fs.lock(p);
    t.pass('taken after the child was killed without unlocking');

    const tryer = spawnTs(LOCK_CHILD, [childKind, 'try', p]);
    t.equal(await firstLine(tryer), 'CAIRN_LOCKED', 'the child is refused while we hold it');
    await exited(tryer);
    await mine.unlock();

    const polite = spawnTs(LOCK_CHILD, [childKind, 'hold', p]);
    t.equal(await firstLine(polite), 'locked', 'the child takes it after we unlock');
    polite.stdin.end();
    await exited(polite);
    await (await fs.lock(p)).unlock();
    t.pass('taken again after the child exited normally');
  });

  t.test(`${name}: arguments are validated before any I/O`, async (t) => {
    const d = dir(t, { src: 'data' });
    const p = (n: string): string => nodePath.join(d, n);
    const bad: unknown[] = [undefined, 42, '', 'a\0b', null];
    const call = (f: (x: never) => Promise<unknown>, x: unknown): Promise<unknown> => f(x as never);
    for (const value of bad) {
      await t.rejects(call((x) => fs.open(x, 'r'), value), TypeError);
      await t.rejects(call((x) => fs.readFile(x), value), TypeError);
      await t.rejects(call((x) => fs.mkdir(x, { recursive: true }), value), TypeError);
      await t.rejects(call((x) => fs.link(p('src'), x), value), TypeError);
      await t.rejects(call((x) => fs.rename(x, p('to')), value), TypeError);
      await t.rejects(call((x) => fs.renameNoReplace(p('from'), x), value), TypeError);
      await t.rejects(call((x) => fs.syncDir(x), value), TypeError);
      await t.rejects(call((x) => fs.lock(x), value), TypeError);
      await t.rejects(call((x) => fs.sameDevice(d, x), value), TypeError);
      await t.rejects(call((x) => fs.syncBatch([d, x]), value), TypeError);
      await t.rejects(call((x) => fs.syncDirs([d, x]), value), TypeError);
    }
    await t.rejects(fs.open(p('src'), 'rw' as never), TypeError);
    await t.rejects(fs.linkBatch('nope' as never), TypeError);
    await t.rejects(fs.linkBatch([[p('src')]] as never), TypeError);
    await t.rejects(fs.linkBatch([[p('src'), p('l0')], [p('src'), 7]] as never), TypeError);
    await t.rejects(fs.linkBatch([[p('src'), p('l1')]], { continueOnError: 'yes' } as never), TypeError);
    await t.rejects(fs.copyBatch([[p('src'), p('c0')], [p('src'), p('c1'), -1]]), RangeError);
    await t.rejects(fs.copyBatch([[p('src'), p('c2'), 1.5]]), RangeError);
    await t.rejects(fs.copyBatch([[p('src'), p('c3'), '4']] as never), TypeError);
    await t.rejects(fs.copyBatch([[p('src'), p('c4')]], { limitBytes: -5 }), RangeError);
    await t.rejects(fs.writeFile(p('w'), 5 as never), TypeError);
    t.same(await fs.readdir(d), ['src'], 'no link, copy or file was made by a rejected call');
    t.notOk(await exists(p('x')));
  });

  t.test(`${name}: real ENOSPC and EXDEV (tmpfs as root, else injected)`, async (t) => {
    const d = dir(t);
    const src = nodePath.join(d, 'nine-mib');
    await fs.writeFile(src, Buffer.alloc(9 << 20, 1));
    const small = nodePath.join(d, 'small');
    await fs.writeFile(small, 'small');

    const mounted = mountTmpfs(t);
    let target: FileSystem = fs;
    let other: string;
    if (mounted === undefined) {
      t.comment('no tmpfs (not root, or CAIRN_TEST_NO_MOUNT=1): ENOSPC and EXDEV are injected through FaultFileSystem');
      const faults = new FaultFileSystem(fs);
      faults.inject({ op: 'copy', path: 'full', code: 'ENOSPC' });
      faults.inject({ op: 'link', path: 'other-device', code: 'EXDEV' });
      target = faults;
      other = nodePath.join(d, 'other-device');
      await fs.mkdir(other);
    } else {
      t.comment(`root: real tmpfs mounted at ${mounted}`);
      other = nodePath.join(mounted, 'other-device');
      await fs.mkdir(other);
    }

    const full = nodePath.join(other, 'full');
    await t.rejects(target.copyBatch([[src, full]]), { code: 'ENOSPC', index: 0, completed: 0 });
    t.notOk(await exists(full), 'the partial copy was removed');
    t.same(await fs.readdir(other), []);

    const linked = nodePath.join(other, 'linked');
    await t.rejects(target.linkBatch([[small, linked]]), { code: 'EXDEV', index: 0, completed: 0, errno: -osConstants.errno.EXDEV });
    t.notOk(await exists(linked));
    if (mounted !== undefined) {
      t.equal(await fs.sameDevice(src, other), false, 'different devices');
      const copied = await fs.copyBatch([[small, nodePath.join(other, 'copied')]]);
      t.equal(copied.bytes, 5, 'copying across devices works where linking cannot');
    }
  });
}
