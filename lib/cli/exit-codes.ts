// The cairn CLI's exit statuses and the one mapping from an error to its status. The
// numbers are a stable interface (scripts branch on them): add new ones, never renumber.
// Pure; no state.
import { ErrorCodes, hasCode } from '../errors.js';

export const ExitCode = {
  OK: 0,
  /** Anything not listed below: a bug or an error cairn did not anticipate. */
  UNEXPECTED: 1,
  /** Bad command line: unknown command or option, missing or extra arguments. */
  USAGE: 2,
  /** The keyspace is open (its LOCK is held) in this or another process. */
  LOCKED: 3,
  /** The directory is not a cairn keyspace, or was written by a newer cairn. */
  NOT_A_KEYSPACE: 4,
  /** The destination already exists. */
  DESTINATION_EXISTS: 5,
  /** On-disk data failed a checksum or structural check. */
  CORRUPTION: 6,
  /** The operating system refused: ENOSPC, EIO, EACCES, EXDEV without fallback, ENOENT… */
  IO: 7,
  /** A backup, the backup store, a partition or a key does not exist. */
  NOT_FOUND: 8,
  /** The backup store belongs to another keyspace, or a prune holds it. */
  STORE_IN_USE: 9,
  /** The input of `cairn load` is not valid JSON lines of keys and values; nothing was written. */
  BAD_INPUT: 10,
  /** No credentials for an s3:// store (URL, environment, shared config, instance role). */
  NO_CREDENTIALS: 11,
  /** The backup store is encrypted and the key (CAIRN_BACKUP_KEY) is missing or wrong. */
  BAD_KEY: 12,
  /** Interrupted (SIGINT); whatever the command was building has been removed. */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A command-line mistake; main prints it with a pointer to the help. */
export class UsageError extends Error {
  readonly code = 'CAIRN_USAGE';
}

/** Malformed input data (a line of `cairn load`). */
export class InputError extends Error {
  readonly code = 'CAIRN_BAD_INPUT';
}

/** The rows of the table printed by `cairn --help` (and docs/cli.md). */
export const EXIT_CODE_TABLE: readonly (readonly [ExitCodeValue, string])[] = [
  [ExitCode.OK, 'success'],
  [ExitCode.UNEXPECTED, 'unexpected error'],
  [ExitCode.USAGE, 'usage error (unknown command or option, wrong arguments)'],
  [ExitCode.LOCKED, 'keyspace is open elsewhere (its LOCK is held)'],
  [ExitCode.NOT_A_KEYSPACE, 'not a keyspace, or an unsupported (newer) format'],
  [ExitCode.DESTINATION_EXISTS, 'destination exists'],
  [ExitCode.CORRUPTION, 'corruption (a checksum or structure check failed)'],
  [ExitCode.IO, 'I/O error (ENOSPC, EIO, EACCES, ENOENT, ...)'],
  [ExitCode.NOT_FOUND, 'not found: backup, backup store or one of its objects, partition, key'],
  [ExitCode.STORE_IN_USE, 'backup store belongs to another keyspace, or a prune is running on it'],
  [ExitCode.BAD_INPUT, 'bad input data (cairn load); nothing was written'],
  [ExitCode.NO_CREDENTIALS, 'no credentials for the s3:// store (URL, AWS_* environment, shared config, role)'],
  [ExitCode.BAD_KEY, 'the backup store is encrypted and the key (CAIRN_BACKUP_KEY) is missing or wrong'],
  [ExitCode.INTERRUPTED, 'interrupted (SIGINT); partial output removed'],
];

const SYSTEM_CODE = /^E[A-Z0-9]+$/;

export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof UsageError) return ExitCode.USAGE;
  if (err instanceof InputError) return ExitCode.BAD_INPUT;
  if (hasCode(err, ErrorCodes.LOCKED)) return ExitCode.LOCKED;
  if (hasCode(err, ErrorCodes.NOT_A_KEYSPACE) || hasCode(err, ErrorCodes.UNSUPPORTED_FORMAT)) return ExitCode.NOT_A_KEYSPACE;
  if (hasCode(err, 'EEXIST') || hasCode(err, ErrorCodes.NOT_EMPTY)) return ExitCode.DESTINATION_EXISTS;
  if (hasCode(err, ErrorCodes.CORRUPTION)) return ExitCode.CORRUPTION;
  if (hasCode(err, ErrorCodes.ABORTED)) return ExitCode.INTERRUPTED;
  if (hasCode(err, ErrorCodes.NOT_FOUND)) return ExitCode.NOT_FOUND;
  if (hasCode(err, ErrorCodes.STORE_IN_USE)) return ExitCode.STORE_IN_USE;
  if (hasCode(err, ErrorCodes.NO_CREDENTIALS)) return ExitCode.NO_CREDENTIALS;
  if (hasCode(err, ErrorCodes.BAD_KEY)) return ExitCode.BAD_KEY;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && SYSTEM_CODE.test(code)) return ExitCode.IO;
  return ExitCode.UNEXPECTED;
}

/** The code shown in parentheses on the error line. */
export function codeOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && code.length > 0) return code;
  return err instanceof Error ? err.name : 'UNKNOWN';
}
