// Scheduled backups: a backup of one keyspace every interval (with jitter), each followed
// by a prune and optionally a verify. Runs never overlap; the first run catches up when
// the store's newest backup of the keyspace is older than one interval (a missed run
// before a restart). Failures are reported ('error' event, stats()) and the next run is
// tried at the next slot. Main thread; one schedule per keyspace and engine.
import { EventEmitter } from 'node:events';
import type { Keyspace } from '../keyspace/keyspace.js';
import type { PruneResult } from './prune-backups.js';
import type { BackupResult } from './take-backup.js';
import type { VerifyResult } from './verify-backup.js';

/** Options of `engine.schedule`. */
export interface ScheduleOptions {
  /** The interval: milliseconds, or a string such as '90s', '15m', '1h', '1d'. At least 10 ms. */
  every: number | string;
  /** Prune after each backup, keeping the newest `keepLast` backups (and what `maxAge` keeps). */
  keepLast?: number;
  /** Prune after each backup, keeping backups younger than this (ms or a duration string). */
  maxAge?: number | string;
  /** Verify each new backup: true (every object present with its size) or 'full' (re-hash). */
  verify?: boolean | 'full';
}

/** What `schedule.stats()` reports. */
export interface ScheduleStats {
  /** Runs finished (successful or not), and those that failed. */
  runs: number;
  failures: number;
  /** When the next run starts (undefined once stopped). */
  nextRunAt: Date | undefined;
  running: boolean;
  lastBackup: BackupResult | undefined;
  lastError: { code: string; message: string; at: string } | undefined;
}

/** What a schedule needs of its engine. */
export interface ScheduleContext {
  backup: (ks: Keyspace) => Promise<BackupResult>;
  prune: (options: { keepLast?: number; maxAgeMs?: number }) => Promise<PruneResult>;
  verify: (id: string, full: boolean) => Promise<VerifyResult>;
  /** Creation time (ms) of the newest backup of `keyspaceId`, or undefined. */
  newestBackupAt: (keyspaceId: string) => Promise<number | undefined>;
  clock: () => number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration given as a number or '<n><ms|s|m|h|d>'; TypeError / RangeError otherwise. */
export function parseDuration(value: unknown, name: string): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
    if (m === null) throw new RangeError(`${name} must be milliseconds or a duration such as '15m', '1h', '1d' (got ${JSON.stringify(value)})`);
    ms = Number(m[1]) * UNITS[m[2]];
  } else throw new TypeError(`${name} must be a number of milliseconds or a duration string`);
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a finite, non-negative duration`);
  return Math.round(ms);
}

/**
 * A running schedule. Events: 'backup' (BackupResult), 'prune' (PruneResult), 'verify'
 * (VerifyResult), 'error' (the failure of a run; without a listener it is only kept in
 * stats()).
 */
export class BackupSchedule extends EventEmitter {
  readonly #ks: Keyspace;
  readonly #ctx: ScheduleContext;
  readonly #everyMs: number;
  readonly #keepLast: number | undefined;
  readonly #maxAgeMs: number | undefined;
  readonly #verify: boolean | 'full';
  #timer: NodeJS.Timeout | undefined;
  #nextRunAt: number | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;
  #runs = 0;
  #failures = 0;
  #lastBackup: BackupResult | undefined;
  #lastError: ScheduleStats['lastError'];

  /** @internal Use engine.schedule(ks, options). */
  constructor(ks: Keyspace, ctx: ScheduleContext, options: { everyMs: number; keepLast?: number; maxAgeMs?: number; verify: boolean | 'full' }) {
    super();
    this.#ks = ks;
    this.#ctx = ctx;
    this.#everyMs = options.everyMs;
    this.#keepLast = options.keepLast;
    this.#maxAgeMs = options.maxAgeMs;
    this.#verify = options.verify;
    void this.#planFirst();
  }

  stats(): ScheduleStats {
    return {
      runs: this.#runs,
      failures: this.#failures,
      nextRunAt: this.#nextRunAt === undefined || this.#stopped ? undefined : new Date(this.#nextRunAt),
      running: this.#running !== undefined,
      lastBackup: this.#lastBackup,
      lastError: this.#lastError,
    };
  }

  /** Stops scheduling; resolves once a run in progress has finished. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Up to a tenth of the interval (at most 5 minutes), so many schedules do not all run at once. */
  #jitter(): number {
    return Math.floor(Math.random() * Math.min(this.#everyMs / 10, 300_000));
  }

  async #planFirst(): Promise<void> {
    let newest: number | undefined;
    try {
      newest = await this.#ctx.newestBackupAt(this.#ks.id);
    } catch (err) {
      this.#fail(err);
    }
    const now = this.#ctx.clock();
    // A run missed while the process was down is caught up now; otherwise one interval after the newest.
    const due = newest === undefined || now - newest >= this.#everyMs ? now : newest + this.#everyMs;
    this.#arm(Math.max(0, due - now) + (due === now ? 0 : this.#jitter()));
  }

  #arm(delayMs: number): void {
    if (this.#stopped) return;
    this.#nextRunAt = this.#ctx.clock() + delayMs;
    this.#timer = setTimeout(() => void this.#run(), delayMs);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    if (this.#stopped || this.#running !== undefined) return;
    const run = this.#runOnce();
    this.#running = run;
    await run;
    this.#running = undefined;
    if (!this.#ks.closed) this.#arm(this.#everyMs + this.#jitter());
    else this.#stopped = true;
  }

  async #runOnce(): Promise<void> {
    try {
      const backup = await this.#ctx.backup(this.#ks);
      this.#lastBackup = backup;
      this.emit('backup', backup);
      if (this.#verify !== false) {
        const verified = await this.#ctx.verify(backup.id, this.#verify === 'full');
        this.emit('verify', verified);
      }
      if (this.#keepLast !== undefined || this.#maxAgeMs !== undefined) {
        this.emit('prune', await this.#ctx.prune({ keepLast: this.#keepLast, maxAgeMs: this.#maxAgeMs }));
      }
    } catch (err) {
      this.#failures++;
      this.#fail(err);
    } finally {
      this.#runs++;
    }
  }

  #fail(err: unknown): void {
    const e = err as { code?: unknown; message?: unknown };
    this.#lastError = { code: typeof e?.code === 'string' ? e.code : 'UNKNOWN', message: String(e?.message ?? err), at: new Date().toISOString() };
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}
