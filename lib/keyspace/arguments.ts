// Validation and normalisation of everything a caller passes to the public API. Runs
// before any I/O and throws TypeError / RangeError, never a CairnError. Pure functions.
import type { KeyRange } from '../tree/merge.js';
import { keySuccessor } from '../codec/range-tombstones.js';

/** What the API accepts for keys and values. */
export type Bytes = Uint8Array | string;

/** Largest key, in bytes. Keys travel through varints, block indexes and manifests. */
export const MAX_KEY_BYTES = 65536;
/** Largest value, in bytes (a single journal record must stay well below 4 GiB). */
export const MAX_VALUE_BYTES = 256 * 1024 * 1024;

/** Copies the caller's bytes (they may mutate their buffer later) or encodes a string as UTF-8. */
export function toKey(key: unknown, what = 'key'): Buffer {
  const buf = toBytes(key, what);
  if (buf.length > MAX_KEY_BYTES) throw new RangeError(`${what} is ${buf.length} bytes; the limit is ${MAX_KEY_BYTES}`);
  return buf;
}

/** Checks a key to be written (it is copied later, straight into its journal record). */
export function checkKey(key: unknown): asserts key is Bytes {
  checkBytes(key, 'key', MAX_KEY_BYTES);
}

/** Checks a value to be written, as checkKey. */
export function checkValue(value: unknown): asserts value is Bytes {
  checkBytes(value, 'value', MAX_VALUE_BYTES);
}

function checkBytes(input: unknown, what: string, limit: number): void {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new TypeError(`${what} must be a string or a Uint8Array (got ${describe(input)})`);
  const length = byteLength(input);
  if (length > limit) throw new RangeError(`${what} is ${length} bytes; the limit is ${limit}`);
}

/** Bytes a key or value takes (UTF-8 for a string). */
export function byteLength(bytes: Bytes): number {
  return typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
}

/** For lookups only: the key's bytes without a copy (nothing keeps a reference to it). */
export function toKeyView(key: unknown): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (Buffer.isBuffer(key)) return key;
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  throw new TypeError(`key must be a string or a Uint8Array (got ${describe(key)})`);
}

export function toValue(value: unknown): Buffer {
  const buf = toBytes(value, 'value');
  if (buf.length > MAX_VALUE_BYTES) throw new RangeError(`value is ${buf.length} bytes; the limit is ${MAX_VALUE_BYTES}`);
  return buf;
}

function toBytes(input: unknown, what: string): Buffer {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (input instanceof Uint8Array) return Buffer.from(input);
  throw new TypeError(`${what} must be a string or a Uint8Array (got ${describe(input)})`);
}

/** The durability of one write. */
export type Durability = 'buffered' | 'sync';

export function toDurability(input: unknown, fallback: Durability): Durability {
  if (input === undefined) return fallback;
  if (input === 'buffered' || input === 'sync') return input;
  throw new TypeError(`durability must be 'buffered' or 'sync' (got ${describe(input)})`);
}

/** A boolean option, or its default. */
export function toBoolean(input: unknown, name: string, fallback: boolean): boolean {
  if (input === undefined) return fallback;
  if (typeof input !== 'boolean') throw new TypeError(`${name} must be a boolean (got ${describe(input)})`);
  return input;
}

/** A positive safe integer option, or its default. */
export function positiveInteger(input: unknown, name: string, fallback: number, min = 1): number {
  if (input === undefined) return fallback;
  if (typeof input !== 'number' || !Number.isSafeInteger(input)) throw new TypeError(`${name} must be an integer (got ${describe(input)})`);
  if (input < min) throw new RangeError(`${name} must be at least ${min} (got ${input})`);
  return input;
}

/**
 * The names of an options type, listed once. The parameter's type makes the compiler
 * reject a list that misses a name or invents one, so a new option cannot be left out of
 * the check in optionsObject.
 */
export function optionNames<T extends object>(names: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(names));
}

/**
 * The caller's options object ({} for undefined or null). A name not in `known` is a
 * RangeError naming it: a misspelt or not yet supported option must not be silently
 * ignored (a `readOnly: true` that opens a writable keyspace).
 */
export function optionsObject<T extends object>(input: unknown, name: string, known: readonly string[]): Partial<T> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object') throw new TypeError(`${name} must be an object (got ${describe(input)})`);
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      throw new RangeError(`${name}.${key} is not an option here (${known.length === 0 ? 'it takes none' : `known: ${known.join(', ')}`})`);
    }
  }
  return input as Partial<T>;
}

/** Key bounds of a range (`approximateSize`, `clear`, `compact`). Keys compare as bytes (strings as their UTF-8). */
export interface KeyBounds {
  /** Only keys greater than this. */
  gt?: Bytes;
  /** Only keys greater than or equal to this. */
  gte?: Bytes;
  /** Only keys less than this. */
  lt?: Bytes;
  /** Only keys less than or equal to this. */
  lte?: Bytes;
}

/** Range options of an iterator: key bounds, direction and limit. */
export interface RangeOptions extends KeyBounds {
  /** Descending key order. Default false. */
  reverse?: boolean;
  /** At most this many entries; -1 or Infinity for no limit. */
  limit?: number;
}

export const KEY_BOUNDS = optionNames<KeyBounds>({ gt: true, gte: true, lt: true, lte: true });

/** The bounds of `input` (an options object with only gt/gte/lt/lte), copied; every key when undefined. */
export function toBounds(input: unknown, name = 'range'): KeyRange {
  const options = optionsObject<KeyBounds>(input, name, KEY_BOUNDS);
  return toRange(options).range;
}

/**
 * The key bounds of a range delete as the half-open [start, end) a range tombstone
 * records (`gt k` starts at k's successor, `lte k` ends at it; the tighter bound wins when
 * both are given); end is empty when there is no upper bound. Undefined when the range
 * holds no key. Throws as toBounds, naming the option.
 */
export function toDeletionRange(input: unknown, name = 'range'): { start: Buffer; end: Buffer } | undefined {
  const bounds = toBounds(input, name);
  const starts = [bounds.gte, bounds.gt === undefined ? undefined : keySuccessor(bounds.gt)].filter((k) => k !== undefined);
  const ends = [bounds.lt, bounds.lte === undefined ? undefined : keySuccessor(bounds.lte)].filter((k) => k !== undefined);
  const start = starts.reduce((a, b) => (Buffer.compare(a, b) >= 0 ? a : b), Buffer.alloc(0));
  if (ends.length === 0) return { start, end: Buffer.alloc(0) };
  const end = ends.reduce((a, b) => (Buffer.compare(a, b) <= 0 ? a : b));
  return Buffer.compare(start, end) < 0 ? { start, end } : undefined;
}

export const RANGE_OPTIONS = optionNames<RangeOptions>({ gt: true, gte: true, lt: true, lte: true, reverse: true, limit: true });

export function toRange(options: RangeOptions): { range: KeyRange; limit: number } {
  const range: KeyRange = { reverse: false };
  for (const bound of ['gt', 'gte', 'lt', 'lte'] as const) {
    if (options[bound] !== undefined) range[bound] = toKey(options[bound], bound);
  }
  if (options.reverse !== undefined && typeof options.reverse !== 'boolean') throw new TypeError('reverse must be a boolean');
  range.reverse = options.reverse === true;
  let limit = Infinity;
  if (options.limit !== undefined && options.limit !== Infinity && options.limit !== -1) {
    if (typeof options.limit !== 'number' || !Number.isSafeInteger(options.limit) || options.limit < 0) {
      throw new RangeError(`limit must be a non-negative integer, -1 or Infinity (got ${describe(options.limit)})`);
    }
    limit = options.limit;
  }
  return { range, limit };
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value === 'string' ? `a string` : `${typeof value} ${String(value)}`;
}
