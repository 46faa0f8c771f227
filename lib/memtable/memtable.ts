// The in-memory sorted write buffer: a B+tree of user keys, each key holding its versions.
// Single-threaded (main thread only). Cursors stay valid while inserts continue: key
// records are never removed, and a cursor whose leaf was reshaped re-finds its key by
// descending the tree, then its place in the key's versions by seqno.
import { CairnError, ErrorCodes } from '../errors.js';
import type { Entry, EntryKind } from '../codec/entry.js';
import { RangeTombstones } from '../codec/range-tombstones.js';

/*
 * Why a B+tree and not a skip list: both give O(log n) insert and seek and ordered
 * iteration both ways, but a skip-list search chases ~35 pointers through scattered heap
 * objects at a million keys (one cache miss each, ~13 µs measured), while a B+tree of
 * fanout 64 visits ~4 nodes and binary-searches a packed array of key prefixes in each.
 * The prefixes are taken past the bytes every key of the node shares: real keys share
 * long prefixes (zero-padded counters, "user:" namespaces), and a prefix from byte 0
 * would then tie everywhere and send every comparison to the key bytes, a chain of
 * cache misses per probe (a 1M-key insert went from ~29 µs to ~3 µs). The price is that
 * leaf splits move keys, so cursors track a structure counter and re-seek by key after
 * a split (cheap, and only when the tree changed shape).
 */
const MAX_ITEMS = 64;
/** Key bytes past a node's shared prefix held in its packed array (6 bytes fit a double exactly). */
const PREFIX_BYTES = 6;
/** Roughly what one version costs beyond its value bytes (Version object, array slot). */
export const VERSION_OVERHEAD_BYTES = 48;
/** Roughly what one distinct key costs beyond its bytes (key record, versions array, tree slot). */
export const KEY_OVERHEAD_BYTES = 64;

/**
 * One version of a key. The value is kept as a range of the memory it arrived in (the
 * write's journal record), not as a Buffer view: a view costs more heap than a 100-byte
 * value, for every version held. Entries handed to readers are made on demand.
 */
interface Version {
  readonly seqno: number;
  readonly kind: EntryKind;
  readonly bytes: ArrayBufferLike;
  readonly offset: number;
  readonly length: number;
}

function versionOf(seqno: number, kind: EntryKind, value: Buffer): Version {
  return { seqno, kind, bytes: value.buffer, offset: value.byteOffset, length: value.length };
}

/** The Entry a reader gets for a version of `key`. */
function entryOf(key: Buffer, v: Version): Entry {
  return { key, seqno: v.seqno, kind: v.kind, value: Buffer.from(v.bytes, v.offset, v.length) };
}

/** One distinct key and its versions, sorted by seqno ascending (the usual insert is a push). */
class KeyRecord {
  readonly versions: Version[];

  constructor(
    readonly key: Buffer,
    first: Version,
  ) {
    // A literal holds exactly one slot; `[]` then push() would reserve 17 (~150 bytes per
    // key, which every young-generation GC copies while the memtable fills).
    this.versions = [first];
  }
}

/**
 * A tree node. In a leaf, `items` are the keys in order. In an inner node, for i > 0,
 * `items[i]` is a key <= every key under `children[i]` and > every key under children[i-1];
 * items[0] only fills the slot (see lowerBound).
 * Every compared item (all of a leaf's, an inner node's from index 1) starts with the same
 * `skip` bytes; `prefixes[i]` holds the next PREFIX_BYTES of items[i].key as one integer,
 * so a binary search reads one small array and touches key bytes only on a tie.
 */
class TreeNode {
  items: KeyRecord[];
  skip = 0;
  /** The shared `skip` bytes as a latin1 string: inside the heap, one hop from the node. */
  shared = '';
  /**
   * A plain array of doubles (unboxed, one hop from the node); a Float64Array would add a
   * hop to its off-heap backing store on every search. Fixed length MAX_ITEMS + 1.
   */
  readonly prefixes: number[] = packedDoubles(MAX_ITEMS + 1);
  children: TreeNode[] | null;
  next: TreeNode | null = null;
  prev: TreeNode | null = null;

  constructor(items: KeyRecord[], children: TreeNode[] | null) {
    this.items = items;
    this.children = children;
    refreshPrefixes(this);
  }
}

/** An array of `length` doubles: pushing a fraction first makes V8 store them unboxed. */
function packedDoubles(length: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < length; i++) a.push(0.5);
  return a;
}

export interface CursorOptions {
  gte?: Buffer;
  gt?: Buffer;
  lte?: Buffer;
  lt?: Buffer;
  reverse?: boolean;
}

/** Where a search ended: a leaf, the number of its items < the key, and whether the next one equals it. */
interface Position {
  leaf: TreeNode;
  index: number;
  exact: boolean;
}

export class Memtable {
  #root: TreeNode = new TreeNode([], null);
  /** The leftmost and rightmost leaves; splits keep the left half in place, so the first never changes. */
  readonly #first: TreeNode = this.#root;
  #last: TreeNode = this.#root;
  /** Bumped whenever keys move between or within leaves (a new key or a split). */
  #shape = 0;
  /** Scratch path for inserts: nodes and child indexes from the root down. */
  readonly #pathNodes: TreeNode[] = [];
  readonly #pathIndexes: number[] = [];
  #frozen = false;
  #entryCount = 0;
  #bytes = 0;
  #keyCount = 0;
  /** Key bytes (once per distinct key) plus value bytes of every version. */
  #dataBytes = 0;
  #minSeqno: number | undefined = undefined;
  #maxSeqno: number | undefined = undefined;
  /** Range deletes, kept apart from the point entries (readers check them; a flush carries them). */
  readonly rangeTombstones = new RangeTombstones();

  /** Number of versions (not distinct keys). */
  get entryCount(): number {
    return this.#entryCount;
  }

  /** Distinct keys. */
  get keyCount(): number {
    return this.#keyCount;
  }

  /** Key bytes (once per distinct key) plus value bytes of every version: bounds what a flush packs. */
  get dataBytes(): number {
    return this.#dataBytes;
  }

  /** Key bytes (once per distinct key) + value bytes + a fixed overhead per key and per version. */
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

  /** True when it holds neither entries nor range tombstones. */
  get isEmpty(): boolean {
    return this.#entryCount === 0 && this.rangeTombstones.tombstoneCount === 0;
  }

  /**
   * Records the range delete [start, end) (end null: unbounded) at `seqno`. Costs the
   * fragments it overlaps, not the keys it covers. Buffers are kept by reference.
   */
  deleteRange(start: Buffer, end: Buffer | null, seqno: number): void {
    if (this.#frozen) throw new CairnError(ErrorCodes.CLOSED, 'Memtable is frozen');
    this.rangeTombstones.add(start, end, seqno);
    this.#bytes += start.length + (end?.length ?? 0) + VERSION_OVERHEAD_BYTES;
    this.#seen(seqno);
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
    const nodes = this.#pathNodes;
    const indexes = this.#pathIndexes;
    let depth = 0;
    let node = this.#root;
    while (node.children !== null) {
      const lb = lowerBound(node, key, 1);
      const child = lastExact ? lb : lb - 1;
      nodes[depth] = node;
      indexes[depth] = child;
      depth++;
      node = node.children[child];
    }
    const at = lowerBound(node, key, 0);
    const version = versionOf(seqno, kind, value);
    if (lastExact) {
      this.#addVersion(node.items[at], version);
      return;
    }
    const record = new KeyRecord(key, version);
    insertItem(node, at, record);
    this.#shape++;
    this.#bytes += key.length + KEY_OVERHEAD_BYTES;
    this.#keyCount++;
    this.#dataBytes += key.length;
    this.#counted(version);
    // Split upwards while a node overflows.
    while (node.items.length > MAX_ITEMS) {
      const right = split(node);
      if (node.children === null) {
        right.next = node.next;
        right.prev = node;
        if (node.next !== null) node.next.prev = right;
        else this.#last = right;
        node.next = right;
      }
      if (depth === 0) {
        this.#root = new TreeNode([node.items[0], right.items[0]], [node, right]);
        break;
      }
      depth--;
      const parent = nodes[depth];
      const slot = indexes[depth] + 1;
      (parent.children as TreeNode[]).splice(slot, 0, right);
      insertItem(parent, slot, right.items[0]);
      node = parent;
    }
  }

  /** The newest version of `key` with seqno <= readSeqno (a Delete included), or undefined. */
  get(key: Buffer, readSeqno: number): Entry | undefined {
    const leaf = descend(this.#root, key);
    if (!lastExact) return undefined;
    const record = leaf.items[lastIndex];
    const v = record.versions;
    let hi = v.length - 1;
    if (v[hi].seqno <= readSeqno) return entryOf(record.key, v[hi]);
    // Largest index whose seqno <= readSeqno, or -1.
    let lo = 0;
    hi--;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (v[mid].seqno <= readSeqno) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 ? entryOf(record.key, v[hi]) : undefined;
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
    for (let leaf: TreeNode | null = this.#first; leaf !== null; leaf = leaf.next) {
      const items = leaf.items;
      for (let i = 0; i < items.length; i++) {
        const v = items[i].versions;
        for (let j = v.length - 1; j >= 0; j--) yield entryOf(items[i].key, v[j]);
      }
    }
  }

  /**
   * The newest version of each key, keys ascending: what a flush writes (older versions
   * are shadowed for every reader of the version the flush installs). Needs no key
   * comparisons, unlike filtering entries().
   */
  *newestEntries(): IterableIterator<Entry> {
    for (let leaf: TreeNode | null = this.#first; leaf !== null; leaf = leaf.next) {
      const items = leaf.items;
      for (let i = 0; i < items.length; i++) {
        const v = items[i].versions;
        yield entryOf(items[i].key, v[v.length - 1]);
      }
    }
  }

  /** For MemtableCursor: the structure counter. */
  get shape(): number {
    return this.#shape;
  }

  /** For MemtableCursor: the leaf position of `key` (a fresh object). */
  seek(key: Buffer): Position {
    const leaf = descend(this.#root, key);
    return { leaf, index: lastIndex, exact: lastExact };
  }

  /** For MemtableCursor: the first or last leaf. */
  edge(last: boolean): TreeNode {
    return last ? this.#last : this.#first;
  }

  #addVersion(record: KeyRecord, version: Version): void {
    const v = record.versions;
    let i = v.length;
    while (i > 0 && v[i - 1].seqno > version.seqno) i--;
    if (i > 0 && v[i - 1].seqno === version.seqno) {
      this.#bytes += version.length - v[i - 1].length;
      this.#dataBytes += version.length - v[i - 1].length;
      v[i - 1] = version;
      return;
    }
    if (i === v.length) v.push(version);
    else v.splice(i, 0, version);
    this.#counted(version);
  }

  #counted(version: Version): void {
    this.#entryCount++;
    this.#bytes += version.length + VERSION_OVERHEAD_BYTES;
    this.#dataBytes += version.length;
    this.#seen(version.seqno);
  }

  #seen(seqno: number): void {
    if (this.#minSeqno === undefined || seqno < this.#minSeqno) this.#minSeqno = seqno;
    if (this.#maxSeqno === undefined || seqno > this.#maxSeqno) this.#maxSeqno = seqno;
  }
}

/**
 * See Memtable.cursor. Holds its place by key record and seqno; when the tree changed
 * shape since it last looked, it re-finds its key record's leaf slot by key, so inserts
 * and splits can neither make it skip nor repeat.
 */
export class MemtableCursor {
  readonly #table: Memtable;
  readonly #options: CursorOptions;
  readonly #reverse: boolean;
  #started = false;
  #done = false;
  #leaf: TreeNode | null = null;
  #index = 0;
  #record: KeyRecord | null = null;
  #shape = 0;
  /** Index in #record.versions of the next version to yield (counting down). */
  #version = -1;
  /** Length of #record.versions when #version was computed. */
  #seenLength = 0;
  #lastSeqno = 0;

  constructor(table: Memtable, options: CursorOptions) {
    this.#table = table;
    this.#options = { ...options };
    this.#reverse = options.reverse === true;
  }

  next(): Entry | undefined {
    if (this.#done) return undefined;
    const record = this.#record;
    if (record !== null) {
      const v = record.versions;
      if (v.length !== this.#seenLength) {
        // Versions were added to this key since we last looked: continue below the seqno
        // we last yielded.
        let i = v.length - 1;
        while (i >= 0 && v[i].seqno >= this.#lastSeqno) i--;
        this.#version = i;
        this.#seenLength = v.length;
      }
      if (this.#version >= 0) return this.#take(record);
      if (this.#table.shape !== this.#shape) {
        const pos = this.#table.seek(record.key);
        this.#leaf = pos.leaf;
        this.#index = pos.index;
        this.#shape = this.#table.shape;
      }
      this.#step();
    } else if (!this.#started) {
      this.#started = true;
      this.#seekStart();
    }
    const leaf = this.#leaf;
    if (leaf === null || !this.#within(leaf.items[this.#index].key)) {
      this.#done = true;
      this.#record = null;
      this.#leaf = null;
      return undefined;
    }
    const next = leaf.items[this.#index];
    this.#record = next;
    this.#seenLength = next.versions.length;
    this.#version = this.#seenLength - 1;
    return this.#take(next);
  }

  #take(record: KeyRecord): Entry {
    const version = record.versions[this.#version--];
    this.#lastSeqno = version.seqno;
    return entryOf(record.key, version);
  }

  /** Moves (#leaf, #index) one key in the cursor's direction; #leaf null at the end. */
  #step(): void {
    let leaf = this.#leaf as TreeNode | null;
    let index = this.#index + (this.#reverse ? -1 : 1);
    while (leaf !== null && (index < 0 || index >= leaf.items.length)) {
      if (this.#reverse) {
        leaf = leaf.prev;
        if (leaf !== null) index = leaf.items.length - 1;
      } else {
        leaf = leaf.next;
        index = 0;
      }
    }
    this.#leaf = leaf;
    this.#index = index;
  }

  /** Positions on the first key in the cursor's direction within its near bound. */
  #seekStart(): void {
    const o = this.#options;
    const table = this.#table;
    this.#shape = table.shape;
    let bound: Buffer | undefined;
    let strict = false;
    if (this.#reverse) {
      if (o.lt !== undefined && (o.lte === undefined || compareKeys(o.lt, o.lte) <= 0)) {
        bound = o.lt;
        strict = true;
      } else {
        bound = o.lte;
      }
    } else if (o.gt !== undefined && (o.gte === undefined || compareKeys(o.gt, o.gte) >= 0)) {
      bound = o.gt;
      strict = true;
    } else {
      bound = o.gte;
    }
    if (bound === undefined) {
      const leaf = table.edge(this.#reverse);
      this.#leaf = leaf;
      this.#index = this.#reverse ? leaf.items.length : -1;
      this.#step();
      return;
    }
    const pos = table.seek(bound);
    this.#leaf = pos.leaf;
    // Place the cursor just before its first key, then step onto it.
    if (this.#reverse) this.#index = pos.exact && !strict ? pos.index + 1 : pos.index;
    else this.#index = pos.exact && strict ? pos.index : pos.index - 1;
    this.#step();
  }

  /** True when `key` has not passed the far bound (the near bound was applied by the seek). */
  #within(key: Buffer): boolean {
    const o = this.#options;
    if (this.#reverse) {
      if (o.gte !== undefined && compareKeys(key, o.gte) < 0) return false;
      if (o.gt !== undefined && compareKeys(key, o.gt) <= 0) return false;
      return true;
    }
    if (o.lte !== undefined && compareKeys(key, o.lte) > 0) return false;
    if (o.lt !== undefined && compareKeys(key, o.lt) >= 0) return false;
    return true;
  }
}

/** Set by lowerBound and descend: whether items[result] equals the key searched for. */
let lastExact = false;
/** Set by descend: the key's lower-bound index in the leaf it returns. */
let lastIndex = 0;

/** The leaf where `key` is or would be; sets lastIndex and lastExact. */
function descend(root: TreeNode, key: Buffer): TreeNode {
  let node = root;
  while (node.children !== null) {
    const lb = lowerBound(node, key, 1);
    node = node.children[lastExact ? lb : lb - 1];
  }
  lastIndex = lowerBound(node, key, 0);
  return node;
}

/**
 * The first index >= `from` whose item is >= `key`; sets lastExact. Inner nodes search
 * from 1: their items[0] is never compared, since it is not updated when smaller keys
 * arrive under children[0] and may exceed later separators.
 */
function lowerBound(node: TreeNode, key: Buffer, from: number): number {
  const items = node.items;
  const n = items.length;
  lastExact = false;
  if (from >= n) return from;
  // The node's shared prefix decides alone unless the key has it too.
  const skip = node.skip;
  if (skip > 0) {
    const shared = node.shared;
    const len = key.length;
    for (let i = 0; i < skip; i++) {
      if (i === len) return from;
      const d = key[i] - shared.charCodeAt(i);
      if (d !== 0) return d < 0 ? from : n;
    }
  }
  const kp = keyPrefix(key, skip);
  const prefixes = node.prefixes;
  let lo = from;
  let hi = n;
  let exact = false;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const p = prefixes[mid];
    const c = p < kp ? -1 : p > kp ? 1 : compareKeysFrom(items[mid].key, key, skip);
    if (c < 0) lo = mid + 1;
    else {
      hi = mid;
      exact = c === 0;
    }
  }
  lastExact = exact && lo < n;
  return lo;
}

/** Puts `record` at `at`, keeping the node's shared prefix and packed prefixes exact. */
function insertItem(node: TreeNode, at: number, record: KeyRecord): void {
  const items = node.items;
  items.splice(at, 0, record);
  const n = items.length;
  const from = node.children === null ? 0 : 1;
  // A key inside the node's range has its shared prefix; only a new first or last may shorten it.
  if (n - from > 1 && (at === from || at === n - 1) && commonPrefixLength(items[from].key, items[n - 1].key) < node.skip) {
    refreshPrefixes(node);
    return;
  }
  if (n - from === 1 && at >= from) {
    refreshPrefixes(node);
    return;
  }
  const prefixes = node.prefixes;
  for (let i = n - 1; i > at; i--) prefixes[i] = prefixes[i - 1];
  prefixes[at] = keyPrefix(record.key, node.skip);
}

/** Recomputes a node's shared prefix length and every packed prefix. */
function refreshPrefixes(node: TreeNode): void {
  const items = node.items;
  const n = items.length;
  const from = node.children === null ? 0 : 1;
  const skip = n - from > 0 ? commonPrefixLength(items[from].key, items[n - 1].key) : 0;
  node.skip = skip;
  node.shared = skip > 0 ? items[from].key.toString('latin1', 0, skip) : '';
  const prefixes = node.prefixes;
  for (let i = 0; i < n; i++) prefixes[i] = i < from ? 0 : keyPrefix(items[i].key, skip);
}

/** Moves the upper half of an overflowing node into a new right sibling; both get fresh prefixes. */
function split(node: TreeNode): TreeNode {
  const half = node.items.length >>> 1;
  const right = new TreeNode(node.items.slice(half), node.children === null ? null : node.children.slice(half));
  node.items.length = half;
  if (node.children !== null) node.children.length = half;
  refreshPrefixes(node);
  return right;
}

/** Length of the longest common prefix of two keys. */
function commonPrefixLength(a: Buffer, b: Buffer): number {
  const n = a.length < b.length ? a.length : b.length;
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * PREFIX_BYTES key bytes from `at` as one integer below 2^48 (missing bytes count as 0).
 * Keys whose prefixes differ are ordered as their prefixes; equal prefixes need the full compare.
 */
function keyPrefix(key: Buffer, at: number): number {
  const len = key.length;
  if (at + PREFIX_BYTES <= len) {
    return ((key[at] << 16) | (key[at + 1] << 8) | key[at + 2]) * 0x1000000 + ((key[at + 3] << 16) | (key[at + 4] << 8) | key[at + 5]);
  }
  let p = 0;
  for (let i = at; i < at + PREFIX_BYTES; i++) p = p * 256 + (i < len ? key[i] : 0);
  return p;
}

/** compareKeys for two keys known to share their first `from` bytes (both at least that long). */
function compareKeysFrom(a: Buffer, b: Buffer, from: number): number {
  const n = a.length < b.length ? a.length : b.length;
  const head = n < from + 16 ? n : from + 16;
  for (let i = from; i < head; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (n > head) return a.compare(b, head, b.length, head, a.length);
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
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
