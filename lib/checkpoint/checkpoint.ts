// The online checkpoint behind ks.backupTo(dest), the whole protocol in one place and in
// order: validate, cut, link and write, publish, unpin (docs/checkpoints.md). The keyspace
// supplies only the cut (lib/keyspace/cut.ts); everything here runs outside its write
// path. One call per checkpoint; concurrent calls are independent (pins are counted).
import * as path from 'node:path';
import type { FileSystem, PathPair } from '../fs/file-system.js';
import { destinationExists, linkOrCopyBatch, mkdirDurable, publishDirectory, tempPathFor } from '../fs/durable.js';
import { throwIfAborted } from '../errors.js';
import { encodeCurrent, encodeManifest, type VersionState } from '../tree/manifest.js';
import { encodeKeyspaceMeta } from '../layout/keyspace-meta.js';
import type { CheckpointCut, CheckpointOptions, CheckpointProgress, CheckpointResult, CheckpointSource } from '../keyspace/checkpoint-source.js';
import {
  currentPath,
  journalDir,
  journalPath,
  keyspaceFilePath,
  manifestPath,
  partitionDir,
  partitionsDir,
  segmentFileName,
  segmentsDir,
} from '../layout/file-names.js';

export type { CheckpointOptions, CheckpointProgress, CheckpointResult } from '../keyspace/checkpoint-source.js';

/**
 * Takes an online checkpoint of `source` into `dest` (arguments already validated by
 * ks.backupTo). `dest` either never appears or holds a whole, durable checkpoint that
 * opens with Keyspace.open(); on any failure nothing is left behind and the source keyspace
 * stays fully usable.
 */
export async function backupTo(source: CheckpointSource, dest: string, options: CheckpointOptions): Promise<CheckpointResult> {
  const startedAt = performance.now();
  const { fs } = source;

  // 1. Validate. A keyspace that refuses writes (closed, poisoned) is not checkpointed:
  // its journal may be unusable for the cut. `dest` must not exist; checked here for an
  // early, clear EEXIST, and again by the rename that publishes, since it may appear
  // meanwhile. Missing parents are made, durably: a checkpoint is only as durable as the
  // names leading to it.
  source.checkWritable();
  throwIfAborted(options.signal);
  const target = path.resolve(dest);
  if ((await fs.statOrUndefined(target)) !== undefined) throw destinationExists(target, 'backupTo');
  await mkdirDurable(fs, path.dirname(target));
  source.checkWritable();

  // 2. The cut. Writers are held only for a journal switch and the pinning of each
  // partition's version (microseconds); readers never wait. From here every file the
  // checkpoint names is pinned: flushes, compactions and journal GC go on, but cannot
  // delete it. A partition is not deleted while the checkpoint runs, either.
  const endHold = source.holdPartitions();
  try {
    const cut = await source.cut();
    try {
      return await build(fs, cut, source.root, target, options, startedAt);
    } finally {
      // 5. Unpin, whatever happened: the checkpoint has its own links (or copies) by now,
      // or it failed and left nothing.
      cut.release();
    }
  } finally {
    endHold();
  }
}

/**
 * 3 and 4: builds the checkpoint in a staging directory beside `target` (same file
 * system, so the final rename is atomic) and publishes it. On failure staging (or the
 * published checkpoint, if only the end failed) is removed; the caller unpins.
 */
async function build(fs: FileSystem, cut: CheckpointCut, sourceRoot: string, target: string, options: CheckpointOptions, startedAt: number): Promise<CheckpointResult> {
  const { signal, onProgress } = options;
  const staging = tempPathFor(target);
  const result: CheckpointResult = {
    path: target,
    seqno: cut.seqno,
    timeMs: cut.timeMs,
    partitions: cut.partitions.map((p) => p.name),
    filesLinked: 0,
    filesCopied: 0,
    bytesLinked: 0,
    bytesCopied: 0,
    writePauseMicros: cut.writePauseMicros,
    durationMs: 0,
  };
  let published = false;
  // Link or copy? Asked first, so the answer comes back while the skeleton is made.
  const sameDevice = fs.sameDevice(sourceRoot, path.dirname(target));
  sameDevice.catch(() => undefined);
  try {
    // 3a. The skeleton of a keyspace directory, one depth at a time (each depth's mkdirs
    // are issued together). Nothing in staging is synced one by one: one batch of
    // directory fsyncs at the end covers every entry made here.
    const depths = [
      [staging],
      [journalDir(staging), partitionsDir(staging)],
      cut.partitions.map((p) => partitionDir(staging, p.name)),
      cut.partitions.map((p) => segmentsDir(partitionDir(staging, p.name))),
    ];
    for (const depth of depths) await Promise.all(depth.map((dir) => fs.mkdir(dir)));
    const dirs = depths.flat();
    throwIfAborted(signal);

    // 3b. The immutable files: every segment of the pinned versions, and the sealed
    // journals holding writes those segments lack. Sizes come from the manifest and the
    // journal tracker. Paths are joined by hand from each partition's two directories:
    // path.join per file cost ~5 µs, which at 10,000 segments was a third of the whole
    // checkpoint.
    const files: { pair: PathPair; bytes: number }[] = [];
    for (const p of cut.partitions) {
      const from = segmentsDir(p.root) + path.sep;
      const to = segmentsDir(partitionDir(staging, p.name)) + path.sep;
      for (const level of p.state.levels) {
        for (const s of level) {
          const name = segmentFileName(s.fileNumber);
          files.push({ pair: [from + name, to + name], bytes: s.fileSize });
        }
      }
    }
    for (const j of cut.journals) files.push({ pair: [j.path, journalPath(staging, j.fileNumber)], bytes: j.bytes });
    const bytesTotal = files.reduce((n, f) => n + f.bytes, 0);
    const progress = (phase: CheckpointProgress['phase'], filesDone: number, bytesDone: number) =>
      onProgress?.({ phase, filesDone, filesTotal: files.length, bytesDone, bytesTotal });

    // 3c. Two independent lanes run together: linking (or copying) the immutable files,
    // and writing plus fsyncing the fresh metadata. Each lane issues its calls in a fixed
    // order, so the protocol's trace stays deterministic. Both are awaited to the end even
    // when one fails, so cleanup never races a call still in flight.
    // Meanwhile the journal sealed at the cut finishes its last write and fdatasync
    // (started at the cut, off the write path). A link is only a second name for the same
    // inode, so it may be made first: what must wait for the seal is publishing. A copy
    // reads the file, so copying waits for the seal (its last write may still be queued).
    const copyAll = !(await sameDevice);
    if (copyAll) await cut.journalDurable;
    throwIfAborted(signal);
    progress(copyAll ? 'copying' : 'linking', 0, 0);
    const lanes = await Promise.allSettled([transferFiles(fs, files, copyAll, result), writeMetadata(fs, cut, staging), cut.journalDurable]);
    for (const lane of lanes) if (lane.status === 'rejected') throw lane.reason;
    progress('writing', files.length, bytesTotal);
    throwIfAborted(signal);

    // 4. Publish: durability before visibility. Every staging directory is fsynced
    // (innermost first; that makes the links, copies and new names durable), staging is
    // renamed onto `target` without replacing anything that appeared there meanwhile, and
    // the parent is fsynced so the new name survives a crash.
    progress('syncing', files.length, bytesTotal);
    await publishDirectory(fs, staging, target, { dirs: dirs.slice().reverse(), syscall: 'backupTo', signal });
    published = true;
    result.durationMs = performance.now() - startedAt;
    progress('done', files.length, bytesTotal);
    return result;
  } catch (err) {
    // A rejected call leaves nothing behind: not even a published checkpoint whose final
    // progress callback failed.
    await fs.removeTree(published ? target : staging).catch(() => undefined);
    throw err;
  }
}

/**
 * Segments and sealed journals are immutable, so a hard link is a complete, private copy
 * for as long as it exists: the source may delete its name (a compaction, journal GC)
 * without touching ours. Across file systems (or when the kernel says EXDEV anyway, e.g.
 * across bind mounts) they are copied instead.
 */
async function transferFiles(fs: FileSystem, files: { pair: PathPair; bytes: number }[], copyAll: boolean, result: CheckpointResult): Promise<void> {
  const how = await linkOrCopyBatch(fs, files.map((f) => f.pair), !copyAll);
  if (how.linked) {
    result.filesLinked = files.length;
    result.bytesLinked = files.reduce((n, f) => n + f.bytes, 0);
  } else {
    result.filesCopied = files.length;
    result.bytesCopied = how.bytesCopied;
  }
}

/**
 * Fresh metadata describing exactly the pinned versions: a manifest and CURRENT per
 * partition, not the source's (which may name segments made after the cut), and
 * keyspace.json with the registry as of the cut (same keyspace id). All written, then all
 * fsynced. Nothing here is visible until staging is renamed.
 */
async function writeMetadata(fs: FileSystem, cut: CheckpointCut, staging: string): Promise<void> {
  const files: [string, Uint8Array | string][] = [];
  for (const p of cut.partitions) {
    const root = partitionDir(staging, p.name);
    const manifestNumber = p.state.nextFileNumber;
    const state: VersionState = { ...p.state, nextFileNumber: manifestNumber + 1 };
    const bytes = encodeManifest(state);
    files.push([manifestPath(root, manifestNumber), bytes], [currentPath(root), encodeCurrent(manifestNumber, bytes)]);
  }
  files.push([keyspaceFilePath(staging), encodeKeyspaceMeta(cut.meta)]);
  await Promise.all(files.map(([file, data]) => fs.writeFile(file, data, { exclusive: true })));
  await fs.syncBatch(files.map(([file]) => file));
}
