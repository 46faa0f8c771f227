// The BackupStore seam: the small async object-store interface every backup location
// implements (file:// directory, s3:// bucket), so the BackupEngine never knows where its
// bytes live. Implementations are safe for concurrent calls on different keys.
import type { Readable } from 'node:stream';

/** What `head` and `list` report about one object. */
export interface StoreObjectInfo {
  /** The key, relative to the store's prefix, '/'-separated (e.g. 'files/ab12….sst'). */
  key: string;
  size: number;
  /** Last modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /**
   * SHA-256 (hex) of the stored bytes, from `head` only, when the store keeps one and
   * returns it for free (S3 with `ChecksumMode`, for objects put with `sha256`).
   */
  sha256?: string;
}

/** One page of a listing. Pass `next` back as `cursor` to continue; undefined means the end. */
export interface StoreListPage {
  objects: StoreObjectInfo[];
  next: string | undefined;
}

/** Options of `store.put`. */
export interface StorePutOptions {
  /** Fail with EEXIST instead of replacing an existing object (used for manifests and store.json). */
  ifNoneMatch?: boolean;
  /** Aborts the put (CAIRN_ABORTED); nothing becomes visible. */
  signal?: AbortSignal;
  /**
   * SHA-256 (hex) of the body, when the caller knows it: a store that can (S3) has the
   * server check the upload against it and keep it, for `head` to return.
   */
  sha256?: string;
}

/** Options of `store.get`. */
export interface StoreGetOptions {
  /** Aborts the request, and destroys the returned stream with CAIRN_ABORTED if it fires later. */
  signal?: AbortSignal;
}

/** The body of a put: whole bytes, or a stream with its exact length. */
export type StoreBody = Uint8Array | { stream: Readable; size: number };

/**
 * A place to keep backups. Keys are relative '/'-separated paths of [A-Za-z0-9._/-] with
 * no '..' segments. Errors: a missing object rejects with a CairnError CAIRN_NOT_FOUND
 * (`details.key`); `ifNoneMatch` on an existing object rejects with code EEXIST; transport
 * and OS failures keep their own codes (ENOSPC, ECONNREFUSED, S3 error names as `code`).
 * Every method rejects with TypeError / RangeError for an invalid key, prefix, body or
 * option (before any I/O) and with CAIRN_CLOSED after close(). Open one with openStore().
 */
export interface BackupStore {
  /** The URL it was opened from, with credentials removed (for messages and manifests). */
  readonly url: string;
  /**
   * Stores the object. Idempotent: putting the same key again replaces it atomically
   * (readers see the old or the new object, never a mix), unless `ifNoneMatch`. An
   * object is visible only once it is complete; a failed or aborted put leaves nothing.
   * A stream body belongs to the store from the call on (destroyed on failure); one that
   * yields other than `size` bytes rejects with RangeError.
   */
  put(key: string, body: StoreBody, options?: StorePutOptions): Promise<void>;
  /** The object's content as a stream. Rejects CAIRN_NOT_FOUND before any data flows. */
  get(key: string, options?: StoreGetOptions): Promise<Readable>;
  /** Size and time of the object, or undefined when it does not exist. */
  head(key: string): Promise<StoreObjectInfo | undefined>;
  /** Objects whose keys start with `prefix`, sorted by key, at most `limit` (default 1000) per page. */
  list(prefix: string, options?: { cursor?: string; limit?: number }): Promise<StoreListPage>;
  /** Removes the object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections and handles. Idempotent. */
  close(): Promise<void>;
}
