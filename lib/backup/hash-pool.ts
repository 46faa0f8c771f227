// One process-wide pool of hashing threads for backup and restore: SHA-256 of files (or of
// a copy as it is written) off the main thread, on every core up to 4; started on first
// use, idle threads unref'd. Main thread only; any number of callers.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { abortError } from '../errors.js';
import { type SerializedError, deserializeError } from '../compaction/worker-protocol.js';

export interface HashRequest {
  id: number;
  path: string;
  /** Also copy the file to this new path (wx), fsynced: the digest is of the bytes written. */
  dest?: string;
}

/** A chunk hashed (`bytes`), then exactly one final answer. */
export type HashResponse =
  | { id: number; bytes: number }
  | { id: number; ok: true; sha256: string; size: number }
  | { id: number; ok: false; error: SerializedError };

interface Job {
  request: HashRequest;
  signal: AbortSignal | undefined;
  onBytes: ((n: number) => void) | undefined;
  resolve(result: { sha256: string; size: number }): void;
  reject(err: unknown): void;
  onAbort?: () => void;
  settled: boolean;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/** The compiled .js beside this module, or the .ts source under a TypeScript loader (tests), which execArgv carries. */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './hash-worker.ts' : './hash-worker.js', import.meta.url);

export class HashPool {
  readonly size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  #nextId = 1;

  constructor(size = Math.min(4, availableParallelism())) {
    if (!Number.isSafeInteger(size) || size < 1 || size > 16) throw new RangeError(`size must be an integer in [1, 16], got ${size}`);
    this.size = size;
  }

  /** SHA-256 (hex) and size of the file; `onBytes` sees each chunk. */
  hash(path: string, signal?: AbortSignal, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    return this.#submit({ id: this.#nextId++, path }, signal, onBytes);
  }

  /**
   * Copies the file to a new file `dest` (EEXIST if it exists), hashing every chunk as it
   * is written; resolves with the digest and size of what was written. It does not fsync:
   * the caller syncs what it copied in one batch (a restore, before it publishes). A
   * failed or aborted copy may leave `dest` behind, for the caller's cleanup.
   */
  copyHashed(path: string, dest: string, signal?: AbortSignal, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    return this.#submit({ id: this.#nextId++, path, dest }, signal, onBytes);
  }

  #submit(request: HashRequest, signal: AbortSignal | undefined, onBytes: ((n: number) => void) | undefined): Promise<{ sha256: string; size: number }> {
    if (signal?.aborted === true) return Promise.reject(abortError(signal));
    return new Promise((resolve, reject) => {
      const job: Job = { request, signal, onBytes, resolve, reject, settled: false };
      if (signal !== undefined) {
        // A queued job rejects at once; a running one when its thread is done with the
        // files, so that nothing writes into a directory the caller is about to remove.
        job.onAbort = () => {
          const queued = this.#queue.indexOf(job);
          if (queued < 0) return;
          this.#queue.splice(queued, 1);
          this.#settle(job, () => job.reject(abortError(signal)));
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined);
      if (slot === undefined && this.#slots.length < this.size) slot = this.#spawn();
      if (slot === undefined) return;
      const job = this.#queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.request);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_URL, { execArgv: process.execArgv });
    const slot: Slot = { worker, job: undefined };
    this.#slots.push(slot);
    worker.on('message', (response: HashResponse) => {
      const job = slot.job;
      if (job === undefined || job.request.id !== response.id) return;
      if (!('ok' in response)) {
        if (!job.settled) job.onBytes?.(response.bytes);
        return;
      }
      this.#finish(slot);
      if (job.signal?.aborted === true) this.#settle(job, () => job.reject(abortError(job.signal)));
      else if (response.ok) this.#settle(job, () => job.resolve({ sha256: response.sha256, size: response.size }));
      else this.#settle(job, () => job.reject(deserializeError(response.error)));
    });
    // An uncaught exception or an exit ends this worker: fail its job, forget the slot,
    // and let the next job start a fresh one.
    const lost = (err: Error): void => {
      const i = this.#slots.indexOf(slot);
      if (i < 0) return;
      this.#slots.splice(i, 1);
      const job = slot.job;
      this.#finish(slot);
      if (job !== undefined) this.#settle(job, () => job.reject(err));
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`hash worker exited with code ${code}`)));
    return slot;
  }

  /** The slot's job is answered (or lost): the worker may idle and take the next one. */
  #finish(slot: Slot): void {
    slot.job = undefined;
    slot.worker.unref();
    this.#dispatch();
  }

  #settle(job: Job, outcome: () => void): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort !== undefined) job.signal?.removeEventListener('abort', job.onAbort);
    outcome();
  }
}

let shared: HashPool | undefined;

/** The process's pool, created on first use (threads start only when a file is hashed). */
export function sharedHashPool(): HashPool {
  shared ??= new HashPool();
  return shared;
}
