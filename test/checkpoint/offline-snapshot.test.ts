// snapshotKeyspace (the library behind `cairn snapshot`) under faults at the seam: a run
// counts the calls of a snapshot, then each call fails in turn, on the link path and on
// the copy path (linkBatch answering EXDEV). Every failure must reject with the injected
// code and leave no destination, no staging, a released LOCK and an untouched source.
// Also: the order of the durable steps, and the EXDEV fallback replacing partial links.
import t, { type Test } from 'tap';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotKeyspace } from '../../lib/checkpoint/offline-snapshot.js';
import { FaultFileSystem, replaceRoot } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { lockPath } from '../../lib/layout/file-names.js';
import { hasCode } from '../../lib/errors.js';
import { buildKeyspace, fingerprint, isLockFile, readKeyspace } from '../helpers/keyspace-content.js';

const scratch = await mkdtemp(join(tmpdir(), 'cairn-offline-snapshot-'));
t.teardown(() => rm(scratch, { recursive: true, force: true }));

const src = join(scratch, 'source');
const expected = await buildKeyspace(src, { keys: 60 });
const pristine = await fingerprint(src, isLockFile);
let serial = 0;

/** Rejects CAIRN_LOCKED if a snapshot left the LOCK of `dir` held in this process. */
async function lockIsFree(dir: string): Promise<boolean> {
  try {
    await (await new NodeFileSystem().lock(lockPath(dir))).unlock();
    return true;
  } catch (err) {
    if (hasCode(err, 'CAIRN_LOCKED')) return false;
    throw err;
  }
}

async function leftovers(parent: string): Promise<string[]> {
  return readdir(parent).catch(() => []);
}

t.test('argument checks come before any I/O', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  await t.rejects(snapshotKeyspace(fs, '', join(scratch, 'x')), TypeError);
  await t.rejects(snapshotKeyspace(fs, src, 42 as unknown as string), TypeError);
  await t.rejects(snapshotKeyspace(fs, src, join(scratch, 'x'), { signal: 'no' as unknown as AbortSignal }), TypeError);
  await t.rejects(snapshotKeyspace(fs, src, join(src, 'inside')), RangeError);
  await t.rejects(snapshotKeyspace(fs, src, src), RangeError);
  t.same(fs.trace(), [], 'no file-system call was made');
});

t.test('the protocol: everything durable before the rename, the parent synced after it', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem(), { rewritePath: replaceRoot(scratch, '<scratch>') });
  const dest = join(scratch, `ordered-${++serial}`);
  const result = await snapshotKeyspace(fs, src, dest);
  const trace = fs.trace({ mutatingOnly: true }).map((line) => line.replace(/\.tmp-[0-9a-f]+/g, '.tmp-ID'));
  const index = (re: RegExp) => trace.findIndex((line) => re.test(line));
  const lastIndex = (re: RegExp) => trace.length - 1 - [...trace].reverse().findIndex((line) => re.test(line));
  t.equal(index(/^lock /), 0, 'the LOCK is taken first');
  t.ok(index(/^link /) > lastIndex(/^mkdir /), 'the staging tree exists before the links');
  t.ok(index(/^copy /) > lastIndex(/^link /), 'copies after links');
  t.ok(index(/^syncDir .*\.tmp-ID/) > lastIndex(/^copy /), 'staging directories are synced after every link and copy');
  t.equal(trace.filter((line) => /^syncDir .*\.tmp-ID/.test(line)).length, 7, 'every staging directory is synced');
  t.ok(index(/^rename .*ordered-\d+\.tmp-ID -> .*ordered-\d+$/) > lastIndex(/^syncDir .*\.tmp-ID/), 'rename after the directory syncs');
  t.match(trace[trace.length - 2], /^syncDir <scratch>$/, 'the parent is synced after the rename');
  t.match(trace[trace.length - 1], /^unlock /, 'the LOCK is released last');
  t.ok(trace.every((line) => !line.includes('<scratch>/source/') || /^(lock|unlock|linkBatch|copyBatch|link|copy) /.test(line)), 'nothing in the source is written');
  t.ok(result.filesLinked > 0 && result.filesCopied > 0);
  t.same(await readKeyspace(dest), expected);
});

t.test('EXDEV from the kernel part-way through the links falls back to copying everything', async (t) => {
  const fs = new FaultFileSystem(new NodeFileSystem());
  fs.inject({ op: 'linkBatch', item: 1, code: 'EXDEV' });
  const dest = join(scratch, `exdev-${++serial}`);
  const result = await snapshotKeyspace(fs, src, dest);
  t.equal(result.filesLinked, 0);
  t.equal(result.bytesLinked, 0);
  const files = [...(await fingerprint(dest)).values()].filter((v) => v !== 'dir');
  t.equal(result.filesCopied, files.length);
  const segments = join('partitions', 'users', 'segments');
  for (const name of await readdir(join(dest, segments))) {
    t.not((await stat(join(dest, segments, name))).ino, (await stat(join(src, segments, name))).ino, `${name} is a copy`);
  }
  t.same(await readKeyspace(dest), expected);
});

t.test('an aborted snapshot rejects with AbortError and leaves nothing', async (t) => {
  const controller = new AbortController();
  const fs = new FaultFileSystem(new NodeFileSystem());
  const dest = join(scratch, `aborted-${++serial}`);
  const err = await snapshotKeyspace(fs, src, dest, {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.phase === 'copying') controller.abort();
    },
  }).catch((e: unknown) => e);
  t.ok(hasCode(err, 'CAIRN_ABORTED'));
  t.equal((err as Error).name, 'AbortError');
  t.same((await leftovers(scratch)).filter((n) => n.startsWith(`aborted-${serial}`)), []);
  t.ok(await lockIsFree(src), 'LOCK released');
  t.same(await fingerprint(src, isLockFile), pristine, 'the source is untouched');
});

for (const path of ['link', 'copy'] as const) {
  t.test(`a fault at every seam call (${path} path) leaves no trace`, async (t: Test) => {
    // A source of its own: the run whose unlock fails leaves that LOCK held in this process.
    const source = join(scratch, `source-${path}`);
    const contents = await buildKeyspace(source, { keys: 60 });
    const before = await fingerprint(source, isLockFile);
    const prepare = (fs: FaultFileSystem) => {
      if (path === 'copy') fs.inject({ op: 'linkBatch', code: 'EXDEV' });
    };
    const counter = new FaultFileSystem(new NodeFileSystem());
    prepare(counter);
    await snapshotKeyspace(counter, source, join(scratch, `count-${path}`));
    const calls = counter.trace().length;
    t.ok(calls > 20, `a snapshot makes ${calls} calls`);
    let failures = 0;
    for (let nth = 1; nth <= calls; nth++) {
      const fs = new FaultFileSystem(new NodeFileSystem());
      // The counted rule first: on the call it picks, its EIO wins over the EXDEV rule.
      fs.inject({ op: '*', nth, code: 'EIO' });
      prepare(fs);
      const dest = join(scratch, `fault-${path}-${nth}`);
      const outcome = await snapshotKeyspace(fs, source, dest).then(
        () => undefined,
        (err: unknown) => err,
      );
      const failed = fs.trace().find((line) => line.endsWith('! EIO')) ?? '(none)';
      if (outcome === undefined) {
        // The only call whose failure cannot fail a finished snapshot is the unlock.
        t.match(failed, /^unlock /, `call ${nth} (${failed}): success only when the unlock failed`);
        t.same(await readKeyspace(dest), contents, 'and the snapshot is whole');
        continue;
      }
      failures++;
      if (!hasCode(outcome, 'EIO')) {
        t.fail(`call ${nth} (${failed}): rejected with ${String((outcome as { code?: unknown }).code)}, not the injected EIO`);
        continue;
      }
      const left = (await leftovers(scratch)).filter((n) => n === `fault-${path}-${nth}` || n.startsWith(`fault-${path}-${nth}.tmp-`));
      if (left.length > 0) t.fail(`call ${nth} (${failed}): left ${left.join(', ')}`);
      if (!(await lockIsFree(source))) t.fail(`call ${nth} (${failed}): the LOCK is still held`);
    }
    t.ok(failures >= calls - 1, `${failures} of ${calls} faults failed the snapshot cleanly`);
    t.same(await fingerprint(source, isLockFile), before, 'the source is untouched after every fault');
  });
}
