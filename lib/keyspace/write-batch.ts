// A WriteBatch: puts and deletes across partitions of one keyspace, committed as one
// journal record so they become visible and durable all together or not at all.
// Not reusable after commit. Made only by the keyspace (newWriteBatch). Main-thread only.
import { CairnError, ErrorCodes } from '../errors.js';
import { EntryKind } from '../codec/entry.js';
import { type Bytes, toKey, toValue } from './arguments.js';
import type { Keyspace } from './keyspace.js';
import type { WriteOptions } from './options.js';
import { Partition, partitionTree } from './partition.js';
import type { TreeOp, WritePath } from './write-path.js';

const EMPTY = Buffer.alloc(0);

/** Only this module can construct a WriteBatch; the keyspace goes through newWriteBatch. */
const CONSTRUCT = Symbol('WriteBatch');

let create: (keyspace: Keyspace, writes: WritePath) => WriteBatch;

export class WriteBatch {
  readonly #keyspace: Keyspace;
  readonly #writes: WritePath;
  #ops: TreeOp[] = [];
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
    await this.#writes.write(this.#ops, options);
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
