// The Keyspace: one directory, one LOCK, one shared journal, and a set of partitions
// (each its own LSM tree). Owns the global sequence number and applies every write in
// journal order. Main-thread object; every public method may be called concurrently.
import * as path from 'node:path';
import type { FileSystem, LockHandle } from '../fs/file-system.js';
import { defaultFileSystem } from '../fs/index.js';
import { mkdirDurable, removeTreeDurable, syncParent } from '../fs/durable.js';
import { CairnError, ErrorCodes, hasCode, throwIfAborted } from '../errors.js';
import { EntryKind } from '../codec/entry.js';
import { BlockCache } from '../segment/block-cache.js';
import { Journal } from '../journal/journal.js';
import { encodeBatch, type BatchOp } from '../journal/record.js';
import { readJournal } from '../journal/journal-reader.js';
import { JOURNAL_HEADER_BYTES } from '../journal/record.js';
import { Tree, type PartitionStats, type ReadView, type TreeHost, type TreeOptions } from '../tree/tree.js';
import { type CompactionStrategy } from '../compaction/choice.js';
import { DEFAULT_LEVELED_CONFIG, LeveledStrategy, type LeveledConfig } from '../compaction/leveled.js';
import { FifoStrategy, type FifoConfig } from '../compaction/fifo.js';
import { runMerge } from '../compaction/run-merge.js';
import { CompactionWorkerPool } from '../compaction/worker-pool.js';
import { type CheckpointOptions, type CheckpointPlan, type CheckpointResult, destinationExists, writeCheckpoint } from '../checkpoint/checkpoint.js';
import {
  backupStagingPrefix,
  isTempName,
  isValidPartitionName,
  journalDir,
  journalFileName,
  KEYSPACE_FILE,
  LOCK_FILE,
  lockPath,
  parseJournalFileName,
  partitionDir,
  partitionsDir,
  JOURNAL_DIR,
  PARTITIONS_DIR,
} from './file-names.js';
import { type KeyspaceMeta, newKeyspaceMeta, readKeyspaceMeta, writeKeyspaceMeta } from './keyspace-meta.js';
import { type Durability, optionsObject, positiveInteger, toDurability } from './arguments.js';
import { Partition } from './partition.js';
import { Snapshot } from './snapshot.js';
import { WriteBatch } from './write-batch.js';

export interface KeyspaceOptions {
  /** The file-system seam; defaults to the native addon, or the pure-TypeScript one when it cannot load. */
  fs?: FileSystem;
  /** Default durability of writes: 'buffered' (handed to the OS; survives a process crash) or 'sync' (fdatasync). */
  durability?: Durability;
  /** Memtable size at which a partition freezes it and flushes it to a segment. Default 16 MiB. */
  memtableBytes?: number;
  /** Frozen memtables per partition before writers wait for a flush. Default 2. */
  maxImmutableMemtables?: number;
  /** Journal file size at which it is sealed and a new one started. Default 16 MiB. */
  journalFileBytes?: number;
  /**
   * When sealed journals exceed this many bytes, the partitions holding back the oldest
   * one are flushed so it can be deleted. Default 64 MiB.
   */
  maxJournalBytes?: number;
  /** Byte budget of the shared block cache. Default 64 MiB. */
  blockCacheBytes?: number;
  /** Target data block size in segments. Default 4 KiB. */
  blockSize?: number;
  /** Bloom filter bits per key. Default 10 (about 1% false positives). */
  bloomBitsPerKey?: number;
  /** How segments are compacted. Default: leveled with its defaults. */
  compaction?: CompactionOptions;
}

/**
 * Compaction policy. 'leveled' (the default) keeps reads fast and space bounded; 'fifo'
 * keeps at most `maxBytes` of segments (and optionally only those younger than `ttlMs`),
 * dropping the oldest whole segments: for caches and logs.
 */
export type CompactionOptions =
  | ({ strategy?: 'leveled' } & Partial<LeveledConfig> & CompactionRunOptions)
  | ({ strategy: 'fifo' } & Partial<FifoConfig> & Pick<FifoConfig, 'maxBytes'> & CompactionRunOptions);

/** Options of compaction that apply to every strategy. */
export interface CompactionRunOptions {
  /** While a compaction runs and level 0 holds this many segments, writers wait. Default max(12, 3 × level0Trigger). */
  level0StopWrites?: number;
  /**
   * Run merges on the main thread instead of the shared worker pool (always the case
   * with an injected `fs`, which a worker cannot share). Default false.
   */
  inProcess?: boolean;
}

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
}

/** Options of one write (`put`, `delete`, `batch.commit`). */
export interface WriteOptions {
  /**
   * 'buffered': resolve once the journal record is handed to the operating system (it
   * survives a crash of the process, not of the machine); 'sync': resolve after fdatasync.
   * Default: the keyspace's `durability` option.
   */
  durability?: Durability;
}

interface ResolvedOptions extends TreeOptions {
  strategy: CompactionStrategy;
  /** Merges run on the main thread (an injected FileSystem must see them) instead of the shared pool. */
  inProcessMerges: boolean;
  durability: Durability;
  journalFileBytes: number;
  maxJournalBytes: number;
  blockCacheBytes: number;
}

/** One operation of a write, resolved to its tree; also what the journal record encodes. */
export interface TreeOp extends BatchOp {
  tree: Tree;
  kind: EntryKind;
  key: Buffer;
  value: Buffer;
}

const SYNC = { sync: true } as const;
const BUFFERED = { sync: false } as const;


/**
 * An open keyspace: a directory holding partitions (each its own LSM tree) that share one
 * journal and one sequence of seqnos. Open with `Keyspace.open`; close with `close()`.
 */
export class Keyspace {
  /** The keyspace directory, as an absolute path. */
  readonly path: string;
  /** The keyspace's UUID from keyspace.json. */
  readonly id: string;
  readonly #fs: FileSystem;
  readonly #options: ResolvedOptions;
  readonly #lock: LockHandle;
  readonly #journal: Journal;
  readonly #meta: KeyspaceMeta;
  readonly #trees = new Map<string, Tree>();
  readonly #partitions = new Map<string, Partition>();
  readonly #snapshots = new Set<Snapshot>();
  /** Next seqno to assign. */
  #nextSeqno: number;
  /** Highest seqno applied to the memtables: what a new reader sees. */
  #visibleSeqno: number;
  #poisoned: unknown;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Time writers spent waiting for flushes (back-pressure), and how many writes waited. */
  #stalledMs = 0;
  #stalls = 0;
  /** Writes handed to the journal and not yet settled; close() waits for them. */
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];
  /** Sealed journal files a checkpoint in progress is linking: journal GC leaves them alone. */
  readonly #journalPins = new Map<number, number>();
  /** The running journal GC pass, if any; close() waits for it. */
  #collecting: Promise<void> | undefined;
  /** A flush finished while a pass was running: run another when it ends. */
  #collectAgain = false;
  /** Checkpoints in progress; a partition is deleted only when none is. */
  #checkpoints = 0;
  #checkpointsIdle: (() => void)[] = [];
  /** Serialises changes to the partition registry (keyspace.json). */
  #registryChain: Promise<unknown> = Promise.resolve();
  readonly #host: TreeHost;

  private constructor(init: {
    path: string;
    fs: FileSystem;
    options: ResolvedOptions;
    lock: LockHandle;
    journal: Journal;
    meta: KeyspaceMeta;
    trees: Map<string, Tree>;
    lastSeqno: number;
    host: TreeHost;
  }) {
    this.path = init.path;
    this.id = init.meta.id;
    this.#fs = init.fs;
    this.#options = init.options;
    this.#lock = init.lock;
    this.#journal = init.journal;
    this.#meta = init.meta;
    this.#trees = init.trees;
    this.#nextSeqno = init.lastSeqno + 1;
    this.#visibleSeqno = init.lastSeqno;
    this.#host = init.host;
  }

  /**
   * Opens the keyspace in `dir`, creating it when the directory is missing or empty.
   * Holds the directory's LOCK until close, replays the journals over the segments, and
   * removes files a crash left behind.
   *
   * @param dir - The keyspace directory; relative paths resolve against the working directory.
   * @param options - See {@link KeyspaceOptions}; every field is optional.
   * @returns The open keyspace.
   * @throws TypeError / RangeError for an invalid `dir` or option, before any I/O.
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
    const fs = optionsObject<KeyspaceOptions>(options, 'options').fs ?? defaultFileSystem();
    const root = path.resolve(dir);

    const existing = await fs.statOrUndefined(root);
    if (existing === undefined) await mkdirDurable(fs, root);
    else if (!existing.isDirectory) throw new CairnError(ErrorCodes.NOT_A_KEYSPACE, `${root} is not a directory`, { details: { path: root } });
    const names = await fs.readdir(root);
    const isKeyspace = names.includes(KEYSPACE_FILE);
    if (!isKeyspace && names.some((n) => n !== LOCK_FILE && n !== JOURNAL_DIR && n !== PARTITIONS_DIR && !isTempName(n))) {
      throw new CairnError(ErrorCodes.NOT_A_KEYSPACE, `${root} is not empty and holds no ${KEYSPACE_FILE}`, { details: { path: root } });
    }

    const lock = await fs.lock(lockPath(root));
    await removeStaleBackupStaging(fs, root);
    const cache = new BlockCache(resolved.blockCacheBytes);
    const trees = new Map<string, Tree>();
    let journal: Journal | undefined;
    let keyspace: Keyspace | undefined;
    let cacheIds = 0;
    const host: TreeHost = {
      fs,
      cache,
      nextCacheId: () => ++cacheIds,
      poison: (err) => keyspace?.poison(err),
      flushed: () => keyspace?.collectJournals(),
      compaction: {
        strategy: resolved.strategy,
        // Merges run on a worker thread, except with an injected file system (tests, fault
        // injection), which a worker cannot share: then in-process, through that seam.
        merge: (job) => (resolved.inProcessMerges ? runMerge(fs, job) : sharedCompactionPool().merge(job)),
      },
    };
    try {
      const meta = isKeyspace ? await readKeyspaceMeta(fs, root) : await createLayout(fs, root);
      for (const [name, record] of Object.entries(meta.partitions)) {
        trees.set(name, await Tree.open(host, partitionDir(root, name), name, record.id, resolved));
      }
      await removeUnregisteredPartitions(fs, root, meta);
      const recovered = await replayJournals(fs, root, trees);
      let lastSeqno = recovered.lastSeqno;
      for (const tree of trees.values()) lastSeqno = Math.max(lastSeqno, tree.persistedSeqno);
      journal = await Journal.open(fs, journalDir(root), {
        maxFileBytes: resolved.journalFileBytes,
        firstFileNumber: recovered.highestFileNumber + 1,
        nameFor: journalFileName,
        sealed: recovered.sealed,
      });
      keyspace = new Keyspace({ path: root, fs, options: resolved, lock, journal, meta, trees, lastSeqno, host });
      for (const tree of trees.values()) {
        tree.maybeFreeze(lastSeqno);
        tree.scheduleCompaction();
      }
      return keyspace;
    } catch (err) {
      for (const tree of trees.values()) await tree.close().catch(() => undefined);
      await journal?.close().catch(() => undefined);
      await lock.unlock().catch(() => undefined);
      throw err;
    }
  }

  /** Sequence number of the newest write visible to readers. */
  get seqno(): number {
    return this.#visibleSeqno;
  }

  /** True once `close()` was called (every later call rejects with CAIRN_CLOSED). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The names of the partitions, sorted by code unit. */
  partitionNames(): string[] {
    return [...this.#trees.keys()].sort();
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
    this.#checkOpen();
    const known = this.#partitions.get(name);
    if (known !== undefined) return known;
    if (!this.#trees.has(name)) await this.#registryChange(() => this.#createPartition(name));
    let handle = this.#partitions.get(name);
    if (handle === undefined) {
      const tree = this.#trees.get(name);
      if (tree === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `Partition ${name} was deleted`, { details: { partition: name } });
      handle = new Partition(this, tree);
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
    this.#checkWritable();
    await this.#registryChange(async () => {
      const tree = this.#trees.get(name);
      if (tree === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `No partition named ${name}`, { details: { partition: name } });
      // A checkpoint in progress links this partition's files: let it finish first.
      while (this.#checkpoints > 0) await new Promise<void>((resolve) => this.#checkpointsIdle.push(resolve));
      const record = this.#meta.partitions[name];
      delete this.#meta.partitions[name];
      try {
        await writeKeyspaceMeta(this.#fs, this.path, this.#meta);
      } catch (err) {
        this.#meta.partitions[name] = record;
        // The rewrite may have failed after its rename (in the directory fsync), so the
        // registry on disk is unknown until a reopen reads it: like a failed fsync, poison.
        this.poison(err);
        throw err;
      }
      this.#trees.delete(name);
      this.#partitions.get(name)?._markDeleted();
      this.#partitions.delete(name);
      await tree.close();
      // The deletion is committed. If removing the files is cut short, the next open (or a
      // new partition of the same name) removes the rest: the registry no longer names it.
      await removeTreeDurable(this.#fs, partitionDir(this.path, name)).catch(() => undefined);
    });
  }

  /**
   * The keyspace's shape and background work right now, for monitoring. Cheap: no I/O.
   * @throws CairnError CAIRN_CLOSED after close().
   */
  stats(): KeyspaceStats {
    this.#checkOpen();
    const partitions: Record<string, PartitionStats> = {};
    for (const [name, tree] of this.#trees) partitions[name] = tree.stats();
    const sealed = this.#journal.sealedFiles();
    const active = this.#journal.activeFile();
    return {
      seqno: this.#visibleSeqno,
      partitions,
      journal: {
        files: sealed.length + 1,
        bytes: sealed.reduce((n, f) => n + f.bytes, active.bytes),
        sealedBytes: sealed.reduce((n, f) => n + f.bytes, 0),
        activeFile: active.fileNumber,
      },
      backPressure: { stalledWrites: this.#stalls, stalledMs: this.#stalledMs },
      snapshots: this.#snapshots.size,
      checkpointsInProgress: this.#checkpoints,
    };
  }

  /** A new, empty batch of puts and deletes across partitions, committed atomically by `commit()`. */
  batch(): WriteBatch {
    return new WriteBatch(this);
  }

  /**
   * A consistent read view of every partition as of now (`seqno`), for `{ snapshot }` in
   * reads and iterators. It keeps the files it reads alive: release it when done
   * (close() releases the rest).
   * @throws CairnError CAIRN_CLOSED after close().
   */
  snapshot(): Snapshot {
    this.#checkOpen();
    const snap = new Snapshot(this, this.#visibleSeqno, this.#trees);
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
    this.#checkWritable();
    await Promise.all([...this.#trees.values()].map((t) => t.flush(this.#visibleSeqno)));
  }

  /**
   * @internal Journal GC. A sealed journal is deleted once every partition has persisted
   * (in segments) every write it holds; a partition whose memtables are empty has
   * persisted everything up to the visible seqno. Files pinned by a checkpoint wait. If
   * the sealed journals still exceed maxJournalBytes, the partitions holding back the
   * oldest one are flushed, which calls this again when done.
   */
  collectJournals(): void {
    if (this.#closed) return;
    if (this.#collecting !== undefined) {
      // The running pass may have judged a file still needed before this flush landed.
      this.#collectAgain = true;
      return;
    }
    this.#collecting = this.#collectJournals()
      .catch(() => undefined)
      .finally(() => {
        this.#collecting = undefined;
        if (this.#collectAgain) {
          this.#collectAgain = false;
          this.collectJournals();
        }
      });
  }

  /**
   * Journal records with a seqno below this are in segments for every partition: the
   * oldest seqno any memtable still holds. It only grows (new writes get larger seqnos
   * than every sealed file holds), so once a sealed file is obsolete it stays obsolete —
   * which is what lets a concurrent cut and this GC agree without a lock.
   */
  #journalNeededFrom(): number {
    let needed = Infinity;
    for (const tree of this.#trees.values()) needed = Math.min(needed, tree.oldestUnflushedSeqno ?? Infinity);
    return needed;
  }

  async #collectJournals(): Promise<void> {
    let sealedBytes = 0;
    for (const file of this.#journal.sealedFiles()) {
      const obsolete = file.lastSeqno === undefined || file.lastSeqno < this.#journalNeededFrom();
      if (obsolete && !this.#journalPins.has(file.fileNumber) && !this.#closed) await this.#journal.removeSealed(file.fileNumber);
      else sealedBytes += file.bytes;
    }
    if (sealedBytes <= this.#options.maxJournalBytes || this.#poisoned !== undefined || this.#closed) return;
    const oldest = this.#journal.sealedFiles()[0];
    if (oldest?.lastSeqno === undefined) return;
    for (const tree of this.#trees.values()) {
      const unflushed = tree.oldestUnflushedSeqno;
      if (unflushed !== undefined && unflushed <= oldest.lastSeqno) void tree.flush(this.#visibleSeqno).catch(() => undefined);
    }
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
    const opts = optionsObject<CheckpointOptions>(options, 'options');
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new TypeError('options.onProgress must be a function');
    const startedAt = performance.now();
    this.#checkWritable();
    throwIfAborted(opts.signal);
    const target = path.resolve(dest);
    if ((await this.#fs.statOrUndefined(target)) !== undefined) throw destinationExists(target);
    await mkdirDurable(this.#fs, path.dirname(target));
    this.#checkWritable();
    this.#checkpoints++;
    try {
      do {
        await this.#journal.prepareCut();
        this.#checkWritable();
      } while (!this.#journal.canCut());
      const plan = this.#cut();
      try {
        return await writeCheckpoint(this.#fs, plan, target, opts, startedAt);
      } finally {
        plan.release();
      }
    } finally {
      if (--this.#checkpoints === 0) for (const wake of this.#checkpointsIdle.splice(0)) wake();
    }
  }

  /**
   * The cut, synchronous from start to end so that nothing can interleave: the journal
   * switches to a fresh file (the old one keeps every write up to now and is sealed off
   * the write path), and each partition's current view is pinned. Writes applied so far
   * are exactly those in the sealed and older journals, so the checkpoint's seqno is the
   * visible seqno at this instant.
   */
  #cut(): CheckpointPlan {
    const started = process.hrtime.bigint();
    const rotation = this.#journal.cut();
    const seqno = this.#visibleSeqno;
    const views: { tree: Tree; view: ReadView }[] = [];
    for (const tree of this.#trees.values()) views.push({ tree, view: tree.acquireView() });
    const writePauseMicros = Number(process.hrtime.bigint() - started) / 1000;
    const neededFrom = this.#journalNeededFrom();
    const journals = this.#journal
      .sealedFiles()
      .filter((j) => j.fileNumber <= rotation.sealed.fileNumber && j.lastSeqno !== undefined && j.lastSeqno >= neededFrom)
      .map((j) => ({ fileNumber: j.fileNumber, path: j.path, bytes: j.bytes }));
    const meta: KeyspaceMeta = structuredClone(this.#meta);
    for (const name of Object.keys(meta.partitions)) if (!this.#trees.has(name)) delete meta.partitions[name];
    for (const j of journals) this.#journalPins.set(j.fileNumber, (this.#journalPins.get(j.fileNumber) ?? 0) + 1);
    let released = false;
    return {
      sourceRoot: this.path,
      seqno,
      meta,
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
        for (const j of journals) {
          const pins = (this.#journalPins.get(j.fileNumber) ?? 0) - 1;
          if (pins > 0) this.#journalPins.set(j.fileNumber, pins);
          else this.#journalPins.delete(j.fileNumber);
        }
        this.collectJournals();
      },
    };
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

  async #close(): Promise<void> {
    this.#closed = true;
    while (this.#inflight > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    for (const snap of [...this.#snapshots]) snap.release();
    for (const tree of this.#trees.values()) await tree.close().catch(() => undefined);
    while (this.#collecting !== undefined) await this.#collecting;
    await this.#journal.close().catch(() => undefined);
    await this.#lock.unlock();
  }

  /**
   * @internal Applies ops atomically: one journal record, then the memtables, in journal
   * order. Not an async function: the common path adds no promise of its own to the
   * journal's, which matters at a few microseconds per awaited put.
   */
  _write(ops: TreeOp[], options: WriteOptions | undefined): Promise<void> {
    try {
      const durability = options === undefined ? this.#options.durability : toDurability(options.durability, this.#options.durability);
      this.#checkWritable();
      for (let i = 0; i < ops.length; i++) {
        if (ops[i].tree.waitForRoom() !== undefined) return this.#writeWhenRoom(ops, durability);
      }
      return this.#append(ops, durability);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Back-pressure: waits until every partition written to has room, then appends. */
  async #writeWhenRoom(ops: TreeOp[], durability: Durability): Promise<void> {
    const started = performance.now();
    try {
      for (const op of ops) {
        for (let wait = op.tree.waitForRoom(); wait !== undefined; wait = op.tree.waitForRoom()) {
          await wait;
          this.#checkWritable();
        }
      }
    } finally {
      this.#stalledMs += performance.now() - started;
      this.#stalls++;
    }
    return this.#append(ops, durability);
  }

  #append(ops: TreeOp[], durability: Durability): Promise<void> {
    const seqno = this.#nextSeqno;
    this.#nextSeqno += ops.length;
    const record = encodeBatch(seqno, ops);
    this.#inflight++;
    return this.#journal
      .append(record, durability === 'sync' ? SYNC : BUFFERED, () => {
        for (let i = 0; i < ops.length; i++) {
          const op = ops[i];
          op.tree.apply(op.key, seqno + i, op.kind, op.value);
        }
        this.#visibleSeqno = seqno + ops.length - 1;
        for (let i = 0; i < ops.length; i++) ops[i].tree.maybeFreeze(this.#visibleSeqno);
      })
      .then(this.#appended, this.#appendFailed);
  }

  readonly #appended = (): void => {
    if (--this.#inflight === 0 && this.#idleWaiters.length > 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  };

  readonly #appendFailed = (err: unknown): never => {
    this.#appended();
    if (hasCode(err, ErrorCodes.POISONED)) this.poison((err as Error).cause ?? err);
    throw err;
  };

  /** @internal Marks the keyspace unwritable after a failed fsync, flush or manifest write. */
  poison(cause: unknown): void {
    this.#poisoned ??= cause;
  }

  /** @internal */
  _checkOpen(): void {
    this.#checkOpen();
  }

  /** @internal */
  get _visibleSeqno(): number {
    return this.#visibleSeqno;
  }

  /** @internal */
  _forgetSnapshot(snap: Snapshot): void {
    this.#snapshots.delete(snap);
  }

  #checkOpen(): void {
    if (this.#closed) throw new CairnError(ErrorCodes.CLOSED, 'The keyspace is closed');
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#poisoned !== undefined) {
      throw new CairnError(ErrorCodes.POISONED, 'An earlier write failed to reach the disk; reopen the keyspace', { cause: this.#poisoned });
    }
  }

  #registryChange<T>(change: () => Promise<T>): Promise<T> {
    const next = this.#registryChain.then(change);
    this.#registryChain = next.catch(() => undefined);
    return next;
  }

  async #createPartition(name: string): Promise<void> {
    if (this.#trees.has(name)) return;
    this.#checkWritable();
    const id = this.#meta.nextPartitionId;
    const dir = partitionDir(this.path, name);
    // A leftover directory of that name can only be debris of a crashed create or delete.
    await this.#fs.removeTree(dir);
    const tree = await Tree.create(this.#host, dir, name, id, this.#options, this.#visibleSeqno);
    this.#meta.nextPartitionId = id + 1;
    this.#meta.partitions[name] = { id, createdAt: new Date().toISOString() };
    try {
      // The registry entry is the commit point: until it is durable the partition does not exist.
      await writeKeyspaceMeta(this.#fs, this.path, this.#meta);
    } catch (err) {
      delete this.#meta.partitions[name];
      await tree.close();
      // As in deletePartition: the registry on disk is unknown until reopen. Nothing is
      // deleted here; the next open removes the directory if the registry does not name it.
      this.poison(err);
      throw err;
    }
    this.#trees.set(name, tree);
  }
}

/**
 * One pool of compaction threads for the whole process, started on first use: keyspaces
 * share it (a process with many keyspaces still runs at most that many merges at once)
 * and opening a keyspace never pays for starting threads. Idle workers do not keep the
 * process alive.
 */
let compactionPool: CompactionWorkerPool | undefined;

function sharedCompactionPool(): CompactionWorkerPool {
  compactionPool ??= new CompactionWorkerPool();
  return compactionPool;
}

function resolveOptions(input: unknown): ResolvedOptions {
  const o = optionsObject<KeyspaceOptions>(input, 'options');
  if (o.fs !== undefined && (typeof o.fs !== 'object' || o.fs === null || typeof (o.fs as FileSystem).open !== 'function')) {
    throw new TypeError('options.fs must be a FileSystem');
  }
  const c = optionsObject<CompactionOptions>(o.compaction, 'compaction');
  const strategy: CompactionStrategy = c.strategy === 'fifo' ? new FifoStrategy(c as FifoConfig) : new LeveledStrategy(c as Partial<LeveledConfig>);
  const level0Trigger = c.strategy === 'fifo' ? 4 : ((c as Partial<LeveledConfig>).level0Trigger ?? DEFAULT_LEVELED_CONFIG.level0Trigger);
  return {
    strategy,
    inProcessMerges: o.fs !== undefined || c.inProcess === true,
    level0StopWrites: positiveInteger(c.level0StopWrites, 'compaction.level0StopWrites', Math.max(12, 3 * level0Trigger)),
    durability: toDurability(o.durability, 'buffered'),
    memtableBytes: positiveInteger(o.memtableBytes, 'memtableBytes', 16 * 1024 * 1024, 1024),
    maxImmutableMemtables: positiveInteger(o.maxImmutableMemtables, 'maxImmutableMemtables', 2),
    // Journals are most of the space a modest keyspace takes beyond its data: 16 MiB
    // files and a 64 MiB budget keep that small (switching files costs no write pause).
    journalFileBytes: positiveInteger(o.journalFileBytes, 'journalFileBytes', 16 * 1024 * 1024, 4096),
    maxJournalBytes: positiveInteger(o.maxJournalBytes, 'maxJournalBytes', 64 * 1024 * 1024, 4096),
    blockCacheBytes: positiveInteger(o.blockCacheBytes, 'blockCacheBytes', 64 * 1024 * 1024, 0),
    blockSize: positiveInteger(o.blockSize, 'blockSize', 4096, 256),
    bloomBitsPerKey: positiveInteger(o.bloomBitsPerKey, 'bloomBitsPerKey', 10, 0),
  };
}

/** A new keyspace: directories first, keyspace.json last (its presence marks a complete keyspace). */
async function createLayout(fs: FileSystem, root: string): Promise<KeyspaceMeta> {
  for (const name of await fs.readdir(root)) {
    if (name !== LOCK_FILE) await fs.removeTree(path.join(root, name));
  }
  await mkdirDurable(fs, journalDir(root));
  await mkdirDurable(fs, partitionsDir(root));
  const meta = newKeyspaceMeta();
  await writeKeyspaceMeta(fs, root, meta);
  await syncParent(fs, root);
  return meta;
}

/** Partition directories the registry does not name are debris of a crashed create or delete. */
async function removeUnregisteredPartitions(fs: FileSystem, root: string, meta: KeyspaceMeta): Promise<void> {
  for (const name of await fs.readdir(partitionsDir(root))) {
    if (!Object.hasOwn(meta.partitions, name)) await removeTreeDurable(fs, path.join(partitionsDir(root), name));
  }
}

interface Recovered {
  lastSeqno: number;
  highestFileNumber: number;
  sealed: { fileNumber: number; firstSeqno: number | undefined; lastSeqno: number | undefined; bytes: number }[];
}

/**
 * Replays every journal, oldest first, into the memtables of the partitions it names,
 * skipping writes a partition already persisted in its segments. A torn tail of the last
 * journal (a crash mid-write) is cut off so it can never sit in the middle of the log.
 */
async function replayJournals(fs: FileSystem, root: string, trees: Map<string, Tree>): Promise<Recovered> {
  const dir = journalDir(root);
  const byId = new Map<number, Tree>();
  for (const tree of trees.values()) byId.set(tree.id, tree);
  const numbers: number[] = [];
  for (const name of await fs.readdir(dir)) {
    const n = parseJournalFileName(name);
    if (n !== undefined) numbers.push(n);
    else if (isTempName(name)) await fs.unlink(path.join(dir, name));
  }
  numbers.sort((a, b) => a - b);
  // Trailing files holding no record are spares created ahead of a switch (or files whose
  // creation a crash cut short): remove them, so that "last" means the last file that
  // received writes, the only one allowed a torn tail.
  while (numbers.length > 0) {
    const file = path.join(dir, journalFileName(numbers[numbers.length - 1]));
    if ((await fs.stat(file)).size > JOURNAL_HEADER_BYTES) break;
    await fs.unlink(file);
    numbers.pop();
  }
  let lastSeqno = 0;
  const sealed: Recovered['sealed'] = [];
  for (let i = 0; i < numbers.length; i++) {
    const file = path.join(dir, journalFileName(numbers[i]));
    const isLast = i === numbers.length - 1;
    const reading = readJournal(fs, file, { isLast });
    for await (const record of reading.records) {
      for (let j = 0; j < record.ops.length; j++) {
        const op = record.ops[j];
        const seqno = record.seqno + j;
        const tree = byId.get(op.partitionId);
        if (tree !== undefined && seqno > tree.persistedSeqno) tree.apply(op.key, seqno, op.kind, op.value);
      }
      lastSeqno = Math.max(lastSeqno, record.seqno + record.ops.length - 1);
    }
    const end = await reading.end;
    if (end.tornTail !== undefined) {
      const handle = await fs.open(file, 'r+');
      try {
        await handle.truncate(end.validBytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    sealed.push({ fileNumber: numbers[i], firstSeqno: end.firstSeqno, lastSeqno: end.lastSeqno, bytes: end.validBytes });
  }
  return { lastSeqno, highestFileNumber: numbers.length > 0 ? numbers[numbers.length - 1] : 0, sealed };
}

/**
 * Deletes what a BackupEngine killed mid-backup left beside the keyspace: checkpoints
 * staged under `<root>.tmp-backup-*`. Only the lock holder makes them, and the caller
 * holds the lock now, so none is in use. Best effort: a parent that cannot be listed, or
 * a tree that will not go, is left for the next open.
 */
async function removeStaleBackupStaging(fs: FileSystem, root: string): Promise<void> {
  const prefix = path.basename(backupStagingPrefix(root));
  const parent = path.dirname(root);
  const names = await fs.readdir(parent).catch(() => [] as string[]);
  for (const name of names) if (name.startsWith(prefix)) await fs.removeTree(path.join(parent, name)).catch(() => undefined);
}
