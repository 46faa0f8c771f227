// A pool of worker threads that run jobs off the main thread, one job per thread at a
// time, queued in submission order (urgent jobs first): flushes, compaction merges and
// backup hashing share it. Main
// thread only; any number of callers. Idle threads are unref'd, so a pool never keeps the
// process alive; close() waits for running jobs.
//
// A job kind is a module that exports `run(payload, context)` (see JobModule); the thread
// imports it by URL on first use, so this folder knows nothing of the layers above it.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { abortError, CairnError, ErrorCodes } from '../errors.js';
import { type WorkerRequest, type WorkerResponse, deserializeError } from './worker-protocol.js';

/** What a job module gets besides its payload, on its worker thread. */
export interface JobContext {
  /** Fires when the caller aborts; the job should stop soon and clean up what it made. */
  readonly signal: AbortSignal;
  /** Sends a progress value to the caller's onProgress (structured-cloned). */
  progress(value: unknown): void;
}

/** The shape of a job module: one async function, run on a worker thread. */
export interface JobModule<P, R> {
  run(payload: P, context: JobContext): Promise<R>;
}

/**
 * A typed handle on a job module: its URL (a .ts source under a TypeScript loader, the
 * compiled .js under dist/; the thread inherits process.execArgv, which carries the loader).
 */
export interface JobKind<P, R> {
  readonly module: string;
  /** Never set: carries the payload and result types. */
  readonly types?: { payload: P; result: R };
}

/** The handle of the job module at `moduleUrl` (pass the module's own import.meta.url). */
export function jobKind<P, R>(moduleUrl: string): JobKind<P, R> {
  return Object.freeze({ module: new URL(moduleUrl).href });
}

export interface WorkerPoolOptions {
  /** Threads, started on demand: an integer in [1, 16]. Default: the cores, at most 4. */
  size?: number;
}

export interface RunOptions {
  /**
   * A queued job rejects at once with CAIRN_ABORTED; a running one is told to stop
   * (context.signal) and rejects with CAIRN_ABORTED when its thread is done with it, so
   * that nothing still writes where the caller is about to clean up.
   */
  signal?: AbortSignal;
  /** Called on the main thread with each value the job passes to context.progress. */
  onProgress?: (value: unknown) => void;
  /**
   * Buffers of the payload to move to the thread instead of copying (postMessage's transfer
   * list): they are detached on this side once the job is dispatched.
   */
  transfer?: readonly ArrayBuffer[];
  /**
   * 'urgent' jobs (flushes, which writers may be waiting for) go ahead of every queued
   * normal job, and when every thread is busy with long work (compactions) one extra
   * thread beyond `size` runs them. Default 'normal'.
   */
  priority?: 'normal' | 'urgent';
}

interface Job {
  id: number;
  kind: string;
  payload: unknown;
  signal: AbortSignal | undefined;
  onProgress: ((value: unknown) => void) | undefined;
  transfer: readonly ArrayBuffer[];
  urgent: boolean;
  resolve(result: unknown): void;
  reject(err: unknown): void;
  onAbort?: () => void;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

const ENTRY_URL = new URL(import.meta.url.endsWith('.ts') ? './worker-entry.ts' : './worker-entry.js', import.meta.url);

export class WorkerPool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  readonly #idleWaiters: (() => void)[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options?: WorkerPoolOptions) {
    const size = options?.size ?? Math.min(4, availableParallelism());
    if (!Number.isSafeInteger(size) || size < 1 || size > 16) throw new RangeError(`size must be an integer in [1, 16], got ${size}`);
    this.size = size;
  }

  /**
   * Runs the job module `kind` on a thread with `payload` (structured-cloned) and
   * resolves with its result, or rejects with its error rebuilt on this thread (class,
   * code, system fields and cause kept). A thread that dies mid-job rejects the job and
   * is replaced by the next job that needs one.
   */
  run<P, R>(kind: JobKind<P, R>, payload: P, options?: RunOptions): Promise<R> {
    if (this.#closed) return Promise.reject(closedError());
    const signal = options?.signal;
    if (signal?.aborted === true) return Promise.reject(abortError(signal));
    return new Promise<R>((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        kind: kind.module,
        payload,
        signal,
        onProgress: options?.onProgress,
        transfer: options?.transfer ?? [],
        urgent: options?.priority === 'urgent',
        resolve: resolve as (r: unknown) => void,
        reject,
        settled: false,
      };
      if (signal !== undefined) {
        job.onAbort = () => this.#abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (job.urgent) {
        // Behind earlier urgent jobs, ahead of every normal one.
        const firstNormal = this.#queue.findIndex((queued) => !queued.urgent);
        this.#queue.splice(firstNormal < 0 ? this.#queue.length : firstNormal, 0, job);
      } else {
        this.#queue.push(job);
      }
      this.#dispatch();
    });
  }

  /** Rejects queued jobs with CAIRN_CLOSED, waits for running ones, then stops the threads. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) this.#settle(job, () => job.reject(closedError()));
    while (this.#slots.some((s) => s.job !== undefined)) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await Promise.all(this.#slots.splice(0).map((s) => s.worker.terminate()));
  }

  #abort(job: Job): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#settle(job, () => job.reject(abortError(job.signal)));
      return;
    }
    this.#slots.find((s) => s.job === job)?.worker.postMessage({ type: 'abort', id: job.id } satisfies WorkerRequest);
  }

  #dispatch(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      // The queue's head is urgent only when urgent jobs wait: they may use one spare thread.
      const limit = this.#queue[0].urgent ? this.size + 1 : this.size;
      if (this.#slots.filter((s) => s.job !== undefined).length >= limit) return;
      const slot = this.#slots.find((s) => s.job === undefined) ?? this.#spawn();
      const job = this.#queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ type: 'run', id: job.id, kind: job.kind, payload: job.payload } satisfies WorkerRequest, job.transfer);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(ENTRY_URL, { execArgv: process.execArgv });
    const slot: Slot = { worker, job: undefined };
    this.#slots.push(slot);
    worker.on('message', (response: WorkerResponse) => {
      const job = slot.job;
      if (job === undefined || job.id !== response.id) return;
      if ('progress' in response) {
        if (!job.settled) job.onProgress?.(response.progress);
        return;
      }
      this.#finish(slot);
      if (job.signal?.aborted === true) this.#settle(job, () => job.reject(abortError(job.signal)));
      else if (response.ok) this.#settle(job, () => job.resolve(response.result));
      else this.#settle(job, () => job.reject(deserializeError(response.error)));
    });
    // An uncaught exception or an exit ends this thread: fail its job, forget the slot,
    // and let the next job start a fresh thread.
    const lost = (err: Error): void => {
      const i = this.#slots.indexOf(slot);
      if (i < 0) return;
      this.#slots.splice(i, 1);
      const job = slot.job;
      this.#finish(slot);
      if (job !== undefined) this.#settle(job, () => job.reject(err));
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`a worker thread exited with code ${code} during a job`)));
    return slot;
  }

  /** The slot's job is over (answered or lost): the thread may idle and take the next job. */
  #finish(slot: Slot): void {
    slot.job = undefined;
    slot.worker.unref();
    this.#dispatch();
    if (this.#slots.every((s) => s.job === undefined)) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  #settle(job: Job, outcome: () => void): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort);
    outcome();
  }
}

function closedError(): CairnError {
  return new CairnError(ErrorCodes.CLOSED, 'The worker pool is closed');
}

let shared: WorkerPool | undefined;

/**
 * The process's pool, created on first use (threads start only when a job runs): every
 * keyspace and backup engine in the process shares it, so a process with many keyspaces
 * still runs at most `size` jobs at once, and opening one never pays for starting threads.
 * It is never closed; its idle threads do not keep the process alive.
 */
export function sharedWorkerPool(): WorkerPool {
  shared ??= new WorkerPool();
  return shared;
}
