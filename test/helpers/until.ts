// Polling for background work (flushes, merges, journal GC) in tests: wait until a
// condition holds, and fail loudly after a bound generous enough for a loaded CI machine
// rather than sleeping a fixed time and hoping.

export interface UntilOptions {
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Poll this often. Default 10 ms. */
  intervalMs?: number;
}

/** Resolves once `done()` holds; rejects naming `what` if it never does within the bound. */
export async function until(what: string, done: () => boolean | Promise<boolean>, options: UntilOptions = {}): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 10 } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await done()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
