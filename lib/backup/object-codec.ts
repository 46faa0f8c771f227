// The object codec of backup store format 2 (docs/backups.md, "Stored objects"): how the
// bytes of a keyspace file, a manifest or a shipped journal become a stored object —
// framed, each frame compressed (or kept raw when that does not pay) and, for an
// encrypted store, sealed with AES-256-GCM — and back, checking everything. The content
// address is always the SHA-256 of the plaintext; an encrypted store names objects by an
// HMAC of it. Synchronous and pure apart from randomness: an encoder or decoder is one
// object's state, used by one thread (the backup's worker threads run them).
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { CairnError, ErrorCodes } from '../errors.js';

/** How frames are compressed: zstd (where node:zlib has it, Node >= 22.15), gzip, or not at all. */
export type Compression = 'zstd' | 'gzip' | 'none';

/** The two keys of an encrypted store, unwrapped from store.json by the user's key. */
export interface ObjectKeys {
  /** 32 bytes: AES-256-GCM key of every frame. */
  dataKey: Buffer;
  /** 32 bytes: HMAC-SHA-256 key of object names (and of store.json's fields). */
  nameKey: Buffer;
}

/** How to encode: the compression to try per frame, and the keys when the store is encrypted. */
export interface EncodeOptions {
  compression: Compression;
  keys?: ObjectKeys;
  /**
   * Bound into every frame's authentication (encrypted objects only): a manifest is
   * encoded with its own store key, so it cannot be passed off under another name.
   * Content objects use '' (their name is the hash, checked on decode).
   */
  context?: string;
}

/** How to decode: the keys when the store is encrypted, the same `context` as encoding. */
export interface DecodeOptions {
  keys?: ObjectKeys;
  context?: string;
  /** The plaintext SHA-256 (hex) the object must have; a mismatch is CAIRN_CORRUPTION. */
  sha256?: string;
}

/** What an encoder or decoder reports at its end. */
export interface CodecSummary {
  /** SHA-256 (hex) of the plaintext: the content address. */
  sha256: string;
  /** Plaintext bytes. */
  size: number;
  /** Bytes of the stored object (header and frames). */
  storedSize: number;
  /** Frames stored raw because compressing did not pay, and frames in all. */
  rawFrames: number;
  frames: number;
}

/** 'CNO2': a stored object of format 2. */
const MAGIC = 0x324f4e43;
const VERSION = 1;
/** magic u32 | version u8 | flags u8 | reserved u16 | nonce base (12 bytes). */
export const OBJECT_HEADER_BYTES = 20;
/** stored length u32 | method u8 | flags u8 | reserved u16. */
const FRAME_HEADER_BYTES = 8;
const TAG_BYTES = 16;
const FLAG_ENCRYPTED = 1;
const ZERO_NONCE = Buffer.alloc(12);
const FRAME_FINAL = 1;
/** Plaintext bytes per frame: big enough for good compression, small enough to stream. */
export const FRAME_BYTES = 1024 * 1024;
/** A frame is stored compressed only when that saves at least 1/32 of it. */
const WORTH_IT = 31 / 32;

const Method = { raw: 0, gzip: 1, zstd: 2 } as const;
type MethodCode = (typeof Method)[keyof typeof Method];

type ZstdZlib = typeof zlib & {
  zstdCompressSync?: (buf: Uint8Array, options?: object) => Buffer;
  zstdDecompressSync?: (buf: Uint8Array, options?: object) => Buffer;
};
const z = zlib as ZstdZlib;

/** True when this Node has zstd in node:zlib (>= 22.15 / 23.8). On Node 20 it has not. */
export const ZSTD_AVAILABLE = typeof z.zstdCompressSync === 'function' && typeof z.zstdDecompressSync === 'function';

/** 'zstd' where available, else 'gzip': what a store uses when the caller does not say. */
export function defaultCompression(): Compression {
  return ZSTD_AVAILABLE ? 'zstd' : 'gzip';
}

/** The compression actually used for a request: zstd falls back to gzip where Node lacks it. */
export function effectiveCompression(requested: Compression): Compression {
  return requested === 'zstd' && !ZSTD_AVAILABLE ? 'gzip' : requested;
}

function compress(method: MethodCode, plain: Uint8Array): Buffer {
  if (method === Method.zstd) return z.zstdCompressSync!(plain);
  return zlib.gzipSync(plain, { level: 1 });
}

function decompress(method: number, stored: Uint8Array, maxBytes: number): Buffer {
  if (method === Method.zstd) {
    if (!ZSTD_AVAILABLE) {
      throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `This object is zstd-compressed and Node ${process.version} has no zstd (node:zlib has it from 22.15); read the store with a newer Node`, {
        details: { compression: 'zstd' },
      });
    }
    return z.zstdDecompressSync!(stored, { maxOutputLength: maxBytes });
  }
  if (method === Method.gzip) return zlib.gunzipSync(stored, { maxOutputLength: maxBytes });
  throw corrupt(`unknown frame compression ${method}`);
}

function corrupt(message: string, cause?: unknown): CairnError {
  return new CairnError(ErrorCodes.CORRUPTION, `Stored object is damaged: ${message}`, { cause });
}

function nonceFor(base: Buffer, index: number): Buffer {
  const nonce = Buffer.from(base);
  nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ index) >>> 0, 8);
  return nonce;
}

function frameAad(objectHeader: Buffer, frameHeader: Buffer, index: number, context: string): Buffer {
  const index4 = Buffer.alloc(4);
  index4.writeUInt32BE(index >>> 0, 0);
  return Buffer.concat([objectHeader, frameHeader, index4, Buffer.from(context, 'utf8')]);
}

function checkKeys(keys: ObjectKeys | undefined): void {
  if (keys === undefined) return;
  if (!(keys.dataKey instanceof Uint8Array) || keys.dataKey.length !== 32 || !(keys.nameKey instanceof Uint8Array) || keys.nameKey.length !== 32) {
    throw new TypeError('keys must hold a 32-byte dataKey and a 32-byte nameKey');
  }
}

/**
 * The store name of content with this plaintext SHA-256: the hash itself, or for an
 * encrypted store HMAC-SHA-256(nameKey, hash) in hex, which leaks nothing about the
 * content and still deduplicates (same content, same name).
 */
export function objectName(sha256: string, keys: ObjectKeys | undefined): string {
  return keys === undefined ? sha256 : createHmac('sha256', keys.nameKey).update(sha256, 'utf8').digest('hex');
}

/**
 * Encodes one object as a stream: `update` with the plaintext in any pieces, each call
 * returning the stored bytes that became ready (frames go out whole); `final` returns the
 * rest and the summary. Plaintext is buffered up to one frame; nothing else is copied, so
 * the returned buffers may be views of the caller's chunk or of the encoder's frame
 * buffer: write them out before the next call.
 */
export class ObjectEncoder {
  readonly #compression: Compression;
  readonly #method: MethodCode | undefined;
  readonly #keys: ObjectKeys | undefined;
  readonly #context: string;
  readonly #header: Buffer;
  readonly #nonceBase: Buffer;
  readonly #hash: Hash = createHash('sha256');
  readonly #pending = Buffer.allocUnsafe(FRAME_BYTES);
  #pendingBytes = 0;
  #index = 0;
  #size = 0;
  #storedSize = 0;
  #rawFrames = 0;
  #headerSent = false;
  #done = false;

  constructor(options: EncodeOptions) {
    checkKeys(options.keys);
    this.#compression = effectiveCompression(options.compression);
    this.#method = this.#compression === 'none' ? undefined : this.#compression === 'zstd' ? Method.zstd : Method.gzip;
    this.#keys = options.keys;
    this.#context = options.context ?? '';
    this.#nonceBase = options.keys === undefined ? Buffer.alloc(12) : randomBytes(12);
    this.#header = Buffer.alloc(OBJECT_HEADER_BYTES);
    this.#header.writeUInt32LE(MAGIC, 0);
    this.#header[4] = VERSION;
    this.#header[5] = options.keys === undefined ? 0 : FLAG_ENCRYPTED;
    this.#nonceBase.copy(this.#header, 8);
  }

  /** The compression this encoder uses (zstd requested on a Node without it is gzip). */
  get compression(): Compression {
    return this.#compression;
  }

  /** Feeds plaintext; returns the stored bytes completed by it (possibly none). */
  update(chunk: Uint8Array): Buffer[] {
    if (this.#done) throw new Error('ObjectEncoder used after final()');
    const out: Buffer[] = [];
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
    let at = 0;
    while (at < chunk.byteLength) {
      // Whole frames straight from the caller's chunk; only a frame's ragged ends are buffered.
      if (this.#pendingBytes === 0 && chunk.byteLength - at >= FRAME_BYTES) {
        this.#frame(chunk.subarray(at, at + FRAME_BYTES), false, out);
        at += FRAME_BYTES;
        continue;
      }
      const n = Math.min(FRAME_BYTES - this.#pendingBytes, chunk.byteLength - at);
      this.#pending.set(chunk.subarray(at, at + n), this.#pendingBytes);
      this.#pendingBytes += n;
      at += n;
      if (this.#pendingBytes === FRAME_BYTES) {
        this.#frame(this.#pending, false, out);
        this.#pendingBytes = 0;
      }
    }
    return out;
  }

  /** Ends the object: the last (final-flagged, possibly empty) frame and the summary. */
  final(): { out: Buffer[]; summary: CodecSummary } {
    if (this.#done) throw new Error('ObjectEncoder used after final()');
    const out: Buffer[] = [];
    this.#frame(this.#pending.subarray(0, this.#pendingBytes), true, out);
    this.#done = true;
    return {
      out,
      summary: { sha256: this.#hash.digest('hex'), size: this.#size, storedSize: this.#storedSize, rawFrames: this.#rawFrames, frames: this.#index },
    };
  }

  #frame(plain: Uint8Array, final: boolean, out: Buffer[]): void {
    if (!this.#headerSent) {
      out.push(this.#header);
      this.#storedSize += OBJECT_HEADER_BYTES;
      this.#headerSent = true;
    }
    let method: MethodCode = Method.raw;
    let body: Uint8Array = plain;
    if (this.#method !== undefined && plain.byteLength > 0) {
      const packed = compress(this.#method, plain);
      if (packed.byteLength <= plain.byteLength * WORTH_IT) {
        method = this.#method;
        body = packed;
      }
    }
    if (method === Method.raw) this.#rawFrames++;
    const head = Buffer.alloc(FRAME_HEADER_BYTES);
    const storedLength = body.byteLength + (this.#keys === undefined ? 0 : TAG_BYTES);
    head.writeUInt32LE(storedLength, 0);
    head[4] = method;
    head[5] = final ? FRAME_FINAL : 0;
    out.push(head);
    if (this.#keys === undefined) {
      // A raw frame from the frame buffer is copied: the rest of this update refills it.
      out.push(body === plain && plain.buffer === this.#pending.buffer ? Buffer.from(plain) : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    } else {
      const cipher = createCipheriv('aes-256-gcm', this.#keys.dataKey, nonceFor(this.#nonceBase, this.#index));
      cipher.setAAD(frameAad(this.#header, head, this.#index, this.#context));
      out.push(cipher.update(body), cipher.final(), cipher.getAuthTag());
    }
    this.#storedSize += FRAME_HEADER_BYTES + storedLength;
    this.#index++;
  }
}

/**
 * Decodes one stored object as a stream: `update` with the stored bytes in any pieces
 * returns the plaintext they completed; `final` checks that the object ended with its
 * final frame and (given `sha256`) that the plaintext hashes to it. Any damage — a
 * flipped byte, a truncation, bytes after the end, a frame of another object or another
 * key — is CAIRN_CORRUPTION; an object of an encrypted store read without keys (or the
 * reverse) is CAIRN_BAD_KEY. Returned plaintext may be a view of the caller's chunk:
 * consume it before the chunk's memory is reused.
 */
export class ObjectDecoder {
  readonly #keys: ObjectKeys | undefined;
  readonly #context: string;
  readonly #expected: string | undefined;
  readonly #hash: Hash = createHash('sha256');
  #header: Buffer | undefined;
  #nonceBase: Buffer | undefined;
  /** Bytes of an incomplete header or frame carried to the next update. */
  #carry: Buffer[] = [];
  #carryBytes = 0;
  #need = OBJECT_HEADER_BYTES;
  #frameHead: Buffer | undefined;
  #index = 0;
  #size = 0;
  #storedSize = 0;
  #rawFrames = 0;
  #ended = false;

  constructor(options: DecodeOptions = {}) {
    checkKeys(options.keys);
    this.#keys = options.keys;
    this.#context = options.context ?? '';
    this.#expected = options.sha256;
  }

  update(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    this.#storedSize += chunk.byteLength;
    while (at < chunk.byteLength) {
      if (this.#ended) throw corrupt('bytes after the final frame');
      const want = this.#need - this.#carryBytes;
      const available = chunk.byteLength - at;
      if (this.#carryBytes === 0 && available >= want) {
        // The common case: a whole header or frame inside this chunk, used in place.
        this.#step(Buffer.from(chunk.buffer, chunk.byteOffset + at, want), out);
        at += want;
        continue;
      }
      const n = Math.min(want, available);
      this.#carry.push(Buffer.from(chunk.subarray(at, at + n)));
      this.#carryBytes += n;
      at += n;
      if (this.#carryBytes === this.#need) {
        const whole = Buffer.concat(this.#carry, this.#carryBytes);
        this.#carry = [];
        this.#carryBytes = 0;
        this.#step(whole, out);
      }
    }
    return out;
  }

  final(): CodecSummary {
    if (!this.#ended) throw corrupt(this.#header === undefined ? 'shorter than its header' : 'truncated (no final frame)');
    const sha256 = this.#hash.digest('hex');
    if (this.#expected !== undefined && sha256 !== this.#expected) throw corrupt(`content hashes to ${sha256}, not ${this.#expected}`);
    return { sha256, size: this.#size, storedSize: this.#storedSize, rawFrames: this.#rawFrames, frames: this.#index };
  }

  /** Consumes exactly `this.#need` bytes: the object header, a frame header, or a frame body. */
  #step(bytes: Buffer, out: Buffer[]): void {
    if (this.#header === undefined) {
      if (bytes.readUInt32LE(0) !== MAGIC) throw corrupt('not a format-2 object (bad magic)');
      if (bytes[4] !== VERSION) {
        throw new CairnError(ErrorCodes.UNSUPPORTED_FORMAT, `Stored object version ${bytes[4]} is newer than this cairn reads`, { details: { version: bytes[4] } });
      }
      const encrypted = (bytes[5] & FLAG_ENCRYPTED) !== 0;
      if (encrypted !== (this.#keys !== undefined)) {
        throw new CairnError(ErrorCodes.BAD_KEY, encrypted ? 'The object is encrypted and no key was given' : 'The object is not encrypted but a key was given');
      }
      // Unencrypted objects have no authentication: every header byte they do not use must be zero.
      if (bytes.readUInt16LE(6) !== 0 || (!encrypted && !bytes.subarray(8, 20).equals(ZERO_NONCE)) || (bytes[5] & ~FLAG_ENCRYPTED) !== 0) {
        throw corrupt('object header has bits set that must be zero');
      }
      this.#header = Buffer.from(bytes);
      this.#nonceBase = this.#header.subarray(8, 20);
      this.#need = FRAME_HEADER_BYTES;
      return;
    }
    if (this.#frameHead === undefined) {
      this.#frameHead = Buffer.from(bytes);
      const length = bytes.readUInt32LE(0);
      if (bytes.readUInt16LE(6) !== 0 || (bytes[5] & ~FRAME_FINAL) !== 0 || bytes[4] > Method.zstd) throw corrupt(`frame ${this.#index} header has bits set that must be zero`);
      const minimum = this.#keys === undefined ? 0 : TAG_BYTES;
      if (length < minimum || length > FRAME_BYTES * 2 + TAG_BYTES) throw corrupt(`frame ${this.#index} has an impossible length ${length}`);
      this.#need = length;
      if (length === 0) this.#body(Buffer.alloc(0), out);
      return;
    }
    this.#body(bytes, out);
  }

  #body(stored: Buffer, out: Buffer[]): void {
    const head = this.#frameHead!;
    this.#frameHead = undefined;
    this.#need = FRAME_HEADER_BYTES;
    let body = stored;
    if (this.#keys !== undefined) {
      const decipher = createDecipheriv('aes-256-gcm', this.#keys.dataKey, nonceFor(this.#nonceBase!, this.#index));
      decipher.setAAD(frameAad(this.#header!, head, this.#index, this.#context));
      decipher.setAuthTag(stored.subarray(stored.length - TAG_BYTES));
      try {
        body = Buffer.concat([decipher.update(stored.subarray(0, stored.length - TAG_BYTES)), decipher.final()]);
      } catch (err) {
        throw corrupt(`frame ${this.#index} fails authentication (damaged, or of another object or key)`, err);
      }
    }
    const method = head[4];
    let plain: Buffer;
    if (method === Method.raw) {
      if (body.length > FRAME_BYTES) throw corrupt(`raw frame ${this.#index} longer than a frame`);
      plain = body;
      this.#rawFrames++;
    } else {
      try {
        plain = decompress(method, body, FRAME_BYTES);
      } catch (err) {
        if (err instanceof CairnError) throw err;
        throw corrupt(`frame ${this.#index} does not decompress`, err);
      }
    }
    this.#hash.update(plain);
    this.#size += plain.length;
    this.#index++;
    if (plain.length > 0) out.push(plain);
    if ((head[5] & FRAME_FINAL) !== 0) this.#ended = true;
  }
}

/** A whole object in memory (manifests, store metadata, small journals). */
export function encodeObject(plain: Uint8Array, options: EncodeOptions): { bytes: Buffer; summary: CodecSummary } {
  const encoder = new ObjectEncoder(options);
  const first = encoder.update(plain);
  const { out, summary } = encoder.final();
  return { bytes: Buffer.concat([...first, ...out]), summary };
}

/** The plaintext of a whole stored object; throws as ObjectDecoder does. */
export function decodeObject(stored: Uint8Array, options: DecodeOptions = {}): { bytes: Buffer; summary: CodecSummary } {
  const decoder = new ObjectDecoder(options);
  const parts = decoder.update(stored);
  const summary = decoder.final();
  return { bytes: Buffer.concat(parts), summary };
}

/** True when `bytes` start like a format-2 stored object (a format-1 store holds plain files). */
export function isEncodedObject(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32LE(0) === MAGIC;
}

/** Constant-time comparison of two hex digests (MACs of store metadata). */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
