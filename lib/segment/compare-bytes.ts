// Byte-order helpers for keys inside larger buffers, without making subarrays: the
// comparisons at the heart of every block and index search. Pure functions.

/** Long keys go to memcmp via Buffer#compare; short ones are faster in a JS loop (no native call). */
const NATIVE_COMPARE_MIN = 64;

/** Compares a[aStart, aEnd) with b[bStart, bEnd) in byte order: negative, zero or positive. */
export function compareBytes(a: Buffer, aStart: number, aEnd: number, b: Buffer, bStart: number, bEnd: number): number {
  const aLength = aEnd - aStart;
  const bLength = bEnd - bStart;
  const n = aLength < bLength ? aLength : bLength;
  if (n >= NATIVE_COMPARE_MIN) return a.compare(b, bStart, bEnd, aStart, aEnd);
  for (let i = 0; i < n; i++) {
    const d = a[aStart + i] - b[bStart + i];
    if (d !== 0) return d;
  }
  return aLength - bLength;
}

/**
 * The first 4 bytes of buf[start, end) as a big-endian unsigned integer, zero-padded.
 * Order-preserving (a < b implies hint(a) <= hint(b)), so a search can compare hints
 * held in one compact array and touch the key bytes only on a tie.
 */
export function keyHint(buf: Buffer, start: number, end: number): number {
  if (end - start >= 4) return ((buf[start] << 24) | (buf[start + 1] << 16) | (buf[start + 2] << 8) | buf[start + 3]) >>> 0;
  let h = 0;
  for (let i = 0; i < 4; i++) h = h * 256 + (start + i < end ? buf[start + i] : 0);
  return h;
}

/** Length of the common prefix of a[aStart, aEnd) and b[bStart, bEnd). */
export function commonPrefixLength(a: Buffer, aStart: number, aEnd: number, b: Buffer, bStart: number, bEnd: number): number {
  const n = Math.min(aEnd - aStart, bEnd - bStart);
  let i = 0;
  while (i < n && a[aStart + i] === b[bStart + i]) i++;
  return i;
}
