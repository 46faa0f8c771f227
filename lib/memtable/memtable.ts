// The in-memory sorted write buffer: a skip list of user keys, each holding its versions.
// Single-threaded (main thread only); cursors stay valid while inserts continue because
// nodes are never moved or removed, only linked in, and a cursor re-finds its place in a
// key's version list by seqno when that list has grown under it.
import { CairnError, ErrorCodes } from '../errors.js';
import type { Entry, EntryKind } from '../codec/entry.js';

/**
 * Why a skip list: O(log n) expected insert and seek, ordered iteration in both
 * directions (level 0 is doubly linked), and — unlike a sorted array or a B-tree, whose
 * inserts shift or split storage — existing nodes never move, which is what lets a paused
 * cursor resume exactly where it was while the keyspace keeps writing.
 */
const MAX_LEVEL = 16;
/** Roughly what one version costs beyond its key and value bytes (Entry object, array slot, node share). */
export const VERSION_OVERHEAD_BYTES = 64;
const NODE_OVERHEAD_BYTES = 48;

/** A skip-list node; exported only so the cursor can hold one. Not part of the API. */
export class Node {
  /** Versions sorted by seqno ascending, so the usual insert (a newer seqno) is a push. */
  readonly versions: Entry[];
  readonly next: (Node | null)[];
  prev: Node | null = null;
  /** Key bytes 0–2 and 3–5 as small integers (see keyPrefix), compared before touching the key. */
  readonly p0: number;
  readonly p1: number;

  constructor(
    readonly key: Buffer,
    level: number,
  ) {
    this.versions = [];
    this.next = new Array<Node | null>(level).fill(null);
    this.p0 = keyPrefix(key, 0);
    this.p1 = keyPrefix(key, 3);
  }
}

/**
 * Three key bytes from `at` as one integer (missing bytes count as 0). Two keys whose
 * prefixes differ are ordered as their prefixes; equal prefixes need the full compare.
 * Keeps the search's comparisons inside the node object, off the key's separate buffer.
 */
function keyPrefix(key: Buffer, at: number): number {
  const len = key.length;
  return ((at < len ? key[at] : 0) << 16) | ((at + 1 < len ? key[at + 1] : 0) << 8) | (at + 2 < len ? key[at + 2] : 0);
}

/** Order of `node`'s key against `key`, whose prefixes are k0 and k1. */
function compareNode(node: Node, key: Buffer, k0: number, k1: number): number {
  if (node.p0 !== k0) return node.p0 < k0 ? -1 : 1;
  if (node.p1 !== k1) return node.p1 < k1 ? -1 : 1;
  return compareKeys(node.key, key);
}

export interface CursorOptions {
  gte?: Buffer;
  gt?: Buffer;
  lte?: Buffer;
  lt?: Buffer;
  reverse?: boolean;
}

export class Memtable {
  readonly #head = new Node(Buffer.alloc(0), MAX_LEVEL);
  /** Scratch predecessor array reused by every insert. */
  readonly #update: Node[] = new Array<Node>(MAX_LEVEL);
  #level = 1;
  #last: Node | null = null;
  #frozen = false;
  #entryCount = 0;
  #bytes = 0;
  #minSeqno: number | undefined = undefined;
  #maxSeqno: number | undefined = undefined;

  /** Number of versions (not distinct keys). */
  get entryCount(): number {
    return this.#entryCount;
  }

  /** Key bytes (once per distinct key) + value bytes + a fixed overhead per version and per key. */
  get approximateBytes(): number {
    return this.#bytes;
  }

  get minSeqno(): number | undefined {
    return this.#minSeqno;
  }

  get maxSeqno(): number | undefined {
    return this.#maxSeqno;
  }

  get frozen(): boolean {
    return this.#frozen;
  }

  /** Makes the memtable immutable: later inserts throw CAIRN_CLOSED. */
  freeze(): void {
    this.#frozen = true;
  }

  /**
   * Adds a version. The key and value buffers are kept by reference, not copied: the
   * caller must not mutate them afterwards. Inserting the same (key, seqno) twice keeps
   * the later one.
   */
  insert(key: Buffer, seqno: number, kind: EntryKind, value: Buffer): void {
    if (this.#frozen) throw new CairnError(ErrorCodes.CLOSED, 'Memtable is frozen');
    const update = this.#update;
    let x = this.#head;
    let cmp = 1;
    const k0 = keyPrefix(key, 0);
    const k1 = keyPrefix(key, 3);
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && (cmp = compareNode(n, key, k0, k1)) < 0) {
        x = n;
        n = x.next[i];
      }
      update[i] = x;
    }
    const found = x.next[0];
    const entry: Entry = { key, seqno, kind, value };
    if (found !== null && cmp === 0) {
      this.#addVersion(found, entry);
    } else {
      const level = randomLevel();
      if (level > this.#level) {
        for (let i = this.#level; i < level; i++) update[i] = this.#head;
        this.#level = level;
      }
      const node = new Node(key, level);
      for (let i = 0; i < level; i++) {
        node.next[i] = update[i].next[i];
        update[i].next[i] = node;
      }
      node.prev = update[0] === this.#head ? null : update[0];
      if (found === null) this.#last = node;
      else found.prev = node;
      node.versions.push(entry);
      this.#bytes += key.length + NODE_OVERHEAD_BYTES;
      this.#counted(entry);
    }
  }

  /** The newest version of `key` with seqno <= readSeqno (a Delete included), or undefined. */
  get(key: Buffer, readSeqno: number): Entry | undefined {
    const node = this.#findGreaterOrEqual(key);
    if (node === null || compareKeys(node.key, key) !== 0) return undefined;
    const v = node.versions;
    let hi = v.length - 1;
    if (v[hi].seqno <= readSeqno) return v[hi];
    let lo = 0;
    // Largest index whose seqno <= readSeqno, or -1.
    hi--;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (v[mid].seqno <= readSeqno) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 ? v[hi] : undefined;
  }

  /**
   * A synchronous cursor over every version within the bounds: keys ascending (descending
   * with `reverse`), and within a key seqno descending in both directions.
   */
  cursor(options: CursorOptions = {}): MemtableCursor {
    return new MemtableCursor(this, options);
  }

  /** Every version in cursor order; for flushing to a segment. */
  *entries(): IterableIterator<Entry> {
    for (let n = this.#head.next[0]; n !== null; n = n.next[0]) {
      const v = n.versions;
      for (let i = v.length - 1; i >= 0; i--) yield v[i];
    }
  }

  #addVersion(node: Node, entry: Entry): void {
    const v = node.versions;
    let i = v.length;
    while (i > 0 && v[i - 1].seqno > entry.seqno) i--;
    if (i > 0 && v[i - 1].seqno === entry.seqno) {
      this.#bytes += entry.value.length - v[i - 1].value.length;
      v[i - 1] = entry;
      return;
    }
    if (i === v.length) v.push(entry);
    else v.splice(i, 0, entry);
    this.#counted(entry);
  }

  #counted(entry: Entry): void {
    this.#entryCount++;
    this.#bytes += entry.value.length + VERSION_OVERHEAD_BYTES;
    if (this.#minSeqno === undefined || entry.seqno < this.#minSeqno) this.#minSeqno = entry.seqno;
    if (this.#maxSeqno === undefined || entry.seqno > this.#maxSeqno) this.#maxSeqno = entry.seqno;
  }

  /** First node with key >= `key` (strictly > with `strict`). */
  #findGreaterOrEqual(key: Buffer, strict = false): Node | null {
    let x = this.#head;
    const stop = strict ? 0 : -1;
    const k0 = keyPrefix(key, 0);
    const k1 = keyPrefix(key, 3);
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && compareNode(n, key, k0, k1) <= stop) {
        x = n;
        n = x.next[i];
      }
    }
    return x.next[0];
  }

  /** Last node with key <= `key` (strictly < with `strict`). */
  #findLessOrEqual(key: Buffer, strict = false): Node | null {
    let x = this.#head;
    const stop = strict ? 0 : 1;
    const k0 = keyPrefix(key, 0);
    const k1 = keyPrefix(key, 3);
    for (let i = this.#level - 1; i >= 0; i--) {
      let n = x.next[i];
      while (n !== null && compareNode(n, key, k0, k1) < stop) {
        x = n;
        n = x.next[i];
      }
    }
    return x === this.#head ? null : x;
  }

  /** For MemtableCursor: where a cursor starts: the first node in its direction within its near bound. */
  seekStart(o: CursorOptions): Node | null {
    if (o.reverse) {
      if (o.lte !== undefined && o.lt !== undefined) {
        return compareKeys(o.lt, o.lte) <= 0 ? this.#findLessOrEqual(o.lt, true) : this.#findLessOrEqual(o.lte);
      }
      if (o.lt !== undefined) return this.#findLessOrEqual(o.lt, true);
      if (o.lte !== undefined) return this.#findLessOrEqual(o.lte);
      return this.#last;
    }
    if (o.gte !== undefined && o.gt !== undefined) {
      return compareKeys(o.gt, o.gte) >= 0 ? this.#findGreaterOrEqual(o.gt, true) : this.#findGreaterOrEqual(o.gte);
    }
    if (o.gt !== undefined) return this.#findGreaterOrEqual(o.gt, true);
    if (o.gte !== undefined) return this.#findGreaterOrEqual(o.gte);
    return this.#head.next[0];
  }
}

/** See Memtable.cursor. Holds its place by node and seqno, so concurrent inserts cannot make it skip or repeat. */
export class MemtableCursor {
  readonly #table: Memtable;
  readonly #options: CursorOptions;
  #started = false;
  #node: Node | null = null;
  /** Index in #node.versions of the next version to yield (counting down). */
  #index = -1;
  /** Length of #node.versions when #index was computed. */
  #seenLength = 0;
  #lastSeqno = 0;

  constructor(table: Memtable, options: CursorOptions) {
    this.#table = table;
    this.#options = { ...options };
  }

  next(): Entry | undefined {
    let node = this.#node;
    if (node !== null) {
      const v = node.versions;
      if (v.length !== this.#seenLength) {
        // Versions were added to this key since we last looked: find the next one below
        // the seqno we last yielded.
        let i = v.length - 1;
        while (i >= 0 && v[i].seqno >= this.#lastSeqno) i--;
        this.#index = i;
        this.#seenLength = v.length;
      }
      if (this.#index >= 0) return this.#take(node);
      node = this.#options.reverse ? node.prev : node.next[0];
    } else if (!this.#started) {
      this.#started = true;
      node = this.#table.seekStart(this.#options);
    } else {
      return undefined;
    }
    if (node === null || !this.#within(node.key)) {
      this.#node = null;
      return undefined;
    }
    this.#node = node;
    this.#seenLength = node.versions.length;
    this.#index = this.#seenLength - 1;
    return this.#take(node);
  }

  #take(node: Node): Entry {
    const entry = node.versions[this.#index--];
    this.#lastSeqno = entry.seqno;
    return entry;
  }

  /** True when `key` has not passed the far bound (the near bound was applied by the seek). */
  #within(key: Buffer): boolean {
    const o = this.#options;
    if (o.reverse) {
      if (o.gte !== undefined && compareKeys(key, o.gte) < 0) return false;
      if (o.gt !== undefined && compareKeys(key, o.gt) <= 0) return false;
      return true;
    }
    if (o.lte !== undefined && compareKeys(key, o.lte) > 0) return false;
    if (o.lt !== undefined && compareKeys(key, o.lt) >= 0) return false;
    return true;
  }
}

/**
 * Byte order of keys, as Buffer.compare. The first bytes are compared in JavaScript
 * because Buffer.compare is a native call costing several times a short JS loop; keys
 * that share a longer prefix finish natively, comparing the rest in place.
 */
export function compareKeys(a: Buffer, b: Buffer): number {
  const n = a.length < b.length ? a.length : b.length;
  const head = n < 16 ? n : 16;
  for (let i = 0; i < head; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (n > 16) return a.compare(b, 16, b.length, 16, a.length);
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Geometric level with p = 1/4, capped at MAX_LEVEL. */
function randomLevel(): number {
  let level = 1;
  while (level < MAX_LEVEL && Math.random() < 0.25) level++;
  return level;
}
