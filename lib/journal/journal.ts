// The journal: a directory of numbered journal files, the highest one active, the others
// sealed (durable and immutable). Main thread only. Appends keep their order across
// rotations: while the next file is being opened they queue, and they are handed to it,
// in order, only after the previous file is sealed (fdatasynced), so a newer file never
// holds data while an older one could still lose its tail.
import { join } from 'node:path';
import { CairnError, ErrorCodes, hasCode } from '../errors.js';
import type { FileSystem } from '../fs/file-system.js';
import { journalFileName } from '../layout/file-names.js';
import { JournalWriter, type AppendOptions } from './journal-writer.js';
import { recordSeqnoRange } from './record.js';

/** One journal file and the seqnos it holds (undefined when it holds none). */
export interface JournalFileInfo {
  fileNumber: number;
  path: string;
  firstSeqno: number | undefined;
  lastSeqno: number | undefined;
  /** Size in bytes, header included (for the active file: written plus pending). */
  bytes: number;
}

export interface JournalOpenOptions {
  /** Rotate once the active file reaches this many bytes. */
  maxFileBytes: number;
  /** Number of the first file this Journal creates (it must not exist). */
  firstFileNumber: number;
  /** Sealed files found at recovery that still hold unflushed writes; tracked for removeSealed. */
  sealed?: readonly { fileNumber: number; firstSeqno?: number; lastSeqno?: number; bytes: number }[];
}

interface Queued {
  record: Buffer;
  options: AppendOptions;
  onWritten: () => void;
  /** rotate() calls made before this append: it belongs in the file that rotation starts. */
  epoch: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Journal {
  readonly dir: string;
  readonly #fs: FileSystem;
  readonly #maxFileBytes: number;
  #writer: JournalWriter;
  #firstSeqno: number | undefined = undefined;
  #lastSeqno: number | undefined = undefined;
  #sealed: JournalFileInfo[];
  /** Rotations requested and not finished; while > 0, new appends queue. */
  #pendingRotations = 0;
  #rotationsRequested = 0;
  #rotationsDone = 0;
  #rotationTail: Promise<unknown> = Promise.resolve();
  #queue: Queued[] = [];
  /** The next file, created ahead of time so a cut is a synchronous switch. */
  #spare: JournalWriter | undefined;
  #spareCreating: Promise<void> | undefined;
  /** The seal of the file switched away from by the last cut, until it is durable. */
  #sealing: Promise<void> | undefined;
  #poisoned = false;
  #poisonCause: unknown = undefined;
  #closed = false;

  private constructor(fs: FileSystem, dir: string, maxFileBytes: number, writer: JournalWriter, sealed: JournalFileInfo[]) {
    this.#fs = fs;
    this.dir = dir;
    this.#maxFileBytes = maxFileBytes;
    this.#writer = writer;
    this.#sealed = sealed;
  }

  /** Creates the first active file (exclusively) in an existing directory. */
  static async open(fs: FileSystem, dir: string, options: JournalOpenOptions): Promise<Journal> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('dir must be a non-empty string');
    const { maxFileBytes, firstFileNumber } = options ?? {};
    if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 1) throw new RangeError('maxFileBytes must be a positive integer');
    if (!Number.isSafeInteger(firstFileNumber) || firstFileNumber < 0) throw new RangeError('firstFileNumber must be a non-negative integer');
    const sealed: JournalFileInfo[] = (options.sealed ?? []).map((s) => ({
      fileNumber: s.fileNumber,
      path: join(dir, journalFileName(s.fileNumber)),
      firstSeqno: s.firstSeqno,
      lastSeqno: s.lastSeqno,
      bytes: s.bytes,
    }));
    sealed.sort((a, b) => a.fileNumber - b.fileNumber);
    if (sealed.length > 0 && sealed[sealed.length - 1].fileNumber >= firstFileNumber) {
      throw new RangeError('firstFileNumber must be above every sealed file number');
    }
    const writer = await JournalWriter.create(fs, join(dir, journalFileName(firstFileNumber)), { fileNumber: firstFileNumber });
    return new Journal(fs, dir, maxFileBytes, writer, sealed);
  }

  /**
   * Appends a framed record (encodeBatch) to the active file; see JournalWriter.append for
   * group commit, `onWritten` and durability. Order across rotations is append order.
   */
  append(record: Buffer, options: AppendOptions, onWritten: () => void): Promise<void> {
    if (this.#poisoned) return Promise.reject(this.#poisonError());
    if (this.#closed) return Promise.reject(new CairnError(ErrorCodes.CLOSED, 'Journal is closed'));
    if (this.#pendingRotations > 0) {
      return new Promise<void>((resolve, reject) => {
        this.#queue.push({ record, options, onWritten, epoch: this.#rotationsRequested, resolve, reject });
      });
    }
    return this.#appendToWriter(record, options, onWritten);
  }

  /**
   * Seals the active file and starts the next. When it resolves, the sealed file is
   * durable and immutable, holds every append made before this call, and the new active
   * file holds only appends made after it (exactly that cut, even when rotations are
   * requested back to back: they run one by one, each sealing its own share of the queue).
   */
  rotate(): Promise<{ sealed: JournalFileInfo }> {
    if (this.#poisoned) return Promise.reject(this.#poisonError());
    if (this.#closed) return Promise.reject(new CairnError(ErrorCodes.CLOSED, 'Journal is closed'));
    this.#pendingRotations++;
    this.#rotationsRequested++;
    const p = this.#rotationTail.then(() => this.#rotateNow());
    this.#rotationTail = p.catch(() => undefined);
    return p;
  }

  /**
   * Makes a cut possible without waiting: settles running rotations, creates the next
   * file ahead of time, and waits out the undoing of a failed write. Call, then call
   * canCut() and cut() in the same synchronous stretch.
   */
  async prepareCut(): Promise<void> {
    for (;;) {
      if (this.#poisoned) throw this.#poisonError();
      if (this.#closed) throw new CairnError(ErrorCodes.CLOSED, 'Journal is closed');
      if (this.canCut()) return;
      await this.#rotationTail;
      if (this.#spare === undefined) await this.#createSpare();
      // A failed write is being truncated away; its pending records wait for that.
      if (this.#writer.recovering) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** True when cut() can switch files right now. */
  canCut(): boolean {
    return !this.#poisoned && !this.#closed && this.#pendingRotations === 0 && this.#spare !== undefined && !this.#writer.recovering;
  }

  /**
   * Switches to the prepared next file, synchronously: every append made before this
   * call is written to the old file now (and its onWritten has run) and none after it
   * is. The old file is sealed (fdatasynced, closed) in the background: `durable`
   * resolves when that is done; a sync append to the new file resolves only after it too,
   * so an acknowledged sync write never depends on an unsynced older file. Throws
   * unless canCut().
   */
  cut(): { sealed: JournalFileInfo; durable: Promise<void> } {
    if (!this.canCut()) throw new Error('Journal.cut() without prepareCut()');
    const sealing = this.#writer.seal();
    const sealed = this.#switchTo(this.#spare as JournalWriter);
    this.#spare = undefined;
    // Durable means every file sealed so far is: seals of back-to-back cuts may finish out
    // of order, and a checkpoint may link an older sealed file too.
    const previous = this.#sealing ?? Promise.resolve();
    const durable = Promise.all([previous, sealing]).then(
      () => undefined,
      (err: unknown) => {
        this.#poison(hasCode(err, ErrorCodes.POISONED) ? ((err as Error).cause ?? err) : err);
        throw this.#poisonError();
      },
    );
    durable.catch(() => undefined);
    this.#sealing = durable;
    void durable.then(
      () => {
        if (this.#sealing === durable) this.#sealing = undefined;
      },
      () => undefined,
    );
    // The next cut should not wait for a file to be created; but not from inside this one:
    // handing the open to the thread pool wakes a thread, which on a busy machine can
    // preempt the main thread mid-cut (measured: ~0.5 ms added to the pause).
    setImmediate(() => void this.#createSpare().catch(() => undefined));
    return { sealed: { ...sealed }, durable };
  }

  /** Records the active file (already sealed, or sealing) as sealed and makes `next` the active one. */
  #switchTo(next: JournalWriter): JournalFileInfo {
    const old = this.#writer;
    const sealed: JournalFileInfo = { fileNumber: old.fileNumber, path: old.path, firstSeqno: this.#firstSeqno, lastSeqno: this.#lastSeqno, bytes: old.size };
    this.#sealed.push(sealed);
    this.#writer = next;
    this.#firstSeqno = undefined;
    this.#lastSeqno = undefined;
    return sealed;
  }

  /**
   * A durable point for readers of the journal (the shipper): makes what the active file
   * holds durable (one fdatasync, or none when nothing is unsynced) and resolves with that
   * file's number and the byte length now durable. Every older file is sealed, hence
   * durable, by then. Never waits for or writes new appends.
   */
  async syncPoint(): Promise<{ fileNumber: number; bytes: number }> {
    if (this.#poisoned) throw this.#poisonError();
    if (this.#closed) throw new CairnError(ErrorCodes.CLOSED, 'Journal is closed');
    const w = this.#writer;
    let bytes: number;
    try {
      bytes = await w.syncWritten();
    } catch (err) {
      if (w === this.#writer || this.#poisoned) throw err;
      bytes = w.size;
    }
    // Switched away meanwhile: the old file is sealed (or sealing) whole.
    if (w !== this.#writer) {
      await this.#sealing;
      bytes = w.size;
    }
    return { fileNumber: w.fileNumber, bytes };
  }

  /** Sealed files, oldest first (copies). */
  sealedFiles(): JournalFileInfo[] {
    return this.#sealed.map((s) => ({ ...s }));
  }

  activeFile(): JournalFileInfo {
    const w = this.#writer;
    return { fileNumber: w.fileNumber, path: w.path, firstSeqno: this.#firstSeqno, lastSeqno: this.#lastSeqno, bytes: w.size + w.pendingBytes };
  }

  get poisoned(): boolean {
    return this.#poisoned || this.#writer.poisoned;
  }

  /** Deletes a sealed file the owner no longer needs (its writes are all in segments). */
  async removeSealed(fileNumber: number): Promise<void> {
    const i = this.#sealed.findIndex((s) => s.fileNumber === fileNumber);
    if (i < 0) throw new CairnError(ErrorCodes.NOT_FOUND, `No sealed journal file ${fileNumber}`, { details: { fileNumber } });
    const { path } = this.#sealed[i];
    try {
      await this.#fs.unlink(path);
    } catch (err) {
      if (!hasCode(err, 'ENOENT')) throw err;
    }
    const j = this.#sealed.findIndex((s) => s.fileNumber === fileNumber);
    if (j >= 0) this.#sealed.splice(j, 1);
  }

  /** Waits for rotations and seals, writes what is queued or pending, closes the active file (no final fdatasync). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#rotationTail;
    await this.#spareCreating?.catch(() => undefined);
    await this.#sealing?.catch(() => undefined);
    await this.#writer.close();
    // An unused spare holds only its header: remove it so it is not mistaken for data.
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare !== undefined) {
      await spare.close().catch(() => undefined);
      await this.#fs.unlink(spare.path).catch(() => undefined);
    }
  }

  /** Creates the spare file (the active file's number + 1) if there is none. */
  #createSpare(): Promise<void> {
    this.#spareCreating ??= (async () => {
      try {
        if (this.#spare !== undefined || this.#closed) return;
        const fileNumber = this.#writer.fileNumber + 1;
        this.#spare = await JournalWriter.create(this.#fs, join(this.dir, journalFileName(fileNumber)), { fileNumber });
      } finally {
        this.#spareCreating = undefined;
      }
    })();
    return this.#spareCreating;
  }

  #appendToWriter(record: Buffer, options: AppendOptions, onWritten: () => void): Promise<void> {
    const { first, last } = recordSeqnoRange(record);
    if (this.#firstSeqno === undefined || first < this.#firstSeqno) this.#firstSeqno = first;
    if (this.#lastSeqno === undefined || last > this.#lastSeqno) this.#lastSeqno = last;
    let p = this.#writer.append(record, options, onWritten);
    const sealing = this.#sealing;
    if (options.sync && sealing !== undefined) p = p.then(() => sealing);
    if (this.#pendingRotations === 0) this.#maybeRotate();
    return p;
  }

  /**
   * Size-based rotation without holding writers: past half the size limit the next file
   * is created in the background; past the limit, the switch is a synchronous cut. Only
   * when the spare is not ready in time does it fall back to rotate(), which queues
   * appends until the new file exists.
   */
  #maybeRotate(): void {
    const w = this.#writer;
    const size = w.size + w.pendingBytes;
    if (size >= this.#maxFileBytes / 2 && this.#spare === undefined) void this.#createSpare().catch(() => undefined);
    if (size < this.#maxFileBytes) return;
    if (this.canCut()) {
      // A failed seal poisons the journal; the cut's caller-less promise needs no handler.
      this.cut();
      return;
    }
    if (this.#spare === undefined && this.#spareCreating === undefined) this.rotate().catch(() => undefined);
  }

  async #rotateNow(): Promise<{ sealed: JournalFileInfo }> {
    try {
      if (this.#poisoned) throw this.#poisonError();
      const old = this.#writer;
      const fileNumber = old.fileNumber + 1;
      const path = join(this.dir, journalFileName(fileNumber));
      // seal() writes the pending group synchronously, before anything can be queued behind it.
      await this.#spareCreating?.catch(() => undefined);
      const spare = this.#spare;
      this.#spare = undefined;
      const [sealing, creating] = await Promise.allSettled([
        old.seal(),
        spare ?? JournalWriter.create(this.#fs, path, { fileNumber }),
      ]);
      if (sealing.status === 'rejected' || creating.status === 'rejected') {
        if (creating.status === 'fulfilled') {
          await creating.value.close().catch(() => undefined);
          await this.#fs.unlink(path).catch(() => undefined);
        }
        const err = sealing.status === 'rejected' ? sealing.reason : (creating as PromiseRejectedResult).reason;
        this.#poison(hasCode(err, ErrorCodes.POISONED) ? ((err as Error).cause ?? err) : err);
        throw this.#poisonError();
      }
      return { sealed: { ...this.#switchTo(creating.value) } };
    } finally {
      this.#pendingRotations--;
      this.#rotationsDone++;
      this.#drainQueue();
    }
  }

  /**
   * Hands the queued appends that belong in the new file (made before the next rotate()
   * call) to its writer, in order; the rest wait for the rotations they come after.
   */
  #drainQueue(): void {
    const queue = this.#queue;
    let n = 0;
    while (n < queue.length && queue[n].epoch <= this.#rotationsDone) n++;
    this.#queue = queue.slice(n);
    for (let i = 0; i < n; i++) {
      const q = queue[i];
      if (this.#poisoned) q.reject(this.#poisonError());
      else this.#appendToWriter(q.record, q.options, q.onWritten).then(q.resolve, q.reject);
    }
    if (this.#pendingRotations === 0 && !this.#poisoned && !this.#closed) this.#maybeRotate();
  }

  #poison(cause: unknown): void {
    if (this.#poisoned) return;
    this.#poisoned = true;
    this.#poisonCause = cause;
  }

  #poisonError(): CairnError {
    return new CairnError(ErrorCodes.POISONED, 'Journal is poisoned by an earlier write, sync or rotation failure', {
      cause: this.#poisonCause,
      details: { dir: this.dir },
    });
  }
}
