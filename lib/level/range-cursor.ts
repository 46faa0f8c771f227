// A restartable read over one partition, the engine of the adapter's iterators: it keeps
// the caller's range and one cairn snapshot, so a seek() restarts inside the same range
// and never sees writes newer than the iterator. Main-thread only; not reentrant.
import type { Partition, Snapshot } from '../index.js';

/** A key as abstract-level hands it to the private API: bytes ('buffer' format) or a string ('utf8'). */
export type LevelKey = Buffer | Uint8Array | string;

/** The encoded range options abstract-level passes to _iterator(), _keys(), _values() and _clear(). */
export interface LevelRange {
  gt?: LevelKey;
  gte?: LevelKey;
  lt?: LevelKey;
  lte?: LevelKey;
  reverse: boolean;
}

export type Shape = 'entries' | 'keys' | 'values';

interface Bound {
  key: Buffer;
  inclusive: boolean;
}

interface Bounds {
  lower: Bound | undefined;
  upper: Bound | undefined;
}

/**
 * What partition.entries() and friends return, plus the synchronous step and close() that
 * EntryIterator has. Pulling a batch without a promise per entry is what makes nextv()
 * and all() cheap; the async iterator stays the public contract.
 */
interface SyncPullIterator<T> extends AsyncIterableIterator<T> {
  nextSync(): IteratorResult<T>;
  close(): void;
}

export class RangeCursor<T> {
  readonly #partition: Partition;
  readonly #bounds: Bounds;
  readonly #reverse: boolean;
  readonly #shape: Shape;
  readonly #snapshot: Snapshot;
  readonly #ownsSnapshot: boolean;
  #remaining: number;
  #inner: SyncPullIterator<T> | undefined;
  /**
   * Where the next take() starts. The cairn iterator opens lazily: abstract-level checks an
   * explicit snapshot is still open when a read starts, not when an iterator is made or seeks.
   */
  #pending: Bounds | undefined;
  #closed = false;

  /**
   * `limit` counts items across seeks (-1: none). `snapshot` is released by close() when
   * `ownsSnapshot`; otherwise its owner outlives the cursor.
   */
  constructor(partition: Partition, range: LevelRange, limit: number, shape: Shape, snapshot: Snapshot, ownsSnapshot: boolean) {
    this.#partition = partition;
    this.#bounds = boundsOf(range);
    this.#reverse = range.reverse;
    this.#remaining = limit === -1 ? Infinity : limit;
    this.#shape = shape;
    this.#snapshot = snapshot;
    this.#ownsSnapshot = ownsSnapshot;
    this.#pending = this.#bounds;
  }

  /** Up to `max` items; fewer only at the end of the range or the limit. */
  take(max: number): T[] {
    const out: T[] = [];
    if (this.#pending !== undefined && !this.#closed) this.#restart(this.#pending);
    const inner = this.#inner;
    if (inner === undefined) return out;
    const n = Math.min(max, this.#remaining);
    while (out.length < n) {
      const r = inner.nextSync();
      if (r.done === true) break;
      out.push(r.value);
    }
    this.#remaining -= out.length;
    return out;
  }

  /** Moves to the first key at or after `target` (at or before it when reverse), within the original range. */
  seek(target: LevelKey): void {
    const at: Bound = { key: toBuffer(target), inclusive: true };
    this.#pending = this.#reverse
      ? { lower: this.#bounds.lower, upper: tighterUpper(this.#bounds.upper, at) }
      : { lower: tighterLower(this.#bounds.lower, at), upper: this.#bounds.upper };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inner?.close();
    this.#inner = undefined;
    if (this.#ownsSnapshot) this.#snapshot.release();
  }

  #restart(bounds: Bounds): void {
    this.#inner?.close();
    this.#inner = undefined;
    this.#pending = undefined;
    const options = {
      reverse: this.#reverse,
      snapshot: this.#snapshot,
      ...(bounds.lower === undefined ? {} : bounds.lower.inclusive ? { gte: bounds.lower.key } : { gt: bounds.lower.key }),
      ...(bounds.upper === undefined ? {} : bounds.upper.inclusive ? { lte: bounds.upper.key } : { lt: bounds.upper.key }),
    };
    this.#inner = this.#partition[this.#shape](options) as unknown as SyncPullIterator<T>;
  }
}

export function toBuffer(key: LevelKey): Buffer {
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

/** abstract-level's rule: gte wins over gt and lte over lt when both are given. */
function boundsOf(range: LevelRange): Bounds {
  const lower = range.gte !== undefined ? { key: toBuffer(range.gte), inclusive: true } : range.gt !== undefined ? { key: toBuffer(range.gt), inclusive: false } : undefined;
  const upper = range.lte !== undefined ? { key: toBuffer(range.lte), inclusive: true } : range.lt !== undefined ? { key: toBuffer(range.lt), inclusive: false } : undefined;
  return { lower, upper };
}

function tighterLower(a: Bound | undefined, b: Bound): Bound {
  if (a === undefined) return b;
  const c = Buffer.compare(a.key, b.key);
  if (c !== 0) return c > 0 ? a : b;
  return a.inclusive ? b : a;
}

function tighterUpper(a: Bound | undefined, b: Bound): Bound {
  if (a === undefined) return b;
  const c = Buffer.compare(a.key, b.key);
  if (c !== 0) return c < 0 ? a : b;
  return a.inclusive ? b : a;
}
