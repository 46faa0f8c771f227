// Memtable.deleteRange: range tombstones kept beside the entries, counted in the seqno
// range (journal GC) and the size (freezing), refused once frozen; entries untouched.
import t from 'tap';
import { EntryKind } from '../../lib/codec/entry.js';
import { Memtable } from '../../lib/memtable/memtable.js';

t.test('a range delete is recorded apart from the entries', async (t) => {
  const m = new Memtable();
  t.ok(m.isEmpty);
  m.insert(Buffer.from('b'), 5, EntryKind.Put, Buffer.from('v'));
  const bytes = m.approximateBytes;
  m.deleteRange(Buffer.from('a'), Buffer.from('c'), 7);
  m.deleteRange(Buffer.from('x'), null, 3);
  t.equal(m.entryCount, 1, 'no entry was added');
  t.same(m.get(Buffer.from('b'), 100)?.value, Buffer.from('v'), 'the entry is still there: readers weigh it against the tombstone');
  t.equal(m.rangeTombstones.coveringSeqno(Buffer.from('b'), 100), 7);
  t.equal(m.rangeTombstones.coveringSeqno(Buffer.from('b'), 6), -1, 'not for a reader below its seqno');
  t.equal(m.rangeTombstones.coveringSeqno(Buffer.from('zzz'), 100), 3, 'no upper bound');
  t.equal(m.minSeqno, 3, 'the oldest seqno counts tombstones: journal GC keeps their records');
  t.equal(m.maxSeqno, 7);
  t.ok(m.approximateBytes > bytes, 'the size grows by the tombstones');
  t.ok(m.approximateBytes - bytes < 300, 'by their bounds, not by what they cover');
  const onlyTombstone = new Memtable();
  onlyTombstone.deleteRange(Buffer.alloc(0), null, 1);
  t.notOk(onlyTombstone.isEmpty, 'a memtable of tombstones alone still needs a flush');
  t.equal(onlyTombstone.entryCount, 0);
  m.freeze();
  t.throws(() => m.deleteRange(Buffer.from('a'), Buffer.from('b'), 9), { code: 'CAIRN_CLOSED' });
});
