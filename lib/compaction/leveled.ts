// The leveled compaction strategy (the default): level 0 drains into level 1 once it holds
// level0Trigger files; a level L >= 1 over its byte budget pushes one file into L+1. The
// budgets of the levels above the deepest one follow its size (dynamic level targets).
// A pure decision over a VersionState; stateless, so safe to call from anywhere.
import type { SegmentDescriptor, VersionState } from '../tree/manifest.js';
import type { KeyRange } from '../tree/merge.js';
import { chooseBottommost } from './manual.js';
import { type Choice, type CompactionContext, type CompactionStrategy, type MergeInput, NO_COMPACTION, hullOf, overlapping, requireInteger } from './choice.js';

const MiB = 1024 * 1024;

export interface LeveledConfig {
  /** Level 0 is merged into level 1 once it holds this many files. */
  level0Trigger: number;
  /**
   * Byte budget of level 1; level L's is baseLevelBytes * levelMultiplier^(L-1), and a
   * level above the deepest non-empty one gets at most the deepest one's bytes divided by
   * levelMultiplier per level between them (see levelBudgets).
   */
  baseLevelBytes: number;
  levelMultiplier: number;
  /** Levels 0 .. maxLevels-1; the last level is never compacted further down. */
  maxLevels: number;
  /** Merges split their output into files of about this size. */
  targetFileBytes: number;
}

export const DEFAULT_LEVELED_CONFIG: Readonly<LeveledConfig> = Object.freeze({
  level0Trigger: 4,
  baseLevelBytes: 64 * MiB,
  levelMultiplier: 10,
  maxLevels: 7,
  targetFileBytes: 64 * MiB,
});

/** Defaults filled in and every field checked (TypeError / RangeError). */
export function leveledConfig(options: Partial<LeveledConfig> = {}): LeveledConfig {
  if (typeof options !== 'object' || options === null) throw new TypeError('leveled options must be an object');
  const config = { ...DEFAULT_LEVELED_CONFIG, ...options };
  requireInteger('level0Trigger', config.level0Trigger, 1);
  requireInteger('baseLevelBytes', config.baseLevelBytes, 1);
  requireInteger('levelMultiplier', config.levelMultiplier, 2);
  requireInteger('maxLevels', config.maxLevels, 2);
  requireInteger('targetFileBytes', config.targetFileBytes, 1);
  return config;
}

/** The static byte budget of level `level` (>= 1): what the level may hold before it is the deepest. */
export function levelBudget(config: LeveledConfig, level: number): number {
  return config.baseLevelBytes * config.levelMultiplier ** (level - 1);
}

/**
 * The byte budget of each level (index = level; level 0's entry unused). Dynamic targets,
 * after RocksDB's level_compaction_dynamic_level_bytes: with static budgets a store of
 * 100 MB keeps up to 64 MB in level 1 on top of a level 2 that already holds every key,
 * so under overwrites most of level 1 is stale versions (space amplification up to 1.6).
 * Sizing each upper level from the deepest one (its bytes / multiplier per level up) keeps
 * the stale share near 1/multiplier at any size. A level never gets more than its static
 * budget, nor less than baseLevelBytes / multiplier (below that every flush would push
 * files down); the deepest level keeps its static budget, so the tree still grows.
 */
export function levelBudgets(state: VersionState, config: LeveledConfig): number[] {
  const levels = state.levels;
  let deepest = 0;
  for (let level = levels.length - 1; level >= 1; level--) {
    if (levels[level].length > 0) {
      deepest = level;
      break;
    }
  }
  const deepestBytes = deepest > 0 ? levelBytes(levels[deepest]) : 0;
  const floor = config.baseLevelBytes / config.levelMultiplier;
  const budgets = [0];
  for (let level = 1; level < Math.max(levels.length, 2); level++) {
    const fixed = levelBudget(config, level);
    budgets.push(level < deepest ? Math.min(fixed, Math.max(floor, deepestBytes / config.levelMultiplier ** (deepest - level))) : fixed);
  }
  return budgets;
}

export class LeveledStrategy implements CompactionStrategy {
  readonly name = 'leveled';
  readonly config: Readonly<LeveledConfig>;

  constructor(options: Partial<LeveledConfig> = {}) {
    this.config = Object.freeze(leveledConfig(options));
  }

  choose(state: VersionState, context: CompactionContext): Choice {
    return chooseLeveled(state, this.config, context);
  }

  chooseRange(state: VersionState, range: KeyRange | undefined, busy: ReadonlySet<number>): Choice {
    return chooseBottommost(state, range, this.config.targetFileBytes, busy);
  }

  pendingBytes(state: VersionState): number {
    return leveledPendingBytes(state, this.config);
  }
}

/**
 * What the levels hold beyond their budgets: all of level 0 once it reached its trigger,
 * and each level's bytes over its budget (levels that merges will push down). The bytes
 * those merges also rewrite in the level below are not counted; RocksDB's estimate does
 * count them, so this one is lower by up to the level multiplier.
 */
export function leveledPendingBytes(state: VersionState, config: LeveledConfig): number {
  const level0 = state.levels[0] ?? [];
  let pending = level0.length >= config.level0Trigger ? levelBytes(level0) : 0;
  const lastCompacted = Math.min(state.levels.length, config.maxLevels - 1);
  const budgets = levelBudgets(state, config);
  for (let level = 1; level < lastCompacted; level++) pending += Math.max(0, levelBytes(state.levels[level]) - budgets[level]);
  return pending;
}

/**
 * The most urgent compaction that touches no busy file. Urgency is a score per level,
 * as in RocksDB: level 0 files / level0Trigger, level L bytes / its budget; only scores
 * >= 1 qualify. When the most urgent level is blocked by busy files, the next one is
 * tried, so two workers can compact different parts of the tree at once.
 */
export function chooseLeveled(state: VersionState, config: LeveledConfig, context: CompactionContext): Choice {
  const candidates: { level: number; score: number }[] = [];
  const level0 = state.levels[0] ?? [];
  if (level0.length >= config.level0Trigger) candidates.push({ level: 0, score: level0.length / config.level0Trigger });
  const lastCompacted = Math.min(state.levels.length, config.maxLevels - 1);
  const budgets = levelBudgets(state, config);
  for (let level = 1; level < lastCompacted; level++) {
    const score = levelBytes(state.levels[level]) / budgets[level];
    if (score > 1) candidates.push({ level, score });
  }
  candidates.sort((a, b) => b.score - a.score || a.level - b.level);
  for (const { level } of candidates) {
    const choice = level === 0 ? pickLevel0(state, config, context) : pickFromLevel(state, config, context, level);
    if (choice.kind !== 'none') return choice;
  }
  return NO_COMPACTION;
}

/**
 * Level 0 goes down whole. Its files overlap and are ordered by age, so leaving an
 * older one behind while a newer one moves below it would let stale data shadow fresh
 * data; while any level-0 file is busy (an earlier L0 merge runs) nothing is chosen.
 */
function pickLevel0(state: VersionState, config: LeveledConfig, context: CompactionContext): Choice {
  const level0 = state.levels[0];
  if (level0.some((s) => context.busy.has(s.fileNumber))) return NO_COMPACTION;
  const { minKey, maxKey } = hullOf(level0);
  const below = overlapping(state.levels[1] ?? [], minKey, maxKey);
  if (below.some((s) => context.busy.has(s.fileNumber))) return NO_COMPACTION;
  if (level0.length === 1 && below.length === 0) return { kind: 'move', segment: level0[0], fromLevel: 0, toLevel: 1 };
  return mergeChoice(state, config, 0, level0, below);
}

/**
 * One file of level L goes into L+1. Among files whose overlap in L+1 is not busy, the
 * one with the smallest overlap ratio (bytes of L+1 it overlaps / its own bytes) wins:
 * that is the merge that rewrites the fewest bytes per byte pushed down (RocksDB's
 * kMinOverlappingRatio). A round-robin cursor spreads work evenly by key but needs state
 * outside the version and rewrites more. A file with no overlap at all scores 0 and
 * becomes a trivial move. Ties go to the older (lower-numbered) file.
 */
function pickFromLevel(state: VersionState, config: LeveledConfig, context: CompactionContext, level: number): Choice {
  const next = state.levels[level + 1] ?? [];
  let best: { file: SegmentDescriptor; below: SegmentDescriptor[]; ratio: number } | undefined;
  for (const file of state.levels[level]) {
    if (context.busy.has(file.fileNumber)) continue;
    const below = overlapping(next, file.minKey, file.maxKey);
    if (below.some((s) => context.busy.has(s.fileNumber))) continue;
    const ratio = levelBytes(below) / Math.max(file.fileSize, 1);
    if (best === undefined || ratio < best.ratio || (ratio === best.ratio && file.fileNumber < best.file.fileNumber)) {
      best = { file, below, ratio };
    }
  }
  if (best === undefined) return NO_COMPACTION;
  if (best.below.length === 0) return { kind: 'move', segment: best.file, fromLevel: level, toLevel: level + 1 };
  return mergeChoice(state, config, level, [best.file], best.below);
}

/**
 * Tombstones may go only when nothing older can sit beneath them: no level below the
 * output holds a segment overlapping the merged span. Shadowed versions always go (see
 * run-merge.ts: every reader of an older version keeps that version's own segments alive).
 */
function mergeChoice(
  state: VersionState,
  config: LeveledConfig,
  level: number,
  upper: readonly SegmentDescriptor[],
  below: readonly SegmentDescriptor[],
): Choice {
  const outputLevel = level + 1;
  const { minKey, maxKey } = hullOf([...upper, ...below]);
  let dropTombstones = true;
  for (let deeper = outputLevel + 1; deeper < state.levels.length && dropTombstones; deeper++) {
    if (overlapping(state.levels[deeper], minKey, maxKey).length > 0) dropTombstones = false;
  }
  const inputs: MergeInput[] = [{ level, fileNumbers: upper.map((s) => s.fileNumber) }];
  if (below.length > 0) inputs.push({ level: outputLevel, fileNumbers: below.map((s) => s.fileNumber) });
  return { kind: 'merge', inputs, outputLevel, targetFileBytes: config.targetFileBytes, dropTombstones };
}

function levelBytes(files: readonly SegmentDescriptor[]): number {
  let n = 0;
  for (const s of files) n += s.fileSize;
  return n;
}
