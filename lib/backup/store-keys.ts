// The keys of an encrypted backup store (envelope encryption): a random data key and name
// key per store, wrapped by the user's 32-byte key with AES-256-GCM and kept in store.json,
// so rotating the user's key rewrites only store.json. Parsing of a user key, wrapping,
// unwrapping (a wrong key is CAIRN_BAD_KEY) and the MAC of store.json's fields. Pure
// functions apart from randomness.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { CairnError, ErrorCodes } from '../errors.js';
import type { ObjectKeys } from './object-codec.js';

/** The user's key: 32 bytes, or a string of 64 hex digits or the base64 of 32 bytes (CAIRN_BACKUP_KEY). */
export type UserKey = Uint8Array | string;

/** The user's key as 32 bytes; TypeError for anything else (the message never shows the key). */
export function parseUserKey(key: unknown, name = 'encryption.key'): Buffer {
  if (key instanceof Uint8Array) {
    if (key.byteLength !== 32) throw new TypeError(`${name} must be 32 bytes (got ${key.byteLength})`);
    return Buffer.from(key);
  }
  if (typeof key === 'string') {
    const text = key.trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
    const decoded = Buffer.from(text, 'base64');
    if (decoded.length === 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return decoded;
    throw new TypeError(`${name} must be 64 hex digits or the base64 of 32 bytes`);
  }
  throw new TypeError(`${name} must be a 32-byte Uint8Array or a string (64 hex digits, or base64)`);
}

/** A fresh pair of store keys. */
export function newStoreKeys(): ObjectKeys {
  const bytes = randomBytes(64);
  return { dataKey: bytes.subarray(0, 32), nameKey: bytes.subarray(32) };
}

function wrapAad(storeId: string): Buffer {
  return Buffer.from(`cairn-store-keys:${storeId}`, 'utf8');
}

/** base64(nonce 12 | ciphertext of dataKey‖nameKey 64 | tag 16), bound to the store id. */
export function wrapStoreKeys(keys: ObjectKeys, userKey: Buffer, storeId: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', userKey, nonce);
  cipher.setAAD(wrapAad(storeId));
  const sealed = Buffer.concat([cipher.update(Buffer.concat([keys.dataKey, keys.nameKey])), cipher.final()]);
  return Buffer.concat([nonce, sealed, cipher.getAuthTag()]).toString('base64');
}

/** The store keys, or CAIRN_BAD_KEY when `userKey` is not the key they were wrapped with. */
export function unwrapStoreKeys(wrapped: string, userKey: Buffer, storeId: string, url: string): ObjectKeys {
  const bytes = Buffer.from(wrapped, 'base64');
  if (bytes.length !== 12 + 64 + 16) throw new CairnError(ErrorCodes.CORRUPTION, `The wrapped key in ${url} store.json is malformed`, { details: { url } });
  const decipher = createDecipheriv('aes-256-gcm', userKey, bytes.subarray(0, 12));
  decipher.setAAD(wrapAad(storeId));
  decipher.setAuthTag(bytes.subarray(76));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(bytes.subarray(12, 76)), decipher.final()]);
  } catch (err) {
    throw badKey(`The key does not open the backup store ${url} (wrong key, or store.json was altered)`, url, err);
  }
  return { dataKey: plain.subarray(0, 32), nameKey: plain.subarray(32) };
}

/** HMAC-SHA-256 (hex) of store.json's fields under the name key: a changed field is detected. */
export function storeInfoMac(keys: ObjectKeys, fields: Record<string, unknown>): string {
  const ordered = Object.keys(fields)
    .sort()
    .map((k) => [k, fields[k]]);
  return createHmac('sha256', keys.nameKey).update(`cairn-store-info:${JSON.stringify(ordered)}`).digest('hex');
}

export function badKey(message: string, url: string, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.BAD_KEY, message, { cause, details: { url } });
}
