// The messages between the worker pool and its compaction workers, and how errors and
// segment descriptors survive the structured clone between threads. Pure functions.
import { CairnError, type ErrorCode } from '../errors.js';
import type { SegmentMeta } from '../segment/properties.js';
import type { WriteSegmentOptions } from '../segment/segment-writer.js';
import type { SegmentDescriptor } from '../tree/manifest.js';
import type { MergeJob } from './run-merge.js';

export type WorkerRequest =
  | { type: 'merge'; id: number; job: Omit<MergeJob, 'signal'> }
  /** `packed` is packEntries' buffer, transferred (detached on the sending side). */
  | { type: 'flush'; id: number; packed: ArrayBuffer; file: string; options: Omit<WriteSegmentOptions, 'signal'> }
  | { type: 'abort'; id: number };

export type WorkerResponse =
  | { id: number; ok: true; merged: SegmentDescriptor[] }
  | { id: number; ok: true; flushed: SegmentMeta }
  | { id: number; ok: false; error: SerializedError };

/**
 * An error reduced to cloneable fields. Structured clone keeps an Error's message but
 * not its own properties (code, errno, syscall, path), which are what callers test.
 */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
  dest?: string;
  details?: Record<string, unknown>;
  cairn: boolean;
}

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), cairn: false };
  const e = err as Error & Partial<Omit<SerializedError, 'name' | 'message' | 'stack' | 'cairn'>>;
  const out: SerializedError = { name: e.name, message: e.message, stack: e.stack, cairn: err instanceof CairnError };
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.errno === 'number') out.errno = e.errno;
  if (typeof e.syscall === 'string') out.syscall = e.syscall;
  if (typeof e.path === 'string') out.path = e.path;
  if (typeof e.dest === 'string') out.dest = e.dest;
  if (err instanceof CairnError && err.details !== undefined) out.details = cloneable(err.details);
  return out;
}

/** Rebuilds the error on the receiving thread: a CairnError stays one, TypeError/RangeError keep their class. */
export function deserializeError(s: SerializedError): Error {
  let err: Error;
  if (s.cairn && s.code !== undefined) err = new CairnError(s.code as ErrorCode, s.message, { details: s.details });
  else if (s.name === 'TypeError') err = new TypeError(s.message);
  else if (s.name === 'RangeError') err = new RangeError(s.message);
  else err = new Error(s.message);
  const target = err as Error & Record<string, unknown>;
  if (!s.cairn) {
    for (const key of ['code', 'errno', 'syscall', 'path', 'dest'] as const) if (s[key] !== undefined) target[key] = s[key];
  }
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}

/** Descriptor keys arrive as plain Uint8Arrays; the rest of cairn expects Buffers. */
export function reviveMeta<T extends SegmentMeta | SegmentDescriptor>(meta: T): T {
  return { ...meta, minKey: asBuffer(meta.minKey), maxKey: asBuffer(meta.maxKey) };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Details hold paths and offsets in practice; anything that would not clone is dropped. */
function cloneable(details: Record<string, unknown>): Record<string, unknown> {
  try {
    return structuredClone(details);
  } catch {
    return {};
  }
}
