// The Keyspace: one directory, one LOCK, one shared journal, and a set of partitions
// (each its own LSM tree). The public face: it validates, then delegates to its parts,
// each in its own file (recovery, the partition registry, the write path, journal GC,
// the checkpoint cut). Main-thread object; every public method may be called concurrently.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { TEMP_MARKER } from '../fs/durable.js';
import { type CheckResult, checkKeyspaceFiles } from './content-check.js';
import type { FileSystem, LockHandle } from '../fs/file-system.js';
import { defaultFileSystem } from '../fs/index.js';
import { CairnError, ErrorCodes } from '../errors.js';
import { BlockCache } from '../segment/block-cache.js';
import { OpenFiles } from '../segment/open-files.js';
import type { Journal } from '../journal/journal.js';
import { type DecodedOp, isEntryKind, JournalOpKind } from '../journal/record.js';
import type { JournalFileInfo } from '../journal/journal.js';
import type { PartitionStats, Tree, TreeHost } from '../tree/tree.js';
import { runMerge } from '../compaction/run-merge.js';
import { mergeOnWorker } from '../compaction/merge-job.js';
import { flushOnWorker, runFlush } from '../tree/flush-job.js';
import { isValidPartitionName, lockPath } from '../layout/file-names.js';
import { type KeyBounds, optionNames, optionsObject, toBounds } from './arguments.js';
import { type CheckpointOptions, type CheckpointResult, checkpointProtocol } from './checkpoint-source.js';
import { Cutter } from './cut.js';
import { JournalCollector } from './journal-gc.js';
import { isValidSlotName, JournalSlots } from './journal-slots.js';
import { KeyspaceState } from './keyspace-state.js';
import { type BackgroundError, type KeyspaceOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Partition, type PartitionContext, markPartitionDeleted, newPartition, partitionTree } from './partition.js';
import { PartitionRegistry } from './partition-registry.js';
import { checkKeyspaceDirectory, recoverKeyspace, type Recovered } from './recovery.js';
import { type Snapshot, newSnapshot } from './snapshot.js';
import { type WriteBatch, newWriteBatch } from './write-batch.js';
import { type ReplayedOp, WritePath } from './write-path.js';

export type { BackgroundError, CompactionOptions, CompactionRunOptions, KeyspaceOptions, WriteOptions } from './options.js';
export { KEYSPACE_OPTIONS } from './options.js';

const CHECKPOINT_OPTIONS = optionNames<CheckpointOptions>({ signal: true, onProgress: true });

/** What `ks.stats()` reports. */
export interface KeyspaceStats {
  /** The sequence number of the newest write visible to readers (as `ks.seqno`). */
  seqno: number;
  /** Per partition, by name. */
  partitions: Record<string, PartitionStats>;
  /**
   * The journal: files still kept (sealed ones plus the active one), their bytes, and the
   * active file's number (sealed files have smaller numbers; a spare made ahead of the
   * next switch, holding only a header, may sit on disk with the next number).
   */
  journal: { files: number; bytes: number; sealedBytes: number; activeFile: number };
  /** Writes that waited for a flush to make room (back-pressure), and the total time they waited. */
  backPressure: { stalledWrites: number; stalledMs: number };
  /** Snapshots taken and not yet released. */
  snapshots: number;
  /** `backupTo` calls past their cut and not yet finished. */
  checkpointsInProgress: number;
  /** The latest failure of a flush or compaction that is being retried, if any ever happened. */
  lastBackgroundError: BackgroundError | undefined;
  /**
   * Sums over the partitions, named after the RocksDB properties they stand for:
   * `memtableBytes` (cur-size-all-mem-tables), `segmentBytes` (total-sst-files-size of the
   * current versions), `estimatedLiveDataBytes` (estimate-live-data-size),
   * `pendingCompactionBytes` (estimate-pending-compaction-bytes).
   */
  totals: { memtableBytes: number; segmentBytes: number; estimatedLiveDataBytes: number; pendingCompactionBytes: number };
  /**
   * The block cache shared by the partitions: its budget and use, hits and misses since
   * open, and hits / (hits + misses) (0 before any read).
   */
  blockCache: { capacityBytes: number; usedBytes: number; blocks: number; hits: number; misses: number; hitRate: number };
  /** Segment files open now, the budget (`maxOpenFiles`; null in JSON when unlimited), and files the budget closed, to be reopened on their next read. */
  openFiles: { open: number; max: number; evictions: number };
}

/**
 * What a journal consumer (the shipper, lib/backup) and a point-in-time replay need of a
 * keyspace, beyond its public API. Main thread only.
 * @internal
 */
export interface JournalAccess {
  readonly root: string;
  readonly fs: FileSystem;
  /** Sealed journal files, then the active one (last), oldest first. */
  files(): JournalFileInfo[];
  /** See Journal.syncPoint: the active file's number and its durable length. */
  syncPoint(): Promise<{ fileNumber: number; bytes: number }>;
  /** The persisted position of journal slot `name`. */
  slot(name: string): number | undefined;
  /** Moves (or creates) slot `name` durably, then lets journal GC run. */
  setSlot(name: string, seqno: number, force?: boolean): Promise<void>;
  /** Bytes of sealed journals kept only by slots. */
  slotRetainedBytes(): number;
  /** Commit time (ms) of the batch holding the visible seqno; 0 when unknown. */
  visibleTimeMs(): number;
  /**
   * Applies a batch replayed from a shipped journal (data ops to the memtables, registry
   * ops to the registry with their original ids), without a journal record of its own.
   * CAIRN_CORRUPTION when an op names a partition id the registry does not know.
   */
  applyReplayed(seqno: number, timeMs: number | undefined, ops: readonly DecodedOp[]): Promise<void>;
}

let journalAccessOf: (ks: Keyspace) => JournalAccess;

/** @internal The journal access of `ks` (see JournalAccess). */
export function journalAccess(ks: Keyspace): JournalAccess {
  return journalAccessOf(ks);
}

/** Only Keyspace.open constructs a Keyspace. */
const CONSTRUCT = Symbol('Keyspace');

interface KeyspaceParts {
  root: string;
  fs: FileSystem;
  options: ResolvedOptions;
  state: KeyspaceState;
  /** Undefined for a read-only keyspace, which takes no LOCK. */
  lock: LockHandle | undefined;
  host: TreeHost;
  recovered: Recovered;
}

/**
 * An open keyspace: a directory holding partitions (each its own LSM tree) that share one
 * journal and one sequence of seqnos. Open with `Keyspace.open`; close with `close()`.
 */
export class Keyspace implements AsyncDisposable {
  readonly path: string;
  /** The keyspace's UUID from keyspace.json. */
  readonly id: string;
  readonly #state: KeyspaceState;
  readonly #lock: LockHandle | undefined;
  /** The journal and the parts that change files: undefined when opened read-only. */
  readonly #journal: Journal | undefined;
  readonly #collector: JournalCollector | undefined;
  readonly #cutter: Cutter | undefined;
  /** The journal files a read-only keyspace replayed, for stats(). */
  readonly #replayed: { fileNumber: number; bytes: number }[];
  readonly #registry: PartitionRegistry;
  readonly #writes: WritePath;
  readonly #slots: JournalSlots;
  /** Partition trees by id for applyReplayed; dropped at each replayed registry change. */
  #replayTrees: Map<number, Tree> | undefined;
  readonly #partitionContext: PartitionContext;
  readonly #cache: BlockCache;
  readonly #files: OpenFiles;
  readonly #fs: FileSystem;
  /** True when the caller handed in a file system (a seam a worker thread cannot share). */
  readonly #injectedFs: boolean;
  /** Partition handles, one per name, made on first use. */
  readonly #partitions = new Map<string, Partition>();
  readonly #snapshots = new Set<Snapshot>();
  readonly #forgetSnapshot = (snap: Snapshot): void => {
    this.#snapshots.delete(snap);
  };
  #closing: Promise<void> | undefined;

  static {
    journalAccessOf = (ks) => ks.#journalAccess();
  }

  #journalAccess(): JournalAccess {
    const journal = this.#journal;
    const collector = this.#collector;
    const cutter = this.#cutter;
    if (journal === undefined || collector === undefined || cutter === undefined) {
      // Read-only: no journal to ship from or replay into.
      this.#state.checkWritable();
      throw new Error('a writable keyspace without a journal');
    }
    return {
      root: this.path,
      fs: cutter.fs,
      files: () => [...journal.sealedFiles(), journal.activeFile()],
      syncPoint: () => journal.syncPoint(),
      slot: (name) => this.#slots.get(name),
      setSlot: async (name, seqno, force) => {
        await this.#slots.set(name, seqno, force);
        collector.collect();
      },
      slotRetainedBytes: () => collector.slotRetainedBytes(),
      visibleTimeMs: () => this.#writes.visibleTimeMs,
      applyReplayed: (seqno, timeMs, ops) => this.#applyReplayed(seqno, timeMs, ops),
    };
  }

  async #applyReplayed(seqno: number, timeMs: number | undefined, ops: readonly DecodedOp[]): Promise<void> {
    const data: ReplayedOp[] = [];
    let byId = this.#replayTrees;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      if (!isEntryKind(op.kind)) {
        const name = op.key.toString('utf8');
        if (op.kind === JournalOpKind.PartitionCreate) await this.#registry.create(name, () => this.#writes.visibleSeqno, { replayedId: op.partitionId });
        else if (this.#registry.trees.get(name)?.id === op.partitionId) await this.#registry.delete(name, () => this.#cutter?.idle() ?? Promise.resolve(), () => this.#forgetPartition(name), { replayedId: op.partitionId });
        byId = this.#replayTrees = undefined;
        this.#writes.skipTo(seqno + i, timeMs);
        continue;
      }
      if (byId === undefined) {
        byId = this.#replayTrees = new Map();
        for (const tree of this.#registry.trees.values()) byId.set(tree.id, tree);
      }
      const tree = byId.get(op.partitionId);
      if (tree === undefined) {
        throw new CairnError(ErrorCodes.CORRUPTION, `Replayed batch ${seqno} writes to partition id ${op.partitionId}, which the journal never created`, {
          details: { seqno, partitionId: op.partitionId },
        });
      }
      data.push({ tree, kind: op.kind, key: op.key, value: op.value });
    }
    if (data.length === ops.length) await this.#writes.applyReplayed(seqno, timeMs, data);
    else {
      // A batch mixing registry and data ops is never written; apply the data ops at their own seqnos.
      for (let i = 0, d = 0; i < ops.length; i++) if (isEntryKind(ops[i].kind)) await this.#writes.applyReplayed(seqno + i, timeMs, [data[d++]]);
      this.#writes.skipTo(seqno + ops.length - 1, timeMs);
    }
  }

  /** Marks the handle of a deleted partition, so its later calls reject CAIRN_NOT_FOUND. */
  #forgetPartition(name: string): void {
    const handle = this.#partitions.get(name);
    if (handle !== undefined) markPartitionDeleted(handle);
    this.#partitions.delete(name);
  }

  private constructor(token: symbol, parts: KeyspaceParts) {
    if (token !== CONSTRUCT) throw new TypeError('Keyspaces are opened with Keyspace.open(dir)');
    const { root, fs, options, state, recovered } = parts;
    this.path = root;
    this.id = recovered.meta.id;
    this.#state = state;
    this.#lock = parts.lock;
    this.#journal = recovered.journal;
    this.#writes = new WritePath(recovered.journal, state, options.durability, recovered.lastSeqno, recovered.lastTimeMs);
    const writes = this.#writes;
    this.#registry = new PartitionRegistry(root, recovered.meta, recovered.trees, parts.host, options, state, (kind, name, id) =>
      writes.appendRegistryChange(kind === 'create' ? JournalOpKind.PartitionCreate : JournalOpKind.PartitionDrop, name, id),
    );
    this.#replayed = recovered.replayed;
    this.#slots = new JournalSlots(fs, root, recovered.slots);
    if (recovered.journal !== undefined) {
      this.#collector = new JournalCollector(recovered.journal, this.#registry.trees, state, options.maxJournalBytes, () => this.#writes.visibleSeqno, this.#slots);
      this.#cutter = new Cutter(root, fs, { journal: recovered.journal, registry: this.#registry, writes: this.#writes, collector: this.#collector, state });
    }
    this.#partitionContext = { keyspace: this, writes: this.#writes, state };
    this.#cache = parts.host.cache;
    this.#files = parts.host.files;
    this.#fs = fs;
    this.#injectedFs = options.inProcessFlushes;
  }

  /**
   * Opens the keyspace in `dir`, creating it when the directory is missing or empty
   * (unless `createIfMissing: false`).
   * Holds the directory's LOCK until close, replays the journals over the segments, and
   * removes files a crash left behind.
   *
   * @param dir - The keyspace directory; relative paths resolve against the working directory.
   * @param options - See {@link KeyspaceOptions}; every field is optional.
   * @returns The open keyspace.
   * @throws TypeError / RangeError for an invalid `dir` or option, before any I/O.
   * @throws CairnError CAIRN_NOT_FOUND when no keyspace is there and `createIfMissing` is
   *   false (nothing is created); Error EEXIST when one is there and `errorIfExists` is true.
   * @throws CairnError CAIRN_LOCKED when the keyspace is open elsewhere (another process,
   *   or another Keyspace in this one); CAIRN_NOT_A_KEYSPACE when `dir` is a file, or a
   *   non-empty directory without keyspace.json; CAIRN_UNSUPPORTED_FORMAT when a newer
   *   cairn wrote it; CAIRN_CORRUPTION when a metadata file, segment or journal fails its
   *   checks (a torn tail of the newest journal is not corruption: it is cut off).
   *   Operating-system failures keep Node's codes (EACCES, ENOSPC, EIO…).
   */
  static async open(dir: string, options?: KeyspaceOptions): Promise<Keyspace> {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string');
    const resolved = resolveOptions(options);
    const fs = options?.fs ?? defaultFileSystem();
    const root = path.resolve(dir);
    const isKeyspace = await checkKeyspaceDirectory(fs, root, resolved);
    const lock = resolved.readOnly ? undefined : await fs.lock(lockPath(root));
    const state = new KeyspaceState(resolved.onBackgroundError, resolved.readOnly);
    // Flushes start only after the keyspace exists; until then there is nothing to collect.
    let collector: JournalCollector | undefined;
    let cacheIds = 0;
    const host: TreeHost = {
      fs,
      cache: new BlockCache(resolved.blockCacheBytes),
      files: new OpenFiles(fs, resolved.maxOpenFiles),
      nextCacheId: () => ++cacheIds,
      poison: (err, operation) => state.poison(err, operation),
      backgroundError: (failure) => state.reportBackgroundError(failure),
      flushed: () => collector?.collect(),
      // Flushes run on the worker pool too, except through an injected file system.
      flush: (job) => (resolved.inProcessFlushes ? runFlush(fs, job) : flushOnWorker(job)),
      compaction: {
        strategy: resolved.strategy,
        // Merges run on a worker thread, except with an injected file system (tests, fault
        // injection), which a worker cannot share: then in-process, through that seam.
        merge: (job) => (resolved.inProcessMerges ? runMerge(fs, job) : mergeOnWorker(job)),
      },
    };
    try {
      const recovered = await recoverKeyspace(fs, root, isKeyspace, host, resolved);
      const keyspace = new Keyspace(CONSTRUCT, { root, fs, options: resolved, state, lock, host, recovered });
      collector = keyspace.#collector;
      if (!resolved.readOnly) {
        for (const tree of recovered.trees.values()) {
          tree.maybeFreeze(recovered.lastSeqno);
          tree.scheduleCompaction();
        }
      }
      return keyspace;
    } catch (err) {
      await lock?.unlock().catch(() => undefined);
      throw err;
    }
  }

  /** Sequence number of the newest write visible to readers. */
  get seqno(): number {
    return this.#writes.visibleSeqno;
  }

  /** True when opened with `readOnly: true` (every write rejects with CAIRN_READ_ONLY). */
  get readOnly(): boolean {
    return this.#state.readOnly;
  }

  /** True once `close()` was called (every later call rejects with CAIRN_CLOSED). */
  get closed(): boolean {
    return this.#state.closed;
  }

  /** The names of the partitions, sorted by code unit. */
  partitionNames(): string[] {
    return [...this.#registry.trees.keys()].sort();
  }

  /**
   * The handle of partition `name`, created (durably: the registry in keyspace.json is
   * rewritten) when it does not exist. One handle per name: calls resolve the same object.
   *
   * @param name - 1–64 characters of [A-Za-z0-9_.-], not starting with '.' or '-'.
   * @throws TypeError for an invalid name.
   * @throws CairnError CAIRN_CLOSED after close(); CAIRN_POISONED when creating it after an
   *   earlier write failed to reach the disk; CAIRN_NOT_FOUND when it was deleted while
   *   this call waited. A failed registry write rejects with its operating-system error
   *   and poisons the keyspace (whether the registry changed is known only after a reopen).
   */
  async partition(name: string): Promise<Partition> {
    if (!isValidPartitionName(name)) {
      throw new TypeError(`partition name must be 1-64 characters of [A-Za-z0-9_.-] not starting with '.' or '-' (got ${JSON.stringify(name)})`);
    }
    this.#state.checkOpen();
    const known = this.#partitions.get(name);
    if (known !== undefined) return known;
    if (!this.#registry.trees.has(name) && this.#state.readOnly) {
      throw new CairnError(ErrorCodes.NOT_FOUND, `No partition ${name} in this read-only keyspace (it cannot create one)`, { details: { partition: name } });
    }
    if (!this.#registry.trees.has(name)) await this.#registry.create(name, () => this.#writes.visibleSeqno);
    let handle = this.#partitions.get(name);
    if (handle === undefined) {
      const tree = this.#registry.trees.get(name);
      if (tree === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `Partition ${name} was deleted`, { details: { partition: name } });
      handle = newPartition(this.#partitionContext, tree);
      this.#partitions.set(name, handle);
    }
    return handle;
  }

  /**
   * Deletes a partition and all its data, durably: resolves once the registry no longer
   * names it (its files are removed then; what a crash leaves is removed by the next
   * open). Waits for checkpoints in progress. Its handles reject later calls with
   * CAIRN_NOT_FOUND.
   *
   * @throws TypeError for an invalid name.
   * @throws CairnError CAIRN_NOT_FOUND when no such partition exists; CAIRN_CLOSED;
   *   CAIRN_POISONED. A failed registry write rejects with its operating-system error and
   *   poisons the keyspace.
   */
  async deletePartition(name: string): Promise<void> {
    if (!isValidPartitionName(name)) throw new TypeError(`invalid partition name ${JSON.stringify(name)}`);
    this.#state.checkWritable();
    const cutter = this.#cutter;
    await this.#registry.delete(
      name,
      // A checkpoint in progress links this partition's files: let it finish first.
      () => cutter?.idle() ?? Promise.resolve(),
      () => this.#forgetPartition(name),
    );
  }

  /**
   * The keyspace's shape and background work right now, for monitoring. Cheap: no I/O.
   * @throws CairnError CAIRN_CLOSED after close().
   */
  stats(): KeyspaceStats {
    this.#state.checkOpen();
    const partitions: Record<string, PartitionStats> = {};
    for (const [name, tree] of this.#registry.trees) partitions[name] = tree.stats();
    // A read-only keyspace has no active file: its last replayed one stands for it.
    const sealed = this.#journal?.sealedFiles() ?? this.#replayed.slice(0, -1);
    const active = this.#journal?.activeFile() ?? this.#replayed.at(-1) ?? { fileNumber: 0, bytes: 0 };
    const all = Object.values(partitions);
    const sum = (f: (p: PartitionStats) => number): number => all.reduce((n, p) => n + f(p), 0);
    const cache = this.#cache.stats;
    return {
      seqno: this.#writes.visibleSeqno,
      partitions,
      journal: {
        files: sealed.length + 1,
        bytes: sealed.reduce((n, f) => n + f.bytes, active.bytes),
        sealedBytes: sealed.reduce((n, f) => n + f.bytes, 0),
        activeFile: active.fileNumber,
      },
      backPressure: this.#writes.backPressure,
      snapshots: this.#snapshots.size,
      checkpointsInProgress: this.#cutter?.inProgress ?? 0,
      lastBackgroundError: this.#state.lastBackgroundError,
      totals: {
        memtableBytes: sum((p) => p.memtables.bytes),
        segmentBytes: sum((p) => p.segmentBytes),
        estimatedLiveDataBytes: sum((p) => p.estimatedLiveDataBytes),
        pendingCompactionBytes: sum((p) => p.pendingCompactionBytes),
      },
      blockCache: {
        capacityBytes: cache.capacity,
        usedBytes: cache.bytes,
        blocks: cache.blocks,
        hits: cache.hits,
        misses: cache.misses,
        hitRate: cache.hits + cache.misses === 0 ? 0 : cache.hits / (cache.hits + cache.misses),
      },
      openFiles: { open: this.#files.size, max: this.#files.capacity, evictions: this.#files.evictions },
    };
  }

  /**
   * Manual compaction, for reclaiming space after large deletes: flushes the memtables,
   * then rewrites every segment holding keys of `range` (of every key without one) into
   * the partition's bottom level, dropping overwritten versions and tombstones. Resolves
   * once the new version is installed. Automatic compactions of the partition wait
   * meanwhile; reads and writes go on. With the FIFO strategy, which never rewrites data,
   * it only flushes.
   *
   * @param partition - The partition to compact; every partition (one after another) when undefined.
   * @param range - Key bounds (`gt`, `gte`, `lt`, `lte`); every key when undefined.
   * @throws TypeError for a partition of another keyspace; TypeError / RangeError for bad bounds.
   * @throws CairnError CAIRN_CLOSED (also when the keyspace closes while it runs);
   *   CAIRN_NOT_FOUND when the partition was deleted; CAIRN_POISONED. A failed merge rejects
   *   with its error and leaves the partition as it was.
   */
  async compact(partition?: Partition, range?: KeyBounds): Promise<void> {
    if (partition !== undefined && !(partition instanceof Partition)) throw new TypeError('partition must be a Partition of this keyspace');
    const bounds = toBounds(range);
    this.#state.checkWritable();
    const trees = partition === undefined ? [...this.#registry.trees.values()] : [partitionTree(partition, this)];
    for (const tree of trees) {
      try {
        await tree.compactRange(bounds, this.#writes.visibleSeqno);
      } catch (err) {
        // A merge cut short by close() fails with an abort: report the close instead.
        this.#state.checkOpen();
        throw err;
      }
    }
  }

  /**
   * Names of the journal slots: positions of journal consumers (a backup engine's
   * shipper) that keep journal files they have not consumed from deletion.
   */
  journalSlots(): string[] {
    return this.#slots.names();
  }

  /**
   * Removes journal slot `name` for good (durably): journal files kept only for it may be
   * deleted. A shipper started later on this keyspace begins a new stream (and a backup).
   * @throws TypeError for an invalid name; CAIRN_CLOSED; CAIRN_NOT_FOUND when there is no such slot.
   */
  async dropJournalSlot(name: string): Promise<void> {
    if (!isValidSlotName(name)) throw new TypeError(`slot name must be 1-64 characters of [A-Za-z0-9_.-] (got ${JSON.stringify(name)})`);
    this.#state.checkWritable();
    if (this.#slots.get(name) === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `No journal slot named ${name}`, { details: { slot: name } });
    await this.#slots.drop(name);
    this.#collector?.collect();
  }

  /** A new, empty batch of puts and deletes across partitions, committed atomically by `commit()`. */
  batch(): WriteBatch {
    return newWriteBatch(this, this.#writes);
  }

  /**
   * A consistent read view of every partition as of now (`seqno`), for `{ snapshot }` in
   * reads and iterators. It keeps the files it reads alive: release it when done
   * (close() releases the rest).
   * @throws CairnError CAIRN_CLOSED after close().
   */
  snapshot(options?: Record<string, never>): Snapshot {
    optionsObject(options, 'options', []);
    this.#state.checkOpen();
    const snap = newSnapshot(this, this.#writes.visibleSeqno, this.#registry.trees, this.#forgetSnapshot);
    this.#snapshots.add(snap);
    return snap;
  }

  /**
   * Writes every partition's memtables to segments and resolves once they are installed.
   * Not needed for durability (the journal has every write); useful before measuring
   * space, or to let journal GC delete old journal files.
   * @throws CairnError CAIRN_CLOSED; CAIRN_POISONED. A failed flush rejects with its
   *   error and poisons the keyspace.
   */
  async flush(): Promise<void> {
    this.#state.checkWritable();
    await Promise.all([...this.#registry.trees.values()].map((t) => t.flush(this.#writes.visibleSeqno)));
  }

  /**
   * Takes an online checkpoint into `dest` (which must not exist): a directory that opens
   * with Keyspace.open() and holds exactly the writes up to the returned seqno, across all
   * partitions. Writers are held only for the cut (a journal switch and the pinning of
   * each partition's version); readers never wait. Immutable files are hard-linked (copied
   * when `dest` is on another file system); see docs/checkpoints.md.
   *
   * @param dest - The checkpoint directory to create; missing parents are created.
   * @param options - `signal` to abort (the partial checkpoint is removed), `onProgress`.
   * @returns What was linked and copied, the checkpoint's seqno and the write pause.
   * @throws TypeError for an invalid `dest` or option.
   * @throws Error with code EEXIST when `dest` exists (or appears while staging).
   * @throws CairnError CAIRN_ABORTED (name 'AbortError') when `signal` fires;
   *   CAIRN_CLOSED; CAIRN_POISONED. Operating-system failures (ENOSPC, EIO…) keep Node's
   *   codes. On any failure nothing is left at `dest` and the keyspace stays usable.
   */
  async backupTo(dest: string, options?: CheckpointOptions): Promise<CheckpointResult> {
    if (typeof dest !== 'string' || dest.length === 0) throw new TypeError('dest must be a non-empty string');
    const opts = optionsObject<CheckpointOptions>(options, 'options', CHECKPOINT_OPTIONS);
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new TypeError('options.onProgress must be a function');
    this.#state.checkWritable();
    // checkWritable refused a read-only keyspace, the only one without a cutter.
    if (this.#cutter === undefined) throw new CairnError(ErrorCodes.READ_ONLY, 'A read-only keyspace takes no checkpoint');
    return checkpointProtocol()(this.#cutter, dest, opts);
  }

  /**
   * A deep, read-only check of every checksum the keyspace's files carry: each block of
   * every segment and each record of every journal, as of now. It takes a checkpoint
   * inside the keyspace directory (hard links; writers pause only for the cut), reads
   * every file once on the worker threads, and removes the checkpoint.
   * @returns How many segments and journals were checked, and their bytes.
   * @throws CairnError CAIRN_CORRUPTION naming the first damaged file (`details.path`
   *   inside the temporary checkpoint, `details.offset`); CAIRN_CLOSED; CAIRN_POISONED.
   */
  async check(): Promise<CheckResult> {
    const temp = path.join(this.path, `check${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
    await this.backupTo(temp);
    try {
      return await checkKeyspaceFiles(this.#fs, temp, { newestMayBeTorn: false, injected: this.#injectedFs });
    } finally {
      await this.#fs.removeTree(temp).catch(() => undefined);
    }
  }

  /**
   * Waits for in-flight writes and background work, releases snapshots, closes files and
   * releases the LOCK. Memtables are not flushed: the next open replays the journal.
   * Idempotent: every call resolves with the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** `await using ks = await Keyspace.open(dir)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#state.closed = true;
    await this.#writes.idle();
    for (const snap of [...this.#snapshots]) snap.release();
    for (const tree of this.#registry.trees.values()) await tree.close().catch(() => undefined);
    await this.#collector?.idle();
    await this.#journal?.close().catch(() => undefined);
    await this.#lock?.unlock();
  }
}
