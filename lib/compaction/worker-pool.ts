// A small pool of worker threads that run merges and flushes off the main thread, one job
// per worker at a time, queued in submission order. Main-thread only. Idle workers are
// unref'd, so an open pool never keeps the process alive; close() waits for running jobs.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Entry } from '../codec/entry.js';
import { abortError, CairnError, ErrorCodes } from '../errors.js';
import type { SegmentMeta } from '../segment/properties.js';
import type { WriteSegmentOptions } from '../segment/segment-writer.js';
import type { SegmentDescriptor } from '../tree/manifest.js';
import { packEntries } from './packed-entries.js';
import { type MergeJob, newestVersions, validateMergeJob } from './run-merge.js';
import { type WorkerRequest, type WorkerResponse, deserializeError, reviveMeta } from './worker-protocol.js';

export interface WorkerPoolOptions {
  /** Worker threads, started on demand (default: 2, or 1 on a single-core machine). */
  size?: number;
}

type JobRequest = Exclude<WorkerRequest, { type: 'abort' }>;

interface Job {
  request: JobRequest;
  transfer: ArrayBuffer[];
  signal: AbortSignal | undefined;
  resolve(response: WorkerResponse & { ok: true }): void;
  reject(err: unknown): void;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/**
 * The worker's module beside this one: compiled .js under dist/, or the .ts source when
 * this module itself runs from source through a TypeScript loader (tests). The worker
 * inherits process.execArgv, which carries that loader's --import.
 */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './compaction-worker.ts' : './compaction-worker.js', import.meta.url);

export class CompactionWorkerPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(options: WorkerPoolOptions = {}) {
    const size = options.size ?? Math.min(2, availableParallelism());
    if (!Number.isSafeInteger(size) || size < 1 || size > 16) throw new RangeError(`size must be an integer in [1, 16], got ${size}`);
    this.size = size;
  }

  /** Runs runMerge(defaultFileSystem(), job) in a worker; same result and error codes as in-process. */
  async merge(job: MergeJob): Promise<SegmentDescriptor[]> {
    validateMergeJob(job);
    const { signal, ...cloneable } = job;
    const response = await this.submit({ type: 'merge', id: this.nextId++, job: cloneable }, [], signal);
    if (!('merged' in response)) throw new Error('worker answered a merge with another result');
    return response.merged.map(reviveMeta);
  }

  /**
   * Runs runFlush in a worker: the newest version of each key of `entries` (sorted as
   * compareEntries) is packed on this thread into one transferred buffer (a copy of the
   * bytes, far cheaper than the block encoding, checksums and bloom filter it offloads).
   */
  async flush(entries: Iterable<Entry>, file: string, options: WriteSegmentOptions = {}): Promise<SegmentMeta> {
    if (typeof file !== 'string' || file.length === 0) throw new TypeError('file must be a non-empty string');
    const { signal, ...cloneable } = options;
    const packed = packEntries(newestVersions(entries));
    const response = await this.submit({ type: 'flush', id: this.nextId++, packed, file, options: cloneable }, [packed], signal);
    if (!('flushed' in response)) throw new Error('worker answered a flush with another result');
    return reviveMeta(response.flushed);
  }

  /** Rejects queued jobs with CAIRN_CLOSED, waits for running ones, then stops the workers. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, () => job.reject(closedError()));
    while (this.slots.some((s) => s.job !== undefined)) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private submit(request: JobRequest, transfer: ArrayBuffer[], signal: AbortSignal | undefined): Promise<WorkerResponse & { ok: true }> {
    if (this.closed) return Promise.reject(closedError());
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const job: Job = { request, transfer, signal, resolve, reject };
      if (signal !== undefined) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** A queued job is rejected at once; a running one is told to stop and rejects when the worker has cleaned up. */
  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, () => job.reject(abortError(job.signal)));
      return;
    }
    const slot = this.slots.find((s) => s.job === job);
    slot?.worker.postMessage({ type: 'abort', id: job.request.id } satisfies WorkerRequest);
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (slot === undefined && this.slots.length < this.size) slot = this.spawn();
      if (slot === undefined) return;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.request, job.transfer);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL, { execArgv: process.execArgv });
    const slot: Slot = { worker, job: undefined };
    this.slots.push(slot);
    worker.on('message', (response: WorkerResponse) => {
      const job = slot.job;
      if (job === undefined || job.request.id !== response.id) return;
      this.finish(slot);
      if (response.ok) this.settle(job, () => job.resolve(response));
      else this.settle(job, () => job.reject(deserializeError(response.error)));
    });
    // An uncaught exception or an exit ends this worker: fail its job, forget the slot,
    // and let the next job start a fresh one.
    const lost = (err: Error): void => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return;
      this.slots.splice(i, 1);
      const job = slot.job;
      this.finish(slot);
      if (job !== undefined) this.settle(job, () => job.reject(err));
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`compaction worker exited with code ${code}`)));
    return slot;
  }

  /** The slot's job is over (answered or lost): the worker may idle and take the next job. */
  private finish(slot: Slot): void {
    slot.job = undefined;
    slot.worker.unref();
    if (!this.closed) this.dispatch();
    if (this.slots.every((s) => s.job === undefined)) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private settle(job: Job, outcome: () => void): void {
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort);
    outcome();
  }
}

function closedError(): CairnError {
  return new CairnError(ErrorCodes.CLOSED, 'The compaction worker pool is closed');
}
