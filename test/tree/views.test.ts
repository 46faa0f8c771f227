// Long-lived views under compaction: iterators (forward and reverse) and snapshots keep
// returning exactly the data they started with, and keep their segment files on disk,
// while every key is overwritten and deleted many times, merges rewrite every level and
// journal GC deletes the journals; once released, their obsolete files are removed.
// Single test process; the keyspace's background work runs underneath the assertions.
import t from 'tap';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyspace, type Partition } from '../../lib/index.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { readCurrentManifest } from '../../lib/tree/manifest.js';
import { partitionDir } from '../../lib/layout/file-names.js';
import { until } from '../helpers/until.js';

const KEYS = 600;
const MIN_MERGES = 12;

// Tiny memtables, journals and level budgets: flushes, merges and journal GC run all the time.
const OPTIONS = {
  memtableBytes: 8 * 1024,
  journalFileBytes: 8 * 1024,
  blockSize: 512,
  compaction: { level0Trigger: 2, baseLevelBytes: 8 * 1024, levelMultiplier: 2, targetFileBytes: 4 * 1024 },
};

const key = (i: number) => `key-${String(i).padStart(5, '0')}`;

async function segmentFiles(dir: string): Promise<Set<string>> {
  return new Set((await readdir(join(partitionDir(dir, 'p'), 'segments'))).filter((n) => n.endsWith('.sst')));
}

async function manifestFiles(dir: string): Promise<Set<string>> {
  const { state } = await readCurrentManifest(new NodeFileSystem(), partitionDir(dir, 'p'));
  return new Set(state.levels.flat().map((s) => `${String(s.fileNumber).padStart(6, '0')}.sst`));
}

async function journalFiles(dir: string): Promise<Set<string>> {
  return new Set((await readdir(join(dir, 'journal'))).filter((n) => n.endsWith('.jnl')));
}

function idle(ks: Keyspace): boolean {
  const s = ks.stats().partitions.p;
  return !s.flushing && !s.compacting && s.pendingCompactions === 0;
}

/** Writes generation `gen` of every key in batches; odd generations delete every third key. */
async function writeGeneration(ks: Keyspace, p: Partition, gen: number): Promise<void> {
  for (let start = 0; start < KEYS; start += 100) {
    const batch = ks.batch();
    for (let i = start; i < Math.min(KEYS, start + 100); i++) {
      if (gen % 2 === 1 && i % 3 === 0) batch.delete(p, key(i));
      else batch.put(p, key(i), `g${gen}-${i}-`.padEnd(40 + (i % 30), '*'));
    }
    await batch.commit();
  }
}

t.test('iterators and snapshots keep their view and their files while merges and journal GC run', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-compaction-views-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ks = await Keyspace.open(dir, OPTIONS);
  const p = await ks.partition('p');

  // Generation 0 lands in segments on several levels; a few later writes stay in the
  // memtable, so the views span both.
  await writeGeneration(ks, p, 0);
  await ks.flush();
  await until('the first merges settle', () => idle(ks));
  for (let i = 0; i < KEYS; i += 20) await p.put(key(i), `memtable-${i}`);
  const expected: [string, string][] = [];
  for await (const [k, v] of p.entries()) expected.push([k.toString(), v.toString()]);
  t.equal(expected.length, KEYS, 'every key is present before the churn');

  const startFiles = await segmentFiles(dir);
  t.same([...startFiles].sort(), [...(await manifestFiles(dir))].sort(), 'before the views: the segments directory holds exactly the current version');
  t.ok(startFiles.size >= 6, `the views start over ${startFiles.size} segment files`);
  const startLevels = ks.stats().partitions.p.levels.filter((l) => l.segments > 0).length;
  t.ok(startLevels >= 2, `data sits on ${startLevels} levels`);
  const startJournals = await journalFiles(dir);
  const mergesBefore = ks.stats().partitions.p.compactionsDone;

  const snap = ks.snapshot();
  const forward = p.entries();
  const reverse = p.entries({ reverse: true });
  // An iterator over the snapshot outlives the snapshot itself: it holds its own reference.
  const overSnapshot = p.entries({ snapshot: snap, gte: key(100), lt: key(500) });
  const seenForward: [string, string][] = [];
  const seenReverse: [string, string][] = [];
  for (let i = 0; i < 100; i++) {
    const f = await forward.next();
    const r = await reverse.next();
    if (f.done || r.done) break;
    seenForward.push([f.value[0].toString(), f.value[1].toString()]);
    seenReverse.push([r.value[0].toString(), r.value[1].toString()]);
  }

  // Churn: overwrite and delete everything until merges have replaced every file the views
  // started from, and journal GC has deleted every journal that existed then. Each
  // generation is left to settle: under a constant stream of writes the busiest upper
  // levels always win the single merge slot and the deepest level is not rewritten.
  let gen = 1;
  let replaced = false;
  while (gen <= 30) {
    await writeGeneration(ks, p, gen++);
    await until(`generation ${gen - 1} settles`, () => idle(ks));
    const s = ks.stats().partitions.p;
    const current = await manifestFiles(dir);
    const journals = await journalFiles(dir);
    replaced =
      s.compactionsDone - mergesBefore >= MIN_MERGES && [...startFiles].every((f) => !current.has(f)) && [...startJournals].every((j) => !journals.has(j));
    if (replaced) break;
  }
  t.ok(replaced, `after ${gen - 1} generations: ${ks.stats().partitions.p.compactionsDone - mergesBefore} merges, no starting segment in the current version, every starting journal deleted`);
  t.ok(ks.stats().partitions.p.liveVersions > 1, 'the views still hold an older version');

  const onDisk = await segmentFiles(dir);
  const missing = [...startFiles].filter((f) => !onDisk.has(f));
  t.same(missing, [], 'every segment file of the views is still on disk');

  // The views still read generation 0 exactly: snapshot gets (of keys since overwritten or
  // deleted), the snapshot's own iterator, then the rest of both long-lived iterators.
  let wrongGets = 0;
  for (const [k, v] of expected) if ((await p.get(k, { snapshot: snap }))?.toString() !== v) wrongGets++;
  t.equal(wrongGets, 0, `all ${expected.length} snapshot gets return the old values`);
  t.equal(await p.get(key(KEYS), { snapshot: snap }), undefined, 'a key never written is absent from the snapshot');
  const liveNow = await p.get(key(0));
  t.not(liveNow?.toString(), expected[0][1], 'the live view has moved on');

  snap.release();
  const fromSnapshot: [string, string][] = [];
  for await (const [k, v] of overSnapshot) fromSnapshot.push([k.toString(), v.toString()]);
  t.same(fromSnapshot, expected.slice(100, 500), 'the iterator over the released snapshot still reads its range of the old data');

  for await (const [k, v] of forward) seenForward.push([k.toString(), v.toString()]);
  for await (const [k, v] of reverse) seenReverse.push([k.toString(), v.toString()]);
  t.same(seenForward, expected, 'the forward iterator returned exactly the old data');
  t.same(seenReverse, expected.slice().reverse(), 'the reverse iterator returned exactly the old data, descending');

  // Every view is released (iterators finished, snapshot released): the old files go.
  await until('no view holds an old version', () => ks.stats().partitions.p.liveVersions === 1 && idle(ks));
  await until('the old segment files are deleted', async () => {
    const files = await segmentFiles(dir);
    return [...startFiles].every((f) => !files.has(f));
  });
  await until('the segments directory matches the current version', async () => {
    const files = [...(await segmentFiles(dir))].sort();
    return idle(ks) && JSON.stringify(files) === JSON.stringify([...(await manifestFiles(dir))].sort());
  });
  t.pass('no segment file leaked: the directory holds exactly the current version');

  const finalContents = new Map<string, string>();
  for await (const [k, v] of p.entries()) finalContents.set(k.toString(), v.toString());
  const last = gen - 1;
  let wrongFinal = 0;
  for (let i = 0; i < KEYS; i++) {
    const want = last % 2 === 1 && i % 3 === 0 ? undefined : `g${last}-${i}-`.padEnd(40 + (i % 30), '*');
    if (finalContents.get(key(i)) !== want) wrongFinal++;
  }
  t.equal(wrongFinal, 0, `the live data is generation ${last}`);
  await ks.close();
});

t.test('a view held across a close is released by it, and its files are gone after reopen', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-compaction-views-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let ks = await Keyspace.open(dir, OPTIONS);
  let p = await ks.partition('p');
  await writeGeneration(ks, p, 0);
  await ks.flush();
  await until('the first merges settle', () => idle(ks));
  const startFiles = await segmentFiles(dir);
  const held = p.entries();
  const snap = ks.snapshot();
  t.ok((await held.next()).done === false, 'the iterator started');
  const mergesBefore = ks.stats().partitions.p.compactionsDone;
  for (let gen = 1; gen <= 4; gen++) await writeGeneration(ks, p, gen);
  await ks.flush();
  t.ok(ks.stats().partitions.p.compactionsDone > mergesBefore, 'merges ran while the views were held');
  await ks.close();
  t.ok(snap.released, 'close released the snapshot');

  ks = await Keyspace.open(dir, OPTIONS);
  p = await ks.partition('p');
  await until('the reopened keyspace settles', () => idle(ks));
  const current = await manifestFiles(dir);
  const files = await segmentFiles(dir);
  const orphans = [...files].filter((f) => !current.has(f));
  t.same(orphans, [], 'no segment outside the current version survives the reopen');
  t.ok([...startFiles].some((f) => !files.has(f)), 'files the abandoned views held were deleted');
  t.equal((await p.get(key(1)))?.toString(), `g4-1-`.padEnd(41, '*'), 'the newest data survives');
  await ks.close();
});
