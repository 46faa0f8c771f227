// Writing a checkpoint: given what the keyspace pinned at its cut (a plan), build the
// checkpoint directory beside the destination and rename it into place. Runs entirely
// outside the keyspace's write path; the plan's pins keep every source file alive until
// release. One call per checkpoint; concurrent calls are independent.
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import type { FileSystem, PathPair } from '../fs/file-system.js';
import { syncParent } from '../fs/durable.js';
import { hasCode, throwIfAborted } from '../errors.js';
import { encodeCurrent, encodeManifest, type VersionState } from '../tree/manifest.js';
import type { KeyspaceMeta } from '../keyspace/keyspace-meta.js';
import {
  TEMP_MARKER,
  currentPath,
  journalDir,
  journalPath,
  keyspaceFilePath,
  manifestPath,
  partitionDir,
  partitionsDir,
  segmentFileName,
  segmentsDir,
} from '../keyspace/file-names.js';

/** What the keyspace captured at the cut. Everything named here is pinned until release(). */
export interface CheckpointPlan {
  sourceRoot: string;
  /** Every write with seqno <= this is in the checkpoint, and no other. */
  seqno: number;
  /** The registry as of the cut (keyspace id, partitions and their ids). */
  meta: KeyspaceMeta;
  partitions: { name: string; root: string; state: VersionState }[];
  /** Sealed journal files holding writes the pinned segments lack, oldest first. */
  journals: { fileNumber: number; path: string; bytes: number }[];
  /** Resolves once the journal sealed at the cut is durable (its fdatasync runs off the write path). */
  journalDurable: Promise<void>;
  writePauseMicros: number;
  release(): void;
}

/** Where a checkpoint stands; handed to `onProgress` as each phase starts. */
export interface CheckpointProgress {
  phase: 'linking' | 'copying' | 'writing' | 'syncing' | 'done';
  /** Files of the checkpoint linked or copied so far, of `filesTotal`. */
  filesDone: number;
  filesTotal: number;
  /** Bytes of those files, of `bytesTotal`. */
  bytesDone: number;
  bytesTotal: number;
}

/** Options of `keyspace.backupTo`. */
export interface CheckpointOptions {
  /** Aborts the checkpoint: it rejects with CAIRN_ABORTED and leaves nothing at the destination. */
  signal?: AbortSignal;
  /** Called synchronously as each phase starts; if it throws, the checkpoint fails and is removed. */
  onProgress?: (progress: CheckpointProgress) => void;
}

/** What backupTo resolves with. */
export interface CheckpointResult {
  /** The checkpoint directory (absolute). */
  path: string;
  /** The checkpoint holds every write with a seqno up to this one, and no later one. */
  seqno: number;
  /** The partitions it holds, as of the cut. */
  partitions: string[];
  /** Files hard-linked, and copied (all of them when the destination is on another file system). */
  filesLinked: number;
  filesCopied: number;
  /** Bytes of the linked files (no space used now), and bytes copied. */
  bytesLinked: number;
  bytesCopied: number;
  /** How long writers were held at the cut. */
  writePauseMicros: number;
  durationMs: number;
}

/**
 * Builds `dest` from the plan. `dest` must not exist (the caller checked and created its
 * parent). Staging happens in `<dest>.tmp-<id>`, renamed into place only when complete
 * and durable, so `dest` either does not exist or holds a whole checkpoint. On any
 * failure the staging directory is removed. The caller releases the plan's pins.
 */
export async function writeCheckpoint(fs: FileSystem, plan: CheckpointPlan, dest: string, options: CheckpointOptions, startedAt: number): Promise<CheckpointResult> {
  const { signal, onProgress } = options;
  const staging = `${dest}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
  const result: CheckpointResult = {
    path: dest,
    seqno: plan.seqno,
    partitions: plan.partitions.map((p) => p.name),
    filesLinked: 0,
    filesCopied: 0,
    bytesLinked: 0,
    bytesCopied: 0,
    writePauseMicros: plan.writePauseMicros,
    durationMs: 0,
  };
  let published = false;
  // Link or copy? Asked first, so the answer comes back while the skeleton is made.
  const sameDevice = fs.sameDevice(plan.sourceRoot, path.dirname(dest));
  sameDevice.catch(() => undefined);
  try {
    // The skeleton of a keyspace directory, one depth at a time (each depth's mkdirs are
    // issued together). Nothing in staging is synced one by one: one batch of directory
    // fsyncs at the end covers every entry made here.
    const depths = [
      [staging],
      [journalDir(staging), partitionsDir(staging)],
      plan.partitions.map((p) => partitionDir(staging, p.name)),
      plan.partitions.map((p) => segmentsDir(partitionDir(staging, p.name))),
    ];
    for (const depth of depths) await Promise.all(depth.map((dir) => fs.mkdir(dir)));
    const dirs = depths.flat();
    throwIfAborted(signal);

    // Segments and sealed journals are immutable, so a hard link is a complete, private
    // copy for as long as it exists: the source may delete its name (a compaction, journal
    // GC) without touching ours. Sizes come from the manifest and the journal tracker.
    // Paths are joined by hand from each partition's two directories: path.join per file
    // cost ~5 µs, which at 10,000 segments was a third of the whole checkpoint.
    const files: { pair: PathPair; bytes: number }[] = [];
    for (const p of plan.partitions) {
      const from = segmentsDir(p.root) + path.sep;
      const to = segmentsDir(partitionDir(staging, p.name)) + path.sep;
      for (const level of p.state.levels) {
        for (const s of level) {
          const name = segmentFileName(s.fileNumber);
          files.push({ pair: [from + name, to + name], bytes: s.fileSize });
        }
      }
    }
    for (const j of plan.journals) files.push({ pair: [j.path, journalPath(staging, j.fileNumber)], bytes: j.bytes });
    const bytesTotal = files.reduce((n, f) => n + f.bytes, 0);
    const progress = (phase: CheckpointProgress['phase'], filesDone: number, bytesDone: number) =>
      onProgress?.({ phase, filesDone, filesTotal: files.length, bytesDone, bytesTotal });

    // Two independent lanes run together: linking (or copying) the immutable files, and
    // writing plus fsyncing the fresh metadata. Each lane issues its calls in a fixed
    // order, so the protocol's trace stays deterministic. Both lanes are awaited to the
    // end even when one fails, so cleanup never races a call still in flight.
    // Meanwhile the journal sealed at the cut finishes its last write and fdatasync
    // (started at the cut, off the write path). A link is only a second name for the same
    // inode, so it may be made first: what must wait for the seal is publishing. A copy
    // reads the file, so copying waits for the seal (its last write may still be queued).
    const copyAll = !(await sameDevice);
    if (copyAll) await plan.journalDurable;
    throwIfAborted(signal);
    progress(copyAll ? 'copying' : 'linking', 0, 0);
    const lanes = await Promise.allSettled([transferFiles(fs, files, copyAll, result), writeMetadata(fs, plan, staging), plan.journalDurable]);
    for (const lane of lanes) if (lane.status === 'rejected') throw lane.reason;
    progress('writing', files.length, bytesTotal);
    throwIfAborted(signal);

    // Durability before visibility: every written file, then every directory (which makes
    // the links, copies and new names durable), then the rename, then the parent.
    progress('syncing', files.length, bytesTotal);
    await fs.syncDirs(dirs.slice().reverse());
    throwIfAborted(signal);
    await publishStaging(fs, staging, dest, 'backupTo');
    published = true;
    await syncParent(fs, dest);
    result.durationMs = performance.now() - startedAt;
    progress('done', files.length, bytesTotal);
    return result;
  } catch (err) {
    // A rejected call leaves nothing behind: not even a renamed checkpoint whose parent
    // fsync (or the caller's final progress callback) failed.
    await fs.removeTree(published ? dest : staging).catch(() => undefined);
    throw err;
  }
}

/**
 * Link when source and destination share a file system; otherwise (or if the kernel
 * still says EXDEV, e.g. across bind mounts) copy: clone, copy_file_range, read/write.
 * Segments and sealed journals are immutable, so a hard link is a complete, private copy
 * for as long as it exists: the source may delete its name (a compaction, journal GC)
 * without touching ours.
 */
async function transferFiles(fs: FileSystem, files: { pair: PathPair; bytes: number }[], copyAll: boolean, result: CheckpointResult): Promise<void> {
  let copy = copyAll;
  if (!copy) {
    try {
      await fs.linkBatch(files.map((f) => f.pair));
      result.filesLinked = files.length;
      result.bytesLinked = files.reduce((n, f) => n + f.bytes, 0);
    } catch (err) {
      if (!hasCode(err, 'EXDEV')) throw err;
      copy = true;
      // Links made before the EXDEV are replaced by copies: start the file list afresh.
      for (const f of files) await fs.unlink(f.pair[1]).catch(() => undefined);
    }
  }
  if (copy) {
    const copied = await fs.copyBatch(files.map((f) => f.pair));
    result.filesCopied = files.length;
    result.bytesCopied = copied.bytes;
  }
}

/**
 * Fresh metadata describing exactly the pinned versions: a manifest and CURRENT per
 * partition and keyspace.json with the registry as of the cut (same keyspace id), all
 * written, then all fsynced. Nothing here is visible until staging is renamed.
 */
async function writeMetadata(fs: FileSystem, plan: CheckpointPlan, staging: string): Promise<void> {
  const files: [string, Uint8Array | string][] = [];
  for (const p of plan.partitions) {
    const root = partitionDir(staging, p.name);
    const manifestNumber = p.state.nextFileNumber;
    const state: VersionState = { ...p.state, nextFileNumber: manifestNumber + 1 };
    const bytes = encodeManifest(state);
    files.push([manifestPath(root, manifestNumber), bytes], [currentPath(root), encodeCurrent(manifestNumber, bytes)]);
  }
  files.push([keyspaceFilePath(staging), `${JSON.stringify(plan.meta, null, 2)}\n`]);
  await Promise.all(files.map(([file, data]) => fs.writeFile(file, data, { exclusive: true })));
  await fs.syncBatch(files.map(([file]) => file));
}

/**
 * Renames a complete, durable staging directory onto `dest`. Not a plain rename(2), which
 * would silently replace an empty directory made at `dest` meanwhile: anything there (a
 * concurrent checkpoint that won, too) rejects with the EEXIST of `operation`.
 */
export async function publishStaging(fs: FileSystem, staging: string, dest: string, operation: 'backupTo' | 'snapshot'): Promise<void> {
  try {
    await fs.renameNoReplace(staging, dest);
  } catch (err) {
    // EEXIST from renameat2; ENOTEMPTY / ENOTDIR from the lstat-then-rename fallback.
    if (hasCode(err, 'EEXIST') || hasCode(err, 'ENOTEMPTY') || hasCode(err, 'ENOTDIR')) throw destinationExists(dest, operation);
    throw err;
  }
}

/** The Node-shaped EEXIST of a destination that exists (or appeared while staging). */
export function destinationExists(dest: string, operation: 'backupTo' | 'snapshot' = 'backupTo'): Error {
  return Object.assign(new Error(`EEXIST: file already exists, ${operation} '${dest}'`), { code: 'EEXIST', errno: -constants.errno.EEXIST, syscall: operation, path: dest });
}

