// Argument checks and error shapes shared by every BackupStore implementation, so a
// file:// and an s3:// store reject the same calls with the same codes. Pure functions.
import { TEMP_MARKER } from '../fs/durable.js';
import { Readable } from 'node:stream';
import { CairnError, ErrorCodes, systemError } from '../errors.js';
import type { StoreBody, StoreGetOptions, StorePutOptions } from './store.js';

/** Longest key, in bytes: S3's limit, and far below any file system's path limit. */
export const MAX_KEY_LENGTH = 1024;
/** Largest page a listing returns (S3's own cap). */
export const MAX_LIST_LIMIT = 1000;

const KEY_CHARS = /^[A-Za-z0-9._/-]*$/;
/** Temp files of an in-flight FileStore put end in `.tmp-<hex>`; such keys would be invisible to list. */

/**
 * Throws TypeError unless `key` is a relative '/'-separated path of [A-Za-z0-9._-]
 * segments: no empty, '.' or '..' segment (so no leading, trailing or doubled '/'),
 * nothing that looks like a store's temp file. RangeError above MAX_KEY_LENGTH.
 */
export function validateKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string') throw new TypeError(`${what} must be a string`);
  if (key.length === 0) throw new TypeError(`${what} must not be empty`);
  if (key.length > MAX_KEY_LENGTH) throw new RangeError(`${what} is ${key.length} characters; the limit is ${MAX_KEY_LENGTH}`);
  if (!KEY_CHARS.test(key)) throw new TypeError(`${what} may only contain A-Z a-z 0-9 . _ - and '/' (got ${JSON.stringify(key)})`);
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new TypeError(`${what} must be a relative path without empty, '.' or '..' segments (got ${JSON.stringify(key)})`);
    }
    if (segment.includes(TEMP_MARKER)) throw new TypeError(`${what} must not contain '${TEMP_MARKER}' (reserved for temp files)`);
  }
}

/** A list prefix: empty, or the start of a valid key (it may end in '/' or mid-segment). */
export function validatePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw new TypeError('prefix must be a string');
  if (prefix.length === 0) return;
  if (prefix.length > MAX_KEY_LENGTH) throw new RangeError(`prefix is ${prefix.length} characters; the limit is ${MAX_KEY_LENGTH}`);
  if (!KEY_CHARS.test(prefix)) throw new TypeError(`prefix may only contain A-Z a-z 0-9 . _ - and '/' (got ${JSON.stringify(prefix)})`);
  // The last piece may be a partial segment ('files/ab'); every one before it is whole.
  for (const segment of prefix.split('/').slice(0, -1)) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new TypeError(`prefix must be a relative path without empty, '.' or '..' segments (got ${JSON.stringify(prefix)})`);
    }
  }
}

/** Checks list options and returns the page size. */
export function validateListOptions(options: unknown): { cursor: string | undefined; limit: number } {
  if (options === undefined) return { cursor: undefined, limit: MAX_LIST_LIMIT };
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { cursor, limit } = options as { cursor?: unknown; limit?: unknown };
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length === 0)) throw new TypeError('cursor must be a non-empty string from a previous page');
  if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  }
  return { cursor, limit: limit ?? MAX_LIST_LIMIT };
}

/** Checks a put body: bytes, or a Readable with a non-negative safe-integer size. */
export function validateBody(body: unknown): asserts body is StoreBody {
  if (body instanceof Uint8Array) return;
  if (typeof body !== 'object' || body === null) throw new TypeError('body must be a Uint8Array or { stream, size }');
  const { stream, size } = body as { stream?: unknown; size?: unknown };
  if (!(stream instanceof Readable)) throw new TypeError('body.stream must be a Readable');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new RangeError('body.size must be a non-negative safe integer');
}

export function validatePutOptions(options: unknown): StorePutOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { ifNoneMatch, signal, sha256 } = options as { ifNoneMatch?: unknown; signal?: unknown; sha256?: unknown };
  if (ifNoneMatch !== undefined && typeof ifNoneMatch !== 'boolean') throw new TypeError('options.ifNoneMatch must be a boolean');
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) throw new TypeError('options.sha256 must be 64 lowercase hex digits');
  validateSignal(signal);
  return options as StorePutOptions;
}

export function validateGetOptions(options: unknown): StoreGetOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  validateSignal((options as { signal?: unknown }).signal);
  return options as StoreGetOptions;
}

function validateSignal(signal: unknown): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('options.signal must be an AbortSignal');
}

/** CAIRN_NOT_FOUND for a missing object, with the key in `details`. */
export function objectNotFound(key: string, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.NOT_FOUND, `No object '${key}' in the store`, { cause, details: { key } });
}

/** CAIRN_CLOSED for a call after close(). */
export function storeClosed(url: string): CairnError {
  return new CairnError(ErrorCodes.CLOSED, `The store ${url} is closed`, { details: { url } });
}

/** A store-level EEXIST (the shape of Node's system errors plus the key), for `ifNoneMatch` on an existing object. */
export interface ObjectExistsError extends Error {
  code: 'EEXIST';
  errno: number;
  key: string;
}

export function objectExists(key: string, cause?: unknown): ObjectExistsError {
  const err = systemError('EEXIST', 'put', { description: `object '${key}' already exists`, cause }) as ObjectExistsError;
  err.key = key;
  return err;
}

/** The body stream ended early or ran past its declared size (`actual` counts what was read before noticing). */
export function sizeMismatch(key: string, declared: number, actual: number): RangeError {
  const produced = actual > declared ? `more than ${declared}` : `${actual}`;
  return new RangeError(`body of '${key}' declared ${declared} bytes but the stream produced ${produced}`);
}
