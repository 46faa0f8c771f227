// Byte-order comparison of key ranges inside larger buffers, without making subarrays:
// the comparison at the heart of every block and index search. Pure function.

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
