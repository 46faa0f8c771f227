// writeSegment: streams sorted entries into a new immutable segment file (data blocks,
// bloom filter, index, properties, footer). One call owns its file from 'wx' open to
// fsync; concurrent calls must target different paths.
import { EntryKind, MAX_SEQNO, type Entry } from '../codec/entry.js';
import type { RangeTombstones } from '../codec/range-tombstones.js';
import { throwIfAborted } from '../errors.js';
import type { FileHandle, FileSystem } from '../fs/file-system.js';
import { BloomFilterBuilder } from './bloom.js';
import { compressBlock } from './block-compression.js';
import { compareBytes } from './compare-bytes.js';
import { DataBlockBuilder } from './data-block.js';
import {
  BLOCK_TRAILER_SIZE,
  BlockKind,
  encodeFooter,
  SEGMENT_FORMAT_VERSION,
  SEGMENT_FORMAT_WITHOUT_RANGE_TOMBSTONES,
  sealBlock,
  type BlockHandle,
} from './format.js';
import { IndexBlockBuilder, shortestSeparator } from './index-block.js';
import { encodeProperties, type SegmentMeta } from './properties.js';

export const DEFAULT_BLOCK_SIZE = 4096;
export const DEFAULT_BITS_PER_KEY = 10;
/** Bytes handed to the file system per write call. */
const CHUNK_SIZE = 256 * 1024;

export interface WriteSegmentOptions {
  /** Target uncompressed data block payload size in bytes (default 4096). A block always holds at least one entry. */
  blockSize?: number;
  /** Bloom filter bits per distinct user key (default 10, about 1% false positives); 0 writes no filter. */
  bloomBitsPerKey?: number;
  /** Recorded in the properties block; milliseconds since the epoch (default Date.now()). */
  createdAt?: number;
  /** Checked between chunks; an abort removes the partial file and rejects with CAIRN_ABORTED. */
  signal?: AbortSignal;
  /**
   * 'snappy' (default): each data block is stored Snappy-compressed when that saves at
   * least an eighth of it, else as is; 'none': every block as is.
   */
  compression?: 'snappy' | 'none';
  /**
   * Range tombstones to store in the segment's range-tombstone block (format 3), every
   * fragment bounded (a caller caps an unbounded end first). The segment's key span
   * (minKey, maxKey) covers them: a fragment's exclusive end counts as its last key. A
   * function is called once every entry is written (a merge clips them to the output's keys).
   */
  rangeTombstones?: RangeTombstones | (() => RangeTombstones | undefined);
}

/**
 * Writes `entries` (sorted as lib/codec/entry.ts compareEntries: key asc, seqno desc; at
 * least one, unless there are range tombstones) to a new
 * file at `path`, created exclusively, and fsyncs it; the caller syncs the directory.
 * On any failure the partial file is closed and unlinked before the error is rethrown.
 * An out-of-order or malformed entry rejects with RangeError / TypeError.
 */
export async function writeSegment(
  fs: FileSystem,
  path: string,
  entries: Iterable<Entry> | AsyncIterable<Entry>,
  options: WriteSegmentOptions = {},
): Promise<SegmentMeta> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
  const isSync = typeof (entries as Iterable<Entry>)?.[Symbol.iterator] === 'function';
  if (!isSync && typeof (entries as AsyncIterable<Entry>)?.[Symbol.asyncIterator] !== 'function') {
    throw new TypeError('entries must be an iterable or an async iterable');
  }
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isSafeInteger(blockSize) || blockSize < 64 || blockSize > 64 * 1024 * 1024) {
    throw new RangeError(`blockSize must be an integer in [64, 64 MiB], got ${blockSize}`);
  }
  const bitsPerKey = options.bloomBitsPerKey ?? DEFAULT_BITS_PER_KEY;
  if (!Number.isInteger(bitsPerKey) || bitsPerKey < 0 || bitsPerKey > 64) {
    throw new RangeError(`bloomBitsPerKey must be an integer in [0, 64], got ${bitsPerKey}`);
  }
  const createdAt = options.createdAt ?? Date.now();
  if (!Number.isSafeInteger(createdAt) || createdAt < 0) throw new RangeError(`createdAt must be a non-negative integer, got ${createdAt}`);
  const signal = options.signal;
  throwIfAborted(signal);

  const compression = options.compression ?? 'snappy';
  if (compression !== 'snappy' && compression !== 'none') throw new RangeError(`compression must be 'snappy' or 'none', got ${String(compression)}`);
  const rangeTombstones = options.rangeTombstones;
  const builder = new SegmentBuilder(blockSize, bitsPerKey, compression === 'snappy', typeof rangeTombstones === 'function' ? rangeTombstones : () => rangeTombstones);
  const handle = await fs.open(path, 'wx');
  const writer = new ChunkWriter(handle);
  try {
    if (isSync) {
      for (const entry of entries as Iterable<Entry>) {
        builder.add(entry);
        if (builder.ready.length > 0) {
          throwIfAborted(signal);
          await writer.write(builder.takeReady());
        }
      }
    } else {
      for await (const entry of entries as AsyncIterable<Entry>) {
        builder.add(entry);
        if (builder.ready.length > 0) {
          throwIfAborted(signal);
          await writer.write(builder.takeReady());
        }
      }
    }
    const meta = builder.finish(createdAt);
    throwIfAborted(signal);
    await writer.write(builder.takeReady());
    await writer.drain();
    await handle.sync();
    await handle.close();
    return meta;
  } catch (err) {
    await writer.drain().catch(() => {});
    await handle.close().catch(() => {});
    await fs.unlink(path).catch(() => {});
    throw err;
  }
}

/** Keeps at most one positional write in flight so encoding overlaps the previous write. */
class ChunkWriter {
  private position = 0;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly handle: FileHandle) {}

  async write(chunks: Buffer[]): Promise<void> {
    await this.drain();
    const start = this.position;
    for (const chunk of chunks) this.position += chunk.length;
    const inFlight = this.writeAll(chunks, start);
    // Awaited by the next write or drain; this keeps a failure from being reported as
    // unhandled while the encoder runs synchronously in between.
    inFlight.catch(() => {});
    this.inFlight = inFlight;
  }

  async drain(): Promise<void> {
    const inFlight = this.inFlight;
    this.inFlight = undefined;
    if (inFlight !== undefined) await inFlight;
  }

  private async writeAll(chunks: Buffer[], position: number): Promise<void> {
    for (const chunk of chunks) {
      await this.handle.write(chunk, 0, chunk.length, position);
      position += chunk.length;
    }
  }
}

/** The synchronous encoder: entries in, file-ordered chunks out (in `ready`). */
class SegmentBuilder {
  ready: Buffer[] = [];
  private chunk = Buffer.allocUnsafe(CHUNK_SIZE);
  private chunkLength = 0;
  private fileOffset = 0;
  private readonly block: DataBlockBuilder;
  private readonly index = new IndexBlockBuilder();
  private readonly bloom: BloomFilterBuilder;
  private previous: Entry | undefined;
  /** The last key of the most recent finished block, waiting for the next key to pick a separator. */
  private lastKeyOfBlock: Buffer | undefined;
  private blockHandle: BlockHandle | undefined;
  private entryCount = 0;
  private tombstoneCount = 0;
  private minSeqno = MAX_SEQNO;
  private maxSeqno = 0;
  private minKey: Buffer | undefined;

  constructor(
    private readonly blockSize: number,
    private readonly bitsPerKey: number,
    private readonly compress: boolean,
    private readonly rangeTombstones: () => RangeTombstones | undefined,
  ) {
    this.block = new DataBlockBuilder(blockSize * 2);
    this.bloom = new BloomFilterBuilder(bitsPerKey);
  }

  add(entry: Entry): void {
    checkEntry(entry);
    const previous = this.previous;
    let newKey = true;
    if (previous !== undefined) {
      // compareEntries' order, with the JS byte compare (no native call per entry).
      const order = compareBytes(previous.key, 0, previous.key.length, entry.key, 0, entry.key.length);
      if (order > 0 || (order === 0 && previous.seqno <= entry.seqno)) {
        throw new RangeError(`entries out of order at entry ${this.entryCount}: not sorted by key asc, seqno desc`);
      }
      newKey = order !== 0;
    } else {
      this.minKey = Buffer.from(entry.key);
    }
    if (this.blockHandle !== undefined) {
      this.index.add(shortestSeparator(this.lastKeyOfBlock as Buffer, entry.key), this.blockHandle);
      this.blockHandle = undefined;
      this.lastKeyOfBlock = undefined;
    }
    if (newKey) this.bloom.add(entry.key);
    this.block.add(entry);
    this.entryCount++;
    if (entry.kind === EntryKind.Delete) this.tombstoneCount++;
    if (entry.seqno < this.minSeqno) this.minSeqno = entry.seqno;
    if (entry.seqno > this.maxSeqno) this.maxSeqno = entry.seqno;
    this.previous = entry;
    if (this.block.estimatedSize >= this.blockSize) this.finishBlock(entry.key);
  }

  takeReady(): Buffer[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  /** Emits the tail blocks and footer (all into `ready`) and returns the segment's meta. */
  finish(createdAt: number): SegmentMeta {
    const last = this.previous;
    let tombstones = this.rangeTombstones();
    if (tombstones?.isEmpty === true) tombstones = undefined;
    if (tombstones !== undefined && tombstones.largestEnd === null) throw new RangeError('a segment cannot hold a range tombstone without an upper bound');
    if (last === undefined && tombstones === undefined) throw new RangeError('a segment needs at least one entry');
    let minKey = this.minKey;
    let maxKey: Buffer | undefined;
    if (last !== undefined) {
      if (this.block.entryCount > 0) this.finishBlock(last.key);
      this.index.add(shortestSeparator(this.lastKeyOfBlock as Buffer, undefined), this.blockHandle as BlockHandle);
      maxKey = Buffer.from(last.key);
    }
    const dataSize = this.fileOffset;
    let rangeTombstoneBytes = 0;
    if (tombstones !== undefined) {
      const payload = tombstones.encode();
      rangeTombstoneBytes = payload.length;
      this.emitFramed(payload, BlockKind.RangeTombstones);
      const start = tombstones.smallest as Buffer;
      const end = lastCoveredKey(tombstones.largestEnd as Buffer);
      if (minKey === undefined || Buffer.compare(start, minKey) < 0) minKey = Buffer.from(start);
      if (maxKey === undefined || Buffer.compare(end, maxKey) > 0) maxKey = Buffer.from(end);
      this.minSeqno = Math.min(this.minSeqno, tombstones.minSeqno);
      this.maxSeqno = Math.max(this.maxSeqno, tombstones.maxSeqno);
    }
    if (minKey === undefined || maxKey === undefined) throw new Error('unreachable: a segment without a key span');
    const filter = this.emitFramed(this.bloom.finish(), BlockKind.Filter);
    const index = this.emitFramed(this.index.finish(), BlockKind.Index);
    const properties = this.emitFramed(
      encodeProperties({
        entryCount: this.entryCount,
        tombstoneCount: this.tombstoneCount,
        keyCount: this.bloom.keyCount,
        minSeqno: this.minSeqno,
        maxSeqno: this.maxSeqno,
        dataBlockCount: this.index.blockCount,
        dataSize,
        bitsPerKey: this.bitsPerKey,
        createdAt,
        minKey,
        maxKey,
        rangeTombstoneCount: tombstones?.fragmentCount ?? 0,
        rangeTombstoneBytes,
      }),
      BlockKind.Properties,
    );
    const formatVersion = tombstones === undefined ? SEGMENT_FORMAT_WITHOUT_RANGE_TOMBSTONES : SEGMENT_FORMAT_VERSION;
    this.emit(encodeFooter({ filter, index, properties, formatVersion }));
    if (this.chunkLength > 0) this.ready.push(this.chunk.subarray(0, this.chunkLength));
    return {
      fileSize: this.fileOffset,
      entryCount: this.entryCount,
      tombstoneCount: this.tombstoneCount,
      minKey,
      maxKey,
      minSeqno: this.minSeqno,
      maxSeqno: this.maxSeqno,
      createdAt,
    };
  }

  private finishBlock(lastKey: Buffer): void {
    const raw = this.block.finish();
    this.lastKeyOfBlock = Buffer.from(lastKey);
    const compressed = this.compress ? compressBlock(raw.subarray(0, raw.length - BLOCK_TRAILER_SIZE)) : undefined;
    if (compressed !== undefined) {
      this.blockHandle = this.emitFramed(compressed, BlockKind.SnappyData);
      return;
    }
    this.blockHandle = { offset: this.fileOffset, length: raw.length - BLOCK_TRAILER_SIZE };
    this.emit(raw);
  }

  private emitFramed(payload: Buffer, kind: BlockKind): BlockHandle {
    const framed = Buffer.allocUnsafe(payload.length + BLOCK_TRAILER_SIZE);
    payload.copy(framed);
    sealBlock(framed, 0, payload.length, kind);
    const handle = { offset: this.fileOffset, length: payload.length };
    this.emit(framed);
    return handle;
  }

  /** Appends bytes (copied: `bytes` may be a reused buffer) at the current file offset. */
  private emit(bytes: Buffer): void {
    this.fileOffset += bytes.length;
    if (bytes.length <= this.chunk.length - this.chunkLength) {
      this.chunkLength += bytes.copy(this.chunk, this.chunkLength);
      return;
    }
    if (this.chunkLength > 0) {
      this.ready.push(this.chunk.subarray(0, this.chunkLength));
      this.chunk = Buffer.allocUnsafe(CHUNK_SIZE);
      this.chunkLength = 0;
    }
    if (bytes.length > CHUNK_SIZE) this.ready.push(Buffer.from(bytes));
    else this.chunkLength = bytes.copy(this.chunk, 0);
  }
}

/**
 * The key span's last key for a tombstone ending (exclusively) at `end`: k when end is
 * k + 0x00 (k's successor, so k is the largest key below it: what `lte: k` and a merge's
 * clipping make), else `end` itself, one key too many but never too few.
 */
function lastCoveredKey(end: Buffer): Buffer {
  return end.length > 0 && end[end.length - 1] === 0 ? end.subarray(0, end.length - 1) : end;
}

function checkEntry(entry: Entry): void {
  if (!Buffer.isBuffer(entry.key) || !Buffer.isBuffer(entry.value)) throw new TypeError('entry key and value must be Buffers');
  if (!Number.isSafeInteger(entry.seqno) || entry.seqno < 0) throw new RangeError(`entry seqno must be an integer in [0, 2^53), got ${entry.seqno}`);
  if (entry.kind !== EntryKind.Put && entry.kind !== EntryKind.Delete) throw new RangeError(`entry kind must be 0 or 1, got ${entry.kind}`);
}
