// The internal record every LSM layer passes around: a user key at a sequence number,
// either a value or a tombstone. Immutable once created; safe to share between layers.

/** What an entry does to its key. The numeric values are part of the on-disk format. */
export const EntryKind = { Delete: 0, Put: 1 } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export interface Entry {
  readonly key: Buffer;
  /** Keyspace-wide sequence number; larger is newer. Below 2^53. */
  readonly seqno: number;
  readonly kind: EntryKind;
  /** The value for Put; an empty buffer for Delete. */
  readonly value: Buffer;
}

/** Order of entries in memtables and segments: key ascending, then seqno descending (newest first). */
export function compareEntries(a: Entry, b: Entry): number {
  const c = Buffer.compare(a.key, b.key);
  if (c !== 0) return c;
  return b.seqno - a.seqno;
}

/** Largest sequence number cairn will ever assign (2^53 - 1): reading "at" it sees everything. */
export const MAX_SEQNO = Number.MAX_SAFE_INTEGER;
