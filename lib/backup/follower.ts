// A follower (docs/shipping.md §8): a read replica fed from a backup store. It restores
// the newest backup into its directory, then applies the shipped journal objects as they
// appear, each commit group whole, through the point-in-time restore's replay
// (replayRecords: keyspace id and chain checked object by object). Its position (applied
// seqno, the chain value after it, the partitions) is persisted in follower.json beside
// the data after a flush, so a reopened follower resumes where it stopped; a follower that
// died between two such points finds data past its position and re-restores instead. A
// gap or a chain that does not link is an 'error' event and stats().lastError, never a
// silent stall; a newer backup past the follower's position is then restored in its place.
import { EventEmitter } from 'node:events';
import * as nodePath from 'node:path';
import { CairnError, ErrorCodes, abortError, hasCode } from '../errors.js';
import { removeTreeDurable, renameDurable, tempPathFor, writeFileAtomic } from '../fs/durable.js';
import type { FileSystem } from '../fs/file-system.js';
import { Keyspace, type Partition, type Snapshot } from '../index.js';
import { optionNames, optionsObject } from '../keyspace/arguments.js';
import { journalAccess } from '../keyspace/keyspace.js';
import type { IteratorOptions, PartitionIterator, ReadOptions } from '../keyspace/partition.js';
import type { Bytes, KeyBounds } from '../keyspace/arguments.js';
import { BackupEngine, type BackupEngineOptions, engineContext } from './backup-engine.js';
import { type EngineContext, openExistingStore, readAllManifests } from './catalog.js';
import type { BackupManifest } from './manifest.js';
import { replayRecords } from './point-in-time.js';
import { shippedCodecOf } from './ship-context.js';
import type { ShippedCodec } from './shipped-codec.js';
import { chainFrom, listShipped } from './shipped-catalog.js';
import { shippedBatch } from './shipped-object.js';

/** Options of `Follower.open`: the engine's, and how often the store is polled. */
export interface FollowerOptions extends BackupEngineOptions {
  /** Milliseconds between two listings of the store's shipped objects. Default 1000. */
  pollMs?: number;
}

/** Options of `follower.waitFor`. */
export interface FollowerWaitOptions {
  /** Rejects the wait with CAIRN_ABORTED (following goes on). */
  signal?: AbortSignal;
  /** Rejects the wait with CAIRN_ABORTED (cause: a TimeoutError) after this many ms. */
  timeoutMs?: number;
}

/** A problem the follower met (also emitted as an 'error' event when a listener is attached). */
export interface FollowerProblem {
  /** CAIRN_NOT_FOUND for a gap, CAIRN_CORRUPTION for a foreign keyspace or a broken chain, or the store's error code. */
  code: string | undefined;
  message: string;
  /** The error's details (e.g. `missing: { from, to }` for a gap, `reason: 'chain' | 'keyspace'`). */
  details: Record<string, unknown> | undefined;
  /** Milliseconds since the epoch. */
  time: number;
}

/** What `follower.stats()` reports. */
export interface FollowerStats {
  /** The applied seqno: reads see every batch up to it. */
  seqno: number;
  /** Commit time (ms) of the batch at `seqno` (0 when unknown). */
  timeMs: number;
  /** The last seqno of the newest shipped object the follower has listed. */
  newestSeqno: number;
  /**
   * How far behind the store the follower is: seqnos, and milliseconds (0 when caught up;
   * when behind, the time since the commit of the last applied batch: an upper bound).
   */
  lag: { seqnos: number; ms: number };
  /** Objects and batches applied since open, and backups restored (the first one included). */
  objectsApplied: number;
  batchesApplied: number;
  restores: number;
  /** Listings of the store so far, and when the last one succeeded (ms; 0 before). */
  polls: number;
  lastPollAt: number;
  /** The latest problem, kept until the follower moves past it. */
  lastError: FollowerProblem | undefined;
}

/** The 'applied' event: a poll applied shipped objects up to `seqno`. */
export interface FollowerAppliedEvent {
  seqno: number;
  /** Commit time (ms) of the batch at `seqno`. */
  timeMs: number;
  objects: number;
  batches: number;
}

/** The 'rebased' event: the follower restored a newer backup in place of its data. */
export interface FollowerRebasedEvent {
  backup: string;
  /** The backup's seqno, and the follower's seqno before. */
  seqno: number;
  from: number;
}

const FOLLOWER_OPTIONS = optionNames<FollowerOptions>({ fs: true, leaseTtlMs: true, graceMs: true, clock: true, compression: true, encryption: true, pollMs: true });
const WAIT_OPTIONS = optionNames<FollowerWaitOptions>({ signal: true, timeoutMs: true });

/** The follower's position, persisted in `<dir>/follower.json` (docs/format.md). */
interface FollowerState {
  format: 1;
  keyspaceId: string;
  seqno: number;
  timeMs: number;
  /** The chain value after the last whole object applied, and that object's key. */
  chain: { key: string; value: string } | null;
  partitions: string[];
}

export const FOLLOWER_STATE_FILE = 'follower.json';
/** Position is persisted (after a flush) at most this often while objects arrive. */
const PERSIST_EVERY_MS = 5000;

interface Waiter {
  seqno: number;
  resolve: (seqno: number) => void;
  reject: (err: Error) => void;
}

/**
 * A read replica of a keyspace fed from a backup store: restores the newest backup, then
 * applies shipped journal objects as they appear. Reads through `partition(name)`; never
 * takes writes. Events: 'applied' (FollowerAppliedEvent), 'rebased' (FollowerRebasedEvent),
 * 'error' (a CairnError; only when a listener is attached, also in `stats().lastError`).
 * Like a server, an open follower keeps the process alive: close() it.
 */
export class Follower extends EventEmitter {
  /** The follower's keyspace directory (absolute). */
  readonly path: string;
  readonly #engine: BackupEngine;
  readonly #ctx: EngineContext;
  readonly #codec: ShippedCodec;
  readonly #fs: FileSystem;
  readonly #pollMs: number;
  #ks: Keyspace | undefined;
  #keyspaceId = '';
  #seqno = 0;
  #timeMs = 0;
  #chain: { key: string; value: Buffer } | undefined;
  #persisted = { seqno: -1, at: 0 };
  #handles = new Map<string, Partition>();
  #waiters: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #stats = { newestSeqno: 0, objectsApplied: 0, batchesApplied: 0, restores: 0, polls: 0, lastPollAt: 0 };
  #lastError: FollowerProblem | undefined;

  private constructor(engine: BackupEngine, dir: string, pollMs: number) {
    super();
    this.path = dir;
    this.#engine = engine;
    this.#ctx = engineContext(engine);
    this.#codec = shippedCodecOf(this.#ctx);
    this.#fs = this.#ctx.fs;
    this.#pollMs = pollMs;
  }

  /**
   * Opens a follower of the store at `storeUrl` in `dir`: restores the store's newest
   * backup there (dir missing or empty), or resumes from what `dir` holds (a follower's
   * directory), then polls the store every `pollMs` and applies what was shipped.
   * Resolves once the base is open (reads work); catching up continues in the background.
   * @throws TypeError / RangeError for invalid arguments (an unknown option names it).
   * @throws CairnError CAIRN_NOT_FOUND when the store holds no backup; CAIRN_NOT_EMPTY when
   *   `dir` holds something that is not a follower's keyspace. Store failures keep their codes.
   */
  static async open(storeUrl: string, dir: string, options?: FollowerOptions): Promise<Follower> {
    if (typeof storeUrl !== 'string' || storeUrl.length === 0) throw new TypeError('storeUrl must be a non-empty string');
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string');
    const { pollMs, ...engineOptions } = optionsObject<FollowerOptions>(options, 'options', FOLLOWER_OPTIONS);
    if (pollMs !== undefined && (typeof pollMs !== 'number' || Number.isNaN(pollMs))) throw new TypeError('options.pollMs must be a number of milliseconds');
    if (pollMs !== undefined && (pollMs < 10 || pollMs > 3_600_000)) throw new RangeError('options.pollMs must be between 10 and 3600000');
    const engine = await BackupEngine.open(storeUrl, engineOptions);
    const follower = new Follower(engine, nodePath.resolve(dir), pollMs ?? 1000);
    try {
      await follower.#start();
    } catch (err) {
      await follower.#ks?.close().catch(() => undefined);
      await engine.close();
      throw err;
    }
    follower.#schedule(0);
    return follower;
  }

  /** The applied seqno: reads see every batch up to it, and none after. */
  get seqno(): number {
    return this.#seqno;
  }

  /** Where the follower is, how far behind the store, and the latest problem. */
  stats(): FollowerStats {
    const behind = Math.max(0, this.#stats.newestSeqno - this.#seqno);
    return {
      seqno: this.#seqno,
      timeMs: this.#timeMs,
      newestSeqno: this.#stats.newestSeqno,
      lag: { seqnos: behind, ms: behind === 0 || this.#timeMs === 0 ? 0 : Math.max(0, this.#ctx.clock() - this.#timeMs) },
      objectsApplied: this.#stats.objectsApplied,
      batchesApplied: this.#stats.batchesApplied,
      restores: this.#stats.restores,
      polls: this.#stats.polls,
      lastPollAt: this.#stats.lastPollAt,
      lastError: this.#lastError,
    };
  }

  /** The names of the partitions the follower holds. @throws CairnError CAIRN_CLOSED after close(). */
  partitionNames(): string[] {
    return this.#keyspace().partitionNames();
  }

  /**
   * A read-only handle on partition `name`: reads go to the follower's current data (also
   * after a re-base), writes reject with CAIRN_READ_ONLY.
   * @throws CairnError CAIRN_NOT_FOUND when the follower holds no such partition (yet); CAIRN_CLOSED.
   */
  async partition(name: string): Promise<FollowerPartition> {
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('name must be a non-empty string');
    await this.#handle(name);
    return new FollowerPartition(name, (n) => this.#handleNow(n));
  }

  /**
   * A consistent view of every partition as of `seqno`, for `{ snapshot }` in reads.
   * Release it when done. A re-base releases nothing but makes it unusable (CAIRN_CLOSED).
   */
  snapshot(): Snapshot {
    return this.#keyspace().snapshot();
  }

  /**
   * Resolves (with the applied seqno) once every batch up to `seqno` is applied here:
   * read-your-writes across machines, with the writer's `shipper.waitFor(seqno)`.
   * @throws RangeError for a seqno that is not a non-negative integer.
   * @throws CairnError CAIRN_ABORTED when `signal` fires or `timeoutMs` passes; CAIRN_CLOSED when the follower closes first.
   */
  waitFor(seqno: number, options?: FollowerWaitOptions): Promise<number> {
    if (!Number.isSafeInteger(seqno) || seqno < 0) return Promise.reject(new RangeError('seqno must be a non-negative integer'));
    let o: FollowerWaitOptions;
    try {
      o = optionsObject<FollowerWaitOptions>(options, 'options', WAIT_OPTIONS);
      if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
      if (o.timeoutMs !== undefined && (typeof o.timeoutMs !== 'number' || !(o.timeoutMs >= 0) || !Number.isFinite(o.timeoutMs))) throw new RangeError('options.timeoutMs must be a finite number >= 0');
    } catch (err) {
      return Promise.reject(err);
    }
    if (seqno <= this.#seqno) return Promise.resolve(this.#seqno);
    if (this.#closing !== undefined) return Promise.reject(closedError());
    const signals = [o.signal, o.timeoutMs === undefined ? undefined : AbortSignal.timeout(o.timeoutMs)].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<number>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(abortError(signal));
      };
      const waiter: Waiter = {
        seqno,
        resolve: (n) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(n);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Stops polling, persists the position (after a flush) and closes the keyspace and the
   * store. Pending waits reject with CAIRN_CLOSED. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#polling;
    for (const w of this.#waiters.splice(0)) w.reject(closedError());
    try {
      if (this.#ks !== undefined && !this.#ks.closed) await this.#persist(true);
    } finally {
      await this.#ks?.close();
      await this.#engine.close();
    }
  }

  #keyspace(): Keyspace {
    if (this.#closing !== undefined || this.#ks === undefined) throw closedError();
    return this.#ks;
  }

  async #handle(name: string): Promise<Partition> {
    const ks = this.#keyspace();
    const known = this.#handles.get(name);
    if (known !== undefined) return known;
    if (!ks.partitionNames().includes(name)) throw new CairnError(ErrorCodes.NOT_FOUND, `The follower holds no partition ${name} (at seqno ${this.#seqno})`, { details: { partition: name, seqno: this.#seqno } });
    const handle = await ks.partition(name);
    this.#handles.set(name, handle);
    return handle;
  }

  #handleNow(name: string): Partition {
    this.#keyspace();
    const handle = this.#handles.get(name);
    if (handle === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `The follower holds no partition ${name} (at seqno ${this.#seqno})`, { details: { partition: name, seqno: this.#seqno } });
    return handle;
  }

  /** Opens what `dir` holds when it is a follower's directory at its persisted position; restores the newest backup otherwise. */
  async #start(): Promise<void> {
    const state = await this.#readState();
    if (state === undefined) {
      const existing = await this.#fs.statOrUndefined(this.path);
      if (existing !== undefined && (!existing.isDirectory || (await this.#fs.readdir(this.path)).length > 0)) {
        throw new CairnError(ErrorCodes.NOT_EMPTY, `${this.path} exists and is neither empty nor a follower's directory (no ${FOLLOWER_STATE_FILE})`, { details: { path: this.path } });
      }
      await this.#restoreNewest(undefined);
      return;
    }
    const ks = await Keyspace.open(this.path, { fs: this.#fs, createIfMissing: false });
    const names = ks.partitionNames().sort();
    // Data past the persisted position (a flush after it, then a crash) cannot be trusted
    // to be a whole prefix: restore instead.
    if (ks.id !== state.keyspaceId || ks.seqno > state.seqno || names.join('\0') !== [...state.partitions].sort().join('\0')) {
      await ks.close();
      await this.#restoreNewest(undefined);
      return;
    }
    this.#ks = ks;
    this.#keyspaceId = state.keyspaceId;
    this.#seqno = state.seqno;
    this.#timeMs = state.timeMs;
    this.#chain = state.chain === null ? undefined : { key: state.chain.key, value: Buffer.from(state.chain.value, 'hex') };
    this.#persisted = { seqno: state.seqno, at: this.#ctx.clock() };
  }

  async #readState(): Promise<FollowerState | undefined> {
    let bytes: Buffer;
    try {
      bytes = await this.#fs.readFile(nodePath.join(this.path, FOLLOWER_STATE_FILE));
    } catch (err) {
      if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return undefined;
      throw err;
    }
    try {
      const s = JSON.parse(bytes.toString('utf8')) as FollowerState;
      if (s.format !== 1 || typeof s.keyspaceId !== 'string' || !Number.isSafeInteger(s.seqno) || !Array.isArray(s.partitions)) throw new Error('unexpected fields');
      return s;
    } catch (err) {
      throw new CairnError(ErrorCodes.CORRUPTION, `${FOLLOWER_STATE_FILE} in ${this.path} is not readable: ${(err as Error).message}`, { cause: err, details: { path: this.path } });
    }
  }

  /** Flushes and writes follower.json when the position moved (and `force`, or it is due). */
  async #persist(force: boolean): Promise<void> {
    const ks = this.#ks;
    if (ks === undefined || this.#persisted.seqno === this.#seqno) return;
    if (!force && this.#ctx.clock() - this.#persisted.at < PERSIST_EVERY_MS) return;
    await ks.flush();
    const state: FollowerState = {
      format: 1,
      keyspaceId: this.#keyspaceId,
      seqno: this.#seqno,
      timeMs: this.#timeMs,
      chain: this.#chain === undefined ? null : { key: this.#chain.key, value: this.#chain.value.toString('hex') },
      partitions: ks.partitionNames().sort(),
    };
    await writeFileAtomic(this.#fs, nodePath.join(this.path, FOLLOWER_STATE_FILE), JSON.stringify(state, null, 2) + '\n');
    this.#persisted = { seqno: this.#seqno, at: this.#ctx.clock() };
  }

  /**
   * Restores the newest backup (the newest above `above`, when given; none: false) into
   * staging beside the directory, then puts it in the directory's place and opens it.
   */
  async #restoreNewest(above: number | undefined): Promise<BackupManifest | undefined> {
    const { manifests } = await readAllManifests(this.#ctx.store, (await openExistingStore(this.#ctx)).codec);
    const newest = [...manifests].sort((a, b) => a.seqno - b.seqno || Date.parse(a.createdAt) - Date.parse(b.createdAt)).at(-1);
    if (newest === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `The backup store ${this.#ctx.store.url} holds no backup`, { details: { url: this.#ctx.store.url } });
    if (above !== undefined && newest.seqno <= above) return undefined;
    const staging = tempPathFor(this.path);
    try {
      await this.#engine.restore(newest.id, staging);
      if (this.#ks !== undefined) {
        await this.#ks.close();
        this.#ks = undefined;
      }
      this.#handles = new Map();
      if ((await this.#fs.statOrUndefined(this.path)) !== undefined) await removeTreeDurable(this.#fs, this.path);
      await renameDurable(this.#fs, staging, this.path);
    } catch (err) {
      await this.#fs.removeTree(staging).catch(() => undefined);
      throw err;
    }
    this.#ks = await Keyspace.open(this.path, { fs: this.#fs, createIfMissing: false });
    this.#keyspaceId = newest.keyspaceId;
    // The backup holds every write up to its seqno (the keyspace may report less: a registry record is no data).
    this.#seqno = Math.max(this.#ks.seqno, newest.seqno);
    this.#timeMs = newest.timeMs ?? Date.parse(newest.createdAt);
    this.#chain = undefined;
    this.#persisted = { seqno: -1, at: 0 };
    this.#stats.restores++;
    await this.#persist(true);
    this.#wake();
    return newest;
  }

  #schedule(delayMs: number): void {
    if (this.#closing !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll().finally(() => {
        this.#polling = undefined;
        this.#schedule(this.#pollMs);
      });
    }, delayMs);
  }

  async #poll(): Promise<void> {
    try {
      await this.#applyNew();
      await this.#persist(false);
    } catch (err) {
      await this.#failed(err);
    }
  }

  /** One listing; applies every object that links on from the applied seqno. */
  async #applyNew(): Promise<void> {
    const objects = await listShipped(this.#ctx.store);
    this.#stats.polls++;
    this.#stats.lastPollAt = this.#ctx.clock();
    for (const o of objects) this.#stats.newestSeqno = Math.max(this.#stats.newestSeqno, o.lastSeqno);
    const run = chainFrom(objects, this.#seqno, Infinity);
    const ks = this.#keyspace();
    const access = journalAccess(ks);
    let objectCount = 0;
    let batches = 0;
    let current: string | undefined;
    for await (const { object, record } of replayRecords(this.#ctx.store, this.#codec, run.chain, { keyspaceId: this.#keyspaceId, seqno: this.#seqno, chain: this.#chain }, undefined)) {
      if (this.#closing !== undefined) break;
      if (object.key !== current) {
        if (current !== undefined) objectCount++;
        current = object.key;
      }
      const batch = shippedBatch(object.plaintext, record);
      await access.applyReplayed(batch.seqno, batch.timeMs, batch.ops);
      this.#seqno = record.lastSeqno;
      this.#timeMs = record.timeMs;
      batches++;
      if (record === object.records.at(-1)) {
        this.#chain = { key: object.key, value: object.info.postChain };
        this.#wake();
      }
    }
    if (current !== undefined) objectCount++;
    if (batches > 0) {
      this.#stats.objectsApplied += objectCount;
      this.#stats.batchesApplied += batches;
      await this.#refreshHandles();
      this.#lastError = undefined;
      this.emit('applied', { seqno: this.#seqno, timeMs: this.#timeMs, objects: objectCount, batches } satisfies FollowerAppliedEvent);
    }
    const beyond = objects.find((o) => o.firstSeqno > this.#seqno + 1);
    if (beyond !== undefined && this.#closing === undefined) {
      throw new CairnError(ErrorCodes.NOT_FOUND, `The shipped journal has a gap: seqnos ${this.#seqno + 1}-${beyond.firstSeqno - 1} are missing from ${this.#ctx.store.url}`, {
        details: { reason: 'gap', missing: { from: this.#seqno + 1, to: beyond.firstSeqno - 1 }, seqno: this.#seqno },
      });
    }
  }

  /** Handles of partitions a replayed registry change created or dropped. */
  async #refreshHandles(): Promise<void> {
    const ks = this.#keyspace();
    const names = new Set(ks.partitionNames());
    for (const name of this.#handles.keys()) if (!names.has(name)) this.#handles.delete(name);
    for (const name of names) if (!this.#handles.has(name)) this.#handles.set(name, await ks.partition(name));
  }

  /** Reports a failed poll; a gap or a broken chain re-bases on a newer backup when one exists. */
  async #failed(err: unknown): Promise<void> {
    if (this.#closing !== undefined && hasCode(err, ErrorCodes.CLOSED)) return;
    const problem = this.#report(err);
    if (this.#closing !== undefined || (problem.code !== ErrorCodes.NOT_FOUND && problem.code !== ErrorCodes.CORRUPTION)) return;
    try {
      const from = this.#seqno;
      const rebased = await this.#restoreNewest(this.#seqno);
      if (rebased !== undefined) this.emit('rebased', { backup: rebased.id, seqno: this.#seqno, from } satisfies FollowerRebasedEvent);
    } catch (rebaseError) {
      this.#report(rebaseError);
    }
  }

  /** Keeps the problem for stats() and emits it when someone listens. */
  #report(err: unknown): FollowerProblem {
    const e = err instanceof Error ? err : new Error(String(err));
    const { code, details } = e as { code?: unknown; details?: Record<string, unknown> };
    this.#lastError = { code: typeof code === 'string' ? code : undefined, message: e.message, details, time: this.#ctx.clock() };
    if (this.listenerCount('error') > 0) this.emit('error', e);
    return this.#lastError;
  }

  #wake(): void {
    const ready = this.#waiters.filter((w) => w.seqno <= this.#seqno);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.seqno > this.#seqno);
    for (const w of ready) w.resolve(this.#seqno);
  }
}

function closedError(): CairnError {
  return new CairnError(ErrorCodes.CLOSED, 'The follower is closed');
}

function readOnlyError(): CairnError {
  return new CairnError(ErrorCodes.READ_ONLY, 'A follower takes no writes; write to the store\'s writer (or promote the follower)');
}

/**
 * A partition of a follower: the reads of a Partition, on the follower's current data;
 * every write rejects with CAIRN_READ_ONLY.
 */
export class FollowerPartition {
  readonly name: string;
  readonly #current: (name: string) => Partition;

  /** @internal Made by `follower.partition(name)`. */
  constructor(name: string, current: (name: string) => Partition) {
    this.name = name;
    this.#current = current;
  }

  /** As Partition.get. */
  get(key: Bytes, options?: ReadOptions): Promise<Buffer | undefined> {
    return this.#call((p) => p.get(key, options));
  }

  /** As Partition.getMany. */
  getMany(keys: readonly Bytes[], options?: ReadOptions): Promise<(Buffer | undefined)[]> {
    return this.#call((p) => p.getMany(keys, options));
  }

  /** As Partition.has. */
  has(key: Bytes, options?: ReadOptions): Promise<boolean> {
    return this.#call((p) => p.has(key, options));
  }

  /** As Partition.entries. @throws CairnError CAIRN_CLOSED / CAIRN_NOT_FOUND synchronously. */
  entries(options?: IteratorOptions): PartitionIterator<[Buffer, Buffer]> {
    return this.#current(this.name).entries(options);
  }

  /** As Partition.keys. */
  keys(options?: IteratorOptions): PartitionIterator<Buffer> {
    return this.#current(this.name).keys(options);
  }

  /** As Partition.values. */
  values(options?: IteratorOptions): PartitionIterator<Buffer> {
    return this.#current(this.name).values(options);
  }

  /** Rejects with CAIRN_READ_ONLY. */
  put(_key: Bytes, _value: Bytes): Promise<void> {
    return Promise.reject(readOnlyError());
  }

  /** Rejects with CAIRN_READ_ONLY. */
  delete(_key: Bytes): Promise<void> {
    return Promise.reject(readOnlyError());
  }

  /** Rejects with CAIRN_READ_ONLY. */
  clear(_range?: KeyBounds): Promise<void> {
    return Promise.reject(readOnlyError());
  }

  #call<T>(read: (p: Partition) => Promise<T>): Promise<T> {
    try {
      return read(this.#current(this.name));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
