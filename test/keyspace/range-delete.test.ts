// Range deletes (p.clear(range), batch.clear(p, range)) through a real keyspace: reads,
// iterators both ways, snapshots, batches, flushes, compaction, reopen, checkpoints, and
// bad input.
import t from 'tap';
import { Keyspace } from '../../lib/index.js';
import { scratchDir } from '../helpers/scratch.js';

const key = (i: number): string => `k${String(i).padStart(5, '0')}`;
const options = { blockSize: 1024, compaction: { level0Trigger: 100, level0StopWrites: 400 } };

async function keys(p: { keys(o?: object): AsyncIterable<Buffer> }, o: object = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const k of p.keys(o)) out.push(k.toString());
  return out;
}

const range = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => key(from + i));

t.test('clear hides the range from get, has, getMany and iterators; later puts are visible', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'rd-basic'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  for (let i = 0; i < 100; i++) await p.put(key(i), `v${i}`);
  const snap = ks.snapshot();
  await p.clear({ gte: key(10), lt: key(20) });
  await p.clear({ gt: key(29), lte: key(40) });
  t.equal(await p.get(key(10)), undefined);
  t.equal(await p.get(key(19)), undefined);
  t.same(await p.get(key(20)), Buffer.from('v20'), 'lt is exclusive');
  t.same(await p.get(key(29)), Buffer.from('v29'), 'gt is exclusive');
  t.equal(await p.get(key(40)), undefined, 'lte is inclusive');
  t.same(await p.get(key(41)), Buffer.from('v41'));
  t.equal(await p.has(key(15)), false);
  t.same(await p.getMany([key(9), key(10), key(30)]), [Buffer.from('v9'), undefined, undefined]);
  const expected = [...range(0, 10), ...range(20, 30), ...range(41, 100)];
  t.same(await keys(p), expected, 'forward');
  t.same(await keys(p, { reverse: true }), expected.slice().reverse(), 'reverse');
  t.same(await keys(p, { gte: key(5), lt: key(25), limit: 8 }), [...range(5, 10), ...range(20, 23)], 'bounds and limit');
  t.same(await p.get(key(15), { snapshot: snap }), Buffer.from('v15'), 'a snapshot from before the clear still sees the keys');
  t.equal((await keys(p, { snapshot: snap })).length, 100);
  await p.put(key(15), 'again');
  t.same(await p.get(key(15)), Buffer.from('again'), 'a put after the clear is visible');
  t.same(await keys(p, { gte: key(14), lt: key(17) }), [key(15)]);
  snap.release();
  // Through a flush and a compaction to the bottom, which drops what the clears covered.
  await ks.flush();
  t.same(await keys(p), [...range(0, 10), key(15), ...range(20, 30), ...range(41, 100)], 'after flush');
  await ks.compact();
  t.same(await keys(p), [...range(0, 10), key(15), ...range(20, 30), ...range(41, 100)], 'after compaction');
  t.equal(ks.stats().partitions.p.levels.at(-1)!.entries, 80, 'compaction dropped the covered entries');
});

t.test('an unbounded clear, in memtables and segments, and across reopen', async (t) => {
  const dir = await scratchDir(t, 'rd-all');
  let ks = await Keyspace.open(dir, options);
  let p = await ks.partition('p');
  for (let i = 0; i < 50; i++) await p.put(key(i), 'a');
  await ks.flush();
  for (let i = 50; i < 60; i++) await p.put(key(i), 'b');
  await p.clear();
  await p.put(key(7), 'c');
  t.same(await keys(p), [key(7)]);
  await ks.close();
  ks = await Keyspace.open(dir, options);
  p = await ks.partition('p');
  t.same(await keys(p), [key(7)], 'the journal replays the clear');
  await ks.flush();
  t.same(await keys(p), [key(7)], 'flushed: the segment holds the tombstone');
  t.equal(await p.get(key(55)), undefined);
  await p.put(key(99), 'd');
  await ks.flush();
  await ks.close();
  ks = await Keyspace.open(dir, options);
  t.teardown(() => ks.close());
  p = await ks.partition('p');
  t.same(await keys(p), [key(7), key(99)], 'reopened from segments only');
  await ks.compact();
  t.same(await keys(p), [key(7), key(99)]);
  t.equal(ks.stats().partitions.p.levels.at(-1)!.entries, 2);
});

t.test('batch.clear(p, range) is atomic and ordered with the batch; batch.clear() still empties the batch', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'rd-batch'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  const q = await ks.partition('q');
  for (let i = 0; i < 10; i++) await p.put(key(i), 'old');
  await q.put('x', '1');
  const b = ks.batch();
  b.put(p, key(3), 'before');
  b.clear(p, { lte: key(5) });
  b.put(p, key(4), 'after');
  b.put(q, 'y', '2');
  t.equal(b.length, 4);
  await b.commit();
  t.same(await keys(p), [key(4), ...range(6, 10)]);
  t.same(await p.get(key(4)), Buffer.from('after'));
  t.same(await keys(q), ['x', 'y'], 'the other partition is untouched');
  const dropped = ks.batch();
  dropped.clear(p);
  t.equal(dropped.length, 1);
  dropped.clear();
  t.equal(dropped.length, 0, 'clear() without arguments drops the queued operations');
  await dropped.commit();
  t.equal((await keys(p)).length, 5);
  t.throws(() => ks.batch().clear(p, { gte: 1 } as never), TypeError);
  t.throws(() => ks.batch().clear(p, { limit: 1 } as never), { name: 'RangeError', message: /range\.limit/ });
});

t.test('bad ranges reject before any write, naming the option', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'rd-bad'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  await p.put('a', '1');
  const seqno = ks.seqno;
  await t.rejects(p.clear({ gte: 5 } as never), { name: 'TypeError', message: /gte/ });
  await t.rejects(p.clear({ lt: null } as never), { name: 'TypeError', message: /lt/ });
  await t.rejects(p.clear({ reverse: true } as never), { name: 'RangeError', message: /range\.reverse/ });
  await t.rejects(p.clear({ lte: Buffer.alloc(70000) }), { name: 'RangeError', message: /lte/ });
  await t.rejects(p.clear('a' as never), TypeError);
  t.equal(ks.seqno, seqno, 'nothing was written');
  await p.clear({ gte: 'b', lt: 'a' });
  t.equal(ks.seqno, seqno, 'an empty range writes nothing');
  t.same(await p.get('a'), Buffer.from('1'));
});

t.test('a clear costs the same whatever it covers; the tombstone stays after a non-bottom merge', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'rd-cost'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  for (let i = 0; i < 2000; i++) await p.put(key(i), 'x'.repeat(50));
  await ks.flush();
  const before = ks.stats().totals.memtableBytes;
  await p.clear({ gte: key(0), lt: key(1999) });
  t.ok(ks.stats().totals.memtableBytes - before < 200, 'the memtable grew by one tombstone, not by 1999 deletes');
  t.same(await keys(p), [key(1999)]);
  await ks.flush();
  t.same(await keys(p), [key(1999)]);
  await ks.compact();
  t.same(await keys(p), [key(1999)]);
  t.equal(ks.stats().partitions.p.levels.at(-1)!.entries, 1);
});

t.test('checkpoints carry range deletes (journal and segments); a snapshot outlives the compaction that drops covered data', async (t) => {
  const dir = await scratchDir(t, 'rd-checkpoint');
  const ks = await Keyspace.open(dir, options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  for (let i = 0; i < 300; i++) await p.put(key(i), `v${i}`);
  await ks.flush();
  await p.clear({ gte: key(0), lt: key(100) });
  await ks.flush();
  const snap = ks.snapshot();
  await p.clear({ gte: key(200) });
  const dest = `${dir}-copy`;
  t.teardown(async () => {
    const { remove } = await import('fs-extra/esm');
    await remove(dest);
  });
  await ks.backupTo(dest);
  await ks.compact();
  t.same(await keys(p), range(100, 200));
  t.equal((await keys(p, { snapshot: snap })).length, 200, 'the snapshot still sees what the second clear and the compaction removed');
  t.same(await p.get(key(250), { snapshot: snap }), Buffer.from('v250'));
  snap.release();
  const copy = await Keyspace.open(dest, options);
  t.teardown(() => copy.close());
  t.same(await keys(await copy.partition('p')), range(100, 200), 'the checkpoint has both clears: one in a segment, one in its journal');
});

t.test('a scan right after a big clear skips the covered entries of older segments, both ways', async (t) => {
  const ks = await Keyspace.open(await scratchDir(t, 'rd-scan'), options);
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  for (let i = 0; i < 5000; i += 500) {
    const b = ks.batch();
    for (let j = i; j < i + 500; j++) b.put(p, key(j), 'x'.repeat(100));
    await b.commit();
  }
  await ks.flush();
  await p.clear({ gte: key(10), lt: key(4990) });
  await p.put(key(2500), 'new');
  const before = ks.stats().blockCache;
  t.same(await keys(p, { gte: key(5) }), [...range(5, 10), key(2500), ...range(4990, 5000)]);
  t.same(await keys(p, { lt: key(4995), reverse: true }), [...range(0, 10), key(2500), ...range(4990, 4995)].reverse());
  const after = ks.stats().blockCache;
  const blocks = after.hits + after.misses - before.hits - before.misses;
  t.ok(blocks < 20, `the two scans read ${blocks} blocks, not the ~500 of the covered range`);
});
