// A Snapshot: a read view of every partition frozen at one seqno. Repeatable reads until
// released; holds references that keep the segment files it can see. Made only by the
// keyspace (newSnapshot). Main-thread only.
import { CairnError, ErrorCodes } from '../errors.js';
import type { ReadView, Tree } from '../tree/tree.js';
import type { Keyspace } from './keyspace.js';

/** Only this module can construct a Snapshot; the keyspace goes through newSnapshot. */
const CONSTRUCT = Symbol('Snapshot');

let internals: {
  create(keyspace: Keyspace, seqno: number, trees: ReadonlyMap<string, Tree>, onRelease: (snap: Snapshot) => void): Snapshot;
  viewOf(snap: Snapshot, keyspace: Keyspace, tree: Tree): ReadView | undefined;
};

/**
 * A read view of every partition of a keyspace frozen at `seqno`: pass it as
 * `{ snapshot }` to `get`, `has` and the iterators. Get one from `keyspace.snapshot()`
 * and release it when done: it keeps the segment files it reads alive.
 */
export class Snapshot implements Disposable, AsyncDisposable {
  /** Every read through the snapshot sees exactly the writes up to this seqno. */
  readonly seqno: number;
  readonly #keyspace: Keyspace;
  readonly #views = new Map<Tree, ReadView>();
  readonly #onRelease: (snap: Snapshot) => void;
  #released = false;

  private constructor(token: symbol, keyspace: Keyspace, seqno: number, trees: ReadonlyMap<string, Tree>, onRelease: (snap: Snapshot) => void) {
    if (token !== CONSTRUCT) throw new TypeError('Snapshots are taken with keyspace.snapshot()');
    this.#keyspace = keyspace;
    this.seqno = seqno;
    this.#onRelease = onRelease;
    for (const tree of trees.values()) this.#views.set(tree, tree.acquireView());
  }

  static {
    internals = {
      create: (keyspace, seqno, trees, onRelease) => new Snapshot(CONSTRUCT, keyspace, seqno, trees, onRelease),
      viewOf: (snap, keyspace, tree) => snap.#viewOf(keyspace, tree),
    };
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
    this.#onRelease(this);
  }

  /** `using snap = ks.snapshot()` releases it at the end of the block. */
  [Symbol.dispose](): void {
    this.release();
  }

  /** As {@link Snapshot.release}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.release();
  }

  #viewOf(keyspace: Keyspace, tree: Tree): ReadView | undefined {
    if (keyspace !== this.#keyspace) throw new TypeError('snapshot belongs to another keyspace');
    if (this.#released) throw new CairnError(ErrorCodes.RELEASED, 'The snapshot was released');
    return this.#views.get(tree);
  }
}

/** @internal A snapshot of every partition in `trees` as of `seqno`; `onRelease` runs once, on release. */
export function newSnapshot(keyspace: Keyspace, seqno: number, trees: ReadonlyMap<string, Tree>, onRelease: (snap: Snapshot) => void): Snapshot {
  return internals.create(keyspace, seqno, trees, onRelease);
}

/** @internal The snapshot's view of `tree` (undefined when the partition was created after it). */
export function snapshotView(snap: Snapshot, keyspace: Keyspace, tree: Tree): ReadView | undefined {
  return internals.viewOf(snap, keyspace, tree);
}
