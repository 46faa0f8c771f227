// Test helper for the segment tests: seeded random entries and the sorted-array model
// that segment gets and cursors are checked against. Not a test file itself.
import { crc32 } from '../../lib/codec/checksum.js';
import { compareEntries, EntryKind, type Entry } from '../../lib/codec/entry.js';

/** mulberry32: a small seeded PRNG, so every failure reproduces. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes chosen to stress ordering: 0x00 and 0xff, both sides of 0x80, shared prefixes. */
const KEY_BYTES = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xfe, 0xff];

export interface RandomEntriesOptions {
  keys: number;
  maxVersions: number;
  /** Values up to this length, plus a few of `largeValue` bytes. */
  maxValue: number;
  largeValue: number;
  /** Prepended to every key (a shared prefix, as in multi-tenant key layouts). */
  stem?: Buffer;
}

/** Sorted entries: distinct random binary keys (the bare stem, by default the empty key, included), 1..maxVersions versions each, unique seqnos. */
export function randomEntries(random: () => number, options: RandomEntriesOptions): Entry[] {
  const stem = options.stem ?? Buffer.alloc(0);
  const keys = new Map<string, Buffer>();
  keys.set(stem.toString('hex'), Buffer.from(stem));
  while (keys.size < options.keys) {
    const length = 1 + Math.floor(random() * 10);
    const key = Buffer.alloc(stem.length + length);
    stem.copy(key);
    for (let i = stem.length; i < key.length; i++) key[i] = KEY_BYTES[Math.floor(random() * KEY_BYTES.length)];
    keys.set(key.toString('hex'), key);
  }
  const seqnos = new Set<number>();
  const nextSeqno = () => {
    for (;;) {
      const s = 1 + Math.floor(random() * 1_000_000);
      if (!seqnos.has(s)) {
        seqnos.add(s);
        return s;
      }
    }
  };
  const entries: Entry[] = [];
  for (const key of keys.values()) {
    const versions = 1 + Math.floor(random() * options.maxVersions);
    for (let v = 0; v < versions; v++) {
      const kind = random() < 0.2 ? EntryKind.Delete : EntryKind.Put;
      let value = Buffer.alloc(0);
      if (kind === EntryKind.Put) {
        const r = random();
        const length = r < 0.1 ? 0 : r < 0.13 ? options.largeValue : Math.floor(random() * options.maxValue);
        value = Buffer.alloc(length, Math.floor(random() * 256));
        if (length > 0) value[0] = v;
      }
      entries.push({ key, seqno: nextSeqno(), kind, value });
    }
  }
  return entries.sort(compareEntries);
}

/** What SegmentReader.get must return: the newest version with seqno <= readSeqno. */
export function modelGet(entries: readonly Entry[], key: Buffer, readSeqno: number): Entry | undefined {
  return entries.find((e) => e.key.equals(key) && e.seqno <= readSeqno);
}

export interface Bounds {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  reverse?: boolean;
}

/** What a cursor must yield: entries within bounds, keys asc (desc if reverse), versions newest first. */
export function modelRange(entries: readonly Entry[], b: Bounds): Entry[] {
  const inside = entries.filter((e) => {
    if (b.gt !== undefined && Buffer.compare(e.key, b.gt) <= 0) return false;
    if (b.gte !== undefined && Buffer.compare(e.key, b.gte) < 0) return false;
    if (b.lt !== undefined && Buffer.compare(e.key, b.lt) >= 0) return false;
    if (b.lte !== undefined && Buffer.compare(e.key, b.lte) > 0) return false;
    return true;
  });
  if (!b.reverse) return inside;
  return inside.sort((x, y) => Buffer.compare(y.key, x.key) || y.seqno - x.seqno);
}

export function drain(cursor: { next(): Entry | undefined }): Entry[] {
  const out: Entry[] = [];
  for (let e = cursor.next(); e !== undefined; e = cursor.next()) out.push(e);
  return out;
}

/** A compact, comparable rendering of entries for t.same (values by length and CRC). */
export function show(entries: readonly (Entry | undefined)[]): string[] {
  return entries.map((e) => (e === undefined ? 'none' : `${e.key.toString('hex')}@${e.seqno}:${e.kind}:${e.value.length}:${crc32(e.value).toString(16)}`));
}
