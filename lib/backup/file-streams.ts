// Streaming between keyspace files (through the FileSystem seam) and store objects:
// hashing a file, reading it as a Readable for upload, and writing a download into a
// new file while hashing it. Each call owns its handle; calls are independent.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FileSystem } from '../fs/file-system.js';
import { type FileCheck, contentChecker } from '../keyspace/content-check.js';
import { abortError, throwIfAborted } from '../errors.js';
import { type CodecSummary, type DecodeOptions, ObjectDecoder } from './object-codec.js';
import type { BackupStore } from './store.js';

const CHUNK_BYTES = 1024 * 1024;
/** Bytes per read of hashFile: big enough that the per-read round trip through the thread pool is noise. */
const HASH_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * SHA-256 (hex) and size of the file; `onBytes` sees each chunk's length. The next chunk is
 * read (on the thread pool) while this one is hashed (on this thread), so the two overlap.
 */
export async function hashFile(fs: FileSystem, path: string, signal?: AbortSignal, onBytes?: (n: number) => void, check?: FileCheck): Promise<{ sha256: string; size: number }> {
  const handle = await fs.open(path, 'r');
  let pending: Promise<number> | undefined;
  try {
    const checker = check === undefined ? undefined : await contentChecker(check, handle, path);
    const hash = createHash('sha256');
    const buffers = [Buffer.allocUnsafe(HASH_CHUNK_BYTES), Buffer.allocUnsafe(HASH_CHUNK_BYTES)] as const;
    let size = 0;
    let current = 0;
    pending = handle.read(buffers[current], 0, HASH_CHUNK_BYTES, 0);
    for (;;) {
      const n = await pending;
      pending = undefined;
      if (n === 0) break;
      throwIfAborted(signal);
      pending = handle.read(buffers[1 - current], 0, HASH_CHUNK_BYTES, size + n);
      hash.update(buffers[current].subarray(0, n));
      checker?.update(buffers[current].subarray(0, n), size);
      current = 1 - current;
      size += n;
      onBytes?.(n);
    }
    checker?.finish(size);
    return { sha256: hash.digest('hex'), size };
  } finally {
    // The handle outlives any read still in flight (an abort or a failed hash left one).
    await pending?.catch(() => undefined);
    await handle.close();
  }
}

/**
 * The first `size` bytes of the file as a stream; a file shorter than `size` errors the
 * stream (the uploaded object must be exactly what was hashed). `onBytes` sees each chunk.
 */
export function fileReadable(fs: FileSystem, path: string, size: number, onBytes?: (n: number) => void): Readable {
  let position = 0;
  let handle: Awaited<ReturnType<FileSystem['open']>> | undefined;
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    async construct(callback) {
      try {
        const opened = await fs.open(path, 'r');
        // Destroyed while opening (the put was refused before reading): close, report nothing.
        if (this.destroyed) await opened.close();
        else handle = opened;
        callback();
      } catch (err) {
        callback(this.destroyed ? undefined : (err as Error));
      }
    },
    async read() {
      try {
        const want = Math.min(CHUNK_BYTES, size - position);
        if (want <= 0) {
          this.push(null);
          return;
        }
        const buffer = Buffer.allocUnsafe(want);
        const n = await handle!.read(buffer, 0, want, position);
        if (n === 0) throw Object.assign(new Error(`${path} shrank below ${size} bytes while being uploaded`), { code: 'EIO', path });
        position += n;
        onBytes?.(n);
        this.push(buffer.subarray(0, n));
      } catch (err) {
        this.destroy(err as Error);
      }
    },
    destroy(err, callback) {
      const closing = handle?.close() ?? Promise.resolve();
      handle = undefined;
      closing.then(() => callback(err), (closeErr: unknown) => callback(err ?? (closeErr as Error)));
    },
  });
}

/**
 * Reads `source` to its end, handing every chunk to `each`; an abort of `signal` destroys
 * the stream. Always destroys it when done.
 */
async function consume(source: Readable, signal: AbortSignal | undefined, each: (bytes: Buffer) => Promise<unknown> | void): Promise<void> {
  const onAbort = () => source.destroy(abortError(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    throwIfAborted(signal);
    for await (const chunk of source) await each(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    throwIfAborted(signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    source.destroy();
  }
}

/**
 * Reads `source` to its end, hashing every chunk and handing it to `sink` (if any) at its
 * offset; an abort of `signal` destroys the stream. Always destroys it when done.
 */
async function hashStream(
  source: Readable,
  signal: AbortSignal | undefined,
  onBytes: ((n: number) => void) | undefined,
  sink?: (bytes: Buffer, position: number) => Promise<unknown>,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await consume(source, signal, async (bytes) => {
    hash.update(bytes);
    await sink?.(bytes, size);
    size += bytes.byteLength;
    onBytes?.(bytes.byteLength);
  });
  return { sha256: hash.digest('hex'), size };
}

/**
 * Writes the stream into a new file (`wx`), hashing as it goes. It does not fsync: the
 * caller syncs what it wrote in one batch. Resolves with what was written; the caller
 * compares it with what was expected. A failure leaves the partial file for the caller's
 * cleanup of the whole staging directory.
 */
export async function writeStreamToFile(fs: FileSystem, source: Readable, path: string, signal?: AbortSignal, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
  let handle;
  try {
    handle = await fs.open(path, 'wx');
  } catch (err) {
    source.destroy();
    throw err;
  }
  const out = handle;
  try {
    return await hashStream(source, signal, onBytes, (bytes, position) => out.write(bytes, 0, bytes.byteLength, position));
  } finally {
    await out.close();
  }
}

/** SHA-256 and size of a store object, streamed; `onBytes` sees each chunk. */
export async function hashObject(store: BackupStore, key: string, signal?: AbortSignal, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
  return hashStream(await store.get(key, { signal }), signal, onBytes);
}

/**
 * Decodes a stored object streamed from the store, checking it, and drops the plaintext
 * (a full verify of a remote object). The codec runs on this thread.
 */
export async function decodeStream(source: Readable, options: DecodeOptions, signal: AbortSignal | undefined, onBytes?: (n: number) => void): Promise<CodecSummary> {
  const decoder = new ObjectDecoder(options);
  await consume(source, signal, (bytes) => {
    decoder.update(bytes);
    onBytes?.(bytes.byteLength);
  });
  return decoder.final();
}
