// Builds benchmark keyspaces of an exact segment count and data volume through the public
// API, and the same entries in lmdb. Sequential: one builder call at a time per directory.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

// 4,000 bytes rather than 4 KiB: an lmdb value of 4,096 bytes spills onto two overflow
// pages (the page header does not fit), which would double lmdb's file for the same data.
export const VALUE_BYTES = 4000;
// Random, so neither store's files are smaller than the data for lack of entropy.
const valuePool = randomBytes(1 << 20);

/**
 * The value of entry `n`: a window of the random pool, different for neighbouring entries.
 * With `compressible` (a fraction), that share of the value is one repeated byte instead:
 * 0.5 makes values that compress about 2:1 ("half compressible").
 */
export function valueFor(n, bytes = VALUE_BYTES, compressible = 0) {
  const random = bytes - Math.round(bytes * compressible);
  const offset = (n * 7919) % (valuePool.length - bytes);
  if (random === bytes) return valuePool.subarray(offset, offset + bytes);
  const value = Buffer.alloc(bytes, 0x2e);
  valuePool.copy(value, 0, offset, offset + random);
  return value;
}

function keyFor(partition, round, i) {
  return `p${String(partition).padStart(3, '0')}-r${String(round).padStart(6, '0')}-${String(i).padStart(6, '0')}`;
}

/**
 * Plans `segments` segments over `partitions` partitions holding about `totalBytes` of
 * values: segments / partitions flush rounds, each putting `perSegment` entries into
 * every partition.
 */
export function planLayout({ segments, partitions, totalBytes, valueBytes = VALUE_BYTES, compressible = 0 }) {
  if (segments % partitions !== 0) throw new RangeError(`${segments} segments do not divide over ${partitions} partitions`);
  const rounds = segments / partitions;
  const perSegment = Math.max(1, Math.round(totalBytes / segments / valueBytes));
  return { segments, partitions, rounds, perSegment, valueBytes, compressible, entries: segments * perSegment, valueBytesTotal: segments * perSegment * valueBytes };
}

/** Calls fn(partition, key, value) for every entry of the plan, in build order, round by round. */
async function forEachRound(plan, fn) {
  let n = 0;
  for (let round = 0; round < plan.rounds; round++) {
    const entries = [];
    for (let p = 0; p < plan.partitions; p++) {
      for (let i = 0; i < plan.perSegment; i++) entries.push([p, keyFor(p, round, i), valueFor(n++, plan.valueBytes, plan.compressible)]);
    }
    await fn(round, entries);
  }
}

/**
 * Opens a fresh keyspace at `dir` and fills it according to `plan`, one explicit flush
 * per round, so each partition gains exactly one segment per round. The memtable limit
 * is raised above a round's data so no flush happens on its own, and the caller's
 * compaction option must keep the segments apart (FIFO with a huge budget never merges).
 * Returns the open keyspace; the caller closes it.
 */
export async function buildKeyspace(Keyspace, dir, plan, { compaction }) {
  const roundBytes = plan.partitions * plan.perSegment * (plan.valueBytes + 64);
  const ks = await Keyspace.open(dir, {
    memtableBytes: Math.max(64 << 20, 2 * roundBytes),
    maxJournalBytes: Math.max(256 << 20, 4 * roundBytes),
    compaction,
  });
  try {
    const partitions = [];
    for (let p = 0; p < plan.partitions; p++) partitions.push(await ks.partition(`p${String(p).padStart(3, '0')}`));
    await forEachRound(plan, async (_round, entries) => {
      // Batches of at most ~8 MB keep the journal records and peak memory modest.
      const perBatch = Math.max(1, Math.floor((8 << 20) / plan.valueBytes));
      for (let i = 0; i < entries.length; i += perBatch) {
        const batch = ks.batch();
        for (const [p, key, value] of entries.slice(i, i + perBatch)) batch.put(partitions[p], key, value);
        await batch.commit();
      }
      await ks.flush();
    });
    const segments = Object.values(ks.stats().partitions).reduce((n, s) => n + s.segments, 0);
    if (segments !== plan.segments) throw new Error(`built ${segments} segments, planned ${plan.segments}: something merged or flushed on its own`);
    return ks;
  } catch (error) {
    await ks.close().catch(() => undefined);
    throw error;
  }
}

/** The same entries (keys prefixed by partition) in an lmdb environment at `dir`, one transaction per round. */
export async function buildLmdb(open, dir, plan) {
  const db = open({ path: dir, encoding: 'binary', keyEncoding: 'binary' });
  try {
    await forEachRound(plan, async (_round, entries) => {
      await db.transaction(() => {
        for (const [, key, value] of entries) db.put(Buffer.from(key), value);
      });
    });
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** Every file under `root`: [{ rel, bytes }] and every directory (root included), parents first. */
export async function walkTree(root) {
  const files = [];
  const dirs = [root];
  for (let i = 0; i < dirs.length; i++) {
    for (const entry of await readdir(dirs[i], { withFileTypes: true })) {
      const full = path.join(dirs[i], entry.name);
      if (entry.isDirectory()) dirs.push(full);
      else if (entry.isFile()) files.push({ rel: path.relative(root, full), bytes: (await stat(full)).size });
    }
  }
  return { files, dirs };
}

/** Bytes of every file under `root`. */
export async function treeBytes(root) {
  return (await walkTree(root)).files.reduce((n, f) => n + f.bytes, 0);
}

/** Creates the directories of `dirs` (absolute, under srcRoot) again under dstRoot; returns them. */
export async function mirrorDirs(dirs, srcRoot, dstRoot) {
  const out = dirs.map((d) => path.join(dstRoot, path.relative(srcRoot, d)));
  for (const d of out) await mkdir(d, { recursive: true });
  return out;
}
