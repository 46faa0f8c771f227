// Data blocks: entries with full keys, then a slot array (entry offset + a 4-byte key
// hint) that binary searches run over without touching entries. The builder belongs to
// one writer; a decoded DataBlock is immutable and shared through the block cache.
import { EntryKind, type Entry } from '../codec/entry.js';
import { commonPrefixLength, compareBytes, keyHint } from './compare-bytes.js';
import { BLOCK_TRAILER_SIZE, BlockKind, corruption, sealBlock } from './format.js';

/** Bytes per slot: u32 entry offset, u32 key hint. */
const SLOT_SIZE = 8;
/** The block's last 8 bytes: u32 shared prefix length, u32 entry count. */
const BLOCK_TAIL_SIZE = 8;

/** Encodes entries into one block: payload, then the 5-byte trailer (see docs/format.md §8). */
export class DataBlockBuilder {
  private buf: Buffer;
  private length = 0;
  private readonly offsets: number[] = [];
  private readonly keyStarts: number[] = [];
  private readonly keyEnds: number[] = [];

  constructor(initialCapacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(256, initialCapacity));
  }

  get entryCount(): number {
    return this.offsets.length;
  }

  /** Payload bytes the block would have if finished now. */
  get estimatedSize(): number {
    return this.length + SLOT_SIZE * this.offsets.length + BLOCK_TAIL_SIZE;
  }

  add(entry: Entry): void {
    const key = entry.key;
    const value = entry.value;
    this.reserve(key.length + value.length + 24);
    const buf = this.buf;
    this.offsets.push(this.length);
    let p = writeVarint(buf, this.length, key.length);
    this.keyStarts.push(p);
    p += key.copy(buf, p);
    this.keyEnds.push(p);
    p = writeVarint(buf, p, entry.seqno);
    buf[p++] = entry.kind;
    p = writeVarint(buf, p, value.length);
    p += value.copy(buf, p);
    this.length = p;
  }

  /** Finishes the block: returns a view of payload + trailer (valid until the next add) and resets. */
  finish(): Buffer {
    const count = this.offsets.length;
    this.reserve(SLOT_SIZE * count + BLOCK_TAIL_SIZE + BLOCK_TRAILER_SIZE);
    const buf = this.buf;
    const { keyStarts, keyEnds } = this;
    // Keys are sorted, so what the first and last share, every key shares.
    const shared = commonPrefixLength(buf, keyStarts[0], keyEnds[0], buf, keyStarts[count - 1], keyEnds[count - 1]);
    let p = this.length;
    for (let i = 0; i < count; i++) {
      p = buf.writeUInt32LE(this.offsets[i], p);
      p = buf.writeUInt32LE(keyHint(buf, keyStarts[i] + shared, keyEnds[i]), p);
    }
    p = buf.writeUInt32LE(shared, p);
    p = buf.writeUInt32LE(count, p);
    const end = sealBlock(buf, 0, p, BlockKind.Data);
    this.length = 0;
    this.offsets.length = 0;
    this.keyStarts.length = 0;
    this.keyEnds.length = 0;
    return buf.subarray(0, end);
  }

  private reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }
}

/** Unsigned LEB128 (the codec's varint) written inline: the builder's hottest loop. */
function writeVarint(buf: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[offset++] = value;
  return offset;
}

/**
 * A verified data block payload. Searches return entry indexes; `entry(i)` materialises
 * one entry whose key and value are views into the block (never mutate them).
 */
export class DataBlock {
  readonly count: number;
  private readonly slotsAt: number;
  /** Bytes every key of the block starts with; hints cover the 4 bytes after them. */
  private readonly shared: number;
  /** Where entry 0's key (and so the shared prefix) starts. */
  private readonly firstKeyAt: number;

  /** `buf` must already have passed its checksum; `path`/`offset` only label errors. */
  constructor(
    readonly buf: Buffer,
    path: string,
    offset: number,
  ) {
    if (buf.length < BLOCK_TAIL_SIZE) throw corruption('data block too short', path, offset);
    const count = buf.readUInt32LE(buf.length - 4);
    const shared = buf.readUInt32LE(buf.length - 8);
    const slotsAt = buf.length - BLOCK_TAIL_SIZE - SLOT_SIZE * count;
    if (count === 0 || slotsAt < 0) throw corruption('data block entry count out of range', path, offset);
    // Full structural check once per load, so the lazy decoders below never run off the end.
    let expected = 0;
    let firstKeyAt = 0;
    for (let i = 0; i < count; i++) {
      if (buf.readUInt32LE(slotsAt + SLOT_SIZE * i) !== expected) throw corruption('data block offsets inconsistent', path, offset);
      const [keyLength, keyStart] = readVarint(buf, expected, slotsAt, path, offset);
      if (keyLength < shared) throw corruption('data block key shorter than the shared prefix', path, offset);
      if (i === 0) firstKeyAt = keyStart;
      const [, afterSeqno] = readVarint(buf, keyStart + keyLength, slotsAt, path, offset);
      if (afterSeqno >= slotsAt || buf[afterSeqno] > EntryKind.Put) throw corruption('data block entry kind invalid', path, offset);
      const [valueLength, valueStart] = readVarint(buf, afterSeqno + 1, slotsAt, path, offset);
      expected = valueStart + valueLength;
      if (expected > slotsAt) throw corruption('data block entry runs past its end', path, offset);
    }
    if (expected !== slotsAt) throw corruption('data block has trailing bytes', path, offset);
    this.count = count;
    this.slotsAt = slotsAt;
    this.shared = shared;
    this.firstKeyAt = firstKeyAt;
  }

  /** Bytes this block holds on to (its cache charge). */
  get size(): number {
    return this.buf.length;
  }

  private entryStart(i: number): number {
    const p = this.slotsAt + SLOT_SIZE * i;
    const buf = this.buf;
    return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
  }

  private hintAt(i: number): number {
    const p = this.slotsAt + SLOT_SIZE * i + 4;
    const buf = this.buf;
    return (buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24)) >>> 0;
  }

  /** Byte order of entry i's key against key[0, key.length). */
  compareKeyAt(i: number, key: Buffer): number {
    const buf = this.buf;
    let p = this.entryStart(i);
    let length = buf[p++];
    if (length >= 0x80) [length, p] = readVarintSlow(buf, p - 1);
    return compareBytes(buf, p, p + length, key, 0, key.length);
  }

  /**
   * Where key falls against the block's shared prefix: negative, before every entry;
   * positive, after every entry; zero, it has the prefix and hints decide.
   */
  private prefixOrder(key: Buffer): number {
    const shared = this.shared;
    if (shared === 0) return 0;
    const c = compareBytes(key, 0, Math.min(key.length, shared), this.buf, this.firstKeyAt, this.firstKeyAt + shared);
    if (c !== 0) return c;
    return key.length < shared ? -1 : 0;
  }

  /** Entry i's key against key (which has the shared prefix, and hint h). */
  private compareHinted(i: number, key: Buffer, h: number): number {
    const entryHint = this.hintAt(i);
    if (entryHint !== h) return entryHint < h ? -1 : 1;
    const buf = this.buf;
    let p = this.entryStart(i);
    let length = buf[p++];
    if (length >= 0x80) [length, p] = readVarintSlow(buf, p - 1);
    const shared = this.shared;
    return compareBytes(buf, p + shared, p + length, key, shared, key.length);
  }

  /** First index whose key is >= key (count if none). */
  lowerBound(key: Buffer): number {
    const order = this.prefixOrder(key);
    if (order !== 0) return order < 0 ? 0 : this.count;
    const h = keyHint(key, this.shared, key.length);
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareHinted(mid, key, h) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose key is > key (count if none). */
  upperBound(key: Buffer): number {
    const order = this.prefixOrder(key);
    if (order !== 0) return order < 0 ? 0 : this.count;
    const h = keyHint(key, this.shared, key.length);
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareHinted(mid, key, h) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * First index at or after the internal key (key, readSeqno) in segment order (key asc,
   * seqno desc): the newest version of `key` visible at readSeqno if the key matches.
   */
  seekVersion(key: Buffer, readSeqno: number): number {
    const order = this.prefixOrder(key);
    if (order !== 0) return order < 0 ? 0 : this.count;
    const h = keyHint(key, this.shared, key.length);
    const buf = this.buf;
    const shared = this.shared;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const entryHint = this.hintAt(mid);
      let c: number;
      if (entryHint !== h) {
        c = entryHint < h ? -1 : 1;
      } else {
        let p = this.entryStart(mid);
        let length = buf[p++];
        if (length >= 0x80) [length, p] = readVarintSlow(buf, p - 1);
        c = compareBytes(buf, p + shared, p + length, key, shared, key.length);
        if (c === 0) {
          p += length;
          let seqno = buf[p++];
          if (seqno >= 0x80) [seqno] = readVarintSlow(buf, p - 1);
          c = seqno > readSeqno ? -1 : 1;
        }
      }
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Entry i, with key and value as views into the block. */
  entry(i: number): Entry {
    const buf = this.buf;
    let p = this.entryStart(i);
    let keyLength = buf[p++];
    if (keyLength >= 0x80) [keyLength, p] = readVarintSlow(buf, p - 1);
    const keyStart = p;
    p += keyLength;
    let seqno = buf[p++];
    if (seqno >= 0x80) [seqno, p] = readVarintSlow(buf, p - 1);
    const kind = buf[p++] as EntryKind;
    let valueLength = buf[p++];
    if (valueLength >= 0x80) [valueLength, p] = readVarintSlow(buf, p - 1);
    return { key: buf.subarray(keyStart, keyStart + keyLength), seqno, kind, value: buf.subarray(p, p + valueLength) };
  }
}

/** Decodes the multi-byte varint starting at `p` of a block already validated; returns [value, offset after it]. */
function readVarintSlow(buf: Buffer, p: number): [number, number] {
  let result = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[p++];
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) return [result, p];
    scale *= 128;
  }
}

/** A bounds-checked varint decode for validation: [value, offset after it], within [p, end). */
function readVarint(buf: Buffer, p: number, end: number, path: string, offset: number): [number, number] {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 8 && p < end; i++) {
    const byte = buf[p++];
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (result > Number.MAX_SAFE_INTEGER) break;
      return [result, p];
    }
    scale *= 128;
  }
  throw corruption('data block varint malformed', path, offset);
}
