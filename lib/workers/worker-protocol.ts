// The messages between a WorkerPool and its threads, and how an error survives the
// structured clone between them with its class, code, system fields and cause. Pure
// functions and types; used on both sides of the thread boundary.
import { CairnError, type ErrorCode } from '../errors.js';

/** Main thread to worker: run a job (the module at `kind` exports `run`), or abort a running one. */
export type WorkerRequest = { type: 'run'; id: number; kind: string; payload: unknown } | { type: 'abort'; id: number };

/** Worker to main thread: progress of a running job (any number), then exactly one final answer. */
export type WorkerResponse =
  | { id: number; progress: unknown }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: SerializedError };

/**
 * An error reduced to cloneable fields. Structured clone keeps an Error's message but
 * not its own properties (code, errno, syscall, path) nor, on Node 20, its cause, which
 * are what callers test and what a report of the failure must show.
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
  cause?: SerializedError;
  cairn: boolean;
}

/** Causes nested deeper than this are cut off: a cycle (or a silly chain) must not recurse forever. */
const MAX_CAUSE_DEPTH = 8;

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), cairn: false };
  const e = err as Error & Partial<Omit<SerializedError, 'name' | 'message' | 'stack' | 'cairn' | 'cause'>>;
  const out: SerializedError = { name: e.name, message: e.message, stack: e.stack, cairn: err instanceof CairnError };
  if (typeof e.code === 'string') out.code = e.code;
  if (typeof e.errno === 'number') out.errno = e.errno;
  if (typeof e.syscall === 'string') out.syscall = e.syscall;
  if (typeof e.path === 'string') out.path = e.path;
  if (typeof e.dest === 'string') out.dest = e.dest;
  if (err instanceof CairnError && err.details !== undefined) out.details = cloneable(err.details);
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(err.cause, depth + 1);
  return out;
}

/**
 * Rebuilds the error on the receiving thread: a CairnError stays one, TypeError and
 * RangeError keep their class, any other error is an Error with the original name.
 */
export function deserializeError(s: SerializedError): Error {
  const cause = s.cause === undefined ? undefined : deserializeError(s.cause);
  let err: Error;
  if (s.cairn && s.code !== undefined) err = new CairnError(s.code as ErrorCode, s.message, { cause, details: s.details });
  else if (s.name === 'TypeError') err = new TypeError(s.message, cause === undefined ? undefined : { cause });
  else if (s.name === 'RangeError') err = new RangeError(s.message, cause === undefined ? undefined : { cause });
  else {
    err = new Error(s.message, cause === undefined ? undefined : { cause });
    err.name = s.name;
  }
  const target = err as Error & Record<string, unknown>;
  if (!s.cairn) {
    for (const key of ['code', 'errno', 'syscall', 'path', 'dest'] as const) if (s[key] !== undefined) target[key] = s[key];
  }
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}

/** A Buffer again, for bytes that crossed threads (structured clone makes plain Uint8Arrays of Buffers). */
export function revivedBuffer(bytes: Uint8Array): Buffer {
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
