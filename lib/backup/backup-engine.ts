// The BackupEngine: incremental backups of a keyspace into a BackupStore, and list,
// info, verify, restore and prune over it. Public methods validate their arguments
// (TypeError/RangeError before any I/O) and delegate to one module per operation. Any
// number of operations may run at once, in this and other processes; backups and prunes
// coordinate through leases in the store (lib/backup/lease.ts).
import { createRequire } from 'node:module';
import type { FileSystem } from '../fs/file-system.js';
import { defaultFileSystem } from '../fs/index.js';
import { optionNames, optionsObject } from '../keyspace/arguments.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import { type DamagedBackup, type EngineContext, openExistingStore, readAllManifests, readStoreInfo, resolveManifest, validateBackupRef } from './catalog.js';
import type { Compression } from './object-codec.js';
import { parseUserKey, type UserKey } from './store-keys.js';
import { rotateStoreKey } from './rotate-key.js';
import type { BackupManifest, StoreInfo } from './manifest.js';
import { hashFile } from './file-streams.js';
import { copyHashedOnWorker, hashOnWorker } from './hash-job.js';
import { openStore } from './open-store.js';
import { type PruneOptions, type PruneResult, pruneBackups } from './prune-backups.js';
import { type RestoreOptions, type RestoreResult, restoreBackup } from './restore-backup.js';
import type { BackupStore } from './store.js';
import { shippedCodecOf, shipperContext } from './ship-context.js';
import { BackupSchedule, type ScheduleOptions, parseDuration } from './schedule.js';
import { type PointInTimeResult, type RestorePlan, planPointInTime, restorePointInTime, toTimeMs } from './point-in-time.js';
import { type RestoreWindow, computeWindow } from './shipped-catalog.js';
import { type ShipOptions, Shipper } from './shipper.js';
import { type BackupOptions, type BackupResult, takeBackup } from './take-backup.js';
import { type VerifyOptions, type VerifyResult, verifyBackup } from './verify-backup.js';

// dist/backup/ and lib/backup/ both sit two levels below the package root.
const { version: CAIRN_VERSION } = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface BackupEngineOptions {
  /** The file-system seam for checkpoints and restores. Default: defaultFileSystem(). */
  fs?: FileSystem;
  /**
   * How long a backup's or prune's lease stays live without a refresh (refreshed every
   * third of it). Default 15 minutes. Clocks of the hosts sharing a store must agree to
   * well within a tenth of it.
   */
  leaseTtlMs?: number;
  /** prune never deletes a content object younger than this (store mtime). Default 1 hour. */
  graceMs?: number;
  /** Milliseconds since the epoch. Default Date.now; tests inject a clock to age backups. */
  clock?: () => number;
  /**
   * How new content objects are compressed (each 1 MiB frame; frames that do not shrink
   * are stored raw). Default: the store's, and for a new store 'zstd' where node:zlib
   * has it (Node >= 22.15), else 'gzip' (on Node 20, 'zstd' is written as gzip).
   * Format-1 stores are not compressed.
   */
  compression?: Compression;
  /**
   * Client-side encryption: the user's key, 32 bytes (or 64 hex digits / base64). A new
   * store is created encrypted; an existing encrypted store needs it (CAIRN_BAD_KEY
   * otherwise, before anything is written or restored). See docs/backups.md, threat model.
   */
  encryption?: BackupEncryption;
}

/** The `encryption` option of a BackupEngine. */
export interface BackupEncryption {
  key: UserKey;
}

/** What `list()` reports per backup (its manifest without the file list). */
export interface BackupSummary {
  /** Sortable by time: `20261121T171500Z-0a1b2c3d`. */
  id: string;
  /** ISO 8601 time the backup's checkpoint was taken. */
  createdAt: string;
  /** The backup holds every write with a seqno up to this one, and no later one. */
  seqno: number;
  label: string | undefined;
  keyspaceId: string;
  partitions: string[];
  /** Files in the backup and their total size (the keyspace as backed up). */
  files: number;
  bytes: number;
}

/** What `list()` resolves with: the readable backups, and the manifests that are not. */
export type BackupList = BackupSummary[] & {
  /** Manifests that could not be read ({ id, problem }); 'latest' skips them. */
  damaged: DamagedBackup[];
};

const ENGINE_OPTIONS = optionNames<BackupEngineOptions>({ fs: true, leaseTtlMs: true, graceMs: true, clock: true, compression: true, encryption: true });
const BACKUP_OPTIONS = optionNames<BackupOptions>({ label: true, concurrency: true, signal: true, onProgress: true, force: true });
const VERIFY_OPTIONS = optionNames<VerifyOptions>({ full: true, quarantine: true, concurrency: true, signal: true, onProgress: true });
const RESTORE_OPTIONS = optionNames<RestoreOptions>({ concurrency: true, signal: true, onProgress: true, toSeqno: true, toTime: true, dryRun: true, partitions: true });
const SCHEDULE_OPTIONS = optionNames<ScheduleOptions>({ every: true, keepLast: true, maxAge: true, verify: true });
const SHIP_OPTIONS = optionNames<ShipOptions>({ intervalMs: true, maxObjectBytes: true });
const PRUNE_OPTIONS = optionNames<PruneOptions>({ keepLast: true, maxAgeMs: true, graceMs: true, dryRun: true, concurrency: true, signal: true, onProgress: true });

let contextOf: (engine: BackupEngine) => EngineContext;

/** @internal What an engine's operations share (store, file system, clock), for the Follower. */
export function engineContext(engine: BackupEngine): EngineContext {
  return contextOf(engine);
}

const DEFAULT_LEASE_TTL_MS = 15 * 60 * 1000;
const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/**
 * Incremental backups of keyspaces into one BackupStore, and list, info, verify, restore
 * and prune over it. Any number of operations may run at once, in this and other
 * processes sharing the store.
 */
export class BackupEngine {
  /** The store this engine reads and writes. */
  readonly store: BackupStore;
  readonly #ctx: EngineContext;
  #ownsStore = false;

  static {
    contextOf = (engine) => engine.#ctx;
  }

  /**
   * An engine over a store the caller opened (and closes). No I/O.
   * @throws TypeError when `store` is not a BackupStore or an option has the wrong type;
   *   RangeError for a negative or non-finite duration.
   */
  constructor(store: BackupStore, options?: BackupEngineOptions) {
    if (typeof store !== 'object' || store === null || typeof store.put !== 'function' || typeof store.get !== 'function') {
      throw new TypeError('store must be a BackupStore');
    }
    const o = optionsObject<BackupEngineOptions>(options, 'options', ENGINE_OPTIONS);
    if (o.fs !== undefined && (typeof o.fs !== 'object' || o.fs === null || typeof o.fs.open !== 'function')) throw new TypeError('options.fs must be a FileSystem');
    if (o.clock !== undefined && typeof o.clock !== 'function') throw new TypeError('options.clock must be a function');
    if (o.compression !== undefined && o.compression !== 'zstd' && o.compression !== 'gzip' && o.compression !== 'none') {
      throw new TypeError("options.compression must be 'zstd', 'gzip' or 'none'");
    }
    let userKey: Buffer | undefined;
    if (o.encryption !== undefined) {
      const e = optionsObject<BackupEncryption>(o.encryption, 'options.encryption', ['key']);
      userKey = parseUserKey(e.key, 'options.encryption.key');
    }
    this.store = store;
    const fs = o.fs ?? defaultFileSystem();
    this.#ctx = {
      store,
      fs,
      // Hashing is the CPU of a backup and of a restore: on worker threads (every core, the
      // event loop free), except with an injected file system, which a thread cannot share.
      hashFile: o.fs === undefined ? (path, signal, onBytes, check) => hashOnWorker(path, { signal, onBytes, check }) : (path, signal, onBytes, check) => hashFile(fs, path, signal, onBytes, check),
      copyHashed: o.fs === undefined ? (from, to, signal, onBytes) => copyHashedOnWorker(from, to, { signal, onBytes }) : undefined,
      clock: o.clock ?? Date.now,
      leaseTtlMs: duration(o.leaseTtlMs, 'options.leaseTtlMs', DEFAULT_LEASE_TTL_MS, 1),
      graceMs: duration(o.graceMs, 'options.graceMs', DEFAULT_GRACE_MS, 0),
      cairnVersion: CAIRN_VERSION,
      compression: o.compression,
      userKey,
      injected: o.fs !== undefined,
    };
  }

  /**
   * Opens the store at `url` and an engine over it; the engine's close() closes the store.
   * @param url - `file:///abs/dir` or `/abs/dir` (created, durably, when missing), or
   *   `s3://bucket/prefix?region=…&endpoint=…` (see docs/backups.md).
   * @throws TypeError for a relative path, an unknown scheme or a bad option.
   * @throws CairnError CAIRN_NOT_FOUND when the S3 bucket does not exist. Creating a
   *   directory keeps Node's codes (EACCES, ENOTDIR…); S3 failures keep the SDK's error name as `code`.
   */
  static async open(url: string, options?: BackupEngineOptions): Promise<BackupEngine> {
    if (typeof url !== 'string' || url.length === 0) throw new TypeError('url must be a non-empty string');
    const o = optionsObject<BackupEngineOptions>(options, 'options', ENGINE_OPTIONS);
    const store = await openStore(url, o.fs === undefined ? undefined : { fs: o.fs });
    try {
      const engine = new BackupEngine(store, o);
      engine.#ownsStore = true;
      return engine;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /**
   * Backs up `ks` (open in this process) incrementally: an online checkpoint beside it,
   * then only content the store lacks is uploaded, and the manifest is written last. A
   * failed or aborted backup leaves no visible backup; a retry reuses what was uploaded.
   * @returns The new backup's id, seqno, and what was uploaded.
   * @throws TypeError / RangeError for invalid arguments, before any I/O.
   * @throws CairnError CAIRN_STORE_IN_USE when the store holds another keyspace's backups
   *   (pass `force` to mix them) or a prune is running; CAIRN_ABORTED when `signal`
   *   fires; CAIRN_CLOSED / CAIRN_POISONED from the keyspace. Store and disk failures keep
   *   their codes (ENOSPC, S3 error names).
   */
  backup(ks: Keyspace, options?: BackupOptions): Promise<BackupResult> {
    if (typeof ks !== 'object' || ks === null || typeof ks.backupTo !== 'function') throw new TypeError('ks must be an open Keyspace');
    const o = optionsObject<BackupOptions>(options, 'options', BACKUP_OPTIONS);
    if (o.label !== undefined && typeof o.label !== 'string') throw new TypeError('options.label must be a string');
    checkCommon(o);
    return takeBackup(this.#ctx, ks, { ...o, concurrency: concurrency(o.concurrency, 4), force: o.force === true });
  }

  /**
   * Every backup in the store, oldest first by creation time; manifests that cannot be
   * read (malformed, truncated, or of a newer format) are not among them but listed in
   * the array's `damaged` property, so one bad manifest never hides the others (prune
   * with a retention rule deletes them). No options yet: any name is a RangeError.
   * @throws CairnError CAIRN_NOT_FOUND when there is no store at the URL (no store.json);
   *   store failures keep their codes.
   */
  async list(options?: Record<string, never>): Promise<BackupList> {
    optionsObject(options, 'options', []);
    const { codec } = await openExistingStore(this.#ctx);
    const { manifests, damaged } = await readAllManifests(this.store, codec);
    return Object.assign(manifests.map(summary), { damaged });
  }

  /**
   * The full manifest of a backup id, or of the newest backup for 'latest'.
   * @throws TypeError for an id that is neither a backup id nor 'latest'.
   * @throws CairnError CAIRN_NOT_FOUND when there is no store at the URL, no such backup
   *   (or none at all, for 'latest', which skips damaged manifests); CAIRN_CORRUPTION for
   *   a malformed manifest.
   */
  info(id: string): Promise<BackupManifest> {
    const ref = validateBackupRef(id);
    return openExistingStore(this.#ctx).then(({ codec }) => resolveManifest(this.store, codec, ref));
  }

  /** store.json: the store's id and the keyspace it serves; resolves undefined before the first backup. */
  storeInfo(): Promise<StoreInfo | undefined> {
    return readStoreInfo(this.store);
  }

  /**
   * Checks that a backup is complete: every object exists with its size, and with `full`,
   * its content hashes to the manifest's sha256 (downloads everything). With `full`, a
   * damaged object is moved to quarantine/ (unless `quarantine: false`) and the backups it
   * breaks are reported; the next backup of a keyspace that still has that file uploads it
   * again, which heals every backup that references it.
   * @returns `ok` and one problem per bad file; a bad object is reported, not thrown.
   * @throws TypeError / RangeError for invalid arguments.
   * @throws CairnError CAIRN_NOT_FOUND when there is no such backup; CAIRN_ABORTED when
   *   `signal` fires. Store failures other than a missing object keep their codes.
   */
  async verify(id: string, options?: VerifyOptions): Promise<VerifyResult> {
    const ref = validateBackupRef(id);
    const o = optionsObject<VerifyOptions>(options, 'options', VERIFY_OPTIONS);
    checkCommon(o);
    const limit = concurrency(o.concurrency, 4);
    const { codec } = await openExistingStore(this.#ctx);
    const manifest = await resolveManifest(this.store, codec, ref, o.signal);
    if (o.quarantine !== undefined && typeof o.quarantine !== 'boolean') throw new TypeError('options.quarantine must be a boolean');
    return verifyBackup(this.#ctx, codec, manifest, { ...o, concurrency: limit, full: o.full === true, quarantine: o.quarantine !== false });
  }

  /**
   * Restores a backup into `dir`, which must be missing or an empty directory. Files are
   * checked against their sha256 as they are written, made durable, and `dir` appears by
   * one rename: it holds a whole keyspace (open it with Keyspace.open) or nothing.
   * @throws TypeError / RangeError for invalid arguments.
   * With `toSeqno` or `toTime` it is a point-in-time restore (docs/shipping.md §5): the
   * newest backup at or before the target (`id` 'latest', or that backup), then the
   * shipped journal replayed up to it, every batch whole; `dryRun` returns the plan only.
   * @throws CairnError CAIRN_NOT_FOUND for a target outside the window or behind a gap in
   *   the shipped journal (details name the range), before anything is written;
   *   CAIRN_CORRUPTION for a shipped object that fails its checks or a chain that does not link.
   * @throws CairnError CAIRN_NOT_EMPTY when `dir` exists and is not an empty directory;
   *   CAIRN_NOT_FOUND when there is no such backup or one of its objects is missing;
   *   CAIRN_CORRUPTION when an object has the wrong size or content; CAIRN_ABORTED when
   *   `signal` fires. Disk failures keep Node's codes. On failure `dir` is left as it was.
   */
  restore(id: string, dir: string, options: RestoreOptions & { dryRun: true }): Promise<RestorePlan>;
  restore(id: string, dir: string, options: RestoreOptions & ({ toSeqno: number } | { toTime: Date | string | number })): Promise<PointInTimeResult>;
  restore(id: string, dir: string, options?: RestoreOptions): Promise<RestoreResult>;
  async restore(id: string, dir: string, options?: RestoreOptions): Promise<RestoreResult | PointInTimeResult | RestorePlan> {
    const ref = validateBackupRef(id);
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty string');
    const o = optionsObject<RestoreOptions>(options, 'options', RESTORE_OPTIONS);
    checkCommon(o);
    if (o.partitions !== undefined && (!Array.isArray(o.partitions) || o.partitions.length === 0 || !o.partitions.every((p) => typeof p === 'string'))) {
      throw new TypeError('options.partitions must be a non-empty array of partition names');
    }
    const limit = concurrency(o.concurrency, 4);
    if (o.toSeqno !== undefined && (typeof o.toSeqno !== 'number' || !Number.isSafeInteger(o.toSeqno) || o.toSeqno < 0)) throw new RangeError('options.toSeqno must be a non-negative integer');
    if (o.toTime !== undefined) toTimeMs(o.toTime);
    if (o.toSeqno !== undefined && o.toTime !== undefined) throw new RangeError('options.toSeqno and options.toTime exclude each other');
    if (o.dryRun !== undefined && typeof o.dryRun !== 'boolean') throw new TypeError('options.dryRun must be a boolean');
    if (o.toSeqno !== undefined || o.toTime !== undefined) {
      const codec = shippedCodecOf(this.#ctx);
      const planned = await planPointInTime(this.#ctx, codec, ref, { toSeqno: o.toSeqno, toTime: o.toTime }, o.signal);
      if (o.dryRun === true) return planned.plan;
      return restorePointInTime(this.#ctx, codec, planned, dir, { ...o, concurrency: limit });
    }
    if (o.dryRun === true) throw new RangeError('options.dryRun needs options.toSeqno or options.toTime');
    const { codec } = await openExistingStore(this.#ctx);
    const manifest = await resolveManifest(this.store, codec, ref, o.signal);
    return restoreBackup(this.#ctx, codec, manifest, dir, { ...o, concurrency: limit });
  }

  /**
   * The range a point-in-time restore can reach: from the oldest backup to the last
   * shipped batch (or the newest backup), with the seqno ranges no object or backup covers.
   * Lists the store and reads one object; a damaged object is found only by the restore
   * that reads it.
   */
  async window(): Promise<RestoreWindow> {
    const { codec } = await openExistingStore(this.#ctx);
    const { manifests } = await readAllManifests(this.store, codec);
    return computeWindow(this.store, shippedCodecOf(this.#ctx), manifests);
  }

  /**
   * Deletes the backups no rule keeps (the newest `keepLast`; those younger than
   * `maxAgeMs`), then the content no remaining backup references. With neither rule,
   * no backup is deleted and only unreferenced content is collected. Content younger
   * than `graceMs` is kept, and no content is collected while a backup runs.
   * @returns The backups kept and deleted, and the content freed.
   * @throws TypeError / RangeError for invalid arguments.
   * @throws CairnError CAIRN_ABORTED when `signal` fires; store failures keep their codes.
   */
  prune(options?: PruneOptions): Promise<PruneResult> {
    const o = optionsObject<PruneOptions>(options, 'options', PRUNE_OPTIONS);
    if (o.keepLast !== undefined && (!Number.isSafeInteger(o.keepLast) || o.keepLast < 0)) throw new RangeError('options.keepLast must be a non-negative integer');
    if (o.maxAgeMs !== undefined) duration(o.maxAgeMs, 'options.maxAgeMs', 0, 0);
    checkCommon(o);
    return pruneBackups(this.#ctx, {
      ...o,
      graceMs: duration(o.graceMs, 'options.graceMs', this.#ctx.graceMs, 0),
      dryRun: o.dryRun === true,
      concurrency: concurrency(o.concurrency, 8),
    });
  }

  /**
   * Re-wraps an encrypted store's keys under `newKey` (the engine's current key must open
   * them) and rewrites store.json; no object is rewritten. The engine uses `newKey` from
   * then on; other engines on the store need it too.
   * @throws TypeError for a key that is not 32 bytes (or 64 hex digits / base64).
   * @throws CairnError CAIRN_BAD_KEY when the store is not encrypted or the current key is
   *   wrong; CAIRN_NOT_FOUND when there is no store.
   */
  async rotateKey(newKey: UserKey): Promise<void> {
    const key = parseUserKey(newKey, 'newKey');
    await rotateStoreKey(this.#ctx, key);
    this.#ctx.userKey = key;
  }

  /**
   * Starts shipping `ks`'s journal into this store (docs/shipping.md): about every
   * `intervalMs`, what was committed (and is durable locally) goes into an immutable
   * shipped object, so that a restore can reach any seqno or moment up to about one
   * interval ago. Resumes where the store's last object ends; when the local journal
   * cannot continue it (a new store, a dropped slot), takes a base backup first. A journal
   * slot keeps unshipped journal files from deletion while the store is unreachable.
   * @returns The running Shipper (flush, waitFor, stats, stop; 'shipped' and 'error' events).
   * @throws TypeError / RangeError for invalid arguments.
   */
  ship(ks: Keyspace, options?: ShipOptions): Shipper {
    if (typeof ks !== 'object' || ks === null || typeof ks.backupTo !== 'function') throw new TypeError('ks must be an open Keyspace');
    const o = optionsObject<ShipOptions>(options, 'options', SHIP_OPTIONS);
    const intervalMs = duration(o.intervalMs, 'options.intervalMs', 1000, 10);
    if (intervalMs > 3_600_000) throw new RangeError('options.intervalMs must be at most 3600000');
    const maxObjectBytes = o.maxObjectBytes ?? 16 * 1024 * 1024;
    if (typeof maxObjectBytes !== 'number' || !Number.isSafeInteger(maxObjectBytes)) throw new TypeError('options.maxObjectBytes must be an integer');
    if (maxObjectBytes < 1024 || maxObjectBytes > 1024 * 1024 * 1024) throw new RangeError('options.maxObjectBytes must be between 1024 and 1073741824');
    return new Shipper(ks, shipperContext(this.#ctx, (k) => this.backup(k)), { intervalMs, maxObjectBytes });
  }

  /**
   * Takes a backup of `ks` every `every` (with up to a tenth of it as jitter), then prunes
   * (`keepLast`, `maxAge`) and verifies (`verify`) when asked. Runs never overlap; when the
   * store's newest backup of `ks` is older than one interval (a run missed while the
   * process was down), the first run starts at once.
   * @returns The running schedule (stop, stats; 'backup', 'prune', 'verify', 'error' events).
   * @throws TypeError / RangeError for invalid arguments.
   */
  schedule(ks: Keyspace, options: ScheduleOptions): BackupSchedule {
    if (typeof ks !== 'object' || ks === null || typeof ks.backupTo !== 'function') throw new TypeError('ks must be an open Keyspace');
    const o = optionsObject<ScheduleOptions>(options, 'options', SCHEDULE_OPTIONS);
    if (o.every === undefined) throw new TypeError('options.every is required');
    const everyMs = parseDuration(o.every, 'options.every');
    if (everyMs < 10) throw new RangeError('options.every must be at least 10 ms');
    if (o.keepLast !== undefined && (!Number.isSafeInteger(o.keepLast) || o.keepLast < 1)) throw new RangeError('options.keepLast must be a positive integer');
    const maxAgeMs = o.maxAge === undefined ? undefined : parseDuration(o.maxAge, 'options.maxAge');
    if (o.verify !== undefined && typeof o.verify !== 'boolean' && o.verify !== 'full') throw new TypeError("options.verify must be a boolean or 'full'");
    return new BackupSchedule(
      ks,
      {
        backup: (k) => this.backup(k),
        prune: (p) => this.prune(p),
        verify: (id, full) => this.verify(id, { full }),
        newestBackupAt: async (keyspaceId) => {
          const own = (await this.list()).filter((b) => b.keyspaceId === keyspaceId);
          return own.length === 0 ? undefined : Math.max(...own.map((b) => Date.parse(b.createdAt)));
        },
        clock: this.#ctx.clock,
      },
      { everyMs, keepLast: o.keepLast, maxAgeMs, verify: o.verify ?? false },
    );
  }

  /** Closes the store when the engine opened it (BackupEngine.open); a store passed in stays open. Resolves when closed. */
  async close(): Promise<void> {
    if (this.#ownsStore) await this.store.close();
  }
}

function summary(m: BackupManifest): BackupSummary {
  return { id: m.id, createdAt: m.createdAt, seqno: m.seqno, label: m.label, keyspaceId: m.keyspaceId, partitions: m.partitions, files: m.totals.files, bytes: m.totals.bytes };
}

function checkCommon(o: { signal?: unknown; onProgress?: unknown; concurrency?: unknown }): void {
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new TypeError('options.onProgress must be a function');
}

function concurrency(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError('options.concurrency must be an integer');
  if (value < 1 || value > 256) throw new RangeError('options.concurrency must be between 1 and 256');
  return value;
}

function duration(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${name} must be a number of milliseconds`);
  if (value < min || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number >= ${min}`);
  return value;
}

