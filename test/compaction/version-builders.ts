// Test helper: compact builders for segment descriptors and versions, with keys that are
// zero-padded numbers (so tests can reason about spans numerically), and random valid
// versions for property tests. Not for anything but tests.
import type { SegmentDescriptor, VersionState } from '../../lib/tree/manifest.js';
import type { Rng } from '../helpers/rng.js';

export function key(n: number): Buffer {
  return Buffer.from(`k${String(n).padStart(6, '0')}`);
}

export function keyNumber(k: Buffer): number {
  return Number(k.toString().slice(1));
}

/** A descriptor spanning keys [min, max] (numbers), `size` bytes. */
export function seg(fileNumber: number, min: number, max: number, size = 1000, seqnos: [number, number] = [1, 1]): SegmentDescriptor {
  return {
    fileNumber,
    fileSize: size,
    entryCount: max - min + 1,
    tombstoneCount: 0,
    minKey: key(min),
    maxKey: key(max),
    minSeqno: seqnos[0],
    maxSeqno: seqnos[1],
  };
}

export function version(levels: SegmentDescriptor[][], nextFileNumber = 1000): VersionState {
  return { partition: 'p', partitionId: 1, persistedSeqno: 0, nextFileNumber, levels };
}

/** A random valid version: level 0 overlapping (newest first), deeper levels sorted and disjoint. */
export function randomVersion(rng: Rng, opts: { maxLevels?: number; keySpace?: number } = {}): VersionState {
  const maxLevels = opts.maxLevels ?? 5;
  const keySpace = opts.keySpace ?? 10_000;
  let fileNumber = 1;
  const levels: SegmentDescriptor[][] = [];
  const levelCount = rng.int(1, maxLevels + 1);
  const level0: SegmentDescriptor[] = [];
  for (let i = rng.int(0, 8); i > 0; i--) {
    const a = rng.int(0, keySpace);
    const b = rng.int(0, keySpace);
    level0.push(seg(fileNumber++, Math.min(a, b), Math.max(a, b), rng.int(100, 5000)));
  }
  levels.push(level0.reverse());
  for (let level = 1; level < levelCount; level++) {
    const files: SegmentDescriptor[] = [];
    // Distinct sorted cut points taken in pairs give sorted, disjoint spans.
    const cuts = new Set<number>();
    for (let i = rng.int(0, 12) * 2; i > 0; i--) cuts.add(rng.int(0, keySpace));
    const sorted = [...cuts].sort((x, y) => x - y);
    for (let i = 0; i + 1 < sorted.length; i += 2) files.push(seg(fileNumber++, sorted[i], sorted[i + 1], rng.int(100, 200_000) * level));
    levels.push(files);
  }
  return version(levels, fileNumber);
}

/** Throws unless every level >= 1 is sorted by key and disjoint. */
export function assertDisjoint(state: VersionState): void {
  for (let level = 1; level < state.levels.length; level++) {
    const files = state.levels[level];
    for (let i = 1; i < files.length; i++) {
      if (Buffer.compare(files[i - 1].maxKey, files[i].minKey) >= 0) {
        throw new Error(`level ${level}: ${files[i - 1].fileNumber} and ${files[i].fileNumber} overlap or are out of order`);
      }
    }
  }
}
