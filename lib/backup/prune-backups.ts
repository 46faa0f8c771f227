// Retention: delete the manifests beyond the policy, then garbage-collect content
// objects no remaining manifest references. Safety beside a running backup (whose
// uploads no manifest names yet) comes from leases: a prune collects garbage only when
// it holds its lease and saw no live backup lease after writing it; backups refuse to
// start under a live prune lease. Content younger than the grace period is kept anyway,
// so a crashed backup's uploads survive for its retry. One prune at a time is sensible;
// two are safe (deleting twice is harmless).
import { throwIfAborted } from '../errors.js';
import { type EngineContext, byCreatedAt, openExistingStore, readAllManifests } from './catalog.js';
import { Lease, liveLeases, removeExpiredLeases } from './lease.js';
import { forEachLimit } from './parallel.js';
import { pruneShippedObjects } from './shipped-catalog.js';
import { ProgressTracker, type ProgressListener } from './progress.js';
import { FILES_PREFIX, manifestKey, parseObjectKey } from './store-layout.js';
import { listAll } from './store-objects.js';

/** Options of `engine.prune`: which backups to keep, and how content is collected. */
export interface PruneOptions {
  /** Keep the newest `keepLast` backups. */
  keepLast?: number;
  /** Keep every backup created less than `maxAgeMs` ago. */
  maxAgeMs?: number;
  /** Never delete a content object younger than this (store mtime). Default: the engine's graceMs. */
  graceMs?: number;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Deletes at once, 1–256. Default 8. */
  concurrency?: number;
  /** Stops the prune between deletions (CAIRN_ABORTED); what was deleted stays deleted. */
  signal?: AbortSignal;
  /** Called synchronously as phases start and objects are deleted. */
  onProgress?: ProgressListener;
}

/** What `engine.prune` resolves with. */
export interface PruneResult {
  /** True when nothing was deleted (`dryRun`); the other fields say what would have been. */
  dryRun: boolean;
  /** Backup ids kept and deleted (or to be deleted), oldest first. */
  kept: string[];
  deleted: string[];
  /** Damaged manifests (see `list().damaged`) deleted, or to be deleted; only when a retention rule is given. */
  deletedDamaged: string[];
  /**
   * Shipped journal objects deleted (or to be deleted): those wholly at or below the
   * oldest kept backup's seqno, which no restore can use (docs/shipping.md §6).
   */
  journalObjectsDeleted: number;
  /** Content objects deleted (or to be deleted) and their bytes. */
  filesDeleted: number;
  bytesFreed: number;
  /** Unreferenced objects kept because they are younger than the grace period. */
  filesInGrace: number;
  /** Why garbage collection did not run, when it did not. */
  gcSkipped: 'backup-running' | undefined;
}

export async function pruneBackups(ctx: EngineContext, options: Required<Pick<PruneOptions, 'graceMs' | 'dryRun' | 'concurrency'>> & PruneOptions): Promise<PruneResult> {
  const { store } = ctx;
  const { signal, dryRun, keepLast, maxAgeMs } = options;
  const tracker = new ProgressTracker(options.onProgress);
  const { codec } = await openExistingStore(ctx);
  // Written before anything is read: a backup starting from here on sees it and stays out.
  const held = dryRun ? undefined : await Lease.acquire(store, 'prune', ctx.leaseTtlMs, ctx.clock);
  try {
    const gcAllowed = held === undefined || held.conflicts.length === 0;
    const now = ctx.clock();
    const { manifests, damaged } = await readAllManifests(store, codec, signal);
    const newestFirst = manifests.sort(byCreatedAt).reverse();
    // A manifest that cannot be read restores nothing: any retention rule deletes it.
    const dropDamaged = keepLast === undefined && maxAgeMs === undefined ? [] : damaged;
    // A backup is kept when either rule keeps it; with neither rule given, all are kept.
    const keep = newestFirst.filter((m, i) => {
      if (keepLast === undefined && maxAgeMs === undefined) return true;
      return (keepLast !== undefined && i < keepLast) || (maxAgeMs !== undefined && now - Date.parse(m.createdAt) < maxAgeMs);
    });
    const keepIds = new Set(keep.map((m) => m.id));
    const drop = newestFirst.filter((m) => !keepIds.has(m.id));
    throwIfAborted(signal);

    tracker.phase('deleting', drop.length + dropDamaged.length, 0);
    if (!dryRun) {
      for (const key of [...drop.map((m) => manifestKey(m.id)), ...dropDamaged.map((d) => d.key)]) {
        throwIfAborted(signal);
        await store.delete(key);
        tracker.fileDone();
      }
    }

    const result: PruneResult = {
      dryRun,
      kept: keep.map((m) => m.id).reverse(),
      deleted: drop.map((m) => m.id).reverse(),
      deletedDamaged: dropDamaged.map((d) => d.id),
      // Below the oldest kept backup only: every moment from it to now stays restorable.
      journalObjectsDeleted: await pruneShippedObjects(store, keep, dryRun, signal),
      filesDeleted: 0,
      bytesFreed: 0,
      filesInGrace: 0,
      gcSkipped: gcAllowed ? undefined : 'backup-running',
    };
    if (!gcAllowed) return result;

    const referenced = new Set<string>();
    for (const m of keep) for (const f of m.files) referenced.add(codec.contentKey(f));
    const garbage = [];
    for (const object of await listAll(store, FILES_PREFIX)) {
      if (parseObjectKey(object.key) === undefined || referenced.has(object.key)) continue;
      if (ctx.clock() - object.mtimeMs < options.graceMs) result.filesInGrace++;
      else garbage.push(object);
    }
    throwIfAborted(signal);
    tracker.phase('deleting', garbage.length, garbage.reduce((n, o) => n + o.size, 0));
    let stopped = false;
    await forEachLimit(garbage, options.concurrency, signal, async (object) => {
      // Our lease must be live at every delete. If it lapsed (a long stall), a backup may
      // have started meanwhile and be counting on this object: refresh, look again, stop.
      if (stopped) return;
      if (held !== undefined && !held.lease.intact) {
        await held.lease.renew();
        if (!held.lease.live || (await liveLeases(store, 'backup', ctx.clock, ctx.leaseTtlMs)).length > 0) {
          stopped = true;
          return;
        }
      }
      if (!dryRun) await store.delete(object.key);
      result.filesDeleted++;
      result.bytesFreed += object.size;
      tracker.bytes(object.size);
      tracker.fileDone();
    });
    if (stopped) result.gcSkipped = 'backup-running';
    if (!dryRun) await removeExpiredLeases(store, ctx.clock, ctx.leaseTtlMs);
    tracker.phase('done', 0, 0);
    return result;
  } finally {
    await held?.lease.release().catch(() => undefined);
  }
}
