// A WriteBatch: puts and deletes across partitions of one keyspace, committed as one
// journal record so they become visible and durable all together or not at all.
// Not reusable after commit. Main-thread only.
import { CairnError, ErrorCodes } from '../errors.js';
import { EntryKind } from '../codec/entry.js';
import { type Bytes, toKey, toValue } from './arguments.js';
import type { Keyspace, TreeOp, WriteOptions } from './keyspace.js';
import { Partition } from './partition.js';

const EMPTY = Buffer.alloc(0);

export class WriteBatch {
  readonly #keyspace: Keyspace;
  #ops: TreeOp[] = [];
  #committed = false;

  /** @internal Use keyspace.batch(). */
  constructor(keyspace: Keyspace) {
    this.#keyspace = keyspace;
  }

  /** Number of operations queued. */
  get length(): number {
    return this.#ops.length;
  }

  put(partition: Partition, key: Bytes, value: Bytes): this {
    const tree = this.#treeOf(partition);
    this.#ops.push({ tree, partitionId: tree.id, kind: EntryKind.Put, key: toKey(key), value: toValue(value) });
    return this;
  }

  delete(partition: Partition, key: Bytes): this {
    const tree = this.#treeOf(partition);
    this.#ops.push({ tree, partitionId: tree.id, kind: EntryKind.Delete, key: toKey(key), value: EMPTY });
    return this;
  }

  /** Drops every queued operation. */
  clear(): this {
    this.#checkFresh();
    this.#ops = [];
    return this;
  }

  /** Writes every queued operation atomically. An empty batch resolves at once. */
  async commit(options?: WriteOptions): Promise<void> {
    this.#checkFresh();
    this.#committed = true;
    if (this.#ops.length === 0) return;
    await this.#keyspace._write(this.#ops, options);
  }

  #treeOf(partition: Partition) {
    this.#checkFresh();
    if (!(partition instanceof Partition)) throw new TypeError('partition must be a Partition of this keyspace');
    return partition._treeFor(this.#keyspace);
  }

  #checkFresh(): void {
    if (this.#committed) throw new CairnError(ErrorCodes.CLOSED, 'The batch was already committed');
  }
}
