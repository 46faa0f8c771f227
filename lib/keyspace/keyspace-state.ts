// Whether a keyspace is open, closing or poisoned, and the error each refusal raises.
// One object shared by the keyspace's parts (write path, registry, journal GC, cut), so
// they all refuse alike. Main thread only.
import { CairnError, ErrorCodes } from '../errors.js';

export class KeyspaceState {
  /** Set when close() starts: nothing new may begin. */
  closed = false;
  /** The failure that made the keyspace unwritable, if any. */
  #poisonCause: unknown;
  #poisoned = false;

  get poisoned(): boolean {
    return this.#poisoned;
  }

  /** Marks the keyspace unwritable after a failed fsync, flush or metadata write; the first cause is kept. */
  poison(cause: unknown): void {
    if (this.#poisoned) return;
    this.#poisoned = true;
    this.#poisonCause = cause;
  }

  checkOpen(): void {
    if (this.closed) throw new CairnError(ErrorCodes.CLOSED, 'The keyspace is closed');
  }

  checkWritable(): void {
    this.checkOpen();
    if (this.#poisoned) {
      throw new CairnError(ErrorCodes.POISONED, 'An earlier write failed to reach the disk; reopen the keyspace', { cause: this.#poisonCause });
    }
  }
}
