// Test helper: a real, tiny tmpfs for genuine ENOSPC and EXDEV, mounted only when the
// tests run as root (CI does). Each call mounts its own directory; teardown unmounts it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Teardown {
  teardown(fn: () => void): void;
}

/** True when this process may mount file systems (root on Linux); CAIRN_TEST_NO_MOUNT=1 forces the fallback. */
export function canMount(): boolean {
  if (process.env.CAIRN_TEST_NO_MOUNT === '1') return false;
  return process.platform === 'linux' && typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Mounts a `sizeMiB` tmpfs on a fresh directory and returns it, or undefined when not
 * root. As root a failed mount throws: CI must exercise the real-fault path.
 */
export function mountTmpfs(t: Teardown, sizeMiB = 8): string | undefined {
  if (!canMount()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
  t.teardown(() => {
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  });
  return dir;
}
