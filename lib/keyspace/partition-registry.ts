// The partition registry: which partitions exist (keyspace.json is the commit point of
// every change), the tree of each, and the changes themselves (create, delete), run one
// at a time. Main thread only.
import type { FileSystem } from '../fs/file-system.js';
import { removeTreeDurable } from '../fs/durable.js';
import { CairnError, ErrorCodes } from '../errors.js';
import { KEYSPACE_FILE, partitionDir } from '../layout/file-names.js';
import { type KeyspaceMeta, writeKeyspaceMeta } from '../layout/keyspace-meta.js';
import { Tree, type TreeHost, type TreeOptions } from '../tree/tree.js';
import type { KeyspaceState } from './keyspace-state.js';

/** Appends the journal record of a registry change (WritePath.appendRegistryChange). */
export type JournalRegistryChange = (kind: 'create' | 'drop', name: string, id: number) => Promise<void>;

/** How a change is made: by the keyspace's own user (journaled), or replayed from a shipped journal (given id, not journaled again). */
export interface RegistryChangeOptions {
  replayedId?: number;
}

export class PartitionRegistry {
  /** The partitions that exist, by name. Read freely; changed only here. */
  readonly trees: ReadonlyMap<string, Tree>;
  readonly #trees: Map<string, Tree>;
  readonly #root: string;
  readonly #fs: FileSystem;
  readonly #meta: KeyspaceMeta;
  readonly #host: TreeHost;
  readonly #options: TreeOptions;
  readonly #state: KeyspaceState;
  /** Serialises changes to the registry. */
  #chain: Promise<unknown> = Promise.resolve();
  readonly #journalChange: JournalRegistryChange;
  /**
   * Changes whose journal record is written and whose keyspace.json is not yet: a
   * checkpoint cut waits them out, so that its registry agrees with its seqno.
   */
  #uncommitted = 0;
  #committedWaiters: (() => void)[] = [];

  constructor(root: string, meta: KeyspaceMeta, trees: Map<string, Tree>, host: TreeHost, options: TreeOptions, state: KeyspaceState, journalChange: JournalRegistryChange) {
    this.#journalChange = journalChange;
    this.#root = root;
    this.#fs = host.fs;
    this.#meta = meta;
    this.#trees = trees;
    this.trees = trees;
    this.#host = host;
    this.#options = options;
    this.#state = state;
  }

  /** The keyspace's UUID. */
  get id(): string {
    return this.#meta.id;
  }

  /** The registry as committed: partitions being created or deleted right now are left out. */
  committedMeta(): KeyspaceMeta {
    const meta: KeyspaceMeta = structuredClone(this.#meta);
    for (const name of Object.keys(meta.partitions)) if (!this.#trees.has(name)) delete meta.partitions[name];
    return meta;
  }

  /** True while a change is journaled but not committed (see #uncommitted). */
  get changing(): boolean {
    return this.#uncommitted > 0;
  }

  /** Resolves when no change is between its journal record and its commit. */
  async committed(): Promise<void> {
    while (this.#uncommitted > 0) await new Promise<void>((resolve) => this.#committedWaiters.push(resolve));
  }

  /** Runs `commit` (journal record, then keyspace.json) counted as uncommitted. */
  async #uncommittedWhile<T>(commit: () => Promise<T>): Promise<T> {
    this.#uncommitted++;
    try {
      return await commit();
    } finally {
      if (--this.#uncommitted === 0) for (const wake of this.#committedWaiters.splice(0)) wake();
    }
  }

  /**
   * Creates partition `name` (durably) unless it exists; `visibleSeqno` is what its first
   * reader sees. A replayed create takes the id it had where it was journaled.
   */
  create(name: string, visibleSeqno: () => number, options: RegistryChangeOptions = {}): Promise<void> {
    return this.#change(async () => {
      if (this.#trees.has(name)) return;
      this.#state.checkWritable();
      const replayed = options.replayedId !== undefined;
      const id = options.replayedId ?? this.#meta.nextPartitionId;
      const dir = partitionDir(this.#root, name);
      // A leftover directory of that name can only be debris of a crashed create or delete.
      await this.#fs.removeTree(dir);
      const tree = await Tree.create(this.#host, dir, name, id, this.#options, visibleSeqno());
      await this.#uncommittedWhile(async () => {
        if (!replayed) {
          try {
            await this.#journalChange('create', name, id);
          } catch (err) {
            await tree.close();
            throw err;
          }
        }
        const previousNext = this.#meta.nextPartitionId;
        this.#meta.nextPartitionId = Math.max(previousNext, id + 1);
        this.#meta.partitions[name] = { id, createdAt: new Date().toISOString() };
        try {
          // The registry entry is the commit point: until it is durable the partition does not exist.
          await writeKeyspaceMeta(this.#fs, this.#root, this.#meta);
        } catch (err) {
          delete this.#meta.partitions[name];
          this.#meta.nextPartitionId = previousNext;
          await tree.close();
          // As in delete: the registry on disk is unknown until reopen. Nothing is deleted
          // here; the next open removes the directory if the registry does not name it.
          this.#state.poison(err, `rewriting ${KEYSPACE_FILE} to create partition "${name}"`);
          throw err;
        }
        this.#trees.set(name, tree);
      });
    });
  }

  /**
   * Deletes partition `name` and its files. `ready` runs first (the keyspace waits there
   * for checkpoints in progress, which may be linking its files); `committed` runs as soon
   * as the deletion is durable, before the files go.
   */
  delete(name: string, ready: () => Promise<void>, committed: () => void, options: RegistryChangeOptions = {}): Promise<void> {
    return this.#change(async () => {
      const tree = this.#trees.get(name);
      if (tree === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `No partition named ${name}`, { details: { partition: name } });
      await ready();
      const record = this.#meta.partitions[name];
      await this.#uncommittedWhile(async () => {
        if (options.replayedId === undefined) await this.#journalChange('drop', name, record.id);
        delete this.#meta.partitions[name];
        try {
          await writeKeyspaceMeta(this.#fs, this.#root, this.#meta);
        } catch (err) {
          this.#meta.partitions[name] = record;
          // The rewrite may have failed after its rename (in the directory fsync), so the
          // registry on disk is unknown until a reopen reads it: like a failed fsync, poison.
          this.#state.poison(err, `rewriting ${KEYSPACE_FILE} to delete partition "${name}"`);
          throw err;
        }
        this.#trees.delete(name);
      });
      committed();
      await tree.close();
      // The deletion is committed. If removing the files is cut short, the next open (or a
      // new partition of the same name) removes the rest: the registry no longer names it.
      await removeTreeDurable(this.#fs, partitionDir(this.#root, name)).catch(() => undefined);
    });
  }

  #change<T>(change: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(change);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
