// One partition's LSM tree: the active and immutable memtables, the current Version, the
// flush of memtables into level-0 segments, and the reference counts that keep segment
// files alive while any version, view (snapshot, iterator) or checkpoint still uses them.
// Main-thread only. Writes are applied synchronously; flushes run one at a time.
import type { FileSystem } from '../fs/file-system.js';
import type { Entry } from '../codec/entry.js';
import { EntryKind } from '../codec/entry.js';
import { RangeTombstones, keySuccessor } from '../codec/range-tombstones.js';
import { type DataOpKind, JournalOpKind } from '../journal/record.js';
import { Memtable } from '../memtable/memtable.js';
import { SegmentReader } from '../segment/segment-reader.js';
import type { BlockCache } from '../segment/block-cache.js';
import type { OpenFiles } from '../segment/open-files.js';
import {
  isTempName,
  manifestPath,
  parseManifestFileName,
  parseSegmentFileName,
  segmentPath,
  segmentsDir,
} from '../layout/file-names.js';
import { mkdirDurable } from '../fs/durable.js';
import { type SegmentDescriptor, type VersionState, readCurrentManifest, writeManifest } from './manifest.js';
import { type EntryCursor, type KeyRange, cursorOutsideTombstones } from './merge.js';
import { Version } from './version.js';
import { hasCode, isWriteFailure } from '../errors.js';
import { type Choice, type CompactionStrategy, applyChoice, choiceFiles, mergeOrder } from '../compaction/choice.js';
import { estimateOutputCount, type MergeJob } from '../compaction/run-merge.js';
import type { SegmentMeta } from '../segment/properties.js';
import { type FlushJob, packForFlush } from './flush-job.js';
import * as path from 'node:path';

export interface TreeOptions {
  /** Freeze the active memtable once it holds about this many bytes. */
  memtableBytes: number;
  /** Writes wait (back-pressure) while this many frozen memtables await their flush. */
  maxImmutableMemtables: number;
  blockSize: number;
  bloomBitsPerKey: number;
  /** While a compaction runs and level 0 holds this many segments, writers wait. */
  level0StopWrites: number;
  /** Open without changing the directory: leftover files stay, nothing is flushed or compacted. */
  readOnly?: boolean;
}

/** What the tree needs from its keyspace. */
export interface TreeHost {
  readonly fs: FileSystem;
  readonly cache: BlockCache;
  /** The keyspace's budget of open segment files (maxOpenFiles). */
  readonly files: OpenFiles;
  /**
   * A keyspace-unique id for a segment reader's blocks in the shared cache: segment file
   * numbers are per partition, so they cannot key a cache shared by all partitions.
   */
  nextCacheId(): number;
  /** A flush installed a new version: the keyspace may now delete journals it no longer needs. */
  flushed(): void;
  /** Writes a flush's segment (on a worker thread, or in-process through an injected seam: see flush-job.ts). */
  flush(job: FlushJob): Promise<SegmentMeta>;
  /** The compaction policy and where merges run (a worker pool, or in-process). */
  readonly compaction: {
    readonly strategy: CompactionStrategy;
    merge(job: MergeJob): Promise<SegmentDescriptor[]>;
  };
  /**
   * A flush or manifest write failed to reach the disk: the keyspace refuses further
   * writes. `operation` names what failed, for the poison's message.
   */
  poison(err: unknown, operation: string): void;
  /** A flush or compaction failed without harm to what is on disk; the tree retries it. */
  backgroundError(failure: BackgroundFailure): void;
}

/** A failed flush or compaction, retried after `retryInMs`. */
export interface BackgroundFailure {
  operation: 'flush' | 'compaction';
  partition: string;
  error: unknown;
  /** Consecutive failures of this operation in this partition, this one included. */
  attempt: number;
  retryInMs: number;
}

/** A consistent set of sources to read from; holds a reference on its version until released. */
export interface ReadView {
  /** Newest first. Frozen memtables never change; the active one only gains newer seqnos. */
  readonly memtables: readonly Memtable[];
  readonly version: Version;
}

interface FrozenMemtable {
  memtable: Memtable;
  /** Every write to this partition with seqno <= freezeSeqno is in this or an older memtable. */
  freezeSeqno: number;
}

/** Per-partition figures of `ks.stats()`. */
/** One partition's part of `ks.stats()`. */
export interface PartitionStats {
  /** Every write to the partition with a seqno up to this one is in its segments. */
  persistedSeqno: number;
  /** Per level, from 0: segment count, bytes and entries (tombstones included). */
  levels: { level: number; segments: number; bytes: number; entries: number }[];
  /** Segments and their bytes over all levels. */
  segments: number;
  segmentBytes: number;
  /** Memtables in memory (the active one and those waiting for a flush) and their bytes. */
  memtables: { count: number; bytes: number };
  /** Whether a flush or a compaction is running now. */
  flushing: boolean;
  compacting: boolean;
  /** Compactions the strategy would start now (besides a running one). */
  pendingCompactions: number;
  /** Bytes of segments the strategy wants compacted (RocksDB's estimate-pending-compaction-bytes). */
  pendingCompactionBytes: number;
  /** Estimated bytes of live data in segments (RocksDB's estimate-live-data-size; see docs/design.md). */
  estimatedLiveDataBytes: number;
  /** Compactions finished since open (manual ones included). */
  compactionsDone: number;
  /** Versions still referenced by snapshots, iterators or checkpoints (the current one included). */
  liveVersions: number;
}

/** Compactions one tree runs at once (they share the process's worker pool with every other tree). */
const MAX_CONCURRENT_COMPACTIONS = 2;
/** A flush() caller's outcome when the flush loop ended (rather than an attempt failing). */
const FLUSHED = Symbol('flushed');

/** Back-off before retrying failed background work: doubling from 100 ms, at most 30 s. */
function retryDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** (attempt - 1), 30_000);
}

/** setTimeout's longest delay; a later wake-up is reached in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A flush packs its memtable on the main thread for at most about this long before letting other work run. */
const FLUSH_SLICE_MS = 0.5;
const EMPTY = Buffer.alloc(0);

/** The newest range delete of `memtable` over `key` at or below readSeqno, when newer than `floor`; else -1. */
function coveringSeqno(memtable: Memtable, key: Buffer, readSeqno: number, floor: number): number {
  const tombstones = memtable.rangeTombstones;
  return tombstones.maxSeqno > floor ? tombstones.coveringSeqno(key, readSeqno) : -1;
}

export class Tree {
  private active = new Memtable();
  private readonly frozen: FrozenMemtable[] = [];
  private current: Version;
  private manifestNumber: number;
  private nextFileNumber: number;
  /** References per version (the current one holds one for being current). */
  private readonly versionRefs = new Map<Version, number>();
  /** Live versions containing each segment file. At zero, the file is obsolete and removed. */
  private readonly fileRefs = new Map<number, number>();
  private readonly readers = new Map<number, SegmentReader>();
  private flushing: Promise<void> | undefined;
  /** Running compactions and the segments each reads (their union is the strategy's busy set). */
  private readonly compactions = new Map<Promise<void>, readonly number[]>();
  private compactionFiles: ReadonlySet<number> = new Set();
  private readonly compactionAbort = new AbortController();
  /** Manual compactions waiting or running: automatic ones start only when none is. */
  private manualCompactions = 0;
  /** Set by a failed compaction until its retry timer fires. */
  private compactionBackoff = false;
  private compactionRetry: NodeJS.Timeout | undefined;
  /** Consecutive failures, for the back-off. */
  private compactionFailures = 0;
  private flushFailures = 0;
  /** Resolved with the error of the next failed flush attempt (flush() callers race it against the loop). */
  private flushFailed: { promise: Promise<unknown>; resolve(err: unknown): void } | undefined;
  /** Back-off pauses of the flush loop; close() cuts them short. */
  private readonly pauses = new Set<() => void>();
  private compactionsDone = 0;
  /** Wakes scheduleCompaction when the strategy's choice changes with time alone (FIFO expiry). */
  private wakeTimer: NodeJS.Timeout | undefined;
  /** Serialises version installs (flushes and compactions both write manifests). */
  private installing: Promise<void> = Promise.resolve();
  private readonly retiring = new Set<Promise<void>>();
  /** Retired manifests whose removal failed: tried again at the next install. */
  private readonly staleManifests = new Set<number>();
  private roomWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private failure: unknown;
  private closed = false;

  private constructor(
    private readonly host: TreeHost,
    readonly root: string,
    readonly name: string,
    readonly id: number,
    private readonly options: TreeOptions,
    state: VersionState,
    manifestNumber: number,
    readers: Map<number, SegmentReader>,
  ) {
    this.manifestNumber = manifestNumber;
    this.nextFileNumber = state.nextFileNumber;
    for (const [n, reader] of readers) this.readers.set(n, reader);
    this.current = this.adopt(state);
  }

  /** Creates an empty tree on disk (directories, first manifest, CURRENT), durably. */
  static async create(host: TreeHost, root: string, name: string, id: number, options: TreeOptions, persistedSeqno: number): Promise<Tree> {
    await mkdirDurable(host.fs, segmentsDir(root));
    const state: VersionState = { partition: name, partitionId: id, persistedSeqno, nextFileNumber: 2, levels: [[]] };
    await writeManifest(host.fs, root, 1, state);
    return new Tree(host, root, name, id, options, state, 1, new Map());
  }

  /** Opens a tree from its CURRENT manifest, removing files a crash left behind. */
  static async open(host: TreeHost, root: string, name: string, id: number, options: TreeOptions): Promise<Tree> {
    const fs = host.fs;
    const { manifestNumber, state } = await readCurrentManifest(fs, root);
    const live = new Set(state.levels.flatMap((l) => l.map((s) => s.fileNumber)));
    let highest = manifestNumber;
    for (const name of await fs.readdir(segmentsDir(root))) {
      const n = parseSegmentFileName(name);
      if (n !== undefined) highest = Math.max(highest, n);
      if (options.readOnly !== true && (n === undefined ? isTempName(name) : !live.has(n))) await fs.unlink(path.join(segmentsDir(root), name));
    }
    for (const name of await fs.readdir(root)) {
      const n = parseManifestFileName(name);
      if (n !== undefined) highest = Math.max(highest, n);
      if (options.readOnly !== true && ((n !== undefined && n !== manifestNumber) || isTempName(name))) await fs.unlink(path.join(root, name));
    }
    state.nextFileNumber = Math.max(state.nextFileNumber, highest + 1);
    const readers = new Map<number, SegmentReader>();
    try {
      for (const n of live) readers.set(n, await SegmentReader.open(fs, segmentPath(root, n), { fileNumber: host.nextCacheId(), cache: host.cache, files: host.files }));
    } catch (err) {
      for (const reader of readers.values()) await reader.close();
      throw err;
    }
    // A manifest of an older cairn does not date its segments: each segment's properties
    // block does, exactly (the writer records it). The next manifest written records it.
    for (const s of state.levels.flat()) s.createdAt ??= readers.get(s.fileNumber)?.properties.createdAt;
    return new Tree(host, root, name, id, options, state, manifestNumber, readers);
  }

  get persistedSeqno(): number {
    return this.current.state.persistedSeqno;
  }

  get version(): Version {
    return this.current;
  }

  /** True when the memtables hold nothing: everything written is in segments. */
  get isFullyPersisted(): boolean {
    return this.active.isEmpty && this.frozen.length === 0;
  }

  /**
   * The smallest seqno still only in memtables (not yet in segments), or undefined when
   * the memtables are empty. Journal records below it are no longer needed by this tree.
   */
  get oldestUnflushedSeqno(): number | undefined {
    let oldest = this.active.minSeqno;
    for (const f of this.frozen) {
      const m = f.memtable.minSeqno;
      if (m !== undefined && (oldest === undefined || m < oldest)) oldest = m;
    }
    return oldest;
  }

  /** Bytes held in memtables (active and frozen). */
  get memtableBytes(): number {
    return this.frozen.reduce((n, f) => n + f.memtable.approximateBytes, this.active.approximateBytes);
  }

  stats(): PartitionStats {
    const levels = this.current.state.levels.map((level, i) => ({
      level: i,
      segments: level.length,
      bytes: level.reduce((n, d) => n + d.fileSize, 0),
      entries: level.reduce((n, d) => n + d.entryCount, 0),
    }));
    return {
      persistedSeqno: this.current.state.persistedSeqno,
      levels,
      segments: levels.reduce((n, l) => n + l.segments, 0),
      segmentBytes: levels.reduce((n, l) => n + l.bytes, 0),
      memtables: { count: 1 + this.frozen.length, bytes: this.memtableBytes },
      flushing: this.flushing !== undefined,
      compacting: this.compactions.size > 0,
      pendingCompactions: this.pendingCompactions(),
      pendingCompactionBytes: this.host.compaction.strategy.pendingBytes(this.current.state),
      estimatedLiveDataBytes: this.current.estimateLiveBytes(),
      compactionsDone: this.compactionsDone,
      liveVersions: this.versionRefs.size,
    };
  }

  /** 1 when the strategy would start a compaction now, else 0 (also when it fails: that is reported by the scheduler). */
  private pendingCompactions(): number {
    try {
      return this.host.compaction.strategy.choose(this.current.state, { busy: this.compactionFiles, now: Date.now() }).kind === 'none' ? 0 : 1;
    } catch {
      return 0;
    }
  }

  /**
   * Applies one write. Synchronous: called in journal order, right after the journal
   * accepted it. A RangeDelete's key is the range's start and its value the exclusive end
   * (empty: no upper bound).
   */
  apply(key: Buffer, seqno: number, kind: DataOpKind, value: Buffer): void {
    if (kind === JournalOpKind.RangeDelete) this.active.deleteRange(key, value.length === 0 ? null : value, seqno);
    else this.active.insert(key, seqno, kind, value);
  }

  /** After a batch is applied: freeze the memtable if full and start its flush. */
  maybeFreeze(visibleSeqno: number): void {
    if (this.active.approximateBytes >= this.options.memtableBytes) this.freeze(visibleSeqno);
  }

  /** Resolves when writes may proceed; immediate (undefined) in the common case. */
  waitForRoom(): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const memtablesFull = this.frozen.length >= this.options.maxImmutableMemtables;
    // Level 0 holds writers back only while a compaction is draining it; after a failed
    // merge (backoff) writes go on, and reads merely check more level-0 files.
    const level0Full = this.compactions.size > 0 && (this.current.state.levels[0]?.length ?? 0) >= this.options.level0StopWrites;
    if (!memtablesFull && !level0Full) return undefined;
    return new Promise((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
  }

  /** The newest version of `key` visible at readSeqno (tombstones included), or undefined. */
  get(key: Buffer, readSeqno: number): Entry | undefined {
    let e = this.active.get(key, readSeqno);
    for (let i = this.frozen.length - 1; e === undefined && i >= 0; i--) e = this.frozen[i].memtable.get(key, readSeqno);
    if (e === undefined) e = this.current.get(key, readSeqno);
    if (e === undefined || e.kind === EntryKind.Delete) return e;
    // A Put: is it under a newer range delete? Only sources with a newer tombstone can say.
    let t = coveringSeqno(this.active, key, readSeqno, e.seqno);
    for (const f of this.frozen) t = Math.max(t, coveringSeqno(f.memtable, key, readSeqno, e.seqno));
    t = Math.max(t, this.current.rangeDeletionSeqno(key, readSeqno, e.seqno));
    return t > e.seqno ? { key, seqno: t, kind: EntryKind.Delete, value: EMPTY } : e;
  }

  /** Bytes of segment files holding keys in `range`, from their indexes (memtables not counted). */
  approximateBytes(range: KeyRange): number {
    return this.current.approximateBytes(range);
  }

  /** A consistent view of the sources as they are now; release it with releaseView. */
  acquireView(): ReadView {
    const memtables = [this.active];
    for (let i = this.frozen.length - 1; i >= 0; i--) memtables.push(this.frozen[i].memtable);
    this.refVersion(this.current);
    return { memtables, version: this.current };
  }

  /** Takes another reference on an existing view (an iterator reading a snapshot's view). */
  retainView(view: ReadView): ReadView {
    this.refVersion(view.version);
    return view;
  }

  releaseView(view: ReadView): void {
    this.unrefVersion(view.version);
  }

  /** The newest version of `key` at readSeqno within a view. */
  static viewGet(view: ReadView, key: Buffer, readSeqno: number): Entry | undefined {
    let e: Entry | undefined;
    for (let i = 0; e === undefined && i < view.memtables.length; i++) e = view.memtables[i].get(key, readSeqno);
    if (e === undefined) e = view.version.get(key, readSeqno);
    if (e === undefined || e.kind === EntryKind.Delete) return e;
    let t = view.version.rangeDeletionSeqno(key, readSeqno, e.seqno);
    for (const m of view.memtables) t = Math.max(t, coveringSeqno(m, key, readSeqno, e.seqno));
    return t > e.seqno ? { key, seqno: t, kind: EntryKind.Delete, value: EMPTY } : e;
  }

  /**
   * The range tombstones of a view as a reader at readSeqno sees them (each fragment at
   * its newest seqno <= readSeqno), or undefined when there are none: what an iterator
   * checks each key against.
   */
  static viewRangeTombstones(view: ReadView, readSeqno: number): RangeTombstones | undefined {
    let out: RangeTombstones | undefined;
    const sources = [...view.memtables.map((m) => m.rangeTombstones), ...view.version.rangeTombstones()];
    for (const source of sources) {
      if (source.isEmpty || source.minSeqno > readSeqno) continue;
      out ??= new RangeTombstones();
      out.addVisible(source, readSeqno);
    }
    return out;
  }

  /**
   * Cursors over every source of a view that may hold keys in `range`, newest source
   * first; with the read's range tombstones (viewRangeTombstones), each source leaves out
   * the intervals a tombstone newer than all it holds covers.
   */
  static viewCursors(view: ReadView, range: KeyRange, tombstones?: RangeTombstones): EntryCursor[] {
    const out: EntryCursor[] = view.memtables.map((m) => cursorOutsideTombstones((r) => m.cursor(r), range, m.maxSeqno ?? -1, tombstones));
    view.version.addCursors(range, out, tombstones);
    return out;
  }

  /**
   * Freezes the active memtable (if it holds anything) and waits until every frozen
   * memtable is flushed. Rejects with the error of a failed attempt meanwhile (the flush
   * is still retried in the background) or with the failure that poisoned the tree.
   */
  async flush(visibleSeqno: number): Promise<void> {
    if (!this.active.isEmpty) this.freeze(visibleSeqno);
    while (this.flushing !== undefined) {
      const outcome = await Promise.race([this.flushing.then(() => FLUSHED), this.nextFlushFailure()]);
      if (outcome !== FLUSHED) throw outcome;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private nextFlushFailure(): Promise<unknown> {
    if (this.flushFailed === undefined) {
      let resolve!: (err: unknown) => void;
      const promise = new Promise<unknown>((r) => (resolve = r));
      this.flushFailed = { promise, resolve };
    }
    return this.flushFailed.promise;
  }

  /** Waits for a running flush, then closes every segment reader. Memtables are dropped: the journal has them. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.wakeTimer);
    clearTimeout(this.compactionRetry);
    for (const cutShort of this.pauses) cutShort();
    this.compactionAbort.abort();
    while (this.flushing !== undefined) await this.flushing.catch(() => undefined);
    while (this.compactions.size > 0) await Promise.allSettled([...this.compactions.keys()]);
    await this.installing;
    this.rejectWaiters(this.failure ?? new Error('closed'));
    await this.closeReaders();
    while (this.retiring.size > 0) await Promise.all([...this.retiring]);
  }

  private freeze(visibleSeqno: number): void {
    this.active.freeze();
    this.frozen.push({ memtable: this.active, freezeSeqno: visibleSeqno });
    this.active = new Memtable();
    if (this.flushing === undefined) this.flushing = this.flushLoop();
  }

  /**
   * Flushes frozen memtables, oldest first, until none is left. A failed write or fsync
   * poisons (fjall's rule: the disk is failing, and writers must hear it rather than stall
   * behind retries); any other failure left the disk as it was (a partial segment is
   * removed) and is reported and retried after a back-off, while writers wait for room.
   */
  private async flushLoop(): Promise<void> {
    try {
      while (this.frozen.length > 0 && this.failure === undefined && !this.closed) {
        try {
          await this.flushOldest();
        } catch (err) {
          if (this.failure !== undefined) break;
          if (isWriteFailure(err)) {
            this.fail(err, `a flush of partition "${this.name}"`);
            break;
          }
          const attempt = ++this.flushFailures;
          const retryInMs = retryDelayMs(attempt);
          this.host.backgroundError({ operation: 'flush', partition: this.name, error: err, attempt, retryInMs });
          this.flushFailed?.resolve(err);
          this.flushFailed = undefined;
          await this.pause(retryInMs);
          continue;
        }
        this.flushFailures = 0;
        this.wakeRoomWaiters();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Resolves after `ms`, or at once when the tree closes. Unref'd: a pending retry never keeps the process alive. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.pauses.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.pauses.add(done);
    });
  }

  /** A failed write or fsync: refuse writes from now on (the keyspace is poisoned). */
  private fail(err: unknown, operation: string): void {
    this.failure ??= err;
    this.host.poison(err, operation);
    this.rejectWaiters(err);
  }

  /**
   * Writes the oldest frozen memtable as a level-0 segment and installs the version that
   * includes it. Order matters for crash safety: the segment is durable (file and
   * directory synced) before the manifest that names it, and the manifest is durable
   * before the memtable is dropped; a crash in between leaves an orphan file, removed on
   * the next open, and the journal still holds the writes.
   */
  private async flushOldest(): Promise<void> {
    const fs = this.host.fs;
    const { memtable, freezeSeqno } = this.frozen[0];
    const fileNumber = this.nextFileNumber++;
    const file = segmentPath(this.root, fileNumber);
    // The main thread only packs (in slices); encoding and I/O happen in the flush job.
    const entries = await packForFlush(memtable, FLUSH_SLICE_MS);
    const meta = await this.host.flush({
      path: file,
      dir: segmentsDir(this.root),
      entries,
      rangeTombstones: memtable.rangeTombstones.isEmpty ? undefined : this.boundedRangeTombstones(memtable).encode(),
      blockSize: this.options.blockSize,
      bloomBitsPerKey: this.options.bloomBitsPerKey,
    });
    let reader: SegmentReader | undefined;
    try {
      reader = await SegmentReader.open(fs, file, { fileNumber: this.host.nextCacheId(), cache: this.host.cache, files: this.host.files });
    } catch (err) {
      await fs.unlink(file).catch(() => undefined);
      throw err;
    }
    const descriptor: SegmentDescriptor = { fileNumber, ...meta };
    await this.commitVersion(
      (old) => ({ ...old, persistedSeqno: freezeSeqno, levels: [[descriptor, ...(old.levels[0] ?? [])], ...old.levels.slice(1)] }),
      new Map([[fileNumber, reader]]),
      'flush',
    );
    this.frozen.shift();
    this.host.flushed();
    this.scheduleCompaction();
  }

  /**
   * The range tombstones of the oldest frozen memtable as its segment stores them: each
   * fragment at its newest seqno (readers of the version the flush installs read above
   * them all), and an unbounded end cut just past the largest key that can be under it,
   * the largest of the segments' and of the memtable's own keys (older memtables are
   * flushed already; newer writes are newer than the tombstone). A segment's key span must
   * be finite: it decides which segments reads and compactions look at.
   */
  private boundedRangeTombstones(memtable: Memtable): RangeTombstones {
    const tombstones = memtable.rangeTombstones;
    if (tombstones.largestEnd !== null) return tombstones.clipped(null, null);
    let largest = [...tombstones.fragments()].at(-1)?.start as Buffer;
    const own = memtable.cursor({ reverse: true }).next()?.key;
    if (own !== undefined && Buffer.compare(own, largest) > 0) largest = own;
    for (const s of this.current.state.levels.flat()) if (Buffer.compare(s.maxKey, largest) > 0) largest = s.maxKey;
    return tombstones.clipped(null, keySuccessor(largest));
  }

  /**
   * Writes the manifest of the version `build` makes from the current one, then installs
   * it. One at a time: the state is derived from whatever is current when this one's turn
   * comes, so a flush and a compaction finishing together both land. When the manifest
   * write fails: after a failed write or fsync CURRENT may already name it (the directory
   * fsync failed), so the keyspace is poisoned and the new files stay for the next open
   * to keep or remove according to the CURRENT on disk; after any other failure CURRENT is
   * unchanged, so the new manifest and the new segment files are removed here (nothing
   * names them) and the caller retries with fresh ones.
   */
  private commitVersion(build: (current: VersionState) => VersionState, newReaders: Map<number, SegmentReader>, operation: 'flush' | 'compaction'): Promise<void> {
    const run = async (): Promise<void> => {
      const manifestNumber = this.nextFileNumber++;
      const state: VersionState = { ...build(this.current.state), nextFileNumber: this.nextFileNumber };
      try {
        await writeManifest(this.host.fs, this.root, manifestNumber, state);
      } catch (err) {
        for (const reader of newReaders.values()) await reader.close();
        if (isWriteFailure(err)) {
          this.fail(err, `installing the manifest of a ${operation} of partition "${this.name}"`);
        } else {
          for (const n of newReaders.keys()) await this.host.fs.unlink(segmentPath(this.root, n)).catch(() => undefined);
          await this.host.fs.unlink(manifestPath(this.root, manifestNumber)).catch(() => undefined);
        }
        throw err;
      }
      for (const [n, reader] of newReaders) this.readers.set(n, reader);
      this.install(state, manifestNumber);
    };
    const turn = this.installing.then(run);
    this.installing = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Starts the compactions the strategy chooses, up to MAX_CONCURRENT_COMPACTIONS per
   * tree. Each choice excludes the files running ones read, so concurrent compactions never
   * share inputs nor write overlapping ranges of a level: an over-budget upper level does
   * not starve the levels below it under steady writes.
   */
  scheduleCompaction(): void {
    while (this.compactions.size < MAX_CONCURRENT_COMPACTIONS && !this.closed && this.failure === undefined && !this.compactionBackoff && this.manualCompactions === 0) {
      const now = Date.now();
      let choice: Choice;
      try {
        choice = this.host.compaction.strategy.choose(this.current.state, { busy: this.compactionFiles, now });
      } catch (err) {
        this.compactionFailed(err);
        return;
      }
      if (choice.kind === 'none') {
        this.wakeAtNextChange(now);
        return;
      }
      const files = choiceFiles(choice);
      const running: Promise<void> = this.compact(choice)
        .then(
          () => {
            this.compactionsDone++;
            this.compactionFailures = 0;
          },
          (err: unknown) => this.compactionFailed(err),
        )
        .finally(() => {
          this.compactions.delete(running);
          this.compactionFiles = new Set([...this.compactions.values()].flat());
          this.wakeRoomWaiters();
          this.scheduleCompaction();
        });
      this.compactions.set(running, files);
      this.compactionFiles = new Set([...this.compactions.values()].flat());
    }
  }

  /**
   * Manual compaction: flushes the memtables, then rewrites every segment touching
   * `range` (all of them without one) into the bottom level, dropping shadowed versions
   * and tombstones (see compaction/manual.ts). Automatic compactions wait meanwhile, and
   * running ones are let finish first, so the choice sees no busy file. Resolves when the
   * new version is installed; rejects with the merge's or the install's error (a failed
   * merge leaves the tree as it was, like any failed compaction). A strategy that never
   * rewrites data (FIFO) only flushes.
   */
  async compactRange(range: KeyRange | undefined, visibleSeqno: number): Promise<void> {
    await this.flush(visibleSeqno);
    const strategy = this.host.compaction.strategy;
    if (strategy.chooseRange === undefined) return;
    this.manualCompactions++;
    try {
      while (this.compactions.size > 0) await Promise.allSettled([...this.compactions.keys()]);
      if (this.closed) throw new Error('closed');
      if (this.failure !== undefined) throw this.failure;
      const choice = strategy.chooseRange(this.current.state, range, this.compactionFiles);
      if (choice.kind === 'none') return;
      let outcome: { error: unknown } | undefined;
      const running: Promise<void> = this.compact(choice)
        .then(
          () => {
            this.compactionsDone++;
          },
          (error: unknown) => {
            outcome = { error };
          },
        )
        .finally(() => this.compactions.delete(running));
      this.compactions.set(running, choiceFiles(choice));
      this.compactionFiles = new Set([...this.compactions.values()].flat());
      await running;
      if (outcome !== undefined) throw outcome.error;
    } finally {
      this.manualCompactions--;
      this.compactionFiles = new Set([...this.compactions.values()].flat());
      this.wakeRoomWaiters();
      this.scheduleCompaction();
    }
  }

  /**
   * Carries out a choice. A merge runs off the main thread (the host decides where); only
   * the install is ours. Inputs stay readable throughout: the current version references
   * them and only a compaction removes files, one at a time per tree. Shadowed versions
   * may be dropped by the merge because every older reader pins its own version, whose
   * input files outlive the install until that reader lets go.
   */
  private async compact(choice: Exclude<Choice, { kind: 'none' }>): Promise<void> {
    if (choice.kind !== 'merge') {
      await this.commitVersion((state) => applyChoice(state, choice), new Map(), 'compaction');
      return;
    }
    const sizes = new Map(this.current.state.levels.flat().map((d) => [d.fileNumber, d.fileSize]));
    const inputs = mergeOrder(choice);
    const inputBytes = inputs.reduce((n, f) => n + (sizes.get(f) ?? 0), 0);
    const fileNumbers = Array.from({ length: estimateOutputCount(inputBytes, choice.targetFileBytes) }, () => this.nextFileNumber++);
    const outputs = await this.host.compaction.merge({
      inputs: inputs.map((n) => ({ path: segmentPath(this.root, n) })),
      outputDir: segmentsDir(this.root),
      fileNumbers,
      targetFileBytes: choice.targetFileBytes,
      dropTombstones: choice.dropTombstones,
      blockSize: this.options.blockSize,
      bloomBitsPerKey: this.options.bloomBitsPerKey,
      signal: this.compactionAbort.signal,
    });
    const readers = new Map<number, SegmentReader>();
    try {
      for (const o of outputs) {
        readers.set(o.fileNumber, await SegmentReader.open(this.host.fs, segmentPath(this.root, o.fileNumber), { fileNumber: this.host.nextCacheId(), cache: this.host.cache, files: this.host.files }));
      }
    } catch (err) {
      for (const reader of readers.values()) await reader.close();
      for (const o of outputs) await this.host.fs.unlink(segmentPath(this.root, o.fileNumber)).catch(() => undefined);
      throw err;
    }
    await this.commitVersion((state) => applyChoice(state, choice, outputs), readers, 'compaction');
  }

  /**
   * Sets the timer for the strategy's next change of mind with no new version (a segment
   * reaching its TTL), so that an idle tree still drops expired data. Unref'd: it never
   * keeps the process alive.
   */
  private wakeAtNextChange(now: number): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    const at = this.host.compaction.strategy.nextChangeAt?.(this.current.state, now);
    if (at === undefined) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.scheduleCompaction();
    }, Math.min(at - now, MAX_TIMER_MS));
    this.wakeTimer.unref();
  }

  /**
   * A failed compaction left the disk as it was (a failed merge removes its outputs; an
   * install that failed to write has poisoned instead): report it and retry after a
   * back-off. Merges are never a reason to poison: their writes are to files no version
   * names, and the keyspace is correct without them.
   */
  private compactionFailed(err: unknown): void {
    if (this.closed || this.failure !== undefined) return;
    const attempt = ++this.compactionFailures;
    const retryInMs = retryDelayMs(attempt);
    this.compactionBackoff = true;
    clearTimeout(this.compactionRetry);
    this.compactionRetry = setTimeout(() => {
      this.compactionRetry = undefined;
      this.compactionBackoff = false;
      this.scheduleCompaction();
    }, retryInMs);
    this.compactionRetry.unref();
    this.host.backgroundError({ operation: 'compaction', partition: this.name, error: err, attempt, retryInMs });
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** Makes `state` current and retires the previous manifest file. */
  private install(state: VersionState, manifestNumber: number): void {
    const previous = this.current;
    const previousManifest = this.manifestNumber;
    this.current = this.adopt(state);
    this.manifestNumber = manifestNumber;
    this.unrefVersion(previous);
    this.staleManifests.add(previousManifest);
    for (const n of this.staleManifests) {
      this.background(
        this.host.fs.unlink(manifestPath(this.root, n)).then(
          () => {
            this.staleManifests.delete(n);
          },
          (err: unknown) => {
            if (hasCode(err, 'ENOENT')) this.staleManifests.delete(n);
          },
        ),
      );
    }
  }

  /** Deletions nobody awaits (retired segments and manifests); close() waits for them, so nothing touches the directory after it. */
  private background(work: Promise<void>): void {
    const tracked = work.catch(() => undefined).finally(() => this.retiring.delete(tracked));
    this.retiring.add(tracked);
  }

  /** Builds the Version for a state, counting its files and giving it the "current" reference. */
  private adopt(state: VersionState): Version {
    const version = new Version(state, this.readers);
    for (const n of version.fileNumbers()) this.fileRefs.set(n, (this.fileRefs.get(n) ?? 0) + 1);
    this.versionRefs.set(version, 1);
    return version;
  }

  private refVersion(version: Version): void {
    this.versionRefs.set(version, (this.versionRefs.get(version) ?? 0) + 1);
  }

  private unrefVersion(version: Version): void {
    const refs = (this.versionRefs.get(version) ?? 0) - 1;
    if (refs > 0) {
      this.versionRefs.set(version, refs);
      return;
    }
    this.versionRefs.delete(version);
    for (const n of version.fileNumbers()) {
      const fileRefs = (this.fileRefs.get(n) ?? 0) - 1;
      if (fileRefs > 0) {
        this.fileRefs.set(n, fileRefs);
        continue;
      }
      this.fileRefs.delete(n);
      this.retireFile(n);
    }
  }

  /** No live version uses the file any more: close its reader and delete it. */
  private retireFile(fileNumber: number): void {
    const reader = this.readers.get(fileNumber);
    this.readers.delete(fileNumber);
    if (reader !== undefined) this.host.cache.evictFile(reader.fileNumber);
    this.background(
      (async () => {
        await reader?.close();
        await this.host.fs.unlink(segmentPath(this.root, fileNumber));
      })(),
    );
  }

  private rejectWaiters(err: unknown): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private async closeReaders(): Promise<void> {
    for (const reader of this.readers.values()) await reader.close();
    this.readers.clear();
  }
}
