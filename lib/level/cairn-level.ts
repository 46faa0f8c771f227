// CairnLevel: an abstract-level (v3) database over one partition of a cairn keyspace.
// Main-thread only. abstract-level serialises open/close, defers calls until open, and
// closes iterators and snapshots before _close(); the private methods below rely on that.
import * as path from 'node:path';
import { AbstractLevel, AbstractSnapshot, type AbstractDatabaseOptions } from 'abstract-level';
import { CairnError, ErrorCodes, Keyspace, Partition, type KeyspaceOptions, type ReadOptions, type Snapshot, type WriteOptions } from '../index.js';
import { hasCode } from '../errors.js';
import { defaultFileSystem } from '../fs/index.js';
import { isValidPartitionName, keyspaceFilePath } from '../layout/file-names.js';
import { KEYSPACE_OPTIONS } from '../keyspace/options.js';
import { CairnIterator, CairnKeyIterator, CairnValueIterator, decode, type Format, type PrivateIteratorOptions } from './iterators.js';
import { RangeCursor, type LevelKey, type LevelRange, type Shape } from './range-cursor.js';

/** abstract-level's database options (encodings…) plus the keyspace's own, and the partition to use. */
export interface CairnLevelOptions<K, V> extends AbstractDatabaseOptions<K, V>, KeyspaceOptions {
  /** The partition this database reads and writes. Default 'default'. */
  partition?: string;
}

/** Keys of clear() are deleted in batches of this many, each one atomic journal record. */
const CLEAR_BATCH = 1000;

interface PrivateOpenOptions {
  createIfMissing: boolean;
  errorIfExists: boolean;
}

interface PrivateReadOptions {
  keyEncoding: Format;
  valueEncoding: Format;
  snapshot?: unknown;
}

/** Level's `sync: true` asks for an fsynced write, as in classic-level. */
interface PrivateWriteOptions {
  sync?: boolean;
}

interface PrivateBatchOp {
  type: 'put' | 'del';
  key: LevelKey;
  value?: LevelKey;
}

interface PrivateRangeOptions extends LevelRange {
  limit: number;
  snapshot?: unknown;
}

type SnapshotBase = new (options: object) => AbstractSnapshot;

/** An explicit snapshot (db.snapshot()): a cairn Snapshot of the whole keyspace. */
class CairnLevelSnapshot extends (AbstractSnapshot as unknown as SnapshotBase) {
  constructor(
    options: object,
    readonly snapshot: Snapshot,
  ) {
    super(options);
  }

  async _close(): Promise<void> {
    this.snapshot.release();
  }
}

/**
 * An abstract-level database over one partition of a cairn keyspace: the API of `level`
 * (get, put, del, batch, iterators, snapshots, clear) as abstract-level documents it,
 * with cairn's durability (`sync: true` fsyncs) and its errors as `cause`. Opening and
 * closing follow abstract-level: open() takes the keyspace's LOCK, close() releases it.
 */
export class CairnLevel<KDefault = string, VDefault = string> extends AbstractLevel<Buffer | Uint8Array | string, KDefault, VDefault> {
  /** The keyspace directory. */
  readonly location: string;
  readonly #partitionName: string;
  readonly #keyspaceOptions: KeyspaceOptions;
  /** Set by fromPartition(): a keyspace the caller owns and closes. */
  #borrowed: { keyspace: Keyspace; partition: Partition | undefined } | undefined;
  #keyspace: Keyspace | undefined;
  #partition: Partition | undefined;

  /**
   * A database over the keyspace at `location`, opened (and created when missing, unless
   * `createIfMissing: false`) by open(); close() closes the keyspace. No I/O here.
   * @param options - abstract-level's options, KeyspaceOptions, and `partition` (default 'default').
   * @throws TypeError for an empty location or an invalid partition name.
   *
   * open() rejects with an abstract-level error (a LEVEL_* code) whose `cause` is cairn's:
   * CAIRN_LOCKED when the keyspace is open elsewhere, CAIRN_NOT_FOUND
   * for a missing keyspace or partition with `createIfMissing: false`, CAIRN_ALREADY_EXISTS
   * with `errorIfExists: true`, and the errors of Keyspace.open.
   */
  constructor(location: string, options?: CairnLevelOptions<KDefault, VDefault>) {
    if (typeof location !== 'string' || location.length === 0) throw new TypeError('location must be a non-empty string');
    // Other names are not refused: abstract-level forwards any option to open() and its
    // hooks (userland options, which its compliance suite checks). Keyspace.open refuses
    // unknown names inside the keyspace options it is given (compaction's).
    const partition = options?.partition ?? 'default';
    if (typeof partition !== 'string' || !isValidPartitionName(partition)) {
      throw new TypeError(`partition must be a valid partition name (got ${JSON.stringify(partition)})`);
    }
    super(
      {
        encodings: { buffer: true, utf8: true },
        implicitSnapshots: true,
        explicitSnapshots: true,
        has: true,
        seek: true,
        permanence: true,
        createIfMissing: true,
        errorIfExists: true,
      },
      options,
    );
    this.location = location;
    this.#partitionName = partition;
    const keyspaceOptions: Record<string, unknown> = {};
    for (const name of KEYSPACE_OPTIONS) {
      const value = (options as Record<string, unknown> | undefined)?.[name];
      if (value !== undefined) keyspaceOptions[name] = value;
    }
    this.#keyspaceOptions = keyspaceOptions as KeyspaceOptions;
  }

  /**
   * A database over a partition of a keyspace the caller already opened. close() leaves the
   * keyspace open. A partition given by name is created in open() when missing.
   * @throws TypeError when `keyspace` is not a Keyspace, or `partition` neither a Partition
   *   nor a valid name; open() rejects when a Partition handle belongs to another keyspace.
   */
  static fromPartition<K = string, V = string>(keyspace: Keyspace, partition: Partition | string, options?: AbstractDatabaseOptions<K, V>): CairnLevel<K, V> {
    if (!(keyspace instanceof Keyspace)) throw new TypeError('keyspace must be an open Keyspace');
    const misplaced = KEYSPACE_OPTIONS.find((name) => (options as Record<string, unknown> | undefined)?.[name] !== undefined);
    if (misplaced !== undefined) throw new RangeError(`options.${misplaced} is not an option here: the keyspace is already open`);
    const given = partition instanceof Partition ? partition : undefined;
    if (given === undefined && typeof partition !== 'string') throw new TypeError('partition must be a Partition or a partition name');
    const db = new CairnLevel<K, V>(keyspace.path, { ...options, partition: given?.name ?? (partition as string) });
    db.#borrowed = { keyspace, partition: given };
    return db;
  }

  /** The keyspace underneath while open (for checkpoints, backups and other partitions); undefined when not open. */
  get keyspace(): Keyspace | undefined {
    return this.#keyspace;
  }

  async _open(options: PrivateOpenOptions): Promise<void> {
    if (this.#borrowed !== undefined) {
      this.#partition = await this.#borrowedPartition(this.#borrowed.keyspace, this.#borrowed.partition);
      this.#keyspace = this.#borrowed.keyspace;
      return;
    }
    if (!options.createIfMissing || options.errorIfExists) await this.#checkExistence(options);
    const keyspace = await Keyspace.open(this.location, this.#keyspaceOptions).catch((err: unknown) => {
      // abstract-level's code for a database another process or instance holds (its
      // README, "Errors"; classic-level's too), with cairn's error kept as the cause.
      if (hasCode(err, ErrorCodes.LOCKED)) throw Object.assign(new Error('The database is locked by another process or instance', { cause: err }), { code: 'LEVEL_LOCKED' });
      throw err;
    });
    try {
      if (!options.createIfMissing && !keyspace.partitionNames().includes(this.#partitionName)) {
        throw new CairnError(ErrorCodes.NOT_FOUND, `Partition ${this.#partitionName} does not exist (createIfMissing is false)`, {
          details: { partition: this.#partitionName },
        });
      }
      this.#partition = await keyspace.partition(this.#partitionName);
    } catch (err) {
      await keyspace.close();
      throw err;
    }
    this.#keyspace = keyspace;
  }

  async _close(): Promise<void> {
    const keyspace = this.#keyspace;
    this.#keyspace = undefined;
    this.#partition = undefined;
    if (keyspace !== undefined && this.#borrowed === undefined) await keyspace.close();
  }

  async _get(key: LevelKey, options: PrivateReadOptions): Promise<Buffer | string | undefined> {
    const value = await this.#open().partition.get(key, readOptions(options));
    return value === undefined ? undefined : decode(value, options.valueEncoding);
  }

  /** Every lookup starts in this tick (partition.get reads synchronously), so all see one state. */
  async _getMany(keys: LevelKey[], options: PrivateReadOptions): Promise<(Buffer | string | undefined)[]> {
    const { partition } = this.#open();
    const read = readOptions(options);
    const values = await Promise.all(keys.map((key) => partition.get(key, read)));
    return values.map((v) => (v === undefined ? undefined : decode(v, options.valueEncoding)));
  }

  async _has(key: LevelKey, options: PrivateReadOptions): Promise<boolean> {
    return this.#open().partition.has(key, readOptions(options));
  }

  async _hasMany(keys: LevelKey[], options: PrivateReadOptions): Promise<boolean[]> {
    const { partition } = this.#open();
    const read = readOptions(options);
    return Promise.all(keys.map((key) => partition.has(key, read)));
  }

  async _put(key: LevelKey, value: LevelKey, options: PrivateWriteOptions): Promise<void> {
    await this.#open().partition.put(key, value, writeOptions(options));
  }

  async _del(key: LevelKey, options: PrivateWriteOptions): Promise<void> {
    await this.#open().partition.delete(key, writeOptions(options));
  }

  async _batch(operations: PrivateBatchOp[], options: PrivateWriteOptions): Promise<void> {
    const { keyspace, partition } = this.#open();
    const batch = keyspace.batch();
    for (const op of operations) {
      if (op.type === 'put') batch.put(partition, op.key, op.value as LevelKey);
      else batch.delete(partition, op.key);
    }
    await batch.commit(writeOptions(options));
  }

  /**
   * Without a limit or an explicit snapshot: one range delete (partition.clear), whose
   * cost does not depend on what the range holds; writes made after clear() was called
   * survive, being newer. Otherwise it deletes what a key iterator over the range yields,
   * from one snapshot, CLEAR_BATCH keys per atomic batch (memory stays bounded).
   */
  async _clear(options: PrivateRangeOptions): Promise<void> {
    const { keyspace, partition } = this.#open();
    if ((options.limit === -1 || options.limit === Infinity) && options.snapshot === undefined) {
      // abstract-level's precedence: gte over gt, lte over lt (cairn takes the tighter one).
      const { gt, gte, lt, lte } = options;
      await partition.clear({ ...(gte === undefined ? { gt } : { gte }), ...(lte === undefined ? { lt } : { lte }) });
      return;
    }
    const cursor = this.#cursor<Buffer>(options, 'keys');
    try {
      while (true) {
        const keys = cursor.take(CLEAR_BATCH);
        if (keys.length === 0) break;
        const batch = keyspace.batch();
        for (const key of keys) batch.delete(partition, key);
        await batch.commit();
      }
    } finally {
      cursor.close();
    }
  }

  _iterator(options: PrivateIteratorOptions & PrivateRangeOptions): CairnIterator {
    return new CairnIterator(this, options, this.#cursor(options, options.keys ? 'entries' : 'values'));
  }

  _keys(options: PrivateIteratorOptions & PrivateRangeOptions): CairnKeyIterator {
    return new CairnKeyIterator(this, options, this.#cursor(options, 'keys'));
  }

  _values(options: PrivateIteratorOptions & PrivateRangeOptions): CairnValueIterator {
    return new CairnValueIterator(this, options, this.#cursor(options, 'values'));
  }

  _snapshot(options: object): CairnLevelSnapshot {
    return new CairnLevelSnapshot(options, this.#open().keyspace.snapshot());
  }

  /**
   * Iterators read an explicit snapshot when given one, else a snapshot of their own taken
   * now (synchronously, as implicit snapshots require), which also keeps seek() on it.
   */
  #cursor<T>(options: PrivateRangeOptions, shape: Shape): RangeCursor<T> {
    const { keyspace, partition } = this.#open();
    const explicit = options.snapshot === undefined || options.snapshot === null ? undefined : cairnSnapshotOf(options.snapshot);
    return new RangeCursor<T>(partition, options, options.limit, shape, explicit ?? keyspace.snapshot(), explicit === undefined);
  }

  #open(): { keyspace: Keyspace; partition: Partition } {
    if (this.#keyspace === undefined || this.#partition === undefined) throw new CairnError(ErrorCodes.CLOSED, 'The database is not open');
    return { keyspace: this.#keyspace, partition: this.#partition };
  }

  async #checkExistence(options: PrivateOpenOptions): Promise<void> {
    const fs = this.#keyspaceOptions.fs ?? defaultFileSystem();
    const file = keyspaceFilePath(path.resolve(this.location));
    const exists = (await fs.statOrUndefined(file)) !== undefined;
    if (!exists && !options.createIfMissing) {
      throw new CairnError(ErrorCodes.NOT_FOUND, `No keyspace at ${this.location}: it does not exist (createIfMissing is false)`, {
        details: { path: this.location },
      });
    }
    if (exists && options.errorIfExists) {
      throw new CairnError(ErrorCodes.ALREADY_EXISTS, `A keyspace at ${this.location} already exists (errorIfExists is true)`, {
        details: { path: this.location },
      });
    }
  }

  async #borrowedPartition(keyspace: Keyspace, given: Partition | undefined): Promise<Partition> {
    // Handles are cached one per name and keyspace, so a foreign handle shows up as a different object.
    if (given !== undefined && !keyspace.partitionNames().includes(given.name)) {
      throw new TypeError(`partition ${given.name} does not belong to this keyspace`);
    }
    const partition = await keyspace.partition(this.#partitionName);
    if (given !== undefined && partition !== given) throw new TypeError(`partition ${given.name} does not belong to this keyspace`);
    return partition;
  }
}

function cairnSnapshotOf(snapshot: unknown): Snapshot {
  if (!(snapshot instanceof CairnLevelSnapshot)) throw new TypeError('snapshot must come from a CairnLevel database');
  return snapshot.snapshot;
}

function readOptions(options: PrivateReadOptions): ReadOptions | undefined {
  return options.snapshot === undefined || options.snapshot === null ? undefined : { snapshot: cairnSnapshotOf(options.snapshot) };
}

function writeOptions(options: PrivateWriteOptions): WriteOptions | undefined {
  return options.sync === true ? { durability: 'sync' } : undefined;
}
