// SegmentReader: point reads and cursors over one immutable segment file. Reads are
// synchronous (readSync of one block on a cache miss) and main-thread only; a reader
// may serve any number of interleaved gets and cursors until close(). Its file may be
// closed between reads by the open-file budget (OpenFiles) and is then reopened on demand.
import { CairnError, ErrorCodes } from '../errors.js';
import { MAX_SEQNO, type Entry } from '../codec/entry.js';
import { RangeTombstones } from '../codec/range-tombstones.js';
import type { FileHandle, FileSystem } from '../fs/file-system.js';
import { BlockCache } from './block-cache.js';
import { BloomFilter } from './bloom.js';
import { OpenFiles } from './open-files.js';
import { DataBlock } from './data-block.js';
import { BLOCK_TRAILER_SIZE, BlockKind, corruption, decodeFooter, FOOTER_SIZE, openBlock, openDataBlock } from './format.js';
import { SegmentIndex } from './index-block.js';
import { decodeProperties, type SegmentMeta, type SegmentProperties } from './properties.js';

export interface OpenSegmentOptions {
  /** Identifies the file in the block cache; unique among the files sharing `cache`. */
  fileNumber: number;
  cache: BlockCache;
  /** The budget of open files this reader's file counts against; default: a budget of its own, never closing it early. */
  files?: OpenFiles;
}

/** Key bounds of a cursor; at most one lower (gt/gte) and one upper (lt/lte) bound apply. */
export interface SegmentCursorOptions {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  /** Keys descending; versions of one key still come newest first. */
  reverse?: boolean;
  /** Keep blocks this cursor reads in the cache (default true; false for one-off scans). */
  fillCache?: boolean;
}

/** A synchronous position in a segment: entries by key, newest version first within a key. */
export interface SegmentCursor {
  next(): Entry | undefined;
}

export class SegmentReader {
  private closed = false;

  private constructor(
    readonly path: string,
    readonly fileNumber: number,
    readonly meta: SegmentMeta,
    readonly properties: SegmentProperties,
    private readonly index: SegmentIndex,
    private readonly filter: BloomFilter,
    private readonly cache: BlockCache,
    private readonly files: OpenFiles,
    /** The range-tombstone block (format 3), kept in memory like the index; undefined when the segment has none. */
    readonly rangeTombstones: RangeTombstones | undefined,
  ) {}

  /**
   * Opens a segment and verifies its footer, properties, index and filter (CAIRN_CORRUPTION
   * with details {path, offset} on any mismatch). Data blocks are verified when first read.
   */
  static async open(fs: FileSystem, path: string, options: OpenSegmentOptions): Promise<SegmentReader> {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
    const { fileNumber, cache, files = new OpenFiles(fs, Infinity) } = options ?? {};
    if (!Number.isSafeInteger(fileNumber) || fileNumber < 0) throw new RangeError(`fileNumber must be a non-negative integer, got ${fileNumber}`);
    if (!(cache instanceof BlockCache)) throw new TypeError('cache must be a BlockCache');
    const handle = await fs.open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size < FOOTER_SIZE) throw corruption('file too short to be a segment', path, 0);
      const footer = decodeFooter(await readExactly(handle, size - FOOTER_SIZE, FOOTER_SIZE, path), size, path);
      // Filter, index and properties are contiguous before the footer: one read.
      const tailStart = footer.filter.offset;
      const tail = await readExactly(handle, tailStart, size - FOOTER_SIZE - tailStart, path);
      const slice = (h: { offset: number; length: number }) => tail.subarray(h.offset - tailStart, h.offset - tailStart + h.length + BLOCK_TRAILER_SIZE);
      const properties = decodeProperties(
        openBlock(slice(footer.properties), BlockKind.Properties, path, footer.properties.offset),
        footer.formatVersion,
        path,
        footer.properties.offset,
      );
      const index = new SegmentIndex(openBlock(slice(footer.index), BlockKind.Index, path, footer.index.offset), properties.dataSize, path, footer.index.offset);
      const rangeBlockBytes = properties.rangeTombstoneBytes === 0 ? 0 : properties.rangeTombstoneBytes + BLOCK_TRAILER_SIZE;
      if (index.count !== properties.dataBlockCount || properties.dataSize + rangeBlockBytes !== tailStart) {
        throw corruption('properties disagree with the index', path, footer.properties.offset);
      }
      let rangeTombstones: RangeTombstones | undefined;
      if (rangeBlockBytes > 0) {
        const at = properties.dataSize;
        const payload = openBlock(await readExactly(handle, at, rangeBlockBytes, path), BlockKind.RangeTombstones, path, at);
        try {
          rangeTombstones = RangeTombstones.decode(payload);
        } catch (err) {
          throw corruption('range-tombstone block malformed', path, at, err);
        }
        if (rangeTombstones.fragmentCount !== properties.rangeTombstoneCount) throw corruption('range-tombstone count disagrees with the properties', path, at);
      }
      const filter = new BloomFilter(openBlock(slice(footer.filter), BlockKind.Filter, path, footer.filter.offset), path, footer.filter.offset);
      const { entryCount, tombstoneCount, minKey, maxKey, minSeqno, maxSeqno, createdAt } = properties;
      const meta: SegmentMeta = { fileSize: size, entryCount, tombstoneCount, minKey, maxKey, minSeqno, maxSeqno, createdAt };
      const reader = new SegmentReader(path, fileNumber, meta, properties, index, filter, cache, files, rangeTombstones);
      await files.adopt(reader, handle);
      return reader;
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  /** False when the bloom filter proves the key absent. */
  mayContain(key: Buffer): boolean {
    return this.filter.mayContain(key);
  }

  /**
   * The newest version of `key` with seqno <= readSeqno (a tombstone included: the caller
   * interprets it), or undefined. Synchronous: a missing block is read with readSync.
   */
  get(key: Buffer, readSeqno = MAX_SEQNO): Entry | undefined {
    if (this.closed) throw closedError(this.path);
    if (!this.filter.mayContain(key)) return undefined;
    const index = this.index;
    // Versions of one key can spill over into following blocks.
    for (let b = index.firstAtOrAfter(key); b < index.count; b++) {
      const block = this.block(b, true);
      const i = block.seekVersion(key, readSeqno);
      if (i < block.count) return block.compareKeyAt(i, key) === 0 ? block.entry(i) : undefined;
    }
    return undefined;
  }

  /**
   * Bytes of the file that hold keys within the bounds, from the index alone (no data
   * read): the data blocks from the one where the lower bound falls to the one where the
   * upper bound falls, both counted whole; the whole file when every block is in range.
   */
  approximateBytes(bounds: SegmentCursorOptions): number {
    const index = this.index;
    const lower = bounds.gt ?? bounds.gte;
    const upper = bounds.lt ?? bounds.lte;
    const first = lower === undefined ? 0 : index.firstAtOrAfter(lower);
    const end = upper === undefined ? index.count : Math.min(index.count, index.firstAtOrAfter(upper) + 1);
    if (first >= end) return 0;
    if (first === 0 && end === index.count) return this.meta.fileSize;
    return index.offsetOf(end - 1) + index.lengthOf(end - 1) + BLOCK_TRAILER_SIZE - index.offsetOf(first);
  }

  /** A cursor over the entries within the bounds; positioned lazily on the first next(). */
  cursor(options: SegmentCursorOptions = {}): SegmentCursor {
    if (this.closed) throw closedError(this.path);
    if (this.index.count === 0) return NO_ENTRIES;
    return options.reverse === true ? new ReverseCursor(this, options) : new ForwardCursor(this, options);
  }

  /** Closes the file (idempotent). Cached blocks stay: the owner evicts them when deleting the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.files.release(this);
  }

  /** @internal The index, for cursors. */
  get blockIndex(): SegmentIndex {
    return this.index;
  }

  /** @internal Data block b, from the cache or read, verified and decoded. */
  block(b: number, fillCache: boolean): DataBlock {
    if (this.closed) throw closedError(this.path);
    const offset = this.index.offsetOf(b);
    const cached = this.cache.get(this.fileNumber, offset);
    if (cached !== undefined) return cached;
    const handle = this.files.handle(this);
    const length = this.index.lengthOf(b) + BLOCK_TRAILER_SIZE;
    // Not from the shared pool: a cached block must not pin unrelated memory.
    const raw = Buffer.allocUnsafeSlow(length);
    let filled = 0;
    while (filled < length) {
      const n = handle.readSync(raw, filled, length - filled, offset + filled);
      if (n === 0) throw corruption('data block cut short by end of file', this.path, offset);
      filled += n;
    }
    const block = new DataBlock(openDataBlock(raw, this.path, offset), this.path, offset);
    if (fillCache) this.cache.insert(this.fileNumber, offset, block);
    return block;
  }
}

/** The cursor of a segment holding range tombstones alone. */
const NO_ENTRIES: SegmentCursor = { next: () => undefined };

function closedError(path: string): CairnError {
  return new CairnError(ErrorCodes.CLOSED, 'The segment reader is closed', { details: { path } });
}

async function readExactly(handle: FileHandle, position: number, length: number, path: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const n = await handle.read(buf, filled, length - filled, position + filled);
    if (n === 0) throw corruption('unexpected end of file', path, position + filled);
    filled += n;
  }
  return buf;
}

/** Ascending keys. Skips per-entry bound checks inside blocks whose separator is within the upper bound. */
class ForwardCursor implements SegmentCursor {
  private blockNumber = -1;
  private block: DataBlock | undefined;
  private pos = 0;
  private done = false;
  private blockWithinUpper = true;
  private readonly upper: Buffer | undefined;
  private readonly upperInclusive: boolean;
  private readonly fillCache: boolean;

  constructor(
    private readonly reader: SegmentReader,
    private readonly options: SegmentCursorOptions,
  ) {
    this.upper = options.lt ?? options.lte;
    this.upperInclusive = options.lt === undefined;
    this.fillCache = options.fillCache !== false;
  }

  next(): Entry | undefined {
    if (this.done) return undefined;
    if (this.block === undefined) this.seek();
    for (;;) {
      const block = this.block as DataBlock;
      if (this.pos < block.count) {
        if (!this.blockWithinUpper && this.beyondUpper(block, this.pos)) return this.finish();
        return block.entry(this.pos++);
      }
      if (this.blockNumber + 1 >= this.reader.blockIndex.count) return this.finish();
      this.load(this.blockNumber + 1);
      this.pos = 0;
    }
  }

  private seek(): void {
    const index = this.reader.blockIndex;
    const lower = this.options.gt ?? this.options.gte;
    const exclusive = this.options.gt !== undefined;
    const b = lower === undefined ? 0 : exclusive ? index.firstAfter(lower) : index.firstAtOrAfter(lower);
    // Past every separator: past every key. Park on the last block, exhausted.
    this.load(Math.min(b, index.count - 1));
    if (b >= index.count) this.pos = (this.block as DataBlock).count;
    else if (lower !== undefined) this.pos = exclusive ? (this.block as DataBlock).upperBound(lower) : (this.block as DataBlock).lowerBound(lower);
  }

  private load(b: number): void {
    this.block = this.reader.block(b, this.fillCache);
    this.blockNumber = b;
    const upper = this.upper;
    if (upper !== undefined) {
      const c = this.reader.blockIndex.compareSeparator(b, upper);
      this.blockWithinUpper = this.upperInclusive ? c <= 0 : c < 0;
    }
  }

  private beyondUpper(block: DataBlock, i: number): boolean {
    const c = block.compareKeyAt(i, this.upper as Buffer);
    return this.upperInclusive ? c > 0 : c >= 0;
  }

  private finish(): undefined {
    this.done = true;
    this.block = undefined;
    return undefined;
  }
}

/**
 * Descending keys, newest version first within a key: walks the file backwards and, when
 * a key has several versions, gathers them (possibly across blocks) to yield newest first.
 */
class ReverseCursor implements SegmentCursor {
  private blockNumber = 0;
  private block: DataBlock | undefined;
  private pos = -1;
  private done = false;
  private blockWithinLower = true;
  private readonly versions: Entry[] = [];
  private readonly lower: Buffer | undefined;
  private readonly lowerInclusive: boolean;
  private readonly fillCache: boolean;

  constructor(
    private readonly reader: SegmentReader,
    private readonly options: SegmentCursorOptions,
  ) {
    this.lower = options.gt ?? options.gte;
    this.lowerInclusive = options.gt === undefined;
    this.fillCache = options.fillCache !== false;
  }

  next(): Entry | undefined {
    if (this.versions.length > 0) return this.versions.pop();
    if (this.done) return undefined;
    if (this.block === undefined) this.seek();
    if (!this.settle()) return this.finish();
    const block = this.block as DataBlock;
    if (!this.blockWithinLower && this.belowLower(block, this.pos)) return this.finish();
    const entry = block.entry(this.pos--);
    // Older positions holding the same key are newer versions: collect them, then yield newest first.
    while (this.settle() && (this.block as DataBlock).compareKeyAt(this.pos, entry.key) === 0) {
      if (this.versions.length === 0) this.versions.push(entry);
      this.versions.push((this.block as DataBlock).entry(this.pos--));
    }
    return this.versions.length > 0 ? this.versions.pop() : entry;
  }

  private seek(): void {
    const index = this.reader.blockIndex;
    const upper = this.options.lt ?? this.options.lte;
    // Versions of a key equal to an inclusive bound may continue past a block whose separator is that key.
    const b = upper === undefined ? index.count : this.options.lt !== undefined ? index.firstAtOrAfter(upper) : index.firstAfter(upper);
    this.load(Math.min(b, index.count - 1));
    const block = this.block as DataBlock;
    if (upper === undefined || b >= index.count) this.pos = block.count - 1;
    else this.pos = (this.options.lt !== undefined ? block.lowerBound(upper) : block.upperBound(upper)) - 1;
  }

  /** Moves back over block boundaries until pos is a valid entry; false at the start of the file. */
  private settle(): boolean {
    while (this.pos < 0) {
      if (this.blockNumber === 0) return false;
      this.load(this.blockNumber - 1);
      this.pos = (this.block as DataBlock).count - 1;
    }
    return true;
  }

  private load(b: number): void {
    const block = this.reader.block(b, this.fillCache);
    this.block = block;
    this.blockNumber = b;
    const lower = this.lower;
    if (lower !== undefined) {
      const c = block.compareKeyAt(0, lower);
      this.blockWithinLower = this.lowerInclusive ? c >= 0 : c > 0;
    }
  }

  private belowLower(block: DataBlock, i: number): boolean {
    const c = block.compareKeyAt(i, this.lower as Buffer);
    return this.lowerInclusive ? c < 0 : c <= 0;
  }

  private finish(): undefined {
    this.done = true;
    this.block = undefined;
    return undefined;
  }
}
