// The options of Keyspace.open: their types, defaults and checks. resolveOptions turns
// what the caller passed into the one resolved object every part of the keyspace reads.
// Pure functions.
import type { FileSystem } from '../fs/file-system.js';
import type { TreeOptions } from '../tree/tree.js';
import { type CompactionStrategy } from '../compaction/choice.js';
import { DEFAULT_LEVELED_CONFIG, LeveledStrategy, type LeveledConfig } from '../compaction/leveled.js';
import { FifoStrategy, type FifoConfig } from '../compaction/fifo.js';
import { openFilesLimit } from '../fs/open-files-limit.js';
import { type Durability, optionNames, optionsObject, positiveInteger, toBoolean, toDurability } from './arguments.js';

export interface KeyspaceOptions {
  /**
   * Create the keyspace when the directory is missing or empty. Default true; with false,
   * opening where no keyspace exists rejects with CAIRN_NOT_FOUND (and creates nothing).
   */
  createIfMissing?: boolean;
  /** Reject with EEXIST when a keyspace already exists in the directory. Default false. */
  errorIfExists?: boolean;
  /**
   * Open without writing a byte to the directory: no LOCK is taken, nothing a crash left
   * is removed, a torn journal tail is ignored rather than cut off, and no flush or
   * compaction ever runs (what the journals hold stays in memory). For read-only media,
   * tools, and a checkpoint kept as a view. Writes, `flush`, `compact`, `backupTo` and
   * creating or deleting a partition reject with CAIRN_READ_ONLY. A missing keyspace is
   * CAIRN_NOT_FOUND (`createIfMissing` does not apply; `errorIfExists` may not be set).
   * Without the LOCK, a writer opening the same directory meanwhile is not stopped: what a
   * read-only keyspace shows is the directory as it was when opened, and a writer's journal
   * GC may delete files under it (open checkpoints or quiescent keyspaces). Default false.
   */
  readOnly?: boolean;
  /**
   * Segment files kept open at once; the least recently read are closed beyond it and
   * reopened on their next read. Default: half the process's open-file limit (`ulimit -n`),
   * at least 16. Per keyspace: several keyspaces in one process each take their budget.
   */
  maxOpenFiles?: number;
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
  /**
   * Called when a flush or compaction fails for a reason other than a failed write or
   * fsync (which poisons the keyspace instead: CAIRN_POISONED); the work is retried with
   * back-off. Without it such a failure is only kept in `stats().lastBackgroundError`:
   * nothing is thrown and no unhandled 'error' event can end the process. An exception
   * the callback throws becomes a process warning.
   */
  onBackgroundError?: (error: BackgroundError) => void;
}

/** A flush or compaction that failed and will be retried (see KeyspaceOptions.onBackgroundError). */
export interface BackgroundError {
  operation: 'flush' | 'compaction';
  partition: string;
  /** The error's code, when it has one ('ENOENT', 'CAIRN_CORRUPTION', …). */
  code: string | undefined;
  message: string;
  /** The error itself, its own cause chain included. */
  cause: unknown;
  /** When it failed: milliseconds since the epoch. */
  time: number;
  /** Consecutive failures of this operation in this partition, this one included. */
  attempt: number;
  /** The operation is tried again after this many milliseconds. */
  retryInMs: number;
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

/** Options of one write (`put`, `delete`, `batch.commit`). */
export interface WriteOptions {
  /**
   * 'buffered': resolve once the journal record is handed to the operating system (it
   * survives a crash of the process, not of the machine); 'sync': resolve after fdatasync.
   * Default: the keyspace's `durability` option.
   */
  durability?: Durability;
}

export interface ResolvedOptions extends TreeOptions {
  strategy: CompactionStrategy;
  /** Merges run on the main thread (an injected FileSystem must see them) instead of the shared pool. */
  inProcessMerges: boolean;
  /** Flushes run on the main thread: only with an injected FileSystem, which a worker cannot share. */
  inProcessFlushes: boolean;
  durability: Durability;
  journalFileBytes: number;
  maxJournalBytes: number;
  blockCacheBytes: number;
  createIfMissing: boolean;
  errorIfExists: boolean;
  readOnly: boolean;
  maxOpenFiles: number;
  onBackgroundError: ((error: BackgroundError) => void) | undefined;
}

/** Every option Keyspace.open takes (CairnLevel forwards exactly these). */
export const KEYSPACE_OPTIONS = optionNames<KeyspaceOptions>({
  createIfMissing: true,
  errorIfExists: true,
  readOnly: true,
  maxOpenFiles: true,
  fs: true,
  durability: true,
  memtableBytes: true,
  maxImmutableMemtables: true,
  journalFileBytes: true,
  maxJournalBytes: true,
  blockCacheBytes: true,
  blockSize: true,
  bloomBitsPerKey: true,
  compaction: true,
  onBackgroundError: true,
});
const RUN_OPTIONS = optionNames<CompactionRunOptions & { strategy: unknown }>({ strategy: true, level0StopWrites: true, inProcess: true });
const LEVELED_OPTIONS = [...RUN_OPTIONS, ...optionNames<LeveledConfig>({ level0Trigger: true, baseLevelBytes: true, levelMultiplier: true, maxLevels: true, targetFileBytes: true })];
const FIFO_OPTIONS = [...RUN_OPTIONS, ...optionNames<FifoConfig>({ maxBytes: true, ttlMs: true })];
/** The options of one write. */
export const WRITE_OPTIONS = optionNames<WriteOptions>({ durability: true });

export function resolveOptions(input: unknown): ResolvedOptions {
  const o = optionsObject<KeyspaceOptions>(input, 'options', KEYSPACE_OPTIONS);
  if (o.fs !== undefined && (typeof o.fs !== 'object' || o.fs === null || typeof (o.fs as FileSystem).open !== 'function')) {
    throw new TypeError('options.fs must be a FileSystem');
  }
  if (o.onBackgroundError !== undefined && typeof o.onBackgroundError !== 'function') throw new TypeError('options.onBackgroundError must be a function');
  const strategyName = (o.compaction as { strategy?: unknown } | undefined)?.strategy;
  if (strategyName !== undefined && strategyName !== 'leveled' && strategyName !== 'fifo') {
    throw new RangeError(`options.compaction.strategy must be 'leveled' or 'fifo' (got ${JSON.stringify(strategyName)})`);
  }
  const c = optionsObject<CompactionOptions>(o.compaction, 'options.compaction', strategyName === 'fifo' ? FIFO_OPTIONS : LEVELED_OPTIONS);
  const strategy: CompactionStrategy = c.strategy === 'fifo' ? new FifoStrategy(c as FifoConfig) : new LeveledStrategy(c as Partial<LeveledConfig>);
  const readOnly = toBoolean(o.readOnly, 'readOnly', false);
  const errorIfExists = toBoolean(o.errorIfExists, 'errorIfExists', false);
  if (readOnly && errorIfExists) throw new RangeError('options.readOnly and options.errorIfExists cannot both be true: a read-only open needs an existing keyspace');
  const level0Trigger = c.strategy === 'fifo' ? 4 : ((c as Partial<LeveledConfig>).level0Trigger ?? DEFAULT_LEVELED_CONFIG.level0Trigger);
  return {
    strategy,
    inProcessMerges: o.fs !== undefined || c.inProcess === true,
    inProcessFlushes: o.fs !== undefined,
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
    // A read-only open never creates: createIfMissing is checked, then means false.
    createIfMissing: toBoolean(o.createIfMissing, 'createIfMissing', true) && !readOnly,
    errorIfExists,
    readOnly,
    maxOpenFiles: positiveInteger(o.maxOpenFiles, 'maxOpenFiles', defaultMaxOpenFiles(), 16),
    onBackgroundError: o.onBackgroundError,
  };
}

/**
 * Half the open-file limit: the rest is left to journals, merges on worker threads (which
 * open their inputs themselves), sockets and whatever else the process holds.
 */
function defaultMaxOpenFiles(): number {
  return Math.max(16, Math.floor(openFilesLimit() / 2));
}
