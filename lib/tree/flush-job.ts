// The flush of a frozen memtable as a worker-pool job. The main thread packs the newest
// version of each key into one buffer (in slices, yielding between them) and transfers it;
// the worker writes and syncs the segment and answers with its metadata. `run` is the
// worker side; runFlush is the same work through any FileSystem (in-process with an
// injected one, which a worker cannot share).
import { defaultFileSystem } from '../fs/index.js';
import type { FileSystem } from '../fs/file-system.js';
import type { Memtable } from '../memtable/memtable.js';
import { RangeTombstones } from '../codec/range-tombstones.js';
import { EntryPacker, PACKED_HEADER_BYTES, type PackedEntries, unpackEntries } from '../memtable/packed-entries.js';
import type { SegmentMeta } from '../segment/properties.js';
import { writeSegment } from '../segment/segment-writer.js';
import { type JobContext, type WorkerPool, jobKind, sharedWorkerPool } from '../workers/worker-pool.js';
import { revivedBuffer } from '../workers/worker-protocol.js';

export interface FlushJob {
  /** The new segment's path (created exclusively). */
  path: string;
  /** Its directory, synced once the file is. */
  dir: string;
  entries: PackedEntries;
  /** The memtable's range tombstones, bounded and encoded (RangeTombstones.encode), when it has any. */
  rangeTombstones?: Uint8Array;
  blockSize: number;
  bloomBitsPerKey: number;
}

const FLUSH = jobKind<FlushJob, SegmentMeta>(import.meta.url);

/** Entries packed between looks at the clock. */
const ENTRIES_PER_CLOCK_CHECK = 256;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Packs the newest version of each key of a frozen memtable (what a flush writes: older
 * versions are shadowed for every reader of the version the flush installs), giving the
 * event loop a turn after every `sliceMs` of copying.
 */
export async function packForFlush(memtable: Memtable, sliceMs: number): Promise<PackedEntries> {
  const packer = new EntryPacker(memtable.dataBytes + memtable.keyCount * PACKED_HEADER_BYTES);
  let sinceCheck = 0;
  let sliceStart = performance.now();
  for (const entry of memtable.newestEntries()) {
    packer.add(entry);
    if (++sinceCheck === ENTRIES_PER_CLOCK_CHECK) {
      sinceCheck = 0;
      if (performance.now() - sliceStart >= sliceMs) {
        await turn();
        sliceStart = performance.now();
      }
    }
  }
  return packer.finish();
}

/**
 * Writes the packed entries as a segment at `job.path`, fsyncs it and its directory, and
 * resolves with its metadata. On any failure nothing is left: writeSegment removes a
 * partial file, and a file whose directory sync failed is removed too (no manifest names
 * it, and the failed fsync is reported: it poisons the keyspace).
 */
export async function runFlush(fs: FileSystem, job: FlushJob): Promise<SegmentMeta> {
  const rangeTombstones = job.rangeTombstones === undefined ? undefined : RangeTombstones.decode(job.rangeTombstones);
  const meta = await writeSegment(fs, job.path, unpackEntries(job.entries), { blockSize: job.blockSize, bloomBitsPerKey: job.bloomBitsPerKey, rangeTombstones });
  try {
    await fs.syncDir(job.dir);
  } catch (err) {
    await fs.unlink(job.path).catch(() => undefined);
    throw err;
  }
  return meta;
}

/** Worker side. */
export function run(payload: FlushJob, _context: JobContext): Promise<SegmentMeta> {
  return runFlush(defaultFileSystem(), payload);
}

/**
 * runFlush(defaultFileSystem(), job) on a pool thread, ahead of queued compactions
 * ('urgent': writers may be waiting for the memtable's room). The packed buffer is
 * transferred: `job.entries` is unusable here afterwards.
 */
export async function flushOnWorker(job: FlushJob, pool: WorkerPool = sharedWorkerPool()): Promise<SegmentMeta> {
  const meta = await pool.run(FLUSH, job, { transfer: [job.entries.buffer], priority: 'urgent' });
  // Structured clone turns the metadata's Buffers into plain Uint8Arrays.
  return { ...meta, minKey: revivedBuffer(meta.minKey), maxKey: revivedBuffer(meta.maxKey) };
}
