// NativeFileSystem: NodeFileSystem with the batch, sync, lock and device operations done
// by the C++ addon on the libuv pool (exact errno codes, flock, FICLONE/copy_file_range).
// Safe for concurrent calls. Arguments are validated here before any native call.
import { hasCode } from '../errors.js';
import type {
  BatchOptions,
  BatchResult,
  CopyOptions,
  CopyRequest,
  LockHandle,
  PathPair,
  SyncOptions,
} from './file-system.js';
import { requireNative, type NativeBinding } from './native-binding.js';
import {
  NodeFileSystem,
  lockedError,
  validateBatchOptions,
  validateCopyRequests,
  validatePairs,
  validatePath,
  validatePaths,
} from './node-file-system.js';

/** A single-path call reports a plain system error, not one positioned in a batch. */
function withoutBatchPosition(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) {
    delete (err as { index?: unknown }).index;
    delete (err as { completed?: unknown }).completed;
  }
  return err;
}

export class NativeFileSystem extends NodeFileSystem {
  override readonly kind: string = 'native';
  readonly #native: NativeBinding;

  /** Throws CairnError CAIRN_NATIVE_UNAVAILABLE when the addon cannot load (or CAIRN_NATIVE=0). */
  constructor(binding: NativeBinding = requireNative()) {
    super();
    this.#native = binding;
  }

  override async linkBatch(pairs: readonly PathPair[], options?: BatchOptions): Promise<BatchResult> {
    validatePairs(pairs);
    validateBatchOptions(options);
    return this.#native.linkBatch(
      pairs.map((pair) => pair[0]),
      pairs.map((pair) => pair[1]),
      options?.continueOnError === true,
    );
  }

  override async copyBatch(requests: readonly CopyRequest[], options?: CopyOptions): Promise<BatchResult> {
    const resolved = validateCopyRequests(requests, options);
    return this.#native.copyBatch(
      resolved.map((request) => request[0]),
      resolved.map((request) => request[1]),
      resolved.map((request) => request[2] ?? -1),
      options?.continueOnError === true,
    );
  }

  override async syncBatch(paths: readonly string[], options?: SyncOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    const dataOnly = options?.dataOnly;
    if (dataOnly !== undefined && typeof dataOnly !== 'boolean') throw new TypeError('options.dataOnly must be a boolean');
    return this.#native.syncBatch([...paths], dataOnly === true, options?.continueOnError === true);
  }

  override async syncDirs(paths: readonly string[], options?: BatchOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    return this.#native.syncDirs([...paths], options?.continueOnError === true);
  }

  override async syncFile(path: string, options?: { dataOnly?: boolean }): Promise<void> {
    validatePath(path);
    try {
      await this.#native.syncBatch([path], options?.dataOnly === true, false);
    } catch (err) {
      throw withoutBatchPosition(err);
    }
  }

  override async syncDir(path: string): Promise<void> {
    validatePath(path);
    try {
      await this.#native.syncDirs([path], false);
    } catch (err) {
      throw withoutBatchPosition(err);
    }
  }

  /** flock(LOCK_EX|LOCK_NB): excludes other processes and other opens in this one. */
  override async lock(path: string): Promise<LockHandle> {
    validatePath(path);
    let handle: number;
    try {
      handle = await this.#native.lock(path);
    } catch (err) {
      if (hasCode(err, 'CAIRN_LOCKED')) throw lockedError(path, err);
      throw err;
    }
    let released: Promise<void> | undefined;
    return {
      path,
      unlock: () => (released ??= this.#native.unlock(handle)),
    };
  }

  override async sameDevice(a: string, b: string): Promise<boolean> {
    validatePath(a, 'a');
    validatePath(b, 'b');
    return this.#native.sameDevice(a, b);
  }
}
