// The FIFO strategy, for caches and logs: never rewrites data, only drops the oldest
// segments once the tree exceeds a byte budget or they outlive a TTL. A pure decision;
// stateless, so safe to call from anywhere.
//
// Chosen over size-tiered as cairn's alternative because it fits the version model as
// is: flushes land in level 0 newest first and FIFO leaves them there, so its drop order
// is exact. Size-tiered needs several overlapping sorted runs per level, which
// VersionState forbids for levels >= 1 (sorted and disjoint), and it would bring a second
// merge policy to test; FIFO adds a different capability (bounded, expiring data) instead.
import type { SegmentDescriptor, VersionState } from '../tree/manifest.js';
import { type Choice, type CompactionContext, type CompactionStrategy, NO_COMPACTION, requireInteger } from './choice.js';

export interface FifoConfig {
  /** Drop the oldest segments while all segments together exceed this many bytes. */
  maxBytes: number;
  /** Also drop segments created more than this many milliseconds ago (0: no TTL). */
  ttlMs: number;
}

/** Defaults (no TTL) filled in and every field checked (TypeError / RangeError). */
export function fifoConfig(options: Partial<FifoConfig> & Pick<FifoConfig, 'maxBytes'>): FifoConfig {
  if (typeof options !== 'object' || options === null) throw new TypeError('fifo options must be an object');
  const config = { ttlMs: 0, ...options };
  requireInteger('maxBytes', config.maxBytes, 1);
  requireInteger('ttlMs', config.ttlMs, 0);
  return config;
}

export class FifoStrategy implements CompactionStrategy {
  readonly name = 'fifo';
  readonly config: Readonly<FifoConfig>;

  constructor(options: Partial<FifoConfig> & Pick<FifoConfig, 'maxBytes'>) {
    this.config = Object.freeze(fifoConfig(options));
  }

  choose(state: VersionState, context: CompactionContext): Choice {
    return chooseFifo(state, this.config, context);
  }

  /** Bytes over the budget: what the next drops will remove. */
  pendingBytes(state: VersionState): number {
    let total = 0;
    for (const level of state.levels) for (const s of level) total += s.fileSize;
    return Math.max(0, total - this.config.maxBytes);
  }

  /** The next expiry of a segment not yet expired (waking early is harmless: the tree asks again). */
  nextChangeAt(state: VersionState, now: number): number | undefined {
    if (this.config.ttlMs === 0) return undefined;
    let next: number | undefined;
    for (const level of state.levels) {
      for (const s of level) {
        const expiry = s.createdAt === undefined ? undefined : s.createdAt + this.config.ttlMs;
        if (expiry !== undefined && expiry > now && (next === undefined || expiry < next)) next = expiry;
      }
    }
    return next;
  }
}

/**
 * Drops the longest run of oldest segments that are over budget or expired. "Oldest"
 * must mean "nothing older for the same keys remains": dropping a segment while an older
 * version of one of its keys survives below it would bring that stale value back. So the
 * order is the deepest level first (nothing lies beneath it; within it, lowest maxSeqno
 * first), then level 0 from its oldest end. The walk stops at the first segment that is
 * busy or still wanted, since skipping one would break that order.
 * With a TTL, context.now is required (TypeError otherwise); a segment expires when it
 * was created (its descriptor's createdAt) at least ttlMs before it.
 */
export function chooseFifo(state: VersionState, config: FifoConfig, context: CompactionContext): Choice {
  const { now } = context;
  if (config.ttlMs > 0 && now === undefined) throw new TypeError('a FIFO strategy with a TTL needs context.now');
  const expired = (s: SegmentDescriptor): boolean => config.ttlMs > 0 && s.createdAt !== undefined && now! - s.createdAt >= config.ttlMs;
  let total = 0;
  for (const level of state.levels) for (const s of level) total += s.fileSize;
  const dropped: number[] = [];
  for (const s of oldestFirst(state)) {
    if (context.busy.has(s.fileNumber) || !(total > config.maxBytes || expired(s))) break;
    dropped.push(s.fileNumber);
    total -= s.fileSize;
  }
  return dropped.length === 0 ? NO_COMPACTION : { kind: 'drop', fileNumbers: dropped };
}

function* oldestFirst(state: VersionState): Iterable<SegmentDescriptor> {
  for (let level = state.levels.length - 1; level >= 1; level--) {
    yield* state.levels[level].slice().sort((a, b) => a.maxSeqno - b.maxSeqno || a.fileNumber - b.fileNumber);
  }
  const level0 = state.levels[0] ?? [];
  for (let i = level0.length - 1; i >= 0; i--) yield level0[i];
}
