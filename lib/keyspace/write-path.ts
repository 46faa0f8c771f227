// The write path: assigns sequence numbers, appends one journal record per write (the
// journal groups concurrent ones into one commit), applies each to the memtables in
// journal order, and holds writers back while a partition has no room. Owns the global
// seqno. Main thread only; write() may be called concurrently.
import { ErrorCodes, hasCode } from '../errors.js';
import { type DataOpKind, encodeBatch, type JournalOpKind, type RecordBuilder } from '../journal/record.js';
import type { Journal } from '../journal/journal.js';
import type { Tree } from '../tree/tree.js';
import { type Durability, optionsObject, toDurability } from './arguments.js';
import type { KeyspaceState } from './keyspace-state.js';
import { WRITE_OPTIONS, type WriteOptions } from './options.js';

/**
 * A write: its ops already encoded into their journal record (RecordBuilder: the one copy
 * of the keys and values), and the tree each op applies to.
 */
export interface PendingWrite {
  record: RecordBuilder;
  /** trees[i] is op i's. */
  trees: Tree[];
}

/** One op of a batch replayed from a shipped journal, resolved to its tree. */
export interface ReplayedOp {
  tree: Tree;
  kind: DataOpKind;
  key: Buffer;
  value: Buffer;
}

const SYNC = { sync: true } as const;
const BUFFERED = { sync: false } as const;

export class WritePath {
  /** Undefined for a read-only keyspace, whose state refuses every write before it gets here. */
  readonly #journal: Journal | undefined;
  readonly #state: KeyspaceState;
  readonly #durability: Durability;
  /** Next seqno to assign. */
  #nextSeqno: number;
  /** Highest seqno applied to the memtables: what a new reader sees. */
  #visibleSeqno: number;
  /** Commit time of the newest batch appended: times never decrease along seqnos. */
  #lastTimeMs: number;
  /** Commit time of the batch holding #visibleSeqno. */
  #visibleTimeMs: number;
  /** Writes handed to the journal and not yet settled; idle() waits for them. */
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];
  /** Time writers spent waiting for flushes (back-pressure), and how many writes waited. */
  #stalledMs = 0;
  #stalls = 0;

  constructor(journal: Journal | undefined, state: KeyspaceState, durability: Durability, lastSeqno: number, lastTimeMs: number) {
    this.#journal = journal;
    this.#state = state;
    this.#durability = durability;
    this.#nextSeqno = lastSeqno + 1;
    this.#visibleSeqno = lastSeqno;
    this.#lastTimeMs = lastTimeMs;
    this.#visibleTimeMs = lastTimeMs;
  }

  get visibleSeqno(): number {
    return this.#visibleSeqno;
  }

  /** Commit time (ms) of the batch holding the visible seqno; 0 when unknown (nothing written since format 2). */
  get visibleTimeMs(): number {
    return this.#visibleTimeMs;
  }

  /**
   * Appends a registry record (partition create or drop: docs/shipping.md §2) with a seqno
   * of its own, durably (sync), before the caller commits the change to keyspace.json: a
   * registry the disk holds is then always announced in the journal first.
   */
  appendRegistryChange(kind: typeof JournalOpKind.PartitionCreate | typeof JournalOpKind.PartitionDrop, name: string, id: number): Promise<void> {
    try {
      this.#state.checkWritable();
      if (this.#journal === undefined) throw new Error('a keyspace without a journal changed its registry');
    } catch (err) {
      return Promise.reject(err);
    }
    const seqno = this.#nextSeqno++;
    const timeMs = this.#commitTime();
    const record = encodeBatch(seqno, [{ kind, partitionId: id, key: Buffer.from(name, 'utf8') }], timeMs);
    this.#inflight++;
    return this.#journal
      .append(record, SYNC, () => {
        this.#visibleSeqno = seqno;
        this.#visibleTimeMs = timeMs;
      })
      .then(this.#appended, this.#appendFailed);
  }

  /**
   * Applies a batch replayed from elsewhere (a point-in-time restore) straight to the
   * memtables, without a journal record: the caller flushes before it trusts the result.
   * `seqno` must be above the visible seqno. Waits for room like a write.
   */
  async applyReplayed(seqno: number, timeMs: number | undefined, ops: readonly ReplayedOp[]): Promise<void> {
    if (seqno <= this.#visibleSeqno) throw new RangeError(`replayed seqno ${seqno} is not above ${this.#visibleSeqno}`);
    for (const op of ops) for (let wait = op.tree.waitForRoom(); wait !== undefined; wait = op.tree.waitForRoom()) await wait;
    this.#state.checkWritable();
    for (let i = 0; i < ops.length; i++) ops[i].tree.apply(ops[i].key, seqno + i, ops[i].kind, ops[i].value);
    this.skipTo(seqno + ops.length - 1, timeMs);
    for (let i = 0; i < ops.length; i++) ops[i].tree.maybeFreeze(this.#visibleSeqno);
  }

  /** Makes `seqno` (a replayed batch with no data op here, or the last of one) the visible seqno. */
  skipTo(seqno: number, timeMs: number | undefined): void {
    if (seqno < this.#visibleSeqno) return;
    this.#visibleSeqno = seqno;
    this.#nextSeqno = seqno + 1;
    if (timeMs !== undefined) {
      this.#visibleTimeMs = timeMs;
      this.#lastTimeMs = Math.max(this.#lastTimeMs, timeMs);
    }
  }

  #commitTime(): number {
    const now = Date.now();
    if (now > this.#lastTimeMs) this.#lastTimeMs = now;
    return this.#lastTimeMs;
  }

  get backPressure(): { stalledWrites: number; stalledMs: number } {
    return { stalledWrites: this.#stalls, stalledMs: this.#stalledMs };
  }

  /**
   * Applies ops atomically: one journal record, then the memtables, in journal order.
   * Not an async function: the common path adds no promise of its own to the journal's,
   * which matters at a few microseconds per awaited put.
   */
  write(write: PendingWrite, options: WriteOptions | undefined): Promise<void> {
    try {
      const durability = options === undefined ? this.#durability : toDurability(optionsObject<WriteOptions>(options, 'options', WRITE_OPTIONS).durability, this.#durability);
      this.#state.checkWritable();
      const trees = write.trees;
      for (let i = 0; i < trees.length; i++) {
        if (i > 0 && trees[i] === trees[i - 1]) continue;
        if (trees[i].waitForRoom() !== undefined) return this.#writeWhenRoom(write, durability);
      }
      return this.#append(write, durability);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Resolves once no write is in flight (call after the state is closed, so none starts). */
  async idle(): Promise<void> {
    while (this.#inflight > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Back-pressure: waits until every partition written to has room, then appends. */
  async #writeWhenRoom(write: PendingWrite, durability: Durability): Promise<void> {
    const started = performance.now();
    try {
      for (const tree of new Set(write.trees)) {
        for (let wait = tree.waitForRoom(); wait !== undefined; wait = tree.waitForRoom()) {
          await wait;
          this.#state.checkWritable();
        }
      }
    } finally {
      this.#stalledMs += performance.now() - started;
      this.#stalls++;
    }
    return this.#append(write, durability);
  }

  #append({ record, trees }: PendingWrite, durability: Durability): Promise<void> {
    if (this.#journal === undefined) {
      this.#state.checkWritable();
      throw new Error('a keyspace without a journal accepted a write');
    }
    const count = trees.length;
    const seqno = this.#nextSeqno;
    this.#nextSeqno += count;
    const timeMs = this.#commitTime();
    const framed = record.finish(seqno, timeMs);
    this.#inflight++;
    return this.#journal
      .append(framed, durability === 'sync' ? SYNC : BUFFERED, () => {
        // Keys and values go to the memtables as views into the record: no further copy.
        const kinds = record.kinds;
        // Only data ops (Put, Delete) come through write(); registry records have their own path.
        for (let i = 0; i < count; i++) trees[i].apply(record.key(i), seqno + i, kinds[i] as DataOpKind, record.value(i));
        this.#visibleSeqno = seqno + count - 1;
        this.#visibleTimeMs = timeMs;
        for (let i = 0; i < count; i++) {
          if (i === 0 || trees[i] !== trees[i - 1]) trees[i].maybeFreeze(this.#visibleSeqno);
        }
      })
      .then(this.#appended, this.#appendFailed);
  }

  readonly #appended = (): void => {
    if (--this.#inflight === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  };

  readonly #appendFailed = (err: unknown): never => {
    this.#appended();
    if (hasCode(err, ErrorCodes.POISONED)) this.#state.poison((err as Error).cause ?? err, 'a write to the journal');
    throw err;
  };
}
