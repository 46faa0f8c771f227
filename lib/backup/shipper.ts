// The journal shipper (docs/shipping.md §4): copies every commit group of an open
// keyspace's journal, about once per interval, into the backup store as immutable shipped
// objects chained by checksum. It reads the journal files from disk up to a durable point
// (never touching the write path), builds each object on the worker pool, puts it
// conditionally, and moves a journal slot so GC keeps what it has not shipped. Store
// failures are retried with back-off and reported ('error' event, stats()); writes never
// wait for it. Main thread; one shipper per keyspace and store.
import { EventEmitter } from 'node:events';
import { abortError, CairnError, ErrorCodes, hasCode } from '../errors.js';
import { readJournal } from '../journal/journal-reader.js';
import { RECORD_HEADER_BYTES } from '../journal/record.js';
import { type JournalAccess, type Keyspace, journalAccess } from '../keyspace/keyspace.js';
import { type ShippedCodec, decodeShipped } from './shipped-codec.js';
import { type ShipJobPayload, type ShipJobResult, type JournalRange } from './ship-job.js';
import { decodeShippedObject, genesisChain, type ShippedRecord } from './shipped-object.js';
import type { BackupStore } from './store.js';
import { JOURNAL_PREFIX, parseShippedObjectKey } from './store-layout.js';
import { listAll, readObject } from './store-objects.js';

/** Options of `engine.ship`. */
export interface ShipOptions {
  /** How often unshipped commits are shipped, in ms (10–3,600,000). Default 1000. */
  intervalMs?: number;
  /** Largest object (plaintext bytes) shipped at once; a larger batch still goes whole. Default 16 MiB. */
  maxObjectBytes?: number;
}

/** Options of `shipper.stop`. */
export interface ShipperStopOptions {
  /**
   * Also drop the journal slot: journal files kept for shipping may then be deleted, and a
   * shipper started later begins a new stream (with a new base backup). Default false.
   */
  releaseSlot?: boolean;
}

/** Options of `shipper.waitFor`. */
export interface ShipperWaitOptions {
  /** Rejects the wait with CAIRN_ABORTED (shipping goes on). */
  signal?: AbortSignal;
}

/** What `shipper.stats()` reports. */
export interface ShipperStats {
  /** Every seqno up to this one is in the store. */
  shippedSeqno: number;
  /** The keyspace's visible seqno now. */
  seqno: number;
  /** Seqnos committed and not yet shipped. */
  lagSeqnos: number;
  /**
   * Age of the oldest unshipped commit, in ms (0 when caught up): measured from the first
   * tick that saw it, so it may read up to one interval low.
   */
  lagMs: number;
  /** Objects and plaintext bytes shipped by this shipper. */
  objectsShipped: number;
  bytesShipped: number;
  /** Sealed journal bytes kept on disk only because they are not shipped yet. */
  retainedJournalBytes: number;
  /** The latest failure (being retried), if any. */
  lastError: { code: string; message: string; at: string; attempt: number } | undefined;
  /** True once stop() was called or the keyspace closed. */
  stopped: boolean;
}

/** What a 'shipped' event carries. */
export interface ShippedEvent {
  key: string;
  firstSeqno: number;
  lastSeqno: number;
  firstTimeMs: number;
  lastTimeMs: number;
  bytes: number;
}

/** What the shipper needs of its engine. */
export interface ShipperContext {
  store: BackupStore;
  codec: ShippedCodec;
  /** Builds an object's plaintext from journal ranges (on the worker pool, or in-process). */
  build: (payload: ShipJobPayload) => Promise<ShipJobResult>;
  /** Takes a base backup of `ks`; resolves with its seqno. */
  backup: (ks: Keyspace) => Promise<{ seqno: number }>;
  /** The newest backup's seqno of `keyspaceId`, or undefined. */
  newestBackupSeqno: (keyspaceId: string) => Promise<number | undefined>;
  /** Claims the store for `keyspaceId` (store.json) and returns its id. */
  claim: (keyspaceId: string) => Promise<string>;
}

const EPOCH = 1;
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;

interface Cursor {
  fileNumber: number;
  offset: number;
}

interface Waiter {
  seqno: number;
  resolve: (seqno: number) => void;
  reject: (err: unknown) => void;
}

/**
 * A running shipper. Events: 'shipped' (ShippedEvent) after each object, 'error' (a
 * CairnError or store error) when a ship attempt fails (it is retried); an 'error' with no
 * listener is not thrown, only kept in stats().
 */
export class Shipper extends EventEmitter {
  readonly #ks: Keyspace;
  readonly #access: JournalAccess;
  readonly #ctx: ShipperContext;
  readonly #intervalMs: number;
  readonly #maxObjectBytes: number;
  #slotName = '';
  #shippedSeqno = 0;
  #chain: Buffer = Buffer.alloc(32);
  #cursor: Cursor = { fileNumber: 0, offset: 0 };
  #persistedFile = -1;
  /** An object built and not yet stored: a retry puts exactly these bytes. */
  #pending: ShipJobResult | undefined;
  /** True once #start found where to resume. */
  #ready = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #attempt = 0;
  #behindSince: number | undefined;
  #waiters: Waiter[] = [];
  #objects = 0;
  #bytes = 0;
  #lastError: ShipperStats['lastError'];

  /** @internal Use engine.ship(ks, options). */
  constructor(ks: Keyspace, ctx: ShipperContext, options: Required<ShipOptions>) {
    super();
    this.#ks = ks;
    this.#access = journalAccess(ks);
    this.#ctx = ctx;
    this.#intervalMs = options.intervalMs;
    this.#maxObjectBytes = options.maxObjectBytes;
    this.#schedule(0);
  }

  /** Every seqno up to this one is in the store. */
  get shippedSeqno(): number {
    return this.#shippedSeqno;
  }

  /** The journal slot this shipper holds (`ship-` and the first 8 hex digits of the store id). */
  get slotName(): string {
    return this.#slotName;
  }

  /**
   * Ships everything committed so far (retrying failures), then resolves with the shipped
   * seqno. Rejects CAIRN_CLOSED when the shipper stops first.
   */
  flush(): Promise<number> {
    const target = this.#ks.closed ? this.#shippedSeqno : this.#ks.seqno;
    const p = this.waitFor(target);
    this.#schedule(0);
    return p;
  }

  /**
   * Resolves (with the shipped seqno) once every seqno up to `seqno` is in the store.
   * @throws RangeError for a seqno that is not a non-negative integer.
   * @throws CairnError CAIRN_ABORTED when `signal` fires; CAIRN_CLOSED when the shipper
   *   stops (or its keyspace closes) first.
   */
  waitFor(seqno: number, options: ShipperWaitOptions = {}): Promise<number> {
    if (!Number.isSafeInteger(seqno) || seqno < 0) return Promise.reject(new RangeError('seqno must be a non-negative integer'));
    const { signal } = options ?? {};
    if (signal !== undefined && !(signal instanceof AbortSignal)) return Promise.reject(new TypeError('options.signal must be an AbortSignal'));
    if (seqno <= this.#shippedSeqno) return Promise.resolve(this.#shippedSeqno);
    if (this.#stopped) return Promise.reject(stoppedError());
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { seqno, resolve, reject };
      if (signal !== undefined) {
        const onAbort = () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(abortError(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.resolve = (n) => {
          signal.removeEventListener('abort', onAbort);
          resolve(n);
        };
        waiter.reject = (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        };
      }
      this.#waiters.push(waiter);
      this.#timer?.ref();
    });
  }

  stats(): ShipperStats {
    const seqno = this.#ks.closed ? this.#shippedSeqno : this.#ks.seqno;
    return {
      shippedSeqno: this.#shippedSeqno,
      seqno,
      lagSeqnos: Math.max(0, seqno - this.#shippedSeqno),
      lagMs: this.#behindSince === undefined ? 0 : Date.now() - this.#behindSince,
      objectsShipped: this.#objects,
      bytesShipped: this.#bytes,
      retainedJournalBytes: this.#ks.closed ? 0 : this.#access.slotRetainedBytes(),
      lastError: this.#lastError,
      stopped: this.#stopped,
    };
  }

  /**
   * Ships what remains (one attempt per object: a failure rejects, and the journal slot
   * keeps the rest for the next shipper), then stops. Idempotent.
   */
  async stop(options: ShipperStopOptions = {}): Promise<void> {
    const releaseSlot = options?.releaseSlot === true;
    if (!this.#stopped) {
      this.#stopping = true;
      clearTimeout(this.#timer);
      try {
        await this.#running?.catch(() => undefined);
        if (!this.#ks.closed) {
          if (!this.#ready) await this.#begin();
          await this.#shipAll();
        }
      } finally {
        this.#stopped = true;
        clearTimeout(this.#timer);
        for (const w of this.#waiters.splice(0)) w.reject(stoppedError());
      }
    }
    if (releaseSlot && this.#slotName !== '' && !this.#ks.closed) await this.#ks.dropJournalSlot(this.#slotName).catch(() => undefined);
  }

  #stopping = false;

  /**
   * Finds where to resume: the store's last object (one listing, at start only), checked
   * against the local journal; or, when the local journal cannot continue it, a new stream
   * from the current seqno with a base backup under it.
   */
  async #start(): Promise<void> {
    const ks = this.#ks;
    const storeId = await this.#ctx.claim(ks.id);
    this.#slotName = `ship-${storeId.replace(/-/g, '').slice(0, 8)}`;
    const last = await this.#lastShipped();
    if (last !== undefined) {
      const found = await this.#locate(last.lastSeqno, last.lastRecord);
      if (found !== undefined && found.continues) {
        await this.#access.setSlot(this.#slotName, last.lastSeqno, true);
        this.#shippedSeqno = last.lastSeqno;
        this.#chain = last.postChain;
        this.#cursor = found.cursor;
        return;
      }
    }
    // A new stream: pin from now on, then make sure a backup sits at or above its start.
    const from = ks.seqno;
    await this.#access.setSlot(this.#slotName, from, true);
    const found = await this.#locate(from, undefined);
    if (found === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `The journal no longer holds the writes after seqno ${from}`, { details: { seqno: from } });
    this.#shippedSeqno = from;
    this.#chain = genesisChain(ks.id);
    this.#cursor = found.cursor;
    const newest = await this.#ctx.newestBackupSeqno(ks.id);
    if (newest === undefined || newest < from) await this.#ctx.backup(ks);
  }

  /** The store's newest shipped object of this keyspace: its last seqno, postChain and last record. */
  async #lastShipped(): Promise<{ lastSeqno: number; postChain: Buffer; lastRecord: Buffer } | undefined> {
    const keys = (await listAll(this.#ctx.store, JOURNAL_PREFIX)).map((o) => ({ key: o.key, parsed: parseShippedObjectKey(o.key) }));
    const candidates = keys.filter((k) => k.parsed !== undefined).sort((a, b) => b.parsed!.lastSeqno - a.parsed!.lastSeqno);
    for (const { key } of candidates) {
      let bytes: Buffer;
      try {
        bytes = decodeShipped(await readObject(this.#ctx.store, key), key, this.#ctx.codec);
      } catch (err) {
        if (hasCode(err, ErrorCodes.NOT_FOUND)) continue;
        throw err;
      }
      const { info, records } = decodeShippedObject(bytes, key);
      if (info.keyspaceId !== this.#ks.id.toLowerCase()) continue;
      const r = records[records.length - 1];
      return { lastSeqno: info.lastSeqno, postChain: info.postChain, lastRecord: recordPayload(bytes, r) };
    }
    return undefined;
  }

  /**
   * The local journal position just after seqno `after`: the offset of the first record
   * above it (or the end of the newest file). `continues` is true when that record is
   * `after + 1` (or none follows yet) and, when `lastRecord` is given and the record
   * ending at `after` is still on disk, the two are the same bytes (no fork).
   */
  async #locate(after: number, lastRecord: Buffer | undefined): Promise<{ cursor: Cursor; continues: boolean } | undefined> {
    const files = this.#access.files();
    let sawEnd = false;
    let cursor: Cursor | undefined;
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      if (file.lastSeqno !== undefined && file.lastSeqno < after) continue;
      const reading = readJournal(this.#access.fs, file.path, { isLast: true, fileNumber: file.fileNumber });
      let found: { offset: number; seqno: number } | undefined;
      for await (const record of reading.records) {
        const last = record.seqno + record.ops.length - 1;
        if (last === after) {
          sawEnd = true;
          if (lastRecord !== undefined && !record.payload.equals(lastRecord)) return { cursor: { fileNumber: file.fileNumber, offset: record.offset }, continues: false };
        }
        if (record.seqno > after) {
          found = { offset: record.offset, seqno: record.seqno };
          break;
        }
      }
      if (found !== undefined) {
        await reading.end.catch(() => undefined);
        return { cursor: { fileNumber: file.fileNumber, offset: found.offset }, continues: found.seqno === after + 1 };
      }
      const end = await reading.end;
      cursor = { fileNumber: file.fileNumber, offset: end.validBytes };
    }
    if (cursor === undefined) return undefined;
    // Nothing after `after` yet: resume at the end of the newest file, if we saw `after` or
    // the keyspace has written nothing since.
    return { cursor, continues: sawEnd || this.#ks.seqno === after };
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#stopping) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), delayMs);
    // A shipper alone does not keep the process alive; one that someone awaits does.
    if (this.#waiters.length === 0) this.#timer.unref();
  }

  #tick(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    const startedAt = performance.now();
    const running = (this.#ready ? this.#shipAll() : this.#begin().then(() => this.#shipAll())).then(
      () => {
        this.#running = undefined;
        this.#attempt = 0;
        if (this.#ks.closed) return this.#close();
        const again = this.#again;
        this.#again = false;
        // Ticks start every interval (not an interval after the previous one ended), so the
        // time a ship takes does not add to the lag.
        this.#schedule(again ? 0 : Math.max(0, this.#intervalMs - (performance.now() - startedAt)));
      },
      (err: unknown) => {
        this.#running = undefined;
        if (this.#ks.closed || hasCode(err, ErrorCodes.CLOSED)) return this.#close();
        this.#fail(err);
        this.#schedule(this.#backoff());
      },
    );
    this.#running = running;
  }

  async #begin(): Promise<void> {
    await this.#start();
    this.#ready = true;
    // What a base backup or an earlier shipper already put in the store.
    this.#resolveWaiters();
  }

  #resolveWaiters(): void {
    const shipped = this.#shippedSeqno;
    for (const w of this.#waiters.filter((w) => w.seqno <= shipped)) w.resolve(shipped);
    this.#waiters = this.#waiters.filter((w) => w.seqno > shipped);
  }

  /** The keyspace closed under the shipper: stop, failing waiters. */
  #close(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const w of this.#waiters.splice(0)) w.reject(stoppedError());
  }

  #backoff(): number {
    return Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(this.#attempt - 1, 20));
  }

  #fail(err: unknown): void {
    this.#attempt++;
    const e = err as { code?: unknown; message?: unknown };
    this.#lastError = { code: typeof e?.code === 'string' ? e.code : 'UNKNOWN', message: String(e?.message ?? err), at: new Date().toISOString(), attempt: this.#attempt };
    // An 'error' event with no listener would throw; the failure is kept in stats() instead.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /**
   * One tick: ships what is durable now, as one object, or as several in a row only while
   * each fills maxObjectBytes (catching up). Commits made meanwhile wait for the next tick,
   * so a busy keyspace costs one object per interval.
   */
  async #shipAll(): Promise<void> {
    while (!this.#ks.closed) {
      if (this.#pending === undefined && this.#ks.seqno <= this.#shippedSeqno) {
        this.#behindSince = undefined;
        return;
      }
      this.#behindSince ??= Date.now();
      if (this.#pending === undefined) {
        const built = await this.#build();
        if (built === undefined) return;
      }
      const full = (this.#pending as ShipJobResult).plainBytes >= this.#maxObjectBytes / 2;
      await this.#put();
      if (!full) return;
    }
  }

  /** Builds the next object from the cursor to the journal's durable point. */
  async #build(): Promise<ShipJobResult | undefined> {
    const durable = await this.#access.syncPoint();
    const ranges: JournalRange[] = [];
    for (const file of this.#access.files()) {
      if (file.fileNumber < this.#cursor.fileNumber || file.fileNumber > durable.fileNumber) continue;
      const end = file.fileNumber === durable.fileNumber ? durable.bytes : file.bytes;
      const offset = file.fileNumber === this.#cursor.fileNumber ? this.#cursor.offset : 0;
      ranges.push({ fileNumber: file.fileNumber, path: file.path, offset, end });
    }
    if (ranges.length === 0) return undefined;
    const result = await this.#ctx.build({
      ranges,
      afterSeqno: this.#shippedSeqno,
      keyspaceId: this.#ks.id,
      epoch: EPOCH,
      preChain: this.#chain.toString('hex'),
      maxObjectBytes: this.#maxObjectBytes,
      codec: this.#ctx.codec,
    });
    if (result.object === undefined) {
      this.#cursor = result.end;
      return undefined;
    }
    this.#pending = result;
    return result;
  }

  /** Puts the pending object exclusively; a put that finds its key accepts it only if the chain agrees. */
  async #put(): Promise<void> {
    const result = this.#pending!;
    const { key } = result;
    try {
      await this.#ctx.store.put(key, result.object as Buffer, { ifNoneMatch: true });
    } catch (err) {
      if (!hasCode(err, 'EEXIST')) throw err;
      // A retry whose first attempt landed (its answer was lost), or someone else's object.
      const existing = decodeShippedObject(decodeShipped(await readObject(this.#ctx.store, key), key, this.#ctx.codec), key);
      if (existing.info.postChain.toString('hex') !== result.postChain) {
        throw new CairnError(ErrorCodes.STORE_IN_USE, `${key} in ${this.#ctx.store.url} holds other journal records than this keyspace's: another writer ships into this store`, {
          details: { key, reason: 'chain' },
        });
      }
    }
    this.#pending = undefined;
    this.#chain = Buffer.from(result.postChain, 'hex');
    this.#shippedSeqno = result.lastSeqno;
    this.#cursor = result.end;
    this.#objects++;
    this.#bytes += result.plainBytes;
    if (this.#ks.seqno <= this.#shippedSeqno) this.#behindSince = undefined;
    this.#resolveWaiters();
    const event: ShippedEvent = { key, firstSeqno: result.firstSeqno, lastSeqno: result.lastSeqno, firstTimeMs: result.firstTimeMs, lastTimeMs: result.lastTimeMs, bytes: result.plainBytes };
    this.emit('shipped', event);
    // The slot matters to GC only per whole file: persist it when shipping leaves a file.
    if (this.#cursor.fileNumber !== this.#persistedFile && !this.#ks.closed) {
      await this.#access.setSlot(this.#slotName, this.#shippedSeqno);
      this.#persistedFile = this.#cursor.fileNumber;
    }
  }
}

function recordPayload(bytes: Buffer, r: ShippedRecord): Buffer {
  return bytes.subarray(r.offset + RECORD_HEADER_BYTES, r.offset + r.length);
}

function stoppedError(): CairnError {
  return new CairnError(ErrorCodes.CLOSED, 'The shipper stopped before that seqno was shipped');
}
