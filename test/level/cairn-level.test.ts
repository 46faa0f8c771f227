// CairnLevel beyond abstract-level's suite: sublevels land in the cairn partition, data is
// shared with the native Keyspace API, borrowed keyspaces stay open, seek keeps the range.
import * as path from 'node:path';
import t from 'tap';
import { Keyspace } from '../../lib/index.js';
import { FaultFileSystem, NodeFileSystem } from '../../lib/fs/index.js';
import { CairnLevel } from '../../lib/level/index.js';
import { scratchDir } from '../helpers/scratch.js';

const text = (b: Buffer | undefined) => b?.toString('utf8');

t.test('writes through the adapter, sublevels included, are read by the Keyspace API', async (t) => {
  const dir = path.join(await scratchDir(t, 'level'), 'ks');
  const db = new CairnLevel(dir, { partition: 'users' });
  await db.put('a', '1');
  const people = db.sublevel<string, { name: string }>('people', { valueEncoding: 'json' });
  await people.put('ada', { name: 'Ada' });
  await db.batch([
    { type: 'put', key: 'b', value: '2' },
    { type: 'put', key: 'c', value: '3' },
    { type: 'del', key: 'a' },
  ]);
  t.same(await people.get('ada'), { name: 'Ada' });
  t.same(await people.keys().all(), ['ada'], 'the sublevel sees only its own keys');
  await db.close();

  const ks = await Keyspace.open(dir);
  t.teardown(() => ks.close());
  t.same(ks.partitionNames(), ['users']);
  const p = await ks.partition('users');
  t.equal(await p.get('a'), undefined, 'the batch deleted a');
  t.equal(text(await p.get('b')), '2');
  t.equal(text(await p.get('!people!ada')), '{"name":"Ada"}', 'a sublevel is a key prefix in the same partition');
  const keys: string[] = [];
  for await (const k of p.keys()) keys.push(k.toString());
  t.same(keys, ['!people!ada', 'b', 'c']);
});

t.test('fromPartition: partitions are separate databases and close() leaves the keyspace open', async (t) => {
  const ks = await Keyspace.open(path.join(await scratchDir(t, 'level'), 'ks'));
  t.teardown(() => ks.close());
  const orders = await ks.partition('orders');
  const a = CairnLevel.fromPartition(ks, orders);
  const b = CairnLevel.fromPartition(ks, 'invoices');
  await a.put('k', 'order');
  await b.put('k', 'invoice');
  t.equal(await a.get('k'), 'order');
  t.equal(await b.get('k'), 'invoice');
  t.equal(a.keyspace, ks);
  await a.close();
  await b.close();
  t.equal(ks.closed, false, 'the borrowed keyspace is still open');
  t.equal(text(await orders.get('k')), 'order');
  t.equal(text(await (await ks.partition('invoices')).get('k')), 'invoice');
  await a.open();
  t.equal(await a.get('k'), 'order', 'reopens over the same keyspace');
  await a.close();

  const other = await Keyspace.open(path.join(await scratchDir(t, 'level'), 'other'));
  t.teardown(() => other.close());
  const foreign = CairnLevel.fromPartition(ks, await other.partition('orders'));
  await t.rejects(foreign.open(), { code: 'LEVEL_DATABASE_NOT_OPEN', cause: { name: 'TypeError' } }, 'a partition of another keyspace is refused');
});

t.test('open options: createIfMissing and errorIfExists keep cairn codes as the cause; a held lock is LEVEL_LOCKED', async (t) => {
  const dir = path.join(await scratchDir(t, 'level'), 'ks');
  const missing = new CairnLevel(dir, { createIfMissing: false });
  await t.rejects(missing.open(), { code: 'LEVEL_DATABASE_NOT_OPEN', cause: { code: 'CAIRN_NOT_FOUND' } });

  const db = new CairnLevel(dir);
  await db.open();
  const second = new CairnLevel(dir);
  // As abstract-level documents it (and classic-level does): LEVEL_LOCKED as the cause.
  await t.rejects(second.open(), { code: 'LEVEL_DATABASE_NOT_OPEN', cause: { code: 'LEVEL_LOCKED', cause: { code: 'CAIRN_LOCKED' } } });
  await db.close();
  await t.rejects(db.open({ errorIfExists: true }), { code: 'LEVEL_DATABASE_NOT_OPEN', cause: { code: 'CAIRN_ALREADY_EXISTS' } });
  const otherPartition = new CairnLevel(dir, { partition: 'absent', createIfMissing: false });
  await t.rejects(otherPartition.open(), { code: 'LEVEL_DATABASE_NOT_OPEN', cause: { code: 'CAIRN_NOT_FOUND' } }, 'createIfMissing also covers the partition');
  t.throws(() => new CairnLevel(dir, { partition: '../x' }), TypeError);
  t.throws(() => new CairnLevel(''), TypeError);
});

t.test('seek stays inside the range and on the iterator snapshot; clear honours range and limit', async (t) => {
  const db = new CairnLevel(path.join(await scratchDir(t, 'level'), 'ks'), { memtableBytes: 4096 });
  t.teardown(() => db.close());
  const keys = Array.from({ length: 300 }, (_, i) => `k${String(i).padStart(3, '0')}`);
  await db.batch(keys.map((key) => ({ type: 'put' as const, key, value: key })));

  const it = db.keys({ gt: 'k100', lt: 'k200' });
  it.seek('k000');
  t.same(await it.nextv(2), ['k101', 'k102'], 'a seek below the range starts at the range');
  it.seek('k150');
  await db.del('k150');
  t.same(await it.nextv(2), ['k150', 'k151'], 'a seek reads the snapshot the iterator was made with');
  it.seek('k250');
  t.same(await it.nextv(2), [], 'a seek past the range ends it');
  await it.close();

  const rev = db.iterator({ lte: 'k010', reverse: true, limit: 3 });
  rev.seek('k005');
  t.same(await rev.all(), [['k005', 'k005'], ['k004', 'k004'], ['k003', 'k003']]);

  await db.clear({ gte: 'k200', limit: 50 });
  t.equal(await db.get('k249'), undefined);
  t.equal(await db.get('k250'), 'k250', 'clear stopped at its limit');
  const seqno = db.keyspace!.seqno;
  await db.clear({ lt: 'k100', reverse: true });
  t.equal(db.keyspace!.seqno, seqno + 1, 'without a limit: one range delete, not a delete per key');
  t.same(await db.keys({ lt: 'k101' }).all(), ['k100']);
  t.equal((await db.keys().all()).length, 300 - 1 - 50 - 100, 'exactly the cleared keys are gone');
  await db.put('k005', 'back');
  t.equal(await db.get('k005'), 'back', 'a put after the clear is visible');
  await db.clear();
  t.same(await db.keys().all(), [], 'clear() without a range empties the database');
});

t.test('explicit snapshots see the keyspace as of their creation, across a flush', async (t) => {
  const db = new CairnLevel(path.join(await scratchDir(t, 'level'), 'ks'));
  t.teardown(() => db.close());
  await db.put('x', 'old');
  const snapshot = db.snapshot();
  await db.put('x', 'new');
  await db.put('y', 'y');
  await db.keyspace?.flush();
  t.equal(await db.get('x', { snapshot }), 'old');
  t.same(await db.getMany(['x', 'y'], { snapshot }), ['old', undefined]);
  t.equal(await db.has('y', { snapshot }), false);
  t.same(await db.keys({ snapshot }).all(), ['x']);
  await snapshot.close();
  t.equal(await db.get('x'), 'new');
});

t.test('sync: true fsyncs the journal, a default write does not; buffer and utf8 keys share one byte order', async (t) => {
  const dir = path.join(await scratchDir(t, 'level'), 'ks');
  const fs = new FaultFileSystem(new NodeFileSystem());
  const db = new CairnLevel<Buffer, Buffer>(dir, { fs, keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  const journalSyncs = () => fs.trace().filter((line) => /^(data)?sync .*\.jnl$/.test(line)).length;
  fs.clearTrace();
  await db.put(Buffer.from('a'), Buffer.from([0]));
  t.equal(journalSyncs(), 0, 'a buffered write');
  await db.put(Buffer.from([0xff]), Buffer.from('hi'), { sync: true } as object);
  t.ok(journalSyncs() > 0, 'sync: true fsyncs');
  fs.clearTrace();
  await db.batch([{ type: 'del', key: Buffer.from('a') }], { sync: true } as object);
  t.ok(journalSyncs() > 0, 'a synced batch');
  await db.put(Buffer.from('a'), Buffer.from([0]));
  t.same(await db.keys({ keyEncoding: 'utf8' }).all(), ['a', '\ufffd']);
  t.same(await db.keys().all(), [Buffer.from('a'), Buffer.from([0xff])]);
  await db.close();
  const reopened = new CairnLevel(dir, { valueEncoding: 'buffer' });
  t.same(await reopened.get('a'), Buffer.from([0]), 'data survives a reopen');
  await reopened.close();
});
