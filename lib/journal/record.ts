// The journal's byte formats: the file header and the framed batch record (see
// docs/format.md §7). Pure functions over Buffers, safe from any thread.
import { crc32 } from '../codec/checksum.js';
import { EntryKind, MAX_SEQNO } from '../codec/entry.js';
import { Reader, varintLength, writeVarint } from '../codec/varint.js';
import { CairnError, ErrorCodes } from '../errors.js';

export const JOURNAL_MAGIC = Buffer.from('CAIRNJNL', 'latin1');
/** Version written: 2 adds each batch's commit time. Version 1 files still read. */
export const JOURNAL_FORMAT_VERSION = 2;
const OLDEST_READABLE_VERSION = 1;
/** magic(8) + format version u32 + file number u64 + crc32 of the first 20 bytes u32. */
export const JOURNAL_HEADER_BYTES = 24;
/** payload length u32 + payload crc32 u32. */
export const RECORD_HEADER_BYTES = 8;

/**
 * Kinds of journal ops: the entry kinds (Put, Delete), the registry changes that travel
 * in the journal so that a replay elsewhere (a point-in-time restore) knows partitions
 * created or dropped after its base (key = the partition's name, partitionId = its id),
 * and range deletes (RangeDelete: key = the range's start, value = its exclusive end,
 * empty for no upper bound; see lib/codec/range-tombstones.ts).
 * Recovery of the keyspace itself ignores the registry kinds (keyspace.json decides).
 */
export const JournalOpKind = { ...EntryKind, PartitionCreate: 2, PartitionDrop: 3, RangeDelete: 4 } as const;
export type JournalOpKind = (typeof JournalOpKind)[keyof typeof JournalOpKind];
/** The kinds of ops that change data: what a tree applies. */
export type DataOpKind = EntryKind | typeof JournalOpKind.RangeDelete;

/** True for the ops that change data (Put, Delete, RangeDelete), false for registry changes. */
export function isEntryKind(kind: JournalOpKind): kind is DataOpKind {
  return kind === EntryKind.Put || kind === EntryKind.Delete || kind === JournalOpKind.RangeDelete;
}

/** True for the kinds whose op carries a value (Put; RangeDelete, whose value is its end). */
function hasValue(kind: number): boolean {
  return kind === EntryKind.Put || kind === JournalOpKind.RangeDelete;
}

/** One operation of a batch as handed to encodeBatch. */
export interface BatchOp {
  kind: JournalOpKind;
  partitionId: number;
  key: Uint8Array;
  /** Required for Put and RangeDelete (the exclusive end; empty: no upper bound), ignored otherwise. */
  value?: Uint8Array;
}

/** One operation as decoded. Views into the record's buffer; Delete carries an empty value. */
export interface DecodedOp {
  kind: JournalOpKind;
  partitionId: number;
  key: Buffer;
  value: Buffer;
}

export interface DecodedBatch {
  /** Seqno of the first op; op i has seqno + i. */
  seqno: number;
  ops: DecodedOp[];
  /** Commit time in ms since the epoch; undefined for a format-1 record. */
  timeMs: number | undefined;
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

/** Parses a header; CAIRN_CORRUPTION or CAIRN_UNSUPPORTED_FORMAT when it is not a v1 or v2 journal header. */
export function decodeHeader(buf: Buffer, path: string): { fileNumber: number; version: number } {
  if (
    buf.length < JOURNAL_HEADER_BYTES ||
    !buf.subarray(0, 8).equals(JOURNAL_MAGIC) ||
    buf.readUInt32LE(20) !== crc32(buf.subarray(0, 20))
  ) {
    throw new CairnError(ErrorCodes.CORRUPTION, `Not a valid journal header: ${path}`, { details: { path, offset: 0 } });
  }
  const version = buf.readUInt32LE(8);
  if (version < OLDEST_READABLE_VERSION || version > JOURNAL_FORMAT_VERSION) {
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

/** Bytes reserved before the first op: the frame header, then room for the seqno, count and time varints. */
const RECORD_PREFIX_BYTES = RECORD_HEADER_BYTES + 8 + 5 + 8;
/** Most bytes an op takes beside its key and value: kind, and varints of partition id, key and value lengths. */
const OP_OVERHEAD_BYTES = 1 + 5 + 5 + 5;
/** The most ops one record takes (the count varint's reserved 5 bytes hold up to 2^35 - 1). */
const MAX_RECORD_OPS = 2 ** 32;

/**
 * Builds one framed batch record op by op, copying each key and value straight into the
 * record (the only copy a write makes of them: the memtable keeps views into the record).
 * The seqno is set by finish(), once the write path assigns it. One owner; not reusable
 * after finish.
 */
export class RecordBuilder {
  #buf: Buffer;
  #length = RECORD_PREFIX_BYTES;
  #count = 0;
  /** Per op: kind, and where its key and value lie in the buffer (value end = next op's start for Puts). */
  readonly kinds: JournalOpKind[] = [];
  readonly partitionIds: number[] = [];
  readonly keyStarts: number[] = [];
  readonly keyEnds: number[] = [];
  readonly valueStarts: number[] = [];
  readonly valueEnds: number[] = [];
  #record: Buffer | undefined;

  /** `capacity`: expected key and value bytes (the buffer grows as needed). */
  constructor(capacity = 256) {
    this.#buf = Buffer.allocUnsafe(RECORD_PREFIX_BYTES + capacity + OP_OVERHEAD_BYTES);
  }

  get count(): number {
    return this.#count;
  }

  /** Appends an op: a Put or RangeDelete with its value, other kinds with none. Key and value are copied now. */
  add(kind: JournalOpKind, partitionId: number, key: Uint8Array | string, value: Uint8Array | string | undefined): void {
    if (this.#record !== undefined) throw new RangeError('the record is finished');
    if (this.#count >= MAX_RECORD_OPS) throw new RangeError('batch too large for one journal record');
    const keyLength = typeof key === 'string' ? Buffer.byteLength(key) : key.length;
    const valueLength = value === undefined ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
    this.#reserve(keyLength + valueLength + OP_OVERHEAD_BYTES);
    const buf = this.#buf;
    let o = this.#length;
    buf[o++] = kind;
    o = writeVarint(buf, o, partitionId);
    o = writeVarint(buf, o, keyLength);
    this.keyStarts.push(o);
    o += typeof key === 'string' ? buf.write(key, o, 'utf8') : copyInto(buf, key, o);
    this.keyEnds.push(o);
    if (hasValue(kind)) {
      o = writeVarint(buf, o, valueLength);
      this.valueStarts.push(o);
      o += value === undefined ? 0 : typeof value === 'string' ? buf.write(value, o, 'utf8') : copyInto(buf, value, o);
    } else {
      this.valueStarts.push(o);
    }
    this.valueEnds.push(o);
    this.kinds.push(kind);
    this.partitionIds.push(partitionId);
    this.#length = o;
    this.#count++;
  }

  /**
   * The framed format-2 record for ops numbered from `seqno`, committed at `timeMs` (ms
   * since the epoch): length, crc, payload; ready for JournalWriter.append. After it,
   * key(i) and value(i) are views into that record.
   */
  finish(seqno: number, timeMs = 0): Buffer {
    if (!Number.isSafeInteger(seqno) || seqno < 0) throw new RangeError('seqno must be a non-negative safe integer');
    if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new RangeError('timeMs must be a non-negative safe integer');
    if (this.#count === 0) throw new RangeError('a batch needs at least one op');
    if (this.#count - 1 > MAX_SEQNO - seqno) throw new RangeError('batch seqnos exceed the maximum');
    if (this.#record !== undefined) throw new RangeError('the record is finished');
    // The varints go right before the first op; the frame header right before them.
    const varints = varintLength(seqno) + varintLength(this.#count) + varintLength(timeMs);
    const start = RECORD_PREFIX_BYTES - varints - RECORD_HEADER_BYTES;
    const buf = this.#buf;
    writeVarint(buf, writeVarint(buf, writeVarint(buf, start + RECORD_HEADER_BYTES, seqno), this.#count), timeMs);
    const size = this.#length - start - RECORD_HEADER_BYTES;
    if (size > 0xffffffff) throw new RangeError('batch too large for one journal record');
    buf.writeUInt32LE(size, start);
    buf.writeUInt32LE(crc32(buf.subarray(start + RECORD_HEADER_BYTES, this.#length)), start + 4);
    if (buf.length > this.#length + (this.#length >>> 2)) {
      // Grown by doubling: the memtables keep views into the record for as long as they
      // hold its ops, so they should not keep up to twice its size alive.
      this.#buf = Buffer.allocUnsafeSlow(this.#length);
      buf.copy(this.#buf, start, start, this.#length);
    }
    this.#record = this.#buf.subarray(start, this.#length);
    return this.#record;
  }

  /** Op i's key, a view into the buffer (valid for as long as the record). */
  key(i: number): Buffer {
    return this.#buf.subarray(this.keyStarts[i], this.keyEnds[i]);
  }

  /** Op i's value (empty for a Delete), a view into the buffer. */
  value(i: number): Buffer {
    return this.#buf.subarray(this.valueStarts[i], this.valueEnds[i]);
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buf.length) return;
    // Its own memory, never a slice of Node's shared pool (whose size differs by Node
    // version): the memtables' views keep exactly this buffer alive, trimmed at finish.
    const grown = Buffer.allocUnsafeSlow(Math.max(needed, this.#buf.length * 2));
    this.#buf.copy(grown, 0, 0, this.#length);
    this.#buf = grown;
  }
}

/** Copies bytes into buf at offset; returns the count. */
function copyInto(buf: Buffer, bytes: Uint8Array, offset: number): number {
  buf.set(bytes, offset);
  return bytes.length;
}

/**
 * Encodes one atomic batch as a complete framed format-2 record (length, crc, payload),
 * ready for JournalWriter.append. `timeMs` is the commit time (ms since the epoch).
 * Validates everything before encoding.
 */
export function encodeBatch(seqno: number, ops: readonly BatchOp[], timeMs = 0): Buffer {
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new RangeError('timeMs must be a non-negative safe integer');
  if (!Array.isArray(ops) || ops.length === 0) throw new RangeError('a batch needs at least one op');
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (!(op.key instanceof Uint8Array)) throw new TypeError(`op ${i}: key must be a Buffer or Uint8Array`);
    if (!Number.isSafeInteger(op.partitionId) || op.partitionId < 0) {
      throw new RangeError(`op ${i}: partitionId must be a non-negative safe integer`);
    }
    if (hasValue(op.kind)) {
      if (!(op.value instanceof Uint8Array)) throw new TypeError(`op ${i}: a Put or RangeDelete needs a Buffer or Uint8Array value`);
    } else if (op.kind !== EntryKind.Delete && op.kind !== JournalOpKind.PartitionCreate && op.kind !== JournalOpKind.PartitionDrop) {
      throw new RangeError(`op ${i}: unknown kind ${String(op.kind)}`);
    }
  }
  const builder = new RecordBuilder(ops.reduce((n, op) => n + op.key.length + (op.value?.length ?? 0) + 16, 0));
  for (const op of ops) builder.add(op.kind, op.partitionId, op.key, hasValue(op.kind) ? op.value : undefined);
  return builder.finish(seqno, timeMs);
}

/**
 * The seqno range and commit time a framed record covers, read without decoding its ops.
 * `version` is the journal format of the file it comes from (default: the current one).
 * CAIRN_CORRUPTION if the varints run off the end.
 */
export function recordSeqnoRange(record: Buffer, version = JOURNAL_FORMAT_VERSION): { first: number; last: number; timeMs: number | undefined } {
  const r = new Reader(record, RECORD_HEADER_BYTES);
  const first = r.varint();
  const last = first + r.varint() - 1;
  return { first, last, timeMs: version >= 2 ? r.varint() : undefined };
}

/**
 * Decodes a record's payload (the bytes after length and crc) of a file of journal format
 * `version` (default: the current one). CAIRN_CORRUPTION on any malformation.
 */
export function decodeBatch(payload: Buffer, version = JOURNAL_FORMAT_VERSION): DecodedBatch {
  const r = new Reader(payload);
  const seqno = r.varint();
  const count = r.varint();
  const timeMs = version >= 2 ? r.varint() : undefined;
  // Each op takes at least 3 bytes; this bounds the array before trusting count.
  if (count === 0 || count > payload.length || count - 1 > MAX_SEQNO - seqno) {
    throw new CairnError(ErrorCodes.CORRUPTION, 'Malformed record: bad op count');
  }
  const ops: DecodedOp[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const kind = r.byte();
    if (kind > JournalOpKind.RangeDelete || (version < 2 && kind > EntryKind.Put)) {
      throw new CairnError(ErrorCodes.CORRUPTION, `Malformed record: unknown kind ${kind}`);
    }
    const partitionId = r.varint();
    const key = r.bytes(r.varint());
    const value = hasValue(kind) ? r.bytes(r.varint()) : EMPTY;
    ops[i] = { kind: kind as JournalOpKind, partitionId, key, value };
  }
  if (r.remaining !== 0) throw new CairnError(ErrorCodes.CORRUPTION, 'Malformed record: trailing bytes');
  return { seqno, ops, timeMs };
}
