// The offline checkpoint behind `cairn snapshot`: holds the keyspace's LOCK (so no process
// has it open), reads what the files on disk describe, and builds the same kind of
// directory as the online backupTo. One call per snapshot; the LOCK serialises it against
// every opener, this process included.
import * as path from 'node:path';
import type { CopyRequest, FileSystem, LockHandle, PathPair } from '../fs/file-system.js';
import { destinationExists, linkOrCopyBatch, mkdirDurable, publishDirectory, tempPathFor } from '../fs/durable.js';
import { CairnError, ErrorCodes, throwIfAborted } from '../errors.js';
import { readCurrentManifest } from '../tree/manifest.js';
import { readKeyspaceMeta } from '../layout/keyspace-meta.js';
import { readJournal } from '../journal/journal-reader.js';
import { listJournalFiles } from '../journal/journal-files.js';
import {
  currentPath,
  journalDir,
  keyspaceFilePath,
  lockPath,
  manifestPath,
  partitionDir,
  partitionsDir,
  segmentPath,
  segmentsDir,
} from '../layout/file-names.js';
import type { CheckpointProgress, CheckpointResult } from './checkpoint.js';

export interface OfflineSnapshotOptions {
  signal?: AbortSignal;
  onProgress?: (progress: CheckpointProgress) => void;
}

/**
 * What `cairn snapshot --json` prints: backupTo's result without a write pause (nothing
 * writes). `seqno` is the highest seqno in the snapshot, in its journals or persisted in
 * its manifests. Metadata files and the newest journal always count as copied.
 */
export type OfflineSnapshotResult = Omit<CheckpointResult, 'writePauseMicros'>;

/** A source file to bring over; `limit` copies only a prefix. */
interface SourceFile {
  from: string;
  bytes: number;
  limit?: number;
}

interface Plan {
  seqno: number;
  /** Commit time of the newest record of the newest journal (0 when it holds none, or is format 1). */
  timeMs: number;
  partitions: string[];
  /** Immutable files: hard-linked when possible. */
  immutable: SourceFile[];
  /** Files a later open of the source may change or replace: always copied. */
  mutable: SourceFile[];
}

/**
 * Snapshots the closed keyspace `source` into `dest`, which must not exist. Rejects
 * CAIRN_LOCKED when the keyspace is open anywhere, CAIRN_NOT_A_KEYSPACE when `source` is
 * not one, EEXIST when `dest` exists. On failure neither `dest` nor the staging directory
 * remains, and the source is untouched (only its LOCK file is created if it was missing).
 */
export async function snapshotKeyspace(fs: FileSystem, source: string, dest: string, options: OfflineSnapshotOptions = {}): Promise<OfflineSnapshotResult> {
  if (typeof source !== 'string' || source.length === 0) throw new TypeError('source must be a non-empty string');
  if (typeof dest !== 'string' || dest.length === 0) throw new TypeError('dest must be a non-empty string');
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { signal, onProgress } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new TypeError('options.onProgress must be a function');
  const root = path.resolve(source);
  const target = path.resolve(dest);
  if (isWithin(target, root)) throw new RangeError(`dest ${target} lies inside the keyspace ${root}`);
  const startedAt = performance.now();
  throwIfAborted(signal);

  // Check before locking: fs.lock creates the LOCK file, and a directory that is not a
  // keyspace must not gain one.
  const dirStat = await fs.statOrUndefined(root);
  if (dirStat === undefined || !dirStat.isDirectory || (await fs.statOrUndefined(keyspaceFilePath(root))) === undefined) {
    throw new CairnError(ErrorCodes.NOT_A_KEYSPACE, `${root} is not a cairn keyspace (no ${path.basename(keyspaceFilePath(root))})`, { details: { path: root } });
  }
  if ((await fs.statOrUndefined(target)) !== undefined) throw destinationExists(target, 'snapshot');

  const lock: LockHandle = await fs.lock(lockPath(root));
  try {
    const plan = await planSnapshot(fs, root, signal);
    await mkdirDurable(fs, path.dirname(target));
    throwIfAborted(signal);
    const result = await build(fs, root, target, plan, { signal, onProgress });
    result.durationMs = performance.now() - startedAt;
    return result;
  } finally {
    // An unlock failure cannot undo a finished snapshot, and the OS drops the lock when
    // the process exits at the latest: the snapshot's own outcome is what is reported.
    await lock.unlock().catch(() => undefined);
  }
}

/**
 * Decides what goes in, from what the source's metadata names (so debris stays out: temp
 * files, segments no live manifest names, old manifests, unregistered partitions, LOCK).
 */
async function planSnapshot(fs: FileSystem, root: string, signal: AbortSignal | undefined): Promise<Plan> {
  const meta = await readKeyspaceMeta(fs, root);
  const names = Object.keys(meta.partitions).sort();
  const immutable: Plan['immutable'] = [];
  const mutable: Plan['mutable'] = [];
  let seqno = 0;
  let timeMs = 0;
  for (const name of names) {
    const dir = partitionDir(root, name);
    const { manifestNumber, state } = await readCurrentManifest(fs, dir);
    seqno = Math.max(seqno, state.persistedSeqno);
    for (const s of state.levels.flat()) immutable.push({ from: segmentPath(dir, s.fileNumber), bytes: s.fileSize });
    for (const from of [manifestPath(dir, manifestNumber), currentPath(dir)]) mutable.push({ from, bytes: (await fs.stat(from)).size });
    throwIfAborted(signal);
  }
  mutable.push({ from: keyspaceFilePath(root), bytes: (await fs.stat(keyspaceFilePath(root))).size });

  // Spares (trailing files of only a header) stay out: recovery would delete them anyway.
  const journals = (await listJournalFiles(fs, root)).files;
  // The newest journal holding data is copied, and only its valid prefix: the next open of
  // the source truncates a torn tail in place, which would change a hard-linked file
  // under the snapshot. Older journals are sealed, never written again: linked.
  const newest = journals.pop();
  if (newest !== undefined) {
    const reading = readJournal(fs, newest.path, { isLast: true, fileNumber: newest.fileNumber });
    for await (const record of reading.records) {
      seqno = Math.max(seqno, record.seqno + record.ops.length - 1);
      timeMs = Math.max(timeMs, record.timeMs ?? 0);
    }
    const end = await reading.end;
    if (end.lastSeqno === undefined) seqno = Math.max(seqno, await lastSeqnoOf(fs, journals));
    mutable.push({ from: newest.path, bytes: end.validBytes, limit: end.validBytes });
  }
  for (const j of journals) immutable.push({ from: j.path, bytes: j.bytes });
  return { seqno, timeMs, partitions: names, immutable, mutable };
}

/** The last seqno in the newest of `sealed` that holds a record (0 when none does). */
async function lastSeqnoOf(fs: FileSystem, sealed: { fileNumber: number; path: string }[]): Promise<number> {
  for (let i = sealed.length - 1; i >= 0; i--) {
    const reading = readJournal(fs, sealed[i].path, { isLast: false, fileNumber: sealed[i].fileNumber });
    for await (const _record of reading.records) {
      // Read to the end: `end` carries the range.
    }
    const end = await reading.end;
    if (end.lastSeqno !== undefined) return end.lastSeqno;
  }
  return 0;
}

/** Stages the plan beside `target`, makes it durable, renames it into place. */
async function build(fs: FileSystem, root: string, target: string, plan: Plan, options: OfflineSnapshotOptions): Promise<OfflineSnapshotResult> {
  const { signal, onProgress } = options;
  const staging = tempPathFor(target);
  const dirs = [staging, journalDir(staging), partitionsDir(staging)];
  for (const name of plan.partitions) dirs.push(partitionDir(staging, name), segmentsDir(partitionDir(staging, name)));
  const into = (f: SourceFile): PathPair => [f.from, path.join(staging, path.relative(root, f.from))];
  const result: OfflineSnapshotResult = {
    path: target,
    seqno: plan.seqno,
    timeMs: plan.timeMs,
    partitions: plan.partitions,
    filesLinked: 0,
    filesCopied: 0,
    bytesLinked: 0,
    bytesCopied: 0,
    durationMs: 0,
  };
  const filesTotal = plan.immutable.length + plan.mutable.length;
  const bytesTotal = [...plan.immutable, ...plan.mutable].reduce((n, f) => n + f.bytes, 0);
  const progress = (phase: CheckpointProgress['phase'], filesDone: number, bytesDone: number) =>
    onProgress?.({ phase, filesDone, filesTotal, bytesDone, bytesTotal });
  let published = false;
  try {
    for (const dir of dirs) await fs.mkdir(dir);
    throwIfAborted(signal);

    // As in backupTo: link on one file system, copy across.
    const link = await fs.sameDevice(root, path.dirname(target));
    if (link && plan.immutable.length > 0) progress('linking', 0, 0);
    const immutable = await linkOrCopyBatch(fs, plan.immutable.map(into), link);
    const immutableBytes = plan.immutable.reduce((n, f) => n + f.bytes, 0);
    if (immutable.linked) {
      result.filesLinked = plan.immutable.length;
      result.bytesLinked = immutableBytes;
    } else {
      result.filesCopied = plan.immutable.length;
      result.bytesCopied = immutable.bytesCopied;
    }
    throwIfAborted(signal);
    // Files a later open of the source may change are always copied (a prefix where
    // `limit` says so); copyBatch fsyncs every copy before it resolves (the seam's contract).
    progress('copying', result.filesLinked, result.bytesLinked);
    const copies: CopyRequest[] = plan.mutable.map((f) => (f.limit === undefined ? into(f) : [...into(f), f.limit]));
    const copied = await fs.copyBatch(copies);
    result.filesCopied += plan.mutable.length;
    result.bytesCopied += copied.bytes;
    throwIfAborted(signal);

    progress('syncing', filesTotal, bytesTotal);
    await publishDirectory(fs, staging, target, { dirs: dirs.slice().reverse(), syscall: 'snapshot', signal });
    published = true;
    progress('done', filesTotal, bytesTotal);
    return result;
  } catch (err) {
    // A failed snapshot leaves nothing behind, even when only the final progress callback failed.
    await fs.removeTree(published ? target : staging).catch(() => undefined);
    throw err;
  }
}

function isWithin(candidate: string, dir: string): boolean {
  const rel = path.relative(dir, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

