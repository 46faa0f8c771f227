// The keyspace's side of a checkpoint: the cut (a journal switch and a pin of every
// partition's version, in one synchronous stretch) and the pins it holds until release,
// plus the count of checkpoints in progress that deletePartition waits out. Main thread
// only; concurrent checkpoints each take their own cut (pins are counted).
import type { FileSystem } from '../fs/file-system.js';
import type { Journal } from '../journal/journal.js';
import type { ReadView, Tree } from '../tree/tree.js';
import type { CheckpointCut, CheckpointSource } from './checkpoint-source.js';
import type { JournalCollector } from './journal-gc.js';
import type { KeyspaceState } from './keyspace-state.js';
import type { PartitionRegistry } from './partition-registry.js';
import type { WritePath } from './write-path.js';

export class Cutter implements CheckpointSource {
  readonly root: string;
  readonly fs: FileSystem;
  readonly #journal: Journal;
  readonly #registry: PartitionRegistry;
  readonly #writes: WritePath;
  readonly #collector: JournalCollector;
  readonly #state: KeyspaceState;
  /** Checkpoints in progress; a partition is deleted only when none is. */
  #inProgress = 0;
  #idleWaiters: (() => void)[] = [];

  constructor(root: string, fs: FileSystem, parts: { journal: Journal; registry: PartitionRegistry; writes: WritePath; collector: JournalCollector; state: KeyspaceState }) {
    this.root = root;
    this.fs = fs;
    this.#journal = parts.journal;
    this.#registry = parts.registry;
    this.#writes = parts.writes;
    this.#collector = parts.collector;
    this.#state = parts.state;
  }

  get inProgress(): number {
    return this.#inProgress;
  }

  checkWritable(): void {
    this.#state.checkWritable();
  }

  holdPartitions(): () => void {
    this.#inProgress++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#inProgress === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    };
  }

  /** Resolves when no checkpoint is in progress. */
  async idle(): Promise<void> {
    while (this.#inProgress > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async cut(): Promise<CheckpointCut> {
    // The journal must be able to switch files synchronously (a spare file ready, no
    // rotation or write recovery in flight); getting there may take a while, and the
    // keyspace may fail or close meanwhile.
    // A partition create or drop between its journal record and its keyspace.json commit
    // would leave the cut's registry disagreeing with its seqno: wait those out too.
    do {
      await this.#journal.prepareCut();
      await this.#registry.committed();
      this.#state.checkWritable();
    } while (!this.#journal.canCut() || this.#registry.changing);
    return this.#cutNow();
  }

  /**
   * The cut, synchronous from start to end so that nothing can interleave: the journal
   * switches to a fresh file (the old one keeps every write up to now and is sealed off
   * the write path), and each partition's current view is pinned. Writes applied so far
   * are exactly those in the sealed and older journals, so the checkpoint's seqno is the
   * visible seqno at this instant.
   */
  #cutNow(): CheckpointCut {
    const started = process.hrtime.bigint();
    const rotation = this.#journal.cut();
    const seqno = this.#writes.visibleSeqno;
    const timeMs = this.#writes.visibleTimeMs;
    const views: { tree: Tree; view: ReadView }[] = [];
    for (const tree of this.#registry.trees.values()) views.push({ tree, view: tree.acquireView() });
    const writePauseMicros = Number(process.hrtime.bigint() - started) / 1000;
    // The same rule as journal GC, so the two agree without a lock: a sealed file whose
    // writes every partition has persisted is not needed (and GC may delete it).
    const neededFrom = this.#collector.neededFrom();
    const journals = this.#journal
      .sealedFiles()
      .filter((j) => j.lastSeqno !== undefined && j.lastSeqno >= neededFrom)
      .map((j) => ({ fileNumber: j.fileNumber, path: j.path, bytes: j.bytes }));
    const pinned = journals.map((j) => j.fileNumber);
    this.#collector.pin(pinned);
    let released = false;
    return {
      seqno,
      timeMs,
      meta: this.#registry.committedMeta(),
      partitions: views.map(({ tree, view }) => ({ name: tree.name, root: tree.root, state: view.version.state })),
      journals,
      // Only linked journals must be durable first; when every write is already in
      // segments the checkpoint links none and need not wait for the seal.
      journalDurable: journals.length > 0 ? rotation.durable : Promise.resolve(),
      writePauseMicros,
      release: () => {
        if (released) return;
        released = true;
        for (const { tree, view } of views) tree.releaseView(view);
        this.#collector.unpin(pinned);
      },
    };
  }
}
