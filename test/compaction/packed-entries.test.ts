// The packed-entry encoding that carries a flush to a worker: exact round trips, a
// buffer that really transfers, and refusal of truncated or padded buffers.
import t from 'tap';
import { EntryKind, MAX_SEQNO, type Entry } from '../../lib/codec/entry.js';
import { packEntries, unpackEntries } from '../../lib/compaction/packed-entries.js';
import { Rng } from '../helpers/rng.js';
import { plain } from './fixtures/merge-inputs.js';

t.test('round trip: random keys, empty and large values, tombstones, seqnos up to 2^53 - 1', async (t) => {
  const rng = new Rng(3);
  const entries: Entry[] = [
    { key: Buffer.alloc(0), seqno: 0, kind: EntryKind.Put, value: Buffer.alloc(0) },
    { key: Buffer.from('max'), seqno: MAX_SEQNO, kind: EntryKind.Delete, value: Buffer.alloc(0) },
    { key: Buffer.from('big'), seqno: 2 ** 40 + 1, kind: EntryKind.Put, value: rng.bytes(70_000) },
  ];
  for (let i = 0; i < 500; i++) entries.push({ key: rng.bytes(rng.int(1, 40)), seqno: rng.int(0, 2 ** 31) * 2 ** 20 + i, kind: rng.pick([EntryKind.Put, EntryKind.Delete]), value: rng.bytes(rng.int(0, 100)) });
  const packed = packEntries(entries);
  t.same(plain([...unpackEntries(packed)]), plain(entries));
  t.same([...unpackEntries(packEntries([]))], []);
  t.same(plain([...unpackEntries(packEntries(entries.values()))]), plain(entries), 'a one-shot iterable packs the same');
});

t.test('the buffer is a whole ArrayBuffer that transfers (detaches) rather than copies', async (t) => {
  const packed = packEntries([{ key: Buffer.from('k'), seqno: 1, kind: EntryKind.Put, value: Buffer.from('v') }]);
  const received = structuredClone(packed, { transfer: [packed] });
  t.equal(packed.byteLength, 0, 'detached on the sending side');
  t.equal([...unpackEntries(received)][0].value.toString(), 'v');
});

t.test('truncated or padded buffers are refused', async (t) => {
  const packed = packEntries([{ key: Buffer.from('key'), seqno: 1, kind: EntryKind.Put, value: Buffer.from('value') }]);
  t.throws(() => [...unpackEntries(packed.slice(0, packed.byteLength - 1))], RangeError);
  t.throws(() => [...unpackEntries(packed.slice(0, 10))], RangeError);
  t.throws(() => [...unpackEntries(packed.slice(0, 2))], RangeError);
  const padded = new Uint8Array(packed.byteLength + 1);
  padded.set(new Uint8Array(packed));
  t.throws(() => [...unpackEntries(padded.buffer)], RangeError);
});
