// Bounded parallelism for uploads, downloads and checks: at most `limit` calls in flight.
// The first failure stops new starts, aborts the ones in flight (through the signal each
// call receives) and, once they settle, rejects with that first failure.
import { throwIfAborted } from '../errors.js';

export async function forEachLimit<T>(items: readonly T[], limit: number, signal: AbortSignal | undefined, fn: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  throwIfAborted(signal);
  const inner = new AbortController();
  const onOuterAbort = () => inner.abort(signal?.reason);
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++];
      try {
        throwIfAborted(signal);
        await fn(item, inner.signal);
      } catch (error) {
        failure ??= { error };
        inner.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } finally {
    signal?.removeEventListener('abort', onOuterAbort);
  }
  if (failure !== undefined) throw failure.error;
}
