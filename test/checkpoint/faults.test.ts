// backupTo under faults. At the seam: one backupTo is run to count its calls, then once per
// call with exactly that call failing (EIO); each run ends in success or a coded error with
// no dest and no staging, pins released, the source correct (and writable unless the fault
// hit the fsync of its own journal, which poisons by design). Then real EXDEV and ENOSPC
// on a tmpfs and a bind mount when root, or the same codes through the fault wrapper.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { defaultFileSystem } from '../../lib/fs/index.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { readCurrentManifest } from '../../lib/tree/manifest.js';
import { partitionDir } from '../../lib/layout/file-names.js';
import { canMount, mountTmpfs } from '../helpers/tmpfs.js';
import { Rng } from '../helpers/rng.js';
import { type Dump, dump, dumpDir, exists, plain, stagingLeft, tempDir } from './fixtures/checkpoint-fixtures.js';

const OPTIONS = { memtableBytes: 64 * 1024, blockSize: 512 };

/** A FaultFileSystem that, once armed, fails exactly its Nth call from then on (or only counts). */
class NthCallFaults extends FaultFileSystem {
  constructor(private readonly failAt: number | undefined) {
    super(defaultFileSystem());
  }

  arm(): void {
    this.clearTrace();
    if (this.failAt !== undefined) this.inject({ op: '*', nth: this.failAt, code: 'EIO' });
  }
}

/** Two partitions, flushed segments plus unflushed writes in the journal. */
async function setup(dir: string, valueBytes = 20): Promise<void> {
  const ks = await Keyspace.open(dir, OPTIONS);
  const rng = new Rng(7);
  for (const name of ['a', 'b']) {
    const p = await ks.partition(name);
    for (let i = 0; i < 100; i++) await p.put(`k${String(i).padStart(3, '0')}`, rng.bytes(valueBytes).toString('hex'));
  }
  await ks.flush();
  const a = await ks.partition('a');
  for (let i = 0; i < 20; i++) await a.put(`late${i}`, `v${i}`);
  await a.delete('k005');
  await ks.close();
}

/** After a reopen on a healthy file system: the data, and no stray segments or temp files. */
async function verifySource(t: Test, dir: string, expected: Dump, label: string): Promise<void> {
  const ks = await Keyspace.open(dir, OPTIONS);
  try {
    t.same(plain(await dump(ks)), plain(expected), `${label}: source data intact after reopen`);
    for (const name of ks.partitionNames()) {
      const { state } = await readCurrentManifest(new NodeFileSystem(), partitionDir(dir, name));
      const live = new Set(state.levels.flat().map((s) => `${String(s.fileNumber).padStart(6, '0')}.sst`));
      const stray = (await readdir(join(partitionDir(dir, name), 'segments'))).filter((f) => !live.has(f));
      t.same(stray, [], `${label}: no unreferenced segment files in ${name}`);
    }
    const temps = (await readdir(dir, { recursive: true })).filter((f) => String(f).includes('.tmp-'));
    t.same(temps, [], `${label}: no temporary files in the source`);
  } finally {
    await ks.close();
  }
}

t.test('a fault at each seam call of backupTo', async (t) => {
  const root = await tempDir(t, 'cairn-ckpt-faults-');
  const dry = join(root, 'dry');
  await setup(dry);
  const counting = new NthCallFaults(undefined);
  const ks0 = await Keyspace.open(dry, { ...OPTIONS, fs: counting });
  counting.arm();
  await ks0.backupTo(join(root, 'dry-cp'));
  const calls = counting.trace().length;
  await ks0.close();
  t.ok(calls > 20, `one backupTo makes ${calls} seam calls`);

  const outcomes = { ok: 0, failed: 0, poisoned: 0 };
  for (let n = 1; n <= calls; n++) {
    const label = `fault at call ${n}`;
    const dir = join(root, `n${n}`);
    const backups = join(root, `n${n}-backups`);
    const dest = join(backups, 'cp');
    await setup(dir);
    const fs = new NthCallFaults(n);
    const ks = await Keyspace.open(dir, { ...OPTIONS, fs });
    const expected = await dump(ks);
    fs.arm();
    let error: unknown;
    const info = await ks.backupTo(dest).catch((err: unknown) => {
      error = err;
      return undefined;
    });
    const failedLine = fs.trace().find((l) => l.endsWith('! EIO')) ?? '';
    fs.clearFaults();

    if (info !== undefined) {
      outcomes.ok++;
      t.same(plain((await dumpDir(dest)).data), plain(expected), `${label} (${failedLine || 'not on the path'}): success, and the checkpoint is right`);
    } else {
      outcomes.failed++;
      const code = (error as { code?: unknown }).code;
      if (code !== 'EIO' && code !== 'CAIRN_POISONED') t.fail(`${label} (${failedLine}): rejected with ${String(code)}: ${String(error)}`);
      if (await exists(dest)) t.fail(`${label} (${failedLine}): dest left behind`);
    }
    t.same(await stagingLeft(dest), [], `${label}: no staging left`);

    // The source: writable unless the fault hit the fsync sealing its own journal.
    const poisonedByDesign = /^datasync .*\/journal\/\d+\.jnl ! EIO$/.test(failedLine);
    const p = await ks.partition('a');
    const wrote = await p.put('after', 'x').then(
      () => true,
      (err: unknown) => (err as { code?: unknown }).code,
    );
    if (poisonedByDesign) {
      outcomes.poisoned++;
      t.equal(wrote, 'CAIRN_POISONED', `${label} (${failedLine}): a failed journal fsync poisons`);
    } else {
      t.equal(wrote, true, `${label} (${failedLine}): source still writable`);
      expected.get('a')!.set('after', 'x');
      // Pins and the checkpoint count were released: flush and checkpoint again.
      await ks.flush();
      const again = join(backups, 'again');
      await ks.backupTo(again);
      t.same(plain((await dumpDir(again)).data), plain(expected), `${label}: a later flush + backupTo works`);
    }
    await ks.close();
    await verifySource(t, dir, expected, label);
    await rm(dir, { recursive: true, force: true });
    await rm(backups, { recursive: true, force: true });
  }
  t.comment(`outcomes over ${calls} faults: ${JSON.stringify(outcomes)}`);
  t.ok(outcomes.failed > calls / 2, 'most faults surface as errors');
  t.ok(outcomes.poisoned >= 1, 'the sealed journal fsync was among the faulted calls');
});

/** Bind-mounts `from` on `to` until teardown: one device, yet link(2) across it says EXDEV. */
function bindMount(t: Test, from: string, to: string): void {
  execFileSync('mount', ['--bind', from, to]);
  t.teardown(() => execFileSync('umount', [to]));
}

t.test('EXDEV: the checkpoint is copied instead of linked', async (t) => {
  const root = await tempDir(t);
  const src = join(root, 'src');
  await setup(src);

  const cases: { name: string; dest: () => Promise<string>; fs?: FaultFileSystem }[] = [];
  if (canMount()) {
    t.comment('running as root: a real tmpfs and a real bind mount');
    cases.push({ name: 'dest on a tmpfs (sameDevice says no)', dest: async () => join(mountTmpfs(t, 16)!, 'cp') });
    cases.push({
      name: 'dest behind a bind mount (sameDevice says yes, link says EXDEV)',
      dest: async () => {
        await mkdir(join(root, 'bind-src'));
        await mkdir(join(root, 'bind-dst'));
        bindMount(t, join(root, 'bind-src'), join(root, 'bind-dst'));
        return join(root, 'bind-dst', 'cp');
      },
    });
  } else {
    t.comment('not root: EXDEV injected on every link through the fault wrapper');
    const fs = new FaultFileSystem(defaultFileSystem());
    fs.inject({ op: 'link', code: 'EXDEV' });
    cases.push({ name: 'injected EXDEV on link', dest: async () => join(root, 'cp'), fs });
  }
  for (const c of cases) {
    const ks = await Keyspace.open(src, { ...OPTIONS, fs: c.fs });
    const expected = await dump(ks);
    const dest = await c.dest();
    const info = await ks.backupTo(dest);
    t.equal(info.filesLinked, 0, `${c.name}: nothing linked`);
    t.ok(info.filesCopied > 0 && info.bytesCopied > 0, `${c.name}: ${info.filesCopied} files, ${info.bytesCopied} bytes copied`);
    const seg = (await readdir(join(dest, 'partitions', 'a', 'segments')))[0];
    const [a, b] = await Promise.all([stat(join(src, 'partitions', 'a', 'segments', seg)), stat(join(dest, 'partitions', 'a', 'segments', seg))]);
    t.notOk(b.ino === a.ino && b.dev === a.dev, `${c.name}: a copy, not a link`);
    t.same(await stagingLeft(dest), []);
    await ks.close();
    t.same(plain((await dumpDir(dest)).data), plain(expected), `${c.name}: the copy opens with the same data`);
  }
});

t.test('ENOSPC: a checkpoint larger than the destination', async (t) => {
  const root = await tempDir(t);
  const src = join(root, 'src');
  // About 3 MiB of incompressible values, more than the 2 MiB tmpfs holds.
  await setup(src, 16 * 1024);
  let dest: string;
  let fs: FaultFileSystem | undefined;
  const tmpfs = mountTmpfs(t, 2);
  if (tmpfs !== undefined) {
    t.comment('running as root: a real 2 MiB tmpfs');
    dest = join(tmpfs, 'cp');
  } else {
    t.comment('not root: EXDEV on links and ENOSPC on the third copy through the fault wrapper');
    dest = join(root, 'cp');
    fs = new FaultFileSystem(defaultFileSystem());
    fs.inject({ op: 'link', code: 'EXDEV' });
    fs.inject({ op: 'copy', nth: 3, code: 'ENOSPC' });
  }
  const ks = await Keyspace.open(src, { ...OPTIONS, fs });
  const expected = await dump(ks);
  await t.rejects(ks.backupTo(dest), { code: 'ENOSPC' });
  t.notOk(await exists(dest), 'no dest');
  t.same(await stagingLeft(dest), [], 'no staging');
  if (tmpfs !== undefined) t.same(await readdir(tmpfs), [], 'nothing left on the tmpfs');
  const a = await ks.partition('a');
  await a.put('after', 'x');
  expected.get('a')!.set('after', 'x');
  await ks.close();
  await verifySource(t, src, expected, 'after ENOSPC');
});
