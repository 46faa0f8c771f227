// FileStore: a BackupStore over a local directory (file:///abs/path); each object is a file
// at its key's relative path, published by rename (or link, for ifNoneMatch) after fsync.
// It also offers local copies (LocalCopyStore): backup copies files in by kernel copy.
// All disk access goes through the FileSystem seam. Safe for concurrent calls on any keys.
import * as nodePath from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { abortError, hasCode, throwIfAborted } from '../errors.js';
import { defaultFileSystem, mkdirDurable, syncParent, TEMP_MARKER, tempPathFor } from '../fs/index.js';
import type { FileHandle, FileStat, FileSystem } from '../fs/index.js';
import type { LocalCopyOptions, LocalCopyStore } from './local-copy.js';
import type { BackupStore, StoreBody, StoreGetOptions, StoreListPage, StoreObjectInfo, StorePutOptions } from './store.js';
import {
  objectExists,
  objectNotFound,
  sizeMismatch,
  storeClosed,
  validateBody,
  validateGetOptions,
  validateKey,
  validateListOptions,
  validatePrefix,
  validatePutOptions,
} from './store-errors.js';

/** Bytes per read of a get stream, and its highWaterMark. */
const READ_CHUNK = 1024 * 1024;
/** Directory entries stat'ed at once while listing. */
const STAT_WINDOW = 64;

export interface FileStoreOptions {
  /** The file system to go through (default: defaultFileSystem()); tests inject faults here. */
  fs?: FileSystem;
}

/**
 * Objects are files under `root`; '/' in a key is a directory. A put streams into a temp
 * sibling, fsyncs it, renames it over the key and fsyncs the directory, so a crash leaves
 * the old object or the new one, never a torn one. A failure of that last directory fsync
 * rejects although the new object is already visible (like writeFileAtomic). Because a
 * key's segments are directories, a key cannot also be a prefix directory of another key
 * ('a' and 'a/b'); such a put fails with the file system's EEXIST / ENOTDIR / EISDIR.
 * Directories emptied by delete are left in place.
 */
export class FileStore implements BackupStore, LocalCopyStore {
  /** file:// URL of `root`. The methods are documented on BackupStore and LocalCopyStore. */
  readonly url: string;
  /** The absolute directory holding the objects. */
  readonly root: string;
  readonly #fs: FileSystem;
  /** Directories already made durable by this store, so concurrent puts create each once. */
  readonly #dirs = new Map<string, Promise<void>>();
  /** Directories where copyIn renamed an object and no directory fsync has started since. */
  readonly #unsyncedDirs = new Set<string>();
  /** Directory fsyncs of syncCopiedIn in flight: a later caller waits for them too. */
  readonly #dirSyncs = new Set<Promise<void>>();
  #closed = false;

  /** Use openStore() to also create the root; this constructor does no I/O. */
  constructor(root: string, options: FileStoreOptions = {}) {
    if (typeof root !== 'string' || !nodePath.isAbsolute(root)) throw new TypeError('root must be an absolute path');
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    this.root = nodePath.resolve(root);
    this.#fs = options.fs ?? defaultFileSystem();
    this.url = pathToFileURL(this.root).href;
  }

  async put(key: string, body: StoreBody, options?: StorePutOptions): Promise<void> {
    validateKey(key);
    validateBody(body);
    const { ifNoneMatch = false, signal } = validatePutOptions(options);
    const stream = body instanceof Uint8Array ? undefined : body.stream;
    try {
      this.#checkOpen();
      throwIfAborted(signal);
      await this.#put(key, body, ifNoneMatch, signal);
    } catch (err) {
      // The store owns a stream body from the call on: an unread rest must not hold its source open.
      stream?.destroy();
      throw err;
    }
  }

  async #put(key: string, body: StoreBody, ifNoneMatch: boolean, signal: AbortSignal | undefined): Promise<void> {
    const path = this.#pathOf(key);
    // Cheap early answer for the common "already uploaded" case; the link below is the real test.
    if (ifNoneMatch && (await this.#statObject(path)) !== undefined) throw objectExists(key);
    await this.#ensureDir(nodePath.dirname(path));
    const temp = tempPathFor(path);
    let published = false;
    try {
      await this.#writeTemp(key, temp, body, signal);
      throwIfAborted(signal);
      if (ifNoneMatch) {
        // link() fails with EEXIST atomically when the key appeared meanwhile; rename would replace it.
        try {
          await this.#fs.link(temp, path);
        } catch (err) {
          if (hasCode(err, 'EEXIST')) throw objectExists(key, err);
          throw err;
        }
        published = true;
        // The object is complete and visible; a temp left by a failed unlink is only debris
        // that list skips and that is named for cleanup (*.tmp-*).
        await this.#fs.unlink(temp).catch(() => undefined);
      } else {
        await this.#fs.rename(temp, path);
        published = true;
      }
    } catch (err) {
      if (!published) await this.#fs.unlink(temp).catch(() => undefined);
      throw err;
    }
    await syncParent(this.#fs, path);
  }

  /** Writes the body into a fresh temp file and fsyncs it; an abort destroys the stream mid-read. */
  async #writeTemp(key: string, temp: string, body: StoreBody, signal: AbortSignal | undefined): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await this.#fs.open(temp, 'wx');
    } catch (err) {
      // Someone removed a directory this store had created; make it again once.
      if (!hasCode(err, 'ENOENT')) throw err;
      this.#dirs.delete(nodePath.dirname(temp));
      await this.#ensureDir(nodePath.dirname(temp));
      handle = await this.#fs.open(temp, 'wx');
    }
    try {
      if (body instanceof Uint8Array) {
        if (body.byteLength > 0) await handle.write(body, 0, body.byteLength, 0);
      } else {
        await writeStream(key, handle, body, signal);
      }
      throwIfAborted(signal);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async copyIn(path: string, key: string, size: number, options?: LocalCopyOptions): Promise<void> {
    validateLocalPath(path);
    validateKey(key);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new RangeError('size must be a non-negative safe integer');
    const { signal } = validateGetOptions(options);
    this.#checkOpen();
    throwIfAborted(signal);
    const dest = this.#pathOf(key);
    const dir = nodePath.dirname(dest);
    await this.#ensureDir(dir);
    const temp = tempPathFor(dest);
    let published = false;
    try {
      // copyBatch fsyncs the copy: the rename below publishes complete content only.
      let copied: number;
      try {
        copied = await this.#copyFile(path, temp);
      } catch (err) {
        // Someone removed a directory this store had created; make it again once.
        if (!hasCode(err, 'ENOENT')) throw err;
        this.#dirs.delete(dir);
        await this.#ensureDir(dir);
        copied = await this.#copyFile(path, temp);
      }
      if (copied !== size) throw sizeMismatch(key, size, copied);
      throwIfAborted(signal);
      await this.#fs.rename(temp, dest);
      published = true;
    } catch (err) {
      if (!published) await this.#fs.unlink(temp).catch(() => undefined);
      throw err;
    }
    this.#unsyncedDirs.add(dir);
  }

  async syncCopiedIn(): Promise<void> {
    this.#checkOpen();
    const dirs = [...this.#unsyncedDirs];
    this.#unsyncedDirs.clear();
    const earlier = [...this.#dirSyncs];
    if (dirs.length === 0) {
      await Promise.all(earlier);
      return;
    }
    const sync = this.#fs.syncDirs(dirs).then(() => undefined);
    this.#dirSyncs.add(sync);
    try {
      await sync;
    } catch (err) {
      // Not durable: whoever syncs next must try these again.
      for (const dir of dirs) this.#unsyncedDirs.add(dir);
      throw err;
    } finally {
      this.#dirSyncs.delete(sync);
    }
    // A sync that started before this call may cover a directory this call found clean.
    await Promise.all(earlier);
  }

  async stagingPath(nearKey: string): Promise<string> {
    validateKey(nearKey);
    this.#checkOpen();
    const path = this.#pathOf(nearKey);
    await this.#ensureDir(nodePath.dirname(path));
    return tempPathFor(path);
  }

  async adoptStaged(staged: string, key: string): Promise<void> {
    validateKey(key);
    this.#checkOpen();
    const dest = this.#pathOf(key);
    const dir = nodePath.dirname(dest);
    if (nodePath.dirname(staged) !== dir || !nodePath.basename(staged).includes(TEMP_MARKER)) throw new RangeError(`${staged} is not a staging path for ${key}`);
    // Complete content only: the data is made durable before the rename publishes it.
    await this.#fs.syncBatch([staged]);
    await this.#fs.rename(staged, dest);
    this.#unsyncedDirs.add(dir);
  }

  objectPath(key: string): string {
    validateKey(key);
    this.#checkOpen();
    return this.#pathOf(key);
  }

  /** One fsynced copy through the seam; the bytes copied. */
  async #copyFile(from: string, to: string): Promise<number> {
    const result = await this.#fs.copyBatch([[from, to]]);
    const [item] = result.items;
    return item?.ok === true && item.bytes !== undefined ? item.bytes : result.bytes;
  }

  async get(key: string, options?: StoreGetOptions): Promise<Readable> {
    validateKey(key);
    const { signal } = validateGetOptions(options);
    this.#checkOpen();
    throwIfAborted(signal);
    let handle: FileHandle;
    try {
      handle = await this.#fs.open(this.#pathOf(key), 'r');
    } catch (err) {
      if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) throw objectNotFound(key, err);
      throw err;
    }
    try {
      const stat = await handle.stat();
      // A directory is only a prefix of other keys, not an object.
      if (!stat.isFile) throw objectNotFound(key);
      throwIfAborted(signal);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new FileObjectStream(handle, signal);
  }

  async head(key: string): Promise<StoreObjectInfo | undefined> {
    validateKey(key);
    this.#checkOpen();
    const stat = await this.#statObject(this.#pathOf(key));
    return stat === undefined ? undefined : { key, size: stat.size, mtimeMs: stat.mtimeMs };
  }

  async list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<StoreListPage> {
    validatePrefix(prefix);
    const { cursor, limit } = validateListOptions(options);
    this.#checkOpen();
    const slash = prefix.lastIndexOf('/');
    const objects: StoreObjectInfo[] = [];
    // One object past the page tells whether there is a next page, so the last page says so.
    for await (const object of this.#walk(prefix.slice(0, slash + 1), prefix.slice(slash + 1), cursor)) {
      if (objects.length === limit) return { objects, next: (objects[limit - 1] as StoreObjectInfo).key };
      objects.push(object);
    }
    return { objects, next: undefined };
  }

  /**
   * Yields the objects under directory `dirKey` ('' or ending in '/') whose names start
   * with `namePrefix` and whose keys sort after `after`, in byte order of the whole key.
   * Directory order is not key order: a directory 'a' holds keys 'a/…', which sort after
   * siblings 'a-…' and 'a.…' ('-' and '.' are below '/'), so a directory waits on a stack
   * until the first sibling name that sorts after its keys.
   */
  async *#walk(dirKey: string, namePrefix: string, after: string | undefined): AsyncGenerator<StoreObjectInfo> {
    let names: string[];
    try {
      names = await this.#fs.readdir(nodePath.join(this.root, dirKey));
    } catch (err) {
      if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return;
      throw err;
    }
    const candidates = names.filter((name) => name.startsWith(namePrefix) && !name.includes(TEMP_MARKER) && !entirelyBefore(dirKey + name, after));
    const waiting: string[] = [];
    for (let start = 0; start < candidates.length; start += STAT_WINDOW) {
      const window = candidates.slice(start, start + STAT_WINDOW);
      const stats = await Promise.all(window.map((name) => this.#statEntry(nodePath.join(this.root, dirKey, name))));
      for (let i = 0; i < window.length; i++) {
        const name = window[i] as string;
        const stat = stats[i];
        if (stat === undefined) continue;
        for (let top = waiting.at(-1); top !== undefined && !sortsBeforeDirectory(name, top); top = waiting.at(-1)) {
          waiting.pop();
          yield* this.#walk(`${dirKey}${top}/`, '', after);
        }
        if (stat.isDirectory) {
          waiting.push(name);
        } else if (stat.isFile) {
          const key = dirKey + name;
          if (after === undefined || key > after) yield { key, size: stat.size, mtimeMs: stat.mtimeMs };
        }
      }
    }
    for (let top = waiting.pop(); top !== undefined; top = waiting.pop()) yield* this.#walk(`${dirKey}${top}/`, '', after);
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    this.#checkOpen();
    const path = this.#pathOf(key);
    try {
      await this.#fs.unlink(path);
    } catch (err) {
      // Missing, or a directory (a prefix of other keys): either way there is no such object.
      if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR') || hasCode(err, 'EISDIR')) return;
      throw err;
    }
    await syncParent(this.#fs, path);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(): void {
    if (this.#closed) throw storeClosed(this.url);
  }

  #pathOf(key: string): string {
    return nodePath.join(this.root, ...key.split('/'));
  }

  /** mkdir -p made durable, at most once per directory per store (concurrent callers share it). */
  #ensureDir(dir: string): Promise<void> {
    let ready = this.#dirs.get(dir);
    if (ready === undefined) {
      ready = mkdirDurable(this.#fs, dir).then(() => undefined);
      this.#dirs.set(dir, ready);
      ready.catch(() => this.#dirs.delete(dir));
    }
    return ready;
  }

  /** The stat of a regular file at `path`, or undefined when there is none. */
  async #statObject(path: string): Promise<FileStat | undefined> {
    const stat = await this.#statEntry(path);
    return stat?.isFile === true ? stat : undefined;
  }

  /** stat that treats a vanished entry (concurrent delete) or a file used as a directory as absent. */
  async #statEntry(path: string): Promise<FileStat | undefined> {
    try {
      return await this.#fs.statOrUndefined(path);
    } catch (err) {
      if (hasCode(err, 'ENOTDIR') || hasCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  }
}

/** True when `name` (a later sibling in byte order) sorts before the keys inside directory `dir`. */
function sortsBeforeDirectory(name: string, dir: string): boolean {
  return name.length > dir.length && name.startsWith(dir) && (name.charCodeAt(dir.length) as number) < 0x2f;
}

/** True when the entry with key `entryKey` and everything under it sort at or before the cursor. */
function entirelyBefore(entryKey: string, after: string | undefined): boolean {
  if (after === undefined) return false;
  const asDir = `${entryKey}/`;
  return asDir < after && !after.startsWith(asDir);
}

function validateLocalPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || !nodePath.isAbsolute(path)) throw new TypeError('path must be an absolute path');
}

/** Copies a sized stream into the temp file, insisting on exactly `size` bytes. */
async function writeStream(key: string, handle: FileHandle, body: { stream: Readable; size: number }, signal: AbortSignal | undefined): Promise<void> {
  const { stream, size } = body;
  const onAbort = (): void => {
    stream.destroy(abortError(signal));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let position = 0;
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      if (position + bytes.byteLength > size) throw sizeMismatch(key, size, position + bytes.byteLength);
      await handle.write(bytes, 0, bytes.byteLength, position);
      position += bytes.byteLength;
    }
    if (position !== size) throw sizeMismatch(key, size, position);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** A get's content: sequential reads through the open handle, which is closed on end or destroy. */
class FileObjectStream extends Readable {
  readonly #handle: FileHandle;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => {
    this.destroy(abortError(this.#signal));
  };
  #position = 0;
  /** The read in flight; the handle is closed only after it settles. */
  #reading: Promise<unknown> = Promise.resolve();

  constructor(handle: FileHandle, signal: AbortSignal | undefined) {
    super({ highWaterMark: READ_CHUNK });
    this.#handle = handle;
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  override _read(): void {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    this.#reading = this.#handle.read(buffer, 0, READ_CHUNK, this.#position).then(
      (bytesRead) => {
        if (this.destroyed) return;
        this.#position += bytesRead;
        this.push(bytesRead === 0 ? null : buffer.subarray(0, bytesRead));
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#reading
      .then(() => this.#handle.close())
      .then(
        () => callback(error),
        (closeError: unknown) => callback(error ?? (closeError as Error)),
      );
  }
}
