// Entry point of a hashing thread (started by hash-pool.ts): SHA-256 of whole files, or a
// copy hashed as it is written, through its own default FileSystem, one job at a time as
// the pool sends them, with blocking reads (this thread does nothing else).
import { createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../compaction/worker-protocol.js';
import { defaultFileSystem } from '../fs/index.js';
import type { HashRequest, HashResponse } from './hash-pool.js';

const CHUNK_BYTES = 4 * 1024 * 1024;

const port = parentPort;
if (port === null) throw new Error('hash-worker.ts must run as a worker thread');

const fs = defaultFileSystem();
const buffer = Buffer.allocUnsafe(CHUNK_BYTES);

port.on('message', (request: HashRequest) => {
  void hash(request).then((response) => port.postMessage(response));
});

/**
 * Reads the whole source, hashing each chunk and, for a copy, writing it to `dest` (a new
 * file, not fsynced: an fsync here would idle this thread on the disk between files,
 * while the caller's one batch of fsyncs at the end overlaps them all).
 */
async function hash({ id, path, dest }: HashRequest): Promise<HashResponse> {
  try {
    const handle = await fs.open(path, 'r');
    try {
      const out = dest === undefined ? undefined : await fs.open(dest, 'wx');
      try {
        const digest = createHash('sha256');
        let size = 0;
        for (;;) {
          const n = handle.readSync(buffer, 0, CHUNK_BYTES, size);
          if (n === 0) break;
          digest.update(buffer.subarray(0, n));
          out?.writeSync(buffer, 0, n, size);
          size += n;
          port!.postMessage({ id, bytes: n } satisfies HashResponse);
        }
        return { id, ok: true, sha256: digest.digest('hex'), size };
      } finally {
        await out?.close();
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    return { id, ok: false, error: serializeError(err) };
  }
}
