// Entries packed into one ArrayBuffer, so a flush's memtable contents cross to a worker
// thread as a single transfer (no structured clone of thousands of Buffers). Pure
// functions; a packed buffer is owned by whoever holds it (transferring detaches it).
//
// Layout, little endian: u32 entry count, then per entry a 17-byte header
// (u32 key length, u32 value length, f64 seqno — exact for every seqno < 2^53 —,
// u8 kind) followed by the key bytes and the value bytes. No padding, no checksum:
// the buffer never leaves the process.
import type { Entry, EntryKind } from '../codec/entry.js';

const COUNT_SIZE = 4;
const HEADER_SIZE = 17;

/** Packs entries (in the order given) into a fresh, transferable ArrayBuffer. */
export function packEntries(entries: Iterable<Entry>): ArrayBuffer {
  const list = Array.isArray(entries) ? (entries as Entry[]) : Array.from(entries);
  let size = COUNT_SIZE;
  for (const e of list) size += HEADER_SIZE + e.key.length + e.value.length;
  // Never a slice of Buffer's shared pool: only a whole ArrayBuffer can be transferred.
  const buffer = new ArrayBuffer(size);
  const out = Buffer.from(buffer);
  out.writeUInt32LE(list.length, 0);
  let at = COUNT_SIZE;
  for (const e of list) {
    out.writeUInt32LE(e.key.length, at);
    out.writeUInt32LE(e.value.length, at + 4);
    out.writeDoubleLE(e.seqno, at + 8);
    out.writeUInt8(e.kind, at + 16);
    at += HEADER_SIZE;
    at += e.key.copy(out, at);
    at += e.value.copy(out, at);
  }
  return buffer;
}

/** The entries of a packed buffer, in order; keys and values are views into `buffer`, not copies. */
export function* unpackEntries(buffer: ArrayBuffer): Iterable<Entry> {
  const bytes = Buffer.from(buffer);
  if (bytes.length < COUNT_SIZE) throw new RangeError('packed entries: buffer too short');
  const count = bytes.readUInt32LE(0);
  let at = COUNT_SIZE;
  for (let i = 0; i < count; i++) {
    if (at + HEADER_SIZE > bytes.length) throw new RangeError(`packed entries: entry ${i} cut short`);
    const keyLength = bytes.readUInt32LE(at);
    const valueLength = bytes.readUInt32LE(at + 4);
    const seqno = bytes.readDoubleLE(at + 8);
    const kind = bytes.readUInt8(at + 16) as EntryKind;
    at += HEADER_SIZE;
    if (at + keyLength + valueLength > bytes.length) throw new RangeError(`packed entries: entry ${i} cut short`);
    const key = bytes.subarray(at, at + keyLength);
    at += keyLength;
    const value = bytes.subarray(at, at + valueLength);
    at += valueLength;
    yield { key, seqno, kind, value };
  }
  if (at !== bytes.length) throw new RangeError('packed entries: trailing bytes');
}
