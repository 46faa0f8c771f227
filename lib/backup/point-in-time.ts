// Point-in-time restore (docs/shipping.md §5): the newest backup at or before the target,
// then the shipped journal objects after it, replayed up to the target. Planned before
// anything is written (a target outside the window or a gap on the way is refused); the
// base is restored into a staging directory beside the target, the replayed batches are
// applied straight into the staged keyspace's memtables (flushed to segments as they
// fill, no journal written and re-read), and the result is renamed into place whole. One
// call per restore.
import * as nodePath from 'node:path';
import { CairnError, ErrorCodes, throwIfAborted } from '../errors.js';
import { publishDirectory, tempPathFor } from '../fs/durable.js';
import { Keyspace } from '../index.js';
import { journalAccess } from '../keyspace/keyspace.js';
import { type EngineContext, byCreatedAt, openExistingStore, readAllManifests } from './catalog.js';
import type { BackupManifest } from './manifest.js';
import { type RestoreOptions, type RestoreResult, restoreBackup } from './restore-backup.js';
import type { ShippedCodec } from './shipped-codec.js';
import type { BackupStore } from './store.js';
import { type FetchedShipped, type ShippedListing, backupTimeMs, chainFrom, fetchShipped, fetchShippedTimes, listShipped } from './shipped-catalog.js';
import { shippedBatch, type ShippedRecord } from './shipped-object.js';

/** The target of a point-in-time restore: exactly one of a seqno or a moment (inclusive). */
export interface PointInTimeTarget {
  toSeqno?: number;
  toTime?: Date | string | number;
}

/** What a point-in-time restore does (its `dryRun` result, and part of a real one). */
export interface RestorePlan {
  /** The base backup. */
  backup: { id: string; seqno: number; time: Date };
  /** Shipped objects replayed after it, in order, and their stored bytes. */
  objects: { key: string; firstSeqno: number; lastSeqno: number }[];
  bytes: number;
  /** The restored keyspace holds every batch up to this seqno, and none after. */
  seqno: number;
  /** Commit time of the batch at `seqno`. */
  time: Date;
}

/** What a point-in-time restore resolves with: a RestoreResult plus its plan and what it replayed. */
export interface PointInTimeResult extends RestoreResult {
  plan: RestorePlan;
  /** Batches applied on top of the backup. */
  batchesReplayed: number;
}

/** Milliseconds of a toTime given as a Date, ISO string or number; TypeError / RangeError otherwise. */
export function toTimeMs(value: Date | string | number): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : value;
  if (typeof ms !== 'number') throw new TypeError('options.toTime must be a Date, an ISO 8601 string or milliseconds');
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`options.toTime is not a valid time: ${String(value)}`);
  return ms;
}

function notFound(message: string, details: Record<string, unknown>): CairnError {
  return new CairnError(ErrorCodes.NOT_FOUND, message, { details });
}

/**
 * Where a replay starts: the keyspace and the seqno it holds, and (when known: a follower
 * that applied objects before) the chain value after that seqno's record.
 */
export interface ReplayStart {
  keyspaceId: string;
  seqno: number;
  chain?: { key: string; value: Buffer };
}

/**
 * The objects chained from `start`, fetched one at a time, and their records above its
 * seqno; every link checked: the keyspace id (CAIRN_CORRUPTION, reason 'keyspace') and
 * each object's preChain against the chain before it (CAIRN_CORRUPTION, reason 'chain').
 */
export async function* replayRecords(store: BackupStore, codec: ShippedCodec, chain: readonly ShippedListing[], start: ReplayStart, signal: AbortSignal | undefined): AsyncGenerator<{ object: FetchedShipped; record: ShippedRecord }> {
  let previous: { key: string; value: Buffer } | undefined = start.chain;
  // One object ahead: its read overlaps the apply of the one before.
  let ahead: Promise<FetchedShipped> | undefined;
  for (let i = 0; i < chain.length; i++) {
    const listed = chain[i];
    const object = await (ahead ?? fetchShipped(store, codec, listed.key, signal));
    ahead = i + 1 < chain.length ? fetchShipped(store, codec, chain[i + 1].key, signal) : undefined;
    ahead?.catch(() => undefined);
    const { info } = object;
    if (info.keyspaceId !== start.keyspaceId.toLowerCase()) {
      throw new CairnError(ErrorCodes.CORRUPTION, `${listed.key} belongs to keyspace ${info.keyspaceId}, not ${start.keyspaceId}`, { details: { reason: 'keyspace', key: listed.key, keyspaceId: info.keyspaceId } });
    }
    if (previous !== undefined && !info.preChain.equals(previous.value)) {
      throw new CairnError(ErrorCodes.CORRUPTION, `The shipped journal breaks between ${previous.key} and ${listed.key}: its chain does not link (another history, or a restarted stream)`, {
        details: { reason: 'chain', from: info.firstSeqno, to: info.lastSeqno, key: listed.key, previous: previous.key },
      });
    }
    previous = { key: object.key, value: info.postChain };
    for (const record of object.records) if (record.lastSeqno > start.seqno) yield { object, record };
  }
}

/**
 * Resolves the target into a plan: the base backup, the objects, the exact seqno and
 * time the result will have. Refuses (CAIRN_NOT_FOUND, naming the range) a target before
 * the oldest backup, beyond the last shipped batch, or behind a gap.
 */
export async function planPointInTime(ctx: EngineContext, codec: ShippedCodec, ref: string, target: PointInTimeTarget, signal?: AbortSignal): Promise<{ plan: RestorePlan; base: BackupManifest; chain: ShippedListing[] }> {
  const { manifests } = await readAllManifests(ctx.store, (await openExistingStore(ctx)).codec, signal);
  const candidates = (ref === 'latest' ? manifests : manifests.filter((m) => m.id === ref)).sort(byCreatedAt);
  if (candidates.length === 0) throw notFound(ref === 'latest' ? `The backup store ${ctx.store.url} holds no backup` : `No backup ${ref} in ${ctx.store.url}`, { id: ref });
  const objects = await listShipped(ctx.store);
  const timeTarget = target.toTime === undefined ? undefined : toTimeMs(target.toTime);
  const eligible = candidates.filter((m) => (timeTarget === undefined ? m.seqno <= (target.toSeqno as number) : backupTimeMs(m) <= timeTarget));
  const base = eligible.sort((a, b) => a.seqno - b.seqno).at(-1);
  if (base === undefined) {
    const oldest = [...candidates].sort((a, b) => a.seqno - b.seqno)[0];
    throw notFound(`The target is before the oldest backup (${oldest.id}, seqno ${oldest.seqno})`, { target: target.toSeqno ?? timeTarget, oldest: { id: oldest.id, seqno: oldest.seqno } });
  }
  const baseTime = backupTimeMs(base);
  const planFor = (chain: ShippedListing[], seqno: number, timeMs: number): RestorePlan => ({
    backup: { id: base.id, seqno: base.seqno, time: new Date(baseTime) },
    objects: chain.map((o) => ({ key: o.key, firstSeqno: o.firstSeqno, lastSeqno: o.lastSeqno })),
    bytes: chain.reduce((n, o) => n + o.size, 0),
    seqno,
    time: new Date(timeMs),
  });

  if (timeTarget === undefined) {
    const toSeqno = target.toSeqno as number;
    if (toSeqno === base.seqno) return { plan: planFor([], base.seqno, baseTime), base, chain: [] };
    const run = chainFrom(objects, base.seqno, toSeqno);
    if (run.gap !== undefined) {
      const beyond = run.gap.to >= toSeqno && !objects.some((o) => o.firstSeqno > run.reached);
      throw notFound(
        beyond ? `Seqno ${toSeqno} is beyond the last shipped batch (${run.reached})` : `The shipped journal has a gap: seqnos ${run.gap.from}-${run.gap.to} are missing`,
        { target: toSeqno, missing: run.gap, reached: run.reached },
      );
    }
    // The exact seqno and time: the last whole batch at or below the target (one object read, the last).
    let seqno = base.seqno;
    let timeMs = baseTime;
    const last = run.chain.at(-1);
    if (last !== undefined) {
      const object = await fetchShipped(ctx.store, codec, last.key, signal);
      for (const r of object.records) {
        if (r.lastSeqno > toSeqno) break;
        if (r.lastSeqno > base.seqno) {
          seqno = r.lastSeqno;
          timeMs = r.timeMs;
        }
      }
      if (seqno === base.seqno && run.chain.length > 1) {
        // The target sits inside the last object's first batch: the one before ends the plan.
        const before = run.chain.at(-2) as ShippedListing;
        seqno = before.lastSeqno;
        timeMs = (await fetchShipped(ctx.store, codec, before.key, signal)).info.lastTimeMs;
      }
    }
    const chain = run.chain.filter((o) => o.firstSeqno <= seqno);
    return { plan: planFor(chain, seqno, timeMs), base, chain };
  }

  // A time: walk the objects after the base (headers and record times; the chain is
  // checked by the replay) until a batch committed after the target.
  const run = chainFrom(objects, base.seqno, Infinity);
  let seqno = base.seqno;
  let timeMs = baseTime;
  let passed = false;
  const used: ShippedListing[] = [];
  for (const listed of run.chain) {
    const { info, records } = await fetchShippedTimes(ctx.store, codec, listed.key, signal);
    if (info.keyspaceId !== base.keyspaceId.toLowerCase()) break;
    for (const r of records) {
      if (r.lastSeqno <= base.seqno) continue;
      if (r.timeMs > timeTarget) {
        passed = true;
        break;
      }
      if (used.at(-1) !== listed) used.push(listed);
      seqno = r.lastSeqno;
      timeMs = r.timeMs;
    }
    if (passed) break;
  }
  if (!passed && timeTarget > timeMs) {
    const gap = objects.some((o) => o.firstSeqno > run.reached + 1);
    throw notFound(
      gap
        ? `The shipped journal has a gap after seqno ${run.reached}: ${new Date(timeTarget).toISOString()} is behind it`
        : `${new Date(timeTarget).toISOString()} is after the last shipped batch (seqno ${seqno}, ${new Date(timeMs).toISOString()})`,
      { target: timeTarget, reached: run.reached },
    );
  }
  return { plan: planFor(used, seqno, timeMs), base, chain: used };
}

/** Restores the plan's base into staging beside `dir`, replays, flushes, publishes. */
export async function restorePointInTime(
  ctx: EngineContext,
  codec: ShippedCodec,
  planned: { plan: RestorePlan; base: BackupManifest; chain: ShippedListing[] },
  dir: string,
  options: Required<Pick<RestoreOptions, 'concurrency'>> & RestoreOptions,
): Promise<PointInTimeResult> {
  const started = performance.now();
  const { plan, base, chain } = planned;
  const { signal } = options;
  const target = nodePath.resolve(dir);
  const existing = await ctx.fs.statOrUndefined(target);
  if (existing !== undefined && (!existing.isDirectory || (await ctx.fs.readdir(target)).length > 0)) {
    throw new CairnError(ErrorCodes.NOT_EMPTY, `The restore target ${target} exists and is not an empty directory`, { details: { path: target } });
  }
  if (chain.length === 0) {
    const restored = await restoreBackup(ctx, (await openExistingStore(ctx)).codec, base, target, options);
    return { ...restored, plan, batchesReplayed: 0, durationMs: performance.now() - started };
  }
  // The staging name carries the temp marker: debris of a crash here is safe to delete.
  const staging = tempPathFor(target);
  let published = false;
  try {
    const restored = await restoreBackup(ctx, (await openExistingStore(ctx)).codec, base, staging, options);
    let batches = 0;
    const ks = await Keyspace.open(staging, { fs: ctx.fs, createIfMissing: false });
    try {
      const access = journalAccess(ks);
      for await (const { object, record } of replayRecords(ctx.store, codec, chain, base, signal)) {
        if (record.lastSeqno > plan.seqno) break;
        const batch = shippedBatch(object.plaintext, record);
        await access.applyReplayed(batch.seqno, batch.timeMs, batch.ops);
        if (++batches % 1024 === 0) throwIfAborted(signal);
      }
      if (ks.seqno !== plan.seqno) {
        throw new CairnError(ErrorCodes.CORRUPTION, `The replay ended at seqno ${ks.seqno}, not at the planned ${plan.seqno}`, { details: { reached: ks.seqno, planned: plan.seqno } });
      }
      // Everything replayed into segments: the restored keyspace needs no journal replay.
      await ks.flush();
    } finally {
      await ks.close();
    }
    throwIfAborted(signal);
    await publishDirectory(ctx.fs, staging, target, { dirs: [staging], syscall: 'restore', replaceEmptyDirectory: true, signal });
    published = true;
    return { ...restored, path: target, seqno: plan.seqno, plan, batchesReplayed: batches, durationMs: performance.now() - started };
  } finally {
    if (!published) await ctx.fs.removeTree(staging).catch(() => undefined);
  }
}
