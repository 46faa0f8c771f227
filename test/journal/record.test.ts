// Journal record and header encoding: round trips, exact framing, validation before
// allocation, and malformed payloads rejected as CAIRN_CORRUPTION.
import t from 'tap';
import { crc32 } from '../../lib/codec/checksum.js';
import { EntryKind } from '../../lib/codec/entry.js';
import {
  JOURNAL_HEADER_BYTES,
  RECORD_HEADER_BYTES,
  RecordBuilder,
  decodeBatch,
  decodeHeader,
  encodeBatch,
  encodeHeader,
  isEntryKind,
  JournalOpKind,
  recordSeqnoRange,
  type BatchOp,
} from '../../lib/journal/record.js';

t.test('a batch round-trips with exact framing', async (t) => {
  const ops: BatchOp[] = [
    { kind: EntryKind.Put, partitionId: 0, key: Buffer.from('a'), value: Buffer.from('one') },
    { kind: EntryKind.Delete, partitionId: 300, key: Buffer.from('bb') },
    { kind: EntryKind.Put, partitionId: 7, key: Buffer.alloc(0), value: Buffer.alloc(0) },
    { kind: EntryKind.Put, partitionId: 1, key: new Uint8Array([0, 255]), value: Buffer.alloc(200, 9) },
  ];
  const record = encodeBatch(2 ** 40, ops, 1_764_000_000_123);
  const length = record.readUInt32LE(0);
  t.equal(length, record.length - RECORD_HEADER_BYTES, 'length field counts the payload');
  const payload = record.subarray(RECORD_HEADER_BYTES);
  t.equal(record.readUInt32LE(4), crc32(payload), 'crc covers the payload');
  const batch = decodeBatch(payload);
  t.equal(batch.seqno, 2 ** 40);
  t.equal(batch.timeMs, 1_764_000_000_123);
  t.equal(batch.ops.length, 4);
  t.same(
    batch.ops.map((o) => [o.kind, o.partitionId, o.key.toString('hex'), o.value.toString('hex')]),
    [
      [1, 0, '61', Buffer.from('one').toString('hex')],
      [0, 300, '6262', ''],
      [1, 7, '', ''],
      [1, 1, '00ff', Buffer.alloc(200, 9).toString('hex')],
    ],
  );
  t.same(recordSeqnoRange(record), { first: 2 ** 40, last: 2 ** 40 + 3, timeMs: 1_764_000_000_123 });
});

t.test('the payload layout is the documented one (format 2: the commit time after count)', async (t) => {
  const record = encodeBatch(5, [{ kind: EntryKind.Put, partitionId: 2, key: Buffer.from('k'), value: Buffer.from('vv') }], 300);
  // seqno 5, count 1, time 300 (varint ac 02), kind 1, partition 2, key len 1, 'k', value len 2, 'vv'
  t.equal(record.subarray(RECORD_HEADER_BYTES).toString('hex'), '0501ac020102016b027676');
});

t.test('format-1 payloads still decode, without a time', async (t) => {
  const v1 = Buffer.from('05010102016b027676', 'hex');
  const batch = decodeBatch(v1, 1);
  t.equal(batch.seqno, 5);
  t.equal(batch.timeMs, undefined);
  t.same(batch.ops.map((o) => [o.kind, o.partitionId, o.key.toString(), o.value.toString()]), [[1, 2, 'k', 'vv']]);
  t.throws(() => decodeBatch(Buffer.from('0501020201', 'hex'), 1), { code: 'CAIRN_CORRUPTION' }, 'registry kinds are not format 1');
});

t.test('registry records (partition create and drop) round-trip', async (t) => {
  const record = encodeBatch(12, [{ kind: JournalOpKind.PartitionCreate, partitionId: 4, key: Buffer.from('users') }], 77);
  const batch = decodeBatch(record.subarray(RECORD_HEADER_BYTES));
  t.same(
    batch.ops.map((o) => [o.kind, o.partitionId, o.key.toString()]),
    [[JournalOpKind.PartitionCreate, 4, 'users']],
  );
  t.notOk(isEntryKind(batch.ops[0].kind));
  const drop = decodeBatch(encodeBatch(13, [{ kind: JournalOpKind.PartitionDrop, partitionId: 4, key: Buffer.from('users') }]).subarray(RECORD_HEADER_BYTES));
  t.equal(drop.ops[0].kind, JournalOpKind.PartitionDrop);
});

t.test('arguments are validated', async (t) => {
  const key = Buffer.from('k');
  t.throws(() => encodeBatch(-1, [{ kind: EntryKind.Delete, partitionId: 0, key }]), RangeError);
  t.throws(() => encodeBatch(1.5, [{ kind: EntryKind.Delete, partitionId: 0, key }]), RangeError);
  t.throws(() => encodeBatch(1, []), RangeError);
  t.throws(() => encodeBatch(Number.MAX_SAFE_INTEGER, [{ kind: 0, partitionId: 0, key }, { kind: 0, partitionId: 0, key }]), RangeError);
  t.throws(() => encodeBatch(1, [{ kind: EntryKind.Put, partitionId: 0, key }]), TypeError, 'Put without a value');
  t.throws(() => encodeBatch(1, [{ kind: 7 as EntryKind, partitionId: 0, key }]), RangeError);
  t.throws(() => encodeBatch(1, [{ kind: EntryKind.Delete, partitionId: -1, key }]), RangeError);
  t.throws(() => encodeBatch(1, [{ kind: EntryKind.Delete, partitionId: 0, key: 'k' as unknown as Buffer }]), TypeError);
});

t.test('malformed payloads are CAIRN_CORRUPTION', async (t) => {
  const good = encodeBatch(9, [{ kind: EntryKind.Put, partitionId: 0, key: Buffer.from('key'), value: Buffer.from('value') }]);
  const payload = good.subarray(RECORD_HEADER_BYTES);
  for (let cut = 0; cut < payload.length; cut++) {
    t.throws(() => decodeBatch(payload.subarray(0, cut)), { code: 'CAIRN_CORRUPTION' }, `truncated to ${cut}`);
  }
  t.throws(() => decodeBatch(Buffer.concat([payload, Buffer.from([0])])), { code: 'CAIRN_CORRUPTION' }, 'trailing byte');
  const badKind = Buffer.from(payload);
  badKind[3] = 5;
  t.throws(() => decodeBatch(badKind), { code: 'CAIRN_CORRUPTION' }, 'unknown kind');
  t.throws(() => decodeBatch(Buffer.from([1, 0, 0])), { code: 'CAIRN_CORRUPTION' }, 'zero ops');
  t.throws(() => decodeBatch(Buffer.from([1, 100, 0, 0])), { code: 'CAIRN_CORRUPTION' }, 'count beyond the payload');
});

t.test('file header', async (t) => {
  const h = encodeHeader(41);
  t.equal(h.length, JOURNAL_HEADER_BYTES);
  t.equal(h.subarray(0, 8).toString('latin1'), 'CAIRNJNL');
  t.same(decodeHeader(h, 'x'), { fileNumber: 41, version: 2 });
  const flipped = Buffer.from(h);
  flipped[14] ^= 1;
  t.throws(() => decodeHeader(flipped, 'x'), { code: 'CAIRN_CORRUPTION' });
  const future = Buffer.from(h);
  future.writeUInt32LE(3, 8);
  future.writeUInt32LE(crc32(future.subarray(0, 20)), 20);
  t.throws(() => decodeHeader(future, 'x'), { code: 'CAIRN_UNSUPPORTED_FORMAT' });
});

t.test('RecordBuilder: ops copied straight into the record, strings as UTF-8, views valid after finish', async (t) => {
  const builder = new RecordBuilder(8);
  const source = Buffer.from('mutable');
  builder.add(EntryKind.Put, 3, 'kéy', source);
  builder.add(EntryKind.Delete, 4, new Uint8Array([1, 2, 3]), undefined);
  const big = Buffer.alloc(10_000, 7);
  builder.add(EntryKind.Put, 3, big.subarray(0, 5), big);
  source.fill(0);
  const record = builder.finish(2 ** 40);
  t.equal(record.readUInt32LE(0), record.length - RECORD_HEADER_BYTES, 'framed: the length covers the payload');
  const decoded = decodeBatch(record.subarray(RECORD_HEADER_BYTES));
  t.equal(decoded.seqno, 2 ** 40);
  t.same(
    decoded.ops.map((op) => [op.kind, op.partitionId, op.key.toString('hex'), op.value.length]),
    [
      [EntryKind.Put, 3, Buffer.from('kéy').toString('hex'), 7],
      [EntryKind.Delete, 4, '010203', 0],
      [EntryKind.Put, 3, '0707070707', 10_000],
    ],
  );
  t.equal(decoded.ops[0].value.toString(), 'mutable', 'copied at add: a later change to the source does not show');
  t.equal(builder.key(0).toString(), 'kéy');
  t.ok(builder.value(2).equals(big));
  t.equal(builder.value(1).length, 0);
  t.equal(builder.key(2).buffer, record.buffer, 'views share the record’s memory');
  t.ok(record.buffer.byteLength < record.length * 1.3, 'a grown buffer is trimmed to the record');
  t.throws(() => builder.add(EntryKind.Put, 1, 'x', 'y'), RangeError, 'finished');
  t.throws(() => new RecordBuilder().finish(1), RangeError, 'no op');
});

t.test('a RangeDelete op (kind 4) carries its end as the value; format-1 records refuse it', async (t) => {
  const ops: BatchOp[] = [
    { kind: JournalOpKind.RangeDelete, partitionId: 1, key: Buffer.from('a'), value: Buffer.from('m') },
    { kind: JournalOpKind.RangeDelete, partitionId: 1, key: Buffer.from('n'), value: Buffer.alloc(0) },
    { kind: EntryKind.Put, partitionId: 1, key: Buffer.from('b'), value: Buffer.from('v') },
  ];
  const record = encodeBatch(7, ops, 1000);
  const decoded = decodeBatch(record.subarray(RECORD_HEADER_BYTES));
  t.same(
    decoded.ops.map((op) => [op.kind, op.key.toString(), op.value.toString()]),
    [
      [4, 'a', 'm'],
      [4, 'n', ''],
      [1, 'b', 'v'],
    ],
  );
  t.ok(isEntryKind(JournalOpKind.RangeDelete), 'a data op');
  t.throws(() => encodeBatch(7, [{ kind: JournalOpKind.RangeDelete, partitionId: 1, key: Buffer.from('a') }]), TypeError, 'needs its end');
  t.throws(() => decodeBatch(record.subarray(RECORD_HEADER_BYTES), 1), { code: 'CAIRN_CORRUPTION' }, 'not in a format-1 journal');
});
