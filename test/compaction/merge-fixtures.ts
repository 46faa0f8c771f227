// Test helper: random multi-version input segments for merge tests, the model answer a
// merge must produce, and a reader of every entry of a segment file.
import path from 'node:path';
import { compareEntries, EntryKind, type Entry } from '../../lib/codec/entry.js';
import type { FileSystem } from '../../lib/fs/file-system.js';
import { BlockCache } from '../../lib/segment/block-cache.js';
import { SegmentReader } from '../../lib/segment/segment-reader.js';
import { writeSegment } from '../../lib/segment/segment-writer.js';
import type { Rng } from '../helpers/rng.js';

export interface Inputs {
  /** Newest first, as a merge job lists them. */
  paths: string[];
  /** Every entry of every input. */
  entries: Entry[];
  bytes: number;
}

/**
 * Writes `count` segments into `dir` (numbered from 1, the highest number newest). Keys
 * repeat across and within segments; every seqno is unique; about `tombstoneShare` of
 * entries are tombstones.
 */
export async function writeInputs(
  fs: FileSystem,
  dir: string,
  rng: Rng,
  opts: { count: number; entriesPerInput: number; keySpace: number; valueBytes: [number, number]; tombstoneShare: number },
): Promise<Inputs> {
  let seqno = 1;
  const paths: string[] = [];
  const all: Entry[] = [];
  let bytes = 0;
  for (let i = 1; i <= opts.count; i++) {
    const entries: Entry[] = [];
    for (let n = 0; n < opts.entriesPerInput; n++) {
      const kind = rng.next() < opts.tombstoneShare ? EntryKind.Delete : EntryKind.Put;
      const value = kind === EntryKind.Put ? rng.bytes(rng.int(opts.valueBytes[0], opts.valueBytes[1])) : Buffer.alloc(0);
      entries.push({ key: Buffer.from(`key-${String(rng.int(0, opts.keySpace)).padStart(7, '0')}`), seqno: seqno++, kind, value });
    }
    entries.sort(compareEntries);
    const file = path.join(dir, `input-${i}.sst`);
    bytes += (await writeSegment(fs, file, entries)).fileSize;
    paths.unshift(file);
    all.push(...entries);
  }
  return { paths, entries: all, bytes };
}

/** What a merge must write: per key the newest version, tombstones removed when asked. */
export function modelMerge(entries: readonly Entry[], dropTombstones: boolean): Entry[] {
  const newest = new Map<string, Entry>();
  for (const e of entries) {
    const k = e.key.toString('latin1');
    const seen = newest.get(k);
    if (seen === undefined || seen.seqno < e.seqno) newest.set(k, e);
  }
  return [...newest.values()].filter((e) => !dropTombstones || e.kind !== EntryKind.Delete).sort(compareEntries);
}

export async function readAll(fs: FileSystem, file: string): Promise<Entry[]> {
  const reader = await SegmentReader.open(fs, file, { fileNumber: 0, cache: new BlockCache(0) });
  try {
    const out: Entry[] = [];
    const cursor = reader.cursor();
    for (let e = cursor.next(); e !== undefined; e = cursor.next()) out.push({ ...e, key: Buffer.from(e.key), value: Buffer.from(e.value) });
    return out;
  } finally {
    await reader.close();
  }
}

/** Entries in a comparable shape for t.same (hex keys and values). */
export function plain(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.key.toString('hex')}@${e.seqno}:${e.kind}:${e.value.toString('hex')}`);
}
