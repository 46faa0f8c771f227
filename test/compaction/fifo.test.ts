// The FIFO strategy: drops the oldest segments beyond a byte budget or past a TTL, in an
// order that can never bring a stale version back, and never past a busy file.
import t from 'tap';
import { applyChoice, type CompactionContext } from '../../lib/compaction/choice.js';
import { chooseFifo, fifoConfig, FifoStrategy } from '../../lib/compaction/fifo.js';
import { Rng } from '../helpers/rng.js';
import { randomVersion, seg, version } from './fixtures/version-builders.js';

const idle: CompactionContext = { busy: new Set() };
// Level 0 newest first: file 4 is the newest flush, file 1 the oldest.
const flushes = version([[seg(4, 0, 9, 100, [31, 40]), seg(3, 0, 9, 100, [21, 30]), seg(2, 0, 9, 100, [11, 20]), seg(1, 0, 9, 100, [1, 10])]]);

t.test('within budget nothing is dropped', async (t) => {
  t.same(chooseFifo(flushes, fifoConfig({ maxBytes: 400 }), idle), { kind: 'none' });
});

t.test('over budget the oldest flushes go first, just enough of them', async (t) => {
  t.same(chooseFifo(flushes, fifoConfig({ maxBytes: 250 }), idle), { kind: 'drop', fileNumbers: [1, 2] });
  t.same(chooseFifo(flushes, fifoConfig({ maxBytes: 399 }), idle), { kind: 'drop', fileNumbers: [1] });
});

t.test('a busy file stops the walk: nothing newer may go before it', async (t) => {
  t.same(chooseFifo(flushes, fifoConfig({ maxBytes: 150 }), { busy: new Set([2]) }), { kind: 'drop', fileNumbers: [1] });
  t.same(chooseFifo(flushes, fifoConfig({ maxBytes: 150 }), { busy: new Set([1]) }), { kind: 'none' });
});

t.test('deeper levels are older than level 0 and go first, lowest maxSeqno first', async (t) => {
  const state = version([[seg(9, 0, 99, 100, [50, 60])], [seg(5, 0, 9, 100, [20, 30]), seg(6, 10, 19, 100, [5, 40])], [seg(1, 0, 9, 100, [1, 4]), seg(2, 10, 19, 100, [1, 3])]]);
  t.same(chooseFifo(state, fifoConfig({ maxBytes: 100 }), idle), { kind: 'drop', fileNumbers: [2, 1, 5, 6] });
});

t.test('TTL: expired files go even within budget, but only from the oldest end', async (t) => {
  const born = new Map([[1, 1000], [2, 2000], [3, 1500], [4, 9000]]);
  const dated = { ...flushes, levels: flushes.levels.map((level) => level.map((s) => ({ ...s, createdAt: born.get(s.fileNumber) }))) };
  const context: CompactionContext = { busy: new Set(), now: 10_000 };
  t.same(chooseFifo(dated, fifoConfig({ maxBytes: 10_000, ttlMs: 8000 }), context), { kind: 'drop', fileNumbers: [1, 2, 3] });
  t.same(chooseFifo(dated, fifoConfig({ maxBytes: 10_000, ttlMs: 8500 }), context), { kind: 'drop', fileNumbers: [1] }, 'file 3 is expired but file 2 before it is not');
  t.same(chooseFifo(flushes, fifoConfig({ maxBytes: 10_000, ttlMs: 1 }), context), { kind: 'none' }, 'an undated segment never expires');
  t.throws(() => chooseFifo(dated, fifoConfig({ maxBytes: 10_000, ttlMs: 1 }), idle), TypeError, 'a TTL without a clock');
});

t.test('TTL: the next time the choice can change without a new version', async (t) => {
  const born = new Map([[1, 1000], [2, 2000], [3, 1500], [4, 9000]]);
  const dated = { ...flushes, levels: flushes.levels.map((level) => level.map((s) => ({ ...s, createdAt: born.get(s.fileNumber) }))) };
  const ttl = new FifoStrategy({ maxBytes: 10_000, ttlMs: 8000 });
  t.equal(ttl.nextChangeAt(dated, 0), 9000, 'the first expiry');
  t.equal(ttl.nextChangeAt(dated, 9500), 10_000, 'past expiries are not future changes');
  t.equal(ttl.nextChangeAt(dated, 17_000), undefined, 'everything has expired');
  t.equal(new FifoStrategy({ maxBytes: 10_000 }).nextChangeAt(dated, 0), undefined, 'no TTL: only new versions change the choice');
});

t.test('configuration is checked', async (t) => {
  t.throws(() => fifoConfig({ maxBytes: 0 }), RangeError);
  t.throws(() => fifoConfig({ maxBytes: 10, ttlMs: -1 }), RangeError);
  t.throws(() => new FifoStrategy({} as never), TypeError);
  t.same(new FifoStrategy({ maxBytes: 250 }).choose(flushes, idle).kind, 'drop');
});

t.test('property: a drop never leaves an older file behind (deeper, or later in level 0), nor takes a busy one', async (t) => {
  const rng = new Rng(7);
  let drops = 0;
  for (let round = 0; round < 1000; round++) {
    const state = randomVersion(rng);
    const all = state.levels.flatMap((files, level) => files.map((s, position) => ({ s, level, position })));
    const total = all.reduce((n, x) => n + x.s.fileSize, 0);
    const busy = new Set(all.filter(() => rng.next() < 0.1).map((x) => x.s.fileNumber));
    const choice = chooseFifo(state, fifoConfig({ maxBytes: Math.max(1, rng.int(0, total + 1)) }), { busy });
    if (choice.kind === 'none') continue;
    if (choice.kind !== 'drop') t.fail(`unexpected ${choice.kind}`);
    else {
      drops++;
      const dropped = new Set(choice.fileNumbers);
      for (const d of all.filter((x) => dropped.has(x.s.fileNumber))) {
        if (busy.has(d.s.fileNumber)) t.fail('a busy file was dropped');
        // Anything kept that is older than d (deeper, or later in level 0) would resurface.
        const olderKept = all.filter((x) => !dropped.has(x.s.fileNumber) && (x.level > d.level || (x.level === 0 && d.level === 0 && x.position > d.position)));
        if (olderKept.length > 0) t.fail(`dropped ${d.s.fileNumber} while older ${olderKept[0].s.fileNumber} stays`);
      }
      applyChoice(state, choice);
    }
  }
  t.ok(drops > 100, `drops were exercised (${drops})`);
});
