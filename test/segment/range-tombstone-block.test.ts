// The range-tombstone block of a segment (format 3): written when there are range
// tombstones, read back at open, counted in the key span and seqnos; a segment of
// tombstones alone; a segment without them stays format 2 and reads as before; damage
// to the block is CAIRN_CORRUPTION.
import t from 'tap';
import path from 'node:path';
import { EntryKind, MAX_SEQNO, type Entry } from '../../lib/codec/entry.js';
import { RangeTombstones, keySuccessor } from '../../lib/codec/range-tombstones.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { SEGMENT_FORMAT_VERSION, SEGMENT_FORMAT_WITHOUT_RANGE_TOMBSTONES } from '../../lib/segment/format.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';

const fs = new NodeFileSystem();
const k = (i: number): Buffer => Buffer.from(`k${String(i).padStart(4, '0')}`);
const entries = (n: number): Entry[] => Array.from({ length: n }, (_, i) => ({ key: k(i * 2), seqno: 10 + i, kind: EntryKind.Put, value: Buffer.from(`v${i}`) }));

async function open(file: string): Promise<SegmentReader> {
  return SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache(1 << 20) });
}

t.test('written, read back, and counted in the key span', async (t) => {
  const file = path.join(t.testdir(), 'a.sst');
  const tombstones = new RangeTombstones();
  tombstones.add(k(5), k(9), 500);
  tombstones.add(Buffer.from('a'), Buffer.from('b'), 400);
  tombstones.add(k(300), keySuccessor(k(400)), 600);
  const meta = await writeSegment(fs, file, entries(100), { blockSize: 256, rangeTombstones: tombstones });
  t.same(meta.minKey, Buffer.from('a'), 'the span starts at the first tombstone');
  t.same(meta.maxKey, k(400), "lte k's successor: the span ends at k itself");
  t.equal(meta.maxSeqno, 600);
  const reader = await open(file);
  t.teardown(() => reader.close());
  t.equal(reader.properties.formatVersion, SEGMENT_FORMAT_VERSION);
  t.equal(reader.properties.rangeTombstoneCount, 3);
  t.same([...(reader.rangeTombstones as RangeTombstones).fragments()], [...tombstones.fragments()]);
  t.same(reader.get(k(6), MAX_SEQNO)?.value, Buffer.from('v3'), 'point data is unchanged');
  t.equal([...drain(reader)].length, 100);
});

t.test('tombstones alone make a segment with no data block', async (t) => {
  const file = path.join(t.testdir(), 'b.sst');
  const tombstones = new RangeTombstones();
  tombstones.add(k(1), k(2), 7);
  const meta = await writeSegment(fs, file, [], { rangeTombstones: tombstones });
  t.equal(meta.entryCount, 0);
  t.same([meta.minKey, meta.maxKey], [k(1), k(2)]);
  const reader = await open(file);
  t.teardown(() => reader.close());
  t.equal(reader.get(k(1)), undefined);
  t.equal(reader.cursor().next(), undefined);
  t.equal(reader.cursor({ reverse: true }).next(), undefined);
  t.equal(reader.rangeTombstones?.coveringSeqno(k(1), MAX_SEQNO), 7);
  await t.rejects(writeSegment(fs, path.join(t.testdir(), 'c.sst'), []), RangeError, 'still no empty segment');
  const unbounded = new RangeTombstones();
  unbounded.add(k(1), null, 8);
  await t.rejects(writeSegment(fs, path.join(t.testdir(), 'd.sst'), [], { rangeTombstones: unbounded }), RangeError, 'an unbounded tombstone is capped by the caller');
});

t.test('without tombstones: format 2, no block; a damaged block is CAIRN_CORRUPTION', async (t) => {
  const dir = t.testdir();
  await writeSegment(fs, path.join(dir, 'plain.sst'), entries(10));
  const plain = await open(path.join(dir, 'plain.sst'));
  t.equal(plain.properties.formatVersion, SEGMENT_FORMAT_WITHOUT_RANGE_TOMBSTONES);
  t.equal(plain.rangeTombstones, undefined);
  await plain.close();
  const tombstones = new RangeTombstones();
  tombstones.add(k(1), k(2), 7);
  const file = path.join(dir, 'e.sst');
  const meta = await writeSegment(fs, file, entries(10), { rangeTombstones: tombstones, compression: 'none' });
  const reader = await open(file);
  const at = reader.properties.dataSize;
  await reader.close();
  const { readFile, writeFile } = await import('node:fs/promises');
  const bytes = await readFile(file);
  t.ok(at > 0 && at < meta.fileSize);
  bytes[at + 1] ^= 0xff;
  await writeFile(file, bytes);
  await t.rejects(open(file), { code: 'CAIRN_CORRUPTION' });
});

function* drain(reader: SegmentReader): Iterable<Entry> {
  const c = reader.cursor();
  for (let e = c.next(); e !== undefined; e = c.next()) yield e;
}
