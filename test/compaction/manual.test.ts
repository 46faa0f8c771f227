// Manual compaction as a pure decision: the inputs are closed under overlap across every
// level, go to the bottom level with tombstones dropped, and applying the choice to random
// versions keeps every level disjoint. Also the strategies' pending-bytes estimates.
import t from 'tap';
import { applyChoice, choiceFiles, type Choice, type CompactionStrategy } from '../../lib/compaction/choice.js';
import { chooseBottommost } from '../../lib/compaction/manual.js';
import { leveledConfig, leveledPendingBytes } from '../../lib/compaction/leveled.js';
import { FifoStrategy } from '../../lib/compaction/fifo.js';
import { key } from './fixtures/version-builders.js';
import { Rng } from '../helpers/rng.js';
import { assertDisjoint, randomVersion, seg, version } from './fixtures/version-builders.js';

const none = new Set<number>();

t.test('the inputs grow to every segment overlapping their span, at any level', async (t) => {
  // L0: 10 [40..60] overlaps 11 [55..90], which overlaps L1's 3 [80..95]; 12 [0..5] is apart.
  const state = version([[seg(10, 40, 60), seg(11, 55, 90), seg(12, 0, 5)], [seg(1, 10, 20), seg(2, 30, 50), seg(3, 80, 95)], [seg(5, 96, 99)]]);
  const choice = chooseBottommost(state, { gte: key(45), lt: key(46) }, 4096, none);
  t.same(choice, {
    kind: 'merge',
    inputs: [
      { level: 0, fileNumbers: [10, 11] },
      { level: 1, fileNumbers: [2, 3] },
    ],
    outputLevel: 2,
    targetFileBytes: 4096,
    dropTombstones: true,
  });
  assertDisjoint(applyChoice(state, choice, [seg(20, 30, 95)]));
});

t.test('no segment in range, or an input busy: nothing to do', async (t) => {
  const state = version([[seg(10, 40, 60)], [seg(1, 10, 20)]]);
  t.same(chooseBottommost(state, { gt: key(60), lt: key(100) }, 4096, none), { kind: 'none' });
  t.same(chooseBottommost(state, undefined, 4096, new Set([1])), { kind: 'none' });
  t.same(chooseBottommost(version([[]]), undefined, 4096, none), { kind: 'none' });
});

t.test('a tree of level 0 alone compacts into level 1', async (t) => {
  const choice = chooseBottommost(version([[seg(10, 40, 60), seg(11, 0, 5)]]), undefined, 100, none);
  t.same(choice, { kind: 'merge', inputs: [{ level: 0, fileNumbers: [10, 11] }], outputLevel: 1, targetFileBytes: 100, dropTombstones: true });
});

t.test('random versions: nothing left above the outputs overlaps them, levels stay disjoint', async (t) => {
  const rng = new Rng(13);
  for (let i = 0; i < 300; i++) {
    const state = randomVersion(rng, { keySpace: 1000 });
    const a = rng.int(0, 1000);
    const range = { gte: key(a), lte: key(a + rng.int(0, 100)) };
    const choice: Choice = chooseBottommost(state, range, 4096, none);
    if (choice.kind !== 'merge') continue;
    const inputs = new Set(choiceFiles(choice));
    const picked = state.levels.flat().filter((s) => inputs.has(s.fileNumber));
    const lo = picked.reduce((m, s) => (Buffer.compare(s.minKey, m) < 0 ? s.minKey : m), picked[0].minKey);
    const hi = picked.reduce((m, s) => (Buffer.compare(s.maxKey, m) > 0 ? s.maxKey : m), picked[0].maxKey);
    const left = state.levels.flat().filter((s) => !inputs.has(s.fileNumber) && Buffer.compare(s.minKey, hi) <= 0 && Buffer.compare(lo, s.maxKey) <= 0);
    if (left.length > 0) t.fail(`segments ${left.map((s) => s.fileNumber).join(',')} overlap the inputs but were left out`);
    t.equal(choice.outputLevel, Math.max(1, state.levels.length - 1));
    const output = { ...picked[0], fileNumber: 100_000, minKey: lo, maxKey: hi };
    assertDisjoint(applyChoice(state, choice, [output]));
  }
});

t.test('pending compaction bytes', async (t) => {
  const config = leveledConfig({ level0Trigger: 2, baseLevelBytes: 1000, levelMultiplier: 10, maxLevels: 4 });
  t.equal(leveledPendingBytes(version([[seg(1, 0, 5, 700)]]), config), 0, 'level 0 below its trigger');
  t.equal(leveledPendingBytes(version([[seg(1, 0, 5, 700), seg(2, 0, 5, 300)]]), config), 1000, 'all of level 0 at its trigger');
  t.equal(leveledPendingBytes(version([[], [seg(3, 0, 5, 1500)], [seg(4, 0, 5, 12_000)], [seg(5, 0, 5, 1e6)]]), config), 500 + 2000, 'the excess of each level above the last');
  const fifo = new FifoStrategy({ maxBytes: 1000 });
  t.equal(fifo.pendingBytes(version([[seg(1, 0, 5, 700), seg(2, 0, 5, 700)]])), 400);
  t.equal((fifo as CompactionStrategy).chooseRange, undefined, 'FIFO never rewrites data: no manual compaction');
});
