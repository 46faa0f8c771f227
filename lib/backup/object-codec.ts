// The seam between an object's plaintext and the bytes a store holds. Shipped journal
// objects go through it; the store format's compression and encryption (issue 10) plug
// in here. Until then the only codec is the identity. Implementations are stateless and
// safe for concurrent calls.

/** Turns plaintext into stored bytes and back; `key` names the object (for errors and as associated data). */
export interface ObjectCodec {
  encode(plaintext: Buffer, key: string): Promise<Buffer>;
  /** CAIRN_CORRUPTION when the stored bytes do not decode (or do not authenticate). */
  decode(stored: Buffer, key: string): Promise<Buffer>;
}

/** Stores plaintext as it is. */
export const plainObjectCodec: ObjectCodec = {
  encode: (plaintext) => Promise.resolve(plaintext),
  decode: (stored) => Promise.resolve(stored),
};
