// Loads the C++ addon (native/) in exactly one place, once per process, through
// node-gyp-build: build/Release first, then prebuilds/<platform>-<arch>/. The loaded
// binding is safe to call concurrently; every call runs on the libuv thread pool.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { CairnError, ErrorCodes } from '../errors.js';
import type { BatchItemError, CopyMethod } from './file-system.js';

/**
 * A list of paths for the addon: an array, or the paths joined by NUL bytes (one string
 * crosses into C++ far faster than thousands; "" is the empty list).
 */
export type NativePathList = readonly string[] | string;

/**
 * How a batch resolved (stop mode rejects instead, with `index` and `completed` on the
 * error). Compact on purpose: nothing per item unless it failed or was a copy.
 */
export interface NativeBatchResult {
  /** Items that succeeded. */
  completed: number;
  /** Bytes copied (copyBatch only; 0 otherwise). */
  bytes: number;
  /** Each failed item's error, carrying its `index`, in index order (continue mode only). */
  failures: BatchItemError[];
  /** copyBatch only: bytes copied per item. */
  itemBytes?: Float64Array;
  /** copyBatch only: per item, an index into COPY_METHODS (meaningful where the item succeeded). */
  methods?: Uint8Array;
}

/** The addon's CopyMethod values (native/posix-ops.h), in order. */
export const COPY_METHODS: readonly CopyMethod[] = ['clone', 'copy_file_range', 'readwrite'];

/**
 * The addon's exports, exactly as native/binding.cc defines them. Each batch spreads its
 * items over up to UV_THREADPOOL_SIZE (default 4) threads, claiming them in index order.
 */
export interface NativeBinding {
  linkBatch(froms: NativePathList, tos: NativePathList, continueOnError: boolean): Promise<NativeBatchResult>;
  /** `limits[i]` is a byte count, or -1 for the whole file. */
  copyBatch(froms: NativePathList, tos: NativePathList, limits: number[], continueOnError: boolean): Promise<NativeBatchResult>;
  syncBatch(paths: NativePathList, dataOnly: boolean, continueOnError: boolean): Promise<NativeBatchResult>;
  syncDirs(paths: NativePathList, continueOnError: boolean): Promise<NativeBatchResult>;
  /** Resolves a handle for unlock(); rejects with code CAIRN_LOCKED when the file is held. */
  lock(path: string): Promise<number>;
  /** Rejects with EBADF for a handle that lock() did not hand out or that was already unlocked. */
  unlock(handle: number): Promise<void>;
  sameDevice(a: string, b: string): Promise<boolean>;
  /** true once renamed; false where RENAME_NOREPLACE is unsupported (nothing done); EEXIST when `to` exists. */
  renameNoReplace(from: string, to: string): Promise<boolean>;
}

const PACKAGE_NAME = 'cairn';

type LoadState = { binding: NativeBinding } | { error: unknown };
let state: LoadState | undefined;

/**
 * The package root: the nearest directory above this file whose package.json is ours.
 * This file runs from lib/fs/ (sources under a TS loader) and from dist/fs/ (built).
 */
export function packageRoot(): string {
  const start = nodePath.dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = nodePath.dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(nodePath.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (manifest.name === PACKAGE_NAME) return dir;
    } catch {
      // No (readable) package.json here; keep climbing.
    }
    if (nodePath.dirname(dir) === dir) throw new Error(`no package.json named "${PACKAGE_NAME}" above ${start}`);
  }
}

/**
 * CAIRN_NATIVE=0 is not consulted here: it only makes the default file system the
 * pure-TypeScript one (lib/fs/index.ts, which then never calls this). The addon asked for
 * by name (a NativeFileSystem, its own tests) still loads.
 */
function load(): LoadState {
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding;
    return { binding: nodeGypBuild(packageRoot()) };
  } catch (error) {
    return { error };
  }
}

/** The addon, or undefined when it cannot load. Loads once; later calls are cached. */
export function loadNative(): NativeBinding | undefined {
  state ??= load();
  return 'binding' in state ? state.binding : undefined;
}

/** Why loadNative() returned undefined (the load error); undefined when loaded. */
export function nativeLoadError(): unknown {
  state ??= load();
  return 'binding' in state ? undefined : state.error;
}

/** The addon, or a CairnError CAIRN_NATIVE_UNAVAILABLE whose cause says why it is missing. */
export function requireNative(): NativeBinding {
  const binding = loadNative();
  if (binding !== undefined) return binding;
  throw new CairnError(ErrorCodes.NATIVE_UNAVAILABLE, 'The cairn native addon is not available', {
    cause: nativeLoadError(),
  });
}
