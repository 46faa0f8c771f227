// The two JSON documents of a backup store: store.json (whose keyspace the store serves)
// and the per-backup manifest backups/<id>.json. Encoding, strict parsing (anything
// malformed is CAIRN_CORRUPTION) and backup ids. Pure functions apart from the clock
// and randomness handed in.
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import { CairnError, ErrorCodes } from '../errors.js';
import { isBackupId, isSha256 } from './store-layout.js';

/**
 * Version of store.json and of manifests that new stores get; a reader refuses anything
 * newer. Format 1: objects are the files' bytes, manifests plain JSON. Format 2: every
 * object goes through the object codec (compressed, optionally encrypted).
 */
export const BACKUP_FORMAT = 2;

/** How a format-2 store encrypts: the store's keys, wrapped by the user's key. */
export interface StoreEncryption {
  algorithm: 'aes-256-gcm';
  /** base64 of nonce ‖ AES-256-GCM(dataKey ‖ nameKey) ‖ tag, under the user's key, bound to storeId. */
  wrappedKeys: string;
}

/** store.json: written by the first backup, naming the keyspace whose backups the store holds. */
export interface StoreInfo {
  format: number;
  /** A UUID made when the store was first written. */
  storeId: string;
  /** The keyspace whose backups the store holds; another keyspace needs `force`. */
  keyspaceId: string;
  createdAt: string;
  /** Format 2: the compression backups use unless the engine is told otherwise. */
  compression?: 'zstd' | 'gzip' | 'none';
  /** Format 2, encrypted stores only. */
  encryption?: StoreEncryption;
  /** Encrypted stores: HMAC of every other field under the name key (a changed field is detected). */
  mac?: string;
}

/** One file of a backup; its content is the store object named by its sha256. */
export interface ManifestFile {
  /** Path inside the keyspace directory, '/'-separated (e.g. 'partitions/users/segments/000012.sst'). */
  path: string;
  sha256: string;
  size: number;
  /** Format 2: bytes of the stored object (compressed, framed, maybe encrypted). */
  stored?: number;
}

/** A backup: `backups/<id>.json` in the store, written after all its content (see docs/backups.md). */
export interface BackupManifest {
  id: string;
  format: number;
  /** The backed-up keyspace's UUID (keyspace.json's `id`). */
  keyspaceId: string;
  /** Every write with a seqno up to this one is in the backup, and no later one. */
  seqno: number;
  /** Commit time (ms since the epoch) of the batch holding `seqno`; absent when unknown (older cairn). */
  timeMs?: number;
  createdAt: string;
  label: string | undefined;
  partitions: string[];
  /** Directories of the keyspace, '/'-separated, parents first (some may hold no file). */
  directories: string[];
  files: ManifestFile[];
  totals: { files: number; bytes: number };
  /** The cairn version that wrote the backup. */
  cairnVersion: string;
}

/** Sortable by time first (UTC, second resolution), then 8 random hex digits. */
export function newBackupId(nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

function corrupt(what: string, key: string, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `Malformed ${what} in the backup store: ${key}`, { cause, details: { key } });
}

function parseObject(bytes: Uint8Array, what: string, key: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw corrupt(what, key, err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(what, key);
  const record = value as Record<string, unknown>;
  if (typeof record.format !== 'number') throw corrupt(what, key);
  if (record.format > BACKUP_FORMAT) {
    throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `${key} has format ${record.format}, newer than this cairn supports (${BACKUP_FORMAT})`, {
      details: { key, format: record.format },
    });
  }
  return record;
}

export function parseStoreInfo(bytes: Uint8Array, key: string): StoreInfo {
  const r = parseObject(bytes, 'store.json', key);
  if (typeof r.storeId !== 'string' || typeof r.keyspaceId !== 'string' || typeof r.createdAt !== 'string') throw corrupt('store.json', key);
  const info: StoreInfo = { format: r.format as number, storeId: r.storeId, keyspaceId: r.keyspaceId, createdAt: r.createdAt };
  if (info.format >= 2) {
    if (r.compression !== 'zstd' && r.compression !== 'gzip' && r.compression !== 'none') throw corrupt('store.json', key);
    info.compression = r.compression;
    if (r.encryption !== undefined && r.encryption !== null) {
      const e = r.encryption as Partial<StoreEncryption>;
      if (typeof e !== 'object' || e.algorithm !== 'aes-256-gcm' || typeof e.wrappedKeys !== 'string' || typeof r.mac !== 'string') throw corrupt('store.json', key);
      info.encryption = { algorithm: e.algorithm, wrappedKeys: e.wrappedKeys };
      info.mac = r.mac;
    }
  }
  return info;
}

/**
 * A manifest's file paths become paths under a restore directory, so they must stay
 * inside it: relative, '/'-separated, no '.', '..' or empty segments.
 */
export function isSafeRelativePath(p: unknown): p is string {
  if (typeof p !== 'string' || p.length === 0 || p.includes('\\') || p.includes('\0') || nodePath.posix.isAbsolute(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

export function parseManifest(bytes: Uint8Array, key: string): BackupManifest {
  const r = parseObject(bytes, 'backup manifest', key);
  const bad = () => corrupt('backup manifest', key);
  if (!isBackupId(r.id) || typeof r.keyspaceId !== 'string' || !isCount(r.seqno)) throw bad();
  if (typeof r.createdAt !== 'string' || Number.isNaN(Date.parse(r.createdAt))) throw bad();
  if (r.label !== undefined && r.label !== null && typeof r.label !== 'string') throw bad();
  if (!Array.isArray(r.partitions) || !r.partitions.every((p) => typeof p === 'string')) throw bad();
  if (!Array.isArray(r.directories) || !r.directories.every(isSafeRelativePath)) throw bad();
  if (!Array.isArray(r.files)) throw bad();
  const files: ManifestFile[] = [];
  const seen = new Set<string>();
  for (const f of r.files as unknown[]) {
    const file = f as Partial<ManifestFile> | null;
    if (typeof file !== 'object' || file === null || !isSafeRelativePath(file.path) || !isSha256(file.sha256) || !isCount(file.size)) throw bad();
    if (file.stored !== undefined && !isCount(file.stored)) throw bad();
    if (seen.has(file.path)) throw bad();
    seen.add(file.path);
    files.push(file.stored === undefined ? { path: file.path, sha256: file.sha256, size: file.size } : { path: file.path, sha256: file.sha256, size: file.size, stored: file.stored });
  }
  const totals = r.totals as BackupManifest['totals'] | undefined;
  if (typeof totals !== 'object' || totals === null || !isCount(totals.files) || !isCount(totals.bytes)) throw bad();
  return {
    id: r.id,
    format: r.format as number,
    keyspaceId: r.keyspaceId,
    seqno: r.seqno,
    timeMs: isCount(r.timeMs) && r.timeMs > 0 ? r.timeMs : undefined,
    createdAt: r.createdAt,
    label: typeof r.label === 'string' ? r.label : undefined,
    partitions: r.partitions as string[],
    directories: r.directories as string[],
    files,
    totals: { files: totals.files, bytes: totals.bytes },
    cairnVersion: typeof r.cairnVersion === 'string' ? r.cairnVersion : 'unknown',
  };
}
