// An LRU cache of decoded data blocks under a byte budget, keyed by (file number, block
// offset) and shared by every SegmentReader of a keyspace. Main-thread only (not
// thread-safe); every operation is O(1) except evictFile, which is O(blocks of that file).
import type { DataBlock } from './data-block.js';

/** Default budget: 64 MiB. */
export const DEFAULT_BLOCK_CACHE_BYTES = 64 * 1024 * 1024;

/** Approximate per-block bookkeeping (node, map slots, the DataBlock and Buffer objects). */
const ENTRY_OVERHEAD = 160;

export interface BlockCacheStats {
  hits: number;
  misses: number;
  /** Bytes charged by the blocks currently cached. */
  bytes: number;
  blocks: number;
  evictions: number;
  capacity: number;
}

interface Node {
  fileNumber: number;
  offset: number;
  block: DataBlock;
  charge: number;
  newer: Node | undefined;
  older: Node | undefined;
}

export class BlockCache {
  readonly capacity: number;
  private readonly files = new Map<number, Map<number, Node>>();
  /** Most recently used end of the list, and the least recently used end. */
  private newest: Node | undefined;
  private oldest: Node | undefined;
  private bytes = 0;
  private blocks = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(capacityBytes = DEFAULT_BLOCK_CACHE_BYTES) {
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
      throw new RangeError(`capacityBytes must be a non-negative integer, got ${capacityBytes}`);
    }
    this.capacity = capacityBytes;
  }

  /** The cached block, marked most recently used; counts a hit or a miss. */
  get(fileNumber: number, offset: number): DataBlock | undefined {
    const node = this.files.get(fileNumber)?.get(offset);
    if (node === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (node !== this.newest) {
      this.unlink(node);
      this.pushNewest(node);
    }
    return node.block;
  }

  /** Caches a block (replacing one at the same key), then evicts least recently used blocks down to the budget. */
  insert(fileNumber: number, offset: number, block: DataBlock): void {
    const charge = block.size + ENTRY_OVERHEAD;
    // A block larger than the whole budget would only flush everything else out.
    if (charge > this.capacity) return;
    let file = this.files.get(fileNumber);
    if (file === undefined) {
      file = new Map();
      this.files.set(fileNumber, file);
    }
    const existing = file.get(offset);
    if (existing !== undefined) {
      this.unlink(existing);
      this.bytes -= existing.charge;
      this.blocks--;
    }
    const node: Node = { fileNumber, offset, block, charge, newer: undefined, older: undefined };
    file.set(offset, node);
    this.pushNewest(node);
    this.bytes += charge;
    this.blocks++;
    while (this.bytes > this.capacity && this.oldest !== undefined) {
      const victim = this.oldest;
      this.remove(victim, this.files.get(victim.fileNumber));
      this.evictions++;
    }
  }

  /** Drops every block of one file (call when the file is deleted); returns how many. */
  evictFile(fileNumber: number): number {
    const file = this.files.get(fileNumber);
    if (file === undefined) return 0;
    const count = file.size;
    for (const node of file.values()) {
      this.unlink(node);
      this.bytes -= node.charge;
      this.blocks--;
    }
    this.files.delete(fileNumber);
    return count;
  }

  /** Drops everything; the counters of hits, misses and evictions stay. */
  clear(): void {
    this.files.clear();
    this.newest = undefined;
    this.oldest = undefined;
    this.bytes = 0;
    this.blocks = 0;
  }

  get stats(): BlockCacheStats {
    return { hits: this.hits, misses: this.misses, bytes: this.bytes, blocks: this.blocks, evictions: this.evictions, capacity: this.capacity };
  }

  private remove(node: Node, file: Map<number, Node> | undefined): void {
    this.unlink(node);
    this.bytes -= node.charge;
    this.blocks--;
    if (file !== undefined) {
      file.delete(node.offset);
      if (file.size === 0) this.files.delete(node.fileNumber);
    }
  }

  private unlink(node: Node): void {
    if (node.newer === undefined) this.newest = node.older;
    else node.newer.older = node.older;
    if (node.older === undefined) this.oldest = node.newer;
    else node.older.newer = node.newer;
    node.newer = undefined;
    node.older = undefined;
  }

  private pushNewest(node: Node): void {
    node.older = this.newest;
    node.newer = undefined;
    if (this.newest !== undefined) this.newest.newer = node;
    this.newest = node;
    if (this.oldest === undefined) this.oldest = node;
  }
}
