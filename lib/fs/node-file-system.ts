// NodeFileSystem: the pure-TypeScript FileSystem on fs.promises, used when the addon is
// absent or CAIRN_NATIVE=0, and the base class NativeFileSystem overrides. Safe for
// concurrent calls. lock() has no flock here: it is exclusive within this process and,
// across processes, only against other NodeFileSystem users (a `<path>.pid` stamp taken
// over when its pid is dead; a reused pid or two processes racing to take over the same
// stale stamp can defeat it). It does not exclude a NativeFileSystem holding flock.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import { CairnError, ErrorCodes, systemError } from '../errors.js';
import type {
  BatchItemError,
  BatchOptions,
  BatchResult,
  CopyMethod,
  CopyOptions,
  CopyRequest,
  FileHandle,
  FileStat,
  FileSystem,
  ItemOutcome,
  LockHandle,
  MkdirResult,
  OpenMode,
  PathPair,
  ReadHandle,
  SyncOptions,
} from './file-system.js';
import { validateBatchOptions, validateCopyRequests, validatePairs, validatePath, validatePaths } from './arguments.js';

const OPEN_MODES: ReadonlySet<string> = new Set<OpenMode>(['r', 'r+', 'w', 'wx', 'a', 'ax']);
const COPY_CHUNK = 1 << 20;
/** Codes with which FICLONE says "this file system cannot clone": fall back to copying. */
const CLONE_UNSUPPORTED: ReadonlySet<string> = new Set(['ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EINVAL', 'ENOTTY', 'EBADF']);

// ---------------------------------------------------------------------------------
// Batches: one loop shared by every batch op so the result/reject shape is identical.

/** What one successful batch item reports. */
export interface ItemSuccess {
  bytes?: number;
  method?: CopyMethod;
}

/** Tags an item's error with where the batch stood; non-Error values are wrapped. */
export function batchItemError(err: unknown, index: number, completed?: number): BatchItemError {
  const error = (err instanceof Error ? err : new Error(String(err))) as BatchItemError;
  if (typeof error.code !== 'string') error.code = 'EIO';
  error.index = index;
  if (completed !== undefined) error.completed = completed;
  return error;
}

/**
 * Runs `op` over `items` in order. Stop mode rejects with the first failure (tagged with
 * `index` and `completed`); continue mode resolves with every item's outcome.
 */
export async function runBatch<T>(
  items: readonly T[],
  options: BatchOptions | undefined,
  op: (item: T, index: number) => Promise<ItemSuccess | void>,
): Promise<BatchResult> {
  const continueOnError = options?.continueOnError === true;
  const outcomes: ItemOutcome[] = [];
  let completed = 0;
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    try {
      const success = (await op(items[i] as T, i)) ?? {};
      completed++;
      bytes += success.bytes ?? 0;
      outcomes.push({ ok: true, ...success });
    } catch (err) {
      if (!continueOnError) throw batchItemError(err, i, completed);
      outcomes.push({ ok: false, error: batchItemError(err, i) });
    }
  }
  return { completed, items: outcomes, bytes };
}

// ---------------------------------------------------------------------------------

/** Converts Node's Stats to the seam's FileStat. */
export function toFileStat(stats: fs.Stats): FileStat {
  return {
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    dev: stats.dev,
    ino: stats.ino,
    nlink: stats.nlink,
    mode: stats.mode,
    isFile: stats.isFile(),
    isDirectory: stats.isDirectory(),
  };
}

/** The CAIRN_LOCKED rejection, the same from every implementation. */
export function lockedError(path: string, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.LOCKED, `Lock file is held by this or another process: ${path}`, {
    cause,
    details: { path },
  });
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A FileHandle over fs.promises, with the raw fd for the synchronous hot-path calls. */
class NodeFileHandle implements FileHandle {
  readonly path: string;
  readonly #handle: fsp.FileHandle;

  constructor(path: string, handle: fsp.FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    const { bytesRead } = await this.#handle.read(buffer, offset, length, position);
    return bytesRead;
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return fs.readSync(this.#handle.fd, buffer, offset, length, position);
  }

  async write(buffer: Uint8Array, offset = 0, length = buffer.byteLength - offset, position: number | null = null): Promise<number> {
    let done = 0;
    while (done < length) {
      const at = position === null ? null : position + done;
      const { bytesWritten } = await this.#handle.write(buffer, offset + done, length - done, at);
      done += bytesWritten;
    }
    return done;
  }

  writeSync(buffer: Uint8Array, offset = 0, length = buffer.byteLength - offset, position: number | null = null): number {
    let done = 0;
    while (done < length) {
      const at = position === null ? null : position + done;
      done += fs.writeSync(this.#handle.fd, buffer, offset + done, length - done, at);
    }
    return done;
  }

  async sync(dataOnly = false): Promise<void> {
    if (dataOnly) await this.#handle.datasync();
    else await this.#handle.sync();
  }

  async truncate(length: number): Promise<void> {
    await this.#handle.truncate(length);
  }

  async stat(): Promise<FileStat> {
    return toFileStat(await this.#handle.stat());
  }

  async close(): Promise<void> {
    await this.#handle.close();
  }
}

/** A read-only file opened with openSync: reads with readSync, closes with closeSync. */
class SyncReadHandle implements ReadHandle {
  readonly path: string;
  readonly #fd: number;

  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return fs.readSync(this.#fd, buffer, offset, length, position);
  }

  closeSync(): void {
    fs.closeSync(this.#fd);
  }
}

/** One lock held by this process through NodeFileSystem. */
interface HeldLock {
  readonly stampPath: string;
  readonly token: string;
}

/** Locks held in this process, by resolved lock path: the in-process half of exclusion. */
const heldLocks = new Map<string, HeldLock | 'acquiring'>();

// A clean exit removes our stamps so the next process need not probe a dead pid.
process.on('exit', () => {
  for (const held of heldLocks.values()) {
    if (held === 'acquiring') continue;
    try {
      if (fs.readFileSync(held.stampPath, 'utf8') === held.token) fs.unlinkSync(held.stampPath);
    } catch {
      // Exiting anyway; a leftover stamp names a dead pid and will be taken over.
    }
  }
});

function stampToken(): string {
  return `${process.pid} ${randomBytes(8).toString('hex')}`;
}

function stampOwnerAlive(content: string): boolean {
  const pid = Number.parseInt(content.split(' ')[0] ?? '', 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to someone else; it is alive.
    return !isCode(err, 'ESRCH');
  }
}

export class NodeFileSystem implements FileSystem {
  readonly kind: string = 'node';

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    validatePath(path);
    if (typeof mode !== 'string' || !OPEN_MODES.has(mode)) throw new TypeError(`mode must be one of ${[...OPEN_MODES].join(', ')}`);
    return new NodeFileHandle(path, await fsp.open(path, mode, 0o644));
  }

  openReadSync(path: string): ReadHandle {
    validatePath(path);
    return new SyncReadHandle(path, fs.openSync(path, 'r'));
  }

  async readFile(path: string): Promise<Buffer> {
    validatePath(path);
    return fsp.readFile(path);
  }

  async writeFile(path: string, data: Uint8Array | string, options?: { exclusive?: boolean }): Promise<void> {
    validatePath(path);
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError('data must be a string or Uint8Array');
    await fsp.writeFile(path, data, { flag: options?.exclusive === true ? 'wx' : 'w' });
  }

  async rename(from: string, to: string): Promise<void> {
    validatePath(from, 'from');
    validatePath(to, 'to');
    await fsp.rename(from, to);
  }

  async renameNoReplace(from: string, to: string): Promise<void> {
    validatePath(from, 'from');
    validatePath(to, 'to');
    let exists = true;
    try {
      await fsp.lstat(to);
    } catch (err) {
      if (!isCode(err, 'ENOENT')) throw err;
      exists = false;
    }
    if (exists) {
      throw systemError('EEXIST', 'rename', { path: from, dest: to });
    }
    await fsp.rename(from, to);
  }

  async link(existing: string, newPath: string): Promise<void> {
    validatePath(existing, 'existing');
    validatePath(newPath, 'newPath');
    await fsp.link(existing, newPath);
  }

  async unlink(path: string): Promise<void> {
    validatePath(path);
    await fsp.unlink(path);
  }

  /** Reports created directories as absolute paths, outermost first. */
  async mkdir(path: string, options?: { recursive?: boolean }): Promise<MkdirResult> {
    validatePath(path);
    const target = nodePath.resolve(path);
    if (options?.recursive !== true) {
      await fsp.mkdir(target);
      return { created: [target] };
    }
    const missing: string[] = [];
    for (let dir = target; ; dir = nodePath.dirname(dir)) {
      try {
        await fsp.stat(dir);
        break;
      } catch (err) {
        if (!isCode(err, 'ENOENT') || nodePath.dirname(dir) === dir) throw err;
        missing.unshift(dir);
      }
    }
    // Node's own call raises the right error when the target exists as a non-directory.
    if (missing.length === 0) await fsp.mkdir(target, { recursive: true });
    const created: string[] = [];
    for (const dir of missing) {
      try {
        await fsp.mkdir(dir);
        created.push(dir);
      } catch (err) {
        // A concurrent mkdir got there first: fine, but it is not ours to report.
        if (!isCode(err, 'EEXIST') || !(await fsp.stat(dir)).isDirectory()) throw err;
      }
    }
    return { created };
  }

  async rmdir(path: string): Promise<void> {
    validatePath(path);
    await fsp.rmdir(path);
  }

  async removeTree(path: string): Promise<void> {
    validatePath(path);
    await fsp.rm(path, { recursive: true, force: true });
  }

  async readdir(path: string): Promise<string[]> {
    validatePath(path);
    return (await fsp.readdir(path)).sort(byteOrder);
  }

  async stat(path: string): Promise<FileStat> {
    validatePath(path);
    return toFileStat(await fsp.stat(path));
  }

  async statOrUndefined(path: string): Promise<FileStat | undefined> {
    validatePath(path);
    try {
      return toFileStat(await fsp.stat(path));
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async syncFile(path: string, options?: { dataOnly?: boolean }): Promise<void> {
    validatePath(path);
    await this.syncPath(path, options?.dataOnly === true);
  }

  async syncDir(path: string): Promise<void> {
    validatePath(path);
    await this.syncPath(path, false);
  }

  async lock(path: string): Promise<LockHandle> {
    validatePath(path);
    const key = nodePath.resolve(path);
    if (heldLocks.has(key)) throw lockedError(path);
    heldLocks.set(key, 'acquiring');
    try {
      // The lock file itself exists for parity with flock-based implementations.
      await (await fsp.open(key, 'a', 0o644)).close();
      const held = await this.takeStamp(key);
      heldLocks.set(key, held);
      let released = false;
      return {
        path,
        unlock: async () => {
          if (released) return;
          released = true;
          try {
            if ((await fsp.readFile(held.stampPath, 'utf8')) === held.token) await fsp.unlink(held.stampPath);
          } catch (err) {
            if (!isCode(err, 'ENOENT')) throw err;
          } finally {
            heldLocks.delete(key);
          }
        },
      };
    } catch (err) {
      heldLocks.delete(key);
      throw err;
    }
  }

  async linkBatch(pairs: readonly PathPair[], options?: BatchOptions): Promise<BatchResult> {
    validatePairs(pairs);
    validateBatchOptions(options);
    return runBatch(pairs, options, async ([from, to]) => {
      await fsp.link(from, to);
    });
  }

  async copyBatch(requests: readonly CopyRequest[], options?: CopyOptions): Promise<BatchResult> {
    const resolved = validateCopyRequests(requests, options);
    let tryClone = true;
    return runBatch(resolved, options, async ([from, to, limit]) => {
      if (limit === undefined && tryClone) {
        const cloned = await this.cloneFile(from, to);
        if (cloned !== undefined) return cloned;
        tryClone = false;
      }
      return this.copyByReadWrite(from, to, limit);
    });
  }

  async syncBatch(paths: readonly string[], options?: SyncOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    const dataOnly = options?.dataOnly === true;
    return runBatch(paths, options, async (path) => this.syncPath(path, dataOnly));
  }

  async syncDirs(paths: readonly string[], options?: BatchOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    return runBatch(paths, options, async (path) => this.syncPath(path, false));
  }

  async sameDevice(a: string, b: string): Promise<boolean> {
    validatePath(a, 'a');
    validatePath(b, 'b');
    const [sa, sb] = await Promise.all([fsp.stat(a), fsp.stat(b)]);
    return sa.dev === sb.dev;
  }

  /** Opens read-only (works for directories too) and fsyncs. */
  protected async syncPath(path: string, dataOnly: boolean): Promise<void> {
    const handle = await fsp.open(path, 'r');
    try {
      if (dataOnly) await handle.datasync();
      else await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** A reflink copy, fsynced; undefined when the file system cannot clone. */
  private async cloneFile(from: string, to: string): Promise<ItemSuccess | undefined> {
    try {
      await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE_FORCE);
    } catch (err) {
      if (typeof (err as { code?: unknown }).code === 'string' && CLONE_UNSUPPORTED.has((err as { code: string }).code)) return undefined;
      throw err;
    }
    try {
      await this.syncPath(to, false);
      return { bytes: (await fsp.stat(to)).size, method: 'clone' };
    } catch (err) {
      await fsp.unlink(to).catch(() => undefined);
      throw err;
    }
  }

  private async copyByReadWrite(from: string, to: string, limit: number | undefined): Promise<ItemSuccess> {
    const source = await fsp.open(from, 'r');
    try {
      const mode = (await source.stat()).mode & 0o777;
      const dest = await fsp.open(to, 'wx', mode);
      let bytes = 0;
      try {
        const buffer = Buffer.allocUnsafe(COPY_CHUNK);
        const wanted = limit ?? Number.MAX_SAFE_INTEGER;
        while (bytes < wanted) {
          const { bytesRead } = await source.read(buffer, 0, Math.min(COPY_CHUNK, wanted - bytes), bytes);
          if (bytesRead === 0) break;
          let written = 0;
          while (written < bytesRead) {
            written += (await dest.write(buffer, written, bytesRead - written, bytes + written)).bytesWritten;
          }
          bytes += bytesRead;
        }
        await dest.sync();
      } catch (err) {
        await dest.close().catch(() => undefined);
        await fsp.unlink(to).catch(() => undefined);
        throw err;
      }
      await dest.close();
      return { bytes, method: 'readwrite' };
    } finally {
      await source.close();
    }
  }

  /**
   * Writes the token beside the stamp, then links it into place: a reader never sees a
   * half-written stamp. False when a stamp already exists.
   */
  private async publishStamp(stampPath: string, token: string): Promise<boolean> {
    const draft = `${stampPath}.${randomBytes(6).toString('hex')}`;
    await fsp.writeFile(draft, token, { flag: 'wx', mode: 0o644 });
    try {
      await fsp.link(draft, stampPath);
      return true;
    } catch (err) {
      if (isCode(err, 'EEXIST')) return false;
      throw err;
    } finally {
      await fsp.unlink(draft).catch(() => undefined);
    }
  }

  /**
   * Creates `<lock>.pid` exclusively with our token; a stamp whose pid is dead is
   * removed and the create retried once, then re-read to detect a racing taker.
   */
  private async takeStamp(lockPath: string): Promise<HeldLock> {
    const stampPath = `${lockPath}.pid`;
    const token = stampToken();
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.publishStamp(stampPath, token)) {
        if ((await fsp.readFile(stampPath, 'utf8')) !== token) break;
        return { stampPath, token };
      }
      let content: string;
      try {
        content = await fsp.readFile(stampPath, 'utf8');
      } catch (err) {
        if (isCode(err, 'ENOENT')) continue;
        throw err;
      }
      if (stampOwnerAlive(content)) throw lockedError(lockPath);
      await fsp.unlink(stampPath).catch((err: unknown) => {
        if (!isCode(err, 'ENOENT')) throw err;
      });
    }
    throw lockedError(lockPath);
  }
}
