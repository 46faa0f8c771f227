// The leveled strategy as a pure decision: table-driven versions in, choices out, and
// property tests over random versions (busy files never chosen, merge inputs exactly the
// overlapping set, levels still disjoint after applying one or two concurrent choices).
import t, { type Test } from 'tap';
import { applyChoice, choiceFiles, hullOf, overlapping, spansOverlap, type Choice, type CompactionContext } from '../../lib/compaction/choice.js';
import { chooseLeveled, leveledConfig, LeveledStrategy, levelBudgets, type LeveledConfig } from '../../lib/compaction/leveled.js';
import type { SegmentDescriptor, VersionState } from '../../lib/tree/manifest.js';
import { Rng } from '../helpers/rng.js';
import { assertDisjoint, key, keyNumber, randomVersion, seg, version } from './fixtures/version-builders.js';

const config: LeveledConfig = leveledConfig({ level0Trigger: 4, baseLevelBytes: 10_000, levelMultiplier: 10, maxLevels: 4, targetFileBytes: 4096 });
const idle: CompactionContext = { busy: new Set() };
const busy = (...files: number[]): CompactionContext => ({ busy: new Set(files) });

interface Case {
  name: string;
  levels: SegmentDescriptor[][];
  context?: CompactionContext;
  config?: Partial<LeveledConfig>;
  want: Choice;
}

const l0 = [seg(14, 40, 60), seg(13, 0, 20), seg(12, 10, 50), seg(11, 30, 35)];

const cases: Case[] = [
  { name: 'an empty tree', levels: [[]], want: { kind: 'none' } },
  { name: 'level 0 below its trigger', levels: [l0.slice(0, 3)], want: { kind: 'none' } },
  {
    name: 'level 0 at its trigger merges whole into the overlapping part of level 1',
    levels: [l0, [seg(1, 0, 5), seg(2, 55, 70), seg(3, 80, 90)]],
    want: { kind: 'merge', inputs: [{ level: 0, fileNumbers: [14, 13, 12, 11] }, { level: 1, fileNumbers: [1, 2] }], outputLevel: 1, targetFileBytes: 4096, dropTombstones: true },
  },
  {
    name: 'tombstones go when deeper levels hold nothing inside the merged span',
    levels: [l0, [seg(1, 0, 5)], [seg(5, 65, 70)]],
    want: { kind: 'merge', inputs: [{ level: 0, fileNumbers: [14, 13, 12, 11] }, { level: 1, fileNumbers: [1] }], outputLevel: 1, targetFileBytes: 4096, dropTombstones: true },
  },
  {
    name: 'tombstones stay when a deeper level holds keys inside the span',
    levels: [l0, [seg(1, 0, 5)], [seg(5, 25, 28)]],
    want: { kind: 'merge', inputs: [{ level: 0, fileNumbers: [14, 13, 12, 11] }, { level: 1, fileNumbers: [1] }], outputLevel: 1, targetFileBytes: 4096, dropTombstones: false },
  },
  {
    name: 'a lone level-0 file with nothing beneath it is moved, not rewritten',
    levels: [[seg(7, 10, 20)], [seg(1, 30, 40)]],
    config: { level0Trigger: 1 },
    want: { kind: 'move', segment: seg(7, 10, 20), fromLevel: 0, toLevel: 1 },
  },
  { name: 'a busy level-0 file blocks the whole of level 0', levels: [l0, []], context: busy(11), want: { kind: 'none' } },
  { name: 'a busy overlapped level-1 file blocks level 0', levels: [l0, [seg(1, 0, 5)]], context: busy(1), want: { kind: 'none' } },
  {
    name: 'an over-budget level 1 pushes its file with the smallest overlap ratio',
    levels: [[], [seg(1, 0, 10, 6000), seg(2, 20, 30, 6000)], [seg(3, 0, 5, 9000), seg(4, 25, 26, 1000), seg(5, 28, 40, 2000)]],
    want: { kind: 'merge', inputs: [{ level: 1, fileNumbers: [2] }, { level: 2, fileNumbers: [4, 5] }], outputLevel: 2, targetFileBytes: 4096, dropTombstones: true },
  },
  {
    name: 'a file overlapping nothing below scores 0 and is moved',
    levels: [[], [seg(1, 0, 10, 6000), seg(2, 20, 30, 6000)], [seg(3, 0, 5, 100)]],
    want: { kind: 'move', segment: seg(2, 20, 30, 6000), fromLevel: 1, toLevel: 2 },
  },
  {
    name: 'equal ratios go to the older file',
    levels: [[], [seg(9, 0, 10, 6000), seg(2, 20, 30, 6000)], [seg(3, 0, 5, 100), seg(4, 25, 26, 100)]],
    want: { kind: 'merge', inputs: [{ level: 1, fileNumbers: [2] }, { level: 2, fileNumbers: [4] }], outputLevel: 2, targetFileBytes: 4096, dropTombstones: true },
  },
  {
    name: 'when the best file\'s overlap is busy the next best is taken',
    levels: [[], [seg(1, 0, 10, 6000), seg(2, 20, 30, 6000)], [seg(3, 0, 5, 9000), seg(4, 25, 26, 1000)]],
    context: busy(4),
    want: { kind: 'merge', inputs: [{ level: 1, fileNumbers: [1] }, { level: 2, fileNumbers: [3] }], outputLevel: 2, targetFileBytes: 4096, dropTombstones: true },
  },
  {
    name: 'the last level is never compacted, however large',
    levels: [[], [], [], [seg(1, 0, 10, 10_000_000)]],
    want: { kind: 'none' },
  },
  {
    name: 'the most urgent level goes first: level 2 at 3x its budget beats level 0 at 1x',
    levels: [l0, [], [seg(1, 0, 10, 300_000)], [seg(2, 5, 6)]],
    want: { kind: 'merge', inputs: [{ level: 2, fileNumbers: [1] }, { level: 3, fileNumbers: [2] }], outputLevel: 3, targetFileBytes: 4096, dropTombstones: true },
  },
  {
    name: 'a blocked urgent level falls back to the next one',
    levels: [l0, [], [seg(1, 0, 10, 300_000)], [seg(2, 5, 6)]],
    context: busy(2),
    want: { kind: 'merge', inputs: [{ level: 0, fileNumbers: [14, 13, 12, 11] }], outputLevel: 1, targetFileBytes: 4096, dropTombstones: false },
  },
  {
    name: 'dynamic targets: level 1 within its static budget but over a tenth of the deepest level is pushed down',
    levels: [[], [seg(1, 0, 10, 3000)], [seg(2, 0, 10, 20_000)]],
    want: { kind: 'merge', inputs: [{ level: 1, fileNumbers: [1] }, { level: 2, fileNumbers: [2] }], outputLevel: 2, targetFileBytes: 4096, dropTombstones: true },
  },
  {
    name: 'dynamic targets never go below baseLevelBytes / multiplier',
    levels: [[], [seg(1, 0, 10, 900)], [seg(2, 0, 10, 2000)]],
    want: { kind: 'none' },
  },
];

t.test('levelBudgets: the deepest level sizes the ones above it, within [base / multiplier, static]', async (t) => {
  t.same(levelBudgets(version([[], [seg(1, 0, 1, 5)]]), config), [0, 10_000], 'a single level keeps its static budget');
  t.same(levelBudgets(version([[], [], [], [seg(1, 0, 1, 500_000)]]), config), [0, 5000, 50_000, 1_000_000]);
  t.same(levelBudgets(version([[], [], [seg(1, 0, 1, 50_000_000)], []]), config), [0, 10_000, 100_000, 1_000_000], 'capped at the static budgets');
  t.same(levelBudgets(version([[], [], [seg(1, 0, 1, 20_000)]]), config), [0, 2000, 100_000]);
  t.same(levelBudgets(version([[], [], [seg(1, 0, 1, 1000)]]), config), [0, 1000, 100_000], 'floored');
});

for (const c of cases) {
  t.test(c.name, async (t) => {
    const cfg = c.config === undefined ? config : leveledConfig({ ...config, ...c.config });
    t.same(chooseLeveled(version(c.levels), cfg, c.context ?? idle), c.want);
  });
}

t.test('configuration is checked and defaulted', async (t) => {
  const strategy = new LeveledStrategy();
  t.equal(strategy.config.level0Trigger, 4);
  t.equal(strategy.config.baseLevelBytes, 64 * 1024 * 1024);
  t.equal(strategy.config.maxLevels, 7);
  t.throws(() => leveledConfig({ level0Trigger: 0 }), RangeError);
  t.throws(() => leveledConfig({ levelMultiplier: 1.5 }), RangeError);
  t.throws(() => leveledConfig({ targetFileBytes: '1' as unknown as number }), TypeError);
  t.same(strategy.choose(version([l0]), idle).kind, 'merge', 'the class delegates to chooseLeveled');
});

/** What a merge could write: the hull of its inputs split into 0..3 pieces, numbered from nextFileNumber. */
function simulatedOutputs(rng: Rng, state: VersionState, inputs: SegmentDescriptor[], nextFileNumber: number): SegmentDescriptor[] {
  const hull = hullOf(inputs);
  const lo = keyNumber(hull.minKey);
  const hi = keyNumber(hull.maxKey);
  const pieces = Math.min(rng.int(0, 4), hi - lo + 1);
  if (pieces === 0) return [];
  const cuts = new Set<number>();
  while (cuts.size < pieces - 1) cuts.add(rng.int(lo, hi));
  const bounds = [lo - 1, ...[...cuts].sort((a, b) => a - b), hi];
  const out: SegmentDescriptor[] = [];
  for (let i = 1; i < bounds.length; i++) out.push(seg(nextFileNumber + out.length, bounds[i - 1] + 1, bounds[i]));
  return out;
}

function descriptorsOf(state: VersionState, files: number[]): SegmentDescriptor[] {
  const all = state.levels.flat();
  return files.map((n) => all.find((s) => s.fileNumber === n)!);
}

/** Checks one choice against the version it was made from; returns the state after applying it. */
function checkChoice(t: Test, rng: Rng, state: VersionState, choice: Choice, context: CompactionContext, nextFileNumber: number): VersionState {
  if (choice.kind === 'none') return state;
  const files = choiceFiles(choice);
  if (files.some((n) => context.busy.has(n))) t.fail(`a busy file was chosen: ${JSON.stringify(choice)}`);
  if (choice.kind === 'move') {
    const { segment, fromLevel, toLevel } = choice;
    if (toLevel !== fromLevel + 1) t.fail('a move skips a level');
    if (overlapping(state.levels[toLevel] ?? [], segment.minKey, segment.maxKey).length > 0) t.fail('a move onto overlapping files');
    if (fromLevel === 0 && state.levels[0].length !== 1) t.fail('a level-0 move while other level-0 files exist');
    return applyChoice(state, choice, []);
  }
  if (choice.kind !== 'merge') {
    t.fail(`unexpected choice ${choice.kind}`);
    return state;
  }
  const [upper, lower] = choice.inputs;
  if (choice.outputLevel !== upper.level + 1) t.fail('merge output is not the next level');
  if (upper.level === 0) {
    if (upper.fileNumbers.join() !== state.levels[0].map((s) => s.fileNumber).join()) t.fail('level 0 not taken whole, newest first');
  } else if (upper.fileNumbers.length !== 1) t.fail('more than one file from a level >= 1');
  const upperHull = hullOf(descriptorsOf(state, upper.fileNumbers));
  const expectedLower = overlapping(state.levels[choice.outputLevel] ?? [], upperHull.minKey, upperHull.maxKey).map((s) => s.fileNumber);
  if ((lower?.fileNumbers ?? []).join() !== expectedLower.join()) t.fail(`lower inputs ${lower?.fileNumbers} are not the overlapping set ${expectedLower}`);
  if (lower !== undefined && lower.level !== choice.outputLevel) t.fail('lower inputs from the wrong level');
  const inputs = descriptorsOf(state, files);
  const hull = hullOf(inputs);
  const deeperOverlap = state.levels.slice(choice.outputLevel + 1).some((l) => l.some((s) => spansOverlap(s.minKey, s.maxKey, hull.minKey, hull.maxKey)));
  if (choice.dropTombstones === deeperOverlap) t.fail(`dropTombstones ${choice.dropTombstones} with deeper overlap ${deeperOverlap}`);
  return applyChoice(state, choice, simulatedOutputs(rng, state, inputs, nextFileNumber));
}

t.test('property: random versions, one choice at a time', async (t) => {
  const rng = new Rng(0xc0ffee);
  let merges = 0;
  let moves = 0;
  for (let round = 0; round < 2000; round++) {
    const state = randomVersion(rng);
    const all = state.levels.flat().map((s) => s.fileNumber);
    const context: CompactionContext = { busy: new Set(all.filter(() => rng.next() < 0.15)) };
    const cfg = leveledConfig({ level0Trigger: rng.int(1, 5), baseLevelBytes: rng.int(1000, 300_000), levelMultiplier: rng.int(2, 11), maxLevels: rng.int(2, 7), targetFileBytes: 4096 });
    const choice = chooseLeveled(state, cfg, context);
    if (choice.kind === 'merge') merges++;
    if (choice.kind === 'move') moves++;
    const after = checkChoice(t, rng, state, choice, context, state.nextFileNumber);
    assertDisjoint(after);
    if (choice.kind !== 'none') {
      const remaining = new Set(after.levels.flat().map((s) => s.fileNumber));
      for (const n of choiceFiles(choice)) if (choice.kind === 'merge' && remaining.has(n)) t.fail(`input ${n} survived`);
    }
  }
  t.ok(merges > 200, `merges were exercised (${merges})`);
  t.ok(moves > 50, `moves were exercised (${moves})`);
});

t.test('property: two concurrent choices share no file and both apply cleanly, in either order', async (t) => {
  const rng = new Rng(42);
  let pairs = 0;
  for (let round = 0; round < 2000; round++) {
    const state = randomVersion(rng);
    const cfg = leveledConfig({ level0Trigger: rng.int(1, 4), baseLevelBytes: rng.int(1000, 50_000), levelMultiplier: rng.int(2, 5), maxLevels: 6, targetFileBytes: 4096 });
    const first = chooseLeveled(state, cfg, idle);
    if (first.kind === 'none') continue;
    const firstFiles = choiceFiles(first);
    const context: CompactionContext = { busy: new Set(firstFiles) };
    const second = chooseLeveled(state, cfg, context);
    if (second.kind === 'none') continue;
    pairs++;
    const secondFiles = choiceFiles(second);
    if (secondFiles.some((n) => firstFiles.includes(n))) t.fail('the second choice reuses an input of the first');
    const outputsFor = (choice: Choice, next: number): SegmentDescriptor[] =>
      choice.kind === 'merge' ? simulatedOutputs(rng, state, descriptorsOf(state, choiceFiles(choice)), next) : [];
    const a = outputsFor(first, 5000);
    const b = outputsFor(second, 6000);
    assertDisjoint(applyChoice(applyChoice(state, first, a), second, b));
    assertDisjoint(applyChoice(applyChoice(state, second, b), first, a));
  }
  t.ok(pairs > 200, `concurrent pairs were exercised (${pairs})`);
});

t.test('keys sort as numbers in the builders (the property tests rely on it)', async (t) => {
  t.ok(Buffer.compare(key(9), key(10)) < 0);
  t.equal(keyNumber(key(1234)), 1234);
});
