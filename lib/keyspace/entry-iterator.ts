// The async iterator behind partition.entries()/keys()/values(). It reads one consistent
// view (taken when it was created, or a snapshot's), holding a reference on that view's
// files until it ends or is returned from; once its keyspace closes, every read fails
// with CAIRN_CLOSED. Disposable (`using`): disposal ends it. Main-thread only.
import { MergingCursor, VisibleCursor, type KeyRange } from '../tree/merge.js';
import { Tree, type ReadView } from '../tree/tree.js';

export type IteratorShape = 'entries' | 'keys' | 'values';

type Item = [Buffer, Buffer] | Buffer;

export class EntryIterator implements AsyncIterableIterator<Item>, AsyncDisposable, Disposable {
  #cursor: VisibleCursor | undefined;
  #remaining: number;
  #view: ReadView | undefined;

  constructor(
    private readonly tree: Tree,
    view: ReadView | undefined,
    readSeqno: number,
    range: KeyRange,
    limit: number,
    private readonly shape: IteratorShape,
    borrowedView: boolean,
    /** Throws CAIRN_CLOSED once the keyspace is closed. */
    private readonly checkOpen: () => void,
  ) {
    this.#remaining = limit;
    if (view === undefined) return;
    // A borrowed (snapshot) view gets its own reference: the snapshot may be released mid-iteration.
    this.#view = borrowedView ? tree.retainView(view) : view;
    const tombstones = Tree.viewRangeTombstones(view, readSeqno);
    this.#cursor = new VisibleCursor(new MergingCursor(Tree.viewCursors(view, range, tombstones), range.reverse === true), readSeqno, tombstones);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Item>> {
    try {
      return Promise.resolve(this.nextSync());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The next item without the promise; for callers that batch. */
  nextSync(): IteratorResult<Item> {
    try {
      this.checkOpen();
    } catch (err) {
      this.#finish();
      throw err;
    }
    if (this.#cursor === undefined || this.#remaining <= 0) return this.#finish();
    const e = this.#cursor.next();
    if (e === undefined) return this.#finish();
    this.#remaining--;
    switch (this.shape) {
      case 'keys':
        return { done: false, value: Buffer.from(e.key) };
      case 'values':
        return { done: false, value: Buffer.from(e.value) };
      default:
        return { done: false, value: [Buffer.from(e.key), Buffer.from(e.value)] };
    }
  }

  return(): Promise<IteratorResult<Item>> {
    return Promise.resolve(this.#finish());
  }

  /** Ends the iteration and releases the view. Idempotent. */
  close(): void {
    this.#finish();
  }

  [Symbol.dispose](): void {
    this.#finish();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#finish();
  }

  #finish(): IteratorResult<Item> {
    this.#cursor = undefined;
    if (this.#view !== undefined) {
      this.tree.releaseView(this.#view);
      this.#view = undefined;
    }
    return { done: true, value: undefined };
  }
}
