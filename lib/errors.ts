// The one place cairn's error type and its stable codes are defined, and the one builder
// of Node-shaped system errors. Operating-system failures are not wrapped: they keep
// Node's shape (`code` such as ENOENT / EEXIST / EXDEV / ENOSPC, `errno`, `syscall`,
// `path`, `dest`). Pure functions; safe from any thread.
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

/** Every stable error code cairn itself raises. Tests and callers compare on these. */
export const ErrorCodes = {
  /** The keyspace (or lock file) is held by this or another process. */
  LOCKED: 'CAIRN_LOCKED',
  /** The object was closed (keyspace, snapshot, iterator, store). */
  CLOSED: 'CAIRN_CLOSED',
  /** On-disk data failed a checksum or structural check. */
  CORRUPTION: 'CAIRN_CORRUPTION',
  /** An fsync failed earlier; the keyspace refuses writes until reopened. */
  POISONED: 'CAIRN_POISONED',
  /** A non-empty directory that is not a cairn keyspace. */
  NOT_A_KEYSPACE: 'CAIRN_NOT_A_KEYSPACE',
  /** Written by a newer cairn than this one understands. */
  UNSUPPORTED_FORMAT: 'CAIRN_UNSUPPORTED_FORMAT',
  /** An AbortSignal fired; the error's `name` is 'AbortError'. */
  ABORTED: 'CAIRN_ABORTED',
  /** A write (or flush, compaction, checkpoint, partition change) on a keyspace opened with `readOnly: true`. */
  READ_ONLY: 'CAIRN_READ_ONLY',
  /** A named thing (partition, backup, store object) does not exist. */
  NOT_FOUND: 'CAIRN_NOT_FOUND',
  /** A named thing that must be new already exists (e.g. a partition being created exclusively). */
  ALREADY_EXISTS: 'CAIRN_ALREADY_EXISTS',
  /** A backup store belongs to another keyspace. */
  STORE_IN_USE: 'CAIRN_STORE_IN_USE',
  /** The native addon could not be loaded and the caller required it. */
  NATIVE_UNAVAILABLE: 'CAIRN_NATIVE_UNAVAILABLE',
  /** A snapshot or iterator was used after release. */
  RELEASED: 'CAIRN_RELEASED',
  /** A target that must be empty (restore, snapshot) is not. */
  NOT_EMPTY: 'CAIRN_NOT_EMPTY',
  /** No credentials for the S3 store: none in its URL, the environment, the shared config or an instance role. */
  NO_CREDENTIALS: 'CAIRN_NO_CREDENTIALS',
  /** The backup store's encryption key is missing or wrong (it does not unwrap the store's data key). */
  BAD_KEY: 'CAIRN_BAD_KEY',
  /** A fault injected by the test file system (the code of the injected error wins if given). */
  INJECTED_FAULT: 'CAIRN_INJECTED_FAULT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface CairnErrorOptions {
  cause?: unknown;
  /** Extra, machine-readable facts (a path, an offset, a partition name). */
  details?: Record<string, unknown>;
}

/** The error type of every failure cairn itself detects. Compare on `code`, never on `message`. */
export class CairnError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CairnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = code === ErrorCodes.ABORTED ? 'AbortError' : 'CairnError';
    this.code = code;
    this.details = options.details;
  }
}

/** The rejection for an aborted operation: `name` 'AbortError', `code` CAIRN_ABORTED, the signal's reason as `cause`. */
export function abortError(signal?: AbortSignal): CairnError {
  return new CairnError(ErrorCodes.ABORTED, 'The operation was aborted', {
    cause: signal?.reason,
  });
}

/** Throws the AbortError if the signal has fired. Call between steps of long operations. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** A Node-style system error (ENOENT, EXDEV, …) as produced by fs and by the addon. */
export interface SystemError extends Error {
  code: string;
  errno?: number;
  syscall?: string;
  path?: string;
  dest?: string;
}

/** Where a system error happened, and an optional description replacing the operating system's. */
export interface SystemErrorOptions {
  path?: string;
  dest?: string;
  /** Default: the operating system's text for the code ('file already exists'). */
  description?: string;
  cause?: unknown;
}

/**
 * A system error cairn raises itself (a destination that exists, an injected fault),
 * shaped exactly like Node's: `code`, `errno` (negative, as libuv reports it, when the
 * code is an errno name), `syscall`, `path`, `dest`, and the message
 * `CODE: description, syscall 'path' -> 'dest'`.
 */
export function systemError(code: string, syscall: string, options: SystemErrorOptions = {}): SystemError {
  const errno = (osConstants.errno as Record<string, number | undefined>)[code];
  const description = options.description ?? (errno === undefined ? undefined : getSystemErrorMap().get(-errno)?.[1]) ?? 'system error';
  const { path, dest } = options;
  const where = path === undefined ? '' : dest === undefined ? ` '${path}'` : ` '${path}' -> '${dest}'`;
  const err = new Error(`${code}: ${description}, ${syscall}${where}`, options.cause === undefined ? undefined : { cause: options.cause }) as SystemError;
  err.code = code;
  if (errno !== undefined) err.errno = -errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  return err;
}

/** The system calls whose failure leaves what reached the disk unknown. */
const WRITE_SYSCALLS: ReadonlySet<string> = new Set(['write', 'fsync', 'fdatasync']);

/**
 * True for a failed write or fsync (a system error from one of those calls): after one,
 * what is on disk is unknown and a retried fsync may lie (the PostgreSQL fsync lesson),
 * so the keyspace must refuse writes. Every other failure of background work (a failed
 * open or rename, a corrupt input, a bug) leaves the disk as it was and is retried.
 */
export function isWriteFailure(err: unknown): err is SystemError {
  return err instanceof Error && typeof (err as SystemError).code === 'string' && WRITE_SYSCALLS.has((err as SystemError).syscall ?? '');
}

/** True when `err` carries the given code, whether a CairnError or a Node system error. */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
