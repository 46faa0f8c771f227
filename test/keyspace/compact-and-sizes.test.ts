// ks.compact (manual compaction to the bottom level), p.approximateSize (from the indexes,
// no data read) and the RocksDB-like figures of ks.stats(), against a real keyspace.
import t from 'tap';
import { Keyspace, ErrorCodes } from '../../lib/index.js';
import { scratchDir } from '../helpers/scratch.js';

const key = (i: number): string => `k${String(i).padStart(5, '0')}`;
const value = (i: number, tag = 'v'): string => `${tag}${i}`.padEnd(100, '.');
// Automatic compaction stays out of the way (level 0 never reaches its trigger).
const options = { blockSize: 1024, compaction: { level0Trigger: 100, level0StopWrites: 400 } };

t.test('approximateSize reads only indexes, and scales with the range', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'sizes'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  for (let i = 0; i < 2000; i++) await p.put(key(i), value(i));
  t.equal(p.approximateSize(), 0, 'memtables are not counted');
  await ks.flush();
  const misses = ks.stats().blockCache.misses;
  const whole = p.approximateSize();
  t.equal(whole, ks.stats().totals.segmentBytes, 'the whole range is the whole file');
  const half = p.approximateSize({ gte: key(0), lt: key(1000) });
  t.ok(half > whole * 0.4 && half < whole * 0.6, `half the keys, about half the bytes (${half} of ${whole})`);
  const small = p.approximateSize({ gte: key(500), lte: key(510) });
  t.ok(small > 0 && small <= 3 * 1024 + 64, `a few keys cost a block or two (${small})`);
  t.equal(p.approximateSize({ gt: 'z' }), 0, 'past every key');
  t.equal(p.approximateSize({ lt: 'a' }), 0, 'before every key');
  t.equal(ks.stats().blockCache.misses, misses, 'no data block was read');
  t.throws(() => p.approximateSize({ gte: 5 } as never), TypeError);
  t.throws(() => p.approximateSize({ reverse: true } as never), RangeError);
});

t.test('compact() rewrites everything into the bottom level, dropping deleted and overwritten data', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'compact'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 1000; i++) await p.put(key(i), value(i, `r${round}`));
    await ks.flush();
  }
  const snap = ks.snapshot();
  for (let i = 0; i < 1000; i += 2) await p.delete(key(i));
  const before = ks.stats().partitions.p;
  t.equal(before.levels[0].segments, 3);
  t.ok(ks.stats().totals.estimatedLiveDataBytes < before.segmentBytes, 'overlapping level-0 files: live data estimated below their sum');
  await ks.compact();
  const after = ks.stats().partitions.p;
  t.equal(after.levels[0].segments, 0, 'level 0 is empty');
  t.equal(after.levels.at(-1)!.entries, 500, 'only live keys are left: no tombstone, no old version');
  t.ok(after.segmentBytes < before.segmentBytes / 4, `space reclaimed (${before.segmentBytes} -> ${after.segmentBytes})`);
  t.equal(ks.stats().totals.estimatedLiveDataBytes, after.segmentBytes, 'one level: all of it is live');
  t.equal(ks.stats().totals.memtableBytes, 0, 'the memtable was flushed first');
  t.equal(await p.get(key(0)), undefined);
  t.same(await p.get(key(1)), Buffer.from(value(1, 'r2')));
  t.same(await p.get(key(0), { snapshot: snap }), Buffer.from(value(0, 'r2')), 'a snapshot still reads what it saw');
  let n = 0;
  for await (const k of p.keys()) if (Number(k.toString().slice(1)) % 2 === 1) n++;
  t.equal(n, 500);
  snap.release();
});

t.test('compact(p, range) leaves segments outside the range alone', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'compact-range'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  const q = await ks.partition('q');
  for (let i = 0; i < 100; i++) await p.put(`a${i}`, 'x');
  await ks.flush();
  for (let i = 0; i < 100; i++) await p.put(`m${i}`, 'y');
  await q.put('q', 'q');
  await ks.flush();
  await ks.compact(p, { gte: 'a', lt: 'b' });
  const levels = ks.stats().partitions.p.levels;
  t.equal(levels[0].segments, 1, 'the m.. segment stayed in level 0');
  t.equal(levels[1].segments, 1, 'the a.. segment went down');
  t.equal(ks.stats().partitions.q.levels[0].segments, 1, 'another partition is not touched');
  t.same(await p.get('m5'), Buffer.from('y'));
  await ks.compact(undefined, { gte: 'm' });
  t.equal(ks.stats().partitions.p.levels[0].segments, 0);
  t.equal(ks.stats().partitions.q.levels[0].segments, 0, 'every partition, the range in each');
  t.equal(ks.stats().partitions.p.compactionsDone, 2);
});

t.test('compact argument and state errors', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'compact-errors'), options);
  const other = await Keyspace.open(await scratchDir(t, 'compact-other'));
  t.teardown(() => other.close());
  const p = await ks.partition('p');
  await t.rejects(ks.compact('p' as never), TypeError);
  await t.rejects(ks.compact(await other.partition('x')), TypeError);
  await t.rejects(ks.compact(p, { gte: 1 } as never), TypeError);
  await t.rejects(ks.compact(p, { limit: 1 } as never), RangeError);
  await ks.deletePartition('p');
  await t.rejects(ks.compact(p), { code: ErrorCodes.NOT_FOUND });
  await ks.close();
  await t.rejects(ks.compact(), { code: ErrorCodes.CLOSED });
});

t.test('stats: memtable bytes, block cache hits and misses', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'stats'), { ...options, blockCacheBytes: 1 << 20 });
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  t.same(ks.stats().blockCache, { capacityBytes: 1 << 20, usedBytes: 0, blocks: 0, hits: 0, misses: 0, hitRate: 0 });
  for (let i = 0; i < 300; i++) await p.put(key(i), value(i));
  t.ok(ks.stats().totals.memtableBytes >= 300 * 100, 'memtable bytes count the values');
  await ks.flush();
  await p.get(key(7));
  const cold = ks.stats().blockCache;
  t.equal(cold.misses, 1);
  await p.get(key(8));
  const warm = ks.stats().blockCache;
  t.equal(warm.hits, cold.hits + 1, 'the same block again is a hit');
  t.equal(warm.hitRate, warm.hits / (warm.hits + warm.misses));
  t.ok(warm.usedBytes > 0 && warm.blocks === 1);
  t.equal(ks.stats().totals.pendingCompactionBytes, 0, 'level 0 is below its trigger');
});
