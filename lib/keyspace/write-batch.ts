// A WriteBatch: puts and deletes across partitions of one keyspace, committed as one
// journal record so they become visible and durable all together or not at all.
// Not reusable after commit. Made only by the keyspace (newWriteBatch). Main-thread only.
import { CairnError, ErrorCodes } from '../errors.js';
import { EntryKind } from '../codec/entry.js';
import { type Bytes, type KeyBounds, checkKey, checkValue, toDeletionRange } from './arguments.js';
import { JournalOpKind, RecordBuilder } from '../journal/record.js';
import type { Tree } from '../tree/tree.js';
import type { Keyspace } from './keyspace.js';
import type { WriteOptions } from './options.js';
import { Partition, partitionTree } from './partition.js';
import type { WritePath } from './write-path.js';

/** Only this module can construct a WriteBatch; the keyspace goes through newWriteBatch. */
const CONSTRUCT = Symbol('WriteBatch');

let create: (keyspace: Keyspace, writes: WritePath) => WriteBatch;

/**
 * Puts and deletes across partitions of one keyspace, applied atomically by `commit()`:
 * all visible together, all durable together. Get one from `keyspace.batch()`. Methods
 * chain (`ks.batch().put(p, k, v).delete(q, k2).commit()`); ops apply in call order, so
 * the last op on a key wins.
 */
export class WriteBatch {
  readonly #keyspace: Keyspace;
  readonly #writes: WritePath;
  /** The ops, encoded as they come into the journal record the commit appends. */
  #record = new RecordBuilder(4096);
  /** The tree of each op. */
  #trees: Tree[] = [];
  #committed = false;

  private constructor(token: symbol, keyspace: Keyspace, writes: WritePath) {
    if (token !== CONSTRUCT) throw new TypeError('Batches are made with keyspace.batch()');
    this.#keyspace = keyspace;
    this.#writes = writes;
  }

  static {
    create = (keyspace, writes) => new WriteBatch(CONSTRUCT, keyspace, writes);
  }

  /** Number of operations queued. */
  get length(): number {
    return this.#trees.length;
  }

  /**
   * Queues `partition.put(key, value)`; the bytes are copied now.
   * @returns This batch.
   * @throws TypeError when `partition` is not a Partition of this keyspace, or for a key or
   *   value that is not a string or Uint8Array; RangeError for one over its limit (64 KiB
   *   keys, 256 MiB values).
   * @throws CairnError CAIRN_CLOSED when the batch was committed or the keyspace closed;
   *   CAIRN_NOT_FOUND when the partition was deleted.
   */
  put(partition: Partition, key: Bytes, value: Bytes): this {
    const tree = this.#treeOf(partition);
    checkKey(key);
    checkValue(value);
    this.#record.add(EntryKind.Put, tree.id, key, value);
    this.#trees.push(tree);
    return this;
  }

  /** Queues `partition.delete(key)`. Throws as {@link WriteBatch.put}. */
  delete(partition: Partition, key: Bytes): this {
    const tree = this.#treeOf(partition);
    checkKey(key);
    this.#record.add(EntryKind.Delete, tree.id, key, undefined);
    this.#trees.push(tree);
    return this;
  }

  /**
   * Two operations under one name, told apart by the first argument:
   * - `clear()`: drops every queued operation; the batch stays usable (abstract-level's
   *   `batch.clear()`).
   * - `clear(partition, range?)`: queues `partition.clear(range)`, a range delete (all
   *   keys of the partition without a range) atomic with the rest of the batch and
   *   ordered with it: a put queued after it survives, one queued before it does not.
   *   An empty range queues nothing.
   * @throws CairnError CAIRN_CLOSED when the batch was already committed; as
   *   {@link WriteBatch.put} for the partition; TypeError / RangeError naming a bad
   *   range option.
   */
  clear(): this;
  clear(partition: Partition, range?: KeyBounds): this;
  clear(partition?: Partition, range?: KeyBounds): this {
    if (arguments.length === 0) {
      this.#checkFresh();
      this.#record = new RecordBuilder(4096);
      this.#trees = [];
      return this;
    }
    const tree = this.#treeOf(partition as Partition);
    const bounds = toDeletionRange(range);
    if (bounds !== undefined) {
      this.#record.add(JournalOpKind.RangeDelete, tree.id, bounds.start, bounds.end);
      this.#trees.push(tree);
    }
    return this;
  }

  /**
   * Writes every queued operation as one journal record. Resolves once it is in the
   * journal (per `options.durability`) and visible; an empty batch resolves at once.
   * A batch commits once; later calls reject.
   * @throws CairnError CAIRN_CLOSED when already committed or the keyspace closed;
   *   CAIRN_POISONED; a failed journal write rejects with its operating-system error
   *   (nothing of the batch is applied). TypeError for a bad durability.
   */
  async commit(options?: WriteOptions): Promise<void> {
    this.#checkFresh();
    this.#committed = true;
    if (this.#trees.length === 0) return;
    await this.#writes.write({ record: this.#record, trees: this.#trees }, options);
  }

  #treeOf(partition: Partition) {
    this.#checkFresh();
    if (!(partition instanceof Partition)) throw new TypeError('partition must be a Partition of this keyspace');
    return partitionTree(partition, this.#keyspace);
  }

  #checkFresh(): void {
    if (this.#committed) throw new CairnError(ErrorCodes.CLOSED, 'The batch was already committed');
  }
}

/** @internal An empty batch whose commit writes through `writes`. */
export function newWriteBatch(keyspace: Keyspace, writes: WritePath): WriteBatch {
  return create(keyspace, writes);
}
