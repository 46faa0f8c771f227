// Whether a keyspace is open, closing or poisoned, and the error each refusal raises; and
// the latest background failure being retried. One object shared by the keyspace's parts
// (write path, registry, journal GC, cut), so they all refuse alike. Main thread only.
import { CairnError, ErrorCodes, type SystemError } from '../errors.js';
import type { BackgroundFailure } from '../tree/tree.js';
import type { BackgroundError } from './options.js';

export class KeyspaceState {
  /** Set when close() starts: nothing new may begin. */
  closed = false;
  /** Opened with `readOnly: true`: every write is refused with CAIRN_READ_ONLY. */
  readonly readOnly: boolean;
  /** Set by a failed write or fsync: what failed, and how. */
  #poisoned: { cause: unknown; operation: string } | undefined;
  #lastBackgroundError: BackgroundError | undefined;
  readonly #onBackgroundError: ((error: BackgroundError) => void) | undefined;

  constructor(onBackgroundError?: (error: BackgroundError) => void, readOnly = false) {
    this.#onBackgroundError = onBackgroundError;
    this.readOnly = readOnly;
  }

  get poisoned(): boolean {
    return this.#poisoned !== undefined;
  }

  /** The latest failure of a flush or compaction that is being retried, if any ever happened. */
  get lastBackgroundError(): BackgroundError | undefined {
    return this.#lastBackgroundError;
  }

  /** Marks the keyspace unwritable after a failed fsync, flush or metadata write; `operation` says what failed. The first cause is kept. */
  poison(cause: unknown, operation: string): void {
    this.#poisoned ??= { cause, operation };
  }

  /** Keeps the failure for stats() and tells the application's callback, which must not be able to break the retry. */
  reportBackgroundError({ operation, partition, error, attempt, retryInMs }: BackgroundFailure): void {
    const report: BackgroundError = {
      operation,
      partition,
      code: typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : undefined,
      message: error instanceof Error ? error.message : String(error),
      cause: error,
      time: Date.now(),
      attempt,
      retryInMs,
    };
    this.#lastBackgroundError = report;
    try {
      this.#onBackgroundError?.(report);
    } catch (err) {
      process.emitWarning(`cairn: onBackgroundError threw: ${err instanceof Error ? err.message : String(err)}`, { code: 'CAIRN_BACKGROUND_ERROR_LISTENER', detail: String(report.message) });
    }
  }

  checkOpen(): void {
    if (this.closed) throw new CairnError(ErrorCodes.CLOSED, 'The keyspace is closed');
  }

  checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new CairnError(ErrorCodes.READ_ONLY, 'The keyspace was opened with readOnly: true; it takes no writes');
    if (this.#poisoned !== undefined) {
      const { cause, operation } = this.#poisoned;
      throw new CairnError(ErrorCodes.POISONED, `Writes are refused since ${operation} failed to reach the disk (${describeFailure(cause)}); reopen the keyspace`, {
        cause,
        details: { operation },
      });
    }
  }
}

/** What went wrong, in a few words: a system error's code, call and file, or the message. */
function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { code, syscall, path: file } = err as Partial<SystemError>;
  if (typeof code === 'string' && typeof syscall === 'string') return `${code} in ${syscall}${file === undefined ? '' : ` of ${file}`}`;
  return err.message;
}
