// Test helper: collects the process's unhandled rejections while a test runs, so a test of
// background work can assert that none escaped (one used to end idle processes).
import type { Teardown } from './scratch.js';

/** The rejections seen from now until the test's teardown; the test asserts on the array. */
export function unhandledRejections(t: Teardown): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', listener);
  t.teardown(() => process.off('unhandledRejection', listener));
  return seen;
}
