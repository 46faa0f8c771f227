// What a checkpoint and a keyspace say to each other. The keyspace offers a
// CheckpointSource (its cut, lib/keyspace/cut.ts); the protocol that builds the checkpoint
// from it lives above, in lib/checkpoint/, and reaches ks.backupTo through the slot below,
// filled once by lib/index.ts. Types and one module-level slot; main thread only.
import type { FileSystem } from '../fs/file-system.js';
import type { KeyspaceMeta } from '../layout/keyspace-meta.js';
import type { VersionState } from '../tree/manifest.js';

/**
 * What the keyspace captured at the cut. Everything named here is pinned (journal GC and
 * compactions leave the files alone) until release(), which may be called more than once.
 */
export interface CheckpointCut {
  /** Every write with seqno <= this is in the checkpoint, and no other. */
  seqno: number;
  /** Commit time (ms since the epoch) of the batch holding `seqno`; 0 when unknown. */
  timeMs: number;
  /** The registry as of the cut (keyspace id, partitions and their ids). */
  meta: KeyspaceMeta;
  /** Each partition's pinned version, and the partition's directory in the source. */
  partitions: { name: string; root: string; state: VersionState }[];
  /** Sealed journal files holding writes the pinned segments lack, oldest first. */
  journals: { fileNumber: number; path: string; bytes: number }[];
  /** Resolves once the journal files named above are durable (the seal of the cut's file runs off the write path). */
  journalDurable: Promise<void>;
  /** How long writers were held at the cut. */
  writePauseMicros: number;
  release(): void;
}

/** The keyspace's side of a checkpoint. */
export interface CheckpointSource {
  /** The keyspace directory. */
  readonly root: string;
  readonly fs: FileSystem;
  /** Throws CAIRN_CLOSED or CAIRN_POISONED: a keyspace that refuses writes is not checkpointed. */
  checkWritable(): void;
  /** Holds deletePartition back until the returned function is called (a checkpoint links any partition's files). */
  holdPartitions(): () => void;
  /** Takes the cut: waits until the journal can switch files without holding writers, then switches and pins, synchronously. */
  cut(): Promise<CheckpointCut>;
}

/** Where a checkpoint stands; handed to `onProgress` as each phase starts. */
export interface CheckpointProgress {
  phase: 'linking' | 'copying' | 'writing' | 'syncing' | 'done';
  /** Files of the checkpoint linked or copied so far, of `filesTotal`. */
  filesDone: number;
  filesTotal: number;
  /** Bytes of those files, of `bytesTotal`. */
  bytesDone: number;
  bytesTotal: number;
}
/** Options of `keyspace.backupTo`. */
export interface CheckpointOptions {
  /** Aborts the checkpoint: it rejects with CAIRN_ABORTED and leaves nothing at the destination. */
  signal?: AbortSignal;
  /** Called synchronously as each phase starts; if it throws, the checkpoint fails and is removed. */
  onProgress?: (progress: CheckpointProgress) => void;
}
/** What backupTo resolves with. */
export interface CheckpointResult {
  /** The checkpoint directory (absolute). */
  path: string;
  /** The checkpoint holds every write with a seqno up to this one, and no later one. */
  seqno: number;
  /** Commit time (ms since the epoch) of the batch holding `seqno`; 0 when unknown (written by an older cairn). */
  timeMs: number;
  /** The partitions it holds, as of the cut. */
  partitions: string[];
  /** Files hard-linked, and copied (all of them when the destination is on another file system). */
  filesLinked: number;
  filesCopied: number;
  /** Bytes of the linked files (no space used now), and bytes copied. */
  bytesLinked: number;
  bytesCopied: number;
  /** How long writers were held at the cut. */
  writePauseMicros: number;
  durationMs: number;
}

/** The online checkpoint protocol (lib/checkpoint/checkpoint.ts), given validated arguments. */
export type CheckpointProtocol = (source: CheckpointSource, dest: string, options: CheckpointOptions) => Promise<CheckpointResult>;

/**
 * The protocol behind ks.backupTo. The keyspace sits below lib/checkpoint/ and may not
 * import it, so the layer that sees both (lib/index.ts, the package's face) hands it in.
 */
let protocol: CheckpointProtocol | undefined;

/** @internal */
export function provideCheckpointProtocol(implementation: CheckpointProtocol): void {
  protocol = implementation;
}

/** @internal */
export function checkpointProtocol(): CheckpointProtocol {
  if (protocol === undefined) throw new Error('No checkpoint protocol: import Keyspace from the package (lib/index.ts), which provides it');
  return protocol;
}
