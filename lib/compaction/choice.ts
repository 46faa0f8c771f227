// What a compaction strategy decides (a Choice) and the pure function that applies a
// carried-out choice to a VersionState. Pure data and functions: no I/O, no shared state,
// safe anywhere (main thread or worker).
import type { SegmentDescriptor, VersionState } from '../tree/manifest.js';
import type { KeyRange } from '../tree/merge.js';

/** The files of one level that a merge reads. */
export interface MergeInput {
  level: number;
  fileNumbers: number[];
}

export type Choice =
  | { kind: 'none' }
  /** Re-link one segment into a deeper level without rewriting it: nothing there overlaps it. */
  | { kind: 'move'; segment: SegmentDescriptor; fromLevel: number; toLevel: number }
  /**
   * Rewrite the inputs into new segments of outputLevel. Inputs are listed newest level
   * first and, within level 0, newest file first: the order a merge must rank them in.
   */
  | { kind: 'merge'; inputs: MergeInput[]; outputLevel: number; targetFileBytes: number; dropTombstones: boolean }
  /** Forget whole segments (FIFO / TTL expiry). */
  | { kind: 'drop'; fileNumbers: number[] };

/** What a decision needs beyond the version itself. */
export interface CompactionContext {
  /**
   * Segments that a running compaction reads. A choice never names one, so two
   * compactions never share an input and never write overlapping ranges of one level.
   */
  busy: ReadonlySet<number>;
  /** Milliseconds since the epoch; only time-based strategies (FIFO with a TTL) read it. */
  now?: number;
}

export interface CompactionStrategy {
  readonly name: string;
  choose(state: VersionState, context: CompactionContext): Choice;
  /**
   * For a strategy whose choice changes with time alone (FIFO with a TTL): the earliest
   * time after `now` at which choose() may decide otherwise for this same state, or
   * undefined when only a new version can change its mind. The tree sets a timer for it,
   * so that an idle keyspace still expires its data.
   */
  nextChangeAt?(state: VersionState, now: number): number | undefined;
  /**
   * Manual compaction (`ks.compact`): what to rewrite so that the segments touching
   * `range` (every segment without one) end in the bottom level. A strategy without it
   * (FIFO, which never rewrites data) leaves manual compaction to a flush.
   */
  chooseRange?(state: VersionState, range: KeyRange | undefined, busy: ReadonlySet<number>): Choice;
  /** Bytes of segments the strategy wants to compact now or soon (RocksDB's estimate-pending-compaction-bytes). */
  pendingBytes(state: VersionState): number;
}

export const NO_COMPACTION: Choice = Object.freeze({ kind: 'none' });

/**
 * The input file numbers in the order a merge must rank them (newest first). Rank only
 * matters between segments that may hold the same key: level-0 files, then each level.
 */
export function mergeOrder(choice: Extract<Choice, { kind: 'merge' }>): number[] {
  return choice.inputs.flatMap((input) => input.fileNumbers);
}

/** Every segment file a choice reads or removes (what the caller marks busy while it runs). */
export function choiceFiles(choice: Choice): number[] {
  switch (choice.kind) {
    case 'none':
      return [];
    case 'move':
      return [choice.segment.fileNumber];
    case 'merge':
      return mergeOrder(choice);
    case 'drop':
      return choice.fileNumbers.slice();
  }
}

/** True when the key spans [aMin, aMax] and [bMin, bMax] share a key. */
export function spansOverlap(aMin: Buffer, aMax: Buffer, bMin: Buffer, bMax: Buffer): boolean {
  return Buffer.compare(aMin, bMax) <= 0 && Buffer.compare(bMin, aMax) <= 0;
}

/** The smallest span holding every segment's keys. `segments` must not be empty. */
export function hullOf(segments: readonly SegmentDescriptor[]): { minKey: Buffer; maxKey: Buffer } {
  let minKey = segments[0].minKey;
  let maxKey = segments[0].maxKey;
  for (const s of segments) {
    if (Buffer.compare(s.minKey, minKey) < 0) minKey = s.minKey;
    if (Buffer.compare(s.maxKey, maxKey) > 0) maxKey = s.maxKey;
  }
  return { minKey, maxKey };
}

/** The segments of a sorted, disjoint level that overlap [minKey, maxKey], in key order. */
export function overlapping(level: readonly SegmentDescriptor[], minKey: Buffer, maxKey: Buffer): SegmentDescriptor[] {
  return level.filter((s) => spansOverlap(s.minKey, s.maxKey, minKey, maxKey));
}

/**
 * The state after a choice has been carried out: inputs removed, `outputs` (the segments
 * a merge wrote, in any order; none for move/drop) inserted into the output level in key
 * order, nextFileNumber past every output. `state` may be newer than the one the choice
 * was made from (flushes add level-0 files meanwhile): inputs are found by file number.
 * Throws RangeError when an input is missing or the result would break a level's
 * disjointness: the caller's bookkeeping is wrong and the state must not be installed.
 */
export function applyChoice(state: VersionState, choice: Choice, outputs: readonly SegmentDescriptor[] = []): VersionState {
  if (choice.kind === 'none') return state;
  if (choice.kind !== 'merge' && outputs.length > 0) throw new RangeError(`a ${choice.kind} choice has no outputs`);
  const levels = state.levels.map((level) => level.slice());
  const take = (level: number, fileNumber: number): SegmentDescriptor => {
    const files = levels[level] ?? [];
    const i = files.findIndex((s) => s.fileNumber === fileNumber);
    if (i < 0) throw new RangeError(`segment ${fileNumber} is not in level ${level}`);
    return files.splice(i, 1)[0];
  };
  let nextFileNumber = state.nextFileNumber;
  switch (choice.kind) {
    case 'move': {
      const segment = take(choice.fromLevel, choice.segment.fileNumber);
      insertSorted(levels, choice.toLevel, [segment]);
      break;
    }
    case 'merge': {
      for (const input of choice.inputs) for (const n of input.fileNumbers) take(input.level, n);
      insertSorted(levels, choice.outputLevel, outputs);
      for (const s of outputs) nextFileNumber = Math.max(nextFileNumber, s.fileNumber + 1);
      break;
    }
    case 'drop': {
      for (const n of choice.fileNumbers) {
        const level = levels.findIndex((files) => files.some((s) => s.fileNumber === n));
        if (level < 0) throw new RangeError(`segment ${n} is not in the version`);
        take(level, n);
      }
      break;
    }
  }
  return { ...state, nextFileNumber, levels };
}

/** Inserts segments into a disjoint level (>= 1), growing `levels` as needed, keeping key order. */
function insertSorted(levels: SegmentDescriptor[][], level: number, segments: readonly SegmentDescriptor[]): void {
  if (!Number.isInteger(level) || level < 1) throw new RangeError(`segments can only be installed into a level >= 1, got ${level}`);
  while (levels.length <= level) levels.push([]);
  const files = levels[level].concat(segments).sort((a, b) => Buffer.compare(a.minKey, b.minKey));
  for (let i = 1; i < files.length; i++) {
    if (Buffer.compare(files[i - 1].maxKey, files[i].minKey) >= 0) {
      throw new RangeError(`segments ${files[i - 1].fileNumber} and ${files[i].fileNumber} would overlap in level ${level}`);
    }
  }
  levels[level] = files;
}

/** Validates one numeric strategy option: TypeError when not a number, RangeError when not an integer >= min. */
export function requireInteger(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}
