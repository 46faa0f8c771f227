// Journal GC: deletes sealed journal files once every partition has persisted (in
// segments) every write they hold, and flushes the partitions holding back the oldest
// file when sealed journals exceed their byte budget. Files a checkpoint pinned wait.
// Main thread only; one pass at a time (a request during a pass runs another after it).
import type { Journal } from '../journal/journal.js';
import type { Tree } from '../tree/tree.js';
import type { JournalSlots } from './journal-slots.js';
import type { KeyspaceState } from './keyspace-state.js';

export class JournalCollector {
  readonly #journal: Journal;
  readonly #trees: ReadonlyMap<string, Tree>;
  readonly #state: KeyspaceState;
  readonly #maxJournalBytes: number;
  readonly #visibleSeqno: () => number;
  readonly #slots: JournalSlots;
  /** Sealed journal files a checkpoint in progress is linking, with their pin counts. */
  readonly #pins = new Map<number, number>();
  /** The running pass, if any; close() waits for it. */
  #collecting: Promise<void> | undefined;
  /** A flush finished while a pass was running: run another when it ends. */
  #collectAgain = false;

  constructor(journal: Journal, trees: ReadonlyMap<string, Tree>, state: KeyspaceState, maxJournalBytes: number, visibleSeqno: () => number, slots: JournalSlots) {
    this.#slots = slots;
    this.#journal = journal;
    this.#trees = trees;
    this.#state = state;
    this.#maxJournalBytes = maxJournalBytes;
    this.#visibleSeqno = visibleSeqno;
  }

  /**
   * Starts a pass (or asks the running one for another). A partition whose memtables are
   * empty has persisted everything up to the visible seqno. If the sealed journals still
   * exceed maxJournalBytes, the partitions holding back the oldest one are flushed, which
   * calls this again when done.
   */
  collect(): void {
    if (this.#state.closed) return;
    if (this.#collecting !== undefined) {
      // The running pass may have judged a file still needed before this flush landed.
      this.#collectAgain = true;
      return;
    }
    this.#collecting = this.#collect()
      .catch(() => undefined)
      .finally(() => {
        this.#collecting = undefined;
        if (this.#collectAgain) {
          this.#collectAgain = false;
          this.collect();
        }
      });
  }

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    while (this.#collecting !== undefined) await this.#collecting;
  }

  /**
   * Journal records with a seqno below this are in segments for every partition: the
   * oldest seqno any memtable still holds. It only grows (new writes get larger seqnos
   * than every sealed file holds), so once a sealed file is obsolete it stays obsolete —
   * which is what lets a concurrent cut and this GC agree without a lock.
   */
  neededFrom(): number {
    let needed = Infinity;
    for (const tree of this.#trees.values()) needed = Math.min(needed, tree.oldestUnflushedSeqno ?? Infinity);
    return needed;
  }

  /** Keeps these sealed files until unpin (pins are counted: checkpoints may overlap). */
  pin(fileNumbers: readonly number[]): void {
    for (const n of fileNumbers) this.#pins.set(n, (this.#pins.get(n) ?? 0) + 1);
  }

  /** Drops one pin of each file, and collects what is no longer needed. */
  unpin(fileNumbers: readonly number[]): void {
    for (const n of fileNumbers) {
      const pins = (this.#pins.get(n) ?? 0) - 1;
      if (pins > 0) this.#pins.set(n, pins);
      else this.#pins.delete(n);
    }
    this.collect();
  }

  /** Bytes of sealed files kept only because a journal slot (a shipper) has not consumed them. */
  slotRetainedBytes(): number {
    const needed = this.neededFrom();
    let bytes = 0;
    for (const file of this.#journal.sealedFiles()) if (file.lastSeqno !== undefined && file.lastSeqno < needed) bytes += file.bytes;
    return bytes;
  }

  async #collect(): Promise<void> {
    // The byte budget counts only what flushing can free: a file kept by a journal slot
    // alone (a shipper behind a slow store) stays however large the budget.
    let sealedBytes = 0;
    for (const file of this.#journal.sealedFiles()) {
      const flushed = file.lastSeqno === undefined || file.lastSeqno < this.neededFrom();
      const consumed = file.lastSeqno === undefined || file.lastSeqno < this.#slots.neededFrom();
      if (flushed && consumed && !this.#pins.has(file.fileNumber) && !this.#state.closed) await this.#journal.removeSealed(file.fileNumber);
      else if (!flushed) sealedBytes += file.bytes;
    }
    if (sealedBytes <= this.#maxJournalBytes || this.#state.poisoned || this.#state.closed) return;
    const oldest = this.#journal.sealedFiles()[0];
    if (oldest?.lastSeqno === undefined) return;
    for (const tree of this.#trees.values()) {
      const unflushed = tree.oldestUnflushedSeqno;
      if (unflushed !== undefined && unflushed <= oldest.lastSeqno) void tree.flush(this.#visibleSeqno()).catch(() => undefined);
    }
  }
}
