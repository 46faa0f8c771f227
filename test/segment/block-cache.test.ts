// The block cache: LRU order, the byte budget, per-file eviction, stats.
import t from 'tap';
import { EntryKind } from '../../lib/codec/entry.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { DataBlock, DataBlockBuilder } from '../../lib/segment/data-block.js';
import { BlockKind, openBlock } from '../../lib/segment/format.js';

/** A real decoded block whose payload is about `bytes` long. */
function block(bytes: number): DataBlock {
  const builder = new DataBlockBuilder(bytes);
  builder.add({ key: Buffer.from('k'), seqno: 1, kind: EntryKind.Put, value: Buffer.alloc(Math.max(0, bytes - 16)) });
  return new DataBlock(openBlock(Buffer.from(builder.finish()), BlockKind.Data, 'test', 0), 'test', 0);
}

t.test('hits, misses and least-recently-used eviction under the byte budget', async (t) => {
  const one = block(1000);
  const charge = (() => {
    const probe = new BlockCache(1_000_000);
    probe.insert(1, 0, one);
    return probe.stats.bytes;
  })();
  t.ok(charge >= one.size, 'a block is charged at least its bytes');
  const cache = new BlockCache(charge * 3);
  cache.insert(1, 0, one);
  cache.insert(1, 4096, block(1000));
  cache.insert(2, 0, block(1000));
  t.equal(cache.stats.blocks, 3);
  t.equal(cache.get(1, 0), one, 'a hit returns the same decoded block');
  t.equal(cache.get(9, 0), undefined);
  cache.insert(3, 0, block(1000));
  t.equal(cache.stats.blocks, 3, 'the fourth block pushed one out');
  t.equal(cache.get(1, 4096), undefined, 'the least recently used went first');
  t.ok(cache.get(1, 0), 'the recently read one stayed');
  t.ok(cache.get(2, 0));
  t.ok(cache.get(3, 0));
  t.ok(cache.stats.bytes <= cache.capacity);
  t.match(cache.stats, { hits: 4, misses: 2, evictions: 1, blocks: 3 });
});

t.test('replacing a key, oversized blocks, per-file eviction and clear', async (t) => {
  const cache = new BlockCache(20_000);
  cache.insert(1, 0, block(1000));
  const replacement = block(2000);
  cache.insert(1, 0, replacement);
  t.equal(cache.stats.blocks, 1, 'same (file, offset) replaces');
  t.equal(cache.get(1, 0), replacement);
  cache.insert(1, 8192, block(30_000));
  t.equal(cache.get(1, 8192), undefined, 'a block over the whole budget is not cached');
  t.equal(cache.stats.blocks, 1, 'and did not flush the others');
  for (let i = 0; i < 5; i++) cache.insert(2, i * 4096, block(500));
  cache.insert(3, 0, block(500));
  t.equal(cache.evictFile(2), 5);
  t.equal(cache.evictFile(2), 0, 'evicting again finds nothing');
  t.equal(cache.stats.blocks, 2);
  t.ok(cache.get(3, 0), 'other files keep their blocks');
  const before = cache.stats.bytes;
  cache.evictFile(3);
  t.ok(cache.stats.bytes < before, 'eviction returns the bytes');
  cache.clear();
  t.match(cache.stats, { blocks: 0, bytes: 0 });
  t.equal(cache.get(1, 0), undefined);
});

t.test('a zero budget caches nothing; a bad budget is a RangeError', async (t) => {
  const cache = new BlockCache(0);
  cache.insert(1, 0, block(100));
  t.equal(cache.get(1, 0), undefined);
  t.throws(() => new BlockCache(-1), RangeError);
  t.throws(() => new BlockCache(1.5), RangeError);
});

t.test('many inserts keep the budget and the bookkeeping consistent', async (t) => {
  const cache = new BlockCache(50_000);
  let overBudget = 0;
  for (let i = 0; i < 2000; i++) {
    cache.insert(i % 7, (i % 50) * 4096, block(100 + (i % 13) * 100));
    if (i % 3 === 0) cache.get(i % 7, ((i + 7) % 50) * 4096);
    if (i % 500 === 499) cache.evictFile(i % 7);
    if (cache.stats.bytes > cache.capacity) overBudget++;
  }
  t.equal(overBudget, 0, 'never over budget');
  const blocks = cache.stats.blocks;
  t.ok(blocks > 0);
  let evicted = 0;
  for (let f = 0; f < 7; f++) evicted += cache.evictFile(f);
  t.equal(evicted, blocks, 'per-file maps account for every cached block');
  t.match(cache.stats, { blocks: 0, bytes: 0 }, 'evicting every file leaves nothing charged');
});
