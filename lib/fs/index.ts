// The face of the file-system layer: the seam's types, its implementations, the
// durability helpers, and the choice of the default implementation (made once per process).
import type { FileSystem } from './file-system.js';
import { loadNative, nativeLoadError } from './native-binding.js';
import { NativeFileSystem } from './native-file-system.js';
import { NodeFileSystem } from './node-file-system.js';

export * from './file-system.js';
export { NodeFileSystem } from './node-file-system.js';
export { NativeFileSystem } from './native-file-system.js';
export { FaultFileSystem, replaceRoot } from './fault-file-system.js';
export type { FaultOp, FaultRule, InjectedFault, FaultFileSystemOptions } from './fault-file-system.js';
export { writeFileAtomic, mkdirDurable, syncParent, renameDurable, removeTreeDurable, tempPathFor, TEMP_MARKER, linkOrCopyBatch, publishDirectory, destinationExists } from './durable.js';

/** Why the default file system is what it is. */
export interface FileSystemChoice {
  kind: 'native' | 'node';
  reason: 'addon loaded' | 'CAIRN_NATIVE=0' | 'addon failed to load';
  /** Why the addon did not load, when it did not. */
  error?: unknown;
}

let chosen: { choice: FileSystemChoice; fs: FileSystem } | undefined;

function choose(): { choice: FileSystemChoice; fs: FileSystem } {
  if (chosen !== undefined) return chosen;
  if (process.env.CAIRN_NATIVE === '0') {
    chosen = { choice: { kind: 'node', reason: 'CAIRN_NATIVE=0' }, fs: new NodeFileSystem() };
  } else if (loadNative() === undefined) {
    chosen = { choice: { kind: 'node', reason: 'addon failed to load', error: nativeLoadError() }, fs: new NodeFileSystem() };
  } else {
    chosen = { choice: { kind: 'native', reason: 'addon loaded' }, fs: new NativeFileSystem() };
  }
  return chosen;
}

/** The shared default: NativeFileSystem when the addon loads and CAIRN_NATIVE is not '0', else NodeFileSystem. */
export function defaultFileSystem(): FileSystem {
  return choose().fs;
}

/** Which implementation defaultFileSystem() returns, and why (for diagnostics and `cairn info`). */
export function fileSystemKind(): FileSystemChoice {
  return { ...choose().choice };
}
