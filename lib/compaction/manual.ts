// Manual compaction (`ks.compact(partition?, range?)`): the choice that rewrites every
// segment touching a key range into the bottom level, for reclaiming the space of deleted
// data. A pure decision over a VersionState, like the strategies; safe anywhere.
import type { SegmentDescriptor, VersionState } from '../tree/manifest.js';
import { type KeyRange, overlapsRange } from '../tree/merge.js';
import { type Choice, type MergeInput, NO_COMPACTION, hullOf, spansOverlap } from './choice.js';

/**
 * A merge of every segment whose keys meet `range` (all of them without one) into the
 * deepest level (at least 1), tombstones dropped. The input set is closed under overlap:
 * any segment, at any level, sharing a key with the inputs' span joins them, until none
 * is left. Otherwise an older segment left above would come to shadow newer data moved
 * beneath it, and the outputs would overlap what stays in the bottom level. Nothing then
 * lies below the outputs, so tombstones have nothing left to hide. NO_COMPACTION when no
 * segment meets the range or one of the inputs is `busy`.
 */
export function chooseBottommost(state: VersionState, range: KeyRange | undefined, targetFileBytes: number, busy: ReadonlySet<number>): Choice {
  const all = state.levels.flatMap((files, level) => files.map((s) => ({ s, level })));
  const picked = new Set(all.filter(({ s }) => range === undefined || overlapsRange(s.minKey, s.maxKey, range)).map(({ s }) => s));
  if (picked.size === 0) return NO_COMPACTION;
  for (let grew = true; grew; ) {
    grew = false;
    const { minKey, maxKey } = hullOf([...picked]);
    for (const { s } of all) {
      if (!picked.has(s) && spansOverlap(s.minKey, s.maxKey, minKey, maxKey)) {
        picked.add(s);
        grew = true;
      }
    }
  }
  if ([...picked].some((s) => busy.has(s.fileNumber))) return NO_COMPACTION;
  const outputLevel = Math.max(1, state.levels.length - 1);
  // Newest level first; level 0 keeps its newest-first order, deeper levels their key order.
  const inputs: MergeInput[] = [];
  state.levels.forEach((files: readonly SegmentDescriptor[], level) => {
    const fileNumbers = files.filter((s) => picked.has(s)).map((s) => s.fileNumber);
    if (fileNumbers.length > 0) inputs.push({ level, fileNumbers });
  });
  return { kind: 'merge', inputs, outputLevel, targetFileBytes, dropTombstones: true };
}
