// Checksums of on-disk records and blocks: CRC-32 (ISO-HDLC, as zlib) computed natively
// by node:zlib. Pure functions, safe from any thread.
import { crc32 as zlibCrc32 } from 'node:zlib';

/** CRC-32 of `data`, continuing from `previous` when given. */
export function crc32(data: Uint8Array, previous = 0): number {
  return zlibCrc32(data, previous) >>> 0;
}
