// The properties block: what a segment holds (counts, key and seqno ranges, creation
// time), readable without touching data blocks. Pure encode/decode; values immutable.
import { Reader, varintLength, writeVarint } from '../codec/varint.js';
import { corruption } from './format.js';

/** The summary the keyspace keeps for every segment (also returned by writeSegment). */
export interface SegmentMeta {
  fileSize: number;
  entryCount: number;
  tombstoneCount: number;
  minKey: Buffer;
  maxKey: Buffer;
  minSeqno: number;
  maxSeqno: number;
  /** When the segment was written: milliseconds since the Unix epoch. */
  createdAt: number;
}

/** Everything the properties block records, plus the format version from the footer. */
export interface SegmentProperties extends Omit<SegmentMeta, 'fileSize'> {
  formatVersion: number;
  /** Distinct user keys (the number of keys in the bloom filter). */
  keyCount: number;
  dataBlockCount: number;
  /** Bytes of data blocks, trailers included (they start at offset 0). */
  dataSize: number;
  /** Bloom filter budget the segment was written with (0: no filter). */
  bitsPerKey: number;
  /** Fragments in the range-tombstone block (format 3; 0 in older files). */
  rangeTombstoneCount: number;
  /** Payload bytes of the range-tombstone block, which follows the data blocks (0: no block). */
  rangeTombstoneBytes: number;
}

type Encoded = Omit<SegmentProperties, 'formatVersion'>;

export function encodeProperties(p: Encoded): Buffer {
  const numbers = [p.entryCount, p.tombstoneCount, p.keyCount, p.minSeqno, p.maxSeqno, p.dataBlockCount, p.dataSize, p.bitsPerKey, p.createdAt];
  let size = varintLength(p.minKey.length) + p.minKey.length + varintLength(p.maxKey.length) + p.maxKey.length;
  for (const n of numbers) size += varintLength(n);
  if (p.rangeTombstoneCount > 0) size += varintLength(p.rangeTombstoneCount) + varintLength(p.rangeTombstoneBytes);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const n of numbers) at = writeVarint(out, at, n);
  at = writeVarint(out, at, p.minKey.length);
  at += p.minKey.copy(out, at);
  at = writeVarint(out, at, p.maxKey.length);
  at += p.maxKey.copy(out, at);
  if (p.rangeTombstoneCount > 0) {
    at = writeVarint(out, at, p.rangeTombstoneCount);
    writeVarint(out, at, p.rangeTombstoneBytes);
  }
  return out;
}

/** Decodes a checksummed payload; keys are copied so the block buffer can be dropped. */
export function decodeProperties(payload: Buffer, formatVersion: number, path: string, offset: number): SegmentProperties {
  const reader = new Reader(payload);
  try {
    const entryCount = reader.varint();
    const tombstoneCount = reader.varint();
    const keyCount = reader.varint();
    const minSeqno = reader.varint();
    const maxSeqno = reader.varint();
    const dataBlockCount = reader.varint();
    const dataSize = reader.varint();
    const bitsPerKey = reader.varint();
    const createdAt = reader.varint();
    const minKey = Buffer.from(reader.bytes(reader.varint()));
    const maxKey = Buffer.from(reader.bytes(reader.varint()));
    // Format 3 appends the range-tombstone block's fragment count and size when it has one.
    const rangeTombstoneCount = formatVersion >= 3 && reader.remaining > 0 ? reader.varint() : 0;
    const rangeTombstoneBytes = rangeTombstoneCount > 0 ? reader.varint() : 0;
    // Fields appended by later minor revisions would follow; ignore them.
    const sane =
      tombstoneCount <= entryCount &&
      keyCount <= entryCount &&
      (keyCount >= 1 || rangeTombstoneCount >= 1) &&
      (rangeTombstoneCount === 0) === (rangeTombstoneBytes === 0) &&
      minSeqno <= maxSeqno &&
      Buffer.compare(minKey, maxKey) <= 0;
    if (!sane) throw corruption('properties are inconsistent', path, offset);
    return { formatVersion, entryCount, tombstoneCount, keyCount, minSeqno, maxSeqno, dataBlockCount, dataSize, bitsPerKey, createdAt, minKey, maxKey, rangeTombstoneCount, rangeTombstoneBytes };
  } catch (err) {
    if ((err as { details?: unknown }).details !== undefined) throw err;
    throw corruption('properties block malformed', path, offset, err);
  }
}
