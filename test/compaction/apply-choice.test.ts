// applyChoice: the pure state transition the tree installs after a compaction, including
// against a newer state than the choice was made from, and its refusals.
import t from 'tap';
import { applyChoice, choiceFiles, mergeOrder, type Choice } from '../../lib/compaction/choice.js';
import { seg, version } from './fixtures/version-builders.js';

const numbers = (levels: { fileNumber: number }[][]): number[][] => levels.map((l) => l.map((s) => s.fileNumber));

t.test('none returns the state untouched', async (t) => {
  const state = version([[seg(1, 0, 5)]]);
  t.equal(applyChoice(state, { kind: 'none' }), state);
});

t.test('merge: inputs removed, outputs inserted in key order, nextFileNumber bumped, input state untouched', async (t) => {
  const state = version([[seg(12, 0, 50), seg(11, 20, 30)], [seg(1, 0, 9), seg(2, 10, 19), seg(3, 60, 70)]], 20);
  const choice: Choice = { kind: 'merge', inputs: [{ level: 0, fileNumbers: [12, 11] }, { level: 1, fileNumbers: [1, 2] }], outputLevel: 1, targetFileBytes: 1, dropTombstones: true };
  const after = applyChoice(state, choice, [seg(31, 26, 50), seg(30, 0, 25)]);
  t.same(numbers(after.levels), [[], [30, 31, 3]]);
  t.equal(after.nextFileNumber, 32);
  t.same(numbers(state.levels), [[12, 11], [1, 2, 3]], 'the original state is not mutated');
  t.same(mergeOrder(choice), [12, 11, 1, 2]);
  t.same(choiceFiles(choice), [12, 11, 1, 2]);
});

t.test('merge into a level the state does not have yet grows the levels', async (t) => {
  const state = version([[], [seg(1, 0, 9)]]);
  const after = applyChoice(state, { kind: 'merge', inputs: [{ level: 1, fileNumbers: [1] }], outputLevel: 2, targetFileBytes: 1, dropTombstones: true }, [seg(5, 0, 9)]);
  t.same(numbers(after.levels), [[], [], [5]]);
});

t.test('a merge whose every entry was dropped installs no outputs', async (t) => {
  const state = version([[seg(4, 0, 9)], [seg(1, 0, 9)]], 10);
  const after = applyChoice(state, { kind: 'merge', inputs: [{ level: 0, fileNumbers: [4] }, { level: 1, fileNumbers: [1] }], outputLevel: 1, targetFileBytes: 1, dropTombstones: true }, []);
  t.same(numbers(after.levels), [[], []]);
  t.equal(after.nextFileNumber, 10);
});

t.test('applies to a newer state: level-0 files flushed meanwhile stay in front', async (t) => {
  const chosenFrom = version([[seg(3, 0, 9), seg(2, 0, 9)], []]);
  const choice: Choice = { kind: 'merge', inputs: [{ level: 0, fileNumbers: [3, 2] }], outputLevel: 1, targetFileBytes: 1, dropTombstones: true };
  const newer = version([[seg(7, 0, 9), seg(6, 0, 9), ...chosenFrom.levels[0]], []]);
  t.same(numbers(applyChoice(newer, choice, [seg(8, 0, 9)]).levels), [[7, 6], [8]]);
});

t.test('move re-files one segment into the target level in key order', async (t) => {
  const s = seg(5, 20, 29);
  const after = applyChoice(version([[], [s, seg(6, 40, 49)], [seg(1, 0, 9), seg(2, 50, 59)]]), { kind: 'move', segment: s, fromLevel: 1, toLevel: 2 });
  t.same(numbers(after.levels), [[], [6], [1, 5, 2]]);
});

t.test('drop removes files wherever they are', async (t) => {
  const after = applyChoice(version([[seg(9, 0, 5), seg(8, 0, 5)], [seg(1, 0, 9)]]), { kind: 'drop', fileNumbers: [1, 8] });
  t.same(numbers(after.levels), [[9], []]);
});

t.test('refusals: missing inputs, overlapping results, outputs for a move, level 0 as an output', async (t) => {
  const state = version([[seg(9, 0, 5)], [seg(1, 0, 9), seg(2, 20, 29)]]);
  t.throws(() => applyChoice(state, { kind: 'drop', fileNumbers: [77] }), RangeError);
  t.throws(() => applyChoice(state, { kind: 'merge', inputs: [{ level: 1, fileNumbers: [9] }], outputLevel: 2, targetFileBytes: 1, dropTombstones: false }, []), RangeError, 'an input looked up in the wrong level');
  t.throws(() => applyChoice(state, { kind: 'move', segment: seg(9, 0, 5), fromLevel: 0, toLevel: 1 }), RangeError, 'moving onto an overlapping file');
  t.throws(() => applyChoice(state, { kind: 'merge', inputs: [{ level: 0, fileNumbers: [9] }], outputLevel: 1, targetFileBytes: 1, dropTombstones: false }, [seg(10, 5, 25)]), RangeError, 'an output overlapping files it did not replace');
  t.throws(() => applyChoice(state, { kind: 'drop', fileNumbers: [9] }, [seg(10, 0, 1)]), RangeError);
  t.throws(() => applyChoice(state, { kind: 'merge', inputs: [{ level: 0, fileNumbers: [9] }], outputLevel: 0, targetFileBytes: 1, dropTombstones: false }, [seg(10, 0, 1)]), RangeError);
});
