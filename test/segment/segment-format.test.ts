// Pure encoding pieces of the segment format: footer, block trailers, separators and
// data block searches.
import t from 'tap';
import { crc32 } from '../../lib/codec/checksum.js';
import { EntryKind, type Entry } from '../../lib/codec/entry.js';
import { DataBlock, DataBlockBuilder } from '../../lib/segment/data-block.js';
import { BlockKind, decodeFooter, encodeFooter, FOOTER_SIZE, openBlock, SEGMENT_FORMAT_VERSION, sealBlock, type Footer } from '../../lib/segment/format.js';
import { shortestSeparator } from '../../lib/segment/index-block.js';
import { rng } from './segment-model.js';

const footer: Footer = {
  filter: { offset: 5_000_000_000, length: 100 },
  index: { offset: 5_000_000_105, length: 40 },
  properties: { offset: 5_000_000_150, length: 30 },
  formatVersion: 1,
};
const fileSize = 5_000_000_185 + FOOTER_SIZE;

t.test('the footer round trips offsets beyond 4 GiB and checks itself', async (t) => {
  const buf = encodeFooter(footer);
  t.equal(buf.length, FOOTER_SIZE);
  t.equal(buf.subarray(48).toString('latin1'), 'cairnSST');
  t.same(decodeFooter(buf, fileSize, 'f'), footer);
  for (const at of [0, 9, 20, 36, 44, 50]) {
    const bad = Buffer.from(buf);
    bad[at] ^= 0x01;
    t.throws(() => decodeFooter(bad, fileSize, 'f'), { code: 'CAIRN_CORRUPTION', details: { path: 'f' } }, `flip at ${at}`);
  }
  t.throws(() => decodeFooter(buf, fileSize + 1, 'f'), { code: 'CAIRN_CORRUPTION' }, 'handles must end at the footer');
  const newer = Buffer.from(buf);
  newer.writeUInt32LE(SEGMENT_FORMAT_VERSION + 1, 36);
  newer.writeUInt32LE(crc32(newer.subarray(0, 44)), 44);
  t.throws(() => decodeFooter(newer, fileSize, 'f'), { code: 'CAIRN_UNSUPPORTED_FORMAT' });
});

t.test('block trailers: kind byte and CRC over payload + kind', async (t) => {
  const buf = Buffer.alloc(20);
  buf.write('payload!', 0);
  const end = sealBlock(buf, 0, 8, BlockKind.Index);
  t.equal(end, 13);
  t.equal(buf[8], BlockKind.Index);
  t.equal(buf.readUInt32LE(9), crc32(buf.subarray(0, 9)));
  t.equal(openBlock(buf.subarray(0, 13), BlockKind.Index, 'f', 0).toString(), 'payload!');
  t.throws(() => openBlock(buf.subarray(0, 13), BlockKind.Data, 'f', 7), { code: 'CAIRN_CORRUPTION', details: { offset: 7 } }, 'wrong kind');
  buf[3] ^= 0x20;
  t.throws(() => openBlock(buf.subarray(0, 13), BlockKind.Index, 'f', 0), { code: 'CAIRN_CORRUPTION' }, 'flipped payload');
  t.throws(() => openBlock(Buffer.alloc(3), BlockKind.Index, 'f', 0), { code: 'CAIRN_CORRUPTION' }, 'too short');
});

t.test('shortestSeparator(a, b) is >= a and < b, and short when it can be', async (t) => {
  t.equal(shortestSeparator(Buffer.from('abcdef'), Buffer.from('abzz')).toString(), 'abd');
  t.equal(shortestSeparator(Buffer.from('abc'), Buffer.from('abcd')).toString(), 'abc', 'a prefix stays itself');
  t.equal(shortestSeparator(Buffer.from('m'), Buffer.from('m')).toString(), 'm', 'the same key spanning blocks');
  t.same(shortestSeparator(Buffer.from([1, 0xff, 0xff, 7]), Buffer.from([2])), Buffer.from([1, 0xff, 0xff, 8]));
  t.same(shortestSeparator(Buffer.from([1, 0xff]), Buffer.from([2])), Buffer.from([1, 0xff]));
  t.equal(shortestSeparator(Buffer.from('last'), undefined).toString(), 'last');
  const random = rng(7);
  const bytes = (): Buffer => Buffer.from(Array.from({ length: Math.floor(random() * 6) }, () => [0, 1, 0x7f, 0xfe, 0xff][Math.floor(random() * 5)]));
  const failures: string[] = [];
  for (let i = 0; i < 5000; i++) {
    let a = bytes();
    let b = bytes();
    const c = Buffer.compare(a, b);
    if (c === 0) continue;
    if (c > 0) [a, b] = [b, a];
    const s = shortestSeparator(a, b);
    if (Buffer.compare(a, s) > 0 || Buffer.compare(s, b) >= 0) failures.push(`${a.toString('hex')} ${s.toString('hex')} ${b.toString('hex')}`);
  }
  t.same(failures, []);
});

t.test('data blocks: lazily decoded entries and the three searches', async (t) => {
  const entries: Entry[] = [];
  for (const [key, seqnos] of [['b', [9, 5, 2]], ['d', [300]], ['f', [8, 7]]] as const) {
    for (const seqno of seqnos) entries.push({ key: Buffer.from(key), seqno, kind: seqno === 5 ? EntryKind.Delete : EntryKind.Put, value: Buffer.from(`${key}${seqno}`) });
  }
  const builder = new DataBlockBuilder(64);
  for (const e of entries) builder.add(e);
  const block = new DataBlock(openBlock(Buffer.from(builder.finish()), BlockKind.Data, 'f', 0), 'f', 0);
  t.equal(block.count, 6);
  t.same(
    Array.from({ length: 6 }, (_, i) => block.entry(i)),
    entries,
  );
  const k = (s: string) => Buffer.from(s);
  t.same([block.lowerBound(k('a')), block.lowerBound(k('b')), block.lowerBound(k('c')), block.lowerBound(k('g'))], [0, 0, 3, 6]);
  t.same([block.upperBound(k('b')), block.upperBound(k('d')), block.upperBound(k('f'))], [3, 4, 6]);
  t.equal(block.seekVersion(k('b'), 100), 0, 'newest');
  t.equal(block.seekVersion(k('b'), 5), 1, 'exactly at a version');
  t.equal(block.seekVersion(k('b'), 4), 2);
  t.equal(block.seekVersion(k('b'), 1), 3, 'none visible: lands on the next key');
  t.equal(block.seekVersion(k('e'), 100), 4);
  t.ok(block.compareKeyAt(3, k('d')) === 0 && block.compareKeyAt(3, k('c')) > 0 && block.compareKeyAt(3, k('dd')) < 0);
  builder.add(entries[3]);
  const next = new DataBlock(openBlock(Buffer.from(builder.finish()), BlockKind.Data, 'f', 0), 'f', 0);
  t.same([next.count, next.entry(0)], [1, entries[3]], 'finish resets the builder for the next block');
});

t.test('structurally broken data blocks are corruption, even with a valid checksum', async (t) => {
  const builder = new DataBlockBuilder(64);
  builder.add({ key: Buffer.from('key'), seqno: 1, kind: EntryKind.Put, value: Buffer.from('value') });
  builder.add({ key: Buffer.from('key2'), seqno: 1, kind: EntryKind.Put, value: Buffer.from('value') });
  const payload = Buffer.from(openBlock(Buffer.from(builder.finish()), BlockKind.Data, 'f', 0));
  const mutations: Array<[string, (b: Buffer) => void]> = [
    ['count too large', (b) => b.writeUInt32LE(1000, b.length - 4)],
    ['count zero', (b) => b.writeUInt32LE(0, b.length - 4)],
    ['offset out of order', (b) => b.writeUInt32LE(1, b.length - 16)],
    ['shared prefix longer than a key', (b) => b.writeUInt32LE(200, b.length - 8)],
    ['key length past the end', (b) => (b[0] = 0x7f)],
    ['bad kind', (b) => (b[5] = 9)],
  ];
  for (const [name, mutate] of mutations) {
    const bad = Buffer.from(payload);
    mutate(bad);
    t.throws(() => new DataBlock(bad, 'f', 4096), { code: 'CAIRN_CORRUPTION', details: { path: 'f', offset: 4096 } }, name);
  }
  t.throws(() => new DataBlock(Buffer.alloc(2), 'f', 0), { code: 'CAIRN_CORRUPTION' });
});

t.test('block and index searches agree with a sorted array when keys share long prefixes and hints tie', async (t) => {
  const random = rng(21);
  const failures: string[] = [];
  for (let round = 0; round < 200; round++) {
    // A shared stem, then bytes from a tiny alphabet so 4-byte hints often tie.
    const stem = Buffer.from('tenant-42/'.slice(0, Math.floor(random() * 11)));
    const tail = () => Buffer.from(Array.from({ length: Math.floor(random() * 8) }, () => [0x00, 0x61, 0xff][Math.floor(random() * 3)]));
    const keys = [...new Set(Array.from({ length: 1 + Math.floor(random() * 40) }, () => Buffer.concat([stem, tail()]).toString('hex')))]
      .map((hex) => Buffer.from(hex, 'hex'))
      .sort(Buffer.compare);
    const builder = new DataBlockBuilder(64);
    keys.forEach((key, i) => builder.add({ key, seqno: i + 1, kind: EntryKind.Put, value: Buffer.alloc(0) }));
    const block = new DataBlock(openBlock(Buffer.from(builder.finish()), BlockKind.Data, 'f', 0), 'f', 0);
    const probes = [...keys, Buffer.alloc(0), stem.subarray(0, Math.max(0, stem.length - 1)), Buffer.concat([stem, tail()]), Buffer.from('zzz'), Buffer.concat([stem, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])])];
    for (const probe of probes) {
      const lower = keys.findIndex((k) => Buffer.compare(k, probe) >= 0);
      const upper = keys.findIndex((k) => Buffer.compare(k, probe) > 0);
      const want = [lower < 0 ? keys.length : lower, upper < 0 ? keys.length : upper];
      const got = [block.lowerBound(probe), block.upperBound(probe)];
      if (got.join() !== want.join()) failures.push(`round ${round} probe ${probe.toString('hex')}: ${got} != ${want}`);
    }
  }
  t.same(failures, []);
});
