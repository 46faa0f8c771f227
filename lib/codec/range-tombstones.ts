// Range tombstones (range deletes, RocksDB's DeleteRange): "every key in [start, end) is
// deleted as of seqno". Kept as fragments, Pebble's way: sorted, non-overlapping key
// intervals, each carrying the seqnos of every tombstone over it, so a lookup is one binary
// search whatever the tombstones overlap. Used by memtables, segments (docs/format.md §8)
// and merges alike. Single-owner mutable; a list read by many readers is never mutated.
import { Reader, varintLength, writeVarint } from './varint.js';

/** One range delete: keys in [start, end) (end null: no upper bound) are deleted at `seqno`. */
export interface RangeTombstone {
  readonly start: Buffer;
  readonly end: Buffer | null;
  readonly seqno: number;
}

/** One fragment: [start, end) and the seqnos over it, newest first. */
export interface Fragment {
  readonly start: Buffer;
  readonly end: Buffer | null;
  readonly seqnos: readonly number[];
}

const EMPTY = Buffer.alloc(0);

/** The smallest key after `key` (key + one zero byte): `lte k` becomes `lt successor(k)`. */
export function keySuccessor(key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(key.length + 1);
  key.copy(out);
  out[key.length] = 0;
  return out;
}

/** The fragmented set of range tombstones of one memtable, segment or merge. */
export class RangeTombstones {
  #starts: Buffer[] = [];
  #ends: (Buffer | null)[] = [];
  #seqnos: number[][] = [];
  #maxSeqno = -1;
  #minSeqno = -1;
  #added = 0;

  /** Number of fragments. */
  get fragmentCount(): number {
    return this.#starts.length;
  }

  /** Tombstones added (not fragments). */
  get tombstoneCount(): number {
    return this.#added;
  }

  get isEmpty(): boolean {
    return this.#starts.length === 0;
  }

  /** The newest seqno of any tombstone, -1 when empty. */
  get maxSeqno(): number {
    return this.#maxSeqno;
  }

  /** The oldest seqno of any tombstone, -1 when empty. */
  get minSeqno(): number {
    return this.#minSeqno;
  }

  /** The first fragment's start (undefined when empty). */
  get smallest(): Buffer | undefined {
    return this.#starts[0];
  }

  /** The last fragment's end: null when unbounded, undefined when empty. */
  get largestEnd(): Buffer | null | undefined {
    return this.#starts.length === 0 ? undefined : this.#ends[this.#ends.length - 1];
  }

  /**
   * Adds the tombstone [start, end) at seqno; an empty interval adds nothing. Costs a
   * binary search plus the fragments it overlaps, never the keys it covers. The buffers
   * are kept by reference.
   */
  add(start: Buffer, end: Buffer | null, seqno: number): void {
    if (end !== null && Buffer.compare(start, end) >= 0) return;
    this.#added++;
    if (seqno > this.#maxSeqno) this.#maxSeqno = seqno;
    if (this.#minSeqno < 0 || seqno < this.#minSeqno) this.#minSeqno = seqno;
    const starts = this.#starts;
    const ends = this.#ends;
    const seqnos = this.#seqnos;
    // The first fragment ending after `start`.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = ends[mid];
      if (e !== null && Buffer.compare(e, start) <= 0) lo = mid + 1;
      else hi = mid;
    }
    const first = lo;
    const outStarts: Buffer[] = [];
    const outEnds: (Buffer | null)[] = [];
    const outSeqnos: number[][] = [];
    const push = (s: Buffer, e: Buffer | null, q: number[]): void => {
      outStarts.push(s);
      outEnds.push(e);
      outSeqnos.push(q);
    };
    // The start of the part of [start, end) no fragment looked at so far covers; null once none is left.
    let uncovered: Buffer | null = start;
    let j = first;
    for (; j < starts.length && (end === null || Buffer.compare(starts[j], end) < 0); j++) {
      const fs = starts[j];
      const fe = ends[j];
      const fq = seqnos[j];
      if (Buffer.compare(fs, start) < 0) push(fs, start, fq);
      else if (uncovered !== null && Buffer.compare(uncovered, fs) < 0) push(uncovered, fs, [seqno]);
      const overlapStart = Buffer.compare(fs, start) < 0 ? start : fs;
      const overlapEnd = minEnd(fe, end);
      push(overlapStart, overlapEnd, withSeqno(fq, seqno));
      if (end !== null && (fe === null || Buffer.compare(fe, end) > 0)) push(end, fe, fq);
      uncovered = overlapEnd;
    }
    if (uncovered !== null && (end === null || Buffer.compare(uncovered, end) < 0)) push(uncovered, end, [seqno]);
    starts.splice(first, j - first, ...outStarts);
    ends.splice(first, j - first, ...outEnds);
    seqnos.splice(first, j - first, ...outSeqnos);
  }

  /** Adds every fragment of `other`, each at its newest seqno <= readSeqno (older ones cannot matter to a reader at readSeqno). */
  addVisible(other: RangeTombstones, readSeqno: number): void {
    for (const f of other.fragments()) {
      const q = f.seqnos.find((s) => s <= readSeqno);
      if (q !== undefined) this.add(f.start, f.end, q);
    }
  }

  /**
   * The seqno of the newest tombstone covering `key` with seqno <= readSeqno, or -1. A
   * version of the key older than that is deleted.
   */
  coveringSeqno(key: Buffer, readSeqno: number): number {
    const starts = this.#starts;
    // The last fragment starting at or before key.
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(starts[mid], key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return -1;
    const end = this.#ends[lo - 1];
    if (end !== null && Buffer.compare(key, end) >= 0) return -1;
    const q = this.#seqnos[lo - 1];
    for (let i = 0; i < q.length; i++) if (q[i] <= readSeqno) return q[i];
    return -1;
  }

  /** The fragments in key order. */
  *fragments(): IterableIterator<Fragment> {
    for (let i = 0; i < this.#starts.length; i++) yield { start: this.#starts[i], end: this.#ends[i], seqnos: this.#seqnos[i] };
  }

  /**
   * The fragments clipped to [from, to) (null: unbounded), each at its newest seqno only:
   * what a merge output holds of them (every reader of a merge's outputs reads at or above
   * every seqno in them).
   */
  clipped(from: Buffer | null, to: Buffer | null): RangeTombstones {
    const out = new RangeTombstones();
    for (const f of this.fragments()) {
      const start = from !== null && Buffer.compare(f.start, from) < 0 ? from : f.start;
      const end = to === null ? f.end : minEnd(f.end, to);
      out.add(start, end, f.seqnos[0]);
    }
    return out;
  }

  /** The block payload of docs/format.md §8: count, then per fragment start, end (0: unbounded, else length + 1), seqnos. */
  encode(): Buffer {
    const n = this.#starts.length;
    let size = varintLength(n);
    for (let i = 0; i < n; i++) {
      const s = this.#starts[i];
      const e = this.#ends[i];
      size += varintLength(s.length) + s.length + (e === null ? 1 : varintLength(e.length + 1) + e.length) + varintLength(this.#seqnos[i].length);
      for (const q of this.#seqnos[i]) size += varintLength(q);
    }
    const out = Buffer.allocUnsafe(size);
    let at = writeVarint(out, 0, n);
    for (let i = 0; i < n; i++) {
      const s = this.#starts[i];
      const e = this.#ends[i];
      at = writeVarint(out, at, s.length);
      at += s.copy(out, at);
      if (e === null) at = writeVarint(out, at, 0);
      else {
        at = writeVarint(out, at, e.length + 1);
        at += e.copy(out, at);
      }
      at = writeVarint(out, at, this.#seqnos[i].length);
      for (const q of this.#seqnos[i]) at = writeVarint(out, at, q);
    }
    return out;
  }

  /**
   * Decodes a payload made by encode(), copying the keys. Throws RangeError when it is
   * malformed (fragments out of order or overlapping, seqnos not descending); callers
   * wrap it as corruption.
   */
  static decode(payload: Uint8Array): RangeTombstones {
    const r = new Reader(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    const out = new RangeTombstones();
    const n = r.varint();
    if (n > payload.length) throw new RangeError('range tombstone count exceeds the block');
    let previousEnd: Buffer | null = EMPTY;
    for (let i = 0; i < n; i++) {
      const start = Buffer.from(r.bytes(r.varint()));
      const endLength = r.varint();
      const end = endLength === 0 ? null : Buffer.from(r.bytes(endLength - 1));
      const count = r.varint();
      if (count === 0 || count > payload.length) throw new RangeError('range tombstone fragment without seqnos');
      const seqnos: number[] = [];
      for (let k = 0; k < count; k++) {
        const q = r.varint();
        if (k > 0 && q >= seqnos[k - 1]) throw new RangeError('range tombstone seqnos not descending');
        seqnos.push(q);
      }
      if (previousEnd === null || Buffer.compare(previousEnd, start) > 0 || (end !== null && Buffer.compare(start, end) >= 0)) {
        throw new RangeError('range tombstone fragments out of order');
      }
      previousEnd = end;
      out.#starts.push(start);
      out.#ends.push(end);
      out.#seqnos.push(seqnos);
      out.#added++;
      if (seqnos[0] > out.#maxSeqno) out.#maxSeqno = seqnos[0];
      const oldest = seqnos[seqnos.length - 1];
      if (out.#minSeqno < 0 || oldest < out.#minSeqno) out.#minSeqno = oldest;
    }
    if (r.remaining !== 0) throw new RangeError('trailing bytes after the range tombstones');
    return out;
  }
}

/** The smaller of two exclusive ends (null: unbounded). */
function minEnd(a: Buffer | null, b: Buffer | null): Buffer | null {
  if (a === null) return b;
  if (b === null) return a;
  return Buffer.compare(a, b) <= 0 ? a : b;
}

/** `seqnos` (descending) with `seqno` added in its place; a new array (fragments may share the old one). */
function withSeqno(seqnos: readonly number[], seqno: number): number[] {
  const out: number[] = [];
  let placed = false;
  for (const q of seqnos) {
    if (!placed && seqno >= q) {
      if (seqno !== q) out.push(seqno);
      placed = true;
    }
    out.push(q);
  }
  if (!placed) out.push(seqno);
  return out;
}
