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
import { type EngineContext, claimStore } from './catalog.js';
import { fileReadable } from './file-streams.js';
import { Lease, type LeaseInfo, liveLeases } from './lease.js';
import { type LocalCopyStore, localCopyStore } from './local-copy.js';
import { BACKUP_FORMAT, type BackupManifest, type ManifestFile, encodeJson, newBackupId } from './manifest.js';
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
  await claimStore(ctx, meta.id, options.force);
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

      // One pipeline: each file is uploaded as soon as it is hashed, so hashing (the hash
      // threads) overlaps copying and fsyncing (the thread pool, the disk).
      const uploads = new Uploads(ctx, tracker);
      tracker.phase('hashing', files.length, bytesTotal);
      let hashed = 0;
      await forEachLimit(files, concurrency, signal, async (file, inner) => {
        const { sha256, size } = await ctx.hashFile(file.absolute, inner, (n) => tracker.bytes(n));
        file.sha256 = sha256;
        file.size = size;
        tracker.fileDone();
        const mine = uploads.claim(file);
        if (++hashed === files.length) uploads.report();
        if (mine) await uploads.upload(file, inner);
      });
      uploads.report();
      const uploaded = uploads.done;
      // A lease others may have seen expire (a long stall, lost refreshes) no longer
      // protected what we found in the store: look again, under a renewed lease.
      while (!lease.intact) {
        await lease.renew();
        if (!lease.live) throw new CairnError(ErrorCodes.STORE_IN_USE, `Could not keep the backup lease on ${store.url}`, { details: { reason: 'lease', key: lease.key } });
        const late = await liveLeases(store, 'prune', ctx.clock, ctx.leaseTtlMs);
        if (late.length > 0) throw pruneRunning(store.url, late);
        const again = await uploadMissing(ctx, files, concurrency, tracker, signal);
        uploaded.files += again.files;
        uploaded.bytes += again.bytes;
      }
      // Objects copied in locally are complete but their names not yet durable: the
      // manifest may name only durable objects.
      await localCopyStore(store)?.syncCopiedIn();
      throwIfAborted(signal);

      tracker.phase('manifest', 1, 0);
      const createdAt = ctx.clock();
      const manifest: BackupManifest = {
        id: newBackupId(createdAt),
        format: BACKUP_FORMAT,
        keyspaceId: meta.id,
        seqno: checkpoint.seqno,
        timeMs: checkpoint.timeMs > 0 ? checkpoint.timeMs : undefined,
        createdAt: new Date(createdAt).toISOString(),
        label: options.label,
        partitions: checkpoint.partitions,
        directories,
        files: files.map(({ path, sha256, size }) => ({ path, sha256, size })),
        totals: { files: files.length, bytes: bytesTotal },
        cairnVersion: ctx.cairnVersion,
      };
      await store.put(manifestKey(manifest.id), encodeJson(manifest), { ifNoneMatch: true, signal });
      tracker.fileDone();
      tracker.phase('done', files.length, bytesTotal);
      return {
        id: manifest.id,
        seqno: manifest.seqno,
        files: files.length,
        filesUploaded: uploaded.files,
        bytesUploaded: uploaded.bytes,
        bytesTotal,
        durationMs: performance.now() - started,
      };
    } finally {
      await fs.removeTree(temp).catch(() => undefined);
    }
  } finally {
    await lease.release().catch(() => undefined);
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
