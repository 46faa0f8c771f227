// Leases: how a backup and a prune running at the same time (in any processes, on any
// hosts) keep out of each other's way. Each writes its lease object first and only then
// lists the other kind's leases, so of two that overlap at least one sees the other (see
// docs/backups.md). A lease is live until its expiresAt; the holder re-puts it every
// ttl/3 and checks it is still live before acting on it. Main thread; one holder per lease.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { BackupStore } from './store.js';
import { BACKUP_FORMAT, encodeJson } from './manifest.js';
import { listAll, readObject } from './store-objects.js';
import { LOCKS_PREFIX, leaseKey } from './store-layout.js';
import { hasCode } from '../errors.js';

export type LeaseKind = 'backup' | 'prune';

export interface LeaseRecord {
  format: number;
  kind: LeaseKind;
  id: string;
  host: string;
  pid: number;
  createdAt: string;
  /** Milliseconds since the epoch, by the holder's clock. */
  expiresAt: number;
}

/** A held lease as others see it (for error details and reports). */
export interface LeaseInfo {
  key: string;
  kind: LeaseKind;
  host: string | undefined;
  pid: number | undefined;
  expiresAt: number;
}

export class Lease {
  readonly key: string;
  readonly #store: BackupStore;
  readonly #record: LeaseRecord;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  /** expiresAt of the last put that succeeded: until then everyone sees the lease as live. */
  #confirmedUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #released = false;
  /** Set when a refresh came late: for a while others may have seen the lease expired. */
  #lapsed = false;

  private constructor(store: BackupStore, kind: LeaseKind, ttlMs: number, clock: () => number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
    const id = randomBytes(8).toString('hex');
    this.key = leaseKey(kind, id);
    this.#record = { format: BACKUP_FORMAT, kind, id, host: hostname(), pid: process.pid, createdAt: new Date(clock()).toISOString(), expiresAt: 0 };
  }

  /** Puts the lease, then lists the live leases of `other` kind. The caller releases on conflict. */
  static async acquire(store: BackupStore, kind: LeaseKind, ttlMs: number, clock: () => number): Promise<{ lease: Lease; conflicts: LeaseInfo[] }> {
    const lease = new Lease(store, kind, ttlMs, clock);
    await lease.#put(true);
    try {
      const conflicts = await liveLeases(store, kind === 'backup' ? 'prune' : 'backup', clock, ttlMs);
      lease.#timer = setInterval(() => void lease.refresh().catch(() => undefined), Math.max(1, Math.floor(ttlMs / 3)));
      lease.#timer.unref();
      return { lease, conflicts };
    } catch (err) {
      await store.delete(lease.key).catch(() => undefined);
      throw err;
    }
  }

  /**
   * True while others are sure to see the lease as live: its last confirmed expiry is
   * more than a tenth of the ttl away (a margin for clock skew between hosts).
   */
  get live(): boolean {
    return !this.#released && this.#clock() < this.#confirmedUntil - this.#margin;
  }

  /**
   * Live now and never seen expired since acquire (or since the last `renew`). Whoever
   * relies on the lease checks this before acting; when false, what it found in the
   * store while the lease was out may have changed.
   */
  get intact(): boolean {
    return this.live && !this.#lapsed;
  }

  /** After a lapse: put the lease again; the caller then re-checks what the lease guards. */
  async renew(): Promise<void> {
    this.#lapsed = false;
    await this.refresh();
  }

  get #margin(): number {
    return this.#ttlMs / 10;
  }

  /** Re-puts the lease with a new expiry. Concurrent calls share one put. */
  refresh(): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.#refreshing ??= this.#put(false).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    await this.#refreshing?.catch(() => undefined);
    await this.#store.delete(this.key);
  }

  async #put(first: boolean): Promise<void> {
    const expiresAt = this.#clock() + this.#ttlMs;
    await this.#store.put(this.key, encodeJson({ ...this.#record, expiresAt }), { ifNoneMatch: first });
    if (this.#released) return;
    if (!first && this.#clock() >= this.#confirmedUntil - this.#margin) this.#lapsed = true;
    this.#confirmedUntil = expiresAt;
  }
}

/**
 * Leases of `kind` that have not expired. One that cannot be read as a lease counts as
 * live for a ttl after its store mtime, so a damaged lease blocks only for a while.
 */
export async function liveLeases(store: BackupStore, kind: LeaseKind, clock: () => number, ttlMs: number): Promise<LeaseInfo[]> {
  const live: LeaseInfo[] = [];
  for (const object of await listAll(store, `${LOCKS_PREFIX}${kind}-`)) {
    const info = await readLease(store, object.key, kind, object.mtimeMs + ttlMs);
    if (info !== undefined && clock() < info.expiresAt) live.push(info);
  }
  return live;
}

/** Deletes leases of either kind that expired more than a ttl ago (holders that crashed). */
export async function removeExpiredLeases(store: BackupStore, clock: () => number, ttlMs: number): Promise<number> {
  let removed = 0;
  for (const object of await listAll(store, LOCKS_PREFIX)) {
    const kind: LeaseKind = object.key.startsWith(`${LOCKS_PREFIX}prune-`) ? 'prune' : 'backup';
    const info = await readLease(store, object.key, kind, object.mtimeMs + ttlMs);
    if (info !== undefined && clock() >= info.expiresAt + ttlMs) {
      await store.delete(object.key);
      removed++;
    }
  }
  return removed;
}

async function readLease(store: BackupStore, key: string, kind: LeaseKind, fallbackExpiry: number): Promise<LeaseInfo | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readObject(store, key);
  } catch (err) {
    // Released between the listing and the read.
    if (hasCode(err, 'CAIRN_NOT_FOUND')) return undefined;
    throw err;
  }
  try {
    const r = JSON.parse(bytes.toString('utf8')) as Partial<LeaseRecord>;
    if (typeof r.expiresAt === 'number') return { key, kind, host: r.host, pid: r.pid, expiresAt: r.expiresAt };
  } catch {
    // Unreadable: fall through to the mtime-based expiry.
  }
  return { key, kind, host: undefined, pid: undefined, expiresAt: fallbackExpiry };
}
