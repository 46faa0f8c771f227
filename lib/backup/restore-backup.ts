// Restoring a backup into a directory: every file into a staging directory beside the
// target (streamed, or from a local store's files on the hash threads), each SHA-256 and
// size checked as it is written; fsync files and directories, rename the staging
// directory into place. The target stays as it was or holds the whole keyspace. One call per restore.
// Before a byte is written, every object is looked up (a head-only verify): a backup with a
// missing or truncated object is refused up front, naming every such file, instead of
// after most of it has been downloaded.
import * as nodePath from 'node:path';
import { CairnError, ErrorCodes, hasCode, throwIfAborted } from '../errors.js';
import { TEMP_MARKER, mkdirDurable, publishDirectory, tempPathFor } from '../fs/durable.js';
import type { FileSystem } from '../fs/file-system.js';
import { readKeyspaceMeta, writeKeyspaceMeta } from '../layout/keyspace-meta.js';
import type { EngineContext } from './catalog.js';
import { writeStreamToFile } from './file-streams.js';
import { localCopyStore } from './local-copy.js';
import type { BackupManifest } from './manifest.js';
import { forEachLimit } from './parallel.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { objectNotFound } from './store-errors.js';
import { decodeFileOnWorker, transcode } from './object-job.js';
import type { StoreCodec } from './store-codec.js';
import { verifyBackup, type VerifyProblem } from './verify-backup.js';

/** Options of `engine.restore`. */
export interface RestoreOptions {
  /**
   * Restore only these partitions: only their files (plus keyspace.json and the journals)
   * are fetched, and the result opens with only these partitions. A name the backup does
   * not hold is CAIRN_NOT_FOUND before anything is fetched.
   */
  partitions?: string[];
  /** Files downloaded at once, 1–256. Default 4. */
  concurrency?: number;
  /** Aborts the restore (CAIRN_ABORTED); the target is left as it was. */
  signal?: AbortSignal;
  /** Called synchronously as phases start and bytes move. */
  onProgress?: ProgressListener;
  /**
   * Point-in-time restore (docs/shipping.md §5): the state after every batch whose last
   * seqno is at most this, from the newest backup at or below it plus the shipped journal.
   */
  toSeqno?: number;
  /** Point-in-time restore to a moment (inclusive): every batch committed at or before it. */
  toTime?: Date | string | number;
  /** With toSeqno or toTime: only plan (backup, objects, bytes, exact seqno and time); write nothing. */
  dryRun?: boolean;
}

/** What `engine.restore` resolves with. */
export interface RestoreResult {
  /** The backup restored. */
  id: string;
  /** The restored keyspace directory (absolute). */
  path: string;
  /** The restored keyspace holds every write up to this seqno. */
  seqno: number;
  /** Files written and their total size. */
  files: number;
  bytes: number;
  durationMs: number;
  /** The partitions restored (all of the backup's, or those asked for). */
  partitions: string[];
}

export async function restoreBackup(ctx: EngineContext, codec: StoreCodec, whole: BackupManifest, dir: string, options: Required<Pick<RestoreOptions, 'concurrency'>> & RestoreOptions): Promise<RestoreResult> {
  const { fs, store } = ctx;
  const { signal } = options;
  const started = performance.now();
  // A partial restore fetches only the chosen partitions' files (and keyspace.json and the
  // journals, whose records of other partitions recovery skips): unknown names are
  // CAIRN_NOT_FOUND before anything is fetched.
  const manifest = options.partitions === undefined ? whole : selectPartitions(whole, options.partitions);
  const target = nodePath.resolve(dir);
  await checkTargetEmpty(ctx, target);
  throwIfAborted(signal);
  const check = await verifyBackup(ctx, codec, manifest, { full: false, quarantine: false, concurrency: Math.max(8, options.concurrency), signal, onProgress: options.onProgress });
  if (!check.ok) throw incompleteBackup(manifest.id, check.problems);
  throwIfAborted(signal);
  await mkdirDurable(fs, nodePath.dirname(target));
  const staging = tempPathFor(target);
  const tracker = new ProgressTracker(options.onProgress);
  let published = false;
  try {
    // Directories first: the manifest lists them parents first, and names every parent of
    // every file; the extra mkdir of a file's parent covers hand-written manifests.
    const dirs = [staging, ...manifest.directories.map((d) => nodePath.join(staging, ...d.split('/')))];
    for (const f of manifest.files) dirs.push(nodePath.dirname(nodePath.join(staging, ...f.path.split('/'))));
    const unique = [...new Set(dirs)];
    await fs.mkdir(staging);
    for (const d of unique.slice(1)) await fs.mkdir(d, { recursive: true });
    throwIfAborted(signal);

    tracker.phase('downloading', manifest.files.length, manifest.totals.bytes);
    const local = ctx.copyHashed === undefined ? undefined : localCopyStore(store);
    await forEachLimit(manifest.files, options.concurrency, signal, async (file, inner) => {
      const key = codec.contentKey(file);
      const path = nodePath.join(staging, ...file.path.split('/'));
      const onBytes = (n: number) => tracker.bytes(n);
      let written: { sha256: string; size: number };
      if (codec.format >= 2) {
        written = await restoreEncoded(ctx, codec, key, file.sha256, path, inner, onBytes).catch((err: unknown) => {
          if (hasCode(err, ErrorCodes.CORRUPTION)) {
            throw new CairnError(ErrorCodes.CORRUPTION, `Backup ${manifest.id}: ${file.path} (${key}) is damaged: ${(err as Error).message}`, {
              cause: err,
              details: { id: manifest.id, path: file.path, key },
            });
          }
          throw err;
        });
      } else if (local !== undefined && ctx.copyHashed !== undefined) {
        // Read from the object's file on a hash thread, each chunk hashed as it is written:
        // one pass, and the check covers exactly the bytes restored.
        try {
          written = await ctx.copyHashed(local.objectPath(key), path, inner, onBytes);
        } catch (err) {
          if (hasCode(err, 'ENOENT') && (await store.head(key)) === undefined) throw objectNotFound(key, err);
          throw err;
        }
      } else {
        const source = await store.get(key, { signal: inner });
        written = await writeStreamToFile(fs, source, path, inner, onBytes);
      }
      if (written.sha256 !== file.sha256 || written.size !== file.size) {
        throw new CairnError(ErrorCodes.CORRUPTION, `Backup ${manifest.id}: ${file.path} (${key}) does not match its checksum`, {
          details: { id: manifest.id, path: file.path, key, expected: { sha256: file.sha256, size: file.size }, actual: written },
        });
      }
      tracker.fileDone();
    });

    // The restored keyspace.json names only the chosen partitions: it opens with those alone.
    if (options.partitions !== undefined) await keepOnlyPartitions(fs, staging, options.partitions);

    // Durability before the rename publishes the tree: every file in one batch (the
    // kernel writes them back together, as `sync` after `cp` does; an fsync per file as it
    // finished left the copying threads idle on the disk), then the directories, innermost first.
    tracker.phase('syncing', manifest.files.length + unique.length, 0);
    await fs.syncBatch(manifest.files.map((f) => nodePath.join(staging, ...f.path.split('/'))));
    await checkTargetEmpty(ctx, target);
    // The target may be an empty directory, which the rename replaces; one someone filled
    // meanwhile is EEXIST.
    await publishDirectory(fs, staging, target, { dirs: [...unique].sort((a, b) => b.length - a.length), syscall: 'restore', replaceEmptyDirectory: true, signal });
    published = true;
    tracker.phase('done', manifest.files.length, manifest.totals.bytes);
    const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
    return { id: manifest.id, path: target, seqno: manifest.seqno, files: manifest.files.length, bytes, durationMs: performance.now() - started, partitions: manifest.partitions };
  } catch (err) {
    if (!published) await fs.removeTree(staging).catch(() => undefined);
    throw err;
  }
}

/** The part of a backup that holds `partitions`: their files, keyspace.json and the journals. */
function selectPartitions(manifest: BackupManifest, partitions: readonly string[]): BackupManifest {
  const unknown = partitions.filter((p) => !manifest.partitions.includes(p));
  if (unknown.length > 0) {
    throw new CairnError(ErrorCodes.NOT_FOUND, `Backup ${manifest.id} has no partition ${unknown.join(', ')} (it has: ${manifest.partitions.join(', ') || 'none'})`, {
      details: { id: manifest.id, partitions: unknown },
    });
  }
  const chosen = new Set(partitions);
  const keep = (path: string): boolean => {
    const parts = path.split('/');
    return parts[0] !== 'partitions' || parts.length === 1 || chosen.has(parts[1]!);
  };
  const files = manifest.files.filter((f) => keep(f.path));
  return {
    ...manifest,
    partitions: manifest.partitions.filter((p) => chosen.has(p)),
    directories: manifest.directories.filter(keep),
    files,
    totals: { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) },
  };
}

/** Rewrites the staged keyspace.json so that its registry names only `partitions`. */
async function keepOnlyPartitions(fs: FileSystem, staging: string, partitions: readonly string[]): Promise<void> {
  const meta = await readKeyspaceMeta(fs, staging);
  meta.partitions = Object.fromEntries(Object.entries(meta.partitions).filter(([name]) => partitions.includes(name)));
  await writeKeyspaceMeta(fs, staging, meta);
}

/**
 * One format-2 object into the plaintext file `path`, decoded and checked in one pass.
 * A local store's object file is read by a pool thread directly; a remote object is first
 * downloaded beside `path` (I/O only), then decoded from there by a pool thread.
 */
async function restoreEncoded(
  ctx: EngineContext,
  codec: StoreCodec,
  key: string,
  sha256: string,
  path: string,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<{ sha256: string; size: number }> {
  const local = localCopyStore(ctx.store);
  const decodeFrom = async (source: string): Promise<{ sha256: string; size: number }> => {
    const payload = { op: 'decode' as const, path: source, dest: path, keys: codec.keys, sha256 };
    const summary = ctx.injected ? await transcode(ctx.fs, payload, signal, onBytes) : await decodeFileOnWorker(source, path, payload, { signal, onBytes });
    return { sha256: summary.sha256, size: summary.size };
  };
  if (local !== undefined) {
    try {
      return await decodeFrom(local.objectPath(key));
    } catch (err) {
      if (hasCode(err, 'ENOENT') && (await ctx.store.head(key)) === undefined) throw objectNotFound(key, err);
      throw err;
    }
  }
  const download = `${path}${TEMP_MARKER}object`;
  try {
    await writeStreamToFile(ctx.fs, await ctx.store.get(key, { signal }), download, signal);
    return await decodeFrom(download);
  } finally {
    await ctx.fs.unlink(download).catch(() => undefined);
  }
}

/**
 * The pre-flight's verdict: CAIRN_NOT_FOUND when any object is missing, else
 * CAIRN_CORRUPTION (an object of the wrong size); `details.problems` lists them all.
 */
function incompleteBackup(id: string, problems: VerifyProblem[]): CairnError {
  const missing = problems.filter((p) => p.kind === 'missing');
  const first = missing[0] ?? problems[0]!;
  const what = missing.length > 0 ? `${missing.length} missing object(s)` : `${problems.length} object(s) of the wrong size`;
  return new CairnError(missing.length > 0 ? ErrorCodes.NOT_FOUND : ErrorCodes.CORRUPTION, `Backup ${id} cannot be restored: ${what}, first ${first.path} (${first.key})`, {
    details: { id, path: first.path, key: first.key, problems },
  });
}

async function checkTargetEmpty(ctx: EngineContext, target: string): Promise<void> {
  const stat = await ctx.fs.statOrUndefined(target);
  if (stat === undefined) return;
  if (!stat.isDirectory || (await ctx.fs.readdir(target)).length > 0) {
    throw new CairnError(ErrorCodes.NOT_EMPTY, `The restore target ${target} exists and is not an empty directory`, { details: { path: target } });
  }
}
