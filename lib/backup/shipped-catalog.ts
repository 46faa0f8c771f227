// The reading side of shipped journal objects in a store: their listing (keys carry the
// seqno ranges, so a plan needs no object read), the chain of objects a replay from a
// backup follows, the window a restore can reach with its gaps, and their retention.
// Stateless; reads the store.
import { throwIfAborted } from '../errors.js';
import type { BackupManifest } from './manifest.js';
import { type ShippedCodec, decodeShipped } from './shipped-codec.js';
import { RECORD_HEADER_BYTES, recordSeqnoRange } from '../journal/record.js';
import { SHIPPED_HEADER_BYTES, SHIPPED_TRAILER_BYTES, decodeShippedHeader, decodeShippedObject, type ShippedObjectInfo, type ShippedRecord } from './shipped-object.js';
import type { BackupStore } from './store.js';
import { JOURNAL_PREFIX, parseShippedObjectKey } from './store-layout.js';
import { listAll, readObject } from './store-objects.js';

/** A shipped object as listed: key, seqno range, stored size. */
export interface ShippedListing {
  key: string;
  firstSeqno: number;
  lastSeqno: number;
  size: number;
}

/** One point of the window: a seqno and the commit time of its batch (ms; 0 when unknown). */
export interface WindowPoint {
  seqno: number;
  timeMs: number;
}

/** A range of seqnos no restore can reach: no object holds it and no backup bridges it. */
export interface WindowGap {
  from: number;
  to: number;
}

/**
 * What `engine.window()` reports: a restore can reach every seqno (and moment) from `from`
 * to `to` except inside `gaps`; undefined ends when the store holds no backup.
 */
export interface RestoreWindow {
  from: { seqno: number; time: Date } | undefined;
  to: { seqno: number; time: Date } | undefined;
  gaps: { from: number; to: number }[];
}

/** Every shipped object in the store, by first seqno (then longest first). */
export async function listShipped(store: BackupStore): Promise<ShippedListing[]> {
  const out: ShippedListing[] = [];
  for (const o of await listAll(store, JOURNAL_PREFIX)) {
    const parsed = parseShippedObjectKey(o.key);
    if (parsed !== undefined) out.push({ key: o.key, firstSeqno: parsed.firstSeqno, lastSeqno: parsed.lastSeqno, size: o.size });
  }
  return out.sort((a, b) => a.firstSeqno - b.firstSeqno || b.lastSeqno - a.lastSeqno);
}

/**
 * The objects a replay from `fromSeqno` (a backup's seqno) follows, in order, up to
 * `toSeqno` (Infinity: as far as they link): at each step the object holding the next
 * seqno that reaches furthest. `gap` is the first missing range before `toSeqno`, if any.
 */
export function chainFrom(objects: readonly ShippedListing[], fromSeqno: number, toSeqno: number): { chain: ShippedListing[]; reached: number; gap: WindowGap | undefined } {
  const chain: ShippedListing[] = [];
  let reached = fromSeqno;
  while (reached < toSeqno) {
    let best: ShippedListing | undefined;
    for (const o of objects) {
      // The first object may straddle the base; later ones must start right after the last.
      const fits = chain.length === 0 ? o.firstSeqno <= reached + 1 && o.lastSeqno > reached : o.firstSeqno === reached + 1;
      if (fits && (best === undefined || o.lastSeqno > best.lastSeqno)) best = o;
    }
    if (best === undefined) {
      if (toSeqno === Infinity) return { chain, reached, gap: undefined };
      const next = objects.find((o) => o.firstSeqno > reached + 1);
      return { chain, reached, gap: { from: reached + 1, to: next === undefined ? toSeqno : Math.min(toSeqno, next.firstSeqno - 1) } };
    }
    chain.push(best);
    reached = best.lastSeqno;
  }
  return { chain, reached, gap: undefined };
}

/** A fetched, decoded and checked object (plaintext, header, records). */
export interface FetchedShipped {
  key: string;
  plaintext: Buffer;
  info: ShippedObjectInfo;
  records: ShippedRecord[];
}

/**
 * An object's header and the seqno range and time of each record, without the chain
 * (checked by the replay that applies it): what a plan by time needs.
 */
export async function fetchShippedTimes(store: BackupStore, codec: ShippedCodec, key: string, signal?: AbortSignal): Promise<{ info: ReturnType<typeof decodeShippedHeader>; records: { lastSeqno: number; timeMs: number }[] }> {
  throwIfAborted(signal);
  const plaintext = decodeShipped(await readObject(store, key, signal), key, codec);
  const info = decodeShippedHeader(plaintext, key);
  const records: { lastSeqno: number; timeMs: number }[] = [];
  const end = plaintext.length - SHIPPED_TRAILER_BYTES;
  for (let o = SHIPPED_HEADER_BYTES; o + RECORD_HEADER_BYTES <= end; ) {
    const framed = plaintext.subarray(o, o + RECORD_HEADER_BYTES + plaintext.readUInt32LE(o));
    const range = recordSeqnoRange(framed);
    records.push({ lastSeqno: range.last, timeMs: range.timeMs ?? 0 });
    o += framed.length;
  }
  return { info, records };
}

export async function fetchShipped(store: BackupStore, codec: ShippedCodec, key: string, signal?: AbortSignal): Promise<FetchedShipped> {
  throwIfAborted(signal);
  const plaintext = decodeShipped(await readObject(store, key, signal), key, codec);
  const { info, records } = decodeShippedObject(plaintext, key);
  return { key, plaintext, info, records };
}

/** A backup's time: its batch's commit time, or (older backups) its creation time. */
export function backupTimeMs(m: BackupManifest): number {
  return m.timeMs ?? Date.parse(m.createdAt);
}

/**
 * The window: from the oldest backup to the furthest seqno a replay from any backup
 * reaches; what lies between and neither a backup nor a linked object covers is a gap,
 * and so is a missing range before objects no replay can reach.
 * Reads one object (the last reachable one, for its time); a deleted object shows as a
 * gap, a damaged one only when a restore reads it.
 */
export async function computeWindow(store: BackupStore, codec: ShippedCodec, manifests: readonly BackupManifest[]): Promise<RestoreWindow> {
  const backups = [...manifests].sort((a, b) => a.seqno - b.seqno);
  if (backups.length === 0) return { from: undefined, to: undefined, gaps: [] };
  const objects = await listShipped(store);
  const gaps: WindowGap[] = [];
  let reached = backups[0].seqno;
  let toTimeMs = backupTimeMs(backups[0]);
  let lastObject: ShippedListing | undefined;
  let bi = 0;
  for (;;) {
    // Every backup at or below what is reached restarts the replay from its seqno.
    while (bi < backups.length && backups[bi].seqno <= reached) bi++;
    const run = chainFrom(objects, reached, Infinity);
    if (run.reached > reached) {
      reached = run.reached;
      lastObject = run.chain.at(-1);
      continue;
    }
    if (bi >= backups.length) {
      // Objects beyond a gap that no backup bridges: the gap is reported, they are out of reach.
      const beyond = objects.find((o) => o.firstSeqno > reached + 1);
      if (beyond !== undefined) gaps.push({ from: reached + 1, to: beyond.firstSeqno });
      break;
    }
    // Nothing links on from here: the next backup bridges the gap.
    const next = backups[bi];
    gaps.push({ from: reached + 1, to: next.seqno });
    reached = next.seqno;
    lastObject = undefined;
    toTimeMs = backupTimeMs(next);
  }
  if (lastObject !== undefined) toTimeMs = (await fetchShipped(store, codec, lastObject.key)).info.lastTimeMs;
  // A gap ending at a backup's own seqno is reachable at that seqno: report what is not.
  const reported = gaps.map((g) => ({ from: g.from, to: g.to - 1 })).filter((g) => g.to >= g.from);
  return { from: { seqno: backups[0].seqno, time: new Date(backupTimeMs(backups[0])) }, to: { seqno: reached, time: new Date(toTimeMs) }, gaps: reported };
}

/**
 * Deletes (unless `dryRun`) the shipped objects wholly at or below the oldest kept
 * backup's seqno; none when no backup is kept. Resolves with how many.
 */
export async function pruneShippedObjects(store: BackupStore, kept: readonly BackupManifest[], dryRun: boolean, signal?: AbortSignal): Promise<number> {
  if (kept.length === 0) return 0;
  const oldest = Math.min(...kept.map((m) => m.seqno));
  let deleted = 0;
  for (const o of await listShipped(store)) {
    if (o.lastSeqno > oldest) continue;
    throwIfAborted(signal);
    if (!dryRun) await store.delete(o.key);
    deleted++;
  }
  return deleted;
}
