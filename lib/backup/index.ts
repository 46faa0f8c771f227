// cairn/backup: incremental backups of a keyspace into a directory or an S3 bucket.
export { BackupEngine, type BackupEncryption, type BackupEngineOptions, type BackupList, type BackupSummary } from './backup-engine.js';
export type { Compression } from './object-codec.js';
export type { UserKey } from './store-keys.js';
export type { DamagedBackup } from './catalog.js';
export type { BackupOptions, BackupResult } from './take-backup.js';
export type { RestoreOptions, RestoreResult } from './restore-backup.js';
export type { VerifyOptions, VerifyProblem, VerifyResult } from './verify-backup.js';
export type { PruneOptions, PruneResult } from './prune-backups.js';
export type { BackupPhase, BackupProgress, ProgressListener } from './progress.js';
export type { BackupManifest, ManifestFile, StoreEncryption, StoreInfo } from './manifest.js';
export type { BackupStore, StoreBody, StoreGetOptions, StoreListPage, StoreObjectInfo, StorePutOptions } from './store.js';
export { openStore, type OpenStoreOptions } from './open-store.js';
export { Shipper, type ShipOptions, type ShipperStats, type ShipperStopOptions, type ShipperWaitOptions, type ShippedEvent } from './shipper.js';
export type { PointInTimeResult, RestorePlan } from './point-in-time.js';
export type { RestoreWindow } from './shipped-catalog.js';
export { BackupSchedule, type ScheduleOptions, type ScheduleStats } from './schedule.js';
export { Follower, FollowerPartition, type FollowerOptions, type FollowerStats, type FollowerProblem, type FollowerWaitOptions, type FollowerAppliedEvent, type FollowerRebasedEvent } from './follower.js';
