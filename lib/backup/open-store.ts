// openStore: the one place a backup location's URL becomes a BackupStore (file:// or a
// plain absolute path → FileStore, s3:// → S3Store). Stateless; safe to call concurrently.
import * as nodePath from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemError } from '../errors.js';
import { defaultFileSystem } from '../fs/index.js';
import type { FileSystem } from '../fs/index.js';
import { optionNames, optionsObject } from '../keyspace/arguments.js';
import { FileStore } from './file-store.js';
import type { BackupStore } from './store.js';

export interface OpenStoreOptions {
  /** The file system a file:// store goes through (default: defaultFileSystem()). */
  fs?: FileSystem;
}

const OPEN_STORE_OPTIONS = optionNames<OpenStoreOptions>({ fs: true });

/**
 * Opens the store at `url`: `file:///abs/dir` or `/abs/dir` (created, durably, by the first
 * put; opening creates nothing) or `s3://bucket/prefix?…` (see parseS3Url; the bucket must exist,
 * else CAIRN_NOT_FOUND). Any other scheme, or a relative path, is a TypeError.
 */
export async function openStore(url: string, options?: OpenStoreOptions): Promise<BackupStore> {
  if (typeof url !== 'string' || url.length === 0) throw new TypeError('url must be a non-empty string');
  const { fs } = optionsObject<OpenStoreOptions>(options, 'options', OPEN_STORE_OPTIONS);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (!nodePath.isAbsolute(url)) throw new TypeError(`a store path must be absolute or a file:// or s3:// URL (got ${JSON.stringify(url)})`);
    return openFileStore(url, fs);
  }
  if (scheme === 'file') {
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch (err) {
      throw new TypeError(`not a usable file:// URL: ${JSON.stringify(url)}`, { cause: err });
    }
    return openFileStore(root, fs);
  }
  if (scheme === 's3') {
    // Loaded on demand: the AWS SDK costs hundreds of milliseconds to import, which every
    // file:// user (and every CLI start) would otherwise pay.
    const { S3Store } = await import('./s3-store.js');
    const store = new S3Store(url);
    try {
      await store.verifyBucket();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }
  throw new TypeError(`unsupported store scheme '${scheme}:' (use file:// or s3://)`);
}

/**
 * Opening creates nothing (a read of a mistyped path must not leave a directory behind):
 * the first put makes the directory, durably. A path that is not a directory is ENOTDIR.
 */
async function openFileStore(root: string, fs: FileSystem | undefined): Promise<FileStore> {
  const store = new FileStore(root, fs === undefined ? {} : { fs });
  const stat = await (fs ?? defaultFileSystem()).statOrUndefined(store.root);
  if (stat !== undefined && !stat.isDirectory) {
    throw systemError('ENOTDIR', 'open', { path: store.root, description: `the backup store path ${store.root} is not a directory` });
  }
  return store;
}
