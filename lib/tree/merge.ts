// Merging the sorted sources of one read view (memtables, segments) into the sequence a
// reader sees: the newest version at or below the read seqno of each key, tombstones
// hidden. Synchronous and single-threaded; a cursor is owned by one iterator.
import type { Entry } from '../codec/entry.js';
import { EntryKind } from '../codec/entry.js';
import type { RangeTombstones } from '../codec/range-tombstones.js';

/** A positioned source: entries by key (ascending, or descending when reversed), newest version first within a key. */
export interface EntryCursor {
  next(): Entry | undefined;
}

/** Key bounds shared by every cursor factory. */
export interface KeyRange {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  reverse?: boolean;
}

interface HeapItem {
  entry: Entry;
  cursor: EntryCursor;
  /** Source rank: lower is newer. Breaks ties between equal (key, seqno), which only a bug could produce. */
  rank: number;
}

/** K-way merge of cursors into one cursor of the same ordering, with a binary heap. */
export class MergingCursor implements EntryCursor {
  private readonly heap: HeapItem[] = [];
  private readonly sign: number;

  constructor(cursors: EntryCursor[], reverse: boolean) {
    this.sign = reverse ? -1 : 1;
    cursors.forEach((cursor, rank) => {
      const entry = cursor.next();
      if (entry !== undefined) this.push({ entry, cursor, rank });
    });
  }

  next(): Entry | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const result = top.entry;
    const following = top.cursor.next();
    if (following !== undefined) {
      top.entry = following;
      this.siftDown(0);
    } else {
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        this.siftDown(0);
      }
    }
    return result;
  }

  private less(a: HeapItem, b: HeapItem): boolean {
    const c = Buffer.compare(a.entry.key, b.entry.key) * this.sign;
    if (c !== 0) return c < 0;
    if (a.entry.seqno !== b.entry.seqno) return a.entry.seqno > b.entry.seqno;
    return a.rank < b.rank;
  }

  private push(item: HeapItem): void {
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.less(heap[l], heap[best])) best = l;
      if (r < n && this.less(heap[r], heap[best])) best = r;
      if (best === i) return;
      [heap[i], heap[best]] = [heap[best], heap[i]];
      i = best;
    }
  }
}

/**
 * What a reader sees through a merged cursor at `readSeqno`: for each key the newest
 * version with seqno <= readSeqno, skipped entirely when that version is a tombstone or
 * lies under a newer range delete (`rangeTombstones`: the view's, as seen at readSeqno).
 */
export class VisibleCursor {
  private lastKey: Buffer | undefined;

  constructor(
    private readonly source: EntryCursor,
    private readonly readSeqno: number,
    private readonly rangeTombstones?: RangeTombstones,
  ) {}

  next(): Entry | undefined {
    for (;;) {
      const e = this.source.next();
      if (e === undefined) return undefined;
      if (e.seqno > this.readSeqno) continue;
      if (this.lastKey !== undefined && this.lastKey.equals(e.key)) continue;
      this.lastKey = e.key;
      if (e.kind === EntryKind.Delete) continue;
      if (this.rangeTombstones !== undefined && this.rangeTombstones.coveringSeqno(e.key, this.readSeqno) > e.seqno) continue;
      return e;
    }
  }
}

/**
 * A cursor over one source (memtable or segment) at `range` that leaves out the key
 * intervals where a range tombstone of the read (`tombstones`: the view's, as seen at its
 * read seqno) is newer than anything the source holds (`maxSeqno`): nothing of the source
 * can be visible there. The source is read as one bounded cursor per stretch between
 * such intervals, opened in turn, so a scan right after a big clear skips the covered
 * entries of older sources instead of stepping over each one.
 */
export function cursorOutsideTombstones(
  open: (range: KeyRange) => EntryCursor,
  range: KeyRange,
  maxSeqno: number,
  tombstones: RangeTombstones | undefined,
): EntryCursor {
  if (tombstones === undefined || tombstones.maxSeqno <= maxSeqno) return open(range);
  const pieces: KeyRange[] = [];
  let from: Buffer | null = Buffer.alloc(0);
  for (const f of tombstones.fragments()) {
    if (f.seqnos[0] <= maxSeqno) continue;
    const piece = clampRange(range, from, f.start);
    if (piece !== undefined) pieces.push(piece);
    from = f.end;
    if (from === null) break;
  }
  if (from !== null) {
    const piece = clampRange(range, from, null);
    if (piece !== undefined) pieces.push(piece);
  }
  if (pieces.length === 1) return open(pieces[0]);
  if (range.reverse === true) pieces.reverse();
  return new ConcatCursor(pieces, open);
}

/** The cursors of consecutive key ranges, opened one after another. */
class ConcatCursor implements EntryCursor {
  private index = 0;
  private current: EntryCursor | undefined;

  constructor(
    private readonly ranges: readonly KeyRange[],
    private readonly open: (range: KeyRange) => EntryCursor,
  ) {}

  next(): Entry | undefined {
    for (;;) {
      if (this.current === undefined) {
        if (this.index >= this.ranges.length) return undefined;
        this.current = this.open(this.ranges[this.index++]);
      }
      const e = this.current.next();
      if (e !== undefined) return e;
      this.current = undefined;
    }
  }
}

/** `range` narrowed to [start, end) (end null: no upper bound), or undefined when that holds no key. */
function clampRange(range: KeyRange, start: Buffer, end: Buffer | null): KeyRange | undefined {
  const r: KeyRange = { ...range };
  const lowerHolds = (r.gt !== undefined && Buffer.compare(r.gt, start) >= 0) || (r.gte !== undefined && Buffer.compare(r.gte, start) >= 0);
  if (!lowerHolds) {
    delete r.gt;
    r.gte = start;
  }
  if (end !== null) {
    const upperHolds = (r.lt !== undefined && Buffer.compare(r.lt, end) <= 0) || (r.lte !== undefined && Buffer.compare(r.lte, end) < 0);
    if (!upperHolds) {
      delete r.lte;
      r.lt = end;
    }
  }
  for (const [lower, strictLower] of [
    [r.gt, true],
    [r.gte, false],
  ] as const) {
    if (lower === undefined) continue;
    if (r.lt !== undefined && Buffer.compare(lower, r.lt) >= 0) return undefined;
    if (r.lte !== undefined && (strictLower ? Buffer.compare(lower, r.lte) >= 0 : Buffer.compare(lower, r.lte) > 0)) return undefined;
  }
  return r;
}

/** True when `key` lies inside the range's bounds (direction ignored). */
export function inRange(key: Buffer, range: KeyRange): boolean {
  if (range.gt !== undefined && Buffer.compare(key, range.gt) <= 0) return false;
  if (range.gte !== undefined && Buffer.compare(key, range.gte) < 0) return false;
  if (range.lt !== undefined && Buffer.compare(key, range.lt) >= 0) return false;
  if (range.lte !== undefined && Buffer.compare(key, range.lte) > 0) return false;
  return true;
}

/** True when a segment spanning [minKey, maxKey] may hold keys inside the range. */
export function overlapsRange(minKey: Buffer, maxKey: Buffer, range: KeyRange): boolean {
  if (range.gt !== undefined && Buffer.compare(maxKey, range.gt) <= 0) return false;
  if (range.gte !== undefined && Buffer.compare(maxKey, range.gte) < 0) return false;
  if (range.lt !== undefined && Buffer.compare(minKey, range.lt) >= 0) return false;
  if (range.lte !== undefined && Buffer.compare(minKey, range.lte) > 0) return false;
  return true;
}
