// Journal shipping over a FileStore: objects chain without gaps from a base backup to the
// last commit, carry per-batch times and registry records, nothing is sent while idle; a
// shipper restarted on a reopened keyspace continues the chain; a store that fails keeps
// the journal pinned (never blocking writes) and shipping catches up when it recovers.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { BackupEngine } from '../../lib/backup/backup-engine.js';
import { readObject, listAll } from '../../lib/backup/store-objects.js';
import { decodeShipped } from '../../lib/backup/shipped-codec.js';
import { isEncodedObject } from '../../lib/backup/object-codec.js';
import { decodeShippedObject, genesisChain, shippedBatch } from '../../lib/backup/shipped-object.js';
import { parseShippedObjectKey } from '../../lib/backup/store-layout.js';
import type { BackupStore } from '../../lib/backup/store.js';
import { JournalOpKind } from '../../lib/journal/record.js';
import { Keyspace } from '../../lib/index.js';
import { until } from '../helpers/until.js';
import { WatchedStore, Workload, fileStore, scratchDir } from './backup-helpers.js';

interface Shipped {
  key: string;
  info: ReturnType<typeof decodeShippedObject>['info'];
  batches: ReturnType<typeof shippedBatch>[];
}

async function shippedObjects(store: BackupStore): Promise<Shipped[]> {
  const out: Shipped[] = [];
  for (const o of await listAll(store, 'journal/')) {
    if (parseShippedObjectKey(o.key) === undefined) continue;
    const bytes = decodeShipped(await readObject(store, o.key), o.key, { compression: 'none' });
    const { info, records } = decodeShippedObject(bytes, o.key);
    out.push({ key: o.key, info, batches: records.map((r) => shippedBatch(bytes, r)) });
  }
  return out.sort((a, b) => a.info.firstSeqno - b.info.firstSeqno);
}

/** Checks that consecutive objects link (seqnos and chain); returns the seqno range covered. */
function checkChain(t: Test, objects: Shipped[]): { first: number; last: number } {
  for (let i = 1; i < objects.length; i++) {
    const a = objects[i - 1].info;
    const b = objects[i].info;
    if (b.firstSeqno !== a.lastSeqno + 1 || !b.preChain.equals(a.postChain)) t.fail(`${objects[i].key} does not continue ${objects[i - 1].key}`);
  }
  let time = 0;
  for (const o of objects) {
    for (const b of o.batches) {
      if (b.timeMs === undefined || b.timeMs < time) t.fail(`batch ${b.seqno}: time ${b.timeMs} goes back from ${time}`);
      time = b.timeMs ?? time;
    }
  }
  return { first: objects[0].info.firstSeqno, last: objects[objects.length - 1].info.lastSeqno };
}

t.test('shipped objects chain from a base backup to the last commit, with times and registry records', async (t) => {
  const dir = await scratchDir(t, 'ship');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store);
  const w = await Workload.open(join(dir, 'ks'));
  t.teardown(() => w.ks.close());
  await w.write(50);

  const shipper = engine.ship(w.ks, { intervalMs: 20 });
  const events: number[] = [];
  shipper.on('shipped', (e: { lastSeqno: number }) => events.push(e.lastSeqno));
  await w.write(200);
  await shipper.flush();
  await w.write(100);
  await shipper.flush();
  await w.ks.partition('late');
  await w.write(100);
  const flushed = await shipper.flush();
  t.equal(flushed, w.ks.seqno, 'flush resolves with the seqno committed when it was called');
  t.equal(shipper.shippedSeqno, w.ks.seqno);

  const backups = await engine.list();
  t.equal(backups.length, 1, 'a new stream takes one base backup');
  const objects = await shippedObjects(store);
  t.ok(objects.length >= 2, `several objects (${objects.length})`);
  const range = checkChain(t, objects);
  t.ok(isEncodedObject(await readObject(store, objects[0].key)), 'objects are stored through the store codec');
  t.ok(objects[0].info.preChain.equals(genesisChain(w.ks.id)), 'the first object of a stream starts at the genesis chain value');
  t.ok(range.first <= backups[0].seqno + 1, 'the objects start at or below the base backup + 1: the window is whole');
  t.equal(range.last, w.ks.seqno, 'and end at the last commit');
  t.equal(events.at(-1), w.ks.seqno, "'shipped' events report each object");
  const creates = objects.flatMap((o) => o.batches).filter((b) => b.ops.some((op) => op.kind === JournalOpKind.PartitionCreate));
  t.same(creates.map((b) => b.ops[0].key.toString()), ['late'], 'the partition create travelled as a registry record');

  // Idle: nothing is sent.
  const puts = store.puts.length;
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.equal(store.puts.length, puts, 'no object is put while nothing is written');
  const stats = shipper.stats();
  t.equal(stats.lagSeqnos, 0);
  t.equal(stats.lagMs, 0);
  t.equal(stats.objectsShipped, objects.length);
  await shipper.stop();
  t.same(w.ks.journalSlots(), [shipper.slotName], 'the slot stays after stop (the next shipper resumes from it)');
});

t.test('a shipper on the reopened keyspace continues the chain: no gap, no duplicate, no new backup', async (t) => {
  const dir = await scratchDir(t, 'ship-resume');
  const store = await fileStore(join(dir, 'store'));
  const engine = new BackupEngine(store);
  const ksDir = join(dir, 'ks');
  let ks = await Keyspace.open(ksDir, { journalFileBytes: 4096 });
  const p = await ks.partition('p');
  const first = engine.ship(ks, { intervalMs: 10 });
  await first.flush();
  for (let i = 0; i < 300; i++) await p.put(`k${i}`, 'x'.repeat(50));
  await first.flush();
  await first.stop();
  await ks.close();

  ks = await Keyspace.open(ksDir, { journalFileBytes: 4096 });
  t.teardown(() => ks.close());
  const p2 = await ks.partition('p');
  for (let i = 0; i < 100; i++) await p2.put(`again${i}`, 'y');
  const second = engine.ship(ks, { intervalMs: 10 });
  for (let i = 0; i < 100; i++) await p2.put(`more${i}`, 'z');
  await second.flush();
  await second.stop({ releaseSlot: true });
  t.same(ks.journalSlots(), [], 'releaseSlot drops the slot');

  t.equal((await engine.list()).length, 1, 'no second base backup');
  const objects = await shippedObjects(store);
  const range = checkChain(t, objects);
  t.equal(range.last, ks.seqno, 'everything, including what was written before the second shipper started');
  const seqnos = objects.flatMap((o) => o.batches.map((b) => b.seqno));
  t.equal(new Set(seqnos).size, seqnos.length, 'no batch shipped twice');
});

t.test('a failing store pins the journal, never blocks writes, and shipping catches up', async (t) => {
  const dir = await scratchDir(t, 'ship-down');
  const store = new WatchedStore(await fileStore(join(dir, 'store')));
  const engine = new BackupEngine(store);
  const ks = await Keyspace.open(join(dir, 'ks'), { journalFileBytes: 4096, memtableBytes: 16 * 1024 });
  t.teardown(() => ks.close());
  const p = await ks.partition('p');
  const shipper = engine.ship(ks, { intervalMs: 10 });
  await p.put('first', '1');
  await shipper.flush();

  let down = true;
  store.beforePut = (key) => {
    if (down && key.startsWith('journal/')) throw Object.assign(new Error('store unreachable'), { code: 'ECONNREFUSED' });
  };
  const errors: unknown[] = [];
  shipper.on('error', (err) => errors.push(err));
  for (let i = 0; i < 400; i++) await p.put(`k${i}`, 'v'.repeat(100));
  await ks.flush();
  await until('a ship attempt failed', () => errors.length > 0);
  const stats = shipper.stats();
  t.equal(stats.lastError?.code, 'ECONNREFUSED', 'stats() reports the failure');
  t.ok(stats.lagSeqnos > 0, 'and the lag');
  t.ok(stats.retainedJournalBytes > 0, `flushed journals are kept for the shipper (${stats.retainedJournalBytes} bytes)`);

  down = false;
  await shipper.flush();
  t.equal(shipper.shippedSeqno, ks.seqno, 'shipping caught up once the store came back');
  await until('journal GC released what was shipped', () => shipper.stats().retainedJournalBytes < stats.retainedJournalBytes);
  const objects = await shippedObjects(store.inner);
  t.equal(checkChain(t, objects).last, ks.seqno, 'no gap');
  await shipper.stop();
});

t.test('waitFor, stop and option checks', async (t) => {
  const dir = await scratchDir(t, 'ship-api');
  const engine = new BackupEngine(await fileStore(join(dir, 'store')));
  const ks = await Keyspace.open(join(dir, 'ks'));
  t.teardown(() => ks.close());
  t.throws(() => engine.ship(ks, { bogus: 1 } as never), RangeError, 'unknown option');
  t.throws(() => engine.ship(ks, { intervalMs: 0 }), RangeError);
  t.throws(() => engine.ship(ks, { maxObjectBytes: 1.5 }), TypeError);
  t.throws(() => engine.ship({} as never), TypeError);
  const shipper = engine.ship(ks, { intervalMs: 10 });
  const p = await ks.partition('p');
  await p.put('a', '1');
  t.equal(await shipper.waitFor(ks.seqno), ks.seqno, 'waitFor resolves once the seqno is shipped');
  await t.rejects(shipper.waitFor(-1), RangeError);
  const ac = new AbortController();
  const waiting = shipper.waitFor(ks.seqno + 1000, { signal: ac.signal });
  ac.abort();
  await t.rejects(waiting, { code: 'CAIRN_ABORTED' });
  const pending = shipper.waitFor(ks.seqno + 1000);
  await shipper.stop();
  await t.rejects(pending, { code: 'CAIRN_CLOSED' }, 'a wait past the end rejects when the shipper stops');
  t.equal(shipper.stats().stopped, true);
});
