// What a BackupEngine operation needs (the store, the file system, the clock, tunables)
// and the reading side of the store's catalog: store.json, the manifests, 'latest'.
// Readers go manifest → files, so a listed backup is always a complete one. Stateless.
import { randomUUID } from 'node:crypto';
import type { FileSystem } from '../fs/file-system.js';
import type { FileCheck } from '../keyspace/content-check.js';
import { CairnError, ErrorCodes, hasCode } from '../errors.js';
import type { BackupStore } from './store.js';
import { BACKUP_FORMAT, type BackupManifest, type StoreInfo, encodeJson, parseManifest, parseStoreInfo } from './manifest.js';
import { type Compression, effectiveCompression } from './object-codec.js';
import { type StoreCodec, macFields, openStoreCodec } from './store-codec.js';
import { newStoreKeys, storeInfoMac, wrapStoreKeys } from './store-keys.js';
import { BACKUPS_PREFIX, STORE_FILE_KEY, isBackupId, manifestKey, parseManifestKey } from './store-layout.js';
import { listAll, readObject } from './store-objects.js';

export interface EngineContext {
  store: BackupStore;
  fs: FileSystem;
  /** SHA-256 and size of a local file: on the hash threads, or through `fs` when that is an injected seam no thread can share. */
  hashFile: (path: string, signal?: AbortSignal, onBytes?: (n: number) => void, check?: FileCheck) => Promise<{ sha256: string; size: number }>;
  /** Copies a local file to a new fsynced file, hashing what it writes, on the hash threads; undefined without them. */
  copyHashed: ((from: string, to: string, signal?: AbortSignal, onBytes?: (n: number) => void) => Promise<{ sha256: string; size: number }>) | undefined;
  /** Milliseconds since the epoch; injectable so retention can be tested without waiting. */
  clock: () => number;
  leaseTtlMs: number;
  graceMs: number;
  cairnVersion: string;
  /** The compression asked for (undefined: the store's, or for a new store the default). */
  compression: Compression | undefined;
  /** The user's 32-byte key for an encrypted store. */
  userKey: Buffer | undefined;
  /** True when `fs` is an injected seam: the codec work runs on this thread through it. */
  injected: boolean;
}

/** store.json, or undefined for a store no backup has used yet. */
export async function readStoreInfo(store: BackupStore): Promise<StoreInfo | undefined> {
  try {
    return parseStoreInfo(await readObject(store, STORE_FILE_KEY), STORE_FILE_KEY);
  } catch (err) {
    if (hasCode(err, ErrorCodes.NOT_FOUND)) return undefined;
    throw err;
  }
}

/**
 * store.json, for an operation that only reads: a store without one does not exist
 * (nothing was ever backed up there, or the URL has a typo), CAIRN_NOT_FOUND. Only a
 * backup creates a store.
 */
export async function requireStore(store: BackupStore): Promise<StoreInfo> {
  const info = await readStoreInfo(store);
  if (info === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `No backup store at ${store.url} (no ${STORE_FILE_KEY}; only a backup creates one)`, { details: { url: store.url } });
  return info;
}

/** store.json and the codec it implies, for an operation that only reads (CAIRN_NOT_FOUND, CAIRN_BAD_KEY). */
export async function openExistingStore(ctx: EngineContext): Promise<{ info: StoreInfo; codec: StoreCodec }> {
  const info = await requireStore(ctx.store);
  return { info, codec: openStoreCodec(info, ctx.userKey, ctx.compression, ctx.store.url) };
}

/**
 * The store's owner: creates store.json for `keyspaceId` on first use (exclusively, so
 * of two first backups racing one wins and the other reads its file), and refuses a
 * store owned by another keyspace with CAIRN_STORE_IN_USE unless `force`.
 */
export async function claimStore(ctx: EngineContext, keyspaceId: string, force: boolean): Promise<{ info: StoreInfo; codec: StoreCodec }> {
  let info = await readStoreInfo(ctx.store);
  if (info === undefined) {
    const storeId = randomUUID();
    const fresh: StoreInfo = {
      format: BACKUP_FORMAT,
      storeId,
      keyspaceId,
      createdAt: new Date(ctx.clock()).toISOString(),
      compression: effectiveCompression(ctx.compression ?? 'zstd'),
    };
    if (ctx.userKey !== undefined) {
      const keys = newStoreKeys();
      fresh.encryption = { algorithm: 'aes-256-gcm', wrappedKeys: wrapStoreKeys(keys, ctx.userKey, storeId) };
      fresh.mac = storeInfoMac(keys, macFields(fresh));
    }
    try {
      await ctx.store.put(STORE_FILE_KEY, encodeJson(fresh), { ifNoneMatch: true });
      info = fresh;
    } catch (err) {
      if (!hasCode(err, 'EEXIST')) throw err;
      info = await readStoreInfo(ctx.store);
      if (info === undefined) throw err;
    }
  }
  if (info.keyspaceId !== keyspaceId && !force) {
    throw new CairnError(ErrorCodes.STORE_IN_USE, `The backup store ${ctx.store.url} holds backups of keyspace ${info.keyspaceId}, not ${keyspaceId} (use force to mix them)`, {
      details: { reason: 'keyspace', storeKeyspaceId: info.keyspaceId, keyspaceId },
    });
  }
  return { info, codec: openStoreCodec(info, ctx.userKey, ctx.compression, ctx.store.url) };
}

export async function readManifest(store: BackupStore, codec: StoreCodec, id: string, signal?: AbortSignal): Promise<BackupManifest> {
  const key = manifestKey(id);
  const manifest = parseManifest(codec.decodeDocument(key, await readObject(store, key, signal)), key);
  if (manifest.id !== id) throw new CairnError(ErrorCodes.CORRUPTION, `${key} names backup ${manifest.id}`, { details: { key } });
  return manifest;
}

/** A manifest that could not be read: malformed, truncated, or written by a newer cairn. */
export interface DamagedBackup {
  id: string;
  /** The store key of the manifest. */
  key: string;
  /** What is wrong, for people (the error's message). */
  problem: string;
  /** The error's code: CAIRN_CORRUPTION, or CAIRN_UNSUPPORTED_FORMAT for a newer format. */
  code: string;
}

/**
 * Every manifest, oldest first by createdAt (ids only break ties: names are not trusted
 * for order), and separately the manifests that could not be read: one damaged manifest
 * must not hide the others, nor stop a prune from deleting it.
 */
export async function readAllManifests(store: BackupStore, codec: StoreCodec, signal?: AbortSignal): Promise<{ manifests: BackupManifest[]; damaged: DamagedBackup[] }> {
  const manifests: BackupManifest[] = [];
  const damaged: DamagedBackup[] = [];
  for (const object of await listAll(store, BACKUPS_PREFIX)) {
    const id = parseManifestKey(object.key);
    if (id === undefined) continue;
    try {
      manifests.push(await readManifest(store, codec, id, signal));
    } catch (err) {
      // Deleted by a prune between the listing and the read.
      if (hasCode(err, ErrorCodes.NOT_FOUND)) continue;
      if (hasCode(err, ErrorCodes.CORRUPTION) || hasCode(err, ErrorCodes.UNSUPPORTED_FORMAT)) {
        damaged.push({ id, key: object.key, problem: (err as Error).message, code: (err as { code: string }).code });
        continue;
      }
      throw err;
    }
  }
  return { manifests: manifests.sort(byCreatedAt), damaged };
}

export function byCreatedAt(a: BackupManifest, b: BackupManifest): number {
  return Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** A backup id, or 'latest' for the newest by createdAt. CAIRN_NOT_FOUND when there is none. */
export async function resolveManifest(store: BackupStore, codec: StoreCodec, idOrLatest: string, signal?: AbortSignal): Promise<BackupManifest> {
  if (idOrLatest === 'latest') {
    // A damaged manifest is skipped: 'latest' is the newest backup that can be restored.
    const latest = (await readAllManifests(store, codec, signal)).manifests.at(-1);
    if (latest === undefined) throw new CairnError(ErrorCodes.NOT_FOUND, `The backup store ${store.url} holds no backup`, { details: { id: 'latest' } });
    return latest;
  }
  try {
    return await readManifest(store, codec, idOrLatest, signal);
  } catch (err) {
    if (hasCode(err, ErrorCodes.NOT_FOUND)) {
      throw new CairnError(ErrorCodes.NOT_FOUND, `No backup ${idOrLatest} in ${store.url}`, { cause: err, details: { id: idOrLatest } });
    }
    throw err;
  }
}

export function validateBackupRef(value: unknown, name = 'id'): string {
  if (value !== 'latest' && !isBackupId(value)) throw new TypeError(`${name} must be a backup id (e.g. 20261121T171500Z-0a1b2c3d) or 'latest'`);
  return value as string;
}
