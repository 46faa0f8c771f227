// A Version: one immutable arrangement of a partition's segments in levels, with the
// open readers to serve gets and cursors from it. Never changes once built; a new
// flush or compaction builds a new Version. Single-threaded (main thread) use.
import type { Entry } from '../codec/entry.js';
import type { RangeTombstones } from '../codec/range-tombstones.js';
import type { SegmentReader } from '../segment/segment-reader.js';
import type { SegmentDescriptor, VersionState } from './manifest.js';
import { type EntryCursor, type KeyRange, cursorOutsideTombstones, overlapsRange } from './merge.js';

export interface LiveSegment {
  readonly descriptor: SegmentDescriptor;
  readonly reader: SegmentReader;
}

export class Version {
  /** levels[0] newest first (overlapping); levels[1..] sorted by key, disjoint. Mirrors state.levels. */
  readonly levels: readonly (readonly LiveSegment[])[];
  /** The segments holding range tombstones (few: a merge into the bottom level drops them). */
  readonly #withRangeTombstones: readonly LiveSegment[];

  constructor(
    readonly state: VersionState,
    readers: ReadonlyMap<number, SegmentReader>,
  ) {
    this.levels = state.levels.map((level) =>
      level.map((descriptor) => {
        const reader = readers.get(descriptor.fileNumber);
        if (reader === undefined) throw new Error(`no reader for segment ${descriptor.fileNumber}`);
        return { descriptor, reader };
      }),
    );
    this.#withRangeTombstones = this.levels.flat().filter((s) => s.reader.rangeTombstones !== undefined);
  }

  /**
   * The newest range delete over `key` at or below readSeqno in this version's segments,
   * when newer than `floor` (the seqno of the version of the key found); else -1.
   */
  rangeDeletionSeqno(key: Buffer, readSeqno: number, floor: number): number {
    let t = -1;
    for (const s of this.#withRangeTombstones) {
      const tombstones = s.reader.rangeTombstones as RangeTombstones;
      if (tombstones.maxSeqno <= floor || Buffer.compare(key, s.descriptor.minKey) < 0 || Buffer.compare(key, s.descriptor.maxKey) > 0) continue;
      const q = tombstones.coveringSeqno(key, readSeqno);
      if (q > t) t = q;
    }
    return t;
  }

  /** The range tombstones of every segment that has some. */
  rangeTombstones(): RangeTombstones[] {
    return this.#withRangeTombstones.map((s) => s.reader.rangeTombstones as RangeTombstones);
  }

  /** Every segment file number of this version. */
  fileNumbers(): number[] {
    return this.state.levels.flatMap((level) => level.map((s) => s.fileNumber));
  }

  get segmentCount(): number {
    let n = 0;
    for (const level of this.levels) n += level.length;
    return n;
  }

  /** The newest version of `key` with seqno <= readSeqno (tombstones included), searching newest data first. */
  get(key: Buffer, readSeqno: number): Entry | undefined {
    const l0 = this.levels[0] ?? [];
    for (const s of l0) {
      if (Buffer.compare(key, s.descriptor.minKey) < 0 || Buffer.compare(key, s.descriptor.maxKey) > 0) continue;
      const e = s.reader.get(key, readSeqno);
      if (e !== undefined) return e;
    }
    for (let level = 1; level < this.levels.length; level++) {
      const s = findInLevel(this.levels[level], key);
      if (s === undefined) continue;
      const e = s.reader.get(key, readSeqno);
      if (e !== undefined) return e;
    }
    return undefined;
  }

  /** Bytes of segment files holding keys in `range`, estimated from their indexes (see SegmentReader.approximateBytes). */
  approximateBytes(range: KeyRange): number {
    let bytes = 0;
    for (const level of this.levels) {
      for (const s of level) {
        if (overlapsRange(s.descriptor.minKey, s.descriptor.maxKey, range)) bytes += s.reader.approximateBytes(range);
      }
    }
    return bytes;
  }

  /**
   * An estimate of the bytes live data takes (RocksDB's estimate-live-data-size): the
   * size of a maximal set of segments with no key overlap, taken from the bottom level
   * up, so an upper segment overlapping one already counted is taken for overwrites of
   * data counted there. The less compacted the tree, the lower (more hopeful) the figure.
   */
  estimateLiveBytes(): number {
    const counted: SegmentDescriptor[] = [];
    let bytes = 0;
    for (let level = this.state.levels.length - 1; level >= 0; level--) {
      for (const s of this.state.levels[level]) {
        if (counted.some((c) => Buffer.compare(c.minKey, s.maxKey) <= 0 && Buffer.compare(s.minKey, c.maxKey) <= 0)) continue;
        bytes += s.fileSize;
        counted.push(s);
      }
    }
    return bytes;
  }

  /**
   * Appends cursors over every segment that may hold keys in `range`, each leaving out
   * the intervals where one of the read's range tombstones is newer than all it holds.
   */
  addCursors(range: KeyRange, out: EntryCursor[], tombstones?: RangeTombstones): void {
    const open = (s: LiveSegment): EntryCursor => cursorOutsideTombstones((r) => s.reader.cursor(r), range, s.descriptor.maxSeqno, tombstones);
    const l0 = this.levels[0] ?? [];
    for (const s of l0) {
      if (overlapsRange(s.descriptor.minKey, s.descriptor.maxKey, range)) out.push(open(s));
    }
    for (let level = 1; level < this.levels.length; level++) {
      const candidates = this.levels[level].filter((s) => overlapsRange(s.descriptor.minKey, s.descriptor.maxKey, range));
      if (candidates.length === 1) out.push(open(candidates[0]));
      else if (candidates.length > 1) out.push(new LevelCursor(range.reverse ? candidates.slice().reverse() : candidates, open));
    }
  }
}

/** The segment of a sorted, disjoint level whose key span holds `key`, by binary search on maxKey. */
function findInLevel(level: readonly LiveSegment[], key: Buffer): LiveSegment | undefined {
  let lo = 0;
  let hi = level.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(level[mid].descriptor.maxKey, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo === level.length) return undefined;
  const s = level[lo];
  return Buffer.compare(key, s.descriptor.minKey) >= 0 ? s : undefined;
}

/** Walks the segments of one disjoint level in order, opening each segment's cursor only when reached. */
class LevelCursor implements EntryCursor {
  private index = 0;
  private current: EntryCursor | undefined;

  constructor(
    private readonly segments: readonly LiveSegment[],
    private readonly open: (segment: LiveSegment) => EntryCursor,
  ) {}

  next(): Entry | undefined {
    for (;;) {
      if (this.current === undefined) {
        if (this.index >= this.segments.length) return undefined;
        this.current = this.open(this.segments[this.index++]);
      }
      const e = this.current.next();
      if (e !== undefined) return e;
      this.current = undefined;
    }
  }
}
