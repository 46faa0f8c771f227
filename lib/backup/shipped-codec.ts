// How shipped journal objects are stored: their plaintext (lib/backup/shipped-object.ts)
// goes through the store format's object codec (lib/backup/object-codec.ts: frames,
// compression, AES-256-GCM when the store is encrypted), bound to the object's key so an
// object cannot be passed off under another name. Pure and synchronous: the shipper
// encodes on the worker pool, readers decode where they read.
import { type Compression, type ObjectKeys, decodeObject, encodeObject, isEncodedObject } from './object-codec.js';

/** The codec settings of a store, for shipped objects. */
export interface ShippedCodec {
  compression: Compression;
  /** The store's keys when it is encrypted. */
  keys?: ObjectKeys;
}

export function encodeShipped(plaintext: Uint8Array, key: string, codec: ShippedCodec): Buffer {
  return encodeObject(plaintext, { compression: codec.compression, keys: codec.keys, context: key }).bytes;
}

/** The plaintext of a stored shipped object (CAIRN_CORRUPTION / CAIRN_BAD_KEY as decodeObject). */
export function decodeShipped(stored: Buffer, key: string, codec: ShippedCodec): Buffer {
  // An unencoded object can only be plaintext of a store without a codec: its own checks
  // (magic, CRCs, chain) still apply.
  if (!isEncodedObject(stored) && codec.keys === undefined) return stored;
  return decodeObject(stored, { keys: codec.keys, context: key }).bytes;
}
