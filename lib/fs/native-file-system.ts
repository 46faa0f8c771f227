// NativeFileSystem: NodeFileSystem with the batch, sync, lock and device operations done
// by the C++ addon on the libuv pool (exact errno codes, flock, FICLONE/copy_file_range),
// each batch spread over several threads. Safe for concurrent calls. Arguments are
// validated here before any native call.
import { hasCode } from '../errors.js';
import type {
  BatchOptions,
  BatchResult,
  CopyOptions,
  CopyRequest,
  ItemOutcome,
  LockHandle,
  PathPair,
  SyncOptions,
} from './file-system.js';
import { COPY_METHODS, requireNative, type NativeBatchResult, type NativeBinding } from './native-binding.js';
import { NodeFileSystem, lockedError } from './node-file-system.js';
import { validateBatchOptions, validateCopyRequests, validatePairs, validatePath, validatePaths } from './arguments.js';

/** A single-path call reports a plain system error, not one positioned in a batch. */
function withoutBatchPosition(err: unknown): unknown {
  if (typeof err === 'object' && err !== null) {
    delete (err as { index?: unknown }).index;
    delete (err as { completed?: unknown }).completed;
  }
  return err;
}

/** Sources and destinations as the two NUL-joined lists the addon takes. */
function joinPairs(pairs: readonly (readonly [string, string, ...unknown[]])[]): [froms: string, tos: string] {
  const froms = new Array<string>(pairs.length);
  const tos = new Array<string>(pairs.length);
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as PathPair;
    froms[i] = pair[0];
    tos[i] = pair[1];
  }
  return [froms.join('\0'), tos.join('\0')];
}

/** Expands the addon's compact result into the seam's one outcome per item. */
function expand(count: number, raw: NativeBatchResult): BatchResult {
  const items = new Array<ItemOutcome>(count);
  const { itemBytes, methods } = raw;
  if (itemBytes !== undefined && methods !== undefined) {
    for (let i = 0; i < count; i++) {
      items[i] = { ok: true, bytes: itemBytes[i] as number, method: COPY_METHODS[methods[i] as number] ?? 'readwrite' };
    }
  } else {
    for (let i = 0; i < count; i++) items[i] = { ok: true };
  }
  for (const error of raw.failures) items[error.index as number] = { ok: false, error };
  return { completed: raw.completed, items, bytes: raw.bytes };
}

export class NativeFileSystem extends NodeFileSystem {
  override readonly kind: string = 'native';
  readonly #native: NativeBinding;

  /** Throws CairnError CAIRN_NATIVE_UNAVAILABLE when the addon cannot load. */
  constructor(binding: NativeBinding = requireNative()) {
    super();
    this.#native = binding;
  }

  override async linkBatch(pairs: readonly PathPair[], options?: BatchOptions): Promise<BatchResult> {
    validatePairs(pairs);
    validateBatchOptions(options);
    const [froms, tos] = joinPairs(pairs);
    return expand(pairs.length, await this.#native.linkBatch(froms, tos, options?.continueOnError === true));
  }

  override async copyBatch(requests: readonly CopyRequest[], options?: CopyOptions): Promise<BatchResult> {
    const resolved = validateCopyRequests(requests, options);
    const [froms, tos] = joinPairs(resolved);
    const limits = resolved.map((request) => request[2] ?? -1);
    return expand(resolved.length, await this.#native.copyBatch(froms, tos, limits, options?.continueOnError === true));
  }

  override async syncBatch(paths: readonly string[], options?: SyncOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    const dataOnly = options?.dataOnly;
    if (dataOnly !== undefined && typeof dataOnly !== 'boolean') throw new TypeError('options.dataOnly must be a boolean');
    const raw = await this.#native.syncBatch(paths.join('\0'), dataOnly === true, options?.continueOnError === true);
    return expand(paths.length, raw);
  }

  override async syncDirs(paths: readonly string[], options?: BatchOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    return expand(paths.length, await this.#native.syncDirs(paths.join('\0'), options?.continueOnError === true));
  }

  override async syncFile(path: string, options?: { dataOnly?: boolean }): Promise<void> {
    validatePath(path);
    try {
      await this.#native.syncBatch(path, options?.dataOnly === true, false);
    } catch (err) {
      throw withoutBatchPosition(err);
    }
  }

  override async syncDir(path: string): Promise<void> {
    validatePath(path);
    try {
      await this.#native.syncDirs(path, false);
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

  override async renameNoReplace(from: string, to: string): Promise<void> {
    validatePath(from, 'from');
    validatePath(to, 'to');
    // false: the kernel or the file system lacks RENAME_NOREPLACE; nothing was done.
    if (!(await this.#native.renameNoReplace(from, to))) await super.renameNoReplace(from, to);
  }

  override async sameDevice(a: string, b: string): Promise<boolean> {
    validatePath(a, 'a');
    validatePath(b, 'b');
    return this.#native.sameDevice(a, b);
  }
}
