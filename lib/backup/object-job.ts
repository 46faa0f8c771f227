// Encoding a keyspace file into a stored object, and decoding one back into a file, in ONE
// pass over the bytes: each chunk read is hashed, checked (segment block and journal record
// checksums, lib/keyspace/content-check.ts), compressed and encrypted (object-codec.ts) and
// written, with no copy between stages. Runs as a worker-pool job (the CPU of a format-2
// backup and restore, off the main thread), or on the calling thread through an injected
// FileSystem (which a worker cannot share). Each call owns its files; blocking reads and
// writes (a worker thread does nothing else).
import type { FileHandle, FileSystem } from '../fs/file-system.js';
import { defaultFileSystem } from '../fs/index.js';
import { type ContentChecker, type FileCheck, contentChecker } from '../keyspace/content-check.js';
import { type JobContext, type WorkerPool, jobKind, sharedWorkerPool } from '../workers/worker-pool.js';
import { type CodecSummary, type Compression, ObjectDecoder, ObjectEncoder, type ObjectKeys } from './object-codec.js';
export type { CodecSummary };

const CHUNK_BYTES = 4 * 1024 * 1024;
/** Progress is reported at most this often (bytes): a message per chunk costs the main thread. */
const PROGRESS_BYTES = 32 * 1024 * 1024;

interface EncodePayload {
  op: 'encode';
  /** The keyspace file. */
  path: string;
  /** A new file for the stored object (wx; not fsynced: the caller syncs before publishing). */
  dest: string;
  compression: Compression;
  keys?: ObjectKeys;
  /** Check the file's own checksums as it is read (segments, journals). */
  check?: FileCheck;
}

interface DecodePayload {
  op: 'decode';
  /** The stored object. */
  path: string;
  /** A new file for the plaintext (wx; not fsynced); undefined only checks the object. */
  dest: string | undefined;
  keys?: ObjectKeys;
  /** The plaintext's SHA-256 the object must decode to. */
  sha256: string;
  context?: string;
}

type Payload = EncodePayload | DecodePayload;

const OBJECT_JOB = jobKind<Payload, CodecSummary>(import.meta.url);

/** One read buffer per thread: a thread runs one job at a time. */
let buffer: Buffer | undefined;

/** Worker side. */
export function run(payload: Payload, context: JobContext): Promise<CodecSummary> {
  return Promise.resolve(transcode(defaultFileSystem(), payload, context.signal, (n) => context.progress(n)));
}

/** The whole transformation, synchronously, through `fs`. */
export async function transcode(fs: FileSystem, payload: Payload, signal: AbortSignal | undefined, onBytes: ((n: number) => void) | undefined): Promise<CodecSummary> {
  buffer ??= Buffer.allocUnsafe(CHUNK_BYTES);
  const input = await fs.open(payload.path, 'r');
  try {
    const output = payload.dest === undefined ? undefined : await fs.open(payload.dest, 'wx');
    try {
      if (payload.op === 'decode') return decode(input, output, payload, buffer, signal, onBytes);
      const checker = payload.check === undefined ? undefined : await contentChecker(payload.check, input, payload.path);
      return encode(input, output!, payload, checker, buffer, signal, onBytes);
    } finally {
      await output?.close();
    }
  } finally {
    await input.close();
  }
}

function writeAll(out: FileHandle | undefined, parts: Buffer[], position: number): number {
  for (const part of parts) {
    if (out === undefined) {
      position += part.byteLength;
      continue;
    }
    let done = 0;
    while (done < part.byteLength) done += out.writeSync(part, done, part.byteLength - done, position + done);
    position += part.byteLength;
  }
  return position;
}

/**
 * Reads `input` to its end through `buf`, handing each chunk and its position to `step`,
 * which returns the bytes to count as progress; reports progress coarsely and stops at an
 * abort between chunks. Returns the bytes read.
 */
function pump(input: FileHandle, buf: Buffer, signal: AbortSignal | undefined, onBytes: ((n: number) => void) | undefined, step: (chunk: Buffer, position: number) => number): number {
  let read = 0;
  let unreported = 0;
  for (;;) {
    const n = input.readSync(buf, 0, buf.length, read);
    if (n === 0) break;
    unreported += step(buf.subarray(0, n), read);
    read += n;
    if (unreported >= PROGRESS_BYTES) {
      if (signal?.aborted === true) throw signal.reason;
      onBytes?.(unreported);
      unreported = 0;
    }
  }
  if (unreported > 0) onBytes?.(unreported);
  return read;
}

function encode(
  input: FileHandle,
  output: FileHandle,
  p: EncodePayload,
  checker: ContentChecker | undefined,
  buf: Buffer,
  signal: AbortSignal | undefined,
  onBytes: ((n: number) => void) | undefined,
): CodecSummary {
  const encoder = new ObjectEncoder({ compression: p.compression, keys: p.keys });
  let written = 0;
  const read = pump(input, buf, signal, onBytes, (chunk, position) => {
    checker?.update(chunk, position);
    written = writeAll(output, encoder.update(chunk), written);
    return chunk.byteLength;
  });
  checker?.finish(read);
  const { out, summary } = encoder.final();
  writeAll(output, out, written);
  return summary;
}

function decode(input: FileHandle, output: FileHandle | undefined, p: DecodePayload, buf: Buffer, signal: AbortSignal | undefined, onBytes: ((n: number) => void) | undefined): CodecSummary {
  const decoder = new ObjectDecoder({ keys: p.keys, sha256: p.sha256, context: p.context });
  let written = 0;
  pump(input, buf, signal, onBytes, (chunk) => {
    // The plaintext may be views of `buf`: written out before the next read refills it.
    const before = written;
    written = writeAll(output, decoder.update(chunk), written);
    return written - before;
  });
  return decoder.final();
}

export interface ObjectJobOptions {
  signal?: AbortSignal;
  /** Sees plaintext bytes done, in coarse steps (tens of MiB) and at the end. */
  onBytes?: (n: number) => void;
  /** Default: the process's shared pool. */
  pool?: WorkerPool;
}

/** Encodes the file at `path` into a new object file `dest`, on a pool thread. */
export function encodeFileOnWorker(path: string, dest: string, codec: { compression: Compression; keys?: ObjectKeys; check?: FileCheck }, options: ObjectJobOptions = {}): Promise<CodecSummary> {
  return submit({ op: 'encode', path, dest, ...codec }, options);
}

/** Decodes the stored object at `path` into a new file `dest` (or nowhere: a check), checking it hashes to `sha256`, on a pool thread. */
export function decodeFileOnWorker(path: string, dest: string | undefined, codec: { keys?: ObjectKeys; sha256: string; context?: string }, options: ObjectJobOptions = {}): Promise<CodecSummary> {
  return submit({ op: 'decode', path, dest, ...codec }, options);
}

function submit(payload: Payload, { signal, onBytes, pool = sharedWorkerPool() }: ObjectJobOptions): Promise<CodecSummary> {
  return pool.run(OBJECT_JOB, payload, { signal, onProgress: onBytes === undefined ? undefined : (n) => onBytes(n as number) });
}
