// Direct tests of the C++ addon through the raw binding: errno -> code mapping, error
// fields, batch positions, copy methods, big batches off the main thread, flock locks,
// and the loader. Behaviour shared with NodeFileSystem lives in the conformance suite.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import type { BatchItemError } from '../../lib/fs/file-system.js';
import {
  COPY_METHODS,
  loadNative,
  packageRoot,
  requireNative,
  type NativeBatchResult,
  type NativeBinding,
} from '../../lib/fs/native-binding.js';
import { NativeFileSystem } from '../../lib/fs/native-file-system.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { turnCounter } from '../helpers/turns.js';

const run = promisify(execFile);
const native = requireNative();
const { errno: E } = os.constants;

/** Awaits a rejection and returns it as a batch error (the test fails if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<BatchItemError> {
  try {
    await promise;
  } catch (err) {
    return err as BatchItemError;
  }
  throw new Error('expected a rejection');
}

type Fixture = { [name: string]: string | Buffer | Fixture };

/**
 * A fresh directory under `parent` holding `files`, removed after the test. Unique per
 * call (unlike t.testdir), so two runs of this file in one tree cannot collide on paths
 * or on lock files.
 */
function scratch(t: Test, files: Fixture = {}, parent = os.tmpdir()): string {
  const dir = fs.mkdtempSync(nodePath.join(parent, 'cairn-native-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (at: string, spec: Fixture): void => {
    for (const [name, content] of Object.entries(spec)) {
      const path = nodePath.join(at, name);
      if (typeof content === 'string' || Buffer.isBuffer(content)) {
        fs.writeFileSync(path, content);
      } else {
        fs.mkdirSync(path);
        write(path, content);
      }
    }
  };
  write(dir, files);
  return dir;
}

/** A copy batch's per-item bytes and method names, read from the compact result. */
function copied(result: NativeBatchResult): { bytes: number; method: string | undefined }[] {
  const { itemBytes, methods } = result;
  if (itemBytes === undefined || methods === undefined) throw new Error('a copy batch reports per-item bytes and methods');
  return Array.from(itemBytes, (bytes, i) => ({ bytes, method: COPY_METHODS[methods[i] as number] }));
}

/** A scratch directory on tmpfs (/dev/shm): another device than os.tmpdir() on this machine. */
function otherDeviceDir(t: Test): string {
  return scratch(t, {}, '/dev/shm');
}

t.test('errno maps to Node codes with Node error fields', async (t) => {
  const dir = scratch(t, { a: 'A', b: 'B', file: 'F', sub: {} });
  const p = (name: string): string => nodePath.join(dir, name);

  const missing = await rejection(native.linkBatch([p('nope')], [p('x')], false));
  t.ok(missing instanceof Error, 'an Error instance');
  t.equal(missing.code, 'ENOENT');
  t.equal(missing.errno, -E.ENOENT, 'errno is negative, as in Node');
  t.equal(missing.syscall, 'link');
  t.equal(missing.path, p('nope'));
  t.equal(missing.dest, p('x'));

  const exists = await rejection(native.linkBatch([p('a')], [p('b')], false));
  t.equal(exists.code, 'EEXIST');
  t.equal(exists.errno, -E.EEXIST);

  const notDir = await rejection(native.linkBatch([p('a')], [p('file/inside')], false));
  t.equal(notDir.code, 'ENOTDIR');
  t.equal(notDir.errno, -E.ENOTDIR);

  const isDir = await rejection(native.copyBatch([p('sub')], [p('sub-copy')], [-1], false));
  t.equal(isDir.code, 'EISDIR');
  t.notOk(fs.existsSync(p('sub-copy')), 'no destination is created for a directory source');

  const crossDevice = otherDeviceDir(t);
  const exdev = await rejection(native.linkBatch([p('a')], [nodePath.join(crossDevice, 'a')], false));
  t.equal(exdev.code, 'EXDEV');

  const openDest = await rejection(native.copyBatch([p('a')], [p('b')], [-1], false));
  t.equal(openDest.code, 'EEXIST');
  t.equal(openDest.syscall, 'open');
  t.equal(openDest.path, p('b'), 'the failing open names the destination');
  t.equal(fs.readFileSync(p('b'), 'utf8'), 'B', 'an existing destination is left alone');

  const syncMissing = await rejection(native.syncBatch([p('nope')], false, false));
  t.match(syncMissing, { code: 'ENOENT', syscall: 'open', path: p('nope') });
  const syncFileAsDir = await rejection(native.syncDirs([p('file')], false));
  t.match(syncFileAsDir, { code: 'ENOTDIR', syscall: 'open', path: p('file') });
  const statMissing = await rejection(native.sameDevice(p('a'), p('nope')));
  t.match(statMissing, { code: 'ENOENT', syscall: 'stat', path: p('nope') });
});

t.test('renameNoReplace is one atomic renameat2 on ext4 and tmpfs', async (t) => {
  const dirs = [scratch(t, { stage: { f: 'x' }, empty: {} })];
  const mount = mountTmpfs(t, 1);
  if (mount !== undefined) dirs.push(scratch(t, { stage: { f: 'x' }, empty: {} }, mount));
  for (const dir of dirs) {
    const p = (name: string): string => nodePath.join(dir, name);
    const refused = await rejection(native.renameNoReplace(p('stage'), p('empty')));
    t.match(refused, { code: 'EEXIST', syscall: 'rename', path: p('stage'), dest: p('empty') }, 'an empty directory is not replaced');
    t.equal(await native.renameNoReplace(p('stage'), p('done')), true, 'supported here: true, not the fallback signal');
    t.equal(fs.readFileSync(p('done/f'), 'utf8'), 'x');
  }
});

t.test('stop mode rejects with index and completed; continue mode reports the failures', async (t) => {
  const dir = scratch(t, { a: 'A', b: 'B', c: 'C', taken: 'T' });
  const p = (name: string): string => nodePath.join(dir, name);
  const froms = [p('a'), p('b'), p('c')];

  const stopped = await rejection(native.linkBatch(froms, [p('a1'), p('taken'), p('c1')], false));
  t.match(stopped, { code: 'EEXIST', index: 1, completed: 1, path: p('b'), dest: p('taken') });
  t.ok(fs.existsSync(p('a1')), 'the item before the failure was done');

  const result = await native.linkBatch(froms, [p('a2'), p('taken'), p('c2')], true);
  t.equal(result.completed, 2);
  t.equal(result.bytes, 0);
  t.equal(result.failures.length, 1, 'only the failed item is reported');
  t.match(result.failures[0], { code: 'EEXIST', index: 1, syscall: 'link' });
  t.equal(result.itemBytes, undefined, 'no per-item detail for links');
  t.ok(fs.existsSync(p('c2')), 'continue mode attempted the item after the failure');

  const syncs = await native.syncBatch([p('a'), p('nope'), p('b')], true, true);
  t.equal(syncs.completed, 2);
  t.match(syncs.failures, [{ code: 'ENOENT', index: 1 }]);
  t.equal(syncs.bytes, 0);
});

t.test('paths may come as one NUL-joined string', async (t) => {
  const dir = scratch(t, { a: 'A', b: 'B', sub: {} });
  const p = (name: string): string => nodePath.join(dir, name);

  const linked = await native.linkBatch(`${p('a')}\0${p('b')}`, `${p('a1')}\0${p('b1')}`, false);
  t.equal(linked.completed, 2);
  t.equal(fs.statSync(p('b1')).ino, fs.statSync(p('b')).ino, 'the second pair was linked');
  t.match(await rejection(native.syncDirs(`${dir}\0${p('nope')}`, false)), { code: 'ENOENT', index: 1, path: p('nope') });
  t.same(await native.syncDirs('', false), { completed: 0, bytes: 0, failures: [] }, '"" is the empty list');
  t.equal((await native.syncBatch(p('a'), false, false)).completed, 1, 'one path without a separator');

  const raw = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.throws(() => raw.syncDirs?.(`${dir}\0\0${dir}`, false), TypeError, 'an empty path between separators');
  t.throws(() => raw.syncDirs?.(`${dir}\0`, false), TypeError, 'a trailing separator');
  t.throws(() => raw.linkBatch?.(`${p('a')}\0${p('b')}`, p('c'), false), RangeError, 'lists of different lengths');
});

t.test('parallel batches report the lowest failing index and a clean prefix', async (t) => {
  const count = 400;
  const failing = [37, 38, 201, 399];
  const names = Array.from({ length: count }, (_, i) => `f${i}`);
  // Destinations in several directories, so the link batch runs on several threads.
  const outDirs = Object.fromEntries(Array.from({ length: 8 }, (_, d) => [`s${d}`, {}]));
  const dir = scratch(t, { src: 'S', out: outDirs, keep: Object.fromEntries(names.map((n) => [n, n])) });
  const out = (i: number): string => nodePath.join(dir, 'out', `s${i % 8}`, `l${i}`);
  // Every listed index already has its destination, so exactly those links fail.
  for (const i of failing) fs.writeFileSync(out(i), 'taken');
  const froms = new Array<string>(count).fill(nodePath.join(dir, 'src'));
  const tos = Array.from({ length: count }, (_, i) => out(i));

  const stopped = await rejection(native.linkBatch(froms, tos, false));
  t.match(stopped, { code: 'EEXIST', index: 37, completed: 37, dest: out(37) });
  t.ok(tos.slice(0, 37).every((to) => fs.existsSync(to)), 'every item below the failure was linked');

  const syncPaths = names.map((n) => nodePath.join(dir, 'keep', n));
  for (const i of failing) syncPaths[i] = nodePath.join(dir, 'missing', `m${i}`);
  const syncs = await native.syncBatch(syncPaths, false, true);
  t.equal(syncs.completed, count - failing.length);
  t.same(syncs.failures.map((e) => e.index), failing, 'failures in index order');
  t.same(syncs.failures.map((e) => e.path), failing.map((i) => syncPaths[i]), 'each failure names its own path');
  t.match(await rejection(native.syncBatch(syncPaths, false, false)), { code: 'ENOENT', index: 37, completed: 37 });
  t.match(await rejection(native.syncDirs(syncPaths.map(() => dir).concat(nodePath.join(dir, 'nope')), false)), {
    index: count,
    completed: count,
  });
});

t.test('with UV_THREADPOOL_SIZE=1 a stopped batch attempts nothing after the failure', async (t) => {
  const dir = scratch(t, { src: 'S', taken: 'T' });
  const froms = [0, 1, 2, 3].map(() => nodePath.join(dir, 'src'));
  const tos = ['c0', 'taken', 'c2', 'c3'].map((n) => nodePath.join(dir, n));
  const root = packageRoot();
  const child = `require(${JSON.stringify(nodePath.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)})
    .copyBatch(${JSON.stringify(froms)}, ${JSON.stringify(tos)}, [-1, -1, -1, -1], false)
    .then(() => console.log('resolved'), (e) => console.log(e.code, e.index, e.completed));`;
  const { stdout } = await run(process.execPath, ['-e', child], { env: { ...process.env, UV_THREADPOOL_SIZE: '1' } });
  t.equal(stdout.trim(), 'EEXIST 1 1');
  t.equal(fs.readFileSync(tos[0] as string, 'utf8'), 'S');
  t.notOk(fs.existsSync(tos[2] as string), 'one thread: no item after the failure was attempted');
  t.notOk(fs.existsSync(tos[3] as string));
});

t.test('copies report method and bytes and preserve content and mode', async (t) => {
  const content = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
  const dir = scratch(t, { src: content, empty: '' });
  const p = (name: string): string => nodePath.join(dir, name);
  fs.chmodSync(p('src'), 0o600);

  const whole = await native.copyBatch([p('src'), p('empty')], [p('whole'), p('empty-copy')], [-1, -1], false);
  const [first, second] = copied(whole);
  t.equal(whole.completed, 2);
  t.equal(first?.bytes, content.length);
  t.ok(first?.method === 'clone' || first?.method === 'copy_file_range', `same-device copy in the kernel (${first?.method})`);
  t.equal(second?.bytes, 0);
  t.equal(whole.bytes, content.length);
  t.ok(fs.readFileSync(p('whole')).equals(content), 'content copied exactly');
  t.equal(fs.statSync(p('whole')).mode & 0o777, 0o600, "the copy takes the source's mode");
  t.equal(fs.statSync(p('empty-copy')).size, 0);

  const prefix = await native.copyBatch([p('src')], [p('prefix')], [1_000_001], false);
  t.equal(copied(prefix)[0]?.bytes, 1_000_001);
  t.not(copied(prefix)[0]?.method, 'clone', 'a limited copy never clones');
  t.ok(fs.readFileSync(p('prefix')).equals(content.subarray(0, 1_000_001)));

  const cross = nodePath.join(otherDeviceDir(t), 'copy');
  const crossResult = await native.copyBatch([p('src')], [cross], [-1], false);
  // Across different file system types (ext4 -> tmpfs here) copy_file_range says EXDEV
  // and the copy falls back to read/write; between two tmpfs mounts the kernel may do it.
  t.match(copied(crossResult)[0], { bytes: content.length, method: /^(readwrite|copy_file_range)$/ });
  t.ok(fs.readFileSync(cross).equals(content));

  // procfs reports size 0, so copy_file_range copies nothing; read/write finds the content.
  const proc = await native.copyBatch(['/proc/self/status'], [p('status')], [-1], false);
  t.equal(copied(proc)[0]?.method, 'readwrite');
  t.ok(fs.statSync(p('status')).size > 0, 'the procfs content was copied');
});

t.test('a copy that fails midway removes its partial destination', async (t) => {
  const dir = scratch(t);
  const dest = nodePath.join(dir, 'mem');
  // Reading /proc/self/mem at offset 0 (never mapped) fails with EIO after the
  // destination was created: a real mid-copy failure without fault injection.
  const failed = await rejection(native.copyBatch(['/proc/self/mem'], [dest], [4096], false));
  t.match(failed, { code: 'EIO', syscall: 'read', path: '/proc/self/mem', index: 0, completed: 0 });
  t.notOk(fs.existsSync(dest), 'the partial copy was unlinked');
});

t.test('a 10,000-item linkBatch', async (t) => {
  const dir = scratch(t, { src: 'shared', out: {} });
  const count = 10_000;
  const froms = new Array<string>(count).fill(nodePath.join(dir, 'src'));
  const tos = Array.from({ length: count }, (_, i) => nodePath.join(dir, 'out', `l${i}`));
  const result = await native.linkBatch(froms, tos, false);
  t.equal(result.completed, count);
  t.same(result.failures, [], 'no item failed');
  t.equal(fs.statSync(nodePath.join(dir, 'src')).nlink, count + 1);
  t.equal(fs.readdirSync(nodePath.join(dir, 'out')).length, count);
});

t.test('the event loop keeps turning while a large copy runs', async (t) => {
  const chunk = Buffer.alloc(8 * 1024 * 1024, 7);
  const dir = scratch(t, { a: chunk, b: chunk, c: chunk, d: chunk });
  const names = ['a', 'b', 'c', 'd'];
  const copy = native.copyBatch(
    names.map((n) => nodePath.join(dir, n)),
    names.map((n) => nodePath.join(dir, `${n}.copy`)),
    names.map(() => chunk.length),
    false,
  );
  const counter = turnCounter();
  const result = await copy;
  const ticks = counter.stop();
  t.equal(result.bytes, 4 * chunk.length);
  t.ok(ticks > 0, `setImmediate ran ${ticks} times while the copy was in flight`);
});

t.test('flock locks: exclusive in and across processes, unlock then relock', async (t) => {
  const dir = scratch(t);
  const lockPath = nodePath.join(dir, 'LOCK');

  const handle = await native.lock(lockPath);
  t.type(handle, 'number');
  t.ok(fs.existsSync(lockPath), 'the lock file is created');
  t.match(await rejection(native.lock(lockPath)), { code: 'CAIRN_LOCKED', path: lockPath }, 'a second open in this process is refused');

  const root = packageRoot();
  const child = `require(${JSON.stringify(nodePath.join(root, 'node_modules', 'node-gyp-build'))})(${JSON.stringify(root)})
    .lock(${JSON.stringify(lockPath)}).then(() => console.log('acquired'), (e) => console.log(e.code));`;
  const { stdout: whileHeld } = await run(process.execPath, ['-e', child]);
  t.equal(whileHeld.trim(), 'CAIRN_LOCKED', 'another process is refused while held');

  await native.unlock(handle);
  t.match(await rejection(native.unlock(handle)), { code: 'EBADF' }, 'a handle unlocks once');
  t.match(await rejection(native.unlock(0)), { code: 'EBADF' }, 'a handle lock() never gave out (stdin) is refused');

  const { stdout: afterUnlock } = await run(process.execPath, ['-e', child]);
  t.equal(afterUnlock.trim(), 'acquired', 'another process gets it after unlock');
  const again = await native.lock(lockPath);
  await native.unlock(again);
});

t.test('the binding checks its own arguments synchronously', async (t) => {
  const raw = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  t.throws(() => raw.linkBatch?.(42, ['b'], false), TypeError);
  t.throws(() => raw.linkBatch?.(['a'], ['b', 'c'], false), RangeError);
  t.throws(() => raw.linkBatch?.(['a'], ['b'], 'yes'), TypeError);
  t.throws(() => raw.syncBatch?.(['a\0b'], false, false), TypeError);
  t.throws(() => raw.copyBatch?.(['a'], ['b'], [-2], false), RangeError);
  t.throws(() => raw.copyBatch?.(['a'], ['b'], [1.5], false), RangeError);
  t.throws(() => raw.copyBatch?.(['a'], ['b'], [], false), RangeError);
  t.throws(() => raw.unlock?.('3'), TypeError);
});

t.test('NativeFileSystem validates before calling native code', async (t) => {
  const calls: string[] = [];
  const record = (name: string) => async (): Promise<never> => {
    calls.push(name);
    throw new Error('native code must not be reached');
  };
  const fake: NativeBinding = {
    linkBatch: record('linkBatch'),
    copyBatch: record('copyBatch'),
    syncBatch: record('syncBatch'),
    syncDirs: record('syncDirs'),
    lock: record('lock'),
    unlock: record('unlock'),
    sameDevice: record('sameDevice'),
    renameNoReplace: record('renameNoReplace'),
  };
  const nfs = new NativeFileSystem(fake);
  const bad = nfs as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  await t.rejects(nfs.copyBatch([['a', 'b', -1]]), RangeError);
  await t.rejects(nfs.copyBatch([['a', 'b', 2 ** 53]]), RangeError);
  await t.rejects(bad.copyBatch!([['a']]), TypeError);
  await t.rejects(bad.linkBatch!([['a', '']]), TypeError);
  await t.rejects(bad.syncBatch!(['a'], { dataOnly: 'yes' }), TypeError);
  await t.rejects(bad.syncDirs!(['a'], { continueOnError: 1 }), TypeError);
  await t.rejects(bad.lock!(42), TypeError);
  await t.rejects(bad.sameDevice!('a', ''), TypeError);
  await t.rejects(bad.renameNoReplace!('a', 'b\0c'), TypeError);
  t.same(calls, [], 'no native call was made');
});

t.test('NativeFileSystem maps lock contention to CairnError and unlocks once', async (t) => {
  const nfs = new NativeFileSystem();
  const dir = scratch(t, { a: 'A' });
  const lockPath = nodePath.join(dir, 'LOCK');
  const held = await nfs.lock(lockPath);
  const refused = await rejection(nfs.lock(lockPath));
  t.equal(refused.code, 'CAIRN_LOCKED');
  t.equal(refused.name, 'CairnError');
  await held.unlock();
  await held.unlock();
  const again = await nfs.lock(lockPath);
  await again.unlock();
  t.equal(await nfs.sameDevice(dir, nodePath.join(dir, 'a')), true);
  t.equal(await nfs.sameDevice(dir, otherDeviceDir(t)), false);
  const single = await rejection(nfs.syncFile(nodePath.join(dir, 'nope')));
  t.equal(single.code, 'ENOENT');
  t.equal(single.index, undefined, 'a single-path call carries no batch position');
});

t.test('the loader: cached; CAIRN_NATIVE=0 changes the default file system, not whether the addon loads', async (t) => {
  t.equal(loadNative(), native, 'one binding per process');
  const indexUrl = new URL('../../lib/fs/index.js', import.meta.url).href;
  const loaderUrl = new URL('../../lib/fs/native-binding.js', import.meta.url).href;
  const script = `const fs = await import(${JSON.stringify(indexUrl)});
    const m = await import(${JSON.stringify(loaderUrl)});
    const kind = fs.defaultFileSystem().kind;
    console.log(kind + ' ' + typeof m.requireNative().linkBatch + ' ' + new fs.NativeFileSystem().kind);`;
  const { stdout } = await run(process.execPath, [...process.execArgv, '--input-type=module', '-e', script], {
    env: { ...process.env, CAIRN_NATIVE: '0' },
  });
  t.equal(stdout.trim(), 'node function native');
});
