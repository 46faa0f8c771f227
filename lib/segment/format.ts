// Segment file framing: block trailers, block handles and the fixed-size footer (see
// docs/format.md §8). Pure functions over Buffers; safe to share between readers.
import { CairnError, ErrorCodes } from '../errors.js';
import { crc32 } from '../codec/checksum.js';
import { compressionAvailable, uncompressBlock } from './block-compression.js';

/**
 * The newest segment format version this code reads, and the one it writes for a segment
 * holding range tombstones. 3 added the range-tombstone block (kind RangeTombstones,
 * between the data blocks and the filter, its length in the properties); 2 added data
 * blocks stored Snappy-compressed (kind SnappyData); version 1 files hold only plain ones.
 */
export const SEGMENT_FORMAT_VERSION = 3;
/** What a segment without range tombstones is written as: readable by every cairn since format 2. */
export const SEGMENT_FORMAT_WITHOUT_RANGE_TOMBSTONES = 2;

/** The last 8 bytes of every segment file: ASCII "cairnSST". */
export const SEGMENT_MAGIC = Buffer.from('cairnSST', 'latin1');

export const FOOTER_SIZE = 56;

/** Every block is followed by a kind byte and a CRC-32 over payload + kind byte. */
export const BLOCK_TRAILER_SIZE = 5;

/**
 * The block kinds; the byte in each block's trailer, part of the on-disk format. A data
 * block is Data (stored as is) or SnappyData (its payload is the Snappy compression of a
 * Data payload), chosen per block.
 */
export const BlockKind = { Data: 1, Filter: 2, Index: 3, Properties: 4, SnappyData: 5, RangeTombstones: 6 } as const;
export type BlockKind = (typeof BlockKind)[keyof typeof BlockKind];

/** Where a block's payload lies in the file (the 5-byte trailer follows it). */
export interface BlockHandle {
  offset: number;
  length: number;
}

export interface Footer {
  filter: BlockHandle;
  index: BlockHandle;
  properties: BlockHandle;
  formatVersion: number;
}

/** The CAIRN_CORRUPTION error every integrity check in this folder raises. */
export function corruption(message: string, path: string, offset: number, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `${message} (${path} at offset ${offset})`, {
    cause,
    details: { path, offset },
  });
}

/**
 * Writes the trailer of the block whose payload is `buf[start, end)` at `end` and
 * returns the offset after it. The caller must have room for BLOCK_TRAILER_SIZE bytes.
 */
export function sealBlock(buf: Buffer, start: number, end: number, kind: BlockKind): number {
  buf[end] = kind;
  const crc = crc32(buf.subarray(start, end + 1));
  buf.writeUInt32LE(crc, end + 1);
  return end + BLOCK_TRAILER_SIZE;
}

/**
 * Checks the trailer of a block read as `payload + trailer` (exactly length +
 * BLOCK_TRAILER_SIZE bytes) and returns a view of its payload.
 */
export function openBlock(raw: Buffer, kind: BlockKind, path: string, offset: number): Buffer {
  const length = raw.length - BLOCK_TRAILER_SIZE;
  if (length < 0) throw corruption('block shorter than its trailer', path, offset);
  const stored = raw.readUInt32LE(length + 1);
  if (crc32(raw.subarray(0, length + 1)) !== stored) throw corruption('block checksum mismatch', path, offset);
  if (raw[length] !== kind) throw corruption(`expected block kind ${kind}, found ${raw[length]}`, path, offset);
  return raw.subarray(0, length);
}

/**
 * Checks the trailer of a data block read as `stored payload + trailer` and returns its
 * payload, uncompressed when the kind says it is compressed.
 */
export function openDataBlock(raw: Buffer, path: string, offset: number): Buffer {
  const length = raw.length - BLOCK_TRAILER_SIZE;
  if (length < 0) throw corruption('block shorter than its trailer', path, offset);
  if (crc32(raw.subarray(0, length + 1)) !== raw.readUInt32LE(length + 1)) throw corruption('block checksum mismatch', path, offset);
  const kind = raw[length];
  if (kind === BlockKind.Data) return raw.subarray(0, length);
  if (kind !== BlockKind.SnappyData) throw corruption(`expected a data block, found kind ${kind}`, path, offset);
  if (!compressionAvailable) {
    throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, 'A compressed data block needs the snappy package, which does not load on this platform', {
      details: { path, offset },
    });
  }
  try {
    return uncompressBlock(raw.subarray(0, length));
  } catch (err) {
    throw corruption('compressed data block does not decompress', path, offset, err);
  }
}

function writeUint64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % 0x1_0000_0000, at);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), at + 4);
}

function readUint64(buf: Buffer, at: number): number {
  const high = buf.readUInt32LE(at + 4);
  // Offsets are below 2^53 by construction; a larger value can only come from damage.
  if (high >= 0x20_0000) return Number.NaN;
  return high * 0x1_0000_0000 + buf.readUInt32LE(at);
}

export function encodeFooter(footer: Footer): Buffer {
  const buf = Buffer.alloc(FOOTER_SIZE);
  writeUint64(buf, footer.filter.offset, 0);
  buf.writeUInt32LE(footer.filter.length, 8);
  writeUint64(buf, footer.index.offset, 12);
  buf.writeUInt32LE(footer.index.length, 20);
  writeUint64(buf, footer.properties.offset, 24);
  buf.writeUInt32LE(footer.properties.length, 32);
  buf.writeUInt32LE(footer.formatVersion, 36);
  // Bytes 40..43 are reserved (zero) so the checksummed region is a round 44 bytes.
  buf.writeUInt32LE(crc32(buf.subarray(0, 44)), 44);
  SEGMENT_MAGIC.copy(buf, 48);
  return buf;
}

/**
 * Decodes and checks the footer of a file of `fileSize` bytes: magic, checksum,
 * version, and that the filter, index and properties blocks are laid out back to back
 * right before it.
 */
export function decodeFooter(buf: Buffer, fileSize: number, path: string): Footer {
  const at = fileSize - FOOTER_SIZE;
  if (buf.length !== FOOTER_SIZE || !buf.subarray(48).equals(SEGMENT_MAGIC)) {
    throw corruption('not a segment file (bad magic)', path, at);
  }
  if (crc32(buf.subarray(0, 44)) !== buf.readUInt32LE(44)) throw corruption('footer checksum mismatch', path, at);
  const formatVersion = buf.readUInt32LE(36);
  if (formatVersion > SEGMENT_FORMAT_VERSION) {
    throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `Segment format ${formatVersion} is newer than this cairn reads`, {
      details: { path, formatVersion },
    });
  }
  const footer: Footer = {
    filter: { offset: readUint64(buf, 0), length: buf.readUInt32LE(8) },
    index: { offset: readUint64(buf, 12), length: buf.readUInt32LE(20) },
    properties: { offset: readUint64(buf, 24), length: buf.readUInt32LE(32) },
    formatVersion,
  };
  const laidOut =
    formatVersion >= 1 &&
    footer.filter.offset >= 0 &&
    footer.index.offset === footer.filter.offset + footer.filter.length + BLOCK_TRAILER_SIZE &&
    footer.properties.offset === footer.index.offset + footer.index.length + BLOCK_TRAILER_SIZE &&
    at === footer.properties.offset + footer.properties.length + BLOCK_TRAILER_SIZE;
  if (!laidOut) throw corruption('footer block handles are inconsistent', path, at);
  return footer;
}
