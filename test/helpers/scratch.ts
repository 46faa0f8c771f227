// A scratch directory under the OS temp dir, removed in teardown. Prefer it to
// t.testdir() for anything that opens a keyspace: tap removes a testdir *before* the
// test's own teardowns run, so a keyspace closed in teardown would still be writing
// (flushes, merges) while its directory is deleted. Teardowns run last-registered first,
// so a close registered after this runs before the removal.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remove } from 'fs-extra/esm';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function scratchDir(t: Teardown, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `cairn-${name}-`));
  t.teardown(() => remove(dir));
  return dir;
}
