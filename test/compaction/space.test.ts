// Space under overwrites: with leveled compaction, ten overwrites of a ~50 MB dataset end
// with segments + journals on disk under 3x the live data; with FIFO, segments stay at the
// byte cap while far more is written, the oldest data is dropped and the newest kept.
// Measures the directory itself (what an operator sees), not the keyspace's own stats.
import t from 'tap';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Keyspace, type Partition } from '../../lib/index.js';
import { scaled } from '../helpers/scale.js';
import { scratchDir } from '../helpers/scratch.js';

const MiB = 1024 * 1024;
const VALUE_BYTES = 1000;
// About 50 MB at full scale (the test name says which size ran); never below 15 MB,
// which still spreads over levels 0-2 with the budgets below.
const DATASET_MB = scaled(50, 15);
const OVERWRITES = 10;

const key = (i: number) => `key-${String(i).padStart(8, '0')}`;

/** Bytes of files whose name matches `pattern` under `dir`. Files may vanish mid-walk (retired segments, renamed temps). */
async function bytesOnDisk(dir: string, pattern: RegExp): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir, { recursive: true })) {
    if (!pattern.test(name)) continue;
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s?.isFile() === true) total += s.size;
  }
  return total;
}

const SEGMENTS_AND_JOURNALS = /\.(sst|jnl)$/;
const SEGMENTS = /\.sst$/;

function idle(ks: Keyspace): boolean {
  const s = ks.stats().partitions.p;
  return !s.flushing && !s.compacting && s.pendingCompactions === 0;
}

async function settle(ks: Keyspace): Promise<boolean> {
  for (let i = 0; i < 3000; i++) {
    if (idle(ks)) {
      // Retired segments are unlinked just after the install that made them obsolete.
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (idle(ks)) return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

/** Value of key i in generation g: a slice of a random pool, so segments do not shrink by accident. */
function valueOf(pool: Buffer, i: number, g: number): Buffer {
  const offset = (i * 7919 + g * 104729) % (pool.length - VALUE_BYTES);
  return pool.subarray(offset, offset + VALUE_BYTES);
}

async function writeRange(ks: Keyspace, p: Partition, from: number, to: number, value: (i: number) => Buffer): Promise<void> {
  for (let start = from; start < to; start += 100) {
    const batch = ks.batch();
    for (let i = start; i < Math.min(to, start + 100); i++) batch.put(p, key(i), value(i));
    await batch.commit();
  }
}

t.test(`leveled: ${OVERWRITES} overwrites of a ${DATASET_MB} MB dataset stay under 3x the live size on disk`, async (t) => {
  const dir = await scratchDir(t, 'compaction-space');
  // Default-like leveled settings (trigger 4, multiplier 10), scaled down so that a 50 MB
  // dataset spreads over several levels.
  const ks = await Keyspace.open(dir, {
    memtableBytes: 4 * MiB,
    journalFileBytes: 8 * MiB,
    compaction: { strategy: 'leveled', level0Trigger: 4, levelMultiplier: 10, baseLevelBytes: 8 * MiB, targetFileBytes: 2 * MiB },
  });
  const p = await ks.partition('p');
  const pool = randomBytes(MiB);
  const keys = Math.round((DATASET_MB * 1e6) / VALUE_BYTES);
  const liveBytes = keys * (key(0).length + VALUE_BYTES);

  let peak = 0;
  for (let g = 0; g <= OVERWRITES; g++) {
    await writeRange(ks, p, 0, keys, (i) => valueOf(pool, i, g));
    peak = Math.max(peak, await bytesOnDisk(dir, SEGMENTS_AND_JOURNALS));
  }
  t.ok(await settle(ks), 'compaction catches up once the writes stop');
  const settled = await bytesOnDisk(dir, SEGMENTS_AND_JOURNALS);
  const written = (OVERWRITES + 1) * liveBytes;
  t.comment(`live ${(liveBytes / 1e6).toFixed(1)} MB, written ${(written / 1e6).toFixed(0)} MB, on disk at pass ends up to ${(peak / 1e6).toFixed(1)} MB, settled ${(settled / 1e6).toFixed(1)} MB`);
  t.ok(settled < 3 * liveBytes, `settled: ${(settled / liveBytes).toFixed(2)}x the live size on disk`);

  const stats = ks.stats().partitions.p;
  const deepest = stats.levels.findLastIndex((l) => l.segments > 0);
  t.ok(deepest >= 2, `levels formed: data reaches level ${deepest}`);
  t.ok(stats.compactionsDone > OVERWRITES, `${stats.compactionsDone} compactions ran`);
  let wrong = 0;
  for (let i = 0; i < keys; i += 97) if (!(await p.get(key(i)))?.equals(valueOf(pool, i, OVERWRITES))) wrong++;
  t.equal(wrong, 0, 'every sampled key holds its newest value');
  await ks.close();
});

t.test('fifo: segments stay at the byte cap while ten times as much is written; oldest dropped, newest kept', async (t) => {
  const dir = await scratchDir(t, 'compaction-fifo');
  const maxBytes = 4 * MiB;
  const memtableBytes = 512 * 1024;
  const ks = await Keyspace.open(dir, { memtableBytes, journalFileBytes: MiB, compaction: { strategy: 'fifo', maxBytes } });
  const p = await ks.partition('p');
  const pool = randomBytes(MiB);
  const total = Math.round((10 * maxBytes) / VALUE_BYTES);
  const chunk = Math.round((2 * MiB) / VALUE_BYTES);

  let settledMax = 0;
  let busyMax = 0;
  for (let from = 0; from < total; from += chunk) {
    await writeRange(ks, p, from, Math.min(total, from + chunk), (i) => valueOf(pool, i, 0));
    busyMax = Math.max(busyMax, await bytesOnDisk(dir, SEGMENTS));
    t.ok(await settle(ks), `settles after ${Math.min(total, from + chunk)} keys`);
    settledMax = Math.max(settledMax, await bytesOnDisk(dir, SEGMENTS));
  }
  const segmentBytes = await bytesOnDisk(dir, SEGMENTS);
  t.ok(settledMax <= maxBytes, `segments never exceed the cap once settled (at most ${settledMax} bytes of ${maxBytes})`);
  t.ok(busyMax <= 2 * maxBytes, `segments stay near the cap even while written (at most ${busyMax} bytes)`);
  t.ok(segmentBytes > maxBytes - 2 * memtableBytes, `segments fill the cap: ${segmentBytes} bytes`);
  t.ok(ks.stats().partitions.p.compactionsDone > 0, 'segments were dropped');

  // FIFO drops whole oldest segments: what remains is a contiguous run of the newest keys.
  const present: number[] = [];
  for await (const k of p.keys()) present.push(Number(k.toString().slice(4)));
  t.ok(present.length > 0 && present.length < total / 2, `${present.length} of ${total} keys remain`);
  t.equal(present[present.length - 1], total - 1, 'the newest key is kept');
  t.ok(present.every((n, i) => n === present[0] + i), `the survivors are the contiguous newest run from key ${present[0]}`);
  t.equal(await p.get(key(0)), undefined, 'the oldest key is gone');
  t.equal(await p.get(key(present[0] - 1)), undefined, 'the key just before the survivors is gone');
  t.ok((await p.get(key(total - 1)))?.equals(valueOf(pool, total - 1, 0)), 'the newest value reads back intact');
  t.ok((await p.get(key(present[0])))?.equals(valueOf(pool, present[0], 0)), 'the oldest survivor reads back intact');
  await ks.close();
});
