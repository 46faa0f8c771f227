// A Snapshot: a read view of every partition frozen at one seqno. Repeatable reads until
// released; holds references that keep the segment files it can see. Main-thread only.
import { CairnError, ErrorCodes } from '../errors.js';
import type { ReadView, Tree } from '../tree/tree.js';
import type { Keyspace } from './keyspace.js';

/**
 * A read view of every partition of a keyspace frozen at `seqno`: pass it as
 * `{ snapshot }` to `get`, `has` and the iterators. Get one from `keyspace.snapshot()`
 * and release it when done: it keeps the segment files it reads alive.
 */
export class Snapshot {
  readonly #keyspace: Keyspace;
  readonly #views = new Map<Tree, ReadView>();
  #released = false;

  /** @internal Use keyspace.snapshot(). */
  constructor(
    keyspace: Keyspace,
    /** Every write with a seqno up to this one is visible through the snapshot, and no later one. */
    readonly seqno: number,
    trees: ReadonlyMap<string, Tree>,
  ) {
    this.#keyspace = keyspace;
    for (const tree of trees.values()) this.#views.set(tree, tree.acquireView());
  }

  /** True once released (reads through it reject with CAIRN_RELEASED). */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Releases the snapshot's hold on files and memory. Idempotent; iterators already
   * reading it keep their own hold until they end.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const [tree, view] of this.#views) tree.releaseView(view);
    this.#views.clear();
    this.#keyspace._forgetSnapshot(this);
  }

  /** @internal The view of `tree` (undefined when the partition was created after the snapshot). */
  _viewOf(keyspace: Keyspace, tree: Tree): ReadView | undefined {
    if (keyspace !== this.#keyspace) throw new TypeError('snapshot belongs to another keyspace');
    if (this.#released) throw new CairnError(ErrorCodes.RELEASED, 'The snapshot was released');
    return this.#views.get(tree);
  }
}
