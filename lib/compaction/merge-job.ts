// The compaction merge as a worker-pool job. On the worker thread, `run` is runMerge with
// that thread's default FileSystem; on the main thread, mergeOnWorker validates the job,
// keeps its AbortSignal on this side (a signal cannot cross threads) and revives the keys.
import { defaultFileSystem } from '../fs/index.js';
import type { SegmentDescriptor } from '../tree/manifest.js';
import { type JobContext, type WorkerPool, jobKind, sharedWorkerPool } from '../workers/worker-pool.js';
import { revivedBuffer } from '../workers/worker-protocol.js';
import { type MergeJob, runMerge, validateMergeJob } from './run-merge.js';

type MergePayload = Omit<MergeJob, 'signal'>;

const MERGE = jobKind<MergePayload, SegmentDescriptor[]>(import.meta.url);

/** Worker side. */
export function run(payload: MergePayload, context: JobContext): Promise<SegmentDescriptor[]> {
  return runMerge(defaultFileSystem(), { ...payload, signal: context.signal });
}

/**
 * runMerge(defaultFileSystem(), job) on a pool thread (the process's shared pool unless
 * one is given): the same outputs, result and error codes as in-process. Argument errors
 * are thrown here, before anything crosses threads.
 */
export async function mergeOnWorker(job: MergeJob, pool: WorkerPool = sharedWorkerPool()): Promise<SegmentDescriptor[]> {
  validateMergeJob(job);
  const { signal, ...payload } = job;
  const merged = await pool.run(MERGE, payload, { signal });
  // Structured clone turns the descriptors' Buffers into plain Uint8Arrays.
  return merged.map((d) => ({ ...d, minKey: revivedBuffer(d.minKey), maxKey: revivedBuffer(d.maxKey) }));
}
