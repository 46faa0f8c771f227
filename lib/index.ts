// cairn's public face: the keyspace API (README.md, "Use it"), its option and result types,
// the FileSystem seam's types (for the `fs` option), and the error type.
export { Keyspace, type KeyspaceOptions, type KeyspaceStats, type WriteOptions, type CompactionOptions, type CompactionRunOptions } from './keyspace/keyspace.js';
export type { LeveledConfig } from './compaction/leveled.js';
export type { FifoConfig } from './compaction/fifo.js';
export type { PartitionStats } from './tree/tree.js';
export type { CheckpointOptions, CheckpointProgress, CheckpointResult } from './checkpoint/checkpoint.js';
export { Partition, type ReadOptions, type IteratorOptions } from './keyspace/partition.js';
export { WriteBatch } from './keyspace/write-batch.js';
export { Snapshot } from './keyspace/snapshot.js';
export type { Bytes, Durability, RangeOptions } from './keyspace/arguments.js';
export { CairnError, ErrorCodes, type ErrorCode, type CairnErrorOptions, type SystemError } from './errors.js';
export type {
  FileSystem,
  FileHandle,
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
