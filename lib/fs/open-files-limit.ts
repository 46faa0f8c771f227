// The process's soft limit on open file descriptors (`ulimit -n`), which sizes the default
// budget of open segment files. Node has no getrlimit: Linux publishes it in
// /proc/self/limits; elsewhere the smallest common default (macOS's 256) is assumed.
// Read once, synchronously, at first use; safe from any thread.
import { readFileSync } from 'node:fs';

/** Assumed when the limit cannot be read (no /proc). */
const FALLBACK = 256;
/** Taken for "unlimited" (which Linux does not allow for this limit, but a kernel may print). */
const UNLIMITED = 1 << 20;

let cached: number | undefined;

/** The soft RLIMIT_NOFILE of this process. */
export function openFilesLimit(): number {
  cached ??= readLimit();
  return cached;
}

function readLimit(): number {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return FALLBACK;
  }
  // "Max open files            1024                 1048576              files"
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (match === null) return FALLBACK;
  if (match[1] === 'unlimited') return UNLIMITED;
  return Number(match[1]);
}
