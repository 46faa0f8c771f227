// Argument checks of the FileSystem seam, shared by every implementation (pure
// TypeScript, native, fault wrapper) so that all throw the same TypeError/RangeError
// before touching the disk. Pure functions.
import type { BatchOptions, CopyOptions, PathPair } from './file-system.js';

/** Throws TypeError unless `value` is a non-empty string without NUL bytes. */
export function validatePath(value: unknown, name = 'path'): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string`);
  if (value.length === 0) throw new TypeError(`${name} must not be empty`);
  if (value.includes('\0')) throw new TypeError(`${name} must not contain NUL bytes`);
}

/** True for a string validatePath accepts; the batch checks use it so a name is built only for a bad item. */
function isValidPath(value: unknown): value is string {
  return typeof value === 'string' && value.length !== 0 && !value.includes('\0');
}

/** Throws TypeError unless `paths` is an array of valid paths. */
export function validatePaths(paths: unknown, name = 'paths'): asserts paths is readonly string[] {
  if (!Array.isArray(paths)) throw new TypeError(`${name} must be an array`);
  for (let i = 0; i < paths.length; i++) if (!isValidPath(paths[i])) validatePath(paths[i], `${name}[${i}]`);
}

/** Throws TypeError unless `pairs` is an array of [from, to] string pairs. */
export function validatePairs(pairs: unknown, name = 'pairs'): asserts pairs is readonly PathPair[] {
  if (!Array.isArray(pairs)) throw new TypeError(`${name} must be an array`);
  for (let i = 0; i < pairs.length; i++) {
    const pair: unknown = pairs[i];
    if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError(`${name}[${i}] must be a [from, to] pair`);
    if (!isValidPath(pair[0])) validatePath(pair[0], `${name}[${i}][0]`);
    if (!isValidPath(pair[1])) validatePath(pair[1], `${name}[${i}][1]`);
  }
}

/** Throws TypeError/RangeError unless `value` is a non-negative safe integer byte count. */
export function validateLimit(value: unknown, name = 'limitBytes'): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer`);
}

/** Throws TypeError unless `options` is undefined or an object whose flags are booleans. */
export function validateBatchOptions(options: unknown): asserts options is BatchOptions | undefined {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { continueOnError } = options as BatchOptions;
  if (continueOnError !== undefined && typeof continueOnError !== 'boolean') {
    throw new TypeError('options.continueOnError must be a boolean');
  }
}

/** A copy request with its effective limit resolved (undefined = whole file). */
export type ResolvedCopy = readonly [from: string, to: string, limitBytes: number | undefined];

/** Validates copy requests and options, resolving each item's limit (the per-item one wins). */
export function validateCopyRequests(requests: unknown, options?: unknown): ResolvedCopy[] {
  validateBatchOptions(options);
  const defaultLimit = (options as CopyOptions | undefined)?.limitBytes;
  if (defaultLimit !== undefined) validateLimit(defaultLimit, 'options.limitBytes');
  if (!Array.isArray(requests)) throw new TypeError('requests must be an array');
  return requests.map((request, i): ResolvedCopy => {
    if (!Array.isArray(request) || (request.length !== 2 && request.length !== 3)) {
      throw new TypeError(`requests[${i}] must be a [from, to] or [from, to, limitBytes] tuple`);
    }
    validatePath(request[0], `requests[${i}][0]`);
    validatePath(request[1], `requests[${i}][1]`);
    if (request.length === 3) {
      validateLimit(request[2], `requests[${i}][2]`);
      return [request[0], request[1], request[2]];
    }
    return [request[0], request[1], defaultLimit];
  });
}
