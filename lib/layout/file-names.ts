// Every file and directory name of the on-disk layout (docs/format.md) is made and
// parsed here and nowhere else. Pure functions; no I/O.
import * as path from 'node:path';
import { TEMP_MARKER } from '../fs/durable.js';

export const LOCK_FILE = 'LOCK';
export const KEYSPACE_FILE = 'keyspace.json';
export const JOURNAL_DIR = 'journal';
export const PARTITIONS_DIR = 'partitions';
export const SEGMENTS_DIR = 'segments';
export const CURRENT_FILE = 'CURRENT';

const NUMBER_WIDTH = 6;
const JOURNAL_RE = /^(\d{6,})\.jnl$/;
const SEGMENT_RE = /^(\d{6,})\.sst$/;
const MANIFEST_RE = /^MANIFEST-(\d{6,})$/;

function padded(n: number): string {
  return String(n).padStart(NUMBER_WIDTH, '0');
}

export function lockPath(root: string): string {
  return path.join(root, LOCK_FILE);
}

export function keyspaceFilePath(root: string): string {
  return path.join(root, KEYSPACE_FILE);
}

export function journalDir(root: string): string {
  return path.join(root, JOURNAL_DIR);
}

export function journalFileName(fileNumber: number): string {
  return `${padded(fileNumber)}.jnl`;
}

export function journalPath(root: string, fileNumber: number): string {
  return path.join(journalDir(root), journalFileName(fileNumber));
}

/** The journal file number in `name`, or undefined when it is not a journal file. */
export function parseJournalFileName(name: string): number | undefined {
  const m = JOURNAL_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function partitionsDir(root: string): string {
  return path.join(root, PARTITIONS_DIR);
}

export function partitionDir(root: string, partition: string): string {
  return path.join(partitionsDir(root), partition);
}

export function segmentsDir(partitionRoot: string): string {
  return path.join(partitionRoot, SEGMENTS_DIR);
}

export function segmentFileName(fileNumber: number): string {
  return `${padded(fileNumber)}.sst`;
}

export function segmentPath(partitionRoot: string, fileNumber: number): string {
  return path.join(segmentsDir(partitionRoot), segmentFileName(fileNumber));
}

export function parseSegmentFileName(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function currentPath(partitionRoot: string): string {
  return path.join(partitionRoot, CURRENT_FILE);
}

export function manifestFileName(fileNumber: number): string {
  return `MANIFEST-${padded(fileNumber)}`;
}

export function manifestPath(partitionRoot: string, fileNumber: number): string {
  return path.join(partitionRoot, manifestFileName(fileNumber));
}

export function parseManifestFileName(name: string): number | undefined {
  const m = MANIFEST_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

export { TEMP_MARKER } from '../fs/durable.js';

export function isTempName(name: string): boolean {
  return name.includes(TEMP_MARKER);
}

/**
 * The path prefix of the checkpoints a BackupEngine stages INSIDE the keyspace at `root`
 * (`<root>/backup.tmp-<hex>`, and backupTo's own staging inside that name): the same file
 * system by construction, so the checkpoint is hard links even when the keyspace is a
 * mount point, and a read-only parent does not matter. Only a process holding the
 * keyspace's lock makes them, so whoever next takes the lock may delete them.
 */
export function backupStagingPrefix(root: string): string {
  return path.join(root, `backup${TEMP_MARKER}`);
}

/** Where cairn before format 2 of backups staged them: beside the keyspace (`<root>.tmp-backup-`). */
export function legacyBackupStagingPrefix(root: string): string {
  return `${root}${TEMP_MARKER}backup-`;
}

const PARTITION_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Partition names: 1–64 characters of [A-Za-z0-9_.-], not starting with '.' or '-'. */
export function isValidPartitionName(name: unknown): name is string {
  return typeof name === 'string' && PARTITION_NAME_RE.test(name) && !name.includes(TEMP_MARKER);
}

/** Journal slots (positions of journal consumers such as the shipper): docs/format.md. */
export const SLOTS_FILE = 'slots.json';

export function slotsFilePath(root: string): string {
  return path.join(root, SLOTS_FILE);
}
