// SHA-256 of a file, or of a copy as it is written, as a worker-pool job: the CPU of a
// backup and of a restore, off the main thread. On the worker thread `run` reads with
// blocking calls (that thread does nothing else); the main-thread side is hashOnWorker
// and copyHashedOnWorker. Each job owns its files.
import { createHash } from 'node:crypto';
import { defaultFileSystem } from '../fs/index.js';
import { type FileCheck, contentChecker } from '../keyspace/content-check.js';
import { type JobContext, type WorkerPool, jobKind, sharedWorkerPool } from '../workers/worker-pool.js';

const CHUNK_BYTES = 4 * 1024 * 1024;
const PROGRESS_BYTES = 32 * 1024 * 1024;

interface HashPayload {
  path: string;
  /** Also check the file's own checksums (segment blocks, journal records) as it is read. */
  check?: FileCheck;
  /** Also copy the file to this new path (wx): the digest is of the bytes written. */
  dest?: string;
}

export interface HashResult {
  sha256: string;
  size: number;
}

const HASH = jobKind<HashPayload, HashResult>(import.meta.url);

let buffer: Buffer | undefined;

/**
 * Worker side. Reads the whole source, hashing each chunk and, for a copy, writing it to
 * `dest` (a new file, not fsynced: an fsync here would idle this thread on the disk
 * between files, while the caller's one batch of fsyncs at the end overlaps them all).
 * Progress is each chunk's length.
 */
export async function run({ path, dest, check }: HashPayload, context: JobContext): Promise<HashResult> {
  const fs = defaultFileSystem();
  // One buffer per thread: a thread runs one job at a time.
  buffer ??= Buffer.allocUnsafe(CHUNK_BYTES);
  const handle = await fs.open(path, 'r');
  try {
    const checker = check === undefined ? undefined : await contentChecker(check, handle, path);
    const out = dest === undefined ? undefined : await fs.open(dest, 'wx');
    try {
      const digest = createHash('sha256');
      let size = 0;
      let unreported = 0;
      for (;;) {
        const n = handle.readSync(buffer, 0, CHUNK_BYTES, size);
        if (n === 0) break;
        digest.update(buffer.subarray(0, n));
        checker?.update(buffer.subarray(0, n), size);
        out?.writeSync(buffer, 0, n, size);
        size += n;
        // Coarse progress: a message per chunk costs the main thread more than it tells.
        unreported += n;
        if (unreported >= PROGRESS_BYTES) {
          context.progress(unreported);
          unreported = 0;
        }
      }
      checker?.finish(size);
      if (unreported > 0) context.progress(unreported);
      return { sha256: digest.digest('hex'), size };
    } finally {
      await out?.close();
    }
  } finally {
    await handle.close();
  }
}

export interface HashJobOptions {
  signal?: AbortSignal;
  /** Check the file's own checksums in the same pass (CAIRN_CORRUPTION naming the file). */
  check?: FileCheck;
  /** Sees each chunk's length as it is hashed. */
  onBytes?: (n: number) => void;
  /** Default: the process's shared pool. */
  pool?: WorkerPool;
}

/** SHA-256 (hex) and size of the file, on a pool thread. */
export function hashOnWorker(path: string, options: HashJobOptions = {}): Promise<HashResult> {
  return submit(options.check === undefined ? { path } : { path, check: options.check }, options);
}

/**
 * Copies the file to a new file `dest` (EEXIST if it exists) on a pool thread, hashing
 * every chunk as it is written; resolves with the digest and size of what was written.
 * It does not fsync: the caller syncs what it copied in one batch (a restore, before it
 * publishes). A failed or aborted copy may leave `dest` behind, for the caller's cleanup.
 */
export function copyHashedOnWorker(path: string, dest: string, options: HashJobOptions = {}): Promise<HashResult> {
  return submit({ path, dest }, options);
}

function submit(payload: HashPayload, { signal, onBytes, pool = sharedWorkerPool() }: HashJobOptions): Promise<HashResult> {
  return pool.run(HASH, payload, { signal, onProgress: onBytes === undefined ? undefined : (n) => onBytes(n as number) });
}
