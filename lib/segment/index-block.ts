// The index block: one entry per data block (a separator key >= every key in the block
// and < every key in the next, plus the block's handle). Built by one writer; the
// decoded SegmentIndex is immutable and searched without allocating.
import { Reader, varintLength, writeVarint } from '../codec/varint.js';
import { commonPrefixLength, compareBytes, keyHint } from './compare-bytes.js';
import { BLOCK_TRAILER_SIZE, corruption, type BlockHandle } from './format.js';

/**
 * A short key k with last <= k < next (LevelDB's FindShortestSeparator): shrinks the
 * index when neighbouring keys differ early. `next` undefined means last block.
 */
export function shortestSeparator(last: Buffer, next: Buffer | undefined): Buffer {
  if (next === undefined) return Buffer.from(last);
  const n = Math.min(last.length, next.length);
  let d = 0;
  while (d < n && last[d] === next[d]) d++;
  if (d < last.length && d < next.length) {
    // last[d] < next[d]. Bumping a byte of `last` at d (if that stays below next[d]) or
    // after d (any byte < 0xff) and cutting there gives a key strictly between them.
    if (last[d] + 1 < next[d]) return bumped(last, d);
    for (let j = d + 1; j < last.length; j++) {
      if (last[j] < 0xff) return bumped(last, j);
    }
  }
  return Buffer.from(last);
}

function bumped(key: Buffer, at: number): Buffer {
  const out = Buffer.from(key.subarray(0, at + 1));
  out[at]++;
  return out;
}

export class IndexBlockBuilder {
  private readonly separators: Buffer[] = [];
  private readonly handles: BlockHandle[] = [];
  private size = 4;

  add(separator: Buffer, handle: BlockHandle): void {
    this.separators.push(separator);
    this.handles.push({ offset: handle.offset, length: handle.length });
    this.size += varintLength(separator.length) + separator.length + varintLength(handle.offset) + varintLength(handle.length);
  }

  get blockCount(): number {
    return this.separators.length;
  }

  /** The index block payload. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.size);
    let p = 0;
    for (let i = 0; i < this.separators.length; i++) {
      const separator = this.separators[i];
      p = writeVarint(out, p, separator.length);
      p += separator.copy(out, p);
      p = writeVarint(out, p, this.handles[i].offset);
      p = writeVarint(out, p, this.handles[i].length);
    }
    out.writeUInt32LE(this.separators.length, p);
    return out;
  }
}

/**
 * The decoded index: separators stay in the block buffer, located by start/end arrays.
 * Searches run over `hints` (4 bytes after the prefix all separators share) and touch
 * separator bytes only on a tie: far fewer cache misses on a large index.
 */
export class SegmentIndex {
  readonly count: number;
  private readonly buf: Buffer;
  private readonly keyStart: Uint32Array;
  private readonly keyEnd: Uint32Array;
  private readonly shared: number;
  private readonly hints: Uint32Array;
  private readonly blockOffset: Float64Array;
  private readonly blockLength: Uint32Array;

  /** Parses a checksummed payload and checks that the data blocks tile [0, dataEnd) exactly. */
  constructor(payload: Buffer, dataEnd: number, path: string, offset: number) {
    if (payload.length < 4) throw corruption('index block too short', path, offset);
    const count = payload.readUInt32LE(payload.length - 4);
    // Every entry takes at least 3 bytes, which bounds `count` before allocating. Only a
    // segment of range tombstones alone (format 3) has no data block.
    if ((count === 0 && dataEnd !== 0) || count * 3 > payload.length - 4) throw corruption('index entry count out of range', path, offset);
    this.buf = payload;
    this.count = count;
    this.keyStart = new Uint32Array(count);
    this.keyEnd = new Uint32Array(count);
    this.blockOffset = new Float64Array(count);
    this.blockLength = new Uint32Array(count);
    const reader = new Reader(payload, 0, payload.length - 4);
    let expectedOffset = 0;
    try {
      for (let i = 0; i < count; i++) {
        const keyLength = reader.varint();
        this.keyStart[i] = reader.offset;
        reader.bytes(keyLength);
        this.keyEnd[i] = reader.offset;
        const blockOffset = reader.varint();
        const blockLength = reader.varint();
        if (blockOffset !== expectedOffset || blockLength > 0xffff_ffff) throw corruption('index block handles do not tile the data', path, offset);
        if (i > 0 && compareBytes(payload, this.keyStart[i - 1], this.keyEnd[i - 1], payload, this.keyStart[i], this.keyEnd[i]) > 0) {
          throw corruption('index separators out of order', path, offset);
        }
        this.blockOffset[i] = blockOffset;
        this.blockLength[i] = blockLength;
        expectedOffset = blockOffset + blockLength + BLOCK_TRAILER_SIZE;
      }
    } catch (err) {
      if ((err as { details?: unknown }).details !== undefined) throw err;
      throw corruption('index block malformed', path, offset, err);
    }
    if (reader.remaining !== 0 || expectedOffset !== dataEnd) throw corruption('index block handles do not tile the data', path, offset);
    this.shared = count === 0 ? 0 : commonPrefixLength(payload, this.keyStart[0], this.keyEnd[0], payload, this.keyStart[count - 1], this.keyEnd[count - 1]);
    this.hints = new Uint32Array(count);
    for (let i = 0; i < count; i++) this.hints[i] = keyHint(payload, this.keyStart[i] + this.shared, this.keyEnd[i]);
  }

  handle(i: number): BlockHandle {
    return { offset: this.blockOffset[i], length: this.blockLength[i] };
  }

  offsetOf(i: number): number {
    return this.blockOffset[i];
  }

  lengthOf(i: number): number {
    return this.blockLength[i];
  }

  /** Byte order of block i's separator against key. */
  compareSeparator(i: number, key: Buffer): number {
    return compareBytes(this.buf, this.keyStart[i], this.keyEnd[i], key, 0, key.length);
  }

  /** First block whose separator is >= key: the only block that can hold key's first version (count if none). */
  firstAtOrAfter(key: Buffer): number {
    return this.search(key, false);
  }

  /** First block whose separator is > key: the first that can hold a key > key (count if none). */
  firstAfter(key: Buffer): number {
    return this.search(key, true);
  }

  private search(key: Buffer, strictlyAfter: boolean): number {
    const shared = this.shared;
    const buf = this.buf;
    if (shared > 0) {
      const first = this.keyStart[0];
      const c = compareBytes(key, 0, Math.min(key.length, shared), buf, first, first + shared);
      if (c < 0 || (c === 0 && key.length < shared)) return 0;
      if (c > 0) return this.count;
    }
    const h = keyHint(key, shared, key.length);
    const hints = this.hints;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const entryHint = hints[mid];
      const c = entryHint !== h ? entryHint - h : compareBytes(buf, this.keyStart[mid] + shared, this.keyEnd[mid], key, shared, key.length);
      if (c < 0 || (strictlyAfter && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
