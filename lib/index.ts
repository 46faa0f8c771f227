// cairn's public face: the keyspace API of docs/ and the error type. Importing it also
// hands the checkpoint protocol (lib/checkpoint/) to the keyspace below it, which may not
// import it itself: every Keyspace a user can get has a working backupTo.
import { provideCheckpointProtocol } from './keyspace/checkpoint-source.js';
import { backupTo } from './checkpoint/checkpoint.js';

provideCheckpointProtocol(backupTo);

export { Keyspace, type BackgroundError, type KeyspaceOptions, type KeyspaceStats, type WriteOptions, type CompactionOptions, type CompactionRunOptions } from './keyspace/keyspace.js';
export type { LeveledConfig } from './compaction/leveled.js';
export type { FifoConfig } from './compaction/fifo.js';
export type { PartitionStats } from './tree/tree.js';
export type { CheckResult } from './keyspace/content-check.js';
export type { CheckpointOptions, CheckpointProgress, CheckpointResult } from './keyspace/checkpoint-source.js';
export { Partition, type ReadOptions, type IteratorOptions, type PartitionIterator } from './keyspace/partition.js';
export { WriteBatch } from './keyspace/write-batch.js';
export { Snapshot } from './keyspace/snapshot.js';
export type { Bytes, Durability, KeyBounds, RangeOptions } from './keyspace/arguments.js';
export { CairnError, ErrorCodes, type ErrorCode, type CairnErrorOptions, type SystemError } from './errors.js';
export type {
  FileSystem,
  FileHandle,
  ReadHandle,
  LockHandle,
  FileStat,
  OpenMode,
  MkdirResult,
  PathPair,
  CopyRequest,
  CopyMethod,
  BatchOptions,
  CopyOptions,
  SyncOptions,
  BatchResult,
  ItemOutcome,
  BatchItemError,
} from './fs/file-system.js';
