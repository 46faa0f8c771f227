// A fault at each file-system call of a flush, without reopening: the flush job (run
// in-process here, through the injected seam: the same runFlush a worker runs) and the
// install of its version. After each, with the fault cleared, either the keyspace is
// poisoned (only when the failed call was a write or an fsync) or it stays writable and
// its next flush succeeds; either way every acknowledged write reads back and no file is
// left that the current version does not name (checked while open when writable, after a
// reopen when poisoned).
import t, { type Test } from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Keyspace } from '../../lib/index.js';
import { FaultFileSystem } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { hasCode } from '../../lib/errors.js';
import { readCurrentManifest } from '../../lib/tree/manifest.js';
import { manifestFileName, partitionDir, segmentFileName } from '../../lib/layout/file-names.js';
import { scratchDir } from '../helpers/scratch.js';

const OPTIONS = { memtableBytes: 1 << 20, blockSize: 512 };
const KEYS = 120;

async function fill(ks: Keyspace): Promise<Map<string, string>> {
  const p = await ks.partition('p');
  const kv = new Map<string, string>();
  for (let i = 0; i < KEYS; i++) {
    await p.put(`k${String(i).padStart(4, '0')}`, `v${i}`);
    kv.set(`k${String(i).padStart(4, '0')}`, `v${i}`);
  }
  return kv;
}

/** Files of the partition that the CURRENT on disk does not name (temps, orphans, old manifests). */
async function debris(dir: string): Promise<string[]> {
  const root = partitionDir(dir, 'p');
  const { manifestNumber, state } = await readCurrentManifest(new NodeFileSystem(), root);
  const live = new Set(state.levels.flat().map((s) => segmentFileName(s.fileNumber)));
  const stray = (await readdir(join(root, 'segments'))).filter((f) => !live.has(f)).map((f) => `segments/${f}`);
  for (const f of await readdir(root)) if (f !== 'CURRENT' && f !== 'segments' && f !== manifestFileName(manifestNumber)) stray.push(f);
  return stray;
}

async function readsBack(t: Test, ks: Keyspace, kv: Map<string, string>, label: string): Promise<void> {
  const p = await ks.partition('p');
  for (const [k, v] of kv) {
    const got = (await p.get(k))?.toString();
    if (got !== v) {
      t.fail(`${label}: ${k} = ${got}, expected ${v}`);
      return;
    }
  }
}

t.test('a fault at each call of a flush leaves no debris and the keyspace writable, or poisoned by a failed write or fsync', async (t) => {
  const root = await scratchDir(t, 'flush-faults');
  // A retry waits on an unref'd timer (it never keeps a process alive): this test must stay.
  const keepAlive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(keepAlive));
  // Count the calls of one flush (and learn what each is).
  const counting = new FaultFileSystem(new NodeFileSystem());
  const dry = await Keyspace.open(join(root, 'dry'), { ...OPTIONS, fs: counting });
  await fill(dry);
  counting.clearTrace();
  await dry.flush();
  const calls = counting.trace();
  await dry.close();
  t.ok(calls.length >= 10, `a flush makes ${calls.length} file-system calls`);

  const outcomes = { poisoned: 0, writable: 0 };
  for (let n = 1; n <= calls.length; n++) {
    const op = calls[n - 1].split(' ')[0];
    const label = `fault at call ${n} (${op})`;
    const dir = join(root, `n${n}`);
    const fs = new FaultFileSystem(new NodeFileSystem());
    const ks = await Keyspace.open(dir, { ...OPTIONS, fs, onBackgroundError: () => undefined });
    const kv = await fill(ks);
    fs.inject({ op: '*', nth: n, code: 'EIO' });
    const failed = await ks.flush().then(
      () => undefined,
      (err: unknown) => err,
    );
    fs.clearFaults();
    const p = await ks.partition('p');
    const after = await p.put('after', 'x').then(
      () => undefined,
      (err: unknown) => err,
    );
    if (after !== undefined) {
      outcomes.poisoned++;
      if (!hasCode(after, 'CAIRN_POISONED')) t.fail(`${label}: a write after the fault failed with ${String(after)}`);
      if (op !== 'write' && op !== 'sync' && op !== 'syncDir') t.fail(`${label}: poisoned by a failed ${op}`);
      await ks.close();
      const reopened = await Keyspace.open(dir, OPTIONS);
      await readsBack(t, reopened, kv, label);
      await reopened.close();
      const left = await debris(dir);
      if (left.length > 0) t.fail(`${label}: after a reopen, left ${left.join(', ')}`);
      continue;
    }
    outcomes.writable++;
    if (failed !== undefined && typeof (failed as { code?: unknown }).code !== 'string') t.fail(`${label}: rejected without a code: ${String(failed)}`);
    // The retried flush, and one more (it retries what the fault kept from being removed).
    await ks.flush();
    await p.put('last', 'y');
    await ks.flush();
    const left = await debris(dir);
    if (left.length > 0) t.fail(`${label}: while open, left ${left.join(', ')}`);
    await readsBack(t, ks, new Map([...kv, ['after', 'x'], ['last', 'y']]), label);
    await ks.close();
  }
  t.ok(outcomes.poisoned > 0 && outcomes.writable > 0, `poisoned ${outcomes.poisoned} times, stayed writable ${outcomes.writable} times`);
});
