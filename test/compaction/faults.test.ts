// Faults at every seam call of one compaction. A keyspace with three level-0 segments is
// opened through a FaultFileSystem with a level-0 trigger of 2, so a merge starts at once
// and runs in-process through the seam. A dry run traces the merge's calls; then each call
// in turn fails with EIO on a fresh copy. A failure while merging leaves no output and the
// keyspace writable (the merge is reported and retried after a back-off); a failed write or
// fsync while installing the manifest poisons, any other failed install call is retried like
// a failed merge; a failure after the install is absorbed. In every case a reopen on a
// healthy file system finds the data intact and no orphan file.
import t, { type Test } from 'tap';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace, type KeyspaceOptions } from '../../lib/index.js';
import { FaultFileSystem, replaceRoot } from '../../lib/fs/fault-file-system.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { readCurrentManifest } from '../../lib/tree/manifest.js';
import { CURRENT_FILE, manifestFileName, partitionDir, segmentFileName, SEGMENTS_DIR } from '../../lib/layout/file-names.js';
import { hasCode } from '../../lib/errors.js';
import { until } from '../helpers/until.js';

const BASE = { memtableBytes: 1 << 20, blockSize: 512 };
/** Never compacts: builds the starting state and inspects the results without changing them. */
const QUIET: KeyspaceOptions = { ...BASE, compaction: { level0Trigger: 1000, baseLevelBytes: 2 ** 40 } };
/** Level 0 holds three segments, so opening with this starts one merge into level 1, split in several outputs. */
const COMPACTING = { ...BASE, compaction: { level0Trigger: 2, targetFileBytes: 1024 } };

type Model = Map<string, string>;

/** Three overlapping level-0 segments, with overwrites and a tombstone for the merge to resolve. */
async function buildBase(t: Test, dir: string): Promise<Model> {
  const model: Model = new Map();
  const ks = await Keyspace.open(dir, QUIET);
  const p = await ks.partition('p');
  for (let r = 0; r < 3; r++) {
    for (let i = 0; i < 60; i++) {
      const k = `k${String((i * 7 + r) % 90).padStart(3, '0')}`;
      const v = `v${r}-${i}`.padEnd(30, '.');
      await p.put(k, v);
      model.set(k, v);
    }
    if (r === 1) {
      await p.delete('k005');
      model.delete('k005');
    }
    await ks.flush();
  }
  t.equal(ks.stats().partitions.p.levels[0].segments, 3, 'the base state has three level-0 segments');
  await ks.close();
  return model;
}

async function contents(ks: Keyspace): Promise<Model> {
  const m: Model = new Map();
  for await (const [k, v] of (await ks.partition('p')).entries()) m.set(k.toString(), v.toString());
  return m;
}

/** Segment files the live manifest does not name, manifests other than the live one, temp files. */
async function debris(dir: string): Promise<string[]> {
  const root = partitionDir(dir, 'p');
  const { manifestNumber, state } = await readCurrentManifest(new NodeFileSystem(), root);
  const live = new Set(state.levels.flat().map((s) => segmentFileName(s.fileNumber)));
  const found = (await readdir(join(root, SEGMENTS_DIR))).filter((f) => !live.has(f)).map((f) => `segments/${f}`);
  const expected = new Set([CURRENT_FILE, manifestFileName(manifestNumber), SEGMENTS_DIR]);
  found.push(...(await readdir(root)).filter((f) => !expected.has(f)));
  found.push(...(await readdir(dir, { recursive: true })).filter((f) => String(f).includes('.tmp-')));
  return found;
}

function mergeSettled(ks: Keyspace): boolean {
  const s = ks.stats().partitions.p;
  return !s.compacting && (s.compactionsDone > 0 || ks.stats().lastBackgroundError !== undefined);
}

/** The merge runs again after its back-off, now without a fault, and drains level 0. */
async function untilRetried(ks: Keyspace, label: string): Promise<void> {
  await until(`${label}: the retried merge`, () => !ks.stats().partitions.p.compacting && ks.stats().partitions.p.compactionsDone > 0);
  if (ks.stats().partitions.p.levels[0].segments !== 0) throw new Error(`${label}: the retried merge did not drain level 0`);
}

/** Reopens on a healthy file system: the data must equal the model and no debris may remain. */
async function verifyReopened(t: Test, dir: string, model: Model, label: string): Promise<void> {
  const ks = await Keyspace.open(dir, QUIET);
  try {
    const got = await contents(ks);
    if (JSON.stringify([...got]) !== JSON.stringify([...model].sort(([a], [b]) => (a < b ? -1 : 1)))) t.fail(`${label}: the data changed`);
    const left = await debris(dir);
    if (left.length > 0) t.fail(`${label}: files left after reopen: ${left.join(', ')}`);
  } finally {
    await ks.close();
  }
}

t.test('a fault at each seam call of a compaction', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'cairn-compaction-faults-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const base = join(root, 'base');
  const model = await buildBase(t, base);

  // Dry runs: the calls of opening alone, then of opening plus the merge it starts.
  const dryOpen = join(root, 'dry-open');
  const openOnly = new FaultFileSystem(new NodeFileSystem(), { rewritePath: replaceRoot(dryOpen) });
  await cp(base, dryOpen, { recursive: true });
  const quiet = await Keyspace.open(dryOpen, { ...QUIET, fs: openOnly });
  const openTrace = openOnly.trace();
  await quiet.close();

  const dry = join(root, 'dry');
  const tracing = new FaultFileSystem(new NodeFileSystem(), { rewritePath: replaceRoot(dry) });
  await cp(base, dry, { recursive: true });
  const ks = await Keyspace.open(dry, { ...COMPACTING, fs: tracing });
  await until('the dry-run merge is done', () => mergeSettled(ks));
  t.equal(ks.stats().lastBackgroundError, undefined, 'the dry-run merge succeeds');
  // The inputs are unlinked just after the install; wait for that to show in the trace.
  await until('the inputs are retired', () => tracing.trace().filter((l) => l.startsWith('unlink') && l.endsWith('.sst')).length === 3);
  const trace = tracing.trace();
  await ks.close();
  t.same(trace.slice(0, openTrace.length), openTrace, 'the merge starts after exactly the calls of a plain open');

  // Phases of the merge, 1-based call numbers: merging, then installing (manifest, then
  // CURRENT), then retiring what the new version no longer needs.
  const first = openTrace.length + 1;
  const installFrom = trace.findIndex((l) => /^open .*MANIFEST-\d+\.tmp-/.test(l)) + 1;
  const currentRenamed = trace.findIndex((l) => /^rename .* -> .*\/CURRENT$/.test(l)) + 1;
  const installTo = currentRenamed + 1;
  const last = trace.length;
  t.match(trace[installTo - 1], /^syncDir /, 'the install ends with the directory fsync after CURRENT is renamed');
  t.ok(first < installFrom && installFrom < installTo && installTo < last, `merge calls ${first}-${installFrom - 1}, install ${installFrom}-${installTo}, retire ${installTo + 1}-${last}`);
  t.ok(trace.slice(first - 1, installFrom - 1).filter((l) => /^open .*\.sst \(wx\)$/.test(l)).length >= 2, 'the merge writes several outputs');

  const outcomes = { mergeFailed: 0, poisoned: 0, installRetried: 0, absorbed: 0 };
  const installWrites = trace.slice(installFrom - 1, installTo).filter((l) => /^(write|sync|syncDir) /.test(l)).length;
  for (let n = first; n <= last; n++) {
    const label = `fault at call ${n} (${trace[n - 1]})`;
    const dir = join(root, `n${n}`);
    await cp(base, dir, { recursive: true });
    const fs = new FaultFileSystem(new NodeFileSystem());
    const fault = fs.inject({ op: '*', nth: n, code: 'EIO' });
    const ks = await Keyspace.open(dir, { ...COMPACTING, fs });
    const expected = new Map(model);
    try {
      await until(`${label}: the merge ends`, () => fault.hits === 1 && !ks.stats().partitions.p.compacting);
      const failedAt = fs.trace().findIndex((l) => l.endsWith('! EIO')) + 1;
      if (failedAt !== n) t.fail(`${label}: the injected fault hit call ${failedAt}`);
      const error = ks.stats().lastBackgroundError;
      const p = await ks.partition('p');
      const put = await p.put('after', 'the fault').then(
        () => undefined,
        (err: unknown) => err,
      );
      if (put === undefined) expected.set('after', 'the fault');

      if (n < installFrom) {
        if (error === undefined) {
          // A call whose failure the merge tolerates (closing an input it has read).
          outcomes.absorbed++;
          if (ks.stats().partitions.p.levels[0].segments !== 0) t.fail(`${label}: level 0 not merged`);
        } else {
          outcomes.mergeFailed++;
          if (error.operation !== 'compaction' || error.code !== 'EIO') t.fail(`${label}: reported as ${error.operation}, ${error.code}`);
          if (put !== undefined) t.fail(`${label}: a failed merge made the keyspace unwritable: ${String(put)}`);
          const left = await debris(dir);
          if (left.length > 0) t.fail(`${label}: the failed merge left ${left.join(', ')}`);
          await untilRetried(ks, label);
        }
      } else if (n <= installTo) {
        if (/^(write|sync|syncDir) /.test(trace[n - 1])) {
          outcomes.poisoned++;
          if (error !== undefined) t.fail(`${label}: a failed install write was reported as a retried error`);
          if (!hasCode(put, 'CAIRN_POISONED')) t.fail(`${label}: writes after a failed install write: ${String(put)}`);
        } else {
          outcomes.installRetried++;
          if (error?.operation !== 'compaction') t.fail(`${label}: a failed install call was not reported`);
          if (put !== undefined) t.fail(`${label}: a failed ${trace[n - 1]} made the keyspace unwritable: ${String(put)}`);
          await untilRetried(ks, label);
        }
      } else {
        outcomes.absorbed++;
        if (error !== undefined || put !== undefined) t.fail(`${label}: a failure after the install surfaced: ${String(error ?? put)}`);
      }
      if (put === undefined && JSON.stringify([...(await contents(ks))]) !== JSON.stringify([...expected].sort(([a], [b]) => (a < b ? -1 : 1)))) {
        t.fail(`${label}: the open keyspace reads wrong data`);
      }
    } finally {
      await ks.close();
    }
    await verifyReopened(t, dir, expected, label);
    await rm(dir, { recursive: true, force: true });
  }
  t.ok(outcomes.mergeFailed > 0, `${outcomes.mergeFailed} faults failed the merge, which left no output and was retried`);
  t.equal(outcomes.poisoned, installWrites, `each of the ${installWrites} writes and fsyncs of the install poisoned the keyspace when it failed`);
  t.equal(outcomes.installRetried, installTo - installFrom + 1 - installWrites, `the ${outcomes.installRetried} other install calls (open, close, rename) were retried`);
  t.ok(outcomes.absorbed > 0, `${outcomes.absorbed} faults (closing read handles, retiring files) were absorbed`);
});
