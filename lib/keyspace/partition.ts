// A Partition: the public handle of one LSM tree inside a keyspace. Validates arguments,
// then delegates: writes to the keyspace's write path (shared journal), reads to the tree.
// Handles are made only by the keyspace (newPartition), one per partition name.
// Main-thread only.
import { CairnError, ErrorCodes } from '../errors.js';
import { type Entry, EntryKind } from '../codec/entry.js';
import { Tree } from '../tree/tree.js';
import { type Bytes, type KeyBounds, RANGE_OPTIONS, type RangeOptions, byteLength, checkKey, checkValue, describe, toBounds, toDeletionRange, optionNames, optionsObject, toKeyView, toRange } from './arguments.js';
import { JournalOpKind, RecordBuilder } from '../journal/record.js';
import type { Keyspace } from './keyspace.js';
import type { KeyspaceState } from './keyspace-state.js';
import type { WriteOptions } from './options.js';
import type { WritePath } from './write-path.js';
import { EntryIterator, type IteratorShape } from './entry-iterator.js';
import { type Snapshot, snapshotView } from './snapshot.js';


/** Options of `get` and `has`. */
export interface ReadOptions {
  /** Read as of this snapshot (of the same keyspace) instead of the newest data. */
  snapshot?: Snapshot;
}

/**
 * What `entries`, `keys` and `values` return: an async iterator that can also be disposed
 * (`await using it = p.entries()` or `using`), which ends it and lets go of its files as
 * leaving a `for await` loop does.
 */
export interface PartitionIterator<T> extends AsyncIterableIterator<T>, AsyncDisposable, Disposable {
  /** Ends the iteration and releases its view; idempotent. */
  close(): void;
}

/** Options of `entries`, `keys` and `values`: a key range, its direction and limit, and a snapshot. */
export interface IteratorOptions extends RangeOptions, ReadOptions {}

/** @internal What a partition handle uses of its keyspace besides its tree. */
export interface PartitionContext {
  readonly keyspace: Keyspace;
  readonly writes: WritePath;
  readonly state: KeyspaceState;
}

/** Only this module can construct a Partition; the keyspace goes through newPartition. */
const CONSTRUCT = Symbol('Partition');

let internals: {
  create(context: PartitionContext, tree: Tree): Partition;
  treeFor(partition: Partition, keyspace: Keyspace): Tree;
  markDeleted(partition: Partition): void;
};

const READ_OPTIONS = optionNames<ReadOptions>({ snapshot: true });
const ITERATOR_OPTIONS = [...RANGE_OPTIONS, ...READ_OPTIONS];

/**
 * One partition of a keyspace: a sorted map from byte keys to byte values, with its own
 * LSM tree. Get it from `keyspace.partition(name)`. Keys and values are strings (stored
 * as UTF-8) or Uint8Arrays; they come back as Buffers.
 */
export class Partition {
  readonly #keyspace: Keyspace;
  readonly #writes: WritePath;
  readonly #state: KeyspaceState;
  readonly #tree: Tree;
  #deleted = false;

  private constructor(token: symbol, context: PartitionContext, tree: Tree) {
    if (token !== CONSTRUCT) throw new TypeError('Partitions are opened with keyspace.partition(name)');
    this.#keyspace = context.keyspace;
    this.#writes = context.writes;
    this.#state = context.state;
    this.#tree = tree;
  }

  static {
    internals = {
      create: (context, tree) => new Partition(CONSTRUCT, context, tree),
      treeFor: (partition, keyspace) => partition.#treeFor(keyspace),
      markDeleted: (partition) => {
        partition.#deleted = true;
      },
    };
  }

  /** The partition's name. */
  get name(): string {
    return this.#tree.name;
  }

  /** The keyspace this partition belongs to. */
  get keyspace(): Keyspace {
    return this.#keyspace;
  }

  // put/delete/get/has are plain functions returning promises (argument errors become
  // rejections): an async wrapper would add a promise to every call on the hot path.

  /**
   * Sets `key` to `value`. The bytes are copied at the call.
   *
   * @param key - At most 64 KiB; the empty key is allowed.
   * @param value - At most 256 MiB.
   * @param options - `durability` of this write (default: the keyspace's).
   * @returns Resolves once the write is in the journal (see {@link WriteOptions}) and
   *   visible to reads. Writes resolve in the order they were made.
   * @throws TypeError for a key or value that is not a string or Uint8Array, or a bad
   *   durability; RangeError for a key or value over its limit.
   * @throws CairnError CAIRN_CLOSED after keyspace.close(); CAIRN_NOT_FOUND when the
   *   partition was deleted; CAIRN_POISONED when an earlier write failed to reach the
   *   disk (reopen the keyspace). A failed journal write (ENOSPC, EIO…) rejects with its
   *   operating-system error and the write is not applied; a failed fdatasync poisons.
   *   All of these are rejections: this method never throws synchronously.
   */
  put(key: Bytes, value: Bytes, options?: WriteOptions): Promise<void> {
    try {
      checkKey(key);
      checkValue(value);
      this.#checkUsable();
      const record = new RecordBuilder(byteLength(key) + byteLength(value));
      record.add(EntryKind.Put, this.#tree.id, key, value);
      return this.#writes.write({ record, trees: [this.#tree] }, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Removes `key` (a tombstone; deleting a missing key is not an error). Resolves,
   * orders and rejects exactly as {@link Partition.put}, without the value checks.
   */
  delete(key: Bytes, options?: WriteOptions): Promise<void> {
    try {
      checkKey(key);
      this.#checkUsable();
      const record = new RecordBuilder(byteLength(key));
      record.add(EntryKind.Delete, this.#tree.id, key, undefined);
      return this.#writes.write({ record, trees: [this.#tree] }, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Deletes every key in the range (all keys without one) with a single range tombstone:
   * the cost is the same whatever the range holds (RocksDB's DeleteRange). Reads,
   * iterators and snapshots taken afterwards no longer see those keys; a write after
   * the clear is visible again; compaction reclaims the space. Resolves, orders and
   * rejects as {@link Partition.put}; an empty range writes nothing.
   *
   * @param range - `gt`/`gte` and `lt`/`lte` bounds (keys as in put); no other options.
   * @throws TypeError for a bound that is not a string or Uint8Array; RangeError for an
   *   unknown option or a bound over the key limit. Thrown as rejections, before any I/O.
   */
  clear(range?: KeyBounds, options?: WriteOptions): Promise<void> {
    try {
      const bounds = toDeletionRange(range);
      this.#checkUsable();
      if (bounds === undefined) return Promise.resolve();
      const record = new RecordBuilder(bounds.start.length + bounds.end.length);
      record.add(JournalOpKind.RangeDelete, this.#tree.id, bounds.start, bounds.end);
      return this.#writes.write({ record, trees: [this.#tree] }, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The value of `key`: the newest write, or as of `options.snapshot`.
   *
   * @returns A Buffer of its own (safe to keep or modify), or undefined when the key is
   *   absent or deleted.
   * @throws TypeError for a key that is not a string or Uint8Array, or a snapshot of
   *   another keyspace.
   * @throws CairnError CAIRN_CLOSED; CAIRN_NOT_FOUND when the partition was deleted;
   *   CAIRN_RELEASED when the snapshot was released; CAIRN_CORRUPTION when a segment block
   *   fails its checksum. Read failures keep Node's codes (EIO…). All are rejections.
   */
  get(key: Bytes, options?: ReadOptions): Promise<Buffer | undefined> {
    try {
      const e = this.#lookup(toKeyView(key), options);
      return Promise.resolve(e === undefined || e.kind === EntryKind.Delete ? undefined : Buffer.from(e.value));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The values of several keys, read from one consistent view (the newest data, or
   * `options.snapshot`): `result[i]` is what `get(keys[i])` would resolve, all as of the
   * same seqno. Each a Buffer of its own, or undefined.
   *
   * @throws TypeError when `keys` is not an array or holds a key that is not a string or
   *   Uint8Array; otherwise rejects as {@link Partition.get}.
   */
  getMany(keys: readonly Bytes[], options?: ReadOptions): Promise<(Buffer | undefined)[]> {
    try {
      if (!Array.isArray(keys)) throw new TypeError(`keys must be an array (got ${describe(keys)})`);
      const views = keys.map((key) => toKeyView(key));
      const read = this.#reader(options);
      return Promise.resolve(
        views.map((key) => {
          const e = read(key);
          return e === undefined || e.kind === EntryKind.Delete ? undefined : Buffer.from(e.value);
        }),
      );
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Whether `key` has a value (newest, or as of `options.snapshot`). Rejects as {@link Partition.get}. */
  has(key: Bytes, options?: ReadOptions): Promise<boolean> {
    try {
      const e = this.#lookup(toKeyView(key), options);
      return Promise.resolve(e !== undefined && e.kind === EntryKind.Put);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * `[key, value]` pairs in byte order of the keys (descending with `reverse`), within
   * the range of `gt`/`gte`/`lt`/`lte`, at most `limit` of them. The iterator reads one
   * consistent view: the data as of this call (or as of `options.snapshot`); later
   * writes do not show. It holds that view's files until it ends: iterate to the end,
   * or leave the loop (`break` calls its `return()`).
   *
   * @throws TypeError / RangeError for invalid options (a bound that is not a key, a
   *   negative limit), at the call.
   * @throws CairnError at the call: CAIRN_CLOSED; CAIRN_NOT_FOUND (partition deleted);
   *   CAIRN_RELEASED (snapshot released). While iterating: CAIRN_CORRUPTION when a block
   *   fails its checksum, or a read's operating-system error.
   */
  entries(options?: IteratorOptions): PartitionIterator<[Buffer, Buffer]> {
    return this.#iterate(options, 'entries') as PartitionIterator<[Buffer, Buffer]>;
  }

  /** The keys {@link Partition.entries} would yield with the same options; throws as it does. */
  keys(options?: IteratorOptions): PartitionIterator<Buffer> {
    return this.#iterate(options, 'keys') as PartitionIterator<Buffer>;
  }

  /** The values {@link Partition.entries} would yield with the same options, in key order; throws as it does. */
  values(options?: IteratorOptions): PartitionIterator<Buffer> {
    return this.#iterate(options, 'values') as PartitionIterator<Buffer>;
  }

  /**
   * Bytes on disk of the keys within `range` (every key without one): the segment data
   * blocks that may hold them, from the segments' indexes; no data is read. Block-grained
   * (a block holding one key of the range counts whole) and blind to memtables, to
   * shadowed versions and to tombstones: an estimate for sizing and for choosing what to
   * compact, as RocksDB's GetApproximateSizes.
   *
   * @throws TypeError / RangeError for a bound that is not a key or an unknown option.
   * @throws CairnError CAIRN_CLOSED; CAIRN_NOT_FOUND when the partition was deleted.
   */
  approximateSize(range?: KeyBounds): number {
    const bounds = toBounds(range);
    this.#checkUsable();
    return this.#tree.approximateBytes(bounds);
  }

  #iterate(input: unknown, shape: IteratorShape): EntryIterator {
    const options = optionsObject<IteratorOptions>(input, 'options', ITERATOR_OPTIONS);
    const { range, limit } = toRange(options);
    this.#checkUsable();
    const snapshot = options.snapshot;
    if (snapshot !== undefined) {
      const view = snapshotView(snapshot, this.#keyspace, this.#tree);
      return new EntryIterator(this.#tree, view, snapshot.seqno, range, limit, shape, true, this.#checkOpen);
    }
    return new EntryIterator(this.#tree, this.#tree.acquireView(), this.#writes.visibleSeqno, range, limit, shape, false, this.#checkOpen);
  }

  #lookup(key: Buffer, input: unknown): Entry | undefined {
    this.#checkUsable();
    if (input === undefined) return this.#tree.get(key, this.#writes.visibleSeqno);
    return this.#reader(input)(key);
  }

  /** Point reads as of now or as of the options' snapshot, for keys read in one synchronous stretch. */
  #reader(input: unknown): (key: Buffer) => Entry | undefined {
    this.#checkUsable();
    const snapshot = optionsObject<ReadOptions>(input, 'options', READ_OPTIONS).snapshot;
    if (snapshot === undefined) {
      const seqno = this.#writes.visibleSeqno;
      return (key) => this.#tree.get(key, seqno);
    }
    const view = snapshotView(snapshot, this.#keyspace, this.#tree);
    return view === undefined ? () => undefined : (key) => Tree.viewGet(view, key, snapshot.seqno);
  }

  #treeFor(keyspace: Keyspace): Tree {
    if (keyspace !== this.#keyspace) throw new TypeError('partition belongs to another keyspace');
    this.#checkUsable();
    return this.#tree;
  }

  readonly #checkOpen = (): void => this.#state.checkOpen();

  #checkUsable(): void {
    this.#state.checkOpen();
    if (this.#deleted) throw new CairnError(ErrorCodes.NOT_FOUND, `Partition ${this.name} was deleted`, { details: { partition: this.name } });
  }
}

/** @internal A new handle of `tree` (the keyspace caches one per partition). */
export function newPartition(context: PartitionContext, tree: Tree): Partition {
  return internals.create(context, tree);
}

/** @internal The tree behind `partition`, checking that it belongs to `keyspace` and is usable. */
export function partitionTree(partition: Partition, keyspace: Keyspace): Tree {
  return internals.treeFor(partition, keyspace);
}

/** @internal After deletePartition: every later call on the handle rejects with CAIRN_NOT_FOUND. */
export function markPartitionDeleted(partition: Partition): void {
  internals.markDeleted(partition);
}
