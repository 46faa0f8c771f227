// The budget of open segment files (`maxOpenFiles`): an LRU of the files segment readers
// read blocks through. A reader keeps its index and filter in memory and opens its file
// (synchronously, through FileSystem.openReadSync) on its first block read; beyond the
// budget the least recently read file is closed, synchronously, so the budget holds even
// inside one synchronous stretch of reads, and is reopened on its next read. Main thread only.
import type { FileHandle, FileSystem, ReadHandle } from '../fs/file-system.js';

/** What the budget tracks: one open file per reader. */
export interface OpenFileOwner {
  readonly path: string;
}

type Readable = Pick<ReadHandle, 'path' | 'readSync'>;

export class OpenFiles {
  /** Infinity when the file system cannot reopen files synchronously (no openReadSync). */
  readonly capacity: number;
  readonly #fs: FileSystem;
  /** Open files in use order: the first is the least recently used. */
  readonly #open = new Map<OpenFileOwner, ReadHandle>();
  /** Without openReadSync: each reader's handle from its open, kept until it closes. */
  readonly #kept = new Map<OpenFileOwner, FileHandle>();
  #evictions = 0;

  constructor(fs: FileSystem, capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
    this.#fs = fs;
    this.capacity = fs.openReadSync === undefined ? Infinity : capacity;
  }

  /** Files open now. */
  get size(): number {
    return this.#open.size + this.#kept.size;
  }

  /** Files the budget closed (each is reopened on its next read). */
  get evictions(): number {
    return this.#evictions;
  }

  /**
   * Takes the handle a reader opened to read its metadata: closed now when the budget can
   * reopen the file on demand, else kept for the reader's block reads.
   */
  async adopt(owner: OpenFileOwner, handle: FileHandle): Promise<void> {
    if (this.#fs.openReadSync === undefined) this.#kept.set(owner, handle);
    else await handle.close();
  }

  /** The owner's file for a block read, marked most recently used; opened when it is not. Throws the open's error. */
  handle(owner: OpenFileOwner): Readable {
    const kept = this.#kept.get(owner);
    if (kept !== undefined) return kept;
    let handle = this.#open.get(owner);
    if (handle !== undefined) {
      this.#open.delete(owner);
      this.#open.set(owner, handle);
      return handle;
    }
    handle = this.#fs.openReadSync!(owner.path);
    this.#open.set(owner, handle);
    this.#evict();
    return handle;
  }

  /** Closes the owner's file, if open, and forgets it. */
  async release(owner: OpenFileOwner): Promise<void> {
    const kept = this.#kept.get(owner);
    this.#kept.delete(owner);
    if (kept !== undefined) await kept.close();
    const handle = this.#open.get(owner);
    this.#open.delete(owner);
    handle?.closeSync();
  }

  #evict(): void {
    while (this.#open.size > this.capacity) {
      const [owner, handle] = this.#open.entries().next().value as [OpenFileOwner, ReadHandle];
      this.#open.delete(owner);
      this.#evictions++;
      // A failed close leaves nothing to retry: the descriptor is released either way.
      try {
        handle.closeSync();
      } catch {
        // (see above)
      }
    }
  }
}
