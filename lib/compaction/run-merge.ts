// The compaction executor: merges input segments into new ones (newest version of each
// key only, tombstones optionally dropped, split by size). Pure I/O and CPU with no tree
// knowledge; one call owns its outputs, so calls may run concurrently (in-process or on a
// worker thread, see merge-job.ts) as long as their output file numbers differ.
import * as path from 'node:path';
import { EntryKind, MAX_SEQNO, type Entry } from '../codec/entry.js';
import { RangeTombstones, keySuccessor } from '../codec/range-tombstones.js';
import { throwIfAborted } from '../errors.js';
import type { FileSystem } from '../fs/file-system.js';
import { segmentFileName } from '../layout/file-names.js';
import { BlockCache } from '../segment/block-cache.js';
import { SegmentReader } from '../segment/segment-reader.js';
import { writeSegment, type WriteSegmentOptions } from '../segment/segment-writer.js';
import type { SegmentDescriptor } from '../tree/manifest.js';
import { type EntryCursor, MergingCursor } from '../tree/merge.js';

/** Rough encoded bytes of an entry beyond its key and value (varints, seqno, kind, slot). */
const ENTRY_OVERHEAD = 16;

export interface MergeJob {
  /** Input segments, newest first (mergeOrder(choice)); rank breaks ties only between equal versions. */
  inputs: readonly { path: string }[];
  /** Where outputs are created, named by segmentFileName(fileNumber); synced once at the end. */
  outputDir: string;
  /**
   * Pre-allocated output file numbers, used in order. When they run out the last output
   * takes the rest of the data past targetFileBytes: a merge never fails for want of a
   * number. estimateOutputCount() sizes the list.
   */
  fileNumbers: readonly number[];
  /** An output is closed at the first entry boundary after about this many bytes. */
  targetFileBytes: number;
  /** Drop tombstones (and the versions they shadow): only when nothing older lies below the output level. */
  dropTombstones: boolean;
  blockSize?: number;
  bloomBitsPerKey?: number;
  /** Checked between blocks; an abort removes every output and rejects with CAIRN_ABORTED. */
  signal?: AbortSignal;
}

/** How many file numbers to pre-allocate for a merge of `inputBytes` (one spare: split points fall after the target). */
export function estimateOutputCount(inputBytes: number, targetFileBytes: number): number {
  return Math.max(1, Math.ceil(inputBytes / targetFileBytes)) + 1;
}

/**
 * Merges `job.inputs` into new segments in `job.outputDir` and resolves with their
 * descriptors in key order (empty when nothing survives). Each output is fsynced by
 * writeSegment and the directory once at the end. On any failure every output this call
 * wrote is unlinked before the error (the file system's own, or a CairnError) is rethrown.
 *
 * Only the newest version of each key is kept. That is safe because cairn never reads an
 * older version of a key from a newer tree version: a snapshot or iterator holds the
 * version it started with, and that version's segments stay alive (reference-counted)
 * until it is released, so whatever these outputs replace remains readable to them.
 * Every reader of the new version reads at a seqno >= everything in the segments.
 */
export async function runMerge(fs: FileSystem, job: MergeJob): Promise<SegmentDescriptor[]> {
  validateMergeJob(job);
  throwIfAborted(job.signal);
  const options: WriteSegmentOptions = { blockSize: job.blockSize, bloomBitsPerKey: job.bloomBitsPerKey, signal: job.signal };
  // A private, zero-capacity cache: every block is read once, and nothing of the merge
  // should push the keyspace's hot blocks out of a shared cache.
  const cache = new BlockCache(0);
  const readers: SegmentReader[] = [];
  const written: string[] = [];
  const outputs: SegmentDescriptor[] = [];
  try {
    for (let i = 0; i < job.inputs.length; i++) readers.push(await SegmentReader.open(fs, job.inputs[i].path, { fileNumber: i, cache }));
    const merged = new MergingCursor(readers.map((r) => r.cursor({ fillCache: false })), false);
    // Range tombstones of the inputs: they drop the versions they cover, and unless this
    // merge is into the bottom, they go on (clipped to each output's keys, so outputs of
    // one level stay disjoint) to cover older data in the levels below.
    let tombstones: RangeTombstones | undefined;
    for (const reader of readers) {
      if (reader.rangeTombstones === undefined) continue;
      tombstones ??= new RangeTombstones();
      tombstones.addVisible(reader.rangeTombstones, MAX_SEQNO);
    }
    const survivors = new Survivors(merged, job.dropTombstones, tombstones);
    const kept = job.dropTombstones ? undefined : tombstones;
    // Output i holds the tombstones' part over [from, past its last key), the last one the rest.
    let from: Buffer | null = null;
    const outputTombstones = (): RangeTombstones | undefined => {
      if (kept === undefined) return undefined;
      const last = survivors.lastTaken;
      const to = survivors.peek() === undefined || last === undefined ? null : keySuccessor(last);
      const part = kept.clipped(from, to);
      from = to;
      return part;
    };
    while (survivors.peek() !== undefined || (outputs.length === 0 && kept !== undefined)) {
      const index = outputs.length;
      const isLast = index === job.fileNumbers.length - 1;
      const fileNumber = job.fileNumbers[index];
      const file = path.join(job.outputDir, segmentFileName(fileNumber));
      // writeSegment removes its own partial file, and an EEXIST must not remove a file
      // that is not ours: a path is recorded only once its file is complete.
      const meta = await writeSegment(fs, file, survivors.take(isLast ? Infinity : job.targetFileBytes), { ...options, rangeTombstones: outputTombstones });
      written.push(file);
      outputs.push({ fileNumber, ...meta });
    }
    if (outputs.length > 0) await fs.syncDir(job.outputDir);
    return outputs;
  } catch (err) {
    for (const file of written) await fs.unlink(file).catch(() => undefined);
    throw err;
  } finally {
    for (const reader of readers) await reader.close().catch(() => undefined);
  }
}

/** The merged stream reduced to what a merge writes, with one entry of lookahead. */
class Survivors {
  private pending: Entry | undefined;
  private lastKey: Buffer | undefined;
  /** The key of the last entry take() yielded. */
  lastTaken: Buffer | undefined;

  constructor(
    private readonly source: EntryCursor,
    private readonly dropTombstones: boolean,
    private readonly rangeTombstones: RangeTombstones | undefined,
  ) {}

  peek(): Entry | undefined {
    if (this.pending === undefined) this.pending = this.pull();
    return this.pending;
  }

  /**
   * The next entries up to about `limitBytes`. Every survivor is a distinct key, so any
   * entry boundary is a key boundary: no key's versions straddle two outputs.
   */
  *take(limitBytes: number): Iterable<Entry> {
    let bytes = 0;
    while (bytes < limitBytes) {
      const e = this.peek();
      if (e === undefined) return;
      this.pending = undefined;
      bytes += e.key.length + e.value.length + ENTRY_OVERHEAD;
      this.lastTaken = e.key;
      yield e;
    }
  }

  private pull(): Entry | undefined {
    for (;;) {
      const e = this.source.next();
      if (e === undefined) return undefined;
      if (this.lastKey !== undefined && this.lastKey.equals(e.key)) continue;
      // Set before the tombstone check: a dropped tombstone still hides the older versions.
      this.lastKey = e.key;
      if (this.dropTombstones && e.kind === EntryKind.Delete) continue;
      // Under a newer range delete: hidden from every reader of the outputs (older readers keep the inputs).
      if (this.rangeTombstones !== undefined && this.rangeTombstones.coveringSeqno(e.key, MAX_SEQNO) > e.seqno) continue;
      return e;
    }
  }
}

/** Argument checks of runMerge (TypeError / RangeError), also run by mergeOnWorker before a job crosses threads. */
export function validateMergeJob(job: MergeJob): void {
  if (typeof job !== 'object' || job === null) throw new TypeError('job must be an object');
  if (!Array.isArray(job.inputs) || job.inputs.length === 0) throw new TypeError('job.inputs must be a non-empty array');
  for (const input of job.inputs) {
    if (typeof input?.path !== 'string' || input.path.length === 0) throw new TypeError('every job input needs a non-empty path');
  }
  if (typeof job.outputDir !== 'string' || job.outputDir.length === 0) throw new TypeError('job.outputDir must be a non-empty string');
  if (!Array.isArray(job.fileNumbers) || job.fileNumbers.length === 0) throw new TypeError('job.fileNumbers must be a non-empty array');
  for (const n of job.fileNumbers) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`file numbers must be non-negative integers, got ${n}`);
  }
  if (new Set(job.fileNumbers).size !== job.fileNumbers.length) throw new RangeError('job.fileNumbers must be distinct');
  if (!Number.isSafeInteger(job.targetFileBytes) || job.targetFileBytes < 1) {
    throw new RangeError(`job.targetFileBytes must be a positive integer, got ${job.targetFileBytes}`);
  }
  if (typeof job.dropTombstones !== 'boolean') throw new TypeError('job.dropTombstones must be a boolean');
}
