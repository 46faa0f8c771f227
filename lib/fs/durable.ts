// The one durability module: atomic file replacement and durable directory creation,
// removal and rename, all through the FileSystem seam. Stateless; concurrent calls on
// different paths are safe, calls on the same path must be serialised by the caller.
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import type { FileSystem, MkdirResult } from './file-system.js';
import { validatePath } from './node-file-system.js';

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
