// Entries packed into one ArrayBuffer, to hand a frozen memtable to a worker thread in a
// single transfer (no per-entry message, no structured clone of objects). A packer is
// owned by one caller; the packed buffer is read by one reader on the receiving thread.
import type { Entry, EntryKind } from '../codec/entry.js';

/**
 * Per entry: u32 key length, u32 value length, u32 seqno low, u32 seqno high, u8 kind,
 * then the key and value bytes. Little-endian. The kind byte is the on-disk EntryKind, so
 * a new kind (a range tombstone) crosses unchanged.
 */
export const PACKED_HEADER_BYTES = 17;

/** A packed run of entries in one buffer; `length` bytes of it are used. */
export interface PackedEntries {
  buffer: ArrayBuffer;
  length: number;
  count: number;
}

/** Appends entries, in order, to one buffer sized from a bound the caller knows. */
export class EntryPacker {
  readonly #bytes: Buffer;
  #length = 0;
  #count = 0;

  /** `capacity` must be at least the sum over entries of PACKED_HEADER_BYTES + key + value bytes. */
  constructor(capacity: number) {
    // Its own ArrayBuffer (not the shared pool's): it is transferred whole.
    this.#bytes = Buffer.from(new ArrayBuffer(Math.max(1, capacity)));
  }

  add(entry: Entry): void {
    const bytes = this.#bytes;
    const key = entry.key;
    const value = entry.value;
    let p = this.#length;
    if (p + PACKED_HEADER_BYTES + key.length + value.length > bytes.length) throw new RangeError('packed entries exceed the capacity given');
    bytes.writeUInt32LE(key.length, p);
    bytes.writeUInt32LE(value.length, p + 4);
    bytes.writeUInt32LE(entry.seqno % 0x1_0000_0000, p + 8);
    bytes.writeUInt32LE(Math.floor(entry.seqno / 0x1_0000_0000), p + 12);
    bytes[p + 16] = entry.kind;
    p += PACKED_HEADER_BYTES;
    bytes.set(key, p);
    p += key.length;
    bytes.set(value, p);
    this.#length = p + value.length;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  finish(): PackedEntries {
    return { buffer: this.#bytes.buffer as ArrayBuffer, length: this.#length, count: this.#count };
  }
}

/** The entries of a packed buffer, in packing order; keys and values are views into it. */
export function* unpackEntries(packed: PackedEntries): IterableIterator<Entry> {
  const bytes = Buffer.from(packed.buffer, 0, packed.length);
  let p = 0;
  for (let i = 0; i < packed.count; i++) {
    if (p + PACKED_HEADER_BYTES > bytes.length) throw new RangeError('packed entries cut short');
    const keyLength = bytes.readUInt32LE(p);
    const valueLength = bytes.readUInt32LE(p + 4);
    const seqno = bytes.readUInt32LE(p + 8) + bytes.readUInt32LE(p + 12) * 0x1_0000_0000;
    const kind = bytes[p + 16] as EntryKind;
    p += PACKED_HEADER_BYTES;
    const key = bytes.subarray(p, p + keyLength);
    p += keyLength;
    const value = bytes.subarray(p, p + valueLength);
    p += valueLength;
    if (p > bytes.length) throw new RangeError('packed entries cut short');
    yield { key, seqno, kind, value };
  }
}
