// The one durability module: atomic file replacement, durable directory creation,
// removal and rename, link-or-copy of immutable files, and publishing a staged directory,
// all through the FileSystem seam. Stateless; concurrent calls on different paths are
// safe, calls on the same path must be serialised by the caller.
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import { hasCode, systemError, throwIfAborted, type SystemError } from '../errors.js';
import type { FileSystem, MkdirResult, PathPair } from './file-system.js';
import { validatePath } from './arguments.js';

/** Every temporary name carries this marker; anything bearing it is debris after a crash. */
export const TEMP_MARKER = '.tmp-';

/** The name of a temporary sibling; recovery may delete anything matching `*.tmp-*`. */
export function tempPathFor(path: string): string {
  return `${path}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
}

/**
 * Replaces `path` with `data` so that after a crash it holds either the old or the new
 * content in full: write a temp sibling, fsync it, rename it over, fsync the directory.
 * Before the rename, a failure unlinks the temp and leaves the old file untouched. A
 * failure of the final directory fsync leaves the new content visible but not durable;
 * callers must treat any rejection as a failed (possibly poisoning) write.
 */
export async function writeFileAtomic(fs: FileSystem, path: string, data: Uint8Array | string): Promise<void> {
  validatePath(path);
  if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw new TypeError('data must be a string or Uint8Array');
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const temp = tempPathFor(path);
  try {
    const handle = await fs.open(temp, 'wx');
    try {
      await handle.write(bytes, 0, bytes.byteLength, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
  } catch (err) {
    await fs.unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncParent(fs, path);
}

/** fsyncs the directory holding `path`, making its creation, rename or removal durable. */
export async function syncParent(fs: FileSystem, path: string): Promise<void> {
  validatePath(path);
  await fs.syncDir(nodePath.dirname(path));
}

/**
 * mkdir -p, then fsyncs the first pre-existing ancestor and every directory created
 * except the innermost (each holds the entry of the next), outermost first.
 */
export async function mkdirDurable(fs: FileSystem, path: string): Promise<MkdirResult> {
  validatePath(path);
  const result = await fs.mkdir(path, { recursive: true });
  const [outermost] = result.created;
  if (outermost === undefined) return result;
  await fs.syncDirs([nodePath.dirname(outermost), ...result.created.slice(0, -1)]);
  return result;
}

/** Renames and fsyncs the destination's directory (and the source's, when different). */
export async function renameDurable(fs: FileSystem, from: string, to: string): Promise<void> {
  validatePath(from, 'from');
  validatePath(to, 'to');
  await fs.rename(from, to);
  const fromDir = nodePath.dirname(nodePath.resolve(from));
  const toDir = nodePath.dirname(nodePath.resolve(to));
  await fs.syncDirs(fromDir === toDir ? [toDir] : [toDir, fromDir]);
}

/** Removes a file or tree (missing is fine) and fsyncs its parent so the removal sticks. */
export async function removeTreeDurable(fs: FileSystem, path: string): Promise<void> {
  validatePath(path);
  await fs.removeTree(path);
  await syncParent(fs, path);
}

/**
 * Gives each pair's destination the content of its source: hard links when `link` (the
 * caller found both on one file system), else copies (clone, copy_file_range or
 * read/write; the seam fsyncs each copy). If linking still fails with EXDEV (bind mounts
 * of one device), the links made so far are removed and every pair is copied. For
 * immutable files only: a link is a second name for the same inode, a complete private
 * copy for as long as the source never changes in place.
 */
export async function linkOrCopyBatch(fs: FileSystem, pairs: readonly PathPair[], link: boolean): Promise<{ linked: boolean; bytesCopied: number }> {
  if (pairs.length === 0) return { linked: link, bytesCopied: 0 };
  if (link) {
    try {
      await fs.linkBatch(pairs);
      return { linked: true, bytesCopied: 0 };
    } catch (err) {
      if (!hasCode(err, 'EXDEV')) throw err;
      // A copy onto an existing name fails: the links made before the EXDEV go first.
      for (const [, to] of pairs) await fs.unlink(to).catch(ignoreMissing);
    }
  }
  const copied = await fs.copyBatch(pairs);
  return { linked: false, bytesCopied: copied.bytes };
}

export interface PublishOptions {
  /** Every directory made in staging, staging itself included, innermost first. */
  dirs: readonly string[];
  /** The operation an EEXIST names (`backupTo`, `snapshot`, `restore`). */
  syscall: string;
  /** Let an empty directory at the destination be replaced (rename(2)); by default anything there is EEXIST. */
  replaceEmptyDirectory?: boolean;
  signal?: AbortSignal;
}

/**
 * Publishes a complete staging directory (named by tempPathFor beside `dest`) as `dest`:
 * durability before visibility. fsyncs every staging directory (which makes the names in
 * them durable), renames staging onto `dest` without replacing anything that appeared
 * there meanwhile (EEXIST naming `syscall`), then fsyncs the parent. If it rejects,
 * `dest` does not exist: a failure after the rename removes it again. Removing staging
 * after an earlier failure is the caller's, who also removes it when building fails.
 */
export async function publishDirectory(fs: FileSystem, staging: string, dest: string, options: PublishOptions): Promise<void> {
  await fs.syncDirs(options.dirs);
  throwIfAborted(options.signal);
  try {
    if (options.replaceEmptyDirectory === true) await fs.rename(staging, dest);
    else await fs.renameNoReplace(staging, dest);
  } catch (err) {
    // EEXIST from renameat2; ENOTEMPTY / ENOTDIR from rename(2) and the lstat-then-rename fallback.
    if (hasCode(err, 'EEXIST') || hasCode(err, 'ENOTEMPTY') || hasCode(err, 'ENOTDIR')) throw destinationExists(dest, options.syscall);
    throw err;
  }
  try {
    await syncParent(fs, dest);
  } catch (err) {
    await fs.removeTree(dest).catch(() => undefined);
    throw err;
  }
}

/** The Node-shaped EEXIST of a destination that exists (or appeared while staging). */
export function destinationExists(dest: string, syscall: string): SystemError {
  return systemError('EEXIST', syscall, { path: dest });
}

function ignoreMissing(err: unknown): void {
  if (!hasCode(err, 'ENOENT')) throw err;
}
