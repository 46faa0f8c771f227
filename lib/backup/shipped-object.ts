// Shipped journal objects (docs/shipping.md §3): the plaintext layout (header, format-2
// journal records exactly as the journal holds them, trailer), the per-record checksum
// chain, and the checks a reader makes. Pure functions over Buffers, safe on any thread.
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { crc32 } from '../codec/checksum.js';
import { CairnError, ErrorCodes } from '../errors.js';
import { RECORD_HEADER_BYTES, decodeBatch, recordSeqnoRange, type DecodedBatch } from '../journal/record.js';

export const SHIPPED_MAGIC = Buffer.from('CAIRNSHP', 'latin1');
export const SHIPPED_FORMAT_VERSION = 1;
export const SHIPPED_HEADER_BYTES = 128;
export const SHIPPED_TRAILER_BYTES = 40;
export const CHAIN_BYTES = 32;

/** What a shipped object's header and trailer say. */
export interface ShippedObjectInfo {
  /** 0 as shipped, 1 merged. */
  level: number;
  /** The keyspace's UUID (keyspace.json), lower-case with dashes. */
  keyspaceId: string;
  epoch: number;
  firstSeqno: number;
  lastSeqno: number;
  /** Commit times (ms) of the first and the last batch. */
  firstTimeMs: number;
  lastTimeMs: number;
  records: number;
  preChain: Buffer;
  postChain: Buffer;
  /** Plaintext length, header and trailer included. */
  bytes: number;
}

/** One record of an object: its batch and where its framed bytes lie in the object. */
export interface ShippedRecord {
  seqno: number;
  /** Seqno of its last op. */
  lastSeqno: number;
  timeMs: number;
  /** Offset of the record's length field in the object, and its framed length. */
  offset: number;
  length: number;
}

export function keyspaceIdBytes(keyspaceId: string): Buffer {
  const hex = keyspaceId.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`keyspace id must be a UUID (got ${JSON.stringify(keyspaceId)})`);
  return Buffer.from(hex, 'hex');
}

function keyspaceIdString(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The chain value before a keyspace's first shipped record. */
export function genesisChain(keyspaceId: string): Buffer {
  return createHash('sha256').update('cairn-ship-v1').update(keyspaceIdBytes(keyspaceId)).digest();
}

/** One-shot SHA-256 (Node >= 20.12), about 1.7× faster per small record than a Hash object. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash;
/** Reused input of the one-shot hash: previous chain value then the record (this thread only). */
let scratch = Buffer.allocUnsafe(4096);

/** chain(r) = SHA-256(chain(previous) || r's framed bytes). */
export function nextChain(previous: Uint8Array, record: Uint8Array): Buffer {
  if (oneShot === undefined) return createHash('sha256').update(previous).update(record).digest();
  const length = previous.length + record.length;
  if (scratch.length < length) scratch = Buffer.allocUnsafe(Math.max(length, scratch.length * 2));
  scratch.set(previous, 0);
  scratch.set(record, previous.length);
  return oneShot('sha256', scratch.subarray(0, length), 'buffer');
}

export interface EncodeShippedObjectInput {
  level: number;
  keyspaceId: string;
  epoch: number;
  preChain: Buffer;
  /** Whole framed format-2 journal records, in seqno order, contiguous (a batch never split). */
  records: readonly Buffer[];
}

/**
 * Builds an object's plaintext from whole framed records: hashes the chain over each,
 * reads seqnos and times from each without decoding ops. RangeError for no records or a
 * record sequence that is not contiguous.
 */
export function encodeShippedObject(input: EncodeShippedObjectInput): { bytes: Buffer; info: ShippedObjectInfo } {
  const { records } = input;
  if (records.length === 0) throw new RangeError('a shipped object needs at least one record');
  let chain = input.preChain;
  let firstSeqno = -1;
  let lastSeqno = -1;
  let firstTimeMs = 0;
  let lastTimeMs = 0;
  let size = SHIPPED_HEADER_BYTES + SHIPPED_TRAILER_BYTES;
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const range = recordSeqnoRange(r);
    if (i === 0) {
      firstSeqno = range.first;
      firstTimeMs = range.timeMs ?? 0;
    } else if (range.first !== lastSeqno + 1) {
      throw new RangeError(`records are not contiguous: ${range.first} after ${lastSeqno}`);
    }
    lastSeqno = range.last;
    lastTimeMs = range.timeMs ?? 0;
    chain = nextChain(chain, r);
    size += r.length;
  }
  if (size > 0xffffffff) throw new RangeError('shipped object too large');
  const bytes = Buffer.allocUnsafe(size);
  const header = bytes.subarray(0, SHIPPED_HEADER_BYTES);
  header.fill(0);
  SHIPPED_MAGIC.copy(header, 0);
  header.writeUInt32LE(SHIPPED_FORMAT_VERSION, 8);
  header.writeUInt32LE(input.level, 12);
  keyspaceIdBytes(input.keyspaceId).copy(header, 16);
  header.writeBigUInt64LE(BigInt(input.epoch), 32);
  header.writeBigUInt64LE(BigInt(firstSeqno), 40);
  header.writeBigUInt64LE(BigInt(lastSeqno), 48);
  header.writeBigUInt64LE(BigInt(firstTimeMs), 56);
  header.writeBigUInt64LE(BigInt(lastTimeMs), 64);
  header.writeUInt32LE(records.length, 72);
  input.preChain.copy(header, 76);
  header.writeUInt32LE(crc32(header.subarray(0, 124)), 124);
  let o = SHIPPED_HEADER_BYTES;
  for (const r of records) {
    r.copy(bytes, o);
    o += r.length;
  }
  const trailer = bytes.subarray(o);
  chain.copy(trailer, 0);
  trailer.writeUInt32LE(size, 32);
  trailer.writeUInt32LE(crc32(trailer.subarray(0, 36)), 36);
  return {
    bytes,
    info: {
      level: input.level,
      keyspaceId: input.keyspaceId.toLowerCase(),
      epoch: input.epoch,
      firstSeqno,
      lastSeqno,
      firstTimeMs,
      lastTimeMs,
      records: records.length,
      preChain: Buffer.from(input.preChain),
      postChain: Buffer.from(chain),
      bytes: size,
    },
  };
}

function corrupt(key: string, what: string, details: Record<string, unknown> = {}): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `Shipped journal object ${key} is corrupt: ${what}`, { details: { key, ...details } });
}

/** Reads and checks the header alone (its CRC, magic, version). */
export function decodeShippedHeader(bytes: Buffer, key: string): Omit<ShippedObjectInfo, 'postChain'> {
  if (bytes.length < SHIPPED_HEADER_BYTES + SHIPPED_TRAILER_BYTES) throw corrupt(key, 'shorter than header and trailer');
  if (!bytes.subarray(0, 8).equals(SHIPPED_MAGIC) || bytes.readUInt32LE(124) !== crc32(bytes.subarray(0, 124))) throw corrupt(key, 'bad header');
  const version = bytes.readUInt32LE(8);
  if (version !== SHIPPED_FORMAT_VERSION) {
    throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `Shipped journal object ${key} has format ${version}`, { details: { key, version } });
  }
  const u64 = (o: number) => Number(bytes.readBigUInt64LE(o));
  return {
    level: bytes.readUInt32LE(12),
    keyspaceId: keyspaceIdString(bytes.subarray(16, 32)),
    epoch: u64(32),
    firstSeqno: u64(40),
    lastSeqno: u64(48),
    firstTimeMs: u64(56),
    lastTimeMs: u64(64),
    records: bytes.readUInt32LE(72),
    preChain: Buffer.from(bytes.subarray(76, 108)),
    bytes: bytes.length,
  };
}

/**
 * Checks a whole object: header and trailer CRCs, its length, every record's framing and
 * CRC, contiguous seqnos, the header's ranges and times, and the chain recomputed from
 * `preChain` to `postChain`. CAIRN_CORRUPTION naming the key on any mismatch.
 */
export function decodeShippedObject(bytes: Buffer, key: string): { info: ShippedObjectInfo; records: ShippedRecord[] } {
  const head = decodeShippedHeader(bytes, key);
  const t = bytes.length - SHIPPED_TRAILER_BYTES;
  const trailer = bytes.subarray(t);
  if (trailer.readUInt32LE(36) !== crc32(trailer.subarray(0, 36)) || trailer.readUInt32LE(32) !== bytes.length) throw corrupt(key, 'bad trailer');
  const postChain = Buffer.from(trailer.subarray(0, CHAIN_BYTES));
  const records: ShippedRecord[] = [];
  let chain: Buffer = head.preChain;
  let o = SHIPPED_HEADER_BYTES;
  let expected = head.firstSeqno;
  while (o < t) {
    if (t - o < RECORD_HEADER_BYTES) throw corrupt(key, 'torn record', { offset: o });
    const length = bytes.readUInt32LE(o);
    if (length === 0 || length > t - o - RECORD_HEADER_BYTES) throw corrupt(key, 'bad record length', { offset: o });
    const framed = bytes.subarray(o, o + RECORD_HEADER_BYTES + length);
    const payload = framed.subarray(RECORD_HEADER_BYTES);
    if (crc32(payload) !== framed.readUInt32LE(4)) throw corrupt(key, 'record checksum', { offset: o });
    const range = recordSeqnoRange(framed);
    if (range.first !== expected) throw corrupt(key, `record at seqno ${range.first}, expected ${expected}`, { offset: o });
    records.push({ seqno: range.first, lastSeqno: range.last, timeMs: range.timeMs ?? 0, offset: o, length: framed.length });
    expected = range.last + 1;
    chain = nextChain(chain, framed);
    o += framed.length;
  }
  if (records.length !== head.records || expected - 1 !== head.lastSeqno) throw corrupt(key, 'header does not match its records');
  if (records[0].timeMs !== head.firstTimeMs || records[records.length - 1].timeMs !== head.lastTimeMs) throw corrupt(key, 'header times do not match its records');
  if (!chain.equals(postChain)) throw corrupt(key, 'chain does not end at postChain');
  return { info: { ...head, postChain }, records };
}

/** Decodes the batch of one record of a checked object. */
export function shippedBatch(bytes: Buffer, record: ShippedRecord): DecodedBatch {
  return decodeBatch(bytes.subarray(record.offset + RECORD_HEADER_BYTES, record.offset + record.length));
}
