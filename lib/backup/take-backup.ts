// Taking a backup: an online checkpoint beside the keyspace (hard links, near-free),
// hashed file by file, the content the store lacks uploaded as soon as it is hashed
// (copied in the kernel when the store is local), and the manifest written
// LAST and exclusively, so a crash or abort at any step leaves no visible backup and a
// retry finds what was uploaded. The temporary checkpoint is always removed. One call
// per backup; concurrent backups (any process) are safe, a running prune excludes them.
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import type { FileSystem } from '../fs/file-system.js';
import { CairnError, ErrorCodes, throwIfAborted } from '../errors.js';
import type { Keyspace } from '../keyspace/keyspace.js';
import { readKeyspaceMeta } from '../layout/keyspace-meta.js';
import { backupStagingPrefix } from '../layout/file-names.js';
import { type EngineContext, claimStore, readAllManifests } from './catalog.js';
import { checkFor } from '../keyspace/content-check.js';
import { encodeFileOnWorker, transcode } from './object-job.js';
import type { StoreCodec } from './store-codec.js';
import { fileReadable } from './file-streams.js';
import { Lease, type LeaseInfo, liveLeases } from './lease.js';
import { type LocalCopyStore, localCopyStore } from './local-copy.js';
import { type BackupManifest, type ManifestFile, encodeJson, newBackupId } from './manifest.js';
import { forEachLimit } from './parallel.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { extFor, manifestKey, objectKey } from './store-layout.js';

/** Options of `engine.backup`. */
export interface BackupOptions {
  /** Free text stored in the manifest (e.g. 'nightly'). */
  label?: string;
  /** Files hashed and uploaded at once, 1–256. Default 4. */
  concurrency?: number;
  /** Aborts the backup (CAIRN_ABORTED); nothing becomes visible, uploads stay for a retry. */
  signal?: AbortSignal;
  /** Called synchronously as phases start and bytes move. */
  onProgress?: ProgressListener;
  /** Back up into a store whose store.json names another keyspace. */
  force?: boolean;
}

/** What `engine.backup` resolves with. */
export interface BackupResult {
  /** The new backup's id (for info, verify, restore). */
  id: string;
  /** The backup holds every write with a seqno up to this one, and no later one. */
  seqno: number;
  /** Files in the backup. */
  files: number;
  /** Content objects this backup uploaded (the rest were already in the store). */
  filesUploaded: number;
  bytesUploaded: number;
  /** Size of the keyspace as backed up. */
  bytesTotal: number;
  /**
   * Bytes the store holds for this backup: its distinct objects as stored (compressed,
   * framed; format 1: the files' own sizes). bytesStored / bytesTotal is the space ratio.
   */
  bytesStored: number;
  /** Wall time of the whole backup. */
  durationMs: number;
}

interface LocalFile extends ManifestFile {
  absolute: string;
}


export async function takeBackup(ctx: EngineContext, ks: Keyspace, options: Required<Pick<BackupOptions, 'concurrency' | 'force'>> & BackupOptions): Promise<BackupResult> {
  const { store, fs } = ctx;
  const { signal, concurrency } = options;
  const started = performance.now();
  const tracker = new ProgressTracker(options.onProgress);
  // The keyspace id never changes, so the live keyspace.json is as good as the checkpoint's.
  const meta = await readKeyspaceMeta(fs, ks.path);
  // Opening the store's codec checks the encryption key: a wrong one fails here, before
  // anything is written.
  const { codec } = await claimStore(ctx, meta.id, options.force);
  const previous = codec.format >= 2 ? await previousFiles(ctx, codec, meta.id, signal) : new Map<string, ManifestFile>();
  throwIfAborted(signal);

  const { lease, conflicts } = await Lease.acquire(store, 'backup', ctx.leaseTtlMs, ctx.clock);
  try {
    if (conflicts.length > 0) throw pruneRunning(store.url, conflicts);
    // Inside the keyspace directory: the same file system by construction (a keyspace
    // that is its own mount point still gets hard links, not a copy), and nothing is
    // written to its parent. The name carries the temp marker: debris of a crash here is
    // skipped by readers and deleted by the next open.
    const temp = `${backupStagingPrefix(ks.path)}${randomBytes(6).toString('hex')}`;
    try {
      tracker.phase('checkpoint', 0, 0);
      const checkpoint = await ks.backupTo(temp, {
        signal,
        onProgress: (p) => options.onProgress?.({ phase: 'checkpoint', filesDone: p.filesDone, filesTotal: p.filesTotal, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: 0 }),
      });
      const { files, directories } = await walk(fs, temp);
      const bytesTotal = files.reduce((n, f) => n + f.size, 0);

      let uploaded: { files: number; bytes: number };
      if (codec.format >= 2) {
        // Format 2: ONE read per file that hashes, checks, compresses and encrypts (a pool
        // thread); what the store lacks is then published from the encoded file.
        const encoded = new EncodedUploads(ctx, codec, tracker, previous, `${temp}.objects`);
        tracker.phase('hashing', files.length, bytesTotal);
        await forEachLimit(files, concurrency, signal, async (file, inner) => {
          await encoded.backUp(file, inner).catch((err: unknown) => damagedSource(err, file));
          tracker.fileDone();
        });
        uploaded = encoded.done;
        while (!lease.intact) {
          await renewOrStop(ctx, lease);
          await forEachLimit(files, concurrency, signal, (file, inner) => encoded.ensurePresent(file, inner));
        }
      } else {
        // One pipeline: each file is uploaded as soon as it is hashed, so hashing (the hash
        // threads) overlaps copying and fsyncing (the thread pool, the disk).
        const uploads = new Uploads(ctx, tracker);
        tracker.phase('hashing', files.length, bytesTotal);
        let hashed = 0;
        await forEachLimit(files, concurrency, signal, async (file, inner) => {
          const { sha256, size } = await ctx.hashFile(file.absolute, inner, (n) => tracker.bytes(n), checkFor(file.path)).catch((err: unknown) => damagedSource(err, file));
          file.sha256 = sha256;
          file.size = size;
          tracker.fileDone();
          const mine = uploads.claim(file);
          if (++hashed === files.length) uploads.report();
          if (mine) await uploads.upload(file, inner);
        });
        uploads.report();
        uploaded = uploads.done;
        // A lease others may have seen expire (a long stall, lost refreshes) no longer
        // protected what we found in the store: look again, under a renewed lease.
        while (!lease.intact) {
          await renewOrStop(ctx, lease);
          const again = await uploadMissing(ctx, files, concurrency, tracker, signal);
          uploaded.files += again.files;
          uploaded.bytes += again.bytes;
        }
      }
      // Objects copied in locally are complete but their names not yet durable: the
      // manifest may name only durable objects.
      await localCopyStore(store)?.syncCopiedIn();
      throwIfAborted(signal);

      tracker.phase('manifest', 1, 0);
      const createdAt = ctx.clock();
      const manifest: BackupManifest = {
        id: newBackupId(createdAt),
        format: codec.format,
        keyspaceId: meta.id,
        seqno: checkpoint.seqno,
        timeMs: checkpoint.timeMs > 0 ? checkpoint.timeMs : undefined,
        createdAt: new Date(createdAt).toISOString(),
        label: options.label,
        partitions: checkpoint.partitions,
        directories,
        files: files.map(({ path, sha256, size, stored }) => (stored === undefined ? { path, sha256, size } : { path, sha256, size, stored })),
        totals: { files: files.length, bytes: bytesTotal },
        cairnVersion: ctx.cairnVersion,
      };
      const key = manifestKey(manifest.id);
      await store.put(key, codec.encodeDocument(key, encodeJson(manifest)), { ifNoneMatch: true, signal });
      tracker.fileDone();
      tracker.phase('done', files.length, bytesTotal);
      return {
        id: manifest.id,
        seqno: manifest.seqno,
        files: files.length,
        filesUploaded: uploaded.files,
        bytesUploaded: uploaded.bytes,
        bytesTotal,
        bytesStored: storedBytes(manifest.files, codec),
        durationMs: performance.now() - started,
      };
    } finally {
      await fs.removeTree(temp).catch(() => undefined);
      await fs.removeTree(`${temp}.objects`).catch(() => undefined);
    }
  } finally {
    await lease.release().catch(() => undefined);
  }
}

/**
 * A checksum of the keyspace's own file failed while it was read for the backup: the
 * backup fails naming the file (keyspace-relative), since it would restore the damage.
 */
function damagedSource(err: unknown, file: LocalFile): never {
  if (!(err instanceof CairnError) || err.code !== ErrorCodes.CORRUPTION) throw err;
  const offset = (err.details as { offset?: number } | undefined)?.offset;
  throw new CairnError(ErrorCodes.CORRUPTION, `The keyspace file ${file.path} is damaged (${err.message}); a backup of it would restore the damage: nothing was published`, {
    cause: err,
    details: { path: file.path, offset, source: 'keyspace' },
  });
}

/** The stored bytes of the distinct objects the files name. */
function storedBytes(files: readonly ManifestFile[], codec: StoreCodec): number {
  const sizes = new Map<string, number>();
  for (const f of files) sizes.set(codec.contentKey(f), f.stored ?? f.size);
  return [...sizes.values()].reduce((a, b) => a + b, 0);
}

/** After the lease lapsed: renew it, and stop if it is lost or a prune started meanwhile. */
async function renewOrStop(ctx: EngineContext, lease: Lease): Promise<void> {
  await lease.renew();
  if (!lease.live) throw new CairnError(ErrorCodes.STORE_IN_USE, `Could not keep the backup lease on ${ctx.store.url}`, { details: { reason: 'lease', key: lease.key } });
  const late = await liveLeases(ctx.store, 'prune', ctx.clock, ctx.leaseTtlMs);
  if (late.length > 0) throw pruneRunning(ctx.store.url, late);
}

/** path → file of the newest readable backup of this keyspace in the store (format 2), for the unchanged-file shortcut. */
async function previousFiles(ctx: EngineContext, codec: StoreCodec, keyspaceId: string, signal: AbortSignal | undefined): Promise<Map<string, ManifestFile>> {
  const { manifests } = await readAllManifests(ctx.store, codec, signal);
  const last = manifests.filter((m) => m.keyspaceId === keyspaceId).at(-1);
  return new Map((last?.files ?? []).map((f) => [f.path, f]));
}

/**
 * The content objects of one format-2 backup. A file the previous backup holds at the same
 * path and size is only hashed (and checked) on a pool thread: segments are immutable, so
 * it is almost always the same content, already stored. Any other file is encoded in one
 * pass on a pool thread into a staged file (beside its object in a local store; inside
 * the keyspace directory otherwise) and published when the store lacks it. Identical
 * content is published once.
 */
class EncodedUploads {
  readonly done = { files: 0, bytes: 0 };
  readonly #ctx: EngineContext;
  readonly #codec: StoreCodec;
  readonly #tracker: ProgressTracker;
  readonly #previous: Map<string, ManifestFile>;
  readonly #scratch: string;
  readonly #local: LocalCopyStore | undefined;
  /** Object key → the file that provides it. */
  readonly #claimed = new Map<string, LocalFile>();
  #scratchReady: Promise<void> | undefined;
  #staged = 0;

  constructor(ctx: EngineContext, codec: StoreCodec, tracker: ProgressTracker, previous: Map<string, ManifestFile>, scratch: string) {
    this.#ctx = ctx;
    this.#codec = codec;
    this.#tracker = tracker;
    this.#previous = previous;
    this.#scratch = scratch;
    this.#local = localCopyStore(ctx.store);
  }

  async backUp(file: LocalFile, signal: AbortSignal): Promise<void> {
    const onBytes = (n: number) => this.#tracker.bytes(n);
    const before = this.#previous.get(file.path);
    if (before?.stored !== undefined && before.size === file.size) {
      const { sha256 } = await this.#ctx.hashFile(file.absolute, signal, onBytes, checkFor(file.path));
      if (sha256 === before.sha256) {
        file.sha256 = sha256;
        file.stored = before.stored;
        const key = this.#codec.contentKey(file);
        if (!this.#claim(key, file)) return;
        const head = await this.#ctx.store.head(key);
        if (head !== undefined && head.size === before.stored) return;
      }
    }
    await this.#encodeAndPublish(file, signal, onBytes);
  }

  /** After a lapsed lease: the object of each file this backup claimed must still be there; encode and publish it again if not. */
  async ensurePresent(file: LocalFile, signal: AbortSignal): Promise<void> {
    const key = this.#codec.contentKey(file);
    if (this.#claimed.get(key) !== file) return;
    const head = await this.#ctx.store.head(key);
    if (head === undefined || head.size !== file.stored) await this.#encodeAndPublish(file, signal, undefined);
  }

  #claim(key: string, file: LocalFile): boolean {
    const owner = this.#claimed.get(key);
    if (owner !== undefined && owner !== file) return false;
    this.#claimed.set(key, file);
    return true;
  }

  async #encodeAndPublish(file: LocalFile, signal: AbortSignal, onBytes: ((n: number) => void) | undefined): Promise<void> {
    const { fs, store } = this.#ctx;
    const ext = extFor(file.path);
    const staged = this.#local !== undefined ? await this.#local.stagingPath(objectKey('0'.repeat(64), ext)) : await this.#scratchPath();
    try {
      const codec = { compression: this.#codec.compression, keys: this.#codec.keys, check: checkFor(file.path) };
      const summary = this.#ctx.injected
        ? await transcode(fs, { op: 'encode', path: file.absolute, dest: staged, ...codec }, signal, onBytes)
        : await encodeFileOnWorker(file.absolute, staged, codec, { signal, onBytes });
      file.sha256 = summary.sha256;
      file.size = summary.size;
      file.stored = summary.storedSize;
      const key = this.#codec.contentKey(file);
      if (!this.#claim(key, file)) return;
      const head = await store.head(key);
      if (head !== undefined && head.size === summary.storedSize) return;
      if (this.#local !== undefined) {
        await this.#local.adoptStaged(staged, key);
      } else {
        const stream = fileReadable(fs, staged, summary.storedSize);
        try {
          await store.put(key, { stream, size: summary.storedSize }, { signal });
        } finally {
          stream.destroy();
        }
      }
      this.done.files++;
      this.done.bytes += summary.storedSize;
    } finally {
      await fs.unlink(staged).catch(() => undefined);
    }
  }

  async #scratchPath(): Promise<string> {
    this.#scratchReady ??= this.#ctx.fs.mkdir(this.#scratch, { recursive: true }).then(() => undefined);
    await this.#scratchReady;
    return nodePath.join(this.#scratch, `${this.#staged++}.obj`);
  }
}

/**
 * Heads every distinct content object again and uploads those missing (or of the wrong
 * size). Identical files (the same hash) are uploaded once.
 */
async function uploadMissing(ctx: EngineContext, files: readonly LocalFile[], concurrency: number, tracker: ProgressTracker, signal: AbortSignal | undefined): Promise<{ files: number; bytes: number }> {
  const uploads = new Uploads(ctx, tracker);
  const owners = files.filter((f) => uploads.claim(f));
  uploads.report();
  await forEachLimit(owners, concurrency, signal, (file, inner) => uploads.upload(file, inner));
  return uploads.done;
}

/**
 * The distinct content objects of one upload pass: each is headed once and uploaded
 * unless the store holds it with the right size (and checksum, where the store reports
 * one); a damaged object is replaced (the put is an atomic replace). Counts what it uploaded; reports 'uploading' progress once
 * `report()` has been called (before that the pass runs behind the hashing phase).
 */
class Uploads {
  readonly done = { files: 0, bytes: 0 };
  readonly #ctx: EngineContext;
  readonly #copier: LocalCopyStore | undefined;
  readonly #tracker: ProgressTracker;
  /** Object key → the file claimed to provide it, in claim order. */
  readonly #claimed = new Map<string, LocalFile>();
  /** Objects finished (found or uploaded) and their bytes, including streamed bytes of objects in flight. */
  readonly #progress = { files: 0, bytes: 0 };
  #reporting = false;

  constructor(ctx: EngineContext, tracker: ProgressTracker) {
    this.#ctx = ctx;
    this.#copier = localCopyStore(ctx.store);
    this.#tracker = tracker;
  }

  /** Claims the file's object; false when another file with the same content claimed it. */
  claim(file: LocalFile): boolean {
    const key = objectKey(file.sha256, extFor(file.path));
    if (this.#claimed.has(key)) return false;
    this.#claimed.set(key, file);
    return true;
  }

  /** Switches the tracker to 'uploading' over every object claimed so far, with what is already done. */
  report(): void {
    if (this.#reporting) return;
    this.#reporting = true;
    const objects = [...this.#claimed.values()];
    this.#tracker.phase('uploading', objects.length, objects.reduce((n, f) => n + f.size, 0), this.#progress);
  }

  /** Heads and, when needed, uploads the object of a file this pass claimed. */
  async upload(file: LocalFile, signal: AbortSignal): Promise<void> {
    const key = objectKey(file.sha256, extFor(file.path));
    const { store } = this.#ctx;
    const existing = await store.head(key);
    // A store that returns the stored bytes' SHA-256 for free (S3's ChecksumMode) lets a
    // damaged object be replaced here; elsewhere only the size can be seen, and a full
    // verify (which quarantines damage) is what makes the next backup upload it again.
    if (existing === undefined || existing.size !== file.size || (existing.sha256 !== undefined && existing.sha256 !== file.sha256)) {
      if (this.#copier !== undefined) {
        await this.#copier.copyIn(file.absolute, key, file.size, { signal });
        this.#bytes(file.size);
      } else {
        const stream = fileReadable(this.#ctx.fs, file.absolute, file.size, (n) => this.#bytes(n));
        try {
          await store.put(key, { stream, size: file.size }, { signal, sha256: file.sha256 });
        } finally {
          stream.destroy();
        }
      }
      this.done.files++;
      this.done.bytes += file.size;
    } else {
      this.#bytes(file.size);
    }
    this.#progress.files++;
    if (this.#reporting) this.#tracker.fileDone();
  }

  #bytes(n: number): void {
    this.#progress.bytes += n;
    if (this.#reporting) this.#tracker.bytes(n);
  }
}

/** Every file and directory under the checkpoint, '/'-separated relative paths, sorted. */
async function walk(fs: FileSystem, root: string): Promise<{ files: LocalFile[]; directories: string[] }> {
  const files: LocalFile[] = [];
  const directories: string[] = [];
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const name of await fs.readdir(dir)) {
      const absolute = nodePath.join(dir, name);
      const path = rel === '' ? name : `${rel}/${name}`;
      const stat = await fs.stat(absolute);
      if (stat.isDirectory) {
        directories.push(path);
        await visit(absolute, path);
      } else if (stat.isFile) {
        files.push({ path, absolute, sha256: '', size: stat.size });
      }
    }
  };
  await visit(root, '');
  return { files, directories };
}

function pruneRunning(url: string, leases: LeaseInfo[]): CairnError {
  return new CairnError(ErrorCodes.STORE_IN_USE, `A prune is running on ${url}; retry the backup once it ends`, {
    details: { reason: 'prune', leases },
  });
}
