// RangeTombstones (the fragmented range-tombstone set of memtables, segments and merges)
// against a brute-force model: random adds, covering seqnos at every read seqno,
// encode/decode round trip, clipping, and malformed payloads.
import t from 'tap';
import { RangeTombstones, keySuccessor } from '../../lib/codec/range-tombstones.js';
import { Rng } from '../helpers/rng.js';

const k = (i: number): Buffer => Buffer.from(String(i).padStart(3, '0'));

t.test('random adds agree with a brute-force model at every read seqno', async (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const rng = new Rng(seed);
    const set = new RangeTombstones();
    const model: { start: number; end: number | null; seqno: number }[] = [];
    for (let seqno = 1; seqno <= 60; seqno++) {
      const a = rng.int(0, 100);
      const end = rng.next() < 0.1 ? null : a + rng.int(0, 30);
      set.add(k(a), end === null ? null : k(end), seqno);
      model.push({ start: a, end, seqno });
    }
    let mismatches = 0;
    for (let key = 0; key < 140; key++) {
      for (const readSeqno of [0, 5, 17, 30, 59, 60, 1000]) {
        const expected = Math.max(-1, ...model.filter((m) => m.seqno <= readSeqno && key >= m.start && (m.end === null || key < m.end)).map((m) => m.seqno));
        if (set.coveringSeqno(k(key), readSeqno) !== expected) mismatches++;
      }
    }
    t.equal(mismatches, 0, `seed ${seed}: every lookup matches`);
    const fragments = [...set.fragments()];
    let ordered = true;
    for (let i = 1; i < fragments.length; i++) if (fragments[i - 1].end === null || Buffer.compare(fragments[i - 1].end as Buffer, fragments[i].start) > 0) ordered = false;
    t.ok(ordered, 'fragments sorted and disjoint');
    const decoded = RangeTombstones.decode(set.encode());
    t.same([...decoded.fragments()], fragments, 'encode/decode round trip');
    t.equal(decoded.maxSeqno, set.maxSeqno);
    t.equal(decoded.minSeqno, set.minSeqno);
  }
});

t.test('an empty interval adds nothing; clipping keeps the newest seqno inside the bounds', async (t) => {
  const set = new RangeTombstones();
  set.add(k(5), k(5), 1);
  set.add(k(6), k(2), 2);
  t.ok(set.isEmpty);
  set.add(k(10), k(20), 3);
  set.add(k(15), null, 4);
  t.same(set.largestEnd, null);
  const clipped = set.clipped(k(12), keySuccessor(k(30)));
  t.same(
    [...clipped.fragments()].map((f) => [f.start.toString(), f.end?.toString(), f.seqnos]),
    [
      ['012', '015', [3]],
      ['015', '020', [4]],
      ['020', '030\0', [4]],
    ],
  );
  t.equal(clipped.coveringSeqno(k(30), 10), 4, 'the successor bound includes the key');
  t.equal(clipped.coveringSeqno(k(11), 10), -1, 'clipped away');
  const visible = new RangeTombstones();
  visible.addVisible(set, 3);
  t.equal(visible.coveringSeqno(k(17), 100), 3, 'only what a reader at seqno 3 sees');
  t.equal(visible.coveringSeqno(k(25), 100), -1);
});

t.test('malformed payloads throw', async (t) => {
  const set = new RangeTombstones();
  set.add(k(1), k(3), 5);
  set.add(k(2), k(4), 7);
  const good = set.encode();
  for (let cut = 0; cut < good.length; cut++) t.throws(() => RangeTombstones.decode(good.subarray(0, cut)), `truncated to ${cut}`);
  t.throws(() => RangeTombstones.decode(Buffer.concat([good, Buffer.from([0])])), 'trailing byte');
  const reversed = new RangeTombstones();
  reversed.add(k(5), k(9), 1);
  const bytes = reversed.encode();
  bytes[2] = '9'.charCodeAt(0); // start "095"... > end "009"
  t.throws(() => RangeTombstones.decode(bytes), /order/);
});
