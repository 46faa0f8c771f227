// The FileSystem seam: the only door from cairn to the disk. Nothing outside lib/fs/
// imports node:fs. Implementations: native (addon batches), node (pure TypeScript),
// and a fault-injecting wrapper for tests. All methods are safe to call concurrently;
// ordering between concurrent calls is the caller's business.

/** What `stat` reports. Sizes are numbers: cairn files stay far below 2^53 bytes. */
export interface FileStat {
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
  nlink: number;
  mode: number;
  isFile: boolean;
  isDirectory: boolean;
}

/**
 * How a file is opened. Like Node's flags of the same letters:
 * 'r' read; 'r+' read/write existing; 'w' create or truncate; 'wx' create exclusively
 * (EEXIST if present); 'a' append, creating; 'ax' append, creating exclusively.
 */
export type OpenMode = 'r' | 'r+' | 'w' | 'wx' | 'a' | 'ax';

/**
 * An open file. Positional reads and writes; `position` null or omitted on write means
 * "at the current end" for files opened in an append mode.
 *
 * The *Sync variants exist for the few hot paths that must not pay a thread-pool round
 * trip (a small journal append into the page cache, a block read of a cached file).
 * They block the calling thread for one syscall and must not be used for fsync.
 */
export interface FileHandle {
  readonly path: string;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** Writes all of `length` bytes (looping on short writes) and returns the count. */
  write(buffer: Uint8Array, offset?: number, length?: number, position?: number | null): Promise<number>;
  writeSync(buffer: Uint8Array, offset?: number, length?: number, position?: number | null): number;
  /** fsync (or fdatasync when `dataOnly`). */
  sync(dataOnly?: boolean): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<FileStat>;
  close(): Promise<void>;
}

/**
 * A file opened for synchronous positional reads only: what `openReadSync` returns. Closed
 * synchronously too, so that a budget of open files holds within one synchronous stretch
 * of reads (an asynchronous close would complete only after it).
 */
export interface ReadHandle {
  readonly path: string;
  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number;
  closeSync(): void;
}

/** A held exclusive lock on a lock file; released by `unlock()` or when the process exits. */
export interface LockHandle {
  readonly path: string;
  unlock(): Promise<void>;
}

/** A source → destination pair for link and copy batches. */
export type PathPair = readonly [from: string, to: string];

/** A copy request: a pair, optionally with a byte limit (copy only a prefix). */
export type CopyRequest = readonly [from: string, to: string] | readonly [from: string, to: string, limitBytes: number];

export interface BatchOptions {
  /**
   * false (default): stop at the first failure and reject with the lowest-index failure,
   * whose `index` is the failed item and `completed` (= index) the number of items before
   * it, all of which succeeded. An implementation that runs several items at once
   * (NativeFileSystem) may also have attempted a few items after it: those already
   * running when the failure happened; what they created is left in place (a failed
   * copy still removes its partial file).
   * true: attempt every item and resolve with a per-item outcome.
   */
  continueOnError?: boolean;
}

export interface CopyOptions extends BatchOptions {
  /** Copy at most this many bytes of every source (a per-item limit in the request wins). */
  limitBytes?: number;
}

export interface SyncOptions extends BatchOptions {
  /** fdatasync instead of fsync. */
  dataOnly?: boolean;
}

/** How a copy was carried out. */
export type CopyMethod = 'clone' | 'copy_file_range' | 'readwrite';

/** One item's outcome in a batch. */
export type ItemOutcome =
  | { ok: true; bytes?: number; method?: CopyMethod }
  | { ok: false; error: BatchItemError };

export interface BatchResult {
  /** Number of items that succeeded. */
  completed: number;
  /** One entry per input item, in input order. */
  items: ItemOutcome[];
  /** Bytes copied (copyBatch only; 0 otherwise). */
  bytes: number;
}

/** A Node-shaped system error from one batch item, carrying where the batch stood. */
export interface BatchItemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
  dest?: string;
  /** Index of the failed item in the batch. */
  index?: number;
  /** Items before the failure, all of which succeeded (stop-at-first-failure mode). */
  completed?: number;
}

export interface MkdirResult {
  /** The directories this call created, outermost first (empty when it already existed). */
  created: string[];
}

/**
 * The seam. Every error is either a Node-shaped system error (`code` from errno) or a
 * CairnError; never a bare string. Arguments are validated (TypeError / RangeError)
 * before any system call.
 */
export interface FileSystem {
  /** 'native', 'node', or a wrapper's name; for diagnostics and test titles. */
  readonly kind: string;

  open(path: string, mode: OpenMode): Promise<FileHandle>;
  /**
   * Opens an existing file for reading, blocking the calling thread for one open(2): for
   * reopening a segment file on a synchronous read after the open-file budget
   * (`maxOpenFiles`) closed it. Optional: without it, segment files are never closed
   * early and `maxOpenFiles` does not apply.
   */
  openReadSync?(path: string): ReadHandle;
  readFile(path: string): Promise<Buffer>;
  /** Plain write of a whole file (no fsync; see lib/fs/durable.ts for atomic writes). */
  writeFile(path: string, data: Uint8Array | string, options?: { exclusive?: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /**
   * rename(2) that refuses with EEXIST when `to` exists, whatever it is (rename alone
   * silently replaces a file or an empty directory). Atomic where the kernel has
   * renameat2(RENAME_NOREPLACE) (the native file system on Linux 3.15+ and ext4, xfs,
   * btrfs, tmpfs…); elsewhere an lstat then a rename, which leaves a short window.
   */
  renameNoReplace(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Creates the directory; with `recursive`, the missing parents too. Reports what it created. */
  mkdir(path: string, options?: { recursive?: boolean }): Promise<MkdirResult>;
  /** Removes an empty directory. */
  rmdir(path: string): Promise<void>;
  /** Removes a file or a whole tree; a missing path is not an error. */
  removeTree(path: string): Promise<void>;
  /** Names in the directory, sorted by byte order. */
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<FileStat>;
  /** stat that resolves undefined for ENOENT. */
  statOrUndefined(path: string): Promise<FileStat | undefined>;
  /** fsync an existing file by path. */
  syncFile(path: string, options?: { dataOnly?: boolean }): Promise<void>;
  /** Open the directory and fsync it, making entries created or removed in it durable. */
  syncDir(path: string): Promise<void>;
  /** flock(LOCK_EX|LOCK_NB) on a lock file, created if missing; CAIRN_LOCKED when held elsewhere (this process included). */
  lock(path: string): Promise<LockHandle>;

  /** Hard-link each `from` to its `to` (which must not exist). */
  linkBatch(pairs: readonly PathPair[], options?: BatchOptions): Promise<BatchResult>;
  /** Copy each file (clone, then copy_file_range, then read/write), fsyncing each copy. `to` must not exist. */
  copyBatch(requests: readonly CopyRequest[], options?: CopyOptions): Promise<BatchResult>;
  /** fsync (or fdatasync) each file. */
  syncBatch(paths: readonly string[], options?: SyncOptions): Promise<BatchResult>;
  /** fsync each directory. */
  syncDirs(paths: readonly string[], options?: BatchOptions): Promise<BatchResult>;
  /** True when both existing paths are on the same device (a link between them cannot fail with EXDEV). */
  sameDevice(a: string, b: string): Promise<boolean>;
}
