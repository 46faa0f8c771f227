// Data block compression (docs/format.md §8, docs/design.md "Block compression"): Snappy
// through the `snappy` package (napi-rs; its prebuilt binary is an optional dependency
// fetched from the registry like any package, no download at install time). Stateless;
// safe on any thread.
import { createRequire } from 'node:module';

interface Snappy {
  compressSync(input: Buffer): Buffer;
  uncompressSync(input: Buffer, options: { asBuffer: true }): Buffer;
}

/**
 * The library, or undefined where its binary is missing (a platform without a prebuild):
 * then blocks are written uncompressed, and reading a compressed one fails with
 * CAIRN_UNSUPPORTED_FORMAT rather than the whole package failing to load.
 */
const snappy: Snappy | undefined = (() => {
  try {
    return createRequire(import.meta.url)('snappy') as Snappy;
  } catch {
    return undefined;
  }
})();

/**
 * A block is stored compressed only when that saves at least 1/8 of it (RocksDB's rule of
 * thumb): below that, decompressing on every cache miss costs more than the bytes saved.
 */
const MIN_SAVING_DIVISOR = 8;

/** Whether this process can read and write compressed blocks. */
export const compressionAvailable = snappy !== undefined;

/** The compressed form of `payload`, or undefined when it is not worth storing (or compression is unavailable). */
export function compressBlock(payload: Buffer): Buffer | undefined {
  if (snappy === undefined) return undefined;
  const compressed = snappy.compressSync(payload);
  return compressed.length <= payload.length - payload.length / MIN_SAVING_DIVISOR ? compressed : undefined;
}

/** The payload a compressed block holds; throws on damage (the caller turns it into CAIRN_CORRUPTION) or when unavailable. */
export function uncompressBlock(stored: Buffer): Buffer {
  if (snappy === undefined) throw new Error('snappy is not available on this platform');
  return snappy.uncompressSync(stored, { asBuffer: true });
}
