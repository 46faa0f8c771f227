// The journal's byte formats: the file header and the framed batch record (see
// docs/format.md §7). Pure functions over Buffers, safe from any thread.
import { crc32 } from '../codec/checksum.js';
import { EntryKind, MAX_SEQNO } from '../codec/entry.js';
import { Reader, varintLength, writeVarint } from '../codec/varint.js';
import { CairnError, ErrorCodes } from '../errors.js';

export const JOURNAL_MAGIC = Buffer.from('CAIRNJNL', 'latin1');
export const JOURNAL_FORMAT_VERSION = 1;
/** magic(8) + format version u32 + file number u64 + crc32 of the first 20 bytes u32. */
export const JOURNAL_HEADER_BYTES = 24;
/** payload length u32 + payload crc32 u32. */
export const RECORD_HEADER_BYTES = 8;

/** One operation of a batch as handed to encodeBatch. */
export interface BatchOp {
  kind: EntryKind;
  partitionId: number;
  key: Uint8Array;
  /** Required for Put and RangeDelete (the exclusive end; empty: no upper bound), ignored for Delete. */
  value?: Uint8Array;
}

/** One operation as decoded. Views into the record's buffer; Delete carries an empty value. */
export interface DecodedOp {
  kind: EntryKind;
  partitionId: number;
  key: Buffer;
  value: Buffer;
}

export interface DecodedBatch {
  /** Seqno of the first op; op i has seqno + i. */
  seqno: number;
  ops: DecodedOp[];
}

const EMPTY = Buffer.alloc(0);

export function encodeHeader(fileNumber: number): Buffer {
  const buf = Buffer.alloc(JOURNAL_HEADER_BYTES);
  JOURNAL_MAGIC.copy(buf, 0);
  buf.writeUInt32LE(JOURNAL_FORMAT_VERSION, 8);
  buf.writeBigUInt64LE(BigInt(fileNumber), 12);
  buf.writeUInt32LE(crc32(buf.subarray(0, 20)), 20);
  return buf;
}

/** Parses a header; CAIRN_CORRUPTION or CAIRN_UNSUPPORTED_FORMAT when it is not a v1 journal header. */
export function decodeHeader(buf: Buffer, path: string): { fileNumber: number; version: number } {
  if (
    buf.length < JOURNAL_HEADER_BYTES ||
    !buf.subarray(0, 8).equals(JOURNAL_MAGIC) ||
    buf.readUInt32LE(20) !== crc32(buf.subarray(0, 20))
  ) {
    throw new CairnError(ErrorCodes.CORRUPTION, `Not a valid journal header: ${path}`, { details: { path, offset: 0 } });
  }
  const version = buf.readUInt32LE(8);
  if (version !== JOURNAL_FORMAT_VERSION) {
    throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `Journal format version ${version} is not supported: ${path}`, {
      details: { path, version },
    });
  }
  const n = buf.readBigUInt64LE(12);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CairnError(ErrorCodes.CORRUPTION, `Journal file number out of range: ${path}`, { details: { path, offset: 12 } });
  }
  return { fileNumber: Number(n), version };
}

/**
 * Encodes one atomic batch as a complete framed record (length, crc, payload), ready for
 * JournalWriter.append. Validates everything before allocating.
 */
export function encodeBatch(seqno: number, ops: readonly BatchOp[]): Buffer {
  if (!Number.isSafeInteger(seqno) || seqno < 0) throw new RangeError('seqno must be a non-negative safe integer');
  if (!Array.isArray(ops) || ops.length === 0) throw new RangeError('a batch needs at least one op');
  if (ops.length - 1 > MAX_SEQNO - seqno) throw new RangeError('batch seqnos exceed the maximum');
  let size = varintLength(seqno) + varintLength(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (!(op.key instanceof Uint8Array)) throw new TypeError(`op ${i}: key must be a Buffer or Uint8Array`);
    if (!Number.isSafeInteger(op.partitionId) || op.partitionId < 0) {
      throw new RangeError(`op ${i}: partitionId must be a non-negative safe integer`);
    }
    size += 1 + varintLength(op.partitionId) + varintLength(op.key.length) + op.key.length;
    if (op.kind === EntryKind.Put || op.kind === EntryKind.RangeDelete) {
      if (!(op.value instanceof Uint8Array)) throw new TypeError(`op ${i}: a Put or RangeDelete needs a Buffer or Uint8Array value`);
      size += varintLength(op.value.length) + op.value.length;
    } else if (op.kind !== EntryKind.Delete) {
      throw new RangeError(`op ${i}: unknown kind ${String(op.kind)}`);
    }
  }
  if (size > 0xffffffff) throw new RangeError('batch too large for one journal record');
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + size);
  let o = writeVarint(buf, RECORD_HEADER_BYTES, seqno);
  o = writeVarint(buf, o, ops.length);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    buf[o++] = op.kind;
    o = writeVarint(buf, o, op.partitionId);
    o = writeVarint(buf, o, op.key.length);
    buf.set(op.key, o);
    o += op.key.length;
    if (op.kind !== EntryKind.Delete) {
      const value = op.value as Uint8Array;
      o = writeVarint(buf, o, value.length);
      buf.set(value, o);
      o += value.length;
    }
  }
  buf.writeUInt32LE(size, 0);
  buf.writeUInt32LE(crc32(buf.subarray(RECORD_HEADER_BYTES)), 4);
  return buf;
}

/**
 * The seqno range a framed record covers, read without decoding its ops. For records
 * made by encodeBatch; CAIRN_CORRUPTION if the varints run off the end.
 */
export function recordSeqnoRange(record: Buffer): { first: number; last: number } {
  const r = new Reader(record, RECORD_HEADER_BYTES);
  const first = r.varint();
  return { first, last: first + r.varint() - 1 };
}

/** Decodes a record's payload (the bytes after length and crc). CAIRN_CORRUPTION on any malformation. */
export function decodeBatch(payload: Buffer): DecodedBatch {
  const r = new Reader(payload);
  const seqno = r.varint();
  const count = r.varint();
  // Each op takes at least 3 bytes; this bounds the array before trusting count.
  if (count === 0 || count > payload.length || count - 1 > MAX_SEQNO - seqno) {
    throw new CairnError(ErrorCodes.CORRUPTION, 'Malformed record: bad op count');
  }
  const ops: DecodedOp[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const kind = r.byte();
    if (kind !== EntryKind.Put && kind !== EntryKind.Delete && kind !== EntryKind.RangeDelete) {
      throw new CairnError(ErrorCodes.CORRUPTION, `Malformed record: unknown kind ${kind}`);
    }
    const partitionId = r.varint();
    const key = r.bytes(r.varint());
    const value = kind === EntryKind.Delete ? EMPTY : r.bytes(r.varint());
    ops[i] = { kind, partitionId, key, value };
  }
  if (r.remaining !== 0) throw new CairnError(ErrorCodes.CORRUPTION, 'Malformed record: trailing bytes');
  return { seqno, ops };
}
