// Block compression: compressible data blocks are stored Snappy-compressed and read back
// exactly, incompressible ones are stored as they are (the file is byte for byte as large
// as with compression off), both kinds mix in one file, and a segment of format 1 (the
// keyspace-v1 fixture, written before compression) still reads.
import t, { type Test } from 'tap';
import path from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EntryKind, MAX_SEQNO, type Entry } from '../../lib/codec/entry.js';
import { NodeFileSystem } from '../../lib/fs/node-file-system.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { BLOCK_TRAILER_SIZE, BlockKind, SEGMENT_FORMAT_WITHOUT_RANGE_TOMBSTONES } from '../../lib/segment/format.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';
import { drain, rng, show } from './segment-model.js';

const fs = new NodeFileSystem();

/** Sorted entries whose values are half random bytes, half a repeated byte (when `compressible`), else all random. */
function entries(count: number, compressible: (i: number) => boolean, seed: number): Entry[] {
  const random = rng(seed);
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(100);
    const randomBytes = compressible(i) ? 50 : 100;
    for (let j = 0; j < randomBytes; j++) value[j] = Math.floor(random() * 256);
    value.fill(97, randomBytes);
    out.push({ key: Buffer.from(`key${String(i).padStart(8, '0')}`), seqno: i + 1, kind: EntryKind.Put, value });
  }
  return out;
}

/** The trailer kind byte of every data block of a segment file. */
async function blockKinds(file: string): Promise<number[]> {
  const reader = await SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache(0) });
  const bytes = await readFile(file);
  const index = reader.blockIndex;
  const kinds: number[] = [];
  for (let b = 0; b < index.count; b++) kinds.push(bytes[index.offsetOf(b) + index.lengthOf(b)]);
  await reader.close();
  return kinds;
}

async function readsBack(t: Test, file: string, expected: Entry[]): Promise<void> {
  const reader = await SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache(1 << 20) });
  t.same(show(drain(reader.cursor())), show(expected), 'forward');
  t.same(show(drain(reader.cursor({ reverse: true }))), show([...expected].reverse()), 'reverse');
  let misses = 0;
  for (const e of expected) if (reader.get(e.key, MAX_SEQNO)?.value.equals(e.value) !== true) misses++;
  t.equal(misses, 0, 'every get finds its value');
  t.equal(reader.properties.formatVersion, SEGMENT_FORMAT_WITHOUT_RANGE_TOMBSTONES, 'no range tombstones: format 2');
  await reader.close();
}

t.test('half-compressible blocks are stored compressed and read back exactly', async (t) => {
  const dir = t.testdir();
  const data = entries(3000, () => true, 1);
  const packed = await writeSegment(fs, path.join(dir, 'snappy.sst'), data);
  const plain = await writeSegment(fs, path.join(dir, 'plain.sst'), data, { compression: 'none' });
  t.ok(packed.fileSize < plain.fileSize * 0.7, `compressed ${packed.fileSize} bytes, plain ${plain.fileSize}`);
  const kinds = await blockKinds(path.join(dir, 'snappy.sst'));
  t.ok(kinds.length > 10 && kinds.every((k) => k === BlockKind.SnappyData), 'every block compressed');
  t.ok((await blockKinds(path.join(dir, 'plain.sst'))).every((k) => k === BlockKind.Data), "compression 'none' stores every block plain");
  await readsBack(t, path.join(dir, 'snappy.sst'), data);
  await t.rejects(writeSegment(fs, path.join(dir, 'bad.sst'), data, { compression: 'lz4' as 'none' }), RangeError);
});

t.test('incompressible blocks are stored as they are; both kinds mix in one file', async (t) => {
  const dir = t.testdir();
  const random = entries(2000, () => false, 2);
  const packed = await writeSegment(fs, path.join(dir, 'random.sst'), random);
  const plain = await writeSegment(fs, path.join(dir, 'random-plain.sst'), random, { compression: 'none' });
  t.equal(packed.fileSize, plain.fileSize, 'random values: not one block compressed');
  t.ok((await blockKinds(path.join(dir, 'random.sst'))).every((k) => k === BlockKind.Data));
  // Runs of 300 entries (several blocks) alternate between compressible and not.
  const mixed = entries(3000, (i) => Math.floor(i / 300) % 2 === 0, 3);
  await writeSegment(fs, path.join(dir, 'mixed.sst'), mixed);
  const kinds = await blockKinds(path.join(dir, 'mixed.sst'));
  t.ok(kinds.includes(BlockKind.Data) && kinds.includes(BlockKind.SnappyData), `both kinds: ${kinds.filter((k) => k === BlockKind.SnappyData).length} of ${kinds.length} compressed`);
  await readsBack(t, path.join(dir, 'mixed.sst'), mixed);
});

t.test('a format-1 segment (the keyspace-v1 fixture, from before compression) still reads', async (t) => {
  const segments = fileURLToPath(new URL('../fixtures/keyspace-v1/partitions/users/segments/', import.meta.url));
  const names = (await readdir(segments)).filter((n) => n.endsWith('.sst'));
  t.ok(names.length > 0, 'the fixture has segments');
  for (const name of names) {
    const file = path.join(segments, name);
    const reader = await SegmentReader.open(fs, file, { fileNumber: 1, cache: new BlockCache(0) });
    t.equal(reader.properties.formatVersion, 1, `${name} is format 1`);
    t.equal(drain(reader.cursor()).length, reader.properties.entryCount, `${name}: every entry reads`);
    await reader.close();
    t.ok((await blockKinds(file)).every((k) => k === BlockKind.Data), `${name}: plain blocks only`);
  }
  t.equal(BLOCK_TRAILER_SIZE, 5, 'the trailer is unchanged: kind byte and CRC');
});
