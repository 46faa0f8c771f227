// The local-copy capability of a store whose objects are files on this machine (FileStore):
// backup copies keyspace files in and restore copies objects out in the kernel, through the
// FileSystem seam's copyBatch, instead of streaming every byte through JavaScript.
// Implementations are safe for concurrent calls on different keys.
import type { BackupStore } from './store.js';

export interface LocalCopyOptions {
  signal?: AbortSignal;
}

export interface LocalCopyStore extends BackupStore {
  /**
   * Copies the local file at `path`, which must hold exactly `size` bytes, into the object
   * `key`, replacing it atomically like put: the object is complete once visible. Its name
   * is durable only after `syncCopiedIn()`, which lets many copies share one fsync per
   * directory.
   */
  copyIn(path: string, key: string, size: number, options?: LocalCopyOptions): Promise<void>;
  /** Makes durable the name of every object `copyIn` has published so far (this call's and others'). */
  syncCopiedIn(): Promise<void>;
  /**
   * Copies the object into a new file at `path` (EEXIST if it exists) and fsyncs the file;
   * resolves with the bytes copied. A missing object rejects CAIRN_NOT_FOUND.
   */
  copyOut(key: string, path: string, options?: LocalCopyOptions): Promise<number>;
}

/** The store itself when it offers local copies, else undefined (streams are the way). */
export function localCopyStore(store: BackupStore): LocalCopyStore | undefined {
  const candidate = store as Partial<LocalCopyStore>;
  const capable = typeof candidate.copyIn === 'function' && typeof candidate.syncCopiedIn === 'function' && typeof candidate.copyOut === 'function';
  return capable ? (store as LocalCopyStore) : undefined;
}
