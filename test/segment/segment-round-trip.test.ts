// Segments written then read back: random entries against the sorted-array model (gets
// at many read seqnos, cursors with random bounds in both directions), meta, inputs.
import t from 'tap';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { EntryKind, MAX_SEQNO, type Entry } from '../../lib/codec/entry.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';
import { drain, modelGet, modelRange, randomEntries, rng, show, type Bounds } from './segment-model.js';

const fs = new NodeFileSystem();

function put(key: string, seqno: number, value = 'v'): Entry {
  return { key: Buffer.from(key), seqno, kind: EntryKind.Put, value: Buffer.from(value) };
}

for (const [seed, blockSize, stem] of [[1, 64, ''], [2, 256, ''], [3, 4096, ''], [4, 128, 'tenant/0042/']] as const) {
  t.test(`random entries round trip (seed ${seed}, blockSize ${blockSize}, key stem '${stem}')`, async (t) => {
    const random = rng(seed);
    // Values up to 3 blocks, some bigger than the writer's 256 KiB chunk.
    const entries = randomEntries(random, { keys: 400, maxVersions: 4, maxValue: blockSize * 3, largeValue: 300_000, stem: Buffer.from(stem) });
    const file = path.join(t.testdir(), '000001.sst');
    const meta = await writeSegment(fs, file, entries, { blockSize, createdAt: 1_700_000_000_000 });
    const cache = new BlockCache(1024 * 1024);
    const reader = await SegmentReader.open(fs, file, { fileNumber: 1, cache });
    t.teardown(() => reader.close());

    t.same(reader.meta, meta, 'open reads back what the writer returned');
    t.equal(meta.fileSize, (await fs.stat(file)).size);
    t.equal(meta.entryCount, entries.length);
    t.equal(meta.tombstoneCount, entries.filter((e) => e.kind === EntryKind.Delete).length);
    t.same(meta.minKey, entries[0].key);
    t.same(meta.maxKey, entries[entries.length - 1].key);
    t.equal(meta.minSeqno, Math.min(...entries.map((e) => e.seqno)));
    t.equal(meta.maxSeqno, Math.max(...entries.map((e) => e.seqno)));
    t.equal(reader.properties.createdAt, 1_700_000_000_000);
    t.equal(reader.properties.keyCount, new Set(entries.map((e) => e.key.toString('hex'))).size);
    t.ok(reader.properties.dataBlockCount > (blockSize === 4096 ? 10 : 100), 'many data blocks');

    t.same(show(drain(reader.cursor())), show(entries), 'a full scan yields every entry in order');

    // Every key at its own seqnos (exact, just below, just above), at 0 and at MAX.
    const getMismatches: string[] = [];
    for (const e of entries) {
      for (const readSeqno of [e.seqno, e.seqno - 1, e.seqno + 1, 0, MAX_SEQNO]) {
        const [got] = show([reader.get(e.key, readSeqno)]);
        const [want] = show([modelGet(entries, e.key, readSeqno)]);
        if (got !== want) getMismatches.push(`${e.key.toString('hex')} at ${readSeqno}: ${got} != ${want}`);
      }
    }
    t.same(getMismatches, [], 'get matches the model at every probed seqno');

    // Keys at the edges: the bare stem, just after it, before and after everything stored.
    const edges = [Buffer.from(stem), Buffer.from(`${stem}\u0000`), Buffer.from([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from('zz-not-there')];
    for (const key of edges) t.same(show([reader.get(key, MAX_SEQNO)]), show([modelGet(entries, key, MAX_SEQNO)]), `get of ${key.toString('hex')}`);

    const keys = entries.map((e) => e.key);
    const pick = (): Buffer => {
      const r = random();
      if (r < 0.6) return keys[Math.floor(random() * keys.length)];
      const noise = Buffer.from([Math.floor(random() * 256), Math.floor(random() * 256)]);
      return r < 0.8 ? noise : Buffer.concat([Buffer.from(stem).subarray(0, Math.floor(random() * (stem.length + 1))), noise]);
    };
    const cursorMismatches: string[] = [];
    for (let i = 0; i < 300; i++) {
      const bounds: Bounds = { reverse: random() < 0.5 };
      const lower = random();
      if (lower < 0.4) bounds.gte = pick();
      else if (lower < 0.8) bounds.gt = pick();
      const upper = random();
      if (upper < 0.4) bounds.lte = pick();
      else if (upper < 0.8) bounds.lt = pick();
      const got = show(drain(reader.cursor(bounds)));
      const want = show(modelRange(entries, bounds));
      if (got.join() !== want.join()) cursorMismatches.push(JSON.stringify({ bounds, got: got.length, want: want.length }));
    }
    t.same(cursorMismatches, [], 'cursors with random bounds in both directions match the model');
  });
}

t.test('versions of one key spanning many blocks, read in both directions', async (t) => {
  const entries: Entry[] = [put('a', 1)];
  for (let s = 500; s >= 100; s--) entries.push(put('m', s, `value-${s}`));
  entries.push(put('z', 2));
  const file = path.join(t.testdir(), '000002.sst');
  await writeSegment(fs, file, entries, { blockSize: 64 });
  const reader = await SegmentReader.open(fs, file, { fileNumber: 2, cache: new BlockCache() });
  t.teardown(() => reader.close());
  t.ok(reader.properties.dataBlockCount > 50);
  t.equal(reader.get(Buffer.from('m'), 99), undefined, 'nothing visible below the oldest version');
  t.equal(reader.get(Buffer.from('m'), 100)?.value.toString(), 'value-100', 'the oldest, in the last block of the run');
  t.equal(reader.get(Buffer.from('m'), 321)?.value.toString(), 'value-321');
  t.equal(reader.get(Buffer.from('m'), MAX_SEQNO)?.value.toString(), 'value-500');
  const reverse = drain(reader.cursor({ reverse: true }));
  t.same(
    reverse.map((e) => `${e.key}@${e.seqno}`),
    ['z@2', ...entries.slice(1, -1).map((e) => `m@${e.seqno}`), 'a@1'],
    'reverse: keys descending, versions still newest first',
  );
  t.same(drain(reader.cursor({ gt: Buffer.from('m'), reverse: true })).map((e) => e.seqno), [2]);
  t.same(drain(reader.cursor({ lt: Buffer.from('m') })).map((e) => e.seqno), [1]);
  t.equal(drain(reader.cursor({ gte: Buffer.from('m'), lte: Buffer.from('m'), reverse: true })).length, 401);
});

t.test('async iterables are accepted; a single entry makes a valid segment', async (t) => {
  async function* one(): AsyncGenerator<Entry> {
    yield { key: Buffer.alloc(0), seqno: 0, kind: EntryKind.Delete, value: Buffer.alloc(0) };
  }
  const file = path.join(t.testdir(), '000003.sst');
  const meta = await writeSegment(fs, file, one(), { bloomBitsPerKey: 0 });
  t.equal(meta.entryCount, 1);
  t.equal(meta.tombstoneCount, 1);
  const reader = await SegmentReader.open(fs, file, { fileNumber: 3, cache: new BlockCache() });
  t.teardown(() => reader.close());
  t.equal(reader.get(Buffer.alloc(0), 0)?.kind, EntryKind.Delete, 'the empty key and seqno 0 round trip');
  t.ok(reader.mayContain(Buffer.from('anything')), 'without a filter every key may be present');
  t.equal(reader.get(Buffer.from('x')), undefined);
});

t.test('bad input is rejected and leaves no file behind', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'x.sst');
  await t.rejects(writeSegment(fs, file, [put('b', 1), put('a', 2)]), { name: 'RangeError' }, 'keys out of order');
  t.notOk(existsSync(file));
  await t.rejects(writeSegment(fs, file, [put('a', 1), put('a', 2)]), { name: 'RangeError' }, 'versions oldest first');
  await t.rejects(writeSegment(fs, file, [put('a', 2), put('a', 2)]), { name: 'RangeError' }, 'duplicate version');
  await t.rejects(writeSegment(fs, file, []), { name: 'RangeError' }, 'no entries');
  await t.rejects(writeSegment(fs, file, [{ ...put('a', 1), seqno: -1 }]), { name: 'RangeError' });
  await t.rejects(writeSegment(fs, file, [{ ...put('a', 1), kind: 7 as EntryKind }]), { name: 'RangeError' });
  await t.rejects(writeSegment(fs, file, [{ ...put('a', 1), key: 'a' as unknown as Buffer }]), { name: 'TypeError' });
  t.notOk(existsSync(file), 'every failed write removed its partial file');

  await t.rejects(writeSegment(fs, file, [put('a', 1)], { blockSize: 10 }), { name: 'RangeError' });
  await t.rejects(writeSegment(fs, file, [put('a', 1)], { bloomBitsPerKey: 1.5 }), { name: 'RangeError' });
  await t.rejects(writeSegment(fs, file, 42 as unknown as Entry[]), { name: 'TypeError' });
  t.notOk(existsSync(file), 'option errors come before any I/O');

  await writeSegment(fs, file, [put('a', 1)]);
  await t.rejects(writeSegment(fs, file, [put('a', 1)]), { code: 'EEXIST' }, 'never overwrites a segment');
  t.ok(existsSync(file), 'and leaves the existing file alone');
});

t.test('a closed reader refuses reads; close is idempotent', async (t) => {
  const file = path.join(t.testdir(), '000004.sst');
  await writeSegment(fs, file, [put('a', 1), put('b', 2)]);
  const reader = await SegmentReader.open(fs, file, { fileNumber: 4, cache: new BlockCache() });
  const cursor = reader.cursor();
  await reader.close();
  await reader.close();
  t.throws(() => reader.get(Buffer.from('a')), { code: 'CAIRN_CLOSED' });
  t.throws(() => reader.cursor(), { code: 'CAIRN_CLOSED' });
  t.throws(() => cursor.next(), { code: 'CAIRN_CLOSED' }, 'a cursor made before close cannot read either');
  await t.rejects(SegmentReader.open(fs, file, { fileNumber: -1, cache: new BlockCache() }), { name: 'RangeError' });
  await t.rejects(SegmentReader.open(fs, file, { fileNumber: 1, cache: {} as BlockCache }), { name: 'TypeError' });
  await t.rejects(SegmentReader.open(fs, path.join(path.dirname(file), 'missing.sst'), { fileNumber: 1, cache: new BlockCache() }), { code: 'ENOENT' });
});

t.test('gets go through the shared block cache', async (t) => {
  const entries = Array.from({ length: 2000 }, (_, i) => put(`key-${String(i).padStart(6, '0')}`, i + 1, 'x'.repeat(50)));
  const file = path.join(t.testdir(), '000005.sst');
  await writeSegment(fs, file, entries);
  const cache = new BlockCache();
  const reader = await SegmentReader.open(fs, file, { fileNumber: 5, cache });
  t.teardown(() => reader.close());
  for (const e of entries) reader.get(e.key);
  const cold = cache.stats;
  t.equal(cold.blocks, reader.properties.dataBlockCount, 'every block cached once');
  t.equal(cold.misses, reader.properties.dataBlockCount);
  for (const e of entries) t.equal(reader.get(e.key)?.seqno, e.seqno);
  t.equal(cache.stats.misses, cold.misses, 'a warm pass reads nothing');
  t.equal(cache.stats.hits, cold.hits + entries.length);
  drain(reader.cursor({ fillCache: false }));
  t.equal(cache.stats.blocks, cold.blocks);
  t.equal(cache.evictFile(5), cold.blocks);
  drain(reader.cursor({ fillCache: false }));
  t.equal(cache.stats.blocks, 0, 'a fillCache:false scan leaves the cache alone');
});
