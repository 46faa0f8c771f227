// What a store's format says about its objects, in one place: the key of a file's content
// object, how a manifest is written and read, and the keys of an encrypted store (opened
// from store.json with the user's key, before anything is written or restored). Format 1
// stores (raw files, plain JSON manifests) stay readable and writable as they are; new
// stores are format 2. Stateless apart from the keys it holds.
import { CairnError, ErrorCodes } from '../errors.js';
import { type Compression, type ObjectKeys, decodeObject, encodeObject, isEncodedObject, objectName, sameDigest } from './object-codec.js';
import type { StoreInfo } from './manifest.js';
import { badKey, storeInfoMac, unwrapStoreKeys } from './store-keys.js';
import { extFor, objectKey } from './store-layout.js';

/** How to read and write one store's objects. */
export interface StoreCodec {
  format: number;
  /** The compression new content objects get (format 2). */
  compression: Compression;
  keys: ObjectKeys | undefined;
  /** The key of the content object of `file` (by its plaintext hash and its path's kind). */
  contentKey(file: { sha256: string; path: string }): string;
  /** A manifest's stored bytes from its JSON bytes, and back (authenticated in an encrypted store). */
  encodeDocument(key: string, json: Buffer): Buffer;
  decodeDocument(key: string, stored: Buffer): Buffer;
}

/** The fields of store.json an encrypted store's MAC covers (all but the MAC). */
export function macFields(info: StoreInfo): Record<string, unknown> {
  const { mac: _mac, ...rest } = info;
  return rest;
}

/**
 * The codec of the store `info` describes. An encrypted store needs `userKey` (else
 * CAIRN_BAD_KEY), which must unwrap its keys (else CAIRN_BAD_KEY) and whose MAC over
 * store.json must hold (else CAIRN_CORRUPTION: store.json was altered); a key given for a
 * store that is not encrypted is CAIRN_BAD_KEY too (the caller expects encryption).
 */
export function openStoreCodec(info: StoreInfo, userKey: Buffer | undefined, compression: Compression | undefined, url: string): StoreCodec {
  if (info.format < 2) {
    if (userKey !== undefined) throw badKey(`The backup store ${url} is not encrypted (format ${info.format}) but a key was given`, url);
    return {
      format: info.format,
      compression: 'none',
      keys: undefined,
      contentKey: (f) => objectKey(f.sha256, extFor(f.path)),
      encodeDocument: (_key, json) => json,
      decodeDocument: (_key, stored) => stored,
    };
  }
  let keys: ObjectKeys | undefined;
  if (info.encryption !== undefined) {
    if (userKey === undefined) throw badKey(`The backup store ${url} is encrypted: give its key (encryption.key, or CAIRN_BACKUP_KEY for the CLI)`, url);
    keys = unwrapStoreKeys(info.encryption.wrappedKeys, userKey, info.storeId, url);
    if (info.mac === undefined || !sameDigest(info.mac, storeInfoMac(keys, macFields(info)))) {
      throw new CairnError(ErrorCodes.CORRUPTION, `store.json of ${url} fails its authentication (altered)`, { details: { url, key: 'store.json' } });
    }
  } else if (userKey !== undefined) {
    throw badKey(`The backup store ${url} is not encrypted but a key was given`, url);
  }
  const use = compression ?? info.compression ?? 'gzip';
  return {
    format: info.format,
    compression: use,
    keys,
    contentKey: (f) => objectKey(objectName(f.sha256, keys), extFor(f.path)),
    encodeDocument: (key, json) => encodeObject(json, { compression: use, keys, context: key }).bytes,
    decodeDocument: (key, stored) => {
      if (!isEncodedObject(stored)) throw new CairnError(ErrorCodes.CORRUPTION, `${key} is not a format-2 object`, { details: { key } });
      try {
        return decodeObject(stored, { keys, context: key }).bytes;
      } catch (err) {
        if (err instanceof CairnError && err.code === ErrorCodes.CORRUPTION) throw new CairnError(ErrorCodes.CORRUPTION, `${key}: ${err.message}`, { cause: err, details: { key } });
        throw err;
      }
    },
  };
}
