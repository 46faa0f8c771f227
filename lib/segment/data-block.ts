// Data blocks: entries with full keys plus an offset array for binary search. The
// builder belongs to one writer; a decoded DataBlock is immutable and shared through
// the block cache, decoding entries lazily (only the ones a search or cursor touches).
import { EntryKind, type Entry } from '../codec/entry.js';
import { compareBytes } from './compare-bytes.js';
import { BLOCK_TRAILER_SIZE, BlockKind, corruption, sealBlock } from './format.js';

/** Encodes entries into one block: payload, then the 5-byte trailer (see docs/format-segment.md). */
export class DataBlockBuilder {
  private buf: Buffer;
  private length = 0;
  private offsets: number[] = [];

  constructor(initialCapacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(256, initialCapacity));
  }

  get entryCount(): number {
    return this.offsets.length;
  }

  /** Payload bytes the block would have if finished now. */
  get estimatedSize(): number {
    return this.length + 4 * this.offsets.length + 4;
  }

  add(entry: Entry): void {
    const key = entry.key;
    const value = entry.value;
    this.reserve(key.length + value.length + 24);
    const buf = this.buf;
    this.offsets.push(this.length);
    let p = writeVarint(buf, this.length, key.length);
    p += key.copy(buf, p);
    p = writeVarint(buf, p, entry.seqno);
    buf[p++] = entry.kind;
    p = writeVarint(buf, p, value.length);
    p += value.copy(buf, p);
    this.length = p;
  }

  /** Finishes the block: returns a view of payload + trailer (valid until the next add) and resets. */
  finish(): Buffer {
    const count = this.offsets.length;
    this.reserve(4 * count + 4 + BLOCK_TRAILER_SIZE);
    const buf = this.buf;
    let p = this.length;
    for (let i = 0; i < count; i++) p = buf.writeUInt32LE(this.offsets[i], p);
    p = buf.writeUInt32LE(count, p);
    const end = sealBlock(buf, 0, p, BlockKind.Data);
    this.length = 0;
    this.offsets.length = 0;
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
  private readonly offsetsAt: number;

  /** `payload` must already have passed its checksum; `path`/`offset` only label errors. */
  constructor(
    readonly buf: Buffer,
    path: string,
    offset: number,
  ) {
    if (buf.length < 4) throw corruption('data block too short', path, offset);
    const count = buf.readUInt32LE(buf.length - 4);
    const offsetsAt = buf.length - 4 - 4 * count;
    if (count === 0 || offsetsAt < 0) throw corruption('data block entry count out of range', path, offset);
    // Full structural check once per load, so the lazy decoders below never run off the end.
    let expected = 0;
    for (let i = 0; i < count; i++) {
      if (buf.readUInt32LE(offsetsAt + 4 * i) !== expected) throw corruption('data block offsets inconsistent', path, offset);
      const [keyLength, afterKeyLength] = readVarint(buf, expected, offsetsAt, path, offset);
      const [, afterSeqno] = readVarint(buf, afterKeyLength + keyLength, offsetsAt, path, offset);
      if (afterSeqno >= offsetsAt || buf[afterSeqno] > EntryKind.Put) throw corruption('data block entry kind invalid', path, offset);
      const [valueLength, valueStart] = readVarint(buf, afterSeqno + 1, offsetsAt, path, offset);
      expected = valueStart + valueLength;
      if (expected > offsetsAt) throw corruption('data block entry runs past its end', path, offset);
    }
    if (expected !== offsetsAt) throw corruption('data block has trailing bytes', path, offset);
    this.count = count;
    this.offsetsAt = offsetsAt;
  }

  /** Bytes this block holds on to (its cache charge). */
  get size(): number {
    return this.buf.length;
  }

  private entryStart(i: number): number {
    const p = this.offsetsAt + 4 * i;
    const buf = this.buf;
    return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
  }

  /** Byte order of entry i's key against key[0, key.length). */
  compareKeyAt(i: number, key: Buffer): number {
    const buf = this.buf;
    let p = this.entryStart(i);
    let length = buf[p++];
    if (length >= 0x80) [length, p] = readVarintSlow(buf, p - 1);
    return compareBytes(buf, p, p + length, key, 0, key.length);
  }

  /** First index whose key is >= key (count if none). */
  lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareKeyAt(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose key is > key (count if none). */
  upperBound(key: Buffer): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareKeyAt(mid, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * First index at or after the internal key (key, readSeqno) in segment order (key asc,
   * seqno desc): the newest version of `key` visible at readSeqno if the key matches.
   */
  seekVersion(key: Buffer, readSeqno: number): number {
    const buf = this.buf;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let p = this.entryStart(mid);
      let length = buf[p++];
      if (length >= 0x80) [length, p] = readVarintSlow(buf, p - 1);
      let c = compareBytes(buf, p, p + length, key, 0, key.length);
      if (c === 0) {
        p += length;
        let seqno = buf[p++];
        if (seqno >= 0x80) [seqno] = readVarintSlow(buf, p - 1);
        c = seqno > readSeqno ? -1 : 1;
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
