// The local-copy capability of a store whose objects are files on this machine (FileStore):
// backup copies keyspace files in (in the kernel, the seam's copyBatch) and restore reads
// objects from their files, instead of streaming every byte through the store interface.
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
   * The local file holding the object's current version, for a reader that copies it out
   * itself (restore). Objects are replaced by rename, never rewritten in place, so a reader
   * that opened the file reads one whole version. A missing object is ENOENT on open.
   */
  objectPath(key: string): string;
  /**
   * A new temp path beside where `nearKey`'s object lives, for a writer that makes an
   * object's file itself (a backup's encoder on a worker thread); list never shows it.
   */
  stagingPath(nearKey: string): Promise<string>;
  /**
   * Publishes the file at `staged` (from stagingPath, for a key in the same directory) as
   * the object `key`: fsynced, then renamed over it. Its name is durable after syncCopiedIn().
   */
  adoptStaged(staged: string, key: string): Promise<void>;
}

/** The store itself when it offers local copies, else undefined (streams are the way). */
export function localCopyStore(store: BackupStore): LocalCopyStore | undefined {
  const candidate = store as Partial<LocalCopyStore>;
  const capable =
    typeof candidate.copyIn === 'function' &&
    typeof candidate.syncCopiedIn === 'function' &&
    typeof candidate.objectPath === 'function' &&
    typeof candidate.stagingPath === 'function' &&
    typeof candidate.adoptStaged === 'function';
  return capable ? (store as LocalCopyStore) : undefined;
}
