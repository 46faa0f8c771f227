// One journal file being appended to, with group commit. Main thread only: appends made
// in the same event-loop turn are written by ONE positional writeSync (deliberately on the main
// thread: handing a few KB to the page cache costs microseconds, less than a thread-pool
// round trip), and sync appends share fdatasyncs (one in flight at a time; appends that
// arrive meanwhile wait for the next one). A failed fdatasync poisons the writer for good.
import { dirname } from 'node:path';
import { CairnError, ErrorCodes } from '../errors.js';
import type { FileHandle, FileSystem } from '../fs/file-system.js';
import { encodeHeader } from './record.js';

export interface AppendOptions {
  /** Resolve only once the record is on stable storage (fdatasync), not just handed to the OS. */
  sync: boolean;
}

export interface JournalWriterOptions {
  /** Written into the file header so a reader can tell a renamed file. Default 0. */
  fileNumber?: number;
}

/** One promise shared by every append of a flush group with the same durability. */
class Group {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

type State = 'open' | 'sealing' | 'closed';

export class JournalWriter {
  readonly path: string;
  readonly fileNumber: number;
  readonly #handle: FileHandle;
  #state: State = 'open';
  #sealing: Promise<void> | null = null;
  /** Bytes handed to the OS: everything before this offset is whole records. */
  #size: number;
  /** #size when the last successful fdatasync started. */
  #syncedSize = 0;
  #poisonCause: unknown = undefined;
  #poisonDetails: Record<string, unknown> = {};
  #poisoned = false;

  // The flush group being collected this tick.
  #records: Buffer[] = [];
  #callbacks: (() => void)[] = [];
  #pendingBytes = 0;
  #buffered: Group | null = null;
  #syncs: Group | null = null;
  #flushScheduled = false;
  readonly #flushTask = (): void => this.#flush();

  /** Sync groups already written and waiting for the next fdatasync. */
  #syncWaiters: Group[] = [];
  /** The fdatasync in flight (never rejects; failures poison instead). */
  #syncing: Promise<void> | null = null;
  /** The truncate that undoes a failed write (never rejects). */
  #recovering: Promise<void> | null = null;

  private constructor(handle: FileHandle, path: string, fileNumber: number, size: number) {
    this.#handle = handle;
    this.path = path;
    this.fileNumber = fileNumber;
    this.#size = size;
  }

  /**
   * Creates the file exclusively (EEXIST if present), writes the header and fsyncs the
   * directory so the file's name is durable before any sync append relies on it.
   */
  static async create(fs: FileSystem, path: string, options: JournalWriterOptions = {}): Promise<JournalWriter> {
    const fileNumber = options.fileNumber ?? 0;
    if (!Number.isSafeInteger(fileNumber) || fileNumber < 0) throw new RangeError('fileNumber must be a non-negative safe integer');
    const header = encodeHeader(fileNumber);
    const handle = await fs.open(path, 'wx');
    try {
      handle.writeSync(header, 0, header.length, 0);
      await fs.syncDir(dirname(path));
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fs.unlink(path).catch(() => undefined);
      throw err;
    }
    return new JournalWriter(handle, path, fileNumber, header.length);
  }

  /** Bytes handed to the OS so far, header included. */
  get size(): number {
    return this.#size;
  }

  /** Bytes appended but not yet written (this tick's group). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  get poisoned(): boolean {
    return this.#poisoned;
  }

  /**
   * Appends one framed record (from encodeBatch). `onWritten` runs synchronously right
   * after the record's bytes reach the OS, in append order, before any later record is
   * written; it must not throw (if it does, the writer is poisoned, since memory and
   * journal now disagree). Resolves when written (or synced with `sync`).
   */
  append(record: Buffer, options: AppendOptions, onWritten: () => void): Promise<void> {
    if (this.#poisoned) return Promise.reject(this.#poisonError());
    if (this.#state !== 'open') return Promise.reject(closedError(this.path));
    this.#records.push(record);
    this.#callbacks.push(onWritten);
    this.#pendingBytes += record.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // setImmediate, not a microtask: the group then spans the whole turn, and a caller
      // awaiting puts in a tight loop still lets timers and I/O run between them (with a
      // microtask, such a loop would never return to the event loop).
      setImmediate(this.#flushTask);
    }
    if (options.sync) return (this.#syncs ??= new Group()).promise;
    return (this.#buffered ??= new Group()).promise;
  }

  /**
   * Makes every byte handed to the OS so far durable (sharing fdatasyncs with sync
   * appends; none when nothing is unsynced) and resolves with that size. On a file being
   * sealed it waits for the seal, which syncs everything.
   */
  async syncWritten(): Promise<number> {
    if (this.#poisoned) throw this.#poisonError();
    const size = this.#size;
    if (this.#syncedSize >= size) return size;
    if (this.#state === 'sealing') {
      await this.#sealing;
      return this.#size;
    }
    if (this.#state !== 'open') throw closedError(this.path);
    const group = new Group();
    this.#syncWaiters.push(group);
    if (this.#syncing === null) this.#startSync();
    await group.promise;
    return size;
  }

  /** True while a failed write is being undone: pending records cannot be written synchronously now. */
  get recovering(): boolean {
    return this.#recovering !== null;
  }

  /** Writes what is pending, waits for every sync, fdatasyncs and closes. Later appends reject CAIRN_CLOSED. */
  seal(): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(closedError(this.path));
    this.#state = 'sealing';
    this.#sealing = this.#seal();
    return this.#sealing;
  }

  async #seal(): Promise<void> {
    try {
      await this.#settle();
      if (this.#poisoned) throw this.#poisonError();
      if (this.#syncedSize !== this.#size) {
        try {
          await this.#handle.sync(true);
        } catch (err) {
          this.#poison(err);
          throw this.#poisonError();
        }
        this.#syncedSize = this.#size;
      }
    } finally {
      this.#state = 'closed';
      await this.#handle.close().catch(() => undefined);
    }
  }

  /** Writes what is pending, waits for syncs in flight, closes without a final fdatasync. */
  async close(): Promise<void> {
    if (this.#state === 'sealing') await (this.#sealing as Promise<void>).catch(() => undefined);
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    await this.#settle();
    await this.#handle.close();
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#records.length === 0) return;
    if (this.#recovering !== null) {
      // A failed write is being undone; this group goes after it.
      this.#flushScheduled = true;
      void this.#recovering.then(this.#flushTask);
      return;
    }
    const records = this.#records;
    const callbacks = this.#callbacks;
    const bytes = this.#pendingBytes;
    const buffered = this.#buffered;
    const syncs = this.#syncs;
    this.#records = [];
    this.#callbacks = [];
    this.#pendingBytes = 0;
    this.#buffered = null;
    this.#syncs = null;

    if (this.#poisoned) {
      const err = this.#poisonError();
      buffered?.reject(err);
      syncs?.reject(err);
      return;
    }
    const data = records.length === 1 ? records[0] : Buffer.concat(records, bytes);
    try {
      this.#handle.writeSync(data, 0, data.length, this.#size);
    } catch (err) {
      this.#undoFailedWrite(err, buffered, syncs);
      return;
    }
    this.#size += data.length;
    let callbackError: unknown = undefined;
    let callbackFailed = false;
    for (let i = 0; i < callbacks.length; i++) {
      try {
        callbacks[i]();
      } catch (err) {
        if (!callbackFailed) callbackError = err;
        callbackFailed = true;
      }
    }
    if (callbackFailed) {
      this.#poison(callbackError);
      const err = this.#poisonError();
      buffered?.reject(err);
      syncs?.reject(err);
      this.#rejectSyncWaiters(err);
      return;
    }
    buffered?.resolve();
    if (syncs !== null) {
      this.#syncWaiters.push(syncs);
      if (this.#syncing === null) this.#startSync();
    }
  }

  /** Leader/follower fdatasync: covers every sync group written before it starts. */
  #startSync(): void {
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    const coveredSize = this.#size;
    this.#syncing = this.#handle.sync(true).then(
      () => {
        this.#syncing = null;
        this.#syncedSize = coveredSize;
        for (const g of waiters) g.resolve();
        if (this.#syncWaiters.length > 0) this.#startSync();
      },
      (err: unknown) => {
        // Never retried: after a failed fsync the kernel may have dropped the dirty pages.
        this.#syncing = null;
        this.#poison(err);
        const poisoned = this.#poisonError();
        for (const g of waiters) g.reject(poisoned);
        this.#rejectSyncWaiters(poisoned);
      },
    );
  }

  /** Truncates back to the last whole record so no torn bytes stay mid-journal, then rejects the group. */
  #undoFailedWrite(err: unknown, buffered: Group | null, syncs: Group | null): void {
    this.#recovering = this.#handle.truncate(this.#size).then(
      () => {
        this.#recovering = null;
        buffered?.reject(err);
        syncs?.reject(err);
      },
      (truncateErr: unknown) => {
        this.#recovering = null;
        this.#poison(err, truncateErr);
        const poisoned = this.#poisonError();
        buffered?.reject(poisoned);
        syncs?.reject(poisoned);
        this.#rejectSyncWaiters(poisoned);
      },
    );
  }

  /** Resolves once nothing is pending, recovering or syncing. */
  async #settle(): Promise<void> {
    for (;;) {
      if (this.#recovering !== null) await this.#recovering;
      else if (this.#records.length > 0) this.#flush();
      else if (this.#syncing !== null) await this.#syncing;
      else return;
    }
  }

  #rejectSyncWaiters(err: unknown): void {
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    for (const g of waiters) g.reject(err);
  }

  /** `truncateError`: the failure that stopped a failed write from being undone. */
  #poison(cause: unknown, truncateError?: unknown): void {
    if (this.#poisoned) return;
    this.#poisoned = true;
    this.#poisonCause = cause;
    this.#poisonDetails = truncateError === undefined ? { path: this.path } : { path: this.path, truncateError };
  }

  #poisonError(): CairnError {
    return new CairnError(ErrorCodes.POISONED, `Journal ${this.path} is poisoned by an earlier write or sync failure`, {
      cause: this.#poisonCause,
      details: this.#poisonDetails,
    });
  }
}

function closedError(path: string): CairnError {
  return new CairnError(ErrorCodes.CLOSED, `Journal ${path} is sealed or closed`, { details: { path } });
}
